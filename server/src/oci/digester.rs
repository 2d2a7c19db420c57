//! Streaming content hashing for the digest algorithms Wharf accepts.

use sha2::{Digest as _, Sha256, Sha512};

use super::reference::{Algorithm, Digest};

/// A running hash; cloneable so an upload's state can be kept between requests.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-512 state.
    Sha512(Box<Sha512>),
}

impl Hasher {
    /// A fresh hash for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Sha512 => Self::Sha512(Box::default()),
        }
    }

    /// Feeds bytes in.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The algorithm of this hash.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha256(_) => Algorithm::Sha256,
            Self::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The digest of everything fed in.
    pub fn finish(self) -> Digest {
        match self {
            Self::Sha256(h) => Digest::from_hash(Algorithm::Sha256, &h.finalize()),
            Self::Sha512(h) => Digest::from_hash(Algorithm::Sha512, &h.finalize()),
        }
    }
}

/// The digest of `data` under `algorithm`.
pub fn digest_of(algorithm: Algorithm, data: &[u8]) -> Digest {
    let mut h = Hasher::new(algorithm);
    h.update(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            digest_of(Algorithm::Sha256, b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"a");
        h.update(b"bc");
        assert!(h.finish().as_str().starts_with("sha512:ddaf35a193617aba"));
    }
}
