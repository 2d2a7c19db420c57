//! Integration tests of the JSON API (`/api/v2.0`) against a real server.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod caching;
mod harbor_compat;
mod immutable;
mod inspect;
mod labels;
mod ldap;
mod matrix;
mod members;
mod metrics;
mod oidc;
mod openapi;
mod projects;
mod quotas;
mod registries;
mod replication;
mod repositories;
mod retention;
mod robots;
mod routes;
mod security;
mod system;
mod usergroups;
mod users;
mod webhooks;
