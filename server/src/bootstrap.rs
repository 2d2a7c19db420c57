//! First-start setup: the `admin` user and the public `library` project, as in Harbor.
//! Safe to run on every start and on several replicas at once.

use crate::auth::password;
use crate::config::{ExposeSecret, Secret};
use crate::db::{self, Db};

/// A first-start failure.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A database call failed.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// Hashing the password failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

/// Name of the user created at first start.
pub const ADMIN: &str = "admin";
/// Name of the public project created at first start.
pub const LIBRARY: &str = "library";

/// Creates the admin user and the library project if missing.
pub async fn run(db: &Db, admin_password: Option<&Secret>) -> Result<(), BootstrapError> {
    if db::users::by_username(db.reader(), ADMIN).await?.is_none() {
        let (pw, generated) = match admin_password {
            Some(p) => (p.expose_secret().to_owned(), false),
            None => (random_password(), true),
        };
        let hash = password::hash(pw.clone()).await?;
        let admin = db::users::NewUser {
            username: ADMIN,
            email: "",
            realname: "",
            password_hash: &hash,
            sysadmin: true,
        };
        match db::users::create(db.writer(), &admin).await {
            Ok(_) if generated => {
                // Printed once, to the operator's terminal, never to the log.
                println!("Created user 'admin' with generated password: {pw}");
                println!("Set WHARF_ADMIN_PASSWORD before the first start to choose it.");
            }
            Ok(_) => tracing::info!("created user 'admin' with the configured password"),
            // Another replica created it first.
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let admin_id = db::users::by_username(db.reader(), ADMIN).await?.map(|u| u.id);
    db::projects::insert_if_missing(db.writer(), LIBRARY, true, admin_id).await?;
    Ok(())
}

/// The key that signs registry tokens: created by the first replica to start, then shared.
pub async fn signing_key(db: &Db) -> Result<Vec<u8>, BootstrapError> {
    let fresh: [u8; 32] = rand::random();
    Ok(db::signing_keys::get_or_insert(db.writer(), "registry-hs256", &fresh).await?)
}

/// A random password that meets Harbor's rules (upper, lower, digit, 8+ characters).
fn random_password() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("Wh{}9", &raw[..18])
}

/// Sets `username`'s password; returns false when the user does not exist.
pub async fn set_password(db: &Db, username: &str, new_password: &str) -> Result<bool, BootstrapError> {
    let hash = password::hash(new_password.to_owned()).await?;
    if !db::users::set_password(db.writer(), username, &hash).await? {
        return Ok(false);
    }
    if let Some(user) = db::users::by_username(db.reader(), username).await? {
        db::users::revoke_sign_ins(db, user.id).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_admin_and_library_once() {
        let (_d, db) = db::testing::sqlite().await;
        run(&db, Some(&Secret::from("Secret123"))).await.expect("first");
        run(&db, None).await.expect("second run is a no-op");
        let admin = db::users::by_username(db.reader(), ADMIN).await.expect("query").expect("admin");
        assert!(admin.sysadmin);
        assert!(password::verify("Secret123".into(), admin.password_hash).await.expect("verify"));
        let lib = db::projects::access(db.reader(), LIBRARY, "library/x", 0)
            .await
            .expect("query")
            .expect("library");
        assert!(lib.public);
        assert!(set_password(&db, ADMIN, "Other123x").await.expect("set"));
        assert!(!set_password(&db, "nobody", "Other123x").await.expect("set"));
        let k1 = signing_key(&db).await.expect("key");
        assert_eq!(k1.len(), 32);
        assert_eq!(signing_key(&db).await.expect("key"), k1, "the key is generated once");
        let p = random_password();
        assert!(
            p.len() >= 8
                && p.chars().any(|c| c.is_ascii_uppercase())
                && p.chars().any(|c| c.is_ascii_digit())
        );
    }
}
