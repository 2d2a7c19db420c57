//! `/metrics`: Prometheus text with request counts and latencies by route, bytes pushed and
//! pulled, and cluster-wide gauges read from the database.

use reqwest::{Method, StatusCode};

use crate::support::*;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{series} not in\n{text}"))
}

#[tokio::test]
async fn metrics_count_requests_bytes_and_what_is_stored() {
    let app = TestApp::start().await;
    let (_, manifest, layer) = app.push_image("library/app", "v1").await;
    let res = app.admin(Method::GET, &format!("/v2/library/app/blobs/{layer}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().len(), 4096);
    let res = app
        .admin(
            Method::GET,
            "/v2/library/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
        )
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.admin(Method::GET, "/api/v2.0/projects").call().await;

    let res = app.anon(Method::GET, "/metrics").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        header(&res, "content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0"))
    );
    let text = res.text();
    assert_eq!(
        value(
            &text,
            r#"wharf_http_requests_total{route="/v2/<name>/blobs/<digest>",method="GET",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"wharf_http_requests_total{route="/v2/<name>/blobs/<digest>",method="GET",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"wharf_http_requests_total{route="/api/v2.0/projects",method="GET",status="200"}"#),
        1.0
    );
    assert!(
        value(
            &text,
            r#"wharf_http_request_duration_seconds_count{route="/v2/<name>/manifests/<reference>",method="PUT"}"#
        ) >= 1.0
    );
    // The layer and config went up, the manifest too; the layer came back down.
    let pushed = value(&text, "wharf_registry_bytes_pushed_total");
    assert!(pushed >= (4096 + manifest.len()) as f64, "{pushed}");
    assert!(value(&text, "wharf_registry_bytes_pulled_total") >= 4096.0);
    assert!(value(&text, "wharf_storage_bytes") > 4096.0);
    assert_eq!(value(&text, "wharf_blobs"), 2.0);
    assert_eq!(value(&text, "wharf_manifests"), 1.0);
    assert_eq!(value(&text, "wharf_uploads_in_progress"), 0.0);
    assert!(!text.contains("library/app"), "no repository names in labels");

    // A garbage collection shows up by status with its duration.
    let run = app
        .state
        .gc
        .run_now(wharf::gc::Trigger::Cli, wharf::gc::collector::GcParams::default(), None)
        .await
        .expect("gc");
    assert_eq!(run.status, wharf::vocab::RunStatus::Success);
    let text = app.anon(Method::GET, "/metrics").call().await.text();
    assert_eq!(value(&text, r#"wharf_gc_runs{status="Success"}"#), 1.0);
    assert!(value(&text, r#"wharf_gc_runs_duration_seconds_sum{status="Success"}"#) >= 0.0);
}
