//! What the pages need from the backend. The server implements [`Portal`] over its domain
//! services and provides it as context; server functions call it. The wasm build never sees it,
//! so it stays free of database and runtime crates.

use std::sync::Arc;

use crate::types::*;

/// The backend, as the pages see it.
#[async_trait::async_trait]
pub trait Portal: Send + Sync {
    /// Checks credentials and signs the request's session in (a fresh id every time).
    async fn sign_in(&self, username: &str, password: &str) -> PortalResult<()>;
    /// Ends the request's session, server-side; where to go next when it is not the sign-in
    /// page (the provider's sign-out, for a single sign-on user when so configured).
    async fn sign_out(&self, who: &Viewer) -> Option<String>;
    /// Projects the viewer may see whose name contains `q`.
    async fn projects(&self, who: &Viewer, q: &str, page: i64) -> PortalResult<Page<ProjectSummary>>;
    /// Creates a project; with `proxy_of`, a proxy cache of that endpoint; with `group_of`, a
    /// group of those projects.
    async fn create_project(
        &self,
        who: &Viewer,
        name: &str,
        public: bool,
        proxy_of: Option<i64>,
        group_of: &[String],
    ) -> PortalResult<()>;
    /// Registry endpoints whose name contains `q` (system administrators).
    async fn endpoints(&self, who: &Viewer, q: &str, page: i64) -> PortalResult<Page<EndpointSummary>>;
    /// Adds a registry endpoint.
    async fn create_endpoint(&self, who: &Viewer, new: &NewEndpoint) -> PortalResult<()>;
    /// Checks that a registry answers with the form's settings, or endpoint `id`'s stored
    /// ones; answers what was checked.
    async fn test_endpoint(&self, who: &Viewer, id: Option<i64>, new: &NewEndpoint) -> PortalResult<String>;
    /// Deletes a registry endpoint.
    async fn delete_endpoint(&self, who: &Viewer, id: i64) -> PortalResult<()>;
    /// The replication page (system administrators).
    async fn replication(&self, who: &Viewer, page: i64) -> PortalResult<ReplicationView>;
    /// Adds a replication rule.
    async fn create_replication_rule(&self, who: &Viewer, rule: &NewReplicationRule) -> PortalResult<()>;
    /// Starts a rule now; answers the execution's id.
    async fn run_replication(&self, who: &Viewer, id: i64) -> PortalResult<i64>;
    /// Deletes a rule with its history.
    async fn delete_replication_rule(&self, who: &Viewer, id: i64) -> PortalResult<()>;
    /// Asks an execution to stop.
    async fn stop_replication(&self, who: &Viewer, execution: i64) -> PortalResult<()>;
    /// An execution and its tasks (first hundred) with their logs.
    async fn replication_run(
        &self,
        who: &Viewer,
        execution: i64,
    ) -> PortalResult<(ReplicationRun, Vec<ReplicationTaskView>)>;
    /// A project's header.
    async fn project(&self, who: &Viewer, name: &str) -> PortalResult<ProjectView>;
    /// Repositories of a project whose name contains `q`.
    async fn repositories(
        &self,
        who: &Viewer,
        project: &str,
        q: &str,
        page: i64,
    ) -> PortalResult<Page<RepositorySummary>>;
    /// Artifacts of a repository in Harbor's `sort` order (`-push_time` when empty).
    async fn artifacts(
        &self,
        who: &Viewer,
        repository: &str,
        sort: &str,
        page: i64,
    ) -> PortalResult<ArtifactList>;
    /// One artifact by tag or digest.
    async fn artifact(&self, who: &Viewer, repository: &str, reference: &str) -> PortalResult<ArtifactView>;
    /// The global labels (any signed-in viewer may list them).
    async fn global_labels(&self, who: &Viewer) -> PortalResult<Vec<LabelChip>>;
    /// Deletes global label `id` (system administrators); a project's label is not one.
    async fn delete_global_label(&self, who: &Viewer, id: i64) -> PortalResult<()>;
    /// Creates a global label (system administrators).
    async fn create_global_label(&self, who: &Viewer, name: &str, color: &str) -> PortalResult<()>;
    /// Every project's storage quota (system administrators), by project name.
    async fn quotas(&self, who: &Viewer, page: i64) -> PortalResult<Page<QuotaView>>;
    /// A project's summary tab.
    async fn project_dashboard(&self, who: &Viewer, project: &str) -> PortalResult<ProjectDashboard>;
    /// The administrators' dashboard.
    async fn registry_dashboard(&self, who: &Viewer) -> PortalResult<RegistryDashboard>;
    /// The whole registry's audit log (system administrators), newest first.
    async fn audit_logs(&self, who: &Viewer, page: i64) -> PortalResult<Page<LogEntry>>;
    /// Projects, repositories and artifacts matching `q` that the viewer may see.
    async fn search(&self, who: &Viewer, q: &str) -> PortalResult<SearchResults>;
    /// One page of one layer's entries (those whose path contains `q`).
    async fn layer_files(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        layer: &str,
        q: &str,
        page: i64,
    ) -> PortalResult<LayerFiles>;
    /// One directory of an image's merged filesystem.
    async fn filesystem(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        path: &str,
        page: i64,
    ) -> PortalResult<TreeListing>;
    /// Two images of a repository compared.
    async fn compare(
        &self,
        who: &Viewer,
        repository: &str,
        reference: &str,
        with: &str,
    ) -> PortalResult<Comparison>;
    /// Deletes a tag.
    async fn delete_tag(&self, who: &Viewer, repository: &str, tag: &str) -> PortalResult<()>;
    /// Adds a tag to an artifact.
    async fn add_tag(&self, who: &Viewer, repository: &str, digest: &str, tag: &str) -> PortalResult<()>;
    /// Deletes an artifact with its tags.
    async fn delete_artifact(&self, who: &Viewer, repository: &str, digest: &str) -> PortalResult<()>;
    /// The garbage collection page (system administrators).
    async fn gc(&self, who: &Viewer, page: i64) -> PortalResult<GcView>;
    /// Starts a collection now.
    async fn run_gc(&self, who: &Viewer, dry_run: bool, delete_untagged: bool) -> PortalResult<i64>;
    /// Sets the collection schedule (`None` removes it).
    async fn set_gc_schedule(
        &self,
        who: &Viewer,
        schedule: Schedule,
        delete_untagged: bool,
    ) -> PortalResult<()>;
    /// A collection's log.
    async fn gc_log(&self, who: &Viewer, id: i64) -> PortalResult<String>;
    /// A project's Retention tab: rules, schedule and executions (one page).
    async fn retention(&self, who: &Viewer, project: &str, page: i64) -> PortalResult<RetentionView>;
    /// Adds a rule (creating the policy with the first one), or replaces rule `index` (from 0).
    async fn save_retention_rule(
        &self,
        who: &Viewer,
        project: &str,
        index: Option<usize>,
        rule: NewRetentionRule,
    ) -> PortalResult<()>;
    /// Removes rule `index` (from 0).
    async fn delete_retention_rule(&self, who: &Viewer, project: &str, index: usize) -> PortalResult<()>;
    /// Sets when the project's retention runs.
    async fn set_retention_schedule(
        &self,
        who: &Viewer,
        project: &str,
        schedule: Schedule,
    ) -> PortalResult<()>;
    /// Changes the viewer's own password (the old one checked as a sign-in is). Every session
    /// of the viewer ends; this request's session goes on under a new id.
    async fn change_own_password(&self, who: &Viewer, old: &str, new: &str) -> PortalResult<()>;
    /// Users whose name contains `q` (system administrators).
    async fn users(&self, who: &Viewer, q: &str, page: i64) -> PortalResult<Page<UserSummary>>;
    /// Creates a user (system administrators).
    async fn create_user(
        &self,
        who: &Viewer,
        username: &str,
        email: &str,
        password: &str,
    ) -> PortalResult<()>;
    /// Changes a user (system administrators).
    async fn change_user(&self, who: &Viewer, id: i64, change: UserChange) -> PortalResult<()>;
    /// The authentication settings (system administrators).
    async fn auth_settings(&self, who: &Viewer) -> PortalResult<AuthSettingsView>;
    /// Saves the authentication settings a form sent (item name to text; an absent checkbox is
    /// off), or only tries the LDAP connection or finds the OIDC provider with them, as `intent`
    /// says: the answer says what happened.
    async fn save_auth_settings(
        &self,
        who: &Viewer,
        items: std::collections::HashMap<String, String>,
        intent: SettingsIntent,
    ) -> PortalResult<String>;
    /// The viewer's account page.
    async fn account(&self, who: &Viewer) -> PortalResult<AccountView>;
    /// Gives the viewer (an OIDC user) a new CLI secret and returns it.
    async fn regenerate_cli_secret(&self, who: &Viewer) -> PortalResult<String>;
    /// Makes the account of the OIDC sign-in this browser is in the middle of under `username`
    /// (automatic onboarding off), signs it in, and returns where to go.
    async fn oidc_onboard(&self, username: &str) -> PortalResult<String>;
    /// User groups whose name contains `q` (system administrators).
    async fn groups(&self, who: &Viewer, q: &str, page: i64) -> PortalResult<Page<GroupView>>;
    /// Adds a user group: an LDAP group by DN (checked against the directory), else by name.
    async fn add_group(&self, who: &Viewer, group_type: GroupType, name: &str, dn: &str) -> PortalResult<()>;
    /// Deletes a user group and its memberships.
    async fn delete_group(&self, who: &Viewer, id: i64) -> PortalResult<()>;
    /// The members of a project.
    async fn members(&self, who: &Viewer, project: &str) -> PortalResult<Vec<MemberView>>;
    /// Adds user `username` to a project with `role`.
    /// Adds a user (by name) or, with `group`, a user group (by name or LDAP DN).
    async fn add_member(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        group: bool,
        role: Role,
    ) -> PortalResult<()>;
    /// Changes a member's role.
    async fn set_member_role(&self, who: &Viewer, project: &str, member: i64, role: Role)
    -> PortalResult<()>;
    /// Removes a member.
    async fn remove_member(&self, who: &Viewer, project: &str, member: i64) -> PortalResult<()>;
    /// The robot accounts of a project.
    async fn robots(&self, who: &Viewer, project: &str) -> PortalResult<Vec<RobotView>>;
    /// Creates a robot account; its secret comes back once.
    async fn create_robot(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        permissions: RobotPermissions,
        days: i64,
    ) -> PortalResult<RobotSecret>;
    /// Disables, enables or deletes a robot account.
    async fn change_robot(&self, who: &Viewer, id: i64, change: RobotAction) -> PortalResult<()>;
    /// A project's audit log, newest first.
    async fn project_logs(&self, who: &Viewer, project: &str, page: i64) -> PortalResult<Page<LogEntry>>;
    /// Makes a project public or private.
    async fn set_project_public(&self, who: &Viewer, project: &str, public: bool) -> PortalResult<()>;
    /// Deletes an empty project.
    async fn delete_project(&self, who: &Viewer, project: &str) -> PortalResult<()>;
    /// Deletes a repository with all its artifacts.
    async fn delete_repository(&self, who: &Viewer, repository: &str) -> PortalResult<()>;
    /// Starts a run (or a dry run); returns the execution id.
    async fn run_retention(&self, who: &Viewer, project: &str, dry_run: bool) -> PortalResult<i64>;
    /// The labels a project's artifacts may carry (global ones and its own).
    async fn project_labels(&self, who: &Viewer, project: &str) -> PortalResult<Vec<LabelChip>>;
    /// Creates a label of the project (or a global one, for system administrators).
    async fn create_label(
        &self,
        who: &Viewer,
        project: &str,
        name: &str,
        color: &str,
        global: bool,
    ) -> PortalResult<()>;
    /// Deletes a label.
    async fn delete_label(&self, who: &Viewer, id: i64) -> PortalResult<()>;
    /// Puts a label on an artifact.
    async fn label_artifact(
        &self,
        who: &Viewer,
        repository: &str,
        digest: &str,
        label: i64,
    ) -> PortalResult<()>;
    /// Takes a label off an artifact.
    async fn unlabel_artifact(
        &self,
        who: &Viewer,
        repository: &str,
        digest: &str,
        label: i64,
    ) -> PortalResult<()>;
    /// Sets a project's storage limit in bytes (-1: none).
    async fn set_project_quota(&self, who: &Viewer, project: &str, limit: i64) -> PortalResult<()>;
    /// Audit log retention: schedule and latest runs (system administrators).
    async fn purge(&self, who: &Viewer) -> PortalResult<PurgeView>;
    /// Purges (or counts) audit entries older than `keep_hours` of `operations` now.
    async fn run_purge(
        &self,
        who: &Viewer,
        keep_hours: i64,
        operations: &str,
        dry_run: bool,
    ) -> PortalResult<i64>;
    /// Sets the purge schedule.
    async fn set_purge_schedule(
        &self,
        who: &Viewer,
        schedule: Schedule,
        keep_hours: i64,
        operations: &str,
    ) -> PortalResult<()>;
    /// A project's Webhooks tab.
    async fn webhooks(&self, who: &Viewer, project: &str) -> PortalResult<WebhooksView>;
    /// Adds a webhook policy.
    async fn add_webhook(&self, who: &Viewer, project: &str, hook: &NewWebhook) -> PortalResult<()>;
    /// Switches a webhook policy on or off.
    async fn switch_webhook(&self, who: &Viewer, project: &str, id: i64, on: bool) -> PortalResult<()>;
    /// Deletes a webhook policy.
    async fn delete_webhook(&self, who: &Viewer, project: &str, id: i64) -> PortalResult<()>;
    /// A project's tag immutability rules.
    async fn immutable_rules(&self, who: &Viewer, project: &str) -> PortalResult<Vec<ImmutableRuleView>>;
    /// Adds a tag immutability rule.
    async fn add_immutable_rule(
        &self,
        who: &Viewer,
        project: &str,
        rule: &NewImmutableRule,
    ) -> PortalResult<()>;
    /// Switches a tag immutability rule on or off.
    async fn switch_immutable_rule(&self, who: &Viewer, project: &str, id: i64, on: bool)
    -> PortalResult<()>;
    /// Deletes a tag immutability rule.
    async fn delete_immutable_rule(&self, who: &Viewer, project: &str, id: i64) -> PortalResult<()>;
}

/// How the server hands its [`Portal`] to the pages (Leptos context).
pub type SharedPortal = Arc<dyn Portal>;
