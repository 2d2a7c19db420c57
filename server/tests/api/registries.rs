//! Registry endpoints (`/api/v2.0/registries`) and proxy-cache projects, against a second real
//! Wharf as the `harbor`-type upstream (it speaks the token flow with credentials).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

fn endpoint(name: &str, url: &str, kind: &str, user: &str, secret: &str) -> Value {
    json!({"name": name, "url": url, "type": kind, "insecure": false, "description": "peer",
           "credential": {"type": "basic", "access_key": user, "access_secret": secret}})
}

#[tokio::test]
async fn registry_endpoints_follow_harbors_api_and_never_answer_secrets() {
    let upstream = TestApp::start().await;
    let app = TestApp::start().await;
    let admin = app.as_admin();

    let res = admin
        .post("/api/v2.0/registries", &endpoint("peer", &upstream.base, "harbor", "admin", ADMIN_PASSWORD))
        .await;
    let id = res.expect(StatusCode::CREATED).created_id();
    admin
        .post("/api/v2.0/registries", &endpoint("peer", &upstream.base, "harbor", "", ""))
        .await
        .expect(StatusCode::CONFLICT);
    let bad = admin.post("/api/v2.0/registries", &endpoint("x", &upstream.base, "quay", "", "")).await;
    assert!(bad.expect(StatusCode::BAD_REQUEST).text().contains("docker-hub, docker-registry, harbor"));
    let bad = admin.post("/api/v2.0/registries", &endpoint("x", "ftp://example", "harbor", "", "")).await;
    bad.expect(StatusCode::BAD_REQUEST);
    let bad =
        admin.post("/api/v2.0/registries", &endpoint("x", "http://u:p@example", "harbor", "", "")).await;
    assert!(bad.expect(StatusCode::BAD_REQUEST).text().contains("access_key"));

    let got: Value = admin.get(&format!("/api/v2.0/registries/{id}")).await.expect(StatusCode::OK).json();
    assert_eq!(got["name"], "peer");
    assert_eq!(got["type"], "harbor");
    assert_eq!(got["url"], upstream.base.as_str());
    assert_eq!(got["credential"]["access_key"], "admin");
    assert_eq!(got["credential"]["access_secret"], "*****", "the secret is never answered");
    assert!(got["creation_time"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Sealed at rest: the plain secret is nowhere in the row.
    let row = wharf::db::registries::get(app.state.db.reader(), id).await.expect("query").expect("row");
    assert!(row.access_secret.starts_with("v1:"));
    assert!(!row.access_secret.contains(ADMIN_PASSWORD));

    let list =
        admin.get("/api/v2.0/registries?q=name%3D~pe&page=1&page_size=10").await.expect(StatusCode::OK);
    assert_eq!(list.header_value("x-total-count"), Some("1"));
    assert!(!list.text().contains(ADMIN_PASSWORD));
    let none = admin.get("/api/v2.0/registries?q=name%3D~zzz").await.expect(StatusCode::OK);
    assert_eq!(none.json::<Vec<Value>>().len(), 0);

    // The background check ran after the create.
    let mut status = String::new();
    for _ in 0..100 {
        let got: Value = admin.get(&format!("/api/v2.0/registries/{id}")).await.json();
        status = got["status"].as_str().unwrap_or("").to_owned();
        if status != "unknown" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "healthy");

    // Ping: stored settings, changed ones, a wrong password, nobody there.
    admin.post("/api/v2.0/registries/ping", &json!({"id": id})).await.expect(StatusCode::OK);
    let wrong = admin.post("/api/v2.0/registries/ping", &json!({"id": id, "access_secret": "nope"})).await;
    assert!(wrong.expect(StatusCode::BAD_REQUEST).text().contains("refused the credentials"));
    let gone = admin
        .post("/api/v2.0/registries/ping", &json!({"type": "docker-registry", "url": "http://127.0.0.1:9"}))
        .await;
    assert!(gone.expect(StatusCode::BAD_REQUEST).text().contains("unreachable"));

    // Update keeps the secret unless a new one is given.
    admin
        .send_json(
            Method::PUT,
            &format!("/api/v2.0/registries/{id}"),
            &json!({"description": "the other site"}),
        )
        .await
        .expect(StatusCode::OK);
    admin.post("/api/v2.0/registries/ping", &json!({"id": id})).await.expect(StatusCode::OK);
    let got: Value = admin.get(&format!("/api/v2.0/registries/{id}")).await.json();
    assert_eq!(got["description"], "the other site");

    let info: Value =
        admin.get(&format!("/api/v2.0/registries/{id}/info")).await.expect(StatusCode::OK).json();
    assert_eq!(info["type"], "harbor");
    assert!(info["supported_triggers"].as_array().is_some_and(|t| t.contains(&json!("manual"))));
    let adapters: Vec<String> =
        admin.get("/api/v2.0/replication/adapters").await.expect(StatusCode::OK).json();
    assert_eq!(adapters, ["docker-hub", "docker-registry", "harbor"]);

    // System administrators only.
    app.create_project("team", false).await;
    let member = app.as_member("team", Role::ProjectAdmin).await;
    member.get("/api/v2.0/registries").await.expect(StatusCode::FORBIDDEN);
    member.get(&format!("/api/v2.0/registries/{id}")).await.expect(StatusCode::FORBIDDEN);
    app.anonymous().get("/api/v2.0/registries").await.expect(StatusCode::UNAUTHORIZED);
    let res = member.post("/api/v2.0/projects", &json!({"project_name": "mine", "registry_id": id})).await;
    res.expect(StatusCode::FORBIDDEN);

    admin.delete(&format!("/api/v2.0/registries/{id}")).await.expect(StatusCode::OK);
    admin.get(&format!("/api/v2.0/registries/{id}")).await.expect(StatusCode::NOT_FOUND);
}

async fn blob(app: &TestApp, repo: &str, digest: &str) -> Answer {
    app.as_admin().get(&format!("/v2/{repo}/blobs/{digest}")).await
}

async fn manifest(app: &TestApp, repo: &str, reference: &str) -> Answer {
    app.as_admin()
        .request(Method::GET, &format!("/v2/{repo}/manifests/{reference}"))
        .header("accept", OCI_MANIFEST)
        .call()
        .await
}

/// Waits until proxy repository `repo` has cached the artifact `digest` with `tag`.
async fn cached(app: &TestApp, project: &str, repo: &str, digest: &str, tag: &str) {
    let path = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts?with_tag=true");
    for _ in 0..200 {
        let list: Vec<Value> = app.as_admin().get(&path).await.json();
        if list.iter().any(|a| {
            a["digest"] == digest && a["tags"].as_array().is_some_and(|t| t.iter().any(|x| x["name"] == tag))
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{repo}@{digest} ({tag}) was never cached");
}

#[tokio::test]
async fn a_proxy_project_pulls_through_its_upstream_and_serves_its_cache() {
    let upstream = TestApp::start().await;
    upstream.create_project("lib", false).await;
    let (d1, m1, layer1) = upstream.push_image("lib/app", "1").await;

    let app = TestApp::start().await;
    let admin = app.as_admin();
    let res = admin
        .post("/api/v2.0/registries", &endpoint("site-b", &upstream.base, "harbor", "admin", ADMIN_PASSWORD))
        .await;
    let id = res.expect(StatusCode::CREATED).created_id();
    admin
        .post(
            "/api/v2.0/projects",
            &json!({"project_name": "hub", "registry_id": id, "metadata": {"public": "false"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let project: Value = admin.get("/api/v2.0/projects/hub").await.expect(StatusCode::OK).json();
    assert_eq!(project["registry_id"], id);
    assert_eq!(project["metadata"]["proxy_speed_kb"], "-1");
    // Harbor's default for proxy projects: artifacts not pulled for 7 days go.
    let rid = project["metadata"]["retention_id"].as_str().expect("a retention policy");
    let policy: Value = admin.get(&format!("/api/v2.0/retentions/{rid}")).await.expect(StatusCode::OK).json();
    assert_eq!(policy["rules"][0]["template"], "nDaysSinceLastPull");
    assert_eq!(policy["rules"][0]["params"]["nDaysSinceLastPull"], 7);
    assert_eq!(policy["trigger"]["settings"]["cron"], "0 0 0 * * *");

    // First pull: from the upstream, byte for byte.
    let got = manifest(&app, "hub/lib/app", "1").await.expect(StatusCode::OK);
    assert_eq!(got.header_value("docker-content-digest"), Some(d1.as_str()));
    assert_eq!(got.text(), m1);
    let layer = blob(&app, "hub/lib/app", &layer1).await.expect(StatusCode::OK);
    assert_eq!(sha256(layer.bytes()), layer1);
    blob(&app, "hub/lib/app", &format!("sha256:{}", "0".repeat(64))).await.expect(StatusCode::NOT_FOUND);
    cached(&app, "hub", "lib%252Fapp", &d1, "1").await;

    // A signature pushed upstream afterwards: the referrers API finds it through the proxy, and
    // it is fetched (and cached) when asked for by digest.
    let sig_config = upstream.push_blob("lib/app", b"{}").await;
    let sig_layer = upstream.push_blob("lib/app", b"signature").await;
    let m1_size = m1.len();
    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.dev.cosign.simplesigning.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{sig_config}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{sig_layer}","size":9}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{m1_size}}}}}"#
    );
    let sig_digest = sha256(sig.as_bytes());
    upstream.put_manifest("lib/app", &sig_digest, OCI_MANIFEST, &sig).await.expect(StatusCode::CREATED);
    let index: Value =
        admin.get(&format!("/v2/hub/lib/app/referrers/{d1}")).await.expect(StatusCode::OK).json();
    let found = index["manifests"].as_array().expect("manifests");
    assert!(found.iter().any(|m| m["digest"] == sig_digest.as_str()), "{index}");
    let got = manifest(&app, "hub/lib/app", &sig_digest).await.expect(StatusCode::OK);
    assert_eq!(got.text(), sig);

    // Read-only: pushes are refused with the reason.
    let res = admin.request(Method::POST, "/v2/hub/lib/app/blobs/uploads/").call().await;
    let text = res.expect(StatusCode::FORBIDDEN).text();
    assert!(text.contains("DENIED") && text.contains("proxy cache"), "{text}");
    let res = app.put_manifest("hub/lib/app", "2", OCI_MANIFEST, &m1).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An endpoint in use stays.
    let res = admin.delete(&format!("/api/v2.0/registries/{id}")).await;
    assert!(res.expect(StatusCode::PRECONDITION_FAILED).text().contains("hub"));

    // The upstream moves the tag: the new digest is served and cached.
    let (d2, _, layer2) = upstream.push_image("lib/app", "1").await;
    let got = manifest(&app, "hub/lib/app", "1").await.expect(StatusCode::OK);
    assert_eq!(got.header_value("docker-content-digest"), Some(d2.as_str()));
    blob(&app, "hub/lib/app", &layer2).await.expect(StatusCode::OK);
    cached(&app, "hub", "lib%252Fapp", &d2, "1").await;
    // An unchanged tag is answered from the cache (its pull is counted on the cached row).
    manifest(&app, "hub/lib/app", "1").await.expect(StatusCode::OK);

    // The upstream goes away: everything cached is still served, tags included.
    drop(upstream);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = manifest(&app, "hub/lib/app", "1").await.expect(StatusCode::OK);
    assert_eq!(got.header_value("docker-content-digest"), Some(d2.as_str()));
    let old = manifest(&app, "hub/lib/app", &d1).await.expect(StatusCode::OK);
    assert_eq!(old.text(), m1);
    assert_eq!(sha256(blob(&app, "hub/lib/app", &layer1).await.expect(StatusCode::OK).bytes()), layer1);
    // What is not cached fails with an error naming the upstream.
    let res = manifest(&app, "hub/lib/app", "2").await;
    let text = res.expect(StatusCode::BAD_GATEWAY).text();
    assert!(text.contains("UNAVAILABLE") && text.contains("127.0.0.1"), "{text}");

    // Deletes work as in any project.
    admin
        .delete(&format!("/api/v2.0/projects/hub/repositories/lib%252Fapp/artifacts/{d1}"))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn proxy_pulls_need_pull_rights_on_the_proxy_project() {
    let upstream = TestApp::start().await;
    upstream.create_project("lib", true).await;
    upstream.push_image("lib/app", "1").await;
    let app = TestApp::start().await;
    let admin = app.as_admin();
    // Anonymous upstream access to a public project.
    let res = admin.post("/api/v2.0/registries", &endpoint("open", &upstream.base, "harbor", "", "")).await;
    let id = res.expect(StatusCode::CREATED).created_id();
    admin
        .post("/api/v2.0/projects", &json!({"project_name": "cache", "registry_id": id}))
        .await
        .expect(StatusCode::CREATED);
    let res = app.anonymous().get("/v2/cache/lib/app/manifests/1").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a private proxy project");
    let guest = app.as_member("cache", Role::Guest).await;
    guest.get("/v2/cache/lib/app/manifests/1").await.expect(StatusCode::OK);
    // Guests pull but do not delete.
    let res = guest.request(Method::DELETE, "/v2/cache/lib/app/manifests/1").call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_group_project_answers_from_its_first_member_that_has_the_reference() {
    let upstream = TestApp::start().await;
    upstream.create_project("lib", true).await;
    let (only_upstream, _, _) = upstream.push_image("lib/app", "remote").await;
    let (shadowed, _, _) = upstream.push_image("lib/app", "both").await;

    let app = TestApp::start().await;
    let admin = app.as_admin();
    app.create_project("ours", false).await;
    let (ours, _, ours_layer) = app.push_image("ours/lib/app", "both").await;
    let res = admin.post("/api/v2.0/registries", &endpoint("up", &upstream.base, "harbor", "", "")).await;
    let id = res.expect(StatusCode::CREATED).created_id();
    admin
        .post("/api/v2.0/projects", &json!({"project_name": "hub", "registry_id": id}))
        .await
        .expect(StatusCode::CREATED);
    // Only administrators make groups; members must exist and not be groups.
    let dev = app.as_member("ours", Role::ProjectAdmin).await;
    dev.post("/api/v2.0/projects", &json!({"project_name": "all", "group_members": ["ours"]}))
        .await
        .expect(StatusCode::FORBIDDEN);
    admin
        .post("/api/v2.0/projects", &json!({"project_name": "all", "group_members": ["ours", "nope"]}))
        .await
        .expect(StatusCode::BAD_REQUEST);
    admin
        .post("/api/v2.0/projects", &json!({"project_name": "all", "group_members": ["ours", "hub"]}))
        .await
        .expect(StatusCode::CREATED);
    let got: Value = admin.get("/api/v2.0/projects/all").await.expect(StatusCode::OK).json();
    assert_eq!(got["group_members"], json!(["ours", "hub"]));
    admin
        .post("/api/v2.0/projects", &json!({"project_name": "nested", "group_members": ["all"]}))
        .await
        .expect(StatusCode::BAD_REQUEST);

    // A guest of the group, who is nobody in its members, pulls through it.
    let guest = app.as_member("all", Role::Guest).await;
    guest.get("/v2/ours/lib/app/manifests/both").await.expect(StatusCode::FORBIDDEN);
    let pull = |reference: &'static str| {
        guest
            .request(Method::GET, &format!("/v2/all/lib/app/manifests/{reference}"))
            .header("accept", OCI_MANIFEST)
    };
    // First member wins; the next answers what the first lacks.
    let res = pull("both").call().await.expect(StatusCode::OK);
    assert_eq!(res.header_value("docker-content-digest"), Some(ours.as_str()));
    assert_ne!(ours, shadowed);
    let res = pull("remote").call().await.expect(StatusCode::OK);
    assert_eq!(res.header_value("docker-content-digest"), Some(only_upstream.as_str()));
    let layer = guest.get(&format!("/v2/all/lib/app/blobs/{ours_layer}")).await.expect(StatusCode::OK);
    assert_eq!(sha256(layer.bytes()), ours_layer);
    let res = pull("missing").call().await;
    assert!(res.expect(StatusCode::NOT_FOUND).text().contains("none of the group's projects"));
    let tags: Value = guest.get("/v2/all/lib/app/tags/list").await.expect(StatusCode::OK).json();
    assert!(tags["tags"].as_array().is_some_and(|t| t.contains(&json!("both"))), "{tags}");
    // Read-only, and closed to those without pull rights on the group.
    let res = admin.request(Method::POST, "/v2/all/lib/app/blobs/uploads/").call().await;
    assert!(res.expect(StatusCode::FORBIDDEN).text().contains("group"));
    let outsider = app.as_member("ours", Role::Guest).await;
    let res = outsider.get("/v2/all/lib/app/manifests/both").await;
    assert!(matches!(res.status(), StatusCode::NOT_FOUND | StatusCode::FORBIDDEN), "{}", res.status());
}
