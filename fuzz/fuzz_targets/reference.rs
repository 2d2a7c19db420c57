//! Repository names, tags, digests, references and `/v2` paths: parsing never panics, and what
//! parses prints back exactly as given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf::oci::reference::{Digest, Reference, RepoName, Tag};
use wharf::registry::route::Route;

fuzz_target!(|input: &str| {
    if let Ok(name) = input.parse::<RepoName>() {
        assert_eq!(name.to_string(), input);
        assert!(!name.project().is_empty() && !name.project().contains('/'));
    }
    if let Ok(tag) = input.parse::<Tag>() {
        assert_eq!(tag.as_str(), input);
    }
    if let Ok(digest) = input.parse::<Digest>() {
        assert_eq!(digest.to_string(), input);
        assert_eq!(format!("{}:{}", digest.algorithm().name(), digest.hex()), input);
    }
    if let Ok(reference) = input.parse::<Reference>() {
        assert_eq!(reference.to_string(), input);
    }
    let _ = Route::parse(input);
});
