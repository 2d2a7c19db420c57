//! Password hashing with argon2id, on a few threads of its own (it costs tens of milliseconds
//! and 19 MiB each time).

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

use super::AuthError;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, one per core. Each argon2 run allocates 19 MiB, returned when it ends
/// (see `return_large_blocks` in main); a fixed set of threads bounds how many such blocks
/// exist at once, and how many hashes compete for the cores. (On the blocking pool, before the
/// allocator was told to return large blocks, each new thread's arena kept one: a ten-minute
/// soak grew the process to 1.2 GB.)
fn hashers() -> &'static Sender<Job> {
    static POOL: OnceLock<Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(rx) => match rx.recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        },
                        Err(_) => return,
                    };
                    job();
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a hashing thread");
            }
        }
        tx
    })
}

/// Runs `f` on a hashing thread.
async fn on_hasher<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AuthError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        tx.send(f()).ok();
    });
    hashers().send(job).map_err(|_| AuthError::Hash("hashing threads stopped".into()))?;
    rx.await.map_err(|e| AuthError::Hash(e.to_string()))
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> Result<String, AuthError> {
    on_hasher(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    })
    .await?
}

/// Checks `password` against a PHC string in constant time.
pub async fn verify(password: String, phc: String) -> Result<bool, AuthError> {
    on_hasher(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| AuthError::Hash(e.to_string()))?;
        // The parameters are the stored hash's, not the default's.
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(AuthError::Hash(e.to_string())),
        }
    })
    .await?
}

/// A hash of a random password, verified against when the user does not exist so an unknown user
/// costs the same time as a wrong password.
pub async fn dummy_hash() -> Result<String, AuthError> {
    hash(uuid::Uuid::new_v4().to_string()).await
}

/// A random secret that meets Harbor's password rule (robot secrets, CLI secrets).
pub fn random_secret() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..32).map(|_| CHARS[rand::random_range(0..CHARS.len())] as char).collect();
    format!("{body}Aa1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("S3cret!pw".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("S3cret!pw".into(), h.clone()).await.expect("verify"));
        assert!(!verify("wrong".into(), h).await.expect("verify"));
    }
}
