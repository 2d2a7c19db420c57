//! Robot accounts: created by project admins, limited to their project and permissions, refused
//! when disabled, expired or after their secret changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

fn body(project: &str, name: &str, actions: &[&str]) -> Value {
    let access: Vec<Value> = actions.iter().map(|a| json!({"resource": "repository", "action": a})).collect();
    json!({"name": name, "description": "CI", "duration": -1, "level": "project", "disable": false,
           "permissions": [{"kind": "project", "namespace": project, "access": access}]})
}

async fn ping(app: &TestApp, user: &str, secret: &str) -> StatusCode {
    app.anon(Method::GET, "/v2/").basic_auth(user, Some(secret)).call().await.status()
}

#[tokio::test]
async fn robots_push_within_their_grants_and_project_only() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.create_project("other", false).await;
    app.push_image("other/app", "v1").await;
    let lead = app.create_user("lead", "Passw0rd1").await;
    app.add_member("team", lead, Role::ProjectAdmin).await;
    let dev = app.create_user("dev", "Passw0rd1").await;
    app.add_member("team", dev, Role::Developer).await;

    let res = app
        .anon(Method::POST, "/api/v2.0/robots")
        .basic_auth("dev", Some("Passw0rd1"))
        .json(&body("team", "ci", &["pull"]))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "only project admins manage robots");
    let res = app
        .anon(Method::POST, "/api/v2.0/robots")
        .basic_auth("lead", Some("Passw0rd1"))
        .json(&body("team", "ci", &["pull", "push"]))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json();
    let (name, secret, id) = (
        created["name"].as_str().expect("name").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
        created["id"].clone(),
    );
    assert_eq!(name, "robot$team+ci");
    assert_eq!(created["expires_at"], -1);

    let as_robot = |m: Method, p: &str| app.anon(m, p).basic_auth(&name, Some(&secret));
    assert_eq!(as_robot(Method::GET, "/v2/").call().await.status(), StatusCode::OK);
    assert_eq!(
        as_robot(Method::POST, "/v2/team/app/blobs/uploads/").call().await.status(),
        StatusCode::ACCEPTED
    );
    app.push_image("team/app", "v1").await;
    assert_eq!(as_robot(Method::GET, "/v2/team/app/manifests/v1").call().await.status(), StatusCode::OK);
    assert_eq!(
        as_robot(Method::DELETE, "/v2/team/app/manifests/v1").call().await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_robot(Method::GET, "/v2/other/app/manifests/v1").call().await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(as_robot(Method::GET, "/api/v2.0/users/current").call().await.status(), StatusCode::FORBIDDEN);
    // Through tokens too.
    let v: Value =
        as_robot(Method::GET, "/service/token?service=wharf&scope=repository:team/app:pull,push,delete")
            .call()
            .await
            .json();
    let token = v["token"].as_str().expect("token").to_owned();
    let res = app.anon(Method::DELETE, "/v2/team/app/manifests/v1").bearer_auth(&token).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.anon(Method::GET, "/v2/team/app/manifests/v1").bearer_auth(&token).call().await;
    assert_eq!(res.status(), StatusCode::OK);

    // The secret is shown once: never in reads.
    let path = format!("/api/v2.0/robots/{id}");
    let v: Value = app.anon(Method::GET, &path).basic_auth("lead", Some("Passw0rd1")).call().await.json();
    assert!(v.get("secret").is_none(), "{v}");
    assert_eq!(v["permissions"][0]["namespace"], "team");
    let team: Value = app.admin(Method::GET, "/api/v2.0/projects/team").call().await.json();
    let pid = team["project_id"].as_i64().expect("project id");
    let list: Value = app
        .admin(Method::GET, &format!("/api/v2.0/robots?q=Level%3Dproject%2CProjectID%3D{pid}"))
        .call()
        .await
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}

#[tokio::test]
async fn disabled_expired_and_refreshed_robots_are_refused() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let res = app.admin(Method::POST, "/api/v2.0/robots").json(&body("team", "ci", &["pull"])).call().await;
    let created: Value = res.json();
    let (name, secret, id) = (
        created["name"].as_str().expect("name").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
        created["id"].as_i64().expect("id"),
    );
    assert_eq!(ping(&app, &name, &secret).await, StatusCode::OK);
    let path = format!("/api/v2.0/robots/{id}");

    assert_eq!(
        app.admin(Method::PUT, &path).json(&json!({"disable": true})).call().await.status(),
        StatusCode::OK
    );
    assert_eq!(ping(&app, &name, &secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.admin(Method::PUT, &path).json(&json!({"disable": false})).call().await.status(),
        StatusCode::OK
    );
    assert_eq!(ping(&app, &name, &secret).await, StatusCode::OK);

    let v: Value = app.admin(Method::PATCH, &path).json(&json!({"secret": ""})).call().await.json();
    let fresh = v["secret"].as_str().expect("secret").to_owned();
    assert_eq!(ping(&app, &name, &secret).await, StatusCode::UNAUTHORIZED, "the old secret stops at once");
    assert_eq!(ping(&app, &name, &fresh).await, StatusCode::OK);

    sqlx::query("UPDATE robots SET expires_at = 1 WHERE id = $1")
        .bind(id)
        .execute(app.state.db.writer())
        .await
        .expect("expire");
    assert_eq!(ping(&app, &name, &fresh).await, StatusCode::UNAUTHORIZED, "expired");

    for bad in [
        body("team", "Bad Name", &["pull"]),
        body("team", "x", &[]),
        body("team", "x", &["admin"]),
        body("nosuch", "x", &["pull"]),
    ] {
        let res = app.admin(Method::POST, "/api/v2.0/robots").json(&bad).call().await;
        assert!(
            res.status() == StatusCode::BAD_REQUEST || res.status() == StatusCode::NOT_FOUND,
            "{bad}: {}",
            res.status()
        );
    }
    assert_eq!(app.admin(Method::DELETE, &path).call().await.status(), StatusCode::OK);
    assert_eq!(app.admin(Method::GET, &path).call().await.status(), StatusCode::NOT_FOUND);
}
