//! OCI vocabulary: names, tags, digests and references parsed once into types, digest
//! computation, and manifest parsing. Below the registry, storage and GC, which all speak it;
//! it imports nothing of Wharf's.

pub mod config;
pub mod digester;
pub mod manifest;
pub mod reference;
