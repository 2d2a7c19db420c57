//! Parses pushed manifests: Docker schema 2 manifests and lists, OCI image manifests and
//! indexes, and OCI artifacts (`artifactType`, `subject`). What is kept is what the registry must
//! check and index: referenced blobs, child manifests, the subject and the artifact type.

use serde::Deserialize;
use serde_json::Value;

use super::reference::Digest;

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not a manifest Wharf can read; the message says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    /// A format Wharf does not store (Docker schema 1).
    #[error("{0}")]
    Unsupported(String),
}

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest media type Wharf stores.
pub const SUPPORTED: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
/// Largest manifest accepted.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A content descriptor as the manifest states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: i64,
    /// Foreign/non-distributable layers carry URLs and need not be in the registry.
    pub external: bool,
    /// The platform an index entry is for, when it names one.
    pub platform: Option<Platform>,
}

/// The platform of an index entry (or of an image config).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Platform {
    /// `linux`, `windows`, …
    #[serde(default)]
    pub os: String,
    /// `amd64`, `arm64`, …
    #[serde(default)]
    pub architecture: String,
    /// `v7`, `v8`, …
    #[serde(default)]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    /// `os/architecture[/variant]`, `unknown` when it names neither.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> =
            [self.os.as_str(), self.architecture.as_str(), self.variant.as_deref().unwrap_or("")]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
        if parts.is_empty() { f.write_str("unknown") } else { f.write_str(&parts.join("/")) }
    }
}

/// What a manifest references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// An image or artifact manifest: a config and layers, all blobs.
    Image {
        /// The config descriptor.
        config: Descriptor,
        /// The layer descriptors.
        layers: Vec<Descriptor>,
    },
    /// An index or manifest list: child manifests.
    Index {
        /// The child manifest descriptors.
        manifests: Vec<Descriptor>,
    },
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The media type it is stored and served with.
    pub media_type: String,
    /// Blobs or children.
    pub body: Body,
    /// `artifactType`, if present.
    pub artifact_type: Option<String>,
    /// The `subject` it refers to, if any.
    pub subject: Option<Descriptor>,
    /// Annotations as JSON text, if any.
    pub annotations: Option<String>,
}

impl Manifest {
    /// Blob descriptors the registry must hold (config and distributable layers).
    pub fn required_blobs(&self) -> Vec<&Descriptor> {
        match &self.body {
            Body::Image { config, layers } => {
                std::iter::once(config).chain(layers.iter().filter(|l| !l.external)).collect()
            }
            Body::Index { .. } => Vec::new(),
        }
    }

    /// Child manifest descriptors (indexes only).
    pub fn children(&self) -> &[Descriptor] {
        match &self.body {
            Body::Index { manifests } => manifests,
            Body::Image { .. } => &[],
        }
    }

    /// The layer descriptors (images only).
    pub fn layers(&self) -> &[Descriptor] {
        match &self.body {
            Body::Image { layers, .. } => layers,
            Body::Index { .. } => &[],
        }
    }

    /// The config descriptor (images only).
    pub fn config(&self) -> Option<&Descriptor> {
        match &self.body {
            Body::Image { config, .. } => Some(config),
            Body::Index { .. } => None,
        }
    }

    /// The config's media type (images only).
    pub fn config_media_type(&self) -> Option<&str> {
        match &self.body {
            Body::Image { config, .. } => Some(&config.media_type),
            Body::Index { .. } => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<i64>,
    #[serde(default)]
    urls: Vec<String>,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    annotations: Option<Value>,
}

fn invalid(msg: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(msg.into())
}

fn descriptor(raw: RawDescriptor, what: &str) -> Result<Descriptor, ManifestError> {
    let media_type = raw.media_type.ok_or_else(|| invalid(format!("{what}: mediaType is required")))?;
    let digest = raw
        .digest
        .ok_or_else(|| invalid(format!("{what}: digest is required")))?
        .parse::<Digest>()
        .map_err(|e| invalid(format!("{what}: {e}")))?;
    let size = raw.size.ok_or_else(|| invalid(format!("{what}: size is required")))?;
    if size < 0 {
        return Err(invalid(format!("{what}: size must not be negative")));
    }
    Ok(Descriptor { media_type, digest, size, external: !raw.urls.is_empty(), platform: raw.platform })
}

/// The media type from the `Content-Type` header, without parameters.
fn header_type(content_type: Option<&str>) -> Option<&str> {
    let t = content_type?.split(';').next()?.trim();
    (!t.is_empty() && t != "application/json" && t != "application/octet-stream").then_some(t)
}

/// Parses `bytes` pushed with `content_type`.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(format!("manifests are limited to {MAX_MANIFEST_BYTES} bytes")));
    }
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a JSON manifest: {e}")))?;
    let header = header_type(content_type);
    if let (Some(h), Some(b)) = (header, raw.media_type.as_deref())
        && h != b
    {
        return Err(invalid(format!("Content-Type {h} does not match mediaType {b}")));
    }
    let media_type = match header.or(raw.media_type.as_deref()) {
        Some(t) => t.to_owned(),
        // Old OCI manifests may omit mediaType: tell them apart by shape.
        None if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        None if raw.config.is_some() => OCI_MANIFEST.to_owned(),
        None => return Err(invalid("the manifest has no media type")),
    };
    if media_type.contains("distribution.manifest.v1") {
        return Err(ManifestError::Unsupported("Docker schema 1 manifests are not supported".into()));
    }
    if !SUPPORTED.contains(&media_type.as_str()) {
        return Err(invalid(format!("unsupported manifest media type {media_type}")));
    }
    if raw.schema_version != Some(2) {
        return Err(invalid("schemaVersion must be 2"));
    }
    let is_index = media_type == OCI_INDEX || media_type == DOCKER_LIST;
    let body = if is_index {
        if raw.config.is_some() || raw.layers.is_some() {
            return Err(invalid("an index has no config or layers"));
        }
        let manifests = raw.manifests.ok_or_else(|| invalid("an index needs a manifests array"))?;
        let manifests = manifests
            .into_iter()
            .enumerate()
            .map(|(i, d)| descriptor(d, &format!("manifests[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Body::Index { manifests }
    } else {
        if raw.manifests.is_some() {
            return Err(invalid("an image manifest has no manifests array"));
        }
        let config = descriptor(raw.config.ok_or_else(|| invalid("config is required"))?, "config")?;
        let layers = raw.layers.ok_or_else(|| invalid("layers is required"))?;
        if layers.is_empty() && media_type == DOCKER_MANIFEST {
            return Err(invalid("a Docker image needs at least one layer"));
        }
        let layers = layers
            .into_iter()
            .enumerate()
            .map(|(i, d)| descriptor(d, &format!("layers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Body::Image { config, layers }
    };
    let subject = raw.subject.map(|s| descriptor(s, "subject")).transpose()?;
    let annotations = match raw.annotations {
        Some(Value::Object(m)) if !m.is_empty() => Some(Value::Object(m).to_string()),
        Some(Value::Object(_)) | Some(Value::Null) | None => None,
        Some(_) => return Err(invalid("annotations must be an object")),
    };
    Ok(Manifest { media_type, body, artifact_type: raw.artifact_type, subject, annotations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":10}}]{extra}}}"#,
            d('a'),
            d('b')
        )
    }

    #[test]
    fn image_manifest_lists_its_blobs() {
        let m = parse(image("").as_bytes(), Some(OCI_MANIFEST)).expect("parse");
        assert_eq!(m.media_type, OCI_MANIFEST);
        let blobs: Vec<String> = m.required_blobs().iter().map(|b| b.digest.to_string()).collect();
        assert_eq!(blobs, vec![d('a'), d('b')]);
        assert_eq!(m.config_media_type(), Some("application/vnd.oci.image.config.v1+json"));
    }

    #[test]
    fn artifact_with_subject_and_annotations() {
        let extra = format!(
            r#","artifactType":"application/vnd.example+json","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}},"annotations":{{"k":"v"}}"#,
            d('c')
        );
        let m = parse(image(&extra).as_bytes(), None).expect("parse");
        assert_eq!(m.artifact_type.as_deref(), Some("application/vnd.example+json"));
        assert_eq!(m.subject.map(|s| s.digest.to_string()), Some(d('c')));
        assert_eq!(m.annotations.as_deref(), Some(r#"{"k":"v"}"#));
    }

    #[test]
    fn index_lists_children() {
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":7,"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#,
            d('e')
        );
        let m = parse(idx.as_bytes(), Some(DOCKER_LIST)).expect("parse");
        assert_eq!(m.children().len(), 1);
        assert!(m.required_blobs().is_empty());
    }

    #[test]
    fn bad_manifests_are_refused_with_the_right_error() {
        let cases: Vec<(String, Option<&str>)> = vec![
            ("not json".into(), None),
            (r#"{"schemaVersion":1}"#.into(), None),
            (image("").replace("\"schemaVersion\":2", "\"schemaVersion\":3"), None),
            (image(""), Some(DOCKER_MANIFEST)),
            (image("").replace(&d('b'), "sha256:xyz"), None),
            (image("").replace("\"size\":10", "\"size\":-1"), None),
            (image(r#","annotations":[1]"#), None),
            (r#"{"schemaVersion":2,"mediaType":"application/x-unknown"}"#.into(), None),
        ];
        for (body, ct) in cases {
            assert!(matches!(parse(body.as_bytes(), ct), Err(ManifestError::Invalid(_))), "{body}");
        }
        let v1 =
            r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(matches!(parse(v1.as_bytes(), None), Err(ManifestError::Unsupported(_))));
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(parse(&big, None), Err(ManifestError::TooLarge(_))));
    }
}
