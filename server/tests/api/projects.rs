//! `/api/v2.0/projects`: Harbor's shapes, visibility, roles and pagination.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn api_error(res: Answer, status: StatusCode, code: &str) {
    assert_eq!(res.status(), status);
    let v: Value = res.json();
    assert_eq!(v["errors"][0]["code"], code, "{v}");
    assert_eq!(v["status"], status.as_u16(), "problem details: {v}");
    assert!(v["detail"].is_string());
}

async fn names(res: Answer) -> Vec<String> {
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json();
    v.as_array().expect("array").iter().map(|p| p["name"].as_str().expect("name").to_owned()).collect()
}

#[tokio::test]
async fn create_check_and_conflicts() {
    let app = TestApp::start().await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects")
        .json(&json!({"project_name": "team", "metadata": {"public": "false"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header(&res, "location").expect("location").to_owned();
    let v: Value = app.admin(Method::GET, &location).call().await.json();
    assert_eq!(v["name"], "team");
    assert_eq!(v["metadata"]["public"], "false");
    assert_eq!(v["owner_name"], "admin");
    assert_eq!(v["current_user_role_id"], 1, "the creator is ProjectAdmin");
    assert!(v["creation_time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let res =
        app.admin(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": "team"})).call().await;
    api_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    for bad in ["Team", "a..b", "-x", "", "x/y"] {
        let res =
            app.admin(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": bad})).call().await;
        api_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
    let res =
        app.anon(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": "anon"})).call().await;
    api_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.admin(Method::HEAD, "/api/v2.0/projects?project_name=team").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::HEAD, "/api/v2.0/projects?project_name=nope").call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Anonymous callers do not learn that a (possibly private) project exists.
    let res = app.anon(Method::HEAD, "/api/v2.0/projects?project_name=team").call().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn listing_shows_what_the_caller_may_see_with_pagination() {
    let app = TestApp::start().await;
    for (name, public) in [("alpha", true), ("beta", false), ("gamma", false), ("delta", true)] {
        let res = app
            .admin(Method::POST, "/api/v2.0/projects")
            .json(&json!({"project_name": name, "metadata": {"public": public.to_string()}}))
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let uid = app.create_user("dev", "Passw0rd1").await;
    app.add_member("gamma", uid, wharf::auth::Role::Developer).await;
    let as_dev = |p: &str| app.anon(Method::GET, p).basic_auth("dev", Some("Passw0rd1"));

    assert_eq!(
        names(app.anon(Method::GET, "/api/v2.0/projects").call().await).await,
        ["alpha", "delta", "library"]
    );
    assert_eq!(
        names(as_dev("/api/v2.0/projects").call().await).await,
        ["alpha", "delta", "gamma", "library"]
    );
    assert_eq!(
        names(app.admin(Method::GET, "/api/v2.0/projects").call().await).await,
        ["alpha", "beta", "delta", "gamma", "library"]
    );
    let res = app.admin(Method::GET, "/api/v2.0/projects?page=2&page_size=2").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("5"));
    let link = header(&res, "link").expect("link").to_owned();
    assert!(
        link.contains("page=1&page_size=2>; rel=\"prev\"")
            && link.contains("page=3&page_size=2>; rel=\"next\""),
        "{link}"
    );
    assert_eq!(names(res).await, ["delta", "gamma"]);
    assert_eq!(names(app.admin(Method::GET, "/api/v2.0/projects?name=lt").call().await).await, ["delta"]);
    assert_eq!(
        names(app.admin(Method::GET, "/api/v2.0/projects?q=name%3D~amm").call().await).await,
        ["gamma"]
    );
    assert_eq!(
        names(app.admin(Method::GET, "/api/v2.0/projects?q=name%3Dbeta").call().await).await,
        ["beta"]
    );
    assert_eq!(
        names(app.admin(Method::GET, "/api/v2.0/projects?public=false").call().await).await,
        ["beta", "gamma"]
    );
    // A `%` in a filter is a character, not a wildcard.
    assert!(names(app.admin(Method::GET, "/api/v2.0/projects?name=%25").call().await).await.is_empty());
    let v: Value = as_dev("/api/v2.0/projects?name=gamma").call().await.json();
    assert_eq!(v[0]["current_user_role_id"], 2);
}

#[tokio::test]
async fn read_update_and_delete_follow_the_roles() {
    let app = TestApp::start().await;
    app.create_user("owner", "Passw0rd1").await;
    let as_owner = |m: Method, p: &str| app.anon(m, p).basic_auth("owner", Some("Passw0rd1"));
    // Any signed-in user may create a project and becomes its ProjectAdmin.
    let res =
        as_owner(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": "mine"})).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = header(&res, "location").expect("location").rsplit('/').next().expect("id").to_owned();
    let res = as_owner(Method::GET, &format!("/api/v2.0/projects/{id}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = as_owner(Method::GET, "/api/v2.0/projects/mine").call().await;
    assert_eq!(res.status(), StatusCode::OK);
    // The creator can push through the registry right away.
    let res = as_owner(Method::POST, "/v2/mine/app/blobs/uploads/").call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    let dev = app.create_user("dev", "Passw0rd1").await;
    app.add_member("mine", dev, wharf::auth::Role::Developer).await;
    app.create_user("stranger", "Passw0rd1").await;
    let as_dev = |m: Method, p: &str| app.anon(m, p).basic_auth("dev", Some("Passw0rd1"));
    let as_stranger = |m: Method, p: &str| app.anon(m, p).basic_auth("stranger", Some("Passw0rd1"));
    // Private projects are invisible to non-members.
    api_error(
        as_stranger(Method::GET, "/api/v2.0/projects/mine").call().await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    api_error(
        app.anon(Method::GET, "/api/v2.0/projects/mine").call().await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(as_dev(Method::GET, "/api/v2.0/projects/mine").call().await.status(), StatusCode::OK);
    // Only the ProjectAdmin (or a system admin) changes settings and deletes.
    let public = json!({"metadata": {"public": "true"}});
    api_error(
        as_dev(Method::PUT, "/api/v2.0/projects/mine").json(&public).call().await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_eq!(
        as_owner(Method::PUT, "/api/v2.0/projects/mine").json(&public).call().await.status(),
        StatusCode::OK
    );
    assert_eq!(
        as_stranger(Method::GET, "/api/v2.0/projects/mine").call().await.status(),
        StatusCode::OK,
        "public now"
    );
    api_error(
        as_dev(Method::DELETE, "/api/v2.0/projects/mine").call().await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    // A project with repositories is not deleted.
    app.push_image("mine/app", "v1").await;
    api_error(
        as_owner(Method::DELETE, "/api/v2.0/projects/mine").call().await,
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION",
    )
    .await;
    let res =
        as_owner(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": "empty"})).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(as_owner(Method::DELETE, "/api/v2.0/projects/empty").call().await.status(), StatusCode::OK);
    api_error(
        as_owner(Method::GET, "/api/v2.0/projects/empty").call().await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // A numeric name is reachable with X-Is-Resource-Name.
    let res =
        app.admin(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": "2024"})).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res =
        app.admin(Method::GET, "/api/v2.0/projects/2024").header("x-is-resource-name", "true").call().await;
    let v: Value = res.json();
    assert_eq!(v["name"], "2024");
}

#[tokio::test]
async fn malformed_bodies_get_the_api_error_format() {
    let app = TestApp::start().await;
    let bad = [
        app.admin(Method::POST, "/api/v2.0/projects")
            .header("content-type", "application/json")
            .body("{not json"),
        app.admin(Method::POST, "/api/v2.0/projects").body(r#"{"project_name":"x"}"#),
        app.admin(Method::POST, "/api/v2.0/projects").json(&json!({"project_name": 42})),
        app.admin(Method::PUT, "/api/v2.0/users/1/password").json(&json!({"old_password": "x"})),
    ];
    for req in bad {
        api_error(req.call().await, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    }
}

#[tokio::test]
async fn a_guest_reads_its_private_project_but_cannot_delete_it() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let guest = app.as_member("team", wharf::auth::Role::Guest).await;
    let project: Value = guest.get("/api/v2.0/projects/team").await.expect(StatusCode::OK).json();
    assert_eq!(project["name"], "team");
    guest.delete("/api/v2.0/projects/team").await.expect(StatusCode::FORBIDDEN);
    app.as_admin().get("/api/v2.0/projects/team").await.expect(StatusCode::OK);
}
