//! The OpenAPI document names only routes Wharf serves.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::start().await;
    app.push_image("library/app", "v1").await;
    let res = app.anon(Method::GET, "/api/v2.0/openapi.json").send().await.expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path
            .replace("{project_name_or_id}", "library")
            .replace("{repository_name}", "app")
            .replace("{reference}", "v1")
            .replace("{tag_name}", "v1")
            .replace("{mid}", "1")
            .replace("{user_id}", "1")
            .replace("{robot_id}", "1")
            .replace("{gc_id}", "1");
        for method in ops.as_object().expect("operations").keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            // Anonymous, so nothing changes; a routed operation answers with its own status.
            let res = app.anon(m.clone(), &format!("/api/v2.0{concrete}")).send().await.expect("send");
            let status = res.status();
            let body = res.bytes().await.expect("body");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            assert!(!(status == StatusCode::NOT_FOUND && body.is_empty()), "{m} {path} is not routed");
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} operations");
}
