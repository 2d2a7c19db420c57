//! What a Harbor client library with strict response models expects: project metadata under
//! `/metadatas`, robots listed without a filter, empty paging parameters taken as absent, and
//! every rejection in the API's JSON error shape, path parameters included.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn json(res: Answer) -> Value {
    let status = res.status();
    let text = res.text();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"))
}

async fn api_error(res: Answer, status: StatusCode) -> String {
    assert_eq!(res.status(), status);
    assert!(header(&res, "content-type").is_some_and(|c| c.starts_with("application/json")));
    let v: Value = res.json();
    assert!(v["errors"][0]["code"].is_string() && v["errors"][0]["message"].is_string(), "{v}");
    v["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn project_metadata_reads_and_changes_like_harbors() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let m = json(app.admin(Method::GET, "/api/v2.0/projects/team/metadatas").call().await).await;
    assert_eq!(m, json!({"public": "false"}));
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/metadatas")
        .json(&json!({"public": "true", "auto_scan": "false"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let m = json(app.admin(Method::GET, "/api/v2.0/projects/team/metadatas/public").call().await).await;
    assert_eq!(m, json!({"public": "true"}));
    let project = json(app.admin(Method::GET, "/api/v2.0/projects/team").call().await).await;
    assert_eq!(project["metadata"]["public"], "true", "the same flag as the project's");

    let res = app
        .admin(Method::PUT, "/api/v2.0/projects/team/metadatas/public")
        .json(&json!({"public": "false"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.anon(Method::GET, "/api/v2.0/projects/team/metadatas").call().await;
    assert!(matches!(res.status().as_u16(), 401 | 404), "private again: {}", res.status());

    // A retention policy shows up as retention_id, as Harbor clients read it.
    let policy = json!({"algorithm": "or", "rules": [{"action": "retain", "template": "always", "params": {},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}}, "scope": {"level": "project", "ref": 2}});
    let res = app.admin(Method::POST, "/api/v2.0/retentions").json(&policy).call().await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let m = json(app.admin(Method::GET, "/api/v2.0/projects/2/metadatas").call().await).await;
    assert!(m["retention_id"].as_str().is_some_and(|id| id.parse::<i64>().is_ok()), "{m}");

    // Features Wharf does not have can only be off; unknown keys are refused; nothing changes.
    for body in
        [json!({"enable_content_trust": "true"}), json!({"no_such_key": "1"}), json!({"public": "maybe"})]
    {
        let res = app.admin(Method::POST, "/api/v2.0/projects/team/metadatas").json(&body).call().await;
        api_error(res, StatusCode::BAD_REQUEST).await;
    }
    let res = app.admin(Method::DELETE, "/api/v2.0/projects/team/metadatas/public").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::GET, "/api/v2.0/projects/team/metadatas/nope").call().await;
    api_error(res, StatusCode::NOT_FOUND).await;

    // Only project administrators change metadata.
    let id = app.create_user("dev", "Passw0rd!").await;
    app.add_member("team", id, wharf::auth::Role::Developer).await;
    let res = app
        .anon(Method::POST, "/api/v2.0/projects/team/metadatas")
        .basic_auth("dev", Some("Passw0rd!"))
        .json(&json!({"public": "true"}))
        .call()
        .await;
    api_error(res, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn robots_are_listed_without_a_filter_for_administrators() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    for (project, name) in [("library", "a"), ("team", "b"), ("team", "c")] {
        let body = json!({"name": name, "level": "project", "duration": -1, "permissions": [{"kind": "project",
            "namespace": project, "access": [{"resource": "repository", "action": "pull"}]}]});
        let res = app.admin(Method::POST, "/api/v2.0/robots").json(&body).call().await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.admin(Method::GET, "/api/v2.0/robots?page=1&page_size=2").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("3"));
    assert!(header(&res, "link").is_some_and(|l| l.contains("rel=\"next\"")));
    let page = json(res).await;
    let names: Vec<&str> = page.as_array().expect("list").iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["robot$library+a", "robot$team+b"]);
    let all = json(app.admin(Method::GET, "/api/v2.0/robots").call().await).await;
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    app.create_user("someone", "Passw0rd!").await;
    let res = app.anon(Method::GET, "/api/v2.0/robots").basic_auth("someone", Some("Passw0rd!")).call().await;
    api_error(res, StatusCode::FORBIDDEN).await;
    let res = app.anon(Method::GET, "/api/v2.0/robots").call().await;
    api_error(res, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn empty_paging_parameters_count_as_absent() {
    let app = TestApp::start().await;
    for path in [
        "/api/v2.0/projects?page=&page_size=",
        "/api/v2.0/users?page=&page_size=&q=",
        "/api/v2.0/audit-logs?page=&page_size=",
        "/api/v2.0/projects/library/repositories?page=&page_size=&q=&sort=",
        "/api/v2.0/projects/library/members?page=&page_size=&entityname=",
        "/api/v2.0/robots?page=&page_size=&q=",
        "/api/v2.0/system/gc?page=&page_size=",
    ] {
        let res = app.admin(Method::GET, path).call().await;
        assert_eq!(res.status(), StatusCode::OK, "{path}: {}", res.text());
    }
    let res = app.admin(Method::GET, "/api/v2.0/projects?page=x").call().await;
    api_error(res, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn path_parameters_that_do_not_parse_are_answered_in_json() {
    let app = TestApp::start().await;
    for path in [
        "/api/v2.0/robots/9223372036854775808",
        "/api/v2.0/projects/0/members/abc",
        "/api/v2.0/users/x",
        "/api/v2.0/users/x/password",
        "/api/v2.0/system/gc/NaN",
        "/api/v2.0/retentions/one",
        "/api/v2.0/retentions/1/executions/two/tasks",
    ] {
        for method in [Method::GET, Method::PUT] {
            let res = app.admin(method.clone(), path).json(&json!({})).call().await;
            let status = res.status();
            if status == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            let message = api_error(res, StatusCode::BAD_REQUEST).await;
            assert!(!message.is_empty(), "{method} {path}: says what is wrong");
        }
    }
}

async fn token_status(app: &TestApp, user: &str, secret: &str, scope: &str) -> Vec<String> {
    let res = app
        .anon(Method::GET, &format!("/service/token?service=wharf&scope={scope}"))
        .basic_auth(user, Some(secret))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json();
    let token = v["token"].as_str().expect("token");
    let payload = token.split('.').nth(1).expect("payload");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"),
    )
    .expect("claims");
    claims["access"][0]["actions"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
}

#[tokio::test]
async fn system_robots_work_across_the_projects_they_are_granted() {
    let app = TestApp::start().await;
    for p in ["alpha", "beta", "gamma"] {
        app.create_project(p, false).await;
    }
    app.push_image("gamma/app", "v1").await;
    let body = json!({"name": "ci", "level": "system", "duration": 30, "permissions": [
        {"kind": "project", "namespace": "alpha", "access": [{"resource": "repository", "action": "pull"},
            {"resource": "repository", "action": "push"}]},
        {"kind": "project", "namespace": "beta", "access": [{"resource": "repository", "action": "pull"}]}]});
    let res = app.admin(Method::POST, "/api/v2.0/robots").json(&body).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = json(res).await;
    let (id, name, secret) = (
        created["id"].as_i64().expect("id"),
        created["name"].as_str().expect("name").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    );
    assert_eq!(name, "robot$ci");

    // Exactly what it was granted, project by project.
    assert_eq!(token_status(&app, &name, &secret, "repository:alpha/app:pull,push").await, ["pull", "push"]);
    assert_eq!(token_status(&app, &name, &secret, "repository:beta/app:pull,push").await, ["pull"]);
    assert!(token_status(&app, &name, &secret, "repository:gamma/app:pull").await.is_empty());
    let res =
        app.anon(Method::GET, "/v2/gamma/app/manifests/v1").basic_auth(&name, Some(&secret)).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res =
        app.anon(Method::POST, "/v2/alpha/app/blobs/uploads/").basic_auth(&name, Some(&secret)).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "push where granted");

    // Harbor's shape, listed for administrators, and changed to every project.
    let robot = json(app.admin(Method::GET, &format!("/api/v2.0/robots/{id}")).call().await).await;
    assert_eq!(robot["level"], "system");
    let namespaces: Vec<&str> = robot["permissions"]
        .as_array()
        .expect("perms")
        .iter()
        .filter_map(|p| p["namespace"].as_str())
        .collect();
    assert_eq!(namespaces, ["alpha", "beta"]);
    assert!(robot.get("secret").is_none(), "never the secret");
    let all = json(app.admin(Method::GET, "/api/v2.0/robots").call().await).await;
    assert!(all.as_array().expect("list").iter().any(|r| r["name"] == "robot$ci" && r["level"] == "system"));
    let every = json!({"permissions": [{"kind": "project", "namespace": "*",
        "access": [{"resource": "repository", "action": "pull"}]}]});
    let res = app.admin(Method::PUT, &format!("/api/v2.0/robots/{id}")).json(&every).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res =
        app.anon(Method::GET, "/v2/gamma/app/manifests/v1").basic_auth(&name, Some(&secret)).call().await;
    assert_eq!(res.status(), StatusCode::OK, "namespace * reaches every project");
    let catalog =
        json(app.anon(Method::GET, "/v2/_catalog").basic_auth(&name, Some(&secret)).call().await).await;
    assert!(catalog["repositories"].as_array().expect("repos").iter().any(|r| r == "gamma/app"), "{catalog}");
    let res =
        app.anon(Method::POST, "/v2/alpha/app/blobs/uploads/").basic_auth(&name, Some(&secret)).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "push was taken away");

    // Only system administrators create or see system robots; a missing project is refused.
    let id2 = app.create_user("padmin", "Passw0rd!").await;
    app.add_member("alpha", id2, wharf::auth::Role::ProjectAdmin).await;
    let as_padmin = |m: Method, p: &str| app.anon(m, p).basic_auth("padmin", Some("Passw0rd!"));
    let res = as_padmin(Method::POST, "/api/v2.0/robots").json(&body).call().await;
    api_error(res, StatusCode::FORBIDDEN).await;
    let res = as_padmin(Method::GET, &format!("/api/v2.0/robots/{id}")).call().await;
    api_error(res, StatusCode::NOT_FOUND).await;
    let bad = json!({"name": "x", "level": "system", "permissions": [{"kind": "project", "namespace": "nope",
        "access": [{"resource": "repository", "action": "pull"}]}]});
    let res = app.admin(Method::POST, "/api/v2.0/robots").json(&bad).call().await;
    api_error(res, StatusCode::NOT_FOUND).await;

    // Disabled, it is refused; deleted, it is gone.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/robots/{id}"))
        .json(&json!({"disable": true}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.anon(Method::GET, "/v2/").basic_auth(&name, Some(&secret)).call().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.admin(Method::DELETE, &format!("/api/v2.0/robots/{id}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::GET, &format!("/api/v2.0/robots/{id}")).call().await;
    api_error(res, StatusCode::NOT_FOUND).await;
}
