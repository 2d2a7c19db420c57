//! Tags list, catalog and referrers, with pagination.

use reqwest::{Method, StatusCode};

use crate::support::*;

async fn json(res: Answer) -> serde_json::Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json()
}

#[tokio::test]
async fn tags_list_paginates_with_link_headers() {
    let app = TestApp::start().await;
    let (_, manifest, _) = app.push_image("library/t", "a").await;
    for tag in ["c", "b", "e", "d"] {
        app.put_manifest("library/t", tag, OCI_MANIFEST, &manifest).await;
    }
    let v = json(app.anon(Method::GET, "/v2/library/t/tags/list").call().await).await;
    assert_eq!(v, serde_json::json!({"name": "library/t", "tags": ["a", "b", "c", "d", "e"]}));
    let res = app.anon(Method::GET, "/v2/library/t/tags/list?n=2").call().await;
    assert_eq!(header(&res, "link"), Some("</v2/library/t/tags/list?n=2&last=b>; rel=\"next\""));
    assert_eq!(json(res).await["tags"], serde_json::json!(["a", "b"]));
    let res = app.anon(Method::GET, "/v2/library/t/tags/list?n=2&last=d").call().await;
    assert!(header(&res, "link").is_none());
    assert_eq!(json(res).await["tags"], serde_json::json!(["e"]));
    let v = json(app.anon(Method::GET, "/v2/library/t/tags/list?n=0").call().await).await;
    assert_eq!(v["tags"], serde_json::json!([]));
    let res = app.anon(Method::GET, "/v2/library/t/tags/list?n=-1").call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID").await;
}

#[tokio::test]
async fn catalog_lists_visible_repositories_with_content() {
    let app = TestApp::start().await;
    app.push_image("library/z", "v").await;
    app.push_image("library/a", "v").await;
    app.push_blob("library/blob-only", b"x").await;
    app.create_project("private", false).await;
    app.push_image("private/hidden", "v").await;
    let v = json(app.admin(Method::GET, "/v2/_catalog").call().await).await;
    assert_eq!(v["repositories"], serde_json::json!(["library/a", "library/z", "private/hidden"]));
    let v = json(app.anon(Method::GET, "/v2/_catalog").call().await).await;
    assert_eq!(v["repositories"], serde_json::json!(["library/a", "library/z"]));
    let res = app.admin(Method::GET, "/v2/_catalog?n=1").call().await;
    assert_eq!(header(&res, "link"), Some("</v2/_catalog?n=1&last=library%2Fa>; rel=\"next\""));
    let v = json(app.admin(Method::GET, "/v2/_catalog?n=5&last=library%2Fa").call().await).await;
    assert_eq!(v["repositories"], serde_json::json!(["library/z", "private/hidden"]));
}

#[tokio::test]
async fn referrers_are_listed_and_filtered_by_artifact_type() {
    let app = TestApp::start().await;
    let (subject, subject_m, _) = app.push_image("library/app", "v1").await;
    let empty = app.push_blob("library/app", b"{}").await;
    let mut pushed = Vec::new();
    for (kind, body) in
        [("application/vnd.example.sbom+json", "sbom"), ("application/vnd.example.sig", "sig")]
    {
        let blob = app.push_blob("library/app", body.as_bytes()).await;
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{kind}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{blob}","size":{}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{}}},"annotations":{{"org.example":"{body}"}}}}"#,
            body.len(),
            subject_m.len()
        );
        let res = app.put_manifest("library/app", &sha256(m.as_bytes()), OCI_MANIFEST, &m).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(header(&res, "oci-subject"), Some(subject.as_str()));
        pushed.push(sha256(m.as_bytes()));
    }
    let res = app.anon(Method::GET, &format!("/v2/library/app/referrers/{subject}")).call().await;
    assert_eq!(header(&res, "content-type"), Some(OCI_INDEX));
    assert!(header(&res, "oci-filters-applied").is_none());
    let v = json(res).await;
    let got: Vec<&str> =
        v["manifests"].as_array().expect("array").iter().filter_map(|m| m["digest"].as_str()).collect();
    assert_eq!(got, pushed.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["manifests"][0]["artifactType"], "application/vnd.example.sbom+json");
    assert_eq!(v["manifests"][0]["annotations"]["org.example"], "sbom");
    let res = app
        .anon(
            Method::GET,
            &format!("/v2/library/app/referrers/{subject}?artifactType=application/vnd.example.sig"),
        )
        .call()
        .await;
    assert_eq!(header(&res, "oci-filters-applied"), Some("artifactType"));
    let v = json(res).await;
    assert_eq!(v["manifests"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["manifests"][0]["digest"], pushed[1].as_str());
    // A subject with no referrers, even one never pushed, answers an empty index.
    let v =
        json(app.anon(Method::GET, &format!("/v2/library/app/referrers/{}", sha256(b"none"))).call().await)
            .await;
    assert_eq!(v["manifests"], serde_json::json!([]));
}
