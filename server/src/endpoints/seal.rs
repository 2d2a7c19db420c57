//! Credentials of registry endpoints sealed at rest: ChaCha20-Poly1305 (ring's AEAD, already in
//! the build through rustls) under a key the operator supplies (`WHARF_SECRET_KEY`) or that
//! Wharf creates in the data dir on first start. A stolen database alone reveals no password.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Digest;

/// What every sealed value starts with: the format, so that a later one can be told apart.
const PREFIX: &str = "v1:";
/// Binds a sealed value to its use: a sealed credential cannot be replayed as anything else.
const AAD: &[u8] = b"wharf registry credential";
/// The key file's name in the data dir.
pub const KEY_FILE: &str = "secret.key";

/// A sealing failure.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The stored value was sealed under another key, or is damaged.
    #[error(
        "a stored credential cannot be opened: it was sealed under another secret key (check WHARF_SECRET_KEY) or is damaged"
    )]
    Open,
    /// The key file cannot be read or created.
    #[error("secret key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    /// The key file holds something else than 64 hex digits.
    #[error("secret key file {0} must hold 64 hex digits")]
    BadKeyFile(String),
}

/// The sealing key.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    /// The key a setting names: 64 hex digits are the key itself, anything else a passphrase
    /// whose SHA-256 is the key (so any string an operator shares between replicas works).
    pub fn from_setting(setting: &str) -> Self {
        let bytes: [u8; 32] = match hex::decode(setting.trim()) {
            Ok(b) if b.len() == 32 => b.try_into().unwrap_or_default(),
            _ => sha2::Sha256::digest(setting.as_bytes()).into(),
        };
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        // ring only refuses keys of the wrong length, and this one is 32 bytes.
        #[expect(clippy::unwrap_used, reason = "a 32-byte key always makes a ChaCha20-Poly1305 key")]
        Self(LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).unwrap()))
    }

    /// The key in `dir`'s key file, created (random, readable by the owner only) when missing.
    pub fn from_dir(dir: &Path) -> Result<Self, SealError> {
        let path = dir.join(KEY_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).map_err(|_| SealError::BadKeyFile(shown.clone()))?;
                let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKeyFile(shown))?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes: [u8; 32] = rand::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                std::fs::create_dir_all(dir).map_err(|e| SealError::KeyFile(shown.clone(), e))?;
                match options.open(&path) {
                    Ok(mut f) => {
                        std::io::Write::write_all(&mut f, hex::encode(bytes).as_bytes())
                            .map_err(|e| SealError::KeyFile(shown, e))?;
                        Ok(Self::from_bytes(&bytes))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::from_dir(dir),
                    Err(e) => Err(SealError::KeyFile(shown, e)),
                }
            }
            Err(e) => Err(SealError::KeyFile(shown, e)),
        }
    }

    /// `plain` sealed; the empty string stays empty (no credential).
    pub fn seal(&self, plain: &str) -> String {
        if plain.is_empty() {
            return String::new();
        }
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut buf = plain.as_bytes().to_vec();
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        #[expect(clippy::unwrap_used, reason = "sealing fails only for inputs over 256 GiB")]
        self.0.seal_in_place_append_tag(nonce, Aad::from(AAD), &mut buf).unwrap();
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// The plain text of a value [`Self::seal`] made.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        if sealed.is_empty() {
            return Ok(String::new());
        }
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Open)?;
        let mut raw = STANDARD.decode(body).map_err(|_| SealError::Open)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let mut ct = raw.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&raw).map_err(|_| SealError::Open)?;
        let plain = self.0.open_in_place(nonce, Aad::from(AAD), &mut ct).map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let key = SealKey::from_setting("correct horse battery staple");
        let sealed = key.seal("s3cret!");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cret"));
        assert_ne!(sealed, key.seal("s3cret!"), "a fresh nonce every time");
        assert_eq!(key.open(&sealed).expect("test"), "s3cret!");
        assert!(matches!(SealKey::from_setting("another").open(&sealed), Err(SealError::Open)));
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push('A');
        assert!(key.open(&damaged).is_err());
        assert_eq!(key.seal(""), "");
        assert_eq!(key.open("").expect("test"), "");
    }

    #[test]
    fn the_key_file_is_created_once_and_kept() {
        let dir = tempfile::tempdir().expect("test");
        let sealed = SealKey::from_dir(dir.path()).expect("test").seal("x");
        let again = SealKey::from_dir(dir.path()).expect("test");
        assert_eq!(again.open(&sealed).expect("test"), "x");
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).expect("test");
        assert_eq!(text.len(), 64);
        let hex_key = SealKey::from_setting(&text);
        assert_eq!(hex_key.open(&sealed).expect("test"), "x", "the file's hex is a valid setting");
    }
}
