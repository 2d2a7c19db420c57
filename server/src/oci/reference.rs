//! Names, tags, references and digests of the OCI distribution spec, parsed once into types.
//!
//! Grammar (distribution-spec v1.1, "Pulling manifests"):
//! - name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
//! - tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
//! - digest: `algorithm:encoded`; Wharf accepts `sha256` (64 hex) and `sha512` (128 hex).

use std::fmt;
use std::str::FromStr;

/// Longest repository name accepted, as Distribution does.
pub const MAX_NAME_LEN: usize = 255;

/// Why a name, tag or digest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The repository name breaks the grammar or the `<project>/<path>` rule.
    #[error("invalid repository name: {0}")]
    Name(String),
    /// The tag breaks the tag grammar.
    #[error("invalid tag: {0}")]
    Tag(String),
    /// The digest is malformed.
    #[error("invalid digest: {0}")]
    Digest(String),
    /// The digest names an algorithm Wharf does not implement.
    #[error("unsupported digest algorithm: {0}")]
    Algorithm(String),
}

/// A validated repository name `<project>/<path>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName(String);

impl RepoName {
    /// The whole name, e.g. `library/nginx`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The repository's path inside its project: everything after the first `/`.
    pub fn path(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, r)| r)
    }

    /// The project part: everything before the first `/`.
    pub fn project(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(p, _)| p)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (also the rule for project names).
pub fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or "-"+, always followed by an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !is_alnum(b[i]) {
            return false;
        }
    }
    true
}

impl FromStr for RepoName {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_NAME_LEN {
            return Err(ParseError::Name(format!("longer than {MAX_NAME_LEN} characters")));
        }
        if !s.split('/').all(valid_component) {
            return Err(ParseError::Name(format!("{s:?} does not match the OCI name grammar")));
        }
        if !s.contains('/') {
            return Err(ParseError::Name(format!(
                "{s:?} has no project: repositories are named <project>/<repository>"
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

/// A validated tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Tag {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b[1..].iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok { Ok(Self(s.to_owned())) } else { Err(ParseError::Tag(s.chars().take(140).collect())) }
    }
}

/// The digest algorithms Wharf computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256, the default of every client.
    Sha256,
    /// SHA-512, allowed by the OCI image spec.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

/// A validated content digest such as `sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Builds a digest from an algorithm and raw hash bytes.
    pub fn from_hash(algorithm: Algorithm, hash: &[u8]) -> Self {
        Self(format!("{}:{}", algorithm.name(), hex::encode(hash)))
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") { Algorithm::Sha512 } else { Algorithm::Sha256 }
    }

    /// The hex-encoded part after the colon.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let short = || s.chars().take(160).collect::<String>();
        let (algo, hex) = s.split_once(':').ok_or_else(|| ParseError::Digest(short()))?;
        let algorithm = match algo {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                let grammar_ok = !other.is_empty()
                    && other
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+._-".contains(&c));
                return Err(if grammar_ok && !hex.is_empty() {
                    ParseError::Algorithm(other.chars().take(32).collect())
                } else {
                    ParseError::Digest(short())
                });
            }
        };
        let hex_ok = hex.len() == algorithm.hex_len()
            && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if hex_ok { Ok(Self(s.to_owned())) } else { Err(ParseError::Digest(short())) }
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// By tag, e.g. `latest`.
    Tag(Tag),
    /// By digest, e.g. `sha256:...`.
    Digest(Digest),
}

impl FromStr for Reference {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') { s.parse().map(Self::Digest) } else { s.parse().map(Self::Tag) }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag(t) => t.fmt(f),
            Self::Digest(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grammar_and_need_a_project() {
        for ok in ["library/nginx", "a/b/c", "my-proj/app_x", "p/a__b", "p/a---b.c", "0/1"] {
            assert!(ok.parse::<RepoName>().is_ok(), "{ok}");
        }
        for bad in [
            "nginx", "", "/a", "a/", "a//b", "A/b", "a/../b", "a/./b", "a/b-", "a/-b", "a/b___c", "a/b..c",
            "a/b c", "a/b%2f", "a/.b",
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
        let long = format!("p/{}", "a".repeat(254));
        assert!(long.parse::<RepoName>().is_err());
        assert_eq!("library/x/y".parse::<RepoName>().map(|n| n.project().to_owned()), Ok("library".into()));
    }

    #[test]
    fn tags_follow_the_grammar() {
        for ok in ["latest", "v1.2.3", "_x", "A-b_c.d", &"a".repeat(128)] {
            assert!(ok.parse::<Tag>().is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129), "tag with space"] {
            assert!(bad.parse::<Tag>().is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_are_checked_for_algorithm_and_length() {
        let h = "a".repeat(64);
        assert!(format!("sha256:{h}").parse::<Digest>().is_ok());
        assert!(format!("sha512:{}", "0".repeat(128)).parse::<Digest>().is_ok());
        assert!(matches!(format!("sha256:{}", "A".repeat(64)).parse::<Digest>(), Err(ParseError::Digest(_))));
        assert!(matches!("sha256:abc".parse::<Digest>(), Err(ParseError::Digest(_))));
        assert!(matches!("md5:abcd".parse::<Digest>(), Err(ParseError::Algorithm(_))));
        assert!(matches!("nocolon".parse::<Digest>(), Err(ParseError::Digest(_))));
        let d: Digest = format!("sha256:{h}").parse().expect("valid");
        assert_eq!(d.hex(), h);
        assert_eq!(d.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn references_are_tags_or_digests() {
        assert!(matches!("latest".parse::<Reference>(), Ok(Reference::Tag(_))));
        let d = format!("sha256:{}", "b".repeat(64));
        assert!(matches!(d.parse::<Reference>(), Ok(Reference::Digest(_))));
        assert!("sha256:zz".parse::<Reference>().is_err());
    }
}
