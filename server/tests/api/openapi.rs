//! The OpenAPI document is generated from the handlers: every documented operation is routed,
//! every route is documented (the route walker compares its table with the document), and the
//! schemas carry Harbor's field names.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn every_documented_operation_is_routed_and_shaped_like_harbors() {
    let app = TestApp::start().await;
    app.push_image("library/app", "v1").await;
    let res = app.anon(Method::GET, "/api/v2.0/openapi.json").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, ops) in paths {
        let concrete = path
            .replace("{project_name_or_id}", "library")
            .replace("{project_name}", "library")
            .replace("{repository_name}", "app")
            .replace("{reference}", "v1")
            .replace("{tag_name}", "v1")
            .replace("{meta_name}", "public")
            .replace("{mid}", "1")
            .replace("{user_id}", "1")
            .replace("{robot_id}", "1")
            .replace("{gc_id}", "1")
            .replace("{id}", "1")
            .replace("{eid}", "1")
            .replace("{tid}", "1")
            .replace("{task_id}", "1")
            .replace("{immutable_rule_id}", "1")
            .replace("{webhook_policy_id}", "1")
            .replace("{execution_id}", "1")
            .replace("{purge_id}", "1")
            .replace("{label_id}", "1")
            .replace("{group_id}", "1")
            .replace("{digest}", "sha256:0000000000000000000000000000000000000000000000000000000000000000");
        assert!(!concrete.contains('{'), "a path parameter the test does not know: {path}");
        for (method, op) in ops.as_object().expect("operations") {
            if !["get", "put", "post", "delete", "patch", "head"].contains(&method.as_str()) {
                continue;
            }
            assert!(op["summary"].is_string() && op["tags"].is_array(), "{method} {path}: {op}");
            assert!(op["responses"]["default"].is_object(), "{method} {path}: errors documented");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            // Anonymous, so nothing changes; a routed operation answers with its own status.
            let res = app.anon(m.clone(), &concrete).call().await;
            let status = res.status();
            let body = res.bytes();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            let unrouted =
                status == StatusCode::NOT_FOUND && String::from_utf8_lossy(body).contains("no API at");
            assert!(!unrouted, "{m} {path} is documented but not routed");
            operations += 1;
        }
    }
    assert!(paths.len() >= 35, "{} paths", paths.len());
    assert!(operations >= 60, "{operations} operations");
    eprintln!("openapi: {} paths, {operations} operations", paths.len());

    // Schemas come from the answer types, with Harbor's field names.
    let schemas = &doc["components"]["schemas"];
    for (schema, fields) in [
        ("Project", &["project_id", "name", "metadata", "repo_count", "current_user_role_id"][..]),
        ("Robot", &["id", "name", "level", "disable", "expires_at", "permissions"][..]),
        ("Artifact", &["id", "digest", "tags", "push_time", "size"][..]),
        ("LayerFiles", &["layer", "index", "entries", "truncated", "files", "total"][..]),
        ("TreeListing", &["path", "dir", "entries", "largest", "layers"][..]),
        ("Comparison", &["base", "other", "shared_layers", "files", "config"][..]),
        ("User", &["user_id", "username", "sysadmin_flag"][..]),
        ("Errors", &["errors"][..]),
        ("Registry", &["id", "url", "name", "credential", "type", "insecure", "status", "creation_time"][..]),
        (
            "ReplicationPolicy",
            &[
                "id",
                "name",
                "src_registry",
                "dest_registry",
                "dest_namespace",
                "trigger",
                "filters",
                "override",
            ][..],
        ),
        ("ReplicationExecution", &["id", "policy_id", "status", "trigger", "total", "succeed", "failed"][..]),
    ] {
        let props = schemas[schema]["properties"].as_object().unwrap_or_else(|| panic!("schema {schema}"));
        for f in fields {
            assert!(props.contains_key(*f), "{schema}.{f} missing: {:?}", props.keys().collect::<Vec<_>>());
        }
    }
    let list_projects = &doc["paths"]["/api/v2.0/projects"]["get"];
    let params: Vec<&str> = list_projects["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(params.contains(&"page") && params.contains(&"page_size") && params.contains(&"q"), "{params:?}");
}
