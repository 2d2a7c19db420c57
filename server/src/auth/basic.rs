//! HTTP Basic credentials and a short-lived cache of verified ones.
//!
//! Registry clients send Basic credentials on every request. Verifying argon2 each time would cost
//! tens of milliseconds of CPU per request, so a successful verification is remembered for a
//! short time under a keyed hash of the credentials (the password itself is never kept).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{AuthError, Identity};

/// How long a verified credential is trusted without re-checking the hash.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries kept at most; the cache is cleared when full.
const CACHE_MAX: usize = 10_000;

/// Decodes `Basic <base64(user:password)>`. `None` when the header is another scheme.
pub fn parse(header: &str) -> Option<Result<(String, String), AuthError>> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim());
    let text = decoded.ok().and_then(|b| String::from_utf8(b).ok());
    Some(
        text.and_then(|t| t.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
            .ok_or(AuthError::Malformed),
    )
}

/// Verified credentials, keyed by a salted hash, each with its expiry.
pub struct CredentialCache {
    salt: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
}

impl Default for CredentialCache {
    fn default() -> Self {
        Self { salt: rand::random(), entries: Mutex::new(HashMap::new()) }
    }
}

impl CredentialCache {
    fn key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update((user.len() as u64).to_le_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The identity for these credentials if they were verified recently.
    pub fn get(&self, user: &str, password: &str) -> Option<Identity> {
        let key = self.key(user, password);
        let entries = self.entries.lock().ok()?;
        entries.get(&key).filter(|(_, exp)| *exp > Instant::now()).map(|(id, _)| id.clone())
    }

    /// Remembers verified credentials.
    pub fn put(&self, user: &str, password: &str, identity: Identity) {
        let key = self.key(user, password);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(key, (identity, Instant::now() + CACHE_TTL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_only() {
        let h = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin:pa:ss"));
        let (u, p) = parse(&h).expect("basic").expect("valid");
        assert_eq!((u.as_str(), p.as_str()), ("admin", "pa:ss"));
        assert!(parse("Bearer abc").is_none());
        assert!(matches!(parse("Basic !!!"), Some(Err(AuthError::Malformed))));
        let nocolon = format!("basic {}", base64::engine::general_purpose::STANDARD.encode("x"));
        assert!(matches!(parse(&nocolon), Some(Err(AuthError::Malformed))));
    }

    #[test]
    fn cache_matches_exact_credentials() {
        let c = CredentialCache::default();
        let id = Identity::User { id: 1, name: "a".into(), sysadmin: true };
        c.put("a", "pw", id.clone());
        assert_eq!(c.get("a", "pw"), Some(id));
        assert_eq!(c.get("a", "pw2"), None);
        assert_eq!(c.get("ap", "w"), None);
    }
}
