//! Wharf: an OCI Distribution v2 registry with a portal, projects and access control.
//!
//! Layering: HTTP handlers (`registry::handlers`, `api`) call domain services (`registry`,
//! `bootstrap`); services call `db` for rows and `storage` for bytes; permission decisions live
//! in `auth`. Nothing calls upward.

pub mod api;
pub mod app;
pub mod artifacts;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod configurations;
pub mod dashboard;
pub mod db;
pub mod endpoints;
pub mod gc;
pub mod identity;
pub mod immutable;
pub mod inspect;
pub mod jobs;
pub mod labels;
pub mod lazy_client;
pub mod limits;
pub mod metrics;
pub mod migrate;
pub mod oci;
pub mod oidc_sign_in;
pub mod portal;
pub mod projects;
pub mod purge;
pub mod registry;
pub mod replication;
pub mod retention;
pub mod state;
pub mod storage;
pub mod time;
pub mod ui;
pub mod users;
pub mod webhooks;

/// The vocabulary shared by the server, the API and the pages (roles, schedules, run statuses,
/// triggers, retention templates, artifact kinds, robot permissions), defined once in the
/// frontend crate so the browser build speaks it too.
pub use frontend::types as vocab;
