//! What the distribution-spec conformance suite and real clients check, driven by a client that
//! only ever follows challenges: it sends each request without credentials, asks the token
//! service for exactly the scopes the `WWW-Authenticate` challenge names, and retries with that
//! token. A challenge that names the wrong scope fails here as it fails for containerd.

use reqwest::{Method, RequestBuilder, StatusCode};
use sha2::{Digest as _, Sha512};

use crate::support::*;

/// A client that knows a username and password and nothing of Wharf's scopes.
struct Follower<'a> {
    user: &'a str,
    password: &'a str,
}

/// The parameters of a `Bearer realm=…,service=…,scope=…` challenge.
fn challenge_params(header: &str) -> Vec<(String, String)> {
    let rest = header.strip_prefix("Bearer ").expect("a bearer challenge");
    let mut out = Vec::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once("=\"") {
        let (value, tail) = after.split_once('"').expect("closing quote");
        out.push((key.trim_start_matches(',').trim().to_owned(), value.to_owned()));
        rest = tail;
    }
    out
}

impl Follower<'_> {
    /// Sends the request `build` makes; on a 401, fetches a token for the challenge's scopes
    /// and sends it again with the token. Returns the answer and the scopes it was asked for.
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> (Answer, Vec<String>) {
        let first = build().call().await;
        if first.status() != StatusCode::UNAUTHORIZED {
            return (first, Vec::new());
        }
        let challenge = header(&first, "www-authenticate").expect("a challenge").to_owned();
        let params = challenge_params(&challenge);
        let realm = &params.iter().find(|(k, _)| k == "realm").expect("realm").1;
        let scopes: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_owned))
            .collect();
        let mut query: Vec<(String, String)> = vec![("service".into(), "wharf".into())];
        query.extend(scopes.iter().map(|s| ("scope".to_owned(), s.clone())));
        let token = reqwest::Client::new()
            .get(realm)
            .query(&query)
            .basic_auth(self.user, Some(self.password))
            .call()
            .await;
        assert_eq!(token.status(), StatusCode::OK);
        let token: serde_json::Value = token.json();
        let token = token["token"].as_str().expect("token").to_owned();
        (build().bearer_auth(token).call().await, scopes)
    }
}

#[tokio::test]
async fn upload_status_and_cancel_challenge_for_push_and_work_with_that_token() {
    let app = TestApp::start().await;
    let c = Follower { user: "admin", password: ADMIN_PASSWORD };
    let (res, scopes) = c.send(|| app.anon(Method::POST, "/v2/library/up/blobs/uploads/")).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(scopes, ["repository:library/up:pull,push"]);
    let location = header(&res, "location").expect("location").to_owned();
    let path = location.trim_start_matches(&app.base).to_owned();

    let (res, scopes) = c
        .send(|| {
            app.anon(Method::PATCH, &path)
                .header("content-type", "application/octet-stream")
                .header("content-range", "0-9")
                .body(b"0123456789".to_vec())
        })
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(scopes, ["repository:library/up:pull,push"]);

    let (res, scopes) = c.send(|| app.anon(Method::GET, &path)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "status of the session");
    assert_eq!(scopes, ["repository:library/up:pull,push"], "status needs push, and says so");
    assert_eq!(header(&res, "range"), Some("0-9"));

    let (res, scopes) = c.send(|| app.anon(Method::DELETE, &path)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "cancel through the token flow");
    assert_eq!(scopes, ["repository:library/up:pull,push"], "cancel needs push, not delete");
    let (res, _) = c.send(|| app.anon(Method::GET, &path)).await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn a_mount_challenges_for_pull_on_its_source_and_then_mounts() {
    let app = TestApp::start().await;
    app.create_project("src", false).await;
    let blob = random_bytes(2048);
    let digest = app.push_blob("src/base", &blob).await;
    let c = Follower { user: "admin", password: ADMIN_PASSWORD };
    let url = format!("/v2/library/app/blobs/uploads/?mount={digest}&from=src/base");
    let (res, scopes) = c.send(|| app.anon(Method::POST, &url)).await;
    assert_eq!(scopes, ["repository:library/app:pull,push", "repository:src/base:pull"]);
    assert_eq!(res.status(), StatusCode::CREATED, "mounted, not a fallback upload");
    assert_eq!(header(&res, "docker-content-digest"), Some(digest.as_str()));
    let (res, _) = c.send(|| app.anon(Method::GET, &format!("/v2/library/app/blobs/{digest}"))).await;
    assert_eq!(res.bytes(), blob.as_slice());

    // A caller who may not read the source gets a normal upload session instead.
    app.create_user("dev", "Passw0rd!").await;
    let id = app.create_user("lib-dev", "Passw0rd!").await;
    app.add_member("library", id, wharf::auth::Role::Developer).await;
    let other = Follower { user: "lib-dev", password: "Passw0rd!" };
    let (res, _) = other.send(|| app.anon(Method::POST, &url)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "no pull on the source: a fresh upload");
}

#[tokio::test]
async fn referrers_of_a_repository_without_content_are_an_empty_index() {
    let app = TestApp::start().await;
    let d = format!("sha256:{}", "ab".repeat(32));
    let c = Follower { user: "admin", password: ADMIN_PASSWORD };
    let (res, _) = c.send(|| app.anon(Method::GET, &format!("/v2/library/nothing-yet/referrers/{d}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-type"), Some("application/vnd.oci.image.index.v1+json"));
    let v: serde_json::Value = res.json();
    assert_eq!(v["schemaVersion"], 2);
    assert_eq!(v["manifests"], serde_json::json!([]));
    // A project that does not exist is still unknown.
    let (res, _) = c.send(|| app.anon(Method::GET, &format!("/v2/nope/x/referrers/{d}"))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tag_parameters_tag_a_manifest_pushed_by_any_digest_in_one_step() {
    let app = TestApp::start().await;
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = app.push_blob("library/tagged", config).await;
    let layer = random_bytes(1000);
    let layer_digest = app.push_blob("library/tagged", &layer).await;
    let manifest = image_manifest(&config_digest, config.len(), &[(&layer_digest, layer.len())]);
    let sha512 = format!("sha512:{}", hex::encode(Sha512::digest(manifest.as_bytes())));

    let res = app
        .admin(Method::PUT, &format!("/v2/library/tagged/manifests/{sha512}?tag=one&tag=two"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(header(&res, "docker-content-digest"), Some(sha512.as_str()), "keeps the sha512 digest");
    let tags: Vec<&str> = res.headers().get_all("oci-tag").iter().filter_map(|v| v.to_str().ok()).collect();
    assert_eq!(tags, ["one", "two"]);
    for tag in ["one", "two"] {
        let res = app.admin(Method::GET, &format!("/v2/library/tagged/manifests/{tag}")).call().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "docker-content-digest"), Some(sha512.as_str()));
        assert_eq!(res.text(), manifest);
    }
    let list: serde_json::Value = app.admin(Method::GET, "/v2/library/tagged/tags/list").call().await.json();
    assert_eq!(list["tags"], serde_json::json!(["one", "two"]));

    // A bad tag refuses the whole push: nothing is stored.
    let res = app
        .admin(
            Method::PUT,
            &format!("/v2/library/tagged/manifests/{}?tag=ok&tag=-bad", sha256(manifest.as_bytes())),
        )
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "TAG_INVALID").await;
    let res = app.admin(Method::GET, "/v2/library/tagged/manifests/ok").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // A push by tag keeps the canonical digest and names its tag.
    let res = app.put_manifest("library/tagged", "three", OCI_MANIFEST, &manifest).await;
    assert_eq!(header(&res, "docker-content-digest"), Some(sha256(manifest.as_bytes()).as_str()));
    assert_eq!(header(&res, "oci-tag"), Some("three"));
}
