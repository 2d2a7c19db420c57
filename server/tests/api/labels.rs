//! Labels: Harbor's `/api/v2.0/labels` and artifact labels, with who may do what, and the
//! artifact listing's `q=labels=` filter.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;

use crate::support::*;

async fn project_id(app: &TestApp, name: &str) -> i64 {
    app.admin(Method::GET, &format!("/api/v2.0/projects/{name}"))
        .header("x-is-resource-name", "true")
        .call()
        .await
        .json::<Value>()["project_id"]
        .as_i64()
        .expect("id")
}

#[tokio::test]
async fn global_and_project_labels_go_on_artifacts_and_filter_the_listing() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.create_project("other", false).await;
    let pid = project_id(&app, "team").await;
    let other = project_id(&app, "other").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "prod", "color": "#ff0000", "scope": "g"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let prod = res.created_id();
    let res =
        app.admin(Method::POST, "/api/v2.0/labels").json(&json!({"name": "prod", "scope": "g"})).call().await;
    expect_error(res, StatusCode::CONFLICT, "CONFLICT").await;
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "x", "color": "red", "scope": "g"}))
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Maintainers make project labels; developers may not, but may label artifacts.
    let maintainer = app.as_member("team", Role::Maintainer).await;
    let res = maintainer
        .post(
            "/api/v2.0/labels",
            &json!({"name": "qa-ok", "color": "#00aa00", "scope": "p", "project_id": pid}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let qa = res.created_id();
    let developer = app.as_member("team", Role::Developer).await;
    let res = developer
        .post("/api/v2.0/labels", &json!({"name": "dev-made", "scope": "p", "project_id": pid}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        developer.post("/api/v2.0/labels", &json!({"name": "g2", "scope": "g"})).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "theirs", "scope": "p", "project_id": other}))
        .call()
        .await;
    let theirs = res.created_id();

    let (d1, _, _) = app.push_image("team/app", "v1").await;
    let (d2, _, _) = app.push_image("team/app", "v2").await;
    let art = "/api/v2.0/projects/team/repositories/app/artifacts";
    for (reference, label) in [(&d1, prod), (&d1, qa), (&d2, prod)] {
        let res = developer.post(&format!("{art}/{reference}/labels"), &json!({"id": label})).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    }
    let res = developer.post(&format!("{art}/{d1}/labels"), &json!({"id": prod})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a label goes on once");
    let res = developer.post(&format!("{art}/{d1}/labels"), &json!({"id": theirs})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "another project's label");
    let guest = app.as_member("team", Role::Guest).await;
    assert_eq!(
        guest.post(&format!("{art}/{d2}/labels"), &json!({"id": qa})).await.status(),
        StatusCode::FORBIDDEN
    );

    // The listing shows them, and filters on all the labels asked for.
    let a: Value = app.admin(Method::GET, &format!("{art}/{d1}")).call().await.json();
    let names: Vec<&str> =
        a["labels"].as_array().expect("labels").iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(names, vec!["prod", "qa-ok"]);
    assert_eq!(a["labels"][0]["color"], "#ff0000");
    let both = app.admin(Method::GET, &format!("{art}?q=labels%3D%28{prod}%20{qa}%29")).call().await;
    assert_eq!(header(&both, "x-total-count"), Some("1"));
    assert_eq!(both.json::<Value>()[0]["digest"], d1.as_str());
    let any_prod = app.admin(Method::GET, &format!("{art}?q=labels%3D{prod}")).call().await;
    assert_eq!(header(&any_prod, "x-total-count"), Some("2"));
    let res = app.admin(Method::GET, &format!("{art}?q=labels%3Dprod")).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Lists by scope; off again; deleting a label takes it off everything.
    let list: Value = developer.get(&format!("/api/v2.0/labels?scope=p&project_id={pid}")).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let globals: Value = developer.get("/api/v2.0/labels?scope=g").await.json();
    assert_eq!(globals[0]["name"], "prod");
    assert_eq!(app.anonymous().get("/api/v2.0/labels?scope=g").await.status(), StatusCode::UNAUTHORIZED);
    let res = developer.delete(&format!("{art}/{d1}/labels/{qa}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = developer.delete(&format!("{art}/{d1}/labels/{qa}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = maintainer
        .send_json(
            Method::PUT,
            &format!("/api/v2.0/labels/{qa}"),
            &json!({"name": "qa-passed", "color": "#00bb00"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(maintainer.delete(&format!("/api/v2.0/labels/{prod}")).await.status(), StatusCode::FORBIDDEN);
    app.admin(Method::DELETE, &format!("/api/v2.0/labels/{prod}")).call().await.expect(StatusCode::OK);
    let a: Value = app.admin(Method::GET, &format!("{art}/{d2}")).call().await.json();
    assert_eq!(a["labels"], json!([]));
}
