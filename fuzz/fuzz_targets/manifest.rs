//! Manifest and index parsing (any bytes, any content type): never panics, and an accepted
//! manifest's references are well-formed digests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf::oci::manifest::parse;

const TYPES: [Option<&str>; 6] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    if let Ok(m) = parse(body, TYPES[pick as usize % TYPES.len()]) {
        for d in m.required_blobs().into_iter().chain(m.children()) {
            assert!(d.digest.to_string().contains(':'));
        }
        let _ = m.config_media_type();
    }
});
