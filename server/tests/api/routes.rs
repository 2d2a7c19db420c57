//! Every route, as every kind of caller. The routes come from the server itself (the API router's
//! source, the registry's `Route` enum, the portal's registered server functions), so a new route
//! without an entry here fails this test, and a route answering a caller it should refuse, or
//! showing a private project's content to someone outside it, fails it too.
//!
//! Callers walk against one private project holding an image, a second tag, a robot, a member
//! and a retention policy. Refused callers must get 401/403/404 (an error from server
//! functions) and change nothing; allowed ones must not be refused (their mutating calls are not
//! sent, so the fixture survives). Callers outside the project must never see its markers.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::auth::Role;
use wharf::registry::route::Route;

use crate::support::*;

const PASSWORD: &str = "Walk3r-pass";
/// The walker's caller whose role comes through a user group.
const GROUP_DEVELOPER: &str = "group-developer";

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    /// Anyone, signed in or not (answers are filtered by what the caller may see).
    Open,
    /// Any signed-in user.
    SignedIn,
    /// A system administrator.
    Admin,
    /// At least this in the private project (Harbor's matrix).
    Project(Act),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Read,
    ListMembers,
    Push,
    Delete,
    Retention,
    ProjectAdmin,
}

fn role_may(role: Role, act: Act) -> bool {
    match act {
        Act::Read => true,
        Act::ListMembers => role != Role::LimitedGuest,
        Act::Push | Act::Retention => matches!(role, Role::Developer | Role::Maintainer | Role::ProjectAdmin),
        Act::Delete => matches!(role, Role::Maintainer | Role::ProjectAdmin),
        Act::ProjectAdmin => role == Role::ProjectAdmin,
    }
}

struct Caller {
    name: &'static str,
    role: Option<Role>,
    signed_in: bool,
    admin: bool,
    cookie: Option<String>,
    csrf: Option<String>,
    /// What the caller sends as its password (an OIDC user's CLI secret).
    secret: String,
}

impl Caller {
    fn may(&self, need: Need) -> bool {
        match need {
            Need::Open => true,
            Need::SignedIn => self.signed_in,
            Need::Admin => self.admin,
            Need::Project(act) => self.admin || self.role.is_some_and(|r| role_may(r, act)),
        }
    }

    fn sees_project(&self) -> bool {
        self.admin || self.role.is_some()
    }

    fn request(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = app.anon(method, path);
        if self.signed_in { req.basic_auth(self.name, Some(&self.secret)) } else { req }
    }
}

/// The private project's content, which no outsider may see in any answer.
struct Fixture {
    layer: String,
    digest: String,
    robot_id: i64,
    member_id: i64,
    retention_id: i64,
    execution_id: i64,
    task_id: i64,
    gc_id: i64,
    admin_id: i64,
    project_id: i64,
    upload: String,
    registry_id: i64,
    policy_id: i64,
    replication_id: i64,
    replication_task: i64,
    immutable_rule: i64,
    hook: i64,
    hook_execution: i64,
    hook_task: i64,
    purge_id: i64,
    label_id: i64,
    group_id: i64,
    markers: Vec<String>,
}

async fn json_of(res: Answer) -> Value {
    assert!(res.status().is_success(), "{}: {}", "answer", res.status());
    res.json()
}

async fn fixture(app: &TestApp) -> Fixture {
    app.create_project("hush", false).await;
    // A real filesystem layer, so looking inside answers whoever may pull.
    let config = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let tar = tar_gz(&[("vault/quiet", b"walker")]);
    let (digest, layers) = app.push_layers("hush/vault", "v1", config, &[(tar, LAYER_GZIP)]).await;
    let layer = layers[0].clone();
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/projects/hush/repositories/vault/artifacts/{digest}/tags"))
        .json(&json!({"name": "quiet-tag-91"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let project_id =
        json_of(app.admin(Method::GET, "/api/v2.0/projects/hush").call().await).await["project_id"]
            .as_i64()
            .expect("id");
    let robot = json_of(
        app.admin(Method::POST, "/api/v2.0/robots")
            .json(&json!({"name": "mole-91", "duration": -1, "level": "project",
                "permissions": [{"kind": "project", "namespace": "hush",
                                 "access": [{"resource": "repository", "action": "pull"}]}]}))
            .call()
            .await,
    )
    .await;
    let rule = json!({"disabled": false, "action": "retain", "template": "latestPushedK",
        "params": {"latestPushedK": 5},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "keep-91-**"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}});
    let res = app
        .admin(Method::POST, "/api/v2.0/retentions")
        .json(&json!({"algorithm": "or", "rules": [rule], "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
                      "scope": {"level": "project", "ref": project_id}}))
        .call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let retention_id: i64 =
        header(&res, "location").and_then(|l| l.rsplit('/').next()?.parse().ok()).expect("id");
    let res = app
        .admin(Method::POST, &format!("/api/v2.0/retentions/{retention_id}/executions"))
        .json(&json!({"dry_run": true}))
        .call()
        .await;
    let execution_id: i64 =
        header(&res, "location").and_then(|l| l.rsplit('/').next()?.parse().ok()).expect("eid");
    let mut tasks = Value::Null;
    for _ in 0..200 {
        tasks = json_of(
            app.admin(
                Method::GET,
                &format!("/api/v2.0/retentions/{retention_id}/executions/{execution_id}/tasks"),
            )
            .call()
            .await,
        )
        .await;
        if tasks.as_array().is_some_and(|t| !t.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let task_id = tasks[0]["id"].as_i64().expect("task");
    let res = app
        .admin(Method::POST, "/api/v2.0/system/gc/schedule")
        .json(&json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}}))
        .call()
        .await;
    let gc_id: i64 =
        header(&res, "location").and_then(|l| l.rsplit('/').next()?.parse().ok()).expect("gc id");
    let admin_id = json_of(app.admin(Method::GET, "/api/v2.0/users/current").call().await).await["user_id"]
        .as_i64()
        .expect("admin id");
    let res = app.admin(Method::POST, "/v2/hush/vault/blobs/uploads/").call().await;
    let upload = header(&res, "location").expect("location").rsplit('/').next().expect("id").to_owned();
    let insider = app.create_user("insider-91", PASSWORD).await;
    app.add_member("hush", insider, Role::Guest).await;
    let members = json_of(app.admin(Method::GET, "/api/v2.0/projects/hush/members").call().await).await;
    let member_id = members
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["entity_name"] == "insider-91")
        .and_then(|m| m["id"].as_i64())
        .expect("member id");
    let res = app
        .admin(Method::POST, "/api/v2.0/registries")
        .json(&json!({"name": "peer-91", "url": app.base, "type": "harbor",
                      "credential": {"access_key": "admin", "access_secret": ADMIN_PASSWORD}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let registry_id: i64 = res.created_id();
    // A policy replicating the project onto itself: one task, which finds the artifact there.
    let res = app
        .admin(Method::POST, "/api/v2.0/replication/policies")
        .json(&json!({"name": "loop-91", "dest_registry": {"id": registry_id}, "dest_namespace": "hush",
                      "dest_namespace_replace_count": 1, "filters": [{"type": "name", "value": "hush/vault"}]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let policy_id: i64 = res.created_id();
    let run = app.state.replication.run_now(policy_id).await.expect("replication");
    assert_eq!((run.total, run.failed), (2, 0), "{run:?}");
    let tasks: Vec<Value> = json_of(
        app.admin(Method::GET, &format!("/api/v2.0/replication/executions/{}/tasks", run.id)).call().await,
    )
    .await
    .as_array()
    .cloned()
    .expect("tasks");
    let replication_task = tasks[0]["id"].as_i64().expect("task id");
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/hush/immutabletagrules")
        .json(&json!({"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "frozen-91-*"}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let immutable_rule: i64 = res.created_id();
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/hush/webhook/policies")
        .json(&json!({"name": "hook-91", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": "http://127.0.0.1:9/hook-91", "auth_header": "Bearer hook-secret-91"}]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let hook: i64 = res.created_id();
    let mut tx = app.state.db.begin().await.expect("tx");
    wharf::db::webhooks::record(
        &mut tx,
        app.state.db.backend(),
        project_id,
        "PUSH_ARTIFACT",
        r#"{"type":"PUSH_ARTIFACT","event_data":{}}"#,
    )
    .await
    .expect("event");
    tx.commit().await.expect("commit");
    let (hook_execution, hook_task): (i64, i64) =
        sqlx::query_as("SELECT execution_id, id FROM webhook_tasks WHERE policy_id = $1")
            .bind(hook)
            .fetch_one(app.state.db.reader())
            .await
            .expect("task");
    let purge = wharf::purge::PurgeParams {
        audit_retention_hour: 800_000,
        include_operations: String::new(),
        dry_run: true,
    };
    let purge_id = app.state.purge.run_now(wharf::vocab::Trigger::Manual, purge).await.expect("purge").id;
    let res = app
        .admin(Method::POST, "/api/v2.0/labels")
        .json(&json!({"name": "label-91", "scope": "p", "project_id": project_id}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let label_id = res.created_id();
    let res = app
        .admin(Method::POST, "/api/v2.0/usergroups")
        .json(&json!({"group_name": "crew-91", "group_type": 2}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let group_id = res.created_id();
    Fixture {
        label_id,
        group_id,
        purge_id,
        immutable_rule,
        hook,
        hook_execution,
        hook_task,
        registry_id,
        policy_id,
        replication_id: run.id,
        replication_task,
        markers: vec![
            layer.clone(),
            digest.clone(),
            "quiet-tag-91".into(),
            "mole-91".into(),
            "keep-91-".into(),
            "frozen-91-".into(),
            "hook-91".into(),
            "label-91".into(),
            "hook-secret-91".into(),
            "insider-91".into(),
            "hush/vault".into(),
        ],
        layer,
        digest,
        robot_id: robot["id"].as_i64().expect("robot id"),
        member_id,
        retention_id,
        execution_id,
        task_id,
        gc_id,
        admin_id,
        project_id,
        upload,
    }
}

/// The API router's routes as (method, template), read from its source.
fn api_routes() -> BTreeSet<(String, String)> {
    // The router is built from the same annotations as the document: its operations are the
    // routes (plus the catch-all that answers unknown API paths).
    let mut out: BTreeSet<(String, String)> = wharf::api::document()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let ops = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
                ("HEAD", item.head.is_some()),
            ];
            ops.into_iter().filter(|(_, on)| *on).map(move |(m, _)| (m.to_owned(), path.clone()))
        })
        .collect();
    out.insert(("ANY".into(), "/api/{*rest}".into()));
    out
}

/// Every API route: what it needs, and a concrete path and body in the fixture.
fn api_table(f: &Fixture) -> Vec<(&'static str, &'static str, Need, String, Option<Value>)> {
    use Act::*;
    use Need::*;
    let (r, e, t, d) = (f.retention_id, f.execution_id, f.task_id, &f.digest);
    let art = "/api/v2.0/projects/hush/repositories/vault/artifacts";
    vec![
        ("GET", "/api/v2.0/health", Open, "/api/v2.0/health".into(), None),
        ("GET", "/api/v2.0/ping", Open, "/api/v2.0/ping".into(), None),
        ("ANY", "/api/{*rest}", Open, "/api/nothing/here".into(), None),
        ("GET", "/api/v2.0/systeminfo", Open, "/api/v2.0/systeminfo".into(), None),
        ("GET", "/api/v2.0/openapi.json", Open, "/api/v2.0/openapi.json".into(), None),
        ("GET", "/api/v2.0/audit-logs", Admin, "/api/v2.0/audit-logs".into(), None),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/logs",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/logs".into(),
            None,
        ),
        ("GET", "/api/v2.0/search", Open, "/api/v2.0/search?q=vault".into(), None),
        ("GET", "/api/v2.0/system/gc", Admin, "/api/v2.0/system/gc".into(), None),
        ("GET", "/api/v2.0/system/gc/schedule", Admin, "/api/v2.0/system/gc/schedule".into(), None),
        (
            "POST",
            "/api/v2.0/system/gc/schedule",
            Admin,
            "/api/v2.0/system/gc/schedule".into(),
            Some(json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}})),
        ),
        (
            "PUT",
            "/api/v2.0/system/gc/schedule",
            Admin,
            "/api/v2.0/system/gc/schedule".into(),
            Some(json!({"schedule": {"type": "None"}})),
        ),
        ("GET", "/api/v2.0/system/gc/{gc_id}", Admin, format!("/api/v2.0/system/gc/{}", f.gc_id), None),
        ("PUT", "/api/v2.0/system/gc/{gc_id}", Admin, format!("/api/v2.0/system/gc/{}", f.gc_id), None),
        (
            "GET",
            "/api/v2.0/system/gc/{gc_id}/log",
            Admin,
            format!("/api/v2.0/system/gc/{}/log", f.gc_id),
            None,
        ),
        ("GET", "/api/v2.0/projects", Open, "/api/v2.0/projects".into(), None),
        (
            "POST",
            "/api/v2.0/projects",
            SignedIn,
            "/api/v2.0/projects".into(),
            Some(json!({"project_name": "walker-new"})),
        ),
        ("HEAD", "/api/v2.0/projects", SignedIn, "/api/v2.0/projects?project_name=hush".into(), None),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}",
            Project(Read),
            "/api/v2.0/projects/hush".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/metadatas",
            Project(Read),
            "/api/v2.0/projects/hush/metadatas".into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name_or_id}/metadatas",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/metadatas".into(),
            Some(json!({"public": "true"})),
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
            Project(Read),
            "/api/v2.0/projects/hush/metadatas/public".into(),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/metadatas/public".into(),
            Some(json!({"public": "true"})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/metadatas/public".into(),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/projects/{project_name_or_id}",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush".into(),
            Some(json!({"metadata": {"public": "true"}})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name_or_id}",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories",
            Project(Read),
            "/api/v2.0/projects/hush/repositories".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
            Project(Read),
            "/api/v2.0/projects/hush/repositories/vault".into(),
            None,
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}",
            Project(Delete),
            "/api/v2.0/projects/hush/repositories/vault".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
            Project(Read),
            art.into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts",
            Project(Push),
            format!("{art}?from=hush/vault@{d}"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
            Project(Read),
            format!("{art}/v1"),
            None,
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}",
            Project(Delete),
            format!("{art}/{d}"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/layers",
            Project(Read),
            format!("{art}/v1/layers"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/layers/{digest}/files",
            Project(Read),
            format!("{art}/v1/layers/{}/files", f.layer),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/filesystem",
            Project(Read),
            format!("{art}/v1/filesystem"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/compare",
            Project(Read),
            format!("{art}/v1/compare?with={d}"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
            Project(Read),
            format!("{art}/v1/tags"),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags",
            Project(Push),
            format!("{art}/v1/tags"),
            Some(json!({"name": "walker-tag"})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
            Project(Delete),
            format!("{art}/v1/tags/v1"),
            None,
        ),
        (
            "POST",
            "/api/v2.0/retentions",
            Project(Retention),
            "/api/v2.0/retentions".into(),
            Some(
                json!({"algorithm": "or", "rules": [], "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
                        "scope": {"level": "project", "ref": 1}}),
            ),
        ),
        ("GET", "/api/v2.0/retentions/metadatas", SignedIn, "/api/v2.0/retentions/metadatas".into(), None),
        ("GET", "/api/v2.0/retentions/{id}", Project(Retention), format!("/api/v2.0/retentions/{r}"), None),
        (
            "PUT",
            "/api/v2.0/retentions/{id}",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}"),
            Some(
                json!({"algorithm": "or", "rules": [], "trigger": {"kind": "Schedule", "settings": {"cron": ""}}}),
            ),
        ),
        (
            "DELETE",
            "/api/v2.0/retentions/{id}",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/retentions/{id}/executions",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}/executions"),
            None,
        ),
        (
            "POST",
            "/api/v2.0/retentions/{id}/executions",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}/executions"),
            Some(json!({"dry_run": true})),
        ),
        (
            "PATCH",
            "/api/v2.0/retentions/{id}/executions/{eid}",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}/executions/{e}"),
            Some(json!({"action": "stop"})),
        ),
        (
            "GET",
            "/api/v2.0/retentions/{id}/executions/{eid}/tasks",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}/executions/{e}/tasks"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}",
            Project(Retention),
            format!("/api/v2.0/retentions/{r}/executions/{e}/tasks/{t}"),
            None,
        ),
        (
            "GET",
            "/api/v2.0/robots",
            Project(ProjectAdmin),
            format!("/api/v2.0/robots?q=Level=project,ProjectID={}", f.project_id),
            None,
        ),
        (
            "POST",
            "/api/v2.0/robots",
            Project(ProjectAdmin),
            "/api/v2.0/robots".into(),
            Some(json!({"name": "walker", "duration": -1, "level": "project",
                "permissions": [{"kind": "project", "namespace": "hush", "access": [{"resource": "repository", "action": "pull"}]}]})),
        ),
        (
            "GET",
            "/api/v2.0/robots/{robot_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/robots/{}", f.robot_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/robots/{robot_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/robots/{}", f.robot_id),
            Some(json!({"name": "mole-91", "disable": true, "duration": -1, "level": "project",
                "permissions": [{"kind": "project", "namespace": "hush",
                                 "access": [{"resource": "repository", "action": "pull"}]}]})),
        ),
        (
            "PATCH",
            "/api/v2.0/robots/{robot_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/robots/{}", f.robot_id),
            Some(json!({"secret": "Robot-Secret-91x"})),
        ),
        (
            "DELETE",
            "/api/v2.0/robots/{robot_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/robots/{}", f.robot_id),
            None,
        ),
        ("GET", "/api/v2.0/registries", Admin, "/api/v2.0/registries".into(), None),
        (
            "POST",
            "/api/v2.0/registries",
            Admin,
            "/api/v2.0/registries".into(),
            Some(json!({"name": "walker-91", "url": "http://127.0.0.1:9", "type": "docker-registry"})),
        ),
        (
            "POST",
            "/api/v2.0/registries/ping",
            Admin,
            "/api/v2.0/registries/ping".into(),
            Some(json!({"id": f.registry_id})),
        ),
        ("GET", "/api/v2.0/registries/{id}", Admin, format!("/api/v2.0/registries/{}", f.registry_id), None),
        (
            "PUT",
            "/api/v2.0/registries/{id}",
            Admin,
            format!("/api/v2.0/registries/{}", f.registry_id),
            Some(json!({"description": "walked"})),
        ),
        (
            "DELETE",
            "/api/v2.0/registries/{id}",
            Admin,
            format!("/api/v2.0/registries/{}", f.registry_id),
            None,
        ),
        (
            "GET",
            "/api/v2.0/registries/{id}/info",
            Admin,
            format!("/api/v2.0/registries/{}/info", f.registry_id),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies",
            Project(Delete),
            "/api/v2.0/projects/hush/webhook/policies".into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/webhook/policies".into(),
            Some(
                json!({"name": "walker-hook", "event_types": ["PUSH_ARTIFACT"], "targets": [{"address": "http://127.0.0.1:9/"}]}),
            ),
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
            Project(Delete),
            format!("/api/v2.0/projects/hush/webhook/policies/{}", f.hook),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/projects/hush/webhook/policies/{}", f.hook),
            Some(
                json!({"name": "hook-91", "event_types": ["PUSH_ARTIFACT"], "targets": [{"address": "http://127.0.0.1:9/hook-91"}]}),
            ),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}",
            Project(ProjectAdmin),
            format!("/api/v2.0/projects/hush/webhook/policies/{}", f.hook),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/events",
            Project(Delete),
            "/api/v2.0/projects/hush/webhook/events".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions",
            Project(Delete),
            format!("/api/v2.0/projects/hush/webhook/policies/{}/executions", f.hook),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks",
            Project(Delete),
            format!(
                "/api/v2.0/projects/hush/webhook/policies/{}/executions/{}/tasks",
                f.hook, f.hook_execution
            ),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log",
            Project(Delete),
            format!(
                "/api/v2.0/projects/hush/webhook/policies/{}/executions/{}/tasks/{}/log",
                f.hook, f.hook_execution, f.hook_task
            ),
            None,
        ),
        ("GET", "/api/v2.0/statistics", SignedIn, "/api/v2.0/statistics".into(), None),
        ("GET", "/api/v2.0/configurations", Admin, "/api/v2.0/configurations".into(), None),
        ("POST", "/api/v2.0/ldap/ping", Admin, "/api/v2.0/ldap/ping".into(), None),
        ("GET", "/api/v2.0/ldap/users/search", Admin, "/api/v2.0/ldap/users/search?username=a".into(), None),
        (
            "POST",
            "/api/v2.0/ldap/users/import",
            Admin,
            "/api/v2.0/ldap/users/import".into(),
            Some(json!({"ldap_uid_list": ["alice"]})),
        ),
        (
            "GET",
            "/api/v2.0/ldap/groups/search",
            Admin,
            "/api/v2.0/ldap/groups/search?groupname=a".into(),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/configurations",
            Admin,
            "/api/v2.0/configurations".into(),
            Some(json!({"ldap_uid": "uid"})),
        ),
        ("GET", "/api/v2.0/labels", SignedIn, "/api/v2.0/labels?scope=g".into(), None),
        (
            "POST",
            "/api/v2.0/labels",
            Admin,
            "/api/v2.0/labels".into(),
            Some(json!({"name": "walker-g", "scope": "g"})),
        ),
        (
            "GET",
            "/api/v2.0/labels/{label_id}",
            Project(Read),
            format!("/api/v2.0/labels/{}", f.label_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/labels/{label_id}",
            Project(Delete),
            format!("/api/v2.0/labels/{}", f.label_id),
            Some(json!({"name": "label-91"})),
        ),
        (
            "DELETE",
            "/api/v2.0/labels/{label_id}",
            Project(Delete),
            format!("/api/v2.0/labels/{}", f.label_id),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels",
            Project(Push),
            format!("{art}/v1/labels"),
            Some(json!({"id": f.label_id})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}",
            Project(Push),
            format!("{art}/v1/labels/{}", f.label_id),
            None,
        ),
        ("GET", "/api/v2.0/system/purgeaudit", Admin, "/api/v2.0/system/purgeaudit".into(), None),
        (
            "GET",
            "/api/v2.0/system/purgeaudit/schedule",
            Admin,
            "/api/v2.0/system/purgeaudit/schedule".into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/system/purgeaudit/schedule",
            Admin,
            "/api/v2.0/system/purgeaudit/schedule".into(),
            Some(
                json!({"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 800000, "dry_run": true}}),
            ),
        ),
        (
            "PUT",
            "/api/v2.0/system/purgeaudit/schedule",
            Admin,
            "/api/v2.0/system/purgeaudit/schedule".into(),
            Some(json!({"schedule": {"type": "None"}})),
        ),
        (
            "GET",
            "/api/v2.0/system/purgeaudit/{purge_id}",
            Admin,
            format!("/api/v2.0/system/purgeaudit/{}", f.purge_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/system/purgeaudit/{purge_id}",
            Admin,
            format!("/api/v2.0/system/purgeaudit/{}", f.purge_id),
            None,
        ),
        (
            "GET",
            "/api/v2.0/system/purgeaudit/{purge_id}/log",
            Admin,
            format!("/api/v2.0/system/purgeaudit/{}/log", f.purge_id),
            None,
        ),
        ("GET", "/api/v2.0/systeminfo/volumes", Admin, "/api/v2.0/systeminfo/volumes".into(), None),
        ("GET", "/api/v2.0/quotas", Admin, "/api/v2.0/quotas".into(), None),
        ("GET", "/api/v2.0/quotas/{id}", Admin, format!("/api/v2.0/quotas/{}", f.project_id), None),
        (
            "PUT",
            "/api/v2.0/quotas/{id}",
            Admin,
            format!("/api/v2.0/quotas/{}", f.project_id),
            Some(json!({"hard": {"storage": -1}})),
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/summary",
            Project(Read),
            "/api/v2.0/projects/hush/summary".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
            Project(Read),
            "/api/v2.0/projects/hush/immutabletagrules".into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules",
            Project(Delete),
            "/api/v2.0/projects/hush/immutabletagrules".into(),
            Some(
                json!({"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "walker-*"}],
                "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}),
            ),
        ),
        (
            "PUT",
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
            Project(Delete),
            format!("/api/v2.0/projects/hush/immutabletagrules/{}", f.immutable_rule),
            Some(json!({"id": f.immutable_rule, "disabled": true})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name_or_id}/immutabletagrules/{immutable_rule_id}",
            Project(Delete),
            format!("/api/v2.0/projects/hush/immutabletagrules/{}", f.immutable_rule),
            None,
        ),
        ("GET", "/api/v2.0/replication/adapters", SignedIn, "/api/v2.0/replication/adapters".into(), None),
        ("GET", "/api/v2.0/replication/policies", Admin, "/api/v2.0/replication/policies".into(), None),
        (
            "POST",
            "/api/v2.0/replication/policies",
            Admin,
            "/api/v2.0/replication/policies".into(),
            Some(json!({"name": "walker-91", "dest_registry": {"id": f.registry_id}})),
        ),
        (
            "GET",
            "/api/v2.0/replication/policies/{id}",
            Admin,
            format!("/api/v2.0/replication/policies/{}", f.policy_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/replication/policies/{id}",
            Admin,
            format!("/api/v2.0/replication/policies/{}", f.policy_id),
            Some(json!({"name": "walked-91", "dest_registry": {"id": f.registry_id}})),
        ),
        (
            "DELETE",
            "/api/v2.0/replication/policies/{id}",
            Admin,
            format!("/api/v2.0/replication/policies/{}", f.policy_id),
            None,
        ),
        ("GET", "/api/v2.0/replication/executions", Admin, "/api/v2.0/replication/executions".into(), None),
        (
            "POST",
            "/api/v2.0/replication/executions",
            Admin,
            "/api/v2.0/replication/executions".into(),
            Some(json!({"policy_id": f.policy_id})),
        ),
        (
            "GET",
            "/api/v2.0/replication/executions/{id}",
            Admin,
            format!("/api/v2.0/replication/executions/{}", f.replication_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/replication/executions/{id}",
            Admin,
            format!("/api/v2.0/replication/executions/{}", f.replication_id),
            None,
        ),
        (
            "GET",
            "/api/v2.0/replication/executions/{id}/tasks",
            Admin,
            format!("/api/v2.0/replication/executions/{}/tasks", f.replication_id),
            None,
        ),
        (
            "GET",
            "/api/v2.0/replication/executions/{id}/tasks/{task_id}/log",
            Admin,
            format!("/api/v2.0/replication/executions/{}/tasks/{}/log", f.replication_id, f.replication_task),
            None,
        ),
        ("GET", "/api/v2.0/users", Admin, "/api/v2.0/users".into(), None),
        (
            "POST",
            "/api/v2.0/users",
            Admin,
            "/api/v2.0/users".into(),
            Some(
                json!({"username": "walker-made", "email": "w@example.com", "realname": "W", "password": "Passw0rd-91"}),
            ),
        ),
        ("GET", "/api/v2.0/users/current", SignedIn, "/api/v2.0/users/current".into(), None),
        (
            "GET",
            "/api/v2.0/users/current/permissions",
            SignedIn,
            format!("/api/v2.0/users/current/permissions?scope=/project/{}", f.project_id),
            None,
        ),
        (
            "POST",
            "/api/v2.0/system/oidc/ping",
            Admin,
            "/api/v2.0/system/oidc/ping".into(),
            Some(json!({"url": "http://127.0.0.1:9"})),
        ),
        ("GET", "/api/v2.0/usergroups", Admin, "/api/v2.0/usergroups".into(), None),
        (
            "POST",
            "/api/v2.0/usergroups",
            Admin,
            "/api/v2.0/usergroups".into(),
            Some(json!({"group_name": "walker-made", "group_type": 3})),
        ),
        (
            "GET",
            "/api/v2.0/usergroups/search",
            SignedIn,
            "/api/v2.0/usergroups/search?groupname=c".into(),
            None,
        ),
        (
            "GET",
            "/api/v2.0/usergroups/{group_id}",
            Admin,
            format!("/api/v2.0/usergroups/{}", f.group_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/usergroups/{group_id}",
            Admin,
            format!("/api/v2.0/usergroups/{}", f.group_id),
            Some(json!({"group_name": "crew-92"})),
        ),
        (
            "DELETE",
            "/api/v2.0/usergroups/{group_id}",
            Admin,
            format!("/api/v2.0/usergroups/{}", f.group_id),
            None,
        ),
        ("GET", "/api/v2.0/users/{user_id}", Admin, format!("/api/v2.0/users/{}", f.admin_id), None),
        (
            "PUT",
            "/api/v2.0/users/{user_id}",
            Admin,
            format!("/api/v2.0/users/{}", f.admin_id),
            Some(json!({"email": "x@example.com"})),
        ),
        (
            "PUT",
            "/api/v2.0/users/{user_id}/password",
            Admin,
            format!("/api/v2.0/users/{}/password", f.admin_id),
            Some(json!({"old_password": "x", "new_password": "Passw0rd-92"})),
        ),
        (
            "PUT",
            "/api/v2.0/users/{user_id}/sysadmin",
            Admin,
            format!("/api/v2.0/users/{}/sysadmin", f.admin_id),
            Some(json!({"sysadmin_flag": false})),
        ),
        (
            "PUT",
            "/api/v2.0/users/{user_id}/cli_secret",
            Admin,
            format!("/api/v2.0/users/{}/cli_secret", f.admin_id),
            Some(json!({"secret": "Cli-secret-92"})),
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/members",
            Project(ListMembers),
            "/api/v2.0/projects/hush/members".into(),
            None,
        ),
        (
            "POST",
            "/api/v2.0/projects/{project_name_or_id}/members",
            Project(ProjectAdmin),
            "/api/v2.0/projects/hush/members".into(),
            Some(json!({"role_id": 1, "member_user": {"username": "outsider"}})),
        ),
        (
            "GET",
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            Project(ListMembers),
            format!("/api/v2.0/projects/hush/members/{}", f.member_id),
            None,
        ),
        (
            "PUT",
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            Project(ProjectAdmin),
            format!("/api/v2.0/projects/hush/members/{}", f.member_id),
            Some(json!({"role_id": 1})),
        ),
        (
            "DELETE",
            "/api/v2.0/projects/{project_name_or_id}/members/{mid}",
            Project(ProjectAdmin),
            format!("/api/v2.0/projects/hush/members/{}", f.member_id),
            None,
        ),
    ]
}

/// Every registry endpoint by method; the match makes a new `Route` variant a compile error here.
fn registry_table(f: &Fixture) -> Vec<(Method, String, Need)> {
    use Act::*;
    use Need::*;
    let covered = |r: &Route| match r {
        Route::Catalog
        | Route::Tags(_)
        | Route::Manifest(..)
        | Route::Blob(..)
        | Route::UploadStart(_)
        | Route::Upload(..)
        | Route::Referrers(..) => (),
    };
    covered(&Route::Catalog);
    let (d, l, u) = (&f.digest, &f.layer, &f.upload);
    vec![
        (Method::GET, "/v2/".into(), SignedIn),
        (Method::GET, "/v2/_catalog".into(), Open),
        (Method::GET, "/v2/hush/vault/tags/list".into(), Project(Read)),
        (Method::GET, "/v2/hush/vault/manifests/v1".into(), Project(Read)),
        (Method::HEAD, format!("/v2/hush/vault/manifests/{d}"), Project(Read)),
        (Method::PUT, "/v2/hush/vault/manifests/walker".into(), Project(Push)),
        (Method::DELETE, format!("/v2/hush/vault/manifests/{d}"), Project(Delete)),
        (Method::GET, format!("/v2/hush/vault/blobs/{l}"), Project(Read)),
        (Method::HEAD, format!("/v2/hush/vault/blobs/{l}"), Project(Read)),
        (Method::DELETE, format!("/v2/hush/vault/blobs/{l}"), Project(Delete)),
        (Method::POST, "/v2/hush/vault/blobs/uploads/".into(), Project(Push)),
        (Method::GET, format!("/v2/hush/vault/blobs/uploads/{u}"), Project(Push)),
        (Method::PATCH, format!("/v2/hush/vault/blobs/uploads/{u}"), Project(Push)),
        (Method::PUT, format!("/v2/hush/vault/blobs/uploads/{u}?digest={l}"), Project(Push)),
        (Method::DELETE, format!("/v2/hush/vault/blobs/uploads/{u}"), Project(Push)),
        (Method::GET, format!("/v2/hush/vault/referrers/{d}"), Project(Read)),
    ]
}

/// Every portal server function: what it needs. Unknown names fail the test.
fn server_fn_need(name: &str) -> Need {
    use Act::*;
    use Need::*;
    match name {
        "current_viewer" | "sign_in" | "sign_out" | "list_projects" | "oidc_onboard" | "search" => Open,
        "audit_logs" => Admin,
        "create_project" | "change_password" | "account" | "regenerate_cli_secret" => SignedIn,
        "get_project" | "list_repositories" | "list_artifacts" | "get_artifact" => Project(Read),
        "layer_files" | "filesystem" | "compare" | "project_dashboard" => Project(Read),
        "registry_dashboard" | "list_quotas" | "create_global_label" | "delete_global_label" => Admin,
        "global_labels" => SignedIn,
        "list_members" => Project(ListMembers),
        "add_tag" => Project(Push),
        "delete_tag" | "delete_artifact" | "delete_repository" => Project(Delete),
        "retention_page"
        | "save_retention_rule"
        | "delete_retention_rule"
        | "set_retention_schedule"
        | "run_retention" => Project(Retention),
        "set_project_quota" | "purge_page" | "run_purge" | "set_purge_schedule" => Admin,
        "webhooks_page" => Project(Delete),
        "project_labels" => Project(Read),
        "create_label" | "delete_label" => Project(Delete),
        "label_artifact" | "unlabel_artifact" => Project(Push),
        "add_webhook" | "switch_webhook" | "delete_webhook" => Project(ProjectAdmin),
        "immutable_rules_page" => Project(Read),
        "add_immutable_rule" | "switch_immutable_rule" | "delete_immutable_rule" => Project(Delete),
        "add_member" | "set_member_role" | "remove_member" | "list_robots" | "create_robot"
        | "change_robot" | "project_logs" | "set_project_public" | "delete_project" => Project(ProjectAdmin),
        "gc_page" | "run_gc" | "set_gc_schedule" | "list_users" | "create_user" | "change_user" => Admin,
        "list_endpoints" | "save_endpoint" | "test_endpoint" | "delete_endpoint" => Admin,
        "auth_settings" | "save_auth_settings" | "list_groups" | "add_group" | "delete_group" => Admin,
        "replication_page"
        | "create_replication_rule"
        | "run_replication"
        | "delete_replication_rule"
        | "stop_replication"
        | "replication_execution" => Admin,
        other => panic!("server function {other} has no entry in the route walker: add what it needs"),
    }
}

/// One form with every field any server function takes, aimed at the private project.
fn superset_form(f: &Fixture) -> Vec<(&'static str, String)> {
    vec![
        ("project", "hush".into()),
        ("name", "hush".into()),
        ("repository", "hush/vault".into()),
        ("reference", f.digest.clone()),
        ("layer", f.layer.clone()),
        ("path", "/".into()),
        ("with", f.digest.clone()),
        ("digest", f.digest.clone()),
        ("tag", "v1".into()),
        ("q", String::new()),
        ("page", "1".into()),
        ("sort", String::new()),
        ("public", "on".into()),
        ("index", "0".into()),
        ("kind", "None".into()),
        ("template", "latestPushedK".into()),
        ("count", "1".into()),
        ("repositories", "**".into()),
        ("tags", "**".into()),
        ("dry_run", "on".into()),
        ("id", f.robot_id.to_string()),
        ("member", f.member_id.to_string()),
        ("role_id", "1".into()),
        ("username", "outsider".into()),
        ("what", "disable".into()),
        ("pull", "on".into()),
        ("days", "-1".into()),
        ("password", "Passw0rd-93".into()),
        ("old", PASSWORD.into()),
        ("new", "Passw0rd-93".into()),
        ("confirm", "Passw0rd-93".into()),
        ("email", "walker@example.com".into()),
        ("repo_decoration", "repoMatches".into()),
        ("repo_pattern", "**".into()),
        ("tag_decoration", "matches".into()),
        ("tag_pattern", "**".into()),
        ("url", "http://127.0.0.1:9".into()),
        ("execution", f.replication_id.to_string()),
        ("limit", "-1".into()),
        ("label", f.label_id.to_string()),
        ("color", "#00ff00".into()),
        ("keep_hours", "800000".into()),
        ("operations", "pull".into()),
        ("address", "http://127.0.0.1:9/walker".into()),
        ("format", "Default".into()),
        ("PUSH_ARTIFACT", "on".into()),
        ("endpoint", f.registry_id.to_string()),
        ("group_type", "2".into()),
        ("dn", String::new()),
        ("intent", "save".into()),
        ("items[ldap_uid]", "uid".into()),
    ]
}

/// Signs `name` in to the portal with the walker's password; the session cookie.
async fn sign_in(app: &TestApp, name: &str) -> String {
    let res = app
        .anon(Method::POST, "/ui/sign_in")
        .header("origin", &app.base)
        .form(&[("username", name), ("password", PASSWORD), ("next", "/projects")])
        .call()
        .await;
    header(&res, "set-cookie").expect("cookie").split(';').next().expect("pair").to_owned()
}

/// A fingerprint of everything a refused call must not change.
async fn state_of(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "projects",
        "repositories",
        "manifests",
        "tags",
        "blobs",
        "project_members",
        "robots",
        "users",
        "retention_policies",
        "retention_executions",
        "gc_runs",
        "schedules",
        "uploads",
        "registries",
        "replication_policies",
        "replication_executions",
        "configurations",
        "usergroups",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(app.state.db.reader())
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        out.push(n);
    }
    let flags: Vec<(i64, i64)> = sqlx::query_as("SELECT public, 0 FROM projects ORDER BY id")
        .fetch_all(app.state.db.reader())
        .await
        .expect("flags");
    out.extend(flags.into_iter().map(|(p, _)| p));
    out
}

fn mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

/// How the walker's users sign in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Accounts {
    /// Wharf's own accounts and passwords.
    Database,
    /// Directory users (a real slapd), signing in with their directory passwords.
    Ldap,
    /// Single sign-on users (a real OpenID Provider): the portal through the provider's pages,
    /// everything else with their CLI secrets.
    Oidc,
}

#[tokio::test]
async fn every_route_refuses_whom_it_should_and_leaks_nothing() {
    walk(Accounts::Database).await;
}

#[tokio::test]
async fn every_route_refuses_directory_users_whom_it_should() {
    walk(Accounts::Ldap).await;
}

#[tokio::test]
async fn every_route_refuses_single_sign_on_users_whom_it_should() {
    walk(Accounts::Oidc).await;
}

async fn walk(accounts: Accounts) {
    let app = TestApp::start().await;
    // The mode changes only while admin is the only user: before the fixture's users.
    let caller_names =
        ["outsider", "limited-guest", "guest", "developer", "maintainer", "project-admin", GROUP_DEVELOPER];
    let mut _slapd = None;
    let mut _provider = None;
    match accounts {
        Accounts::Database => {}
        Accounts::Ldap => {
            let slapd = crate::support::ldap::Slapd::start();
            for name in caller_names {
                slapd.modify(&format!(
                    "dn: uid={name},ou=people,{base}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {name}\n\
                     cn: {name}\nsn: {name}\nuserPassword: {PASSWORD}\n",
                    base = crate::support::ldap::BASE
                ));
            }
            let res = app
                .admin(Method::PUT, "/api/v2.0/configurations")
                .json(&crate::support::ldap::configuration(&slapd.url))
                .call()
                .await;
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
            _slapd = Some(slapd);
        }
        Accounts::Oidc => {
            let provider = crate::support::oidc::Provider::start(&format!("{}/c/oidc/callback", app.base));
            let res = app
                .admin(Method::PUT, "/api/v2.0/configurations")
                .json(&json!({"auth_mode": "oidc_auth", "oidc_endpoint": provider.issuer,
                    "oidc_client_id": "wharf", "oidc_client_secret": crate::support::oidc::CLIENT_SECRET,
                    "oidc_scope": "openid,profile,offline_access", "oidc_auto_onboard": true}))
                .call()
                .await;
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
            _provider = Some(provider);
        }
    }
    let f = fixture(&app).await;
    let caller = |name, role, signed_in| Caller {
        name,
        role,
        signed_in,
        admin: false,
        cookie: None,
        csrf: None,
        secret: PASSWORD.to_owned(),
    };
    let mut callers = vec![caller("anonymous", None, false), caller("outsider", None, true)];
    for (name, role) in [
        ("limited-guest", Role::LimitedGuest),
        ("guest", Role::Guest),
        ("developer", Role::Developer),
        ("maintainer", Role::Maintainer),
        ("project-admin", Role::ProjectAdmin),
        // A Developer only through a user group's membership.
        (GROUP_DEVELOPER, Role::Developer),
    ] {
        callers.push(caller(name, Some(role), true));
    }
    for c in &mut callers {
        if !c.signed_in {
            continue;
        }
        // An account, and a portal session for it.
        let cookie = match accounts {
            Accounts::Database => {
                app.create_user(c.name, PASSWORD).await;
                sign_in(&app, c.name).await
            }
            // Directory accounts are made by their first sign-in.
            Accounts::Ldap => sign_in(&app, c.name).await,
            Accounts::Oidc => {
                let mut b = crate::support::oidc::Browser::new();
                let (status, url, _) = b.sign_in_at(&format!("{}/c/oidc/login", app.base), c.name).await;
                assert_eq!((status, url), (StatusCode::OK, format!("{}/projects", app.base)), "{}", c.name);
                let (_, _, body) =
                    b.send(Method::GET, &format!("{}/api/v2.0/users/current", app.base), None).await;
                let me: Value = serde_json::from_str(&body).expect("json");
                c.secret = me["oidc_user_meta"]["secret"].as_str().expect("CLI secret").to_owned();
                let jar = b.jar();
                jar.split("; ").find(|p| p.starts_with("wharf_session=")).expect("session").to_owned()
            }
        };
        let id = wharf::db::users::by_username(app.state.db.reader(), c.name)
            .await
            .expect("q")
            .expect("account")
            .id;
        match c.role {
            Some(role) if c.name == GROUP_DEVELOPER => {
                let res = app
                    .admin(Method::POST, "/api/v2.0/projects/hush/members")
                    .json(&json!({"role_id": role.id(), "member_group": {"group_name": "devs-91", "group_type": 3}}))
                    .call()
                    .await;
                assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
                let group: Value =
                    app.admin(Method::GET, "/api/v2.0/usergroups?group_name=devs-91").call().await.json();
                let mut tx = app.state.db.begin().await.expect("tx");
                let g = group[0]["id"].as_i64().expect("group");
                wharf::db::usergroups::set_memberships(&mut tx, id, wharf::vocab::GroupType::Oidc, &[g])
                    .await
                    .expect("membership");
                tx.commit().await.expect("commit");
            }
            Some(role) => app.add_member("hush", id, role).await,
            None => {}
        }
        c.csrf = Some(app.csrf_token(&cookie).await);
        c.cookie = Some(cookie);
    }

    // The tables cover every route the server has.
    let table = api_table(&f);
    let listed: BTreeSet<(String, String)> =
        table.iter().map(|(m, t, ..)| (m.to_string(), t.to_string())).collect();
    let routed = api_routes();
    assert_eq!(routed.len(), table.len(), "one entry per route");
    assert_eq!(listed, routed, "API routes and the walker's table differ");
    let server_fns: Vec<(String, Method)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| {
            (path.trim_start_matches("/ui/").to_owned(), method.as_str().parse().expect("method"))
        })
        .collect();
    assert!(server_fns.len() >= 35, "server functions registered: {server_fns:?}");

    let before = state_of(&app).await;
    let mut checked = 0;
    let mut token_refusals = 0;
    let mut verdicts = Vec::new();
    for c in &callers {
        let mut check = |route: String, status: StatusCode, body: &str, allowed: bool, refused: bool| {
            checked += 1;
            if allowed {
                assert!(!refused, "{}: {route} refused an allowed caller ({status}): {body}", c.name);
            } else {
                assert!(refused, "{}: {route} answered a caller it should refuse ({status}): {body}", c.name);
            }
            if !c.sees_project() {
                for m in &f.markers {
                    assert!(
                        !body.contains(m.as_str()),
                        "{}: {route} showed {m} to an outsider: {body}",
                        c.name
                    );
                }
            }
            verdicts.push((c.name, route, status));
        };
        for (method, template, need, path, body) in &table {
            let method = if *method == "ANY" { Method::GET } else { method.parse().expect("method") };
            let allowed = c.may(*need);
            if allowed && mutating(&method) {
                continue;
            }
            let mut req = c.request(&app, method.clone(), path);
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = req.call().await;
            let status = res.status();
            let text = res.text();
            let refused = matches!(status.as_u16(), 401 | 403 | 404);
            // The catch-all 404 is its answer, not a refusal; it must still show nothing.
            let refused = refused && *template != "/api/{*rest}";
            check(format!("{method} {template}"), status, &text, allowed || *need == Need::Open, refused);
        }
        for (method, path, need) in registry_table(&f) {
            let allowed = c.may(need);
            if allowed && mutating(&method) {
                continue;
            }
            let res = c.request(&app, method.clone(), &path).call().await;
            let status = res.status();
            let text = res.text();
            let refused = matches!(status.as_u16(), 401 | 403 | 404);
            if refused && method != Method::HEAD {
                let v: Value =
                    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: OCI error JSON: {text}"));
                assert!(v["errors"][0]["code"].is_string(), "{path}: {text}");
            }
            check(format!("{method} {path}"), status, &text, allowed, refused);
        }
        for (name, method) in &server_fns {
            let need = server_fn_need(name);
            let allowed = c.may(need);
            let reads = *method == Method::GET;
            if name == "sign_in" || name == "sign_out" {
                continue;
            }
            if !reads && let Some(cookie) = &c.cookie {
                // Without the session's anti-forgery token every post is refused, whoever
                // sends it and whatever it may do; so is a wrong token.
                for token in [None, Some("0".repeat(32))] {
                    let mut form = superset_form(&f);
                    if let Some(t) = &token {
                        form.push(("csrf", t.clone()));
                    }
                    let res = app
                        .anon(Method::POST, &format!("/ui/{name}"))
                        .header("origin", &app.base)
                        .header("cookie", cookie)
                        .form(&form)
                        .call()
                        .await;
                    let status = res.status();
                    let text = res.text();
                    assert_eq!(status, StatusCode::FORBIDDEN, "{}: {name} without its token: {text}", c.name);
                    assert!(text.contains("form has expired"), "{}: {name}: {text}", c.name);
                    token_refusals += 1;
                }
            }
            if allowed && !reads {
                continue;
            }
            let mut form = superset_form(&f);
            if let Some(t) = &c.csrf {
                form.push(("csrf", t.clone()));
            }
            let mut req = if reads {
                let query = serde_urlencoded::to_string(&form).expect("query");
                app.anon(Method::GET, &format!("/ui/{name}?{query}"))
            } else {
                app.anon(Method::POST, &format!("/ui/{name}")).header("origin", &app.base).form(&form)
            };
            if let Some(cookie) = &c.cookie {
                req = req.header("cookie", cookie);
            }
            let res = req.call().await;
            let status = res.status();
            let text = res.text();
            let refused = status.is_client_error() || status.is_server_error();
            // A refusal must come from the permission check, not from arguments the function
            // could not read (which would make the check here prove nothing).
            assert!(
                !text.contains("\"Request\"") && !text.contains("went wrong"),
                "{}: {name}: {text}",
                c.name
            );
            check(format!("server fn {name}"), status, &text, allowed, refused);
        }
    }
    assert_eq!(state_of(&app).await, before, "a refused call changed something");
    eprintln!(
        "route walker ({accounts:?}): {} callers, {checked} checks, {token_refusals} posts without a token",
        callers.len()
    );
    assert!(token_refusals > 100, "posts without a token were tried: {token_refusals}");
    let refused = verdicts.iter().filter(|(_, _, s)| matches!(s.as_u16(), 401 | 403 | 404 | 500)).count();
    assert!(refused > 200, "the walk refused {refused} calls");
}
