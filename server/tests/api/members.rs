//! `/api/v2.0/projects/{project}/members`: adding, listing, changing and removing members, and
//! the effect on what they may do.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

#[tokio::test]
async fn project_admins_manage_members_and_roles_take_effect() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.push_image("team/app", "v1").await;
    let padmin = app.create_user("lead", "Passw0rd1").await;
    app.add_member("team", padmin, Role::ProjectAdmin).await;
    app.create_user("dev", "Passw0rd1").await;
    let as_lead = |m: Method, p: &str| app.anon(m, p).basic_auth("lead", Some("Passw0rd1"));
    let as_dev = |m: Method, p: &str| app.anon(m, p).basic_auth("dev", Some("Passw0rd1"));

    assert_eq!(as_dev(Method::GET, "/v2/team/app/manifests/v1").call().await.status(), StatusCode::FORBIDDEN);
    let res = as_lead(Method::POST, "/api/v2.0/projects/team/members")
        .json(&json!({"role_id": 2, "member_user": {"username": "dev"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let member = header(&res, "location").expect("location").to_owned();
    assert_eq!(as_dev(Method::GET, "/v2/team/app/manifests/v1").call().await.status(), StatusCode::OK);
    assert_eq!(
        as_dev(Method::POST, "/v2/team/app/blobs/uploads/").call().await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        as_dev(Method::DELETE, "/v2/team/app/manifests/v1").call().await.status(),
        StatusCode::FORBIDDEN
    );

    let res = as_dev(Method::GET, "/api/v2.0/projects/team/members?page_size=1").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("2"));
    let v: Value = res.json();
    assert_eq!(v[0]["entity_name"], "dev");
    assert_eq!(
        (v[0]["role_id"].clone(), v[0]["role_name"].clone(), v[0]["entity_type"].clone()),
        (json!(2), json!("developer"), json!("u"))
    );
    let v: Value = as_dev(Method::GET, "/api/v2.0/projects/team/members?entityname=lea").call().await.json();
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["entity_name"], "lead");

    // A developer may not manage members.
    let res = as_dev(Method::PUT, &member).json(&json!({"role_id": 1})).call().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Promoted to Maintainer, the member may delete.
    assert_eq!(
        as_lead(Method::PUT, &member).json(&json!({"role_id": 4})).call().await.status(),
        StatusCode::OK
    );
    let v: Value = as_lead(Method::GET, &member).call().await.json();
    assert_eq!(v["role_name"], "maintainer");
    assert_eq!(
        as_dev(Method::DELETE, "/v2/team/app/manifests/v1").call().await.status(),
        StatusCode::ACCEPTED
    );
    // Removed, the user sees nothing of the private project.
    assert_eq!(as_lead(Method::DELETE, &member).call().await.status(), StatusCode::OK);
    assert_eq!(as_dev(Method::GET, "/api/v2.0/projects/team").call().await.status(), StatusCode::NOT_FOUND);
    assert_eq!(as_dev(Method::GET, "/v2/team/app/tags/list").call().await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_member_requests_get_clear_errors() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let uid = app.create_user("dev", "Passw0rd1").await;
    let add = |body: Value| app.admin(Method::POST, "/api/v2.0/projects/team/members").json(&body).call();
    assert_eq!(
        add(json!({"role_id": 2, "member_user": {"user_id": uid}})).await.status(),
        StatusCode::CREATED
    );
    let codes = [
        (json!({"role_id": 2, "member_user": {"username": "dev"}}), StatusCode::CONFLICT),
        (json!({"role_id": 2, "member_user": {"username": "ghost"}}), StatusCode::NOT_FOUND),
        (json!({"role_id": 9, "member_user": {"username": "admin"}}), StatusCode::BAD_REQUEST),
        (json!({"role_id": 2}), StatusCode::BAD_REQUEST),
        (json!({"role_id": 2, "member_user": {}}), StatusCode::BAD_REQUEST),
    ];
    for (body, status) in codes {
        let res = add(body.clone()).await;
        assert_eq!(res.status(), status, "{body}");
        let v: Value = res.json();
        assert!(v["errors"][0]["message"].is_string(), "{v}");
    }
    let res = app.admin(Method::DELETE, "/api/v2.0/projects/team/members/999").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Limited guests may not list members; guests may.
    let lg = app.create_user("lg", "Passw0rd1").await;
    app.add_member("team", lg, Role::LimitedGuest).await;
    let g = app.create_user("g", "Passw0rd1").await;
    app.add_member("team", g, Role::Guest).await;
    let list = |u: &'static str| {
        app.anon(Method::GET, "/api/v2.0/projects/team/members").basic_auth(u, Some("Passw0rd1")).call()
    };
    assert_eq!(list("lg").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(list("g").await.status(), StatusCode::OK);
}
