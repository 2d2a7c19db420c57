//! Browser sessions of the web portal: a random id in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` when Wharf is reached over HTTPS), its SHA-256 in the database so every replica
//! knows it. Signing in always creates a new id; signing out deletes it server-side.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::db::{self, Db, DbResult, ui_sessions::SessionUser};

/// The cookie's name.
pub const COOKIE: &str = "wharf_session";
/// How long a session lasts.
pub const LIFETIME_SECS: i64 = 12 * 3600;

fn hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// The anti-forgery token of the session whose id is `id`: derived from the id (which only the
/// browser holds) with a label of its own, so it is stable for the session, differs between
/// sessions, and cannot be computed from the stored hash.
pub fn csrf_token(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"wharf-csrf\0");
    h.update(id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The session id a `Cookie` header carries.
pub fn session_id(cookie_header: Option<&str>) -> Option<&str> {
    cookie_header.and_then(|h| cookie(h, COOKIE)).filter(|id| !id.is_empty())
}

/// Portal sessions over the database.
#[derive(Clone, Debug)]
pub struct UiSessions {
    db: Db,
    secure: bool,
}

impl UiSessions {
    /// Sessions in `db`; `secure` marks cookies `Secure` (HTTPS).
    pub fn new(db: Db, secure: bool) -> Self {
        Self { db, secure }
    }

    /// Opens a session for `user_id`; returns the `Set-Cookie` value carrying it.
    pub async fn open(&self, user_id: i64) -> DbResult<String> {
        let raw: [u8; 32] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let expires = db::now_ms() + LIFETIME_SECS * 1000;
        db::ui_sessions::insert(self.db.writer(), &hash(&id), user_id, expires).await?;
        // Now and then, not on every sign-in: expired rows are harmless until then.
        if raw[0] == 0 {
            db::ui_sessions::purge_expired(self.db.writer()).await?;
        }
        Ok(self.set_cookie(&id, LIFETIME_SECS))
    }

    /// The user of the session a `Cookie` header carries, if it is live.
    pub async fn resolve(&self, cookie_header: Option<&str>) -> DbResult<Option<SessionUser>> {
        match session_id(cookie_header) {
            Some(id) => db::ui_sessions::user(self.db.reader(), &hash(id)).await,
            None => Ok(None),
        }
    }

    /// Ends the session a `Cookie` header carries; returns the `Set-Cookie` value that clears it.
    pub async fn close(&self, cookie_header: Option<&str>) -> DbResult<String> {
        if let Some(id) = cookie_header.and_then(|h| cookie(h, COOKIE)) {
            db::ui_sessions::delete(self.db.writer(), &hash(id)).await?;
        }
        Ok(self.clear_cookie())
    }

    /// The `Set-Cookie` value that makes a browser drop its session cookie.
    pub fn clear_cookie(&self) -> String {
        self.set_cookie("", 0)
    }

    fn set_cookie(&self, id: &str, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_open_resolve_and_close() {
        let (_dir, db) = crate::db::testing::sqlite().await;
        let user = crate::db::users::NewUser {
            username: "ann",
            email: "",
            realname: "",
            password_hash: "x",
            sysadmin: false,
        };
        let uid = crate::db::users::create(db.writer(), &user).await.expect("user");
        let s = UiSessions::new(db, true);
        let set = s.open(uid).await.expect("open");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("; Secure"),
            "{set}"
        );
        let id = set.split(';').next().expect("pair").trim_start_matches("wharf_session=").to_owned();
        let header = format!("theme=dark; {COOKIE}={id}");
        assert_eq!(s.resolve(Some(&header)).await.expect("resolve").map(|u| u.username), Some("ann".into()));
        let other = s.open(uid).await.expect("second");
        assert_ne!(other, set, "every sign-in gets a new id");
        assert_eq!(s.resolve(Some("wharf_session=forged")).await.expect("forged"), None);
        let cleared = s.close(Some(&header)).await.expect("close");
        assert!(cleared.contains("Max-Age=0"));
        assert_eq!(s.resolve(Some(&header)).await.expect("closed"), None, "closed server-side");
    }
}
