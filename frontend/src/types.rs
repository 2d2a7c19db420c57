//! Shapes the portal pages exchange with the server (and the server fills from its domain).

use serde::{Deserialize, Serialize};

/// Who is looking: a signed-in user, or nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// User id; 0 when anonymous.
    pub id: i64,
    /// Username; empty when anonymous.
    pub name: String,
    /// System administrator.
    pub sysadmin: bool,
    /// The anti-forgery token the viewer's forms carry back; empty when anonymous.
    pub csrf: String,
}

impl Viewer {
    /// Whether someone is signed in.
    pub fn signed_in(&self) -> bool {
        self.id != 0
    }
}

/// A page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows across all pages.
    pub total: i64,
    /// 1-based page number.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

impl<T> Page<T> {
    /// Number of pages (at least 1).
    pub fn pages(&self) -> i64 {
        ((self.total + self.page_size - 1) / self.page_size.max(1)).max(1)
    }
}

/// A project in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    /// Name.
    pub name: String,
    /// Public projects can be pulled by anyone.
    pub public: bool,
    /// Repositories in it.
    pub repo_count: i64,
    /// Bytes stored (each blob once).
    pub storage: i64,
    /// The viewer's role, when a member.
    pub role: Option<String>,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// A project's page header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    /// Name.
    pub name: String,
    /// Public or private.
    pub public: bool,
    /// The viewer may push (shows the push command).
    pub can_push: bool,
    /// The viewer may manage tag retention (shows the Retention tab).
    pub can_manage_retention: bool,
    /// The viewer may see the members (shows the Members tab).
    pub can_list_members: bool,
    /// The viewer is a project admin: members, robots, logs and settings.
    pub can_admin: bool,
    /// Repositories in the project (a project deletes only when empty).
    pub repo_count: i64,
    /// The registry host for commands (`host:port`).
    pub registry: String,
}

/// A repository in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySummary {
    /// Full name, `<project>/<path>`.
    pub name: String,
    /// Artifacts in it.
    pub artifact_count: i64,
    /// Pulls recorded.
    pub pull_count: i64,
    /// Last change (RFC 3339).
    pub updated: String,
}

/// An artifact in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactSummary {
    /// Digest.
    pub digest: String,
    /// Tags pointing at it.
    pub tags: Vec<String>,
    /// `image`, `index` or the artifact type.
    pub kind: String,
    /// Size of the manifest and everything it references.
    pub size: i64,
    /// Push time (RFC 3339).
    pub pushed: String,
    /// Last pull time (RFC 3339).
    pub pulled: Option<String>,
    /// For an index: the OS/arch of each platform it holds.
    pub platforms: Vec<String>,
}

/// A layer (or other blob) an artifact references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerView {
    /// Digest.
    pub digest: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: i64,
}

/// One platform of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformView {
    /// The child manifest's digest.
    pub digest: String,
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// Manifest size.
    pub size: i64,
}

/// An artifact's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactView {
    /// Repository name.
    pub repository: String,
    /// The listing fields.
    pub summary: ArtifactSummary,
    /// Manifest media type.
    pub media_type: String,
    /// The manifest, pretty-printed.
    pub manifest: String,
    /// Config fields worth showing (created, os/arch, entrypoint, cmd, env, labels, ports), in order.
    pub config: Vec<(String, String)>,
    /// Build history lines.
    pub history: Vec<String>,
    /// Layers (images).
    pub layers: Vec<LayerView>,
    /// Platforms (indexes).
    pub platforms: Vec<PlatformView>,
    /// Artifacts attached through `subject`.
    pub referrers: Vec<ArtifactSummary>,
    /// `docker pull` by digest.
    pub pull_by_digest: String,
    /// The viewer may delete it and its tags.
    pub can_delete: bool,
    /// The viewer may add tags.
    pub can_tag: bool,
}

/// A garbage collection run in the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcRunView {
    /// Run id.
    pub id: i64,
    /// `MANUAL`, `SCHEDULE`, `CLI`.
    pub trigger: String,
    /// Only counted.
    pub dry_run: bool,
    /// Untagged manifests were deleted first.
    pub delete_untagged: bool,
    /// Harbor's status words.
    pub status: String,
    /// Blobs deleted (or that would be).
    pub blobs: i64,
    /// Manifests deleted (or that would be).
    pub manifests: i64,
    /// Bytes freed (or that would be).
    pub bytes: i64,
    /// Creation time (RFC 3339).
    pub created: String,
    /// How long it took, when ended (milliseconds).
    pub took_ms: Option<i64>,
}

/// The garbage collection admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcView {
    /// `None`, `Hourly`, `Daily`, `Weekly` or `Custom`.
    pub schedule_kind: String,
    /// The cron expression, when scheduled.
    pub cron: String,
    /// Next firing (RFC 3339).
    pub next: Option<String>,
    /// Runs, newest first.
    pub runs: Page<GcRunView>,
}

/// A retention rule, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRuleView {
    /// "retain the 10 most recently pushed artifacts in repositories matching `**` …".
    pub text: String,
    /// Disabled rules retain nothing.
    pub disabled: bool,
    /// The rule's fields, to fill the edit form (`None` for rules the form cannot express,
    /// such as several selectors written through the API).
    pub form: Option<NewRetentionRule>,
}

/// One repository of a retention execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionTaskView {
    /// Task id.
    pub id: i64,
    /// Full repository name.
    pub repository: String,
    /// Harbor's status words.
    pub status: String,
    /// Artifacts considered.
    pub total: i64,
    /// Artifacts retained.
    pub retained: i64,
}

/// A retention execution with its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionExecutionView {
    /// Execution id.
    pub id: i64,
    /// `MANUAL` or `SCHEDULE`.
    pub trigger: String,
    /// Nothing was deleted.
    pub dry_run: bool,
    /// `Running`, `Success`, `Error`, `Stopped`.
    pub status: String,
    /// Start (RFC 3339).
    pub started: String,
    /// How long it took, when ended (milliseconds).
    pub took_ms: Option<i64>,
    /// Per-repository results.
    pub tasks: Vec<RetentionTaskView>,
}

/// A project's Retention tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionView {
    /// The policy id, once a rule exists.
    pub policy_id: Option<i64>,
    /// The rules, in order.
    pub rules: Vec<RetentionRuleView>,
    /// The schedule's cron expression (empty: manual runs only).
    pub cron: String,
    /// Next scheduled run (RFC 3339).
    pub next: Option<String>,
    /// Executions, newest first.
    pub executions: Page<RetentionExecutionView>,
}

/// A rule as the Retention tab's form submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewRetentionRule {
    /// Harbor's template name.
    pub template: String,
    /// K, N or days (ignored by `always`).
    pub count: i64,
    /// `repoExcludes` rather than `repoMatches`.
    pub repo_excludes: bool,
    /// Repository pattern.
    pub repo_pattern: String,
    /// `excludes` rather than `matches`.
    pub tag_excludes: bool,
    /// Tag pattern.
    pub tag_pattern: String,
    /// Untagged artifacts are considered.
    pub untagged: bool,
}

/// A user in the administrators' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// System administrator.
    pub sysadmin: bool,
    /// Cannot sign in.
    pub disabled: bool,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// What an administrator changes about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserChange {
    /// Disable (true) or enable.
    Disabled(bool),
    /// Make (true) or unmake a system administrator.
    Admin(bool),
    /// Set a new password.
    Password(String),
}

/// A project member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// Membership id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Harbor's role id.
    pub role_id: i64,
    /// Harbor's role name.
    pub role: String,
}

/// A robot account of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotView {
    /// Id.
    pub id: i64,
    /// Full name (`robot$<project>+<name>`), what `docker login` takes.
    pub name: String,
    /// Description.
    pub description: String,
    /// "pull, push".
    pub permissions: String,
    /// Disabled.
    pub disabled: bool,
    /// Expiry (RFC 3339), or `None` for never.
    pub expires: Option<String>,
    /// Expired already.
    pub expired: bool,
}

/// A new robot's credentials, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotSecret {
    /// Full name.
    pub name: String,
    /// The secret.
    pub secret: String,
}

/// An audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Who.
    pub username: String,
    /// `push`, `pull`, `delete`, `login`, …
    pub operation: String,
    /// What.
    pub resource: String,
    /// From where.
    pub client_ip: String,
    /// When (RFC 3339).
    pub time: String,
}

/// A repository's artifacts page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactList {
    /// One page of artifacts.
    pub artifacts: Page<ArtifactSummary>,
    /// The viewer may delete the repository (shows the button).
    pub can_delete: bool,
}
