//! `/api/v2.0/usergroups`, groups as project members (`member_group`), the strongest of a
//! user's own and their groups' roles, and `/users/current/permissions`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;
use wharf::db::usergroups;
use wharf::vocab::GroupType;

use crate::support::*;

/// What `user`'s sign-in would record: they are in exactly `groups` (of `group_type`).
async fn sign_in_groups(app: &TestApp, user: i64, group_type: GroupType, groups: &[i64]) {
    let mut tx = app.state.db.begin().await.expect("tx");
    usergroups::set_memberships(&mut tx, user, group_type, groups).await.expect("memberships");
    tx.commit().await.expect("commit");
}

/// The caller's permissions in project `id`, as "resource:action" strings.
async fn permissions(app: &TestApp, user: &str, id: i64) -> Vec<String> {
    let res = app
        .anon(Method::GET, &format!("/api/v2.0/users/current/permissions?scope=/project/{id}&relative=true"))
        .basic_auth(user, Some("Passw0rd1"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let v: Vec<Value> = res.json();
    v.iter()
        .map(|p| format!("{}:{}", p["resource"].as_str().unwrap_or(""), p["action"].as_str().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn groups_grant_their_role_and_the_strongest_role_wins() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.push_image("team/app", "v1").await;
    let project: Value = app.admin(Method::GET, "/api/v2.0/projects/team").call().await.json();
    let pid = project["project_id"].as_i64().expect("id");
    let gina = app.create_user("gina", "Passw0rd1").await;
    let as_gina = |m: Method, p: &str| app.anon(m, p).basic_auth("gina", Some("Passw0rd1"));

    // Groups: created by an administrator, one per type and name.
    let res = app
        .admin(Method::POST, "/api/v2.0/usergroups")
        .json(&json!({"group_name": "crew", "group_type": 2}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let crew = res.created_id();
    for (body, status) in [
        (json!({"group_name": "crew", "group_type": 2}), StatusCode::CONFLICT),
        (json!({"group_name": "x", "group_type": 1}), StatusCode::BAD_REQUEST),
        (json!({"group_name": "x", "group_type": 7}), StatusCode::BAD_REQUEST),
        (json!({"group_name": " ", "group_type": 3}), StatusCode::BAD_REQUEST),
    ] {
        let res = app.admin(Method::POST, "/api/v2.0/usergroups").json(&body).call().await;
        assert_eq!(res.status(), status, "{body}: {}", res.text());
    }
    let res = as_gina(Method::POST, "/api/v2.0/usergroups")
        .json(&json!({"group_name": "mine", "group_type": 2}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.admin(Method::GET, "/api/v2.0/usergroups?page_size=10").call().await;
    assert_eq!(header(&res, "x-total-count"), Some("1"));
    let v: Value = res.json();
    assert_eq!(v, json!([{"id": crew, "group_name": "crew", "group_type": 2, "ldap_group_dn": ""}]));
    assert_eq!(as_gina(Method::GET, "/api/v2.0/usergroups").call().await.status(), StatusCode::FORBIDDEN);
    // Anyone signed in may search (a project admin picks a group to add).
    let v: Value = as_gina(Method::GET, "/api/v2.0/usergroups/search?groupname=cr").call().await.json();
    assert_eq!(v, json!([{"id": crew, "group_name": "crew", "group_type": 2}]));
    assert_eq!(
        app.anon(Method::GET, "/api/v2.0/usergroups/search?groupname=cr").call().await.status(),
        StatusCode::UNAUTHORIZED
    );

    // gina is in crew (as her sign-in would record) but crew is no member yet: she sees nothing.
    sign_in_groups(&app, gina, GroupType::Http, &[crew]).await;
    assert_eq!(as_gina(Method::GET, "/api/v2.0/projects/team").call().await.status(), StatusCode::NOT_FOUND);
    assert!(permissions(&app, "gina", pid).await.is_empty());

    // crew becomes a Developer of the project: gina pulls and pushes, but may not delete.
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/members")
        .json(&json!({"role_id": 2, "member_group": {"id": crew}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let crew_member = header(&res, "location").expect("location").to_owned();
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/members")
        .json(&json!({"role_id": 3, "member_group": {"group_name": "crew", "group_type": 2}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "the same group twice");
    let members: Value = app.admin(Method::GET, "/api/v2.0/projects/team/members").call().await.json();
    let group_row =
        members.as_array().expect("list").iter().find(|m| m["entity_type"] == "g").expect("group");
    assert_eq!(
        (group_row["entity_name"].clone(), group_row["entity_id"].clone(), group_row["role_name"].clone()),
        (json!("crew"), json!(crew), json!("developer"))
    );
    assert_eq!(as_gina(Method::GET, "/v2/team/app/manifests/v1").call().await.status(), StatusCode::OK);
    assert_eq!(
        as_gina(Method::POST, "/v2/team/app/blobs/uploads/").call().await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        as_gina(Method::DELETE, "/v2/team/app/manifests/v1").call().await.status(),
        StatusCode::FORBIDDEN
    );
    let v: Value = as_gina(Method::GET, "/api/v2.0/projects/team").call().await.json();
    assert_eq!(v["current_user_role_id"], 2);
    let granted = permissions(&app, "gina", pid).await;
    assert!(granted.contains(&"repository:push".to_owned()), "{granted:?}");
    assert!(
        !granted.contains(&"repository:delete".to_owned()) && !granted.contains(&"member:create".to_owned())
    );
    let found: Value = as_gina(Method::GET, "/api/v2.0/search?q=app").call().await.json();
    assert_eq!(found["repository"].as_array().map(Vec::len), Some(1), "{found}");

    // Her own, weaker membership does not lower that; a stronger group role raises it.
    app.add_member("team", gina, Role::Guest).await;
    let v: Value = as_gina(Method::GET, "/api/v2.0/projects/team").call().await.json();
    assert_eq!(v["current_user_role_id"], 2, "the strongest of Guest and Developer");
    let res = app.admin(Method::PUT, &crew_member).json(&json!({"role_id": 1})).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(permissions(&app, "gina", pid).await.contains(&"member:create".to_owned()));
    let absolute: Value =
        as_gina(Method::GET, &format!("/api/v2.0/users/current/permissions?scope=/project/{pid}"))
            .call()
            .await
            .json();
    assert!(
        absolute.as_array().expect("list").iter().any(|p| p["resource"] == format!("/project/{pid}/member")),
        "{absolute}"
    );

    // An OIDC group named by name is created when added; an unknown LDAP DN is not.
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/members")
        .json(&json!({"role_id": 3, "member_group": {"group_name": "platform", "group_type": 3}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/team/members")
        .json(&json!({"role_id": 3, "member_group": {"ldap_group_dn": "cn=nobody,dc=example,dc=org"}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "{}", res.text());

    // Renamed, the group keeps its memberships; deleted, they go and gina is a Guest again.
    let res = app
        .admin(Method::PUT, &format!("/api/v2.0/usergroups/{crew}"))
        .json(&json!({"group_name": "crew-renamed"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = app.admin(Method::GET, &format!("/api/v2.0/usergroups/{crew}")).call().await.json();
    assert_eq!(v["group_name"], "crew-renamed");
    assert_eq!(
        app.admin(Method::DELETE, &format!("/api/v2.0/usergroups/{crew}")).call().await.status(),
        StatusCode::OK
    );
    assert_eq!(app.admin(Method::GET, &crew_member).call().await.status(), StatusCode::NOT_FOUND);
    let v: Value = as_gina(Method::GET, "/api/v2.0/projects/team").call().await.json();
    assert_eq!(v["current_user_role_id"], 3);
    assert_eq!(
        as_gina(Method::POST, "/v2/team/app/blobs/uploads/").call().await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.admin(Method::DELETE, &format!("/api/v2.0/usergroups/{crew}")).call().await.status(),
        StatusCode::NOT_FOUND
    );

    // The system scope: administrators manage users and groups; users may create projects.
    let admin: Value = app.admin(Method::GET, "/api/v2.0/users/current/permissions").call().await.json();
    assert!(admin.as_array().expect("list").iter().any(|p| p["resource"] == "/system/user-group"), "{admin}");
    let v: Value =
        as_gina(Method::GET, "/api/v2.0/users/current/permissions?relative=true").call().await.json();
    assert_eq!(v, json!([{"resource": "project", "action": "create"}]));
}
