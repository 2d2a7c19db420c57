//! Pulling and deleting blobs.

use reqwest::{Method, StatusCode};

use crate::support::*;

#[tokio::test]
async fn head_and_get_serve_linked_blobs_with_digest_and_length() {
    let app = TestApp::start().await;
    let data = random_bytes(300_000);
    let d = app.push_blob("library/b", &data).await;
    let head = app.admin(Method::HEAD, &format!("/v2/library/b/blobs/{d}")).call().await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), Some("300000"));
    assert_eq!(header(&head, "docker-content-digest"), Some(d.as_str()));
    assert!(head.bytes().is_empty());
    let get = app.admin(Method::GET, &format!("/v2/library/b/blobs/{d}")).call().await;
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(get.bytes(), data.as_slice());
}

#[tokio::test]
async fn ranges_are_served_and_bad_ranges_refused() {
    let app = TestApp::start().await;
    let data = random_bytes(10_000);
    let d = app.push_blob("library/r", &data).await;
    let path = format!("/v2/library/r/blobs/{d}");
    let res = app.admin(Method::GET, &path).header("range", "bytes=100-199").call().await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&res, "content-range"), Some("bytes 100-199/10000"));
    assert_eq!(header(&res, "content-length"), Some("100"));
    assert_eq!(res.bytes(), &data[100..200]);
    let res = app.admin(Method::GET, &path).header("range", "bytes=-10").call().await;
    assert_eq!(res.bytes(), &data[9990..]);
    let res = app.admin(Method::GET, &path).header("range", "bytes=20000-").call().await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&res, "content-range"), Some("bytes */10000"));
}

#[tokio::test]
async fn blobs_are_served_only_from_repositories_they_are_linked_to() {
    let app = TestApp::start().await;
    let d = app.push_blob("library/one", b"private bytes").await;
    app.push_blob("library/two", b"other").await;
    let res = app.admin(Method::GET, &format!("/v2/library/two/blobs/{d}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    let missing = sha256(b"never pushed");
    let res = app.admin(Method::HEAD, &format!("/v2/library/one/blobs/{missing}")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.admin(Method::GET, "/v2/library/one/blobs/sha256:1234").call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn deleting_a_blob_unlinks_it_unless_a_manifest_uses_it() {
    let app = TestApp::start().await;
    let (_, _, layer) = app.push_image("library/d", "v1").await;
    let res = app.admin(Method::DELETE, &format!("/v2/library/d/blobs/{layer}")).call().await;
    expect_error(res, StatusCode::CONFLICT, "DENIED").await;
    let loose = app.push_blob("library/d", b"loose").await;
    let res = app.admin(Method::DELETE, &format!("/v2/library/d/blobs/{loose}")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = app.admin(Method::GET, &format!("/v2/library/d/blobs/{loose}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    let res = app.admin(Method::DELETE, &format!("/v2/library/d/blobs/{loose}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
}
