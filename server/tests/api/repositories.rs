//! Repositories, artifacts and tags through the API, checked against what `/v2` serves.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

async fn json_of(res: Answer) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    res.json()
}

#[tokio::test]
async fn repositories_and_artifacts_are_listed_with_their_tags() {
    let app = TestApp::start().await;
    let (d1, m1, _) = app.push_image("library/app", "v1").await;
    app.put_manifest("library/app", "stable", OCI_MANIFEST, &m1).await;
    let (d2, m2, _) = app.push_image("library/app", "v2").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{d2}","size":{}}}]}}"#,
        m1.len(),
        m2.len()
    );
    app.put_manifest("library/app", "multi", OCI_INDEX, &index).await;
    app.push_image("library/team/svc", "1").await;

    let res = app.anon(Method::GET, "/api/v2.0/projects/library/repositories").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "x-total-count"), Some("2"));
    let v = json_of(res).await;
    assert_eq!(v[0]["name"], "library/app");
    assert_eq!(v[0]["artifact_count"], 3);
    let v =
        json_of(app.anon(Method::GET, "/api/v2.0/projects/library/repositories?q=name%3D~svc").call().await)
            .await;
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    // Slashes in repository names are encoded twice, as in Harbor.
    let v =
        json_of(app.anon(Method::GET, "/api/v2.0/projects/library/repositories/team%252Fsvc").call().await)
            .await;
    assert_eq!(v["name"], "library/team/svc");

    let v =
        json_of(app.anon(Method::GET, "/api/v2.0/projects/library/repositories/app/artifacts").call().await)
            .await;
    let digests: Vec<&str> =
        v.as_array().expect("array").iter().filter_map(|a| a["digest"].as_str()).collect();
    assert_eq!(digests.len(), 3);
    assert_eq!(digests[1..], [d2.as_str(), d1.as_str()], "newest first after the index");
    assert_eq!(v[0]["manifest_media_type"], OCI_INDEX);
    assert_eq!(v[2]["type"], "IMAGE");
    assert_eq!(v[2]["media_type"], "application/vnd.oci.image.config.v1+json");
    let tags: Vec<&str> =
        v[2]["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(tags, ["stable", "v1"]);
    assert!(v[2]["size"].as_i64().is_some_and(|s| s > 4096));

    let by_tag = json_of(
        app.anon(Method::GET, "/api/v2.0/projects/library/repositories/app/artifacts/stable").call().await,
    )
    .await;
    let by_digest = json_of(
        app.anon(Method::GET, &format!("/api/v2.0/projects/library/repositories/app/artifacts/{d1}"))
            .call()
            .await,
    )
    .await;
    assert_eq!(by_tag, by_digest);
    let res =
        app.anon(Method::GET, "/api/v2.0/projects/library/repositories/app/artifacts/nope").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.anon(Method::GET, "/api/v2.0/projects/library/repositories/nope/artifacts").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tags_and_deletes_follow_the_roles_and_the_registry_rules() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let (d1, m1, _) = app.push_image("team/app", "v1").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{}}}]}}"#,
        m1.len()
    );
    app.put_manifest("team/app", "multi", OCI_INDEX, &index).await;
    for (name, role) in [("dev", Role::Developer), ("guest", Role::Guest), ("maint", Role::Maintainer)] {
        let id = app.create_user(name, "Passw0rd1").await;
        app.add_member("team", id, role).await;
    }
    let as_user = |u: &'static str, m: Method, p: &str| app.anon(m, p).basic_auth(u, Some("Passw0rd1"));
    let base = "/api/v2.0/projects/team/repositories/app";

    // Developers add tags; guests may not.
    let res = as_user("guest", Method::POST, &format!("{base}/artifacts/v1/tags"))
        .json(&json!({"name": "g"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = as_user("dev", Method::POST, &format!("{base}/artifacts/v1/tags"))
        .json(&json!({"name": "release"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = as_user("dev", Method::POST, &format!("{base}/artifacts/v1/tags"))
        .json(&json!({"name": "bad tag"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.admin(Method::GET, "/v2/team/app/manifests/release").call().await;
    assert_eq!(header(&res, "docker-content-digest"), Some(d1.as_str()), "the registry serves the new tag");

    // Maintainers delete tags and artifacts; developers may not.
    let res = as_user("dev", Method::DELETE, &format!("{base}/artifacts/v1/tags/release")).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = as_user("maint", Method::DELETE, &format!("{base}/artifacts/v1/tags/release")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = as_user("maint", Method::DELETE, &format!("{base}/artifacts/v1/tags/release")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // An artifact an index still names is kept.
    let res = as_user("maint", Method::DELETE, &format!("{base}/artifacts/{d1}")).call().await;
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        as_user("maint", Method::DELETE, &format!("{base}/artifacts/multi")).call().await.status(),
        StatusCode::OK
    );
    assert_eq!(
        as_user("maint", Method::DELETE, &format!("{base}/artifacts/{d1}")).call().await.status(),
        StatusCode::OK
    );
    let res = app.admin(Method::GET, "/v2/team/app/manifests/v1").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Deleting a repository: maintainers yes, developers no.
    app.push_image("team/other", "1").await;
    let res = as_user("dev", Method::DELETE, "/api/v2.0/projects/team/repositories/other").call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = as_user("maint", Method::DELETE, "/api/v2.0/projects/team/repositories/other").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::GET, "/v2/team/other/tags/list").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Non-members see nothing of the private project.
    app.create_user("stranger", "Passw0rd1").await;
    let res = as_user("stranger", Method::GET, &format!("{base}/artifacts")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn artifacts_are_copied_retagged_across_projects_with_pull_on_the_source_and_push_on_the_target() {
    let app = TestApp::start().await;
    app.create_project("src", false).await;
    app.create_project("dst", false).await;
    let (digest, _, layer) = app.push_image("src/app", "v1").await;
    // An index over the image, tagged, to copy with its child.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
    );
    assert_eq!(app.put_manifest("src/app", "multi", OCI_INDEX, &index).await.status(), StatusCode::CREATED);
    let guest = app.create_user("gina", "Passw0rd!").await;
    app.add_member("src", guest, Role::Guest).await;
    let copy = |to: &'static str, from: String| {
        app.anon(Method::POST, &format!("/api/v2.0/projects/{to}/repositories/app/artifacts?from={from}"))
            .basic_auth("gina", Some("Passw0rd!"))
    };
    // A Guest of the source who may not push to the target is refused.
    app.add_member("dst", guest, Role::Guest).await;
    let res = copy("dst", format!("src/app@{digest}")).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // As a Developer of the target it may copy (retag) into it.
    sqlx::query("UPDATE project_members SET role_id = 2 WHERE user_id = $1 AND project_id = (SELECT id FROM projects WHERE name = 'dst')")
        .bind(guest)
        .execute(app.state.db.writer())
        .await
        .expect("promote");
    let res = copy("dst", "src/app:multi".into()).call().await;
    assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text());
    // The copy pulls through /v2 with its child and layers, tagged as the source was.
    let pulled =
        app.admin(Method::GET, "/v2/dst/app/manifests/multi").header("accept", OCI_INDEX).call().await;
    assert_eq!(pulled.status(), StatusCode::OK);
    assert_eq!(pulled.text(), index);
    let child = app
        .admin(Method::HEAD, &format!("/v2/dst/app/manifests/{digest}"))
        .header("accept", OCI_MANIFEST)
        .call()
        .await;
    assert_eq!(child.status(), StatusCode::OK);
    let blob = app.admin(Method::GET, &format!("/v2/dst/app/blobs/{layer}")).call().await;
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(sha256(blob.bytes()), layer);
    // Bad sources are clear errors.
    for (from, status) in [
        ("nonsense".to_owned(), StatusCode::BAD_REQUEST),
        (format!("src/missing@{digest}"), StatusCode::NOT_FOUND),
        ("src/app:nosuchtag".to_owned(), StatusCode::NOT_FOUND),
    ] {
        let res = copy("dst", from.clone()).call().await;
        assert_eq!(res.status(), status, "{from}");
    }
    let res = app.admin(Method::POST, "/api/v2.0/projects/dst/repositories/app/artifacts").call().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn artifacts_sort_by_harbors_sort_values() {
    let app = TestApp::start().await;
    let (old, _, _) = app.push_image("library/app", "old").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (new, _, _) = app.push_image("library/app", "new").await;
    let digests = |v: Value| -> Vec<String> {
        v.as_array().expect("array").iter().filter_map(|a| a["digest"].as_str().map(str::to_owned)).collect()
    };
    let path = "/api/v2.0/projects/library/repositories/app/artifacts";
    for (sort, want) in [("", [&new, &old]), ("-push_time", [&new, &old]), ("push_time", [&old, &new])] {
        let v = json_of(app.anon(Method::GET, &format!("{path}?sort={sort}")).call().await).await;
        assert_eq!(digests(v), want.map(|d| d.to_owned()), "sort={sort}");
    }
    let res = app.anon(Method::GET, &format!("{path}?sort=name")).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}
