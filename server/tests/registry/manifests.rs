//! Pushing, pulling and deleting manifests: images, indexes, Docker types, artifacts.

use reqwest::{Method, StatusCode};

use crate::support::*;

#[tokio::test]
async fn push_and_pull_by_tag_and_digest() {
    let app = TestApp::start().await;
    let (digest, manifest, _) = app.push_image("library/img", "v1").await;
    for reference in ["v1", digest.as_str()] {
        let res = app.admin(Method::GET, &format!("/v2/library/img/manifests/{reference}")).call().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "content-type"), Some(OCI_MANIFEST));
        assert_eq!(header(&res, "docker-content-digest"), Some(digest.as_str()));
        assert_eq!(res.text(), manifest, "the exact bytes pushed");
    }
    let head = app.admin(Method::HEAD, "/v2/library/img/manifests/v1").call().await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), Some(manifest.len().to_string().as_str()));
    assert_eq!(header(&head, "docker-content-digest"), Some(digest.as_str()));
    let res = app.admin(Method::GET, "/v2/library/img/manifests/nope").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let res = app.admin(Method::GET, &format!("/v2/library/img/manifests/{}", sha256(b"x"))).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
}

#[tokio::test]
async fn put_response_has_location_and_digest_and_tags_move() {
    let app = TestApp::start().await;
    let (first, _, _) = app.push_image("library/mv", "latest").await;
    let (second, manifest, _) = app.push_image("library/mv", "latest").await;
    assert_ne!(first, second);
    let res = app.admin(Method::GET, "/v2/library/mv/manifests/latest").call().await;
    assert_eq!(header(&res, "docker-content-digest"), Some(second.as_str()));
    let res = app.put_manifest("library/mv", &second, OCI_MANIFEST, &manifest).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(header(&res, "location"), Some(format!("/v2/library/mv/manifests/{second}").as_str()));
    assert_eq!(header(&res, "docker-content-digest"), Some(second.as_str()));
    let res = app.admin(Method::GET, &format!("/v2/library/mv/manifests/{first}")).call().await;
    assert_eq!(res.status(), StatusCode::OK, "the untagged manifest stays pullable by digest");
}

#[tokio::test]
async fn manifests_naming_missing_blobs_or_bad_content_are_refused() {
    let app = TestApp::start().await;
    let cfg = app.push_blob("library/bad", b"{}").await;
    let missing = sha256(b"missing layer");
    let m = image_manifest(&cfg, 2, &[(&missing, 13)]);
    let res = app.put_manifest("library/bad", "v1", OCI_MANIFEST, &m).await;
    expect_error(res, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;
    // A blob in another repository does not count.
    let elsewhere = app.push_blob("library/other", b"layer elsewhere").await;
    let m = image_manifest(&cfg, 2, &[(&elsewhere, 15)]);
    let res = app.put_manifest("library/bad", "v1", OCI_MANIFEST, &m).await;
    expect_error(res, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;
    let res = app.put_manifest("library/bad", "v1", OCI_MANIFEST, "{not json").await;
    expect_error(res, StatusCode::BAD_REQUEST, "MANIFEST_INVALID").await;
    let res = app.put_manifest("library/bad", "v1", DOCKER_MANIFEST, &image_manifest(&cfg, 2, &[])).await;
    expect_error(res, StatusCode::BAD_REQUEST, "MANIFEST_INVALID").await;
    let good = image_manifest(&cfg, 2, &[]);
    let res = app.put_manifest("library/bad", &sha256(b"other"), OCI_MANIFEST, &good).await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let res = app.put_manifest("library/bad", "bad:tag!", OCI_MANIFEST, &good).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v1 = r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
    let res = app
        .put_manifest("library/bad", "v1", "application/vnd.docker.distribution.manifest.v1+prettyjws", v1)
        .await;
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
    let huge = format!(r#"{{"schemaVersion":2,"pad":"{}"}}"#, "x".repeat(4 * 1024 * 1024));
    let res = app.put_manifest("library/bad", "v1", OCI_MANIFEST, &huge).await;
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID").await;
    // Nothing of the refused pushes was stored.
    let res = app.admin(Method::GET, "/v2/library/bad/tags/list").call().await;
    let v: serde_json::Value = res.json();
    assert_eq!(v["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn indexes_need_their_children_and_protect_them() {
    let app = TestApp::start().await;
    let (amd, amd_m, _) = app.push_image("library/multi", "amd").await;
    let (arm, arm_m, _) = app.push_image("library/multi", "arm").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{amd}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{arm}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
        amd_m.len(),
        arm_m.len()
    );
    let res = app.put_manifest("library/multi", "v1", OCI_INDEX, &index).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res =
        app.admin(Method::GET, "/v2/library/multi/manifests/v1").header("accept", OCI_INDEX).call().await;
    assert_eq!(header(&res, "content-type"), Some(OCI_INDEX));
    // A client that cannot read indexes gets the spec's MANIFEST_UNKNOWN by tag.
    let res =
        app.admin(Method::GET, "/v2/library/multi/manifests/v1").header("accept", OCI_MANIFEST).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let res = app.admin(Method::DELETE, &format!("/v2/library/multi/manifests/{amd}")).call().await;
    expect_error(res, StatusCode::CONFLICT, "DENIED").await;
    let missing = index.replace(&arm, &sha256(b"no such child"));
    let res = app.put_manifest("library/multi", "v2", OCI_INDEX, &missing).await;
    expect_error(res, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;
}

#[tokio::test]
async fn docker_schema2_and_manifest_lists() {
    let app = TestApp::start().await;
    let cfg = app.push_blob("library/dock", br#"{"os":"linux"}"#).await;
    let layer = random_bytes(1000);
    let ld = app.push_blob("library/dock", &layer).await;
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cfg}","size":14}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{ld}","size":1000}}]}}"#
    );
    let res = app.put_manifest("library/dock", "v1", DOCKER_MANIFEST, &m).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        sha256(m.as_bytes()),
        m.len()
    );
    let res = app.put_manifest("library/dock", "list", DOCKER_LIST, &list).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res =
        app.admin(Method::GET, "/v2/library/dock/manifests/list").header("accept", DOCKER_LIST).call().await;
    assert_eq!(header(&res, "content-type"), Some(DOCKER_LIST));
    assert_eq!(res.text(), list);
}

#[tokio::test]
async fn delete_tag_then_manifest() {
    let app = TestApp::start().await;
    let (digest, manifest, _) = app.push_image("library/del", "a").await;
    app.put_manifest("library/del", "b", OCI_MANIFEST, &manifest).await;
    let res = app.admin(Method::DELETE, "/v2/library/del/manifests/a").call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = app.admin(Method::GET, "/v2/library/del/manifests/a").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let res = app.admin(Method::GET, "/v2/library/del/manifests/b").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::DELETE, &format!("/v2/library/del/manifests/{digest}")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = app.admin(Method::GET, "/v2/library/del/manifests/b").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let res = app.admin(Method::DELETE, &format!("/v2/library/del/manifests/{digest}")).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
}
