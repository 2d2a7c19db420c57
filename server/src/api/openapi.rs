//! `GET /api/v2.0/openapi.json`: the API described in OpenAPI 3.0, for tools and clients. A test
//! calls every operation listed here, so the document cannot name a route Wharf does not serve.

use axum::Json;
use serde_json::{Value, json};

fn op(summary: &str, params: &[&str], body: Option<&str>, ok: &str) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| {
            let (name, place) = p.split_once(':').unwrap_or((p, "query"));
            json!({"name": name, "in": place, "required": place == "path", "schema": {"type": "string"}})
        })
        .collect();
    let mut o = json!({
        "summary": summary,
        "parameters": parameters,
        "responses": {
            ok: {"description": "success"},
            "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}
        }
    });
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

const PAGE: [&str; 2] = ["page", "page_size"];

/// The document.
pub fn document() -> Value {
    let project = "project_name_or_id:path";
    let repo = "repository_name:path";
    let reference = "reference:path";
    let paged = |extra: &[&'static str]| -> Vec<&'static str> {
        PAGE.iter().copied().chain(extra.iter().copied()).collect()
    };
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Wharf API", "version": "2.0", "description": "Harbor API v2.0 paths and shapes for what Wharf implements. Authenticate with HTTP Basic."},
        "servers": [{"url": "/api/v2.0"}],
        "paths": {
            "/health": {"get": op("Health of Wharf and its dependencies", &[], None, "200")},
            "/systeminfo": {"get": op("General information", &[], None, "200")},
            "/search": {"get": op("Projects and repositories by name", &["q"], None, "200")},
            "/projects": {
                "get": op("List projects the caller may see", &paged(&["name", "q", "public"]), None, "200"),
                "post": op("Create a project", &[], Some("ProjectReq"), "201"),
                "head": op("Check whether a project name is taken", &["project_name"], None, "200"),
            },
            "/projects/{project_name_or_id}": {
                "get": op("Get a project", &[project], None, "200"),
                "put": op("Update a project", &[project], Some("ProjectReq"), "200"),
                "delete": op("Delete an empty project", &[project], None, "200"),
            },
            "/projects/{project_name_or_id}/members": {
                "get": op("List members", &[project, "entityname", "page", "page_size"], None, "200"),
                "post": op("Add a member", &[project], Some("ProjectMemberReq"), "201"),
            },
            "/projects/{project_name_or_id}/members/{mid}": {
                "get": op("Get a member", &[project, "mid:path"], None, "200"),
                "put": op("Change a member's role", &[project, "mid:path"], Some("ProjectMemberReq"), "200"),
                "delete": op("Remove a member", &[project, "mid:path"], None, "200"),
            },
            "/projects/{project_name_or_id}/logs": {"get": op("Project audit log", &[project, "q", "page", "page_size"], None, "200")},
            "/projects/{project_name_or_id}/repositories": {"get": op("List repositories", &[project, "q", "page", "page_size"], None, "200")},
            "/projects/{project_name_or_id}/repositories/{repository_name}": {
                "get": op("Get a repository (names with / are URL-encoded twice)", &[project, repo], None, "200"),
                "delete": op("Delete a repository", &[project, repo], None, "200"),
            },
            "/projects/{project_name_or_id}/repositories/{repository_name}/artifacts": {
                "get": op("List artifacts, newest first", &[project, repo, "page", "page_size"], None, "200"),
                "post": op("Copy an artifact here (retag): from=<project>/<repository>@<digest> or :<tag>", &[project, repo, "from"], None, "201"),
            },
            "/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}": {
                "get": op("Get an artifact by tag or digest", &[project, repo, reference], None, "200"),
                "delete": op("Delete an artifact", &[project, repo, reference], None, "200"),
            },
            "/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags": {
                "get": op("List an artifact's tags", &[project, repo, reference], None, "200"),
                "post": op("Add a tag", &[project, repo, reference], Some("TagReq"), "201"),
            },
            "/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}": {
                "delete": op("Delete a tag", &[project, repo, reference, "tag_name:path"], None, "200"),
            },
            "/audit-logs": {"get": op("System audit log", &["q", "page", "page_size"], None, "200")},
            "/system/gc": {"get": op("Garbage collection history, newest first", &["page", "page_size"], None, "200")},
            "/system/gc/schedule": {
                "get": op("The garbage collection schedule", &[], None, "200"),
                "post": op("Run a garbage collection now (type Manual) or set the schedule", &[], Some("Schedule"), "201"),
                "put": op("Change the garbage collection schedule (type None removes it)", &[], Some("Schedule"), "200"),
            },
            "/system/gc/{gc_id}": {
                "get": op("A garbage collection run with its counters", &["gc_id:path"], None, "200"),
                "put": op("Stop a running garbage collection", &["gc_id:path"], None, "200"),
            },
            "/system/gc/{gc_id}/log": {"get": op("A garbage collection run's log (text)", &["gc_id:path"], None, "200")},
            "/robots": {
                "get": op("List a project's robots (q=Level=project,ProjectID=<id>)", &["q"], None, "200"),
                "post": op("Create a robot; answers its secret once", &[], Some("RobotReq"), "201"),
            },
            "/robots/{robot_id}": {
                "get": op("Get a robot", &["robot_id:path"], None, "200"),
                "put": op("Change a robot's description, permissions or disable flag", &["robot_id:path"], Some("RobotReq"), "200"),
                "patch": op("Refresh a robot's secret", &["robot_id:path"], None, "200"),
                "delete": op("Delete a robot", &["robot_id:path"], None, "200"),
            },
            "/users": {
                "get": op("List users", &paged(&["username", "q"]), None, "200"),
                "post": op("Create a user", &[], Some("UserCreationReq"), "201"),
            },
            "/users/current": {"get": op("The signed-in user", &[], None, "200")},
            "/users/{user_id}": {
                "get": op("Get a user", &["user_id:path"], None, "200"),
                "put": op("Update a user's profile or disable it", &["user_id:path"], Some("UserProfileReq"), "200"),
            },
            "/users/{user_id}/password": {"put": op("Change or reset a password", &["user_id:path"], Some("PasswordReq"), "200")},
            "/users/{user_id}/sysadmin": {"put": op("Grant or revoke system administration", &["user_id:path"], Some("SysadminReq"), "200")},
        },
        "components": {"schemas": {
            "Errors": {"type": "object", "properties": {
                "errors": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}
            }},
            "ProjectReq": {"type": "object", "properties": {"project_name": {"type": "string"}, "public": {"type": "boolean"}, "metadata": {"type": "object", "properties": {"public": {"type": "string", "enum": ["true", "false"]}}}}},
            "ProjectMemberReq": {"type": "object", "required": ["role_id"], "properties": {"role_id": {"type": "integer", "minimum": 1, "maximum": 5}, "member_user": {"type": "object", "properties": {"username": {"type": "string"}, "user_id": {"type": "integer"}}}}},
            "Schedule": {"type": "object", "properties": {"schedule": {"type": "object", "properties": {"type": {"type": "string", "enum": ["Manual", "Hourly", "Daily", "Weekly", "Custom", "None"]}, "cron": {"type": "string", "description": "6 fields: second minute hour day-of-month month day-of-week (0 = Sunday), UTC"}}}, "parameters": {"type": "object", "properties": {"delete_untagged": {"type": "boolean"}, "dry_run": {"type": "boolean"}, "workers": {"type": "integer", "minimum": 1, "maximum": 64}}}}},
            "RobotReq": {"type": "object", "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "duration": {"type": "integer", "description": "days; -1 never"}, "level": {"type": "string", "enum": ["project"]}, "disable": {"type": "boolean"}, "permissions": {"type": "array", "items": {"type": "object", "properties": {"kind": {"type": "string"}, "namespace": {"type": "string"}, "access": {"type": "array", "items": {"type": "object", "properties": {"resource": {"type": "string"}, "action": {"type": "string", "enum": ["pull", "push", "delete"]}}}}}}}}},
            "TagReq": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            "UserCreationReq": {"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "email": {"type": "string"}, "realname": {"type": "string"}, "password": {"type": "string"}}},
            "UserProfileReq": {"type": "object", "properties": {"email": {"type": "string"}, "realname": {"type": "string"}, "disabled": {"type": "boolean"}}},
            "PasswordReq": {"type": "object", "required": ["new_password"], "properties": {"old_password": {"type": "string"}, "new_password": {"type": "string"}}},
            "SysadminReq": {"type": "object", "required": ["sysadmin_flag"], "properties": {"sysadmin_flag": {"type": "boolean"}}},
        }},
    })
}

/// Serves the document.
pub async fn get_openapi() -> Json<Value> {
    Json(document())
}
