//! The API's request and answer shapes, Harbor's API v2.0 field for field. They are a
//! compatibility contract with Harbor's clients and stay apart from the portal's views by
//! design; the OpenAPI document's schemas are derived from them.

use frontend::types::{ArtifactKind, Trigger};
use serde::{Deserialize, Serialize};

use crate::db::projects::ProjectRow;
use crate::time::rfc3339_ms;

/// Harbor's project metadata: flags as strings.
#[derive(Debug, Clone, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct ProjectMetadata {
    /// `"true"` or `"false"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// The project's retention policy id (read only: set by creating a policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_id: Option<String>,
    /// A proxy cache's upstream bandwidth in KiB/s, `-1` for no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_speed_kb: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Project {
    /// Id.
    pub project_id: i64,
    /// Name.
    pub name: String,
    /// Creator's id.
    pub owner_id: Option<i64>,
    /// Creator's name.
    pub owner_name: Option<String>,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
    /// Always false: deleted projects are gone.
    pub deleted: bool,
    /// Repositories in the project.
    pub repo_count: i64,
    /// The caller's role id, 0 when not a member.
    pub current_user_role_id: i64,
    /// The caller's role ids.
    pub current_user_role_ids: Vec<i64>,
    /// Flags.
    pub metadata: ProjectMetadata,
    /// The upstream registry endpoint of a proxy-cache project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<i64>,
    /// A group project's members in search order (Wharf's addition; one project's answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_members: Option<Vec<String>>,
}

impl From<ProjectRow> for Project {
    fn from(p: ProjectRow) -> Self {
        let role = p.role.map(|r| r.id());
        Self {
            project_id: p.id,
            name: p.name,
            owner_id: p.owner_id,
            owner_name: p.owner_name,
            creation_time: rfc3339_ms(p.created_at),
            update_time: rfc3339_ms(p.updated_at),
            deleted: false,
            repo_count: p.repo_count,
            current_user_role_id: role.unwrap_or(0),
            current_user_role_ids: role.into_iter().collect(),
            metadata: ProjectMetadata {
                public: Some(p.public.to_string()),
                retention_id: p.retention_id.map(|id| id.to_string()),
                proxy_speed_kb: p.registry_id.map(|_| p.proxy_speed_kb.to_string()),
            },
            registry_id: p.registry_id,
            group_members: None,
        }
    }
}

/// `POST`/`PUT /projects` body.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct ProjectReq {
    /// The name (create only).
    pub project_name: Option<String>,
    /// Harbor 2.x also accepts a top-level `public` flag.
    pub public: Option<bool>,
    /// Flags.
    pub metadata: Option<ProjectMetadata>,
    /// Makes the new project a proxy cache of this registry endpoint (system administrators).
    pub registry_id: Option<i64>,
    /// Makes the new project a group of these projects, searched in this order (Wharf's
    /// addition to Harbor's API; system administrators).
    pub group_members: Option<Vec<String>>,
    /// Storage limit in bytes, -1 for none (system administrators; others get the default).
    pub storage_limit: Option<i64>,
}

impl ProjectReq {
    /// The requested visibility, if any; `metadata.public` wins over `public`.
    pub fn public(&self) -> Option<bool> {
        self.metadata
            .as_ref()
            .and_then(|m| m.public.as_deref())
            .map(|v| v.eq_ignore_ascii_case("true"))
            .or(self.public)
    }

    /// The requested proxy bandwidth in KiB/s (`-1`, or absent: no limit).
    pub fn proxy_speed_kb(&self) -> Result<i64, String> {
        match self.metadata.as_ref().and_then(|m| m.proxy_speed_kb.as_deref()) {
            None | Some("") => Ok(-1),
            Some(v) => v.trim().parse().map_err(|_| format!("proxy_speed_kb must be a number, not {v:?}")),
        }
    }
}

/// A project member (Harbor's `ProjectMemberEntity`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectMember {
    /// Membership id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The user's or the group's name.
    pub entity_name: String,
    /// `u` for a user, `g` for a user group.
    pub entity_type: &'static str,
    /// The user's or the group's id.
    pub entity_id: i64,
    /// Harbor's role id.
    pub role_id: i64,
    /// Harbor's role name.
    pub role_name: &'static str,
}

impl From<crate::db::members::MemberRow> for ProjectMember {
    fn from(m: crate::db::members::MemberRow) -> Self {
        Self {
            id: m.id,
            project_id: m.project_id,
            entity_name: m.entity_name,
            entity_type: if m.group_type.0.is_some() { "g" } else { "u" },
            entity_id: m.entity_id,
            role_id: m.role.id(),
            role_name: m.role.name(),
        }
    }
}

/// The user of a new membership: by name or id.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct MemberUser {
    /// Username.
    pub username: Option<String>,
    /// User id.
    pub user_id: Option<i64>,
}

/// `POST`/`PUT .../members` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ProjectMemberReq {
    /// Harbor's role id (1 to 5).
    pub role_id: i64,
    /// The user (create only).
    pub member_user: Option<MemberUser>,
    /// The user group (create only): by `id`, by `ldap_group_dn`, or by `group_name` (and
    /// `group_type`).
    pub member_group: Option<UserGroup>,
}

/// A user group (Harbor's `UserGroup`).
#[derive(Debug, Clone, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct UserGroup {
    /// Id.
    #[serde(default)]
    pub id: i64,
    /// Name.
    #[serde(default)]
    pub group_name: String,
    /// 1 LDAP, 2 HTTP, 3 OIDC.
    #[serde(default)]
    pub group_type: i64,
    /// The DN of an LDAP group.
    #[serde(default)]
    pub ldap_group_dn: String,
}

impl From<crate::db::usergroups::UserGroupRow> for UserGroup {
    fn from(g: crate::db::usergroups::UserGroupRow) -> Self {
        Self {
            id: g.id,
            group_name: g.group_name,
            group_type: g.group_type.id(),
            ldap_group_dn: g.ldap_group_dn,
        }
    }
}

/// A user group as a search lists it (Harbor's `UserGroupSearchItem`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserGroupSearchItem {
    /// Id.
    pub id: i64,
    /// Name.
    pub group_name: String,
    /// 1 LDAP, 2 HTTP, 3 OIDC.
    pub group_type: i64,
}

/// What the caller may do on a resource (Harbor's `Permission`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Permission {
    /// The resource, relative to the scope or absolute (`/project/1/repository`).
    pub resource: String,
    /// The action.
    pub action: &'static str,
}

/// A user (Harbor's `UserResp`, plus Wharf's `disabled`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub realname: String,
    /// Free text (kept empty).
    pub comment: String,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
    /// System administrator.
    pub sysadmin_flag: bool,
    /// Always false: accounts are Wharf's own.
    pub admin_role_in_auth: bool,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// The account's tie to the OIDC provider (OIDC users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_user_meta: Option<OidcUserInfo>,
}

/// An OIDC user's tie to the provider (Harbor's `OIDCUserInfo`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OidcUserInfo {
    /// The record's id (the user's).
    pub id: i64,
    /// The user.
    pub user_id: i64,
    /// The provider's subject and issuer (`<issuer>|<sub>`).
    pub subiss: String,
    /// The CLI secret: to its owner only, empty for anyone else.
    pub secret: String,
    /// RFC 3339.
    pub creation_time: String,
    /// RFC 3339.
    pub update_time: String,
}

impl OidcUserInfo {
    /// The tie `row`, with `secret` when the caller may see it.
    pub fn of(row: crate::db::oidc::OidcUserRow, secret: Option<String>) -> Self {
        Self {
            id: row.user_id,
            user_id: row.user_id,
            subiss: row.subject,
            secret: secret.unwrap_or_default(),
            creation_time: rfc3339_ms(row.created_at),
            update_time: rfc3339_ms(row.updated_at),
        }
    }
}

/// `PUT /users/{user_id}/cli_secret` body (Harbor's `OIDCCliSecretReq`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CliSecretReq {
    /// The new secret (Harbor's password rule).
    pub secret: String,
}

impl From<crate::db::users::UserRow> for User {
    fn from(u: crate::db::users::UserRow) -> Self {
        Self {
            user_id: u.id,
            username: u.username,
            email: u.email,
            realname: u.realname,
            comment: String::new(),
            creation_time: rfc3339_ms(u.created_at),
            update_time: rfc3339_ms(u.updated_at),
            sysadmin_flag: u.sysadmin,
            admin_role_in_auth: false,
            disabled: u.disabled,
            oidc_user_meta: None,
        }
    }
}

/// `POST /users` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UserCreationReq {
    /// Login name.
    pub username: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Full name.
    #[serde(default)]
    pub realname: String,
    /// Initial password.
    pub password: String,
}

/// `PUT /users/{id}` body.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct UserProfileReq {
    /// E-mail address.
    pub email: Option<String>,
    /// Full name.
    pub realname: Option<String>,
    /// Disable (true) or enable (false) the account; system administrators only.
    pub disabled: Option<bool>,
}

/// `PUT /users/{id}/password` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PasswordReq {
    /// The current password (needed for one's own).
    pub old_password: Option<String>,
    /// The new password.
    pub new_password: String,
}

/// `PUT /users/{id}/sysadmin` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SysadminReq {
    /// Whether the user is a system administrator.
    pub sysadmin_flag: bool,
}

/// A repository (Harbor's `Repository`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Repository {
    /// Id.
    pub id: i64,
    /// Project id.
    pub project_id: i64,
    /// Full name, `<project>/<path>`.
    pub name: String,
    /// Free text (kept empty).
    pub description: String,
    /// Artifacts in it.
    pub artifact_count: i64,
    /// Pulls recorded.
    pub pull_count: i64,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
}

impl From<crate::db::repositories::RepositoryRow> for Repository {
    fn from(r: crate::db::repositories::RepositoryRow) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            description: String::new(),
            artifact_count: r.artifact_count,
            pull_count: r.pull_count,
            creation_time: rfc3339_ms(r.created_at),
            update_time: rfc3339_ms(r.updated_at),
        }
    }
}

/// A tag of an artifact (Harbor's `Tag`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArtifactTag {
    /// Tag name.
    pub name: String,
    /// Repository id.
    pub repository_id: i64,
    /// Artifact id.
    pub artifact_id: i64,
    /// Push time (RFC 3339).
    pub push_time: String,
    /// Last pull (RFC 3339), if any.
    pub pull_time: Option<String>,
    /// Whether a tag immutability rule protects it.
    pub immutable: bool,
}

/// An artifact (Harbor's `Artifact`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Artifact {
    /// Id.
    pub id: i64,
    /// `IMAGE`, `CHART` or `UNKNOWN` (then see `artifact_type`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The config media type (Harbor's `media_type`), or the manifest's for an index.
    pub media_type: String,
    /// The manifest's media type.
    pub manifest_media_type: String,
    /// The OCI `artifactType`, if set.
    pub artifact_type: Option<String>,
    /// Digest.
    pub digest: String,
    /// Size of the manifest and everything it references.
    pub size: i64,
    /// Repository id.
    pub repository_id: i64,
    /// Push time (RFC 3339).
    pub push_time: String,
    /// Last pull (RFC 3339), if any.
    pub pull_time: Option<String>,
    /// Tags pointing at it.
    pub tags: Vec<ArtifactTag>,
    /// Its labels.
    pub labels: Vec<super::labels::Label>,
}

impl From<crate::artifacts::ArtifactWithTags> for Artifact {
    fn from((mut a, tags): crate::artifacts::ArtifactWithTags) -> Self {
        let labels = std::mem::take(&mut a.labels).into_iter().map(super::labels::Label::from).collect();
        let kind =
            ArtifactKind::classify(&a.media_type, a.artifact_type.as_deref(), a.config_media_type.as_deref())
                .harbor_type();
        let config = a.config_media_type.clone().unwrap_or_default();
        Self {
            id: a.id,
            kind,
            media_type: if config.is_empty() { a.media_type.clone() } else { config },
            manifest_media_type: a.media_type,
            artifact_type: a.artifact_type,
            digest: a.digest,
            size: a.total_size,
            repository_id: a.repository_id,
            push_time: rfc3339_ms(a.pushed_at),
            pull_time: a.pulled_at.map(rfc3339_ms),
            tags: tags
                .into_iter()
                .map(|t| ArtifactTag {
                    name: t.name,
                    repository_id: a.repository_id,
                    artifact_id: t.manifest_id,
                    push_time: rfc3339_ms(t.pushed_at),
                    pull_time: t.pulled_at.map(rfc3339_ms),
                    immutable: t.immutable,
                })
                .collect(),
            labels,
        }
    }
}

/// `POST …/artifacts/{reference}/tags` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TagReq {
    /// The tag to add.
    pub name: String,
}

/// An audit log entry (Harbor's `AuditLog`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditLog {
    /// Id.
    pub id: i64,
    /// Who.
    pub username: String,
    /// What, e.g. `library/app:v1`.
    pub resource: String,
    /// `artifact`, `tag`, `project` or `user`.
    pub resource_type: String,
    /// `login`, `pull`, `push`, `delete` or `create`.
    pub operation: String,
    /// When (RFC 3339).
    pub op_time: String,
    /// From where.
    pub client_ip: String,
}

impl From<crate::db::audit::AuditRow> for AuditLog {
    fn from(a: crate::db::audit::AuditRow) -> Self {
        Self {
            id: a.id,
            username: a.username,
            resource: a.resource,
            resource_type: a.resource_type,
            operation: a.operation,
            op_time: rfc3339_ms(a.op_time),
            client_ip: a.client_ip,
        }
    }
}

/// One access of a robot permission (Harbor's `Access`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RobotAccess {
    /// `repository`, `artifact` or `tag`.
    pub resource: String,
    /// `pull`, `push` or `delete`.
    pub action: String,
}

/// A robot permission (Harbor's `RobotPermission`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RobotPermission {
    /// `project`.
    pub kind: String,
    /// The project name.
    pub namespace: String,
    /// The accesses.
    pub access: Vec<RobotAccess>,
}

impl RobotPermission {
    /// Harbor's shape of `grants` in project `namespace`.
    pub fn of(namespace: &str, g: crate::auth::RobotPermissions) -> Self {
        let mut access = Vec::new();
        let mut add = |on: bool, resource: &str, action: &str| {
            if on {
                access.push(RobotAccess { resource: resource.into(), action: action.into() });
            }
        };
        add(g.pull, "repository", "pull");
        add(g.push, "repository", "push");
        add(g.delete, "artifact", "delete");
        Self { kind: "project".into(), namespace: namespace.into(), access }
    }
}

/// A robot account (Harbor's `Robot`); the secret is never part of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Robot {
    /// Id.
    pub id: i64,
    /// Full name, `robot$<project>+<name>`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `project` or `system`.
    pub level: &'static str,
    /// Disabled robots are refused.
    pub disable: bool,
    /// Expiry in unix seconds; -1 never.
    pub expires_at: i64,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last change (RFC 3339).
    pub update_time: String,
    /// Permissions.
    pub permissions: Vec<RobotPermission>,
}

impl Robot {
    /// The API shape of `r` in project `project`.
    pub fn of(r: crate::db::robots::RobotRow, project: &str) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            level: if r.project_id.is_some() { "project" } else { "system" },
            disable: r.disabled,
            expires_at: if r.expires_at < 0 { -1 } else { r.expires_at / 1000 },
            creation_time: rfc3339_ms(r.created_at),
            update_time: rfc3339_ms(r.updated_at),
            permissions: match r.project_id {
                Some(_) => vec![RobotPermission::of(project, r.grants)],
                None => r
                    .permissions
                    .iter()
                    .map(|g| RobotPermission::of(g.project.as_deref().unwrap_or("*"), g.grants))
                    .collect(),
            },
        }
    }
}

/// `POST /robots` and `PUT /robots/{id}` body (Harbor's `RobotCreate`).
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct RobotReq {
    /// Short name (create only).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Days until expiry; -1 never (create only).
    pub duration: Option<i64>,
    /// `project` (the default) or `system`.
    pub level: Option<String>,
    /// Disabled.
    pub disable: Option<bool>,
    /// Permissions: for a project robot one entry, its project; for a system robot one entry
    /// per project, namespace `*` for every project.
    pub permissions: Option<Vec<RobotPermission>>,
}

/// `PATCH /robots/{id}` body.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct RobotSecretReq {
    /// The new secret; empty or absent for a random one.
    pub secret: Option<String>,
}

/// Harbor's `ScheduleObj`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct ScheduleObj {
    /// `Hourly`, `Daily`, `Weekly`, `Custom`, `Manual`, `None` (or `Schedule` for a run the
    /// schedule started).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Six-field cron expression (`Custom`).
    #[serde(default)]
    pub cron: String,
    /// When the schedule fires next (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_scheduled_time: Option<String>,
}

/// `POST`/`PUT /system/gc/schedule` body (Harbor's `Schedule`).
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct GcScheduleReq {
    /// When to run.
    #[serde(default)]
    pub schedule: Option<ScheduleObj>,
    /// What to do.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<crate::gc::collector::GcParams>,
}

/// A garbage collection run (Harbor's `GCHistory`, plus the counters Harbor keeps in its log).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GcHistory {
    /// Run id.
    pub id: i64,
    /// Always `GARBAGE_COLLECTION`.
    pub job_name: &'static str,
    /// `MANUAL`, `SCHEDULE` or `CLI`.
    pub job_kind: String,
    /// The parameters as a JSON string, as Harbor sends them.
    pub job_parameters: String,
    /// The schedule type that started it.
    pub schedule: ScheduleObj,
    /// `Pending`, `Running`, `Success`, `Error` or `Stopped`.
    pub job_status: String,
    /// Always false (runs are kept).
    pub deleted: bool,
    /// Creation time (RFC 3339).
    pub creation_time: String,
    /// Last progress (RFC 3339).
    pub update_time: String,
    /// Start of work (RFC 3339).
    pub start_time: Option<String>,
    /// End of work (RFC 3339).
    pub end_time: Option<String>,
    /// Only counted.
    pub dry_run: bool,
    /// Blobs deleted (dry run: that would be).
    pub blobs_deleted: i64,
    /// Manifests deleted (dry run: that would be).
    pub manifests_deleted: i64,
    /// Abandoned upload sessions purged (dry run: that would be).
    pub uploads_purged: i64,
    /// Bytes freed (dry run: that would be).
    pub bytes_freed: i64,
}

impl From<crate::db::gc_runs::GcRunRow> for GcHistory {
    fn from(r: crate::db::gc_runs::GcRunRow) -> Self {
        let params = crate::gc::collector::GcParams {
            delete_untagged: r.delete_untagged,
            dry_run: r.dry_run,
            workers: Some(r.workers as usize),
        };
        let kind = if r.trigger_kind == Trigger::Schedule { "Schedule" } else { "Manual" };
        Self {
            id: r.id,
            job_name: "GARBAGE_COLLECTION",
            job_kind: r.trigger_kind.as_str().to_owned(),
            job_parameters: serde_json::to_string(&params).unwrap_or_default(),
            schedule: ScheduleObj { kind: kind.into(), cron: String::new(), next_scheduled_time: None },
            job_status: r.status.as_str().to_owned(),
            deleted: false,
            creation_time: rfc3339_ms(r.created_at),
            update_time: rfc3339_ms(r.updated_at),
            start_time: r.started_at.map(rfc3339_ms),
            end_time: r.ended_at.map(rfc3339_ms),
            dry_run: r.dry_run,
            blobs_deleted: r.blobs_deleted,
            manifests_deleted: r.manifests_deleted,
            uploads_purged: r.uploads_purged,
            bytes_freed: r.bytes_freed,
        }
    }
}

/// `GET /system/gc/schedule` answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GcScheduleView {
    /// The schedule (`None` when unset).
    pub schedule: ScheduleObj,
    /// The parameters scheduled runs use, as a JSON string (Harbor's shape).
    pub job_parameters: String,
    /// The same parameters as an object.
    #[schema(value_type = Object)]
    pub parameters: crate::gc::collector::GcParams,
    /// Creation time (RFC 3339).
    pub creation_time: Option<String>,
    /// Last change (RFC 3339).
    pub update_time: Option<String>,
}

/// Harbor's `RetentionExecution`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionExecution {
    /// Id.
    pub id: i64,
    /// Its policy.
    pub policy_id: i64,
    /// Start (RFC 3339).
    pub start_time: String,
    /// End (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// `Running`, `Success`, `Error` or `Stopped`.
    pub status: String,
    /// `MANUAL` or `SCHEDULE`.
    pub trigger: String,
    /// Nothing was deleted.
    pub dry_run: bool,
}

impl From<crate::db::retention::ExecutionRow> for RetentionExecution {
    fn from(e: crate::db::retention::ExecutionRow) -> Self {
        Self {
            id: e.id,
            policy_id: e.policy_id,
            start_time: rfc3339_ms(e.created_at),
            end_time: e.ended_at.map(rfc3339_ms),
            status: e.status.as_str().to_owned(),
            trigger: e.trigger_kind.as_str().to_owned(),
            dry_run: e.dry_run,
        }
    }
}

/// Harbor's `RetentionExecutionTask`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionTask {
    /// Id.
    pub id: i64,
    /// Its execution.
    pub execution_id: i64,
    /// Full repository name.
    pub repository: String,
    /// Harbor's job id (the task id here).
    pub job_id: String,
    /// `Running`, `Success`, `Error` or `Stopped`.
    pub status: String,
    /// Harbor's numeric status code (0 pending, 1 running, 2 stopped, 3 error, 4 success).
    pub status_code: i64,
    /// Harbor's revision counter.
    pub status_revision: i64,
    /// Start (RFC 3339).
    pub start_time: String,
    /// End (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Candidates in the repository.
    pub total: i64,
    /// Candidates retained.
    pub retained: i64,
}

impl From<crate::db::retention::TaskRow> for RetentionTask {
    fn from(t: crate::db::retention::TaskRow) -> Self {
        Self {
            id: t.id,
            execution_id: t.execution_id,
            repository: t.repository,
            job_id: t.id.to_string(),
            status: t.status.as_str().to_owned(),
            status_code: t.status.code(),
            status_revision: t.ended_at.unwrap_or(t.started_at),
            start_time: rfc3339_ms(t.started_at),
            end_time: t.ended_at.map(rfc3339_ms),
            total: t.total,
            retained: t.retained,
        }
    }
}

/// `POST /retentions/{id}/executions` body.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct RetentionRunReq {
    /// Only report.
    #[serde(default)]
    pub dry_run: bool,
}

/// `PATCH /retentions/{id}/executions/{eid}` body.
#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct RetentionOperateReq {
    /// Only `stop`.
    #[serde(default)]
    pub action: String,
}
