//! Integration tests of the `/v2` API against a real server on an ephemeral port.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod blobs;
mod conformance;
mod fsck;
mod gc;
mod listing;
mod manifests;
mod migrate;
mod pool;
mod schema;
mod timeouts;
mod tokens;
mod uploads;
