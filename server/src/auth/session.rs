//! Browser sessions of the web portal, through `tower-sessions`: its layer reads and writes the
//! cookie (`HttpOnly`, `SameSite=Lax`, `Secure` over HTTPS) and hands each request a
//! [`Session`]; [`Store`] keeps the sessions in Wharf's database, so every replica knows them.
//!
//! The store keeps only the SHA-256 of each session id (a database dump opens no session), and a
//! session holds exactly one thing: the signed-in user's id. Loading a session joins the user,
//! so a disabled user has no session and a demoted administrator is demoted at once; the
//! username and administrator flag in a loaded record come from the users table, not from the
//! session. Signing in always moves to a new id; signing out deletes the session server-side.

use sha2::{Digest, Sha256};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::db::{self, Db, ui_sessions::SessionUser};

/// The cookie's name.
pub const COOKIE: &str = "wharf_session";
/// How long a session lasts from sign-in.
pub const LIFETIME_SECS: i64 = 12 * 3600;
/// The one key a session holds.
const USER_ID: &str = "user_id";

fn hash(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

/// The anti-forgery token of the session `id`: derived from the id (which only the browser
/// holds) with a label of its own, so it is stable for the session, differs between sessions,
/// and cannot be computed from the stored hash.
pub fn csrf_token(id: &Id) -> String {
    let mut h = Sha256::new();
    h.update(b"wharf-csrf\0");
    h.update(id.to_string().as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Sessions in Wharf's database (both engines), as `tower-sessions` stores them.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Store {
    /// Sessions stored in `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The user a record is for (the only thing Wharf puts in a session).
    fn user_of(record: &Record) -> session_store::Result<i64> {
        record
            .data
            .get(USER_ID)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| session_store::Error::Encode("a portal session holds a user id".into()))
    }
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let user = Self::user_of(record)?;
        // Ids are 128 random bits; a collision is astronomically unlikely, but a taken id gets
        // a fresh one rather than someone else's session.
        loop {
            match db::ui_sessions::insert(
                self.db.writer(),
                &hash(&record.id),
                user,
                millis(record.expiry_date),
            )
            .await
            {
                Err(e) if e.is_unique_violation() => record.id = Id::default(),
                other => return other.map_err(backend),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let user = Self::user_of(record)?;
        db::ui_sessions::upsert(self.db.writer(), &hash(&record.id), user, millis(record.expiry_date))
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((user, expires_at)) =
            db::ui_sessions::user(self.db.reader(), &hash(id)).await.map_err(backend)?
        else {
            return Ok(None);
        };
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
            .map_err(backend)?;
        let data = [
            (USER_ID.to_owned(), serde_json::json!(user.id)),
            ("username".to_owned(), serde_json::json!(user.username)),
            ("sysadmin".to_owned(), serde_json::json!(user.sysadmin)),
        ]
        .into_iter()
        .collect();
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        db::ui_sessions::delete(self.db.writer(), &hash(id)).await.map_err(backend)
    }
}

/// Portal sessions: the layer that gives each request its [`Session`], and what Wharf does
/// with one.
#[derive(Clone, Debug)]
pub struct UiSessions {
    store: Store,
    secure: bool,
}

impl UiSessions {
    /// Sessions in `db`; `secure` marks cookies `Secure` (HTTPS).
    pub fn new(db: Db, secure: bool) -> Self {
        Self { store: Store::new(db), secure }
    }

    /// The layer that reads and writes the session cookie.
    pub fn layer(&self) -> SessionManagerLayer<Store> {
        SessionManagerLayer::new(self.store.clone())
            .with_name(COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(self.secure)
            .with_path("/")
    }

    /// The signed-in user of `session`, if any.
    pub async fn user(session: &Session) -> session_store::Result<Option<SessionUser>> {
        let Some(id) = session.get::<i64>(USER_ID).await.map_err(backend)? else {
            return Ok(None);
        };
        let username = session.get::<String>("username").await.map_err(backend)?.unwrap_or_default();
        let sysadmin = session.get::<bool>("sysadmin").await.map_err(backend)?.unwrap_or(false);
        Ok(Some(SessionUser { id, username, sysadmin }))
    }

    /// Signs `user_id` in on `session`: a new id every time (a session id known before sign-in
    /// is worth nothing after), valid for [`LIFETIME_SECS`].
    pub async fn sign_in(
        &self,
        session: &Session,
        user_id: i64,
    ) -> Result<(), tower_sessions::session::Error> {
        session.cycle_id().await?;
        session.clear().await;
        session.insert(USER_ID, user_id).await?;
        let until = time::OffsetDateTime::now_utc() + time::Duration::seconds(LIFETIME_SECS);
        session.set_expiry(Some(Expiry::AtDateTime(until)));
        // Now and then, not on every sign-in: expired rows are harmless until then.
        if rand::random::<u8>() == 0
            && let Err(e) = db::ui_sessions::purge_expired(self.store.db.writer()).await
        {
            tracing::warn!(error = %e, "could not purge expired sessions");
        }
        Ok(())
    }

    /// Ends `session` server-side; the layer clears the cookie.
    pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
        session.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_keeps_hashes_and_loads_the_user_fresh() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let user = crate::db::users::NewUser {
            username: "ann",
            email: "",
            realname: "",
            password_hash: "x",
            sysadmin: false,
        };
        let uid = crate::db::users::create(db.writer(), &user).await.expect("user");
        let store = Store::new(db.clone());
        let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let mut record = Record {
            id: Id::default(),
            data: [(USER_ID.to_owned(), serde_json::json!(uid))].into_iter().collect(),
            expiry_date: expiry,
        };
        store.create(&mut record).await.expect("create");
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT id_hash FROM ui_sessions").fetch_all(db.reader()).await.expect("rows");
        assert_eq!(stored, [hash(&record.id)], "only the hash is stored");
        assert!(!stored[0].contains(&record.id.to_string()));
        let loaded = store.load(&record.id).await.expect("load").expect("live");
        assert_eq!(loaded.data["username"], "ann");
        assert_eq!(loaded.data["sysadmin"], false);
        crate::db::users::set_sysadmin(db.writer(), uid, true).await.expect("promote");
        let loaded = store.load(&record.id).await.expect("load").expect("live");
        assert_eq!(loaded.data["sysadmin"], true, "the user's flags come from the users table");
        assert!(store.load(&Id::default()).await.expect("unknown").is_none());
        store.delete(&record.id).await.expect("delete");
        assert!(store.load(&record.id).await.expect("deleted").is_none(), "deleted server-side");
        let anonymous = Record { id: Id::default(), data: Default::default(), expiry_date: expiry };
        assert!(store.save(&anonymous).await.is_err(), "a session is always a user's");
        let mut expired =
            Record { expiry_date: time::OffsetDateTime::now_utc() - time::Duration::minutes(1), ..record };
        store.create(&mut expired).await.expect("create");
        assert!(store.load(&expired.id).await.expect("load").is_none(), "an expired session is gone");
        assert_ne!(csrf_token(&expired.id), csrf_token(&Id::default()));
    }
}
