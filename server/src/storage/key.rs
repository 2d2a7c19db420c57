//! The one place object keys are spelled.

use std::fmt;

use object_store::path::Path;

use crate::oci::reference::Digest;

/// Every object Wharf stores, by role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKey {
    /// A committed blob: `blobs/<algorithm>/<2 hex>/<hex>`.
    Blob(Digest),
    /// One appended part of an upload session: `uploads/<id>.<part>`. Flat, so a session leaves
    /// no directory behind on the local filesystem.
    UploadPart {
        /// The upload session id.
        upload: String,
        /// The part's unique name within the session.
        part: String,
    },
    /// The folder every upload part lives in, for listing.
    UploadArea,
    /// The folder every blob lives in, for listing.
    BlobArea,
    /// A key that never exists, used to check the store answers.
    Probe,
}

impl StorageKey {
    /// The digest of a name listed below [`Self::BlobArea`] (`<algorithm>/<2 hex>/<hex>`), if it
    /// is a key Wharf writes: the inverse of the `Blob` spelling.
    pub fn blob_of_name(name: &str) -> Option<Digest> {
        let (algorithm, rest) = name.split_once('/')?;
        let (shard, hex) = rest.split_once('/')?;
        let digest: Digest = format!("{algorithm}:{hex}").parse().ok()?;
        (hex.get(..2) == Some(shard)).then_some(digest)
    }

    /// The object path.
    pub fn path(&self) -> Path {
        Path::from(self.to_string())
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blob(d) => {
                let hex = d.hex();
                write!(f, "blobs/{}/{}/{}", d.algorithm().name(), &hex[..2], hex)
            }
            Self::UploadPart { upload, part } => write!(f, "uploads/{upload}.{part}"),
            Self::UploadArea => f.write_str("uploads"),
            Self::BlobArea => f.write_str("blobs"),
            Self::Probe => f.write_str("health/probe"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed_and_sortable() {
        let d: Digest = format!("sha256:ab{}", "0".repeat(62)).parse().expect("digest");
        assert_eq!(StorageKey::Blob(d).to_string(), format!("blobs/sha256/ab/ab{}", "0".repeat(62)));
        let p = StorageKey::UploadPart { upload: "x".into(), part: "0000000007-a".into() };
        assert_eq!(p.to_string(), "uploads/x.0000000007-a");
    }

    #[test]
    fn blob_names_read_back_only_when_wharf_would_write_them() {
        let d: Digest = format!("sha256:ab{}", "0".repeat(62)).parse().expect("digest");
        let name = StorageKey::Blob(d.clone()).to_string();
        assert_eq!(StorageKey::blob_of_name(name.strip_prefix("blobs/").expect("area")), Some(d));
        for bad in ["sha256/cd/ab00", &format!("sha256/cd/ab{}", "0".repeat(62)), "md5/ab/ab", "x"] {
            assert_eq!(StorageKey::blob_of_name(bad), None, "{bad}");
        }
    }
}
