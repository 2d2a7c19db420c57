//! HTTP Basic credentials and a short-lived cache of verified ones.
//!
//! Registry clients send Basic credentials on every request. Verifying argon2 each time would cost
//! tens of milliseconds of CPU per request, so a successful verification is remembered for a
//! short time under a keyed hash of the credentials (the password itself is never kept), together
//! with a fingerprint of the stored password hash it was checked against. A hit counts only while
//! the user's stored hash still has that fingerprint, so a changed password takes effect at once,
//! on every replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::AuthError;

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

/// Verified credentials, keyed by a salted hash, each with the stored hash's fingerprint and an
/// expiry.
pub struct CredentialCache {
    salt: [u8; 32],
    entries: Mutex<HashMap<Fingerprint, (Fingerprint, Instant)>>,
    /// How long a verified credential is trusted without re-checking it.
    ttl: Duration,
}

/// A SHA-256 fingerprint.
type Fingerprint = [u8; 32];

impl Default for CredentialCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(60))
    }
}

impl CredentialCache {
    /// A cache trusting verified credentials for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { salt: rand::random(), entries: Mutex::new(HashMap::new()), ttl }
    }

    fn key(&self, user: &str, password: &str) -> [u8; 32] {
        self.key_in(b'p', user, password)
    }

    /// The key of (`user`, `password`) in `domain`: a password check and a directory lookup of
    /// the same user never share an entry.
    fn key_in(&self, domain: u8, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update([domain]);
        h.update((user.len() as u64).to_le_bytes());
        h.update(user.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn fingerprint(stored_hash: &str) -> [u8; 32] {
        Sha256::digest(stored_hash.as_bytes()).into()
    }

    /// Whether these credentials were verified recently against `stored_hash`.
    pub fn matches(&self, user: &str, password: &str, stored_hash: &str) -> bool {
        let key = self.key(user, password);
        let Ok(entries) = self.entries.lock() else { return false };
        entries
            .get(&key)
            .is_some_and(|(fp, exp)| *exp > Instant::now() && *fp == Self::fingerprint(stored_hash))
    }

    /// Whether directory user `user` (account hash `stored_hash`) was found in the directory
    /// recently (a refresh token's check, which has no password to bind with).
    pub fn found_recently(&self, user: &str, stored_hash: &str) -> bool {
        let key = self.key_in(b'd', user, "");
        let Ok(entries) = self.entries.lock() else { return false };
        entries
            .get(&key)
            .is_some_and(|(fp, exp)| *exp > Instant::now() && *fp == Self::fingerprint(stored_hash))
    }

    /// Remembers that directory user `user` was found.
    pub fn found(&self, user: &str, stored_hash: &str) {
        self.insert(self.key_in(b'd', user, ""), stored_hash);
    }

    fn insert(&self, key: Fingerprint, stored_hash: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
            entries.insert(key, (Self::fingerprint(stored_hash), Instant::now() + self.ttl));
        }
    }

    /// Remembers credentials verified against `stored_hash`.
    pub fn put(&self, user: &str, password: &str, stored_hash: &str) {
        self.insert(self.key(user, password), stored_hash);
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
    fn cache_matches_exact_credentials_and_the_stored_hash() {
        let c = CredentialCache::default();
        c.put("a", "pw", "$argon2id$one");
        assert!(c.matches("a", "pw", "$argon2id$one"));
        assert!(!c.matches("a", "pw2", "$argon2id$one"));
        assert!(!c.matches("ap", "w", "$argon2id$one"));
        assert!(!c.matches("a", "pw", "$argon2id$two"), "a changed password invalidates the entry");
    }
}
