//! Shapes the portal pages exchange with the server (and the server fills from its domain), and
//! the vocabulary both sides speak: roles, schedules, run statuses, triggers, retention
//! templates, artifact kinds and robot permissions are defined here once. The server's
//! database rows, domain rules and Harbor's JSON API all use these types; Harbor's wire shapes
//! (the server's `api/types.rs`) are built from them.

use serde::{Deserialize, Serialize};

/// A stored or sent word that names nothing in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord(pub String);

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown word {:?}", self.0)
    }
}

impl std::error::Error for UnknownWord {}

/// `TryFrom<String>` through a type's `parse` (how database rows read the words they store).
macro_rules! words {
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = UnknownWord;

            fn try_from(word: String) -> Result<Self, UnknownWord> {
                Self::parse(&word).ok_or(UnknownWord(word))
            }
        }
    )*};
}

words!(ScheduleKind, RunStatus, Trigger, RetentionTemplate, RegistryKind, EndpointHealth, ReplicationTrigger);

/// Harbor's project roles, with Harbor's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Everything in the project, including members, robots, settings and deleting it.
    ProjectAdmin = 1,
    /// Pull, push, create repositories, add tags, create and run retention.
    Developer = 2,
    /// Pull and read the project and its members.
    Guest = 3,
    /// A developer who also deletes artifacts, tags and repositories and manages immutability.
    Maintainer = 4,
    /// Pull only.
    LimitedGuest = 5,
}

impl TryFrom<i64> for Role {
    type Error = UnknownWord;

    fn try_from(id: i64) -> Result<Self, UnknownWord> {
        Self::from_id(id).ok_or_else(|| UnknownWord(id.to_string()))
    }
}

impl Role {
    /// Every role, strongest first (the order pickers show them in).
    pub const ALL: [Self; 5] =
        [Self::ProjectAdmin, Self::Maintainer, Self::Developer, Self::Guest, Self::LimitedGuest];

    /// The role with Harbor's `role_id`.
    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Harbor's `role_id`.
    pub fn id(self) -> i64 {
        self as i64
    }

    /// Harbor's `role_name`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProjectAdmin => "projectAdmin",
            Self::Developer => "developer",
            Self::Guest => "guest",
            Self::Maintainer => "maintainer",
            Self::LimitedGuest => "limitedGuest",
        }
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::ProjectAdmin => "Project admin",
            Self::Developer => "Developer",
            Self::Guest => "Guest",
            Self::Maintainer => "Maintainer",
            Self::LimitedGuest => "Limited guest",
        }
    }
}

/// Where a user group comes from, with Harbor's `group_type` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupType {
    /// A directory group, known by its DN.
    Ldap = 1,
    /// A group named by an HTTP authentication proxy.
    Http = 2,
    /// A group named in the OIDC provider's groups claim.
    Oidc = 3,
}

impl GroupType {
    /// Every type, in Harbor's order.
    pub const ALL: [Self; 3] = [Self::Ldap, Self::Http, Self::Oidc];

    /// Harbor's `group_type`.
    pub fn id(self) -> i64 {
        self as i64
    }

    /// The type with Harbor's `group_type`.
    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ldap => "LDAP",
            Self::Http => "HTTP",
            Self::Oidc => "OIDC",
        }
    }
}

impl TryFrom<i64> for GroupType {
    type Error = UnknownWord;

    fn try_from(id: i64) -> Result<Self, UnknownWord> {
        Self::from_id(id).ok_or_else(|| UnknownWord(id.to_string()))
    }
}

/// How a job is scheduled, as Harbor's schedule types name it (the form's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ScheduleKind {
    /// Manual runs only.
    #[default]
    None,
    /// At the top of every hour.
    Hourly,
    /// At midnight UTC.
    Daily,
    /// At midnight UTC from Saturday to Sunday.
    Weekly,
    /// A cron expression of the user's.
    Custom,
}

impl ScheduleKind {
    /// Every kind, in the order the forms offer them.
    pub const ALL: [Self; 5] = [Self::None, Self::Hourly, Self::Daily, Self::Weekly, Self::Custom];

    /// Harbor's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Hourly => "Hourly",
            Self::Daily => "Daily",
            Self::Weekly => "Weekly",
            Self::Custom => "Custom",
        }
    }

    /// The kind Harbor's word names; Harbor's API also says `Schedule` for a custom cron.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "Schedule" => Some(Self::Custom),
            w => Self::ALL.into_iter().find(|k| k.as_str() == w),
        }
    }
}

/// A job's schedule: Harbor's six-field cron expressions (seconds first, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Schedule {
    /// Manual runs only.
    #[default]
    None,
    /// `0 0 * * * *`.
    Hourly,
    /// `0 0 0 * * *`.
    Daily,
    /// `0 0 0 * * 0`.
    Weekly,
    /// Any other expression.
    Custom(String),
}

impl Schedule {
    const HOURLY: &str = "0 0 * * * *";
    const DAILY: &str = "0 0 0 * * *";
    const WEEKLY: &str = "0 0 0 * * 0";

    /// The schedule a form chose: the presets ignore `cron`, custom takes it trimmed.
    pub fn new(kind: ScheduleKind, cron: &str) -> Self {
        match kind {
            ScheduleKind::None => Self::None,
            ScheduleKind::Hourly => Self::Hourly,
            ScheduleKind::Daily => Self::Daily,
            ScheduleKind::Weekly => Self::Weekly,
            ScheduleKind::Custom => Self::Custom(cron.trim().to_owned()),
        }
    }

    /// The schedule a stored cron expression is (empty: none); the presets are recognised.
    pub fn from_cron(cron: &str) -> Self {
        match cron.trim() {
            "" => Self::None,
            Self::HOURLY => Self::Hourly,
            Self::DAILY => Self::Daily,
            Self::WEEKLY => Self::Weekly,
            other => Self::Custom(other.to_owned()),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> ScheduleKind {
        match self {
            Self::None => ScheduleKind::None,
            Self::Hourly => ScheduleKind::Hourly,
            Self::Daily => ScheduleKind::Daily,
            Self::Weekly => ScheduleKind::Weekly,
            Self::Custom(_) => ScheduleKind::Custom,
        }
    }

    /// Its cron expression; empty for none.
    pub fn cron(&self) -> &str {
        match self {
            Self::None => "",
            Self::Hourly => Self::HOURLY,
            Self::Daily => Self::DAILY,
            Self::Weekly => Self::WEEKLY,
            Self::Custom(c) => c,
        }
    }
}

/// Where a job run (garbage collection, retention execution or task) stands, in Harbor's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Recorded, not started.
    Pending,
    /// Going on.
    Running,
    /// Ended with everything done.
    Success,
    /// Ended with a failure (the log says which).
    Error,
    /// Ended early because someone asked it to stop.
    Stopped,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [Self::Pending, Self::Running, Self::Success, Self::Error, Self::Stopped];

    /// Harbor's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Success => "Success",
            Self::Error => "Error",
            Self::Stopped => "Stopped",
        }
    }

    /// Harbor's word for a replication execution or task in this status.
    pub fn replication_word(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "InProgress",
            Self::Success => "Succeed",
            Self::Error => "Failed",
            Self::Stopped => "Stopped",
        }
    }

    /// The status Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// Harbor's numeric status code (0 pending, 1 running, 2 stopped, 3 error, 4 success).
    pub fn code(self) -> i64 {
        match self {
            Self::Pending => 0,
            Self::Running => 1,
            Self::Stopped => 2,
            Self::Error => 3,
            Self::Success => 4,
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of registry endpoint (Harbor's adapter types) Wharf speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegistryKind {
    /// Any OCI Distribution v2 registry.
    #[serde(rename = "docker-registry")]
    DockerRegistry,
    /// Harbor, or another Wharf (the same API).
    #[serde(rename = "harbor")]
    Harbor,
    /// Docker Hub: a Distribution registry whose single-name images live under `library/`.
    #[serde(rename = "docker-hub")]
    DockerHub,
}

impl RegistryKind {
    /// Every kind, as `GET /replication/adapters` lists them.
    pub const ALL: [Self; 3] = [Self::DockerHub, Self::DockerRegistry, Self::Harbor];

    /// Harbor's adapter name (the `type` field), as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerRegistry => "docker-registry",
            Self::Harbor => "harbor",
            Self::DockerHub => "docker-hub",
        }
    }

    /// The kind Harbor's adapter name names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == word)
    }

    /// How the portal names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::DockerRegistry => "Docker Registry (Distribution)",
            Self::Harbor => "Harbor / Wharf",
            Self::DockerHub => "Docker Hub",
        }
    }

    /// The URL a new endpoint of this kind starts from in the portal's form.
    pub fn default_url(self) -> &'static str {
        match self {
            Self::DockerHub => "https://hub.docker.com",
            Self::DockerRegistry | Self::Harbor => "",
        }
    }
}

/// The events a webhook policy may subscribe to (Harbor's `event_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookEvent {
    /// A manifest was pushed.
    PushArtifact,
    /// A manifest was pulled (batched: one event per artifact, tag and puller per batch).
    PullArtifact,
    /// An artifact was deleted.
    DeleteArtifact,
    /// A push was refused for the project's quota.
    QuotaExceed,
    /// A push took the project's usage past the warning threshold.
    QuotaWarning,
    /// A replication execution ended.
    Replication,
    /// A tag retention execution ended.
    TagRetention,
}

impl WebhookEvent {
    /// Every event, in the order the portal lists them.
    pub const ALL: [Self; 7] = [
        Self::PushArtifact,
        Self::PullArtifact,
        Self::DeleteArtifact,
        Self::QuotaExceed,
        Self::QuotaWarning,
        Self::Replication,
        Self::TagRetention,
    ];

    /// Harbor's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PushArtifact => "PUSH_ARTIFACT",
            Self::PullArtifact => "PULL_ARTIFACT",
            Self::DeleteArtifact => "DELETE_ARTIFACT",
            Self::QuotaExceed => "QUOTA_EXCEED",
            Self::QuotaWarning => "QUOTA_WARNING",
            Self::Replication => "REPLICATION",
            Self::TagRetention => "TAG_RETENTION",
        }
    }

    /// The event Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == word)
    }

    /// The CloudEvents `type` Harbor sends for it.
    pub fn cloud_type(self) -> &'static str {
        match self {
            Self::PushArtifact => "harbor.artifact.pushed",
            Self::PullArtifact => "harbor.artifact.pulled",
            Self::DeleteArtifact => "harbor.artifact.deleted",
            Self::QuotaExceed => "harbor.quota.exceeded",
            Self::QuotaWarning => "harbor.quota.warned",
            Self::Replication => "harbor.replication.status.changed",
            Self::TagRetention => "harbor.tag_retention.finished",
        }
    }

    /// How the portal names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::PushArtifact => "Artifact pushed",
            Self::PullArtifact => "Artifact pulled",
            Self::DeleteArtifact => "Artifact deleted",
            Self::QuotaExceed => "Quota exceeded",
            Self::QuotaWarning => "Quota near its limit",
            Self::Replication => "Replication finished",
            Self::TagRetention => "Tag retention finished",
        }
    }
}

/// Where a webhook target sends (Harbor's target `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyType {
    /// An HTTP(S) `POST` of the payload.
    #[default]
    Http,
    /// A Slack incoming webhook: a message with the event.
    Slack,
}

impl NotifyType {
    /// Harbor's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Slack => "slack",
        }
    }

    /// The type Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Http, Self::Slack].into_iter().find(|t| t.as_str() == word)
    }
}

/// The JSON an HTTP target receives (Harbor's `payload_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PayloadFormat {
    /// Harbor's own shape: `type`, `occur_at`, `operator`, `event_data`.
    #[default]
    Default,
    /// A CloudEvents 1.0 envelope around the same data.
    CloudEvents,
}

impl PayloadFormat {
    /// Harbor's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "Default",
            Self::CloudEvents => "CloudEvents",
        }
    }

    /// The format Harbor's word names (an empty word is the default).
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "" | "Default" => Some(Self::Default),
            "CloudEvents" => Some(Self::CloudEvents),
            _ => None,
        }
    }
}

/// When a replication policy runs (Harbor's `trigger.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ReplicationTrigger {
    /// When someone starts it.
    #[default]
    #[serde(rename = "manual")]
    Manual,
    /// On its cron schedule.
    #[serde(rename = "scheduled")]
    Scheduled,
    /// On every push and (with deletion replication) delete of what it selects: push-based
    /// policies only.
    #[serde(rename = "event_based")]
    EventBased,
}

impl ReplicationTrigger {
    /// Every trigger.
    pub const ALL: [Self; 3] = [Self::Manual, Self::Scheduled, Self::EventBased];

    /// Harbor's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Scheduled => "scheduled",
            Self::EventBased => "event_based",
        }
    }

    /// The trigger Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == word)
    }

    /// How the portal names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Manual => "Manual",
            Self::Scheduled => "Scheduled",
            Self::EventBased => "On push and delete",
        }
    }
}

/// What the last background check of an endpoint found (Harbor's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndpointHealth {
    /// Answered the registry API with the stored credentials.
    #[serde(rename = "healthy")]
    Healthy,
    /// Did not answer, or refused the credentials.
    #[serde(rename = "unhealthy")]
    Unhealthy,
    /// Not checked yet.
    #[serde(rename = "unknown")]
    Unknown,
}

impl EndpointHealth {
    /// Harbor's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }

    /// The health Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Healthy, Self::Unhealthy, Self::Unknown].into_iter().find(|h| h.as_str() == word)
    }
}

/// What started a job run, in Harbor's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// Someone asked (the API's or the portal's "run now" and "dry run").
    Manual,
    /// The cron schedule.
    Schedule,
    /// `wharf gc` on the command line.
    Cli,
}

impl Trigger {
    /// Harbor's word, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "MANUAL",
            Self::Schedule => "SCHEDULE",
            Self::Cli => "CLI",
        }
    }

    /// The trigger Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        [Self::Manual, Self::Schedule, Self::Cli].into_iter().find(|t| t.as_str() == word)
    }
}

/// Harbor's tag retention rule templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RetentionTemplate {
    /// Retain the K most recently pushed.
    #[default]
    #[serde(rename = "latestPushedK")]
    LatestPushedK,
    /// Retain the N most recently pulled.
    #[serde(rename = "latestPulledN")]
    LatestPulledN,
    /// Retain the K most recently pushed or pulled.
    #[serde(rename = "latestActiveK")]
    LatestActiveK,
    /// Retain those pushed within N days.
    #[serde(rename = "nDaysSinceLastPush")]
    NDaysSinceLastPush,
    /// Retain those pulled within N days.
    #[serde(rename = "nDaysSinceLastPull")]
    NDaysSinceLastPull,
    /// Retain everything the selectors match.
    #[serde(rename = "always")]
    Always,
}

impl RetentionTemplate {
    /// Every template, in the order Harbor lists them.
    pub const ALL: [Self; 6] = [
        Self::LatestPushedK,
        Self::LatestPulledN,
        Self::LatestActiveK,
        Self::NDaysSinceLastPush,
        Self::NDaysSinceLastPull,
        Self::Always,
    ];

    /// Harbor's name (the `template` field, and the key of its parameter).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LatestPushedK => "latestPushedK",
            Self::LatestPulledN => "latestPulledN",
            Self::LatestActiveK => "latestActiveK",
            Self::NDaysSinceLastPush => "nDaysSinceLastPush",
            Self::NDaysSinceLastPull => "nDaysSinceLastPull",
            Self::Always => "always",
        }
    }

    /// The template Harbor's name gives (`latestK` is Harbor's older name of `latestActiveK`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "latestK" => Some(Self::LatestActiveK),
            n => Self::ALL.into_iter().find(|t| t.as_str() == n),
        }
    }

    /// Harbor's display text (`#` stands for the parameter).
    pub fn display_text(self) -> &'static str {
        match self {
            Self::LatestPushedK => "the most recently pushed # artifacts",
            Self::LatestPulledN => "the most recently pulled # artifacts",
            Self::LatestActiveK => "the most recently pushed or pulled # artifacts",
            Self::NDaysSinceLastPush => "pushed within the last # days",
            Self::NDaysSinceLastPull => "pulled within the last # days",
            Self::Always => "always",
        }
    }

    /// What the portal's rule form says for it (`#` stands for the parameter).
    pub fn label(self) -> &'static str {
        match self {
            Self::LatestPushedK => "the most recently pushed # artifacts",
            Self::LatestPulledN => "the most recently pulled # artifacts",
            Self::LatestActiveK => "the most recently pushed or pulled # artifacts",
            Self::NDaysSinceLastPush => "artifacts pushed within the last # days",
            Self::NDaysSinceLastPull => "artifacts pulled within the last # days",
            Self::Always => "always (all artifacts)",
        }
    }

    /// The unit of its parameter (`COUNT` or `DAYS`), or `None` when it takes none.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Self::LatestPushedK | Self::LatestPulledN | Self::LatestActiveK => Some("COUNT"),
            Self::NDaysSinceLastPush | Self::NDaysSinceLastPull => Some("DAYS"),
            Self::Always => None,
        }
    }
}

/// The OCI image config media type.
const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker's image config media type.
const DOCKER_IMAGE_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// A Helm chart's config media type.
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// What an artifact is, as Harbor's listing says: an image, an index of images, or an OCI
/// artifact of some other type (a signature, an SBOM, a Helm chart: its artifact or config type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArtifactKind {
    /// A container image.
    Image,
    /// An image index or manifest list.
    Index,
    /// Another artifact, by its media type.
    Other(String),
}

impl ArtifactKind {
    /// Classifies a manifest by its media type, its `artifactType` and its config's media type:
    /// an index is an index; a manifest with an image config is an image whatever else it says;
    /// otherwise its artifact type, else its config type, names it (no config at all: an image,
    /// as Docker's oldest manifests have).
    pub fn classify(media_type: &str, artifact_type: Option<&str>, config_media_type: Option<&str>) -> Self {
        if media_type.contains("index") || media_type.contains("manifest.list") {
            return Self::Index;
        }
        match (config_media_type, artifact_type) {
            (Some(c), _) if c == IMAGE_CONFIG || c == DOCKER_IMAGE_CONFIG => Self::Image,
            (_, Some(t)) => Self::Other(t.to_owned()),
            (Some(c), None) => Self::Other(c.to_owned()),
            (None, None) => Self::Image,
        }
    }

    /// `image`, `index` or the artifact's type.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Image => "image",
            Self::Index => "index",
            Self::Other(t) => t,
        }
    }

    /// Harbor's `type` field: `IMAGE` (images and indexes), `CHART` (Helm charts) or `UNKNOWN`.
    pub fn harbor_type(&self) -> &'static str {
        match self {
            Self::Image | Self::Index => "IMAGE",
            Self::Other(t) if t == HELM_CONFIG => "CHART",
            Self::Other(_) => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registry actions a robot account holds in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RobotPermissions {
    /// May pull.
    pub pull: bool,
    /// May push.
    pub push: bool,
    /// May delete artifacts and tags.
    pub delete: bool,
}

impl RobotPermissions {
    /// Both sets together.
    pub fn union(self, other: Self) -> Self {
        Self {
            pull: self.pull || other.pull,
            push: self.push || other.push,
            delete: self.delete || other.delete,
        }
    }

    /// Harbor's action words it holds, e.g. `["pull", "push"]`.
    pub fn actions(self) -> Vec<&'static str> {
        [(self.pull, "pull"), (self.push, "push"), (self.delete, "delete")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
}

/// What an administrator does to a user from the users page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserAction {
    /// Stop them signing in.
    Disable,
    /// Let them sign in again.
    Enable,
    /// Make them a system administrator.
    Admin,
    /// Take system administration away.
    Unadmin,
    /// Set a new password (the form's `password` field).
    Password,
}

/// What a project admin does to a robot account from the robots tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RobotAction {
    /// Its credentials stop working.
    Disable,
    /// Its credentials work again.
    Enable,
    /// It is gone.
    Delete,
}

/// Why a portal call failed: what the pages show, and what they act on (an expired session
/// goes to the sign-in page; not-found and forbidden read differently). Server functions return
/// it as is, encoded as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortalError {
    /// Sign in first.
    Unauthorized,
    /// Not allowed.
    Forbidden,
    /// No such thing (the text names it).
    NotFound(String),
    /// The input is wrong; the message says how.
    Invalid(String),
    /// Something failed on the server (details are logged there).
    Internal,
    /// Something is briefly unavailable on the server (the database or the storage): trying
    /// again may work.
    Unavailable,
    /// The call itself failed: the network, or a request the server could not read.
    Request(String),
}

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("Sign in to see this."),
            Self::Forbidden => f.write_str("You are not allowed to do this."),
            Self::NotFound(what) => write!(f, "{what} was not found."),
            Self::Invalid(why) => f.write_str(why),
            Self::Internal => f.write_str("Something went wrong on the server; try again."),
            Self::Unavailable => {
                f.write_str("The server is busy or briefly unavailable; try again in a moment.")
            }
            Self::Request(why) => write!(f, "The request failed ({why}); reload the page and try again."),
        }
    }
}

impl std::error::Error for PortalError {}

impl leptos::server_fn::error::FromServerFnError for PortalError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        Self::Request(value.to_string())
    }
}

/// Result of a portal call.
pub type PortalResult<T> = Result<T, PortalError>;

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
    /// The single sign-on provider's name when users sign in with one (OIDC mode; the sign-in
    /// page's button), else empty.
    pub sso: String,
}

impl Viewer {
    /// Whether someone is signed in.
    pub fn signed_in(&self) -> bool {
        self.id != 0
    }
}

/// A project's storage quota, as the administrators' Quotas page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    /// The project.
    pub project: String,
    /// Bytes its artifacts hold (each blob once).
    pub used: i64,
    /// Its limit; -1: none.
    pub hard: i64,
}

/// One day's figure of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayValue {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The figure.
    pub value: i64,
}

/// The last 30 days, day by day, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Artifacts pushed.
    pub pushes: Vec<DayValue>,
    /// Artifacts pulled.
    pub pulls: Vec<DayValue>,
    /// Size of the artifacts stored now that had been pushed by the end of each day.
    pub stored: Vec<DayValue>,
}

/// A project's summary tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDashboard {
    /// Repositories.
    pub repositories: i64,
    /// Artifacts.
    pub artifacts: i64,
    /// Members per role, strongest first (roles without members left out).
    pub members: Vec<(Role, i64)>,
    /// Bytes its artifacts hold (each blob once).
    pub storage_used: i64,
    /// Its limit; -1: none.
    pub storage_limit: i64,
    /// Pushes, pulls and storage over the last 30 days.
    pub activity: Activity,
}

/// A garbage collection's outcome, for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcFreed {
    /// When it ran (RFC 3339).
    pub at: String,
    /// Bytes it freed.
    pub bytes: i64,
    /// Blobs it deleted.
    pub blobs: i64,
}

/// The administrators' dashboard: the whole registry at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryDashboard {
    /// Projects.
    pub projects: i64,
    /// Repositories.
    pub repositories: i64,
    /// Artifacts.
    pub artifacts: i64,
    /// Bytes all projects' artifacts hold.
    pub storage_used: i64,
    /// Free and total bytes of the blob store, where they can be known.
    pub volume: Option<(u64, u64)>,
    /// Pushes, pulls and storage over the last 30 days.
    pub activity: Activity,
    /// The latest collections (not dry runs), oldest first.
    pub gc: Vec<GcFreed>,
}

/// An artifact found by the header's search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMatch {
    /// Its repository's full name.
    pub repository: String,
    /// Its digest.
    pub digest: String,
    /// The tag that matched, when a tag did.
    pub tag: Option<String>,
    /// Push time (RFC 3339).
    pub pushed: String,
}

/// What the header's search found, among what the viewer may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The text searched for.
    pub query: String,
    /// Projects whose name contains it.
    pub projects: Vec<ProjectSummary>,
    /// Repositories whose name contains it.
    pub repositories: Vec<RepositorySummary>,
    /// Artifacts whose digest starts with it or with a tag containing it.
    pub artifacts: Vec<ArtifactMatch>,
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
    /// Bytes its artifacts hold (each blob once): the quota's usage.
    pub storage: i64,
    /// Its storage limit in bytes; -1: none.
    pub storage_limit: i64,
    /// The viewer's role, when a member.
    pub role: Option<Role>,
    /// Creation time (RFC 3339).
    pub created: String,
    /// The endpoint's name, when the project is a proxy cache.
    pub proxy_of: Option<String>,
    /// The project is a group of other projects.
    pub group: bool,
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
    /// The viewer may change tag immutability rules (shows the Immutability tab).
    pub can_manage_immutability: bool,
    /// The viewer may see the webhook policies (shows the Webhooks tab).
    pub can_read_webhooks: bool,
    /// The viewer may see the members (shows the Members tab).
    pub can_list_members: bool,
    /// The viewer is a project admin: members, robots, logs and settings.
    pub can_admin: bool,
    /// Repositories in the project (a project deletes only when empty).
    pub repo_count: i64,
    /// The registry host for commands (`host:port`).
    pub registry: String,
    /// The upstream (endpoint name and URL), when the project is a proxy cache.
    pub proxy_of: Option<(String, String)>,
    /// A group's members in search order (empty: not a group).
    pub group_of: Vec<String>,
    /// Bytes its artifacts hold (the quota's usage).
    pub storage_used: i64,
    /// Its storage limit in bytes; -1: none.
    pub storage_limit: i64,
    /// The viewer may change the storage limit (system administrators).
    pub can_set_quota: bool,
}

/// A registry endpoint in the administrators' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// What it is.
    pub kind: RegistryKind,
    /// Free text.
    pub description: String,
    /// TLS verification is skipped.
    pub insecure: bool,
    /// User name; empty for anonymous access.
    pub access_key: String,
    /// What the last background check found.
    pub status: EndpointHealth,
    /// When it was last checked (RFC 3339).
    pub checked: Option<String>,
    /// Creation time (RFC 3339).
    pub created: String,
}

/// A replication rule in the administrators' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRuleSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Pull-based (from the endpoint) rather than push-based (to it).
    pub pull: bool,
    /// The endpoint's name.
    pub endpoint: String,
    /// Destination namespace (empty: the source's).
    pub dest_namespace: String,
    /// When it runs.
    pub trigger: ReplicationTrigger,
    /// The cron of a scheduled rule.
    pub cron: String,
    /// The filters, as people read them ("name library/**, tag v*").
    pub filters: String,
    /// Deletes are replicated too.
    pub replicate_deletion: bool,
    /// Whether it runs.
    pub enabled: bool,
}

/// A replication execution in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationRun {
    /// Id.
    pub id: i64,
    /// Its rule's name.
    pub rule: String,
    /// Where it is.
    pub status: RunStatus,
    /// What started it.
    pub trigger: ReplicationTrigger,
    /// Why it ended as it did.
    pub text: String,
    /// Start (RFC 3339).
    pub started: String,
    /// End (RFC 3339).
    pub ended: Option<String>,
    /// Tasks in all.
    pub total: i64,
    /// Tasks failed.
    pub failed: i64,
}

/// One artifact an execution copied or deleted, with its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationTaskView {
    /// Id.
    pub id: i64,
    /// Source.
    pub source: String,
    /// Destination.
    pub destination: String,
    /// `copy` or `deletion`.
    pub operation: String,
    /// Where it is.
    pub status: RunStatus,
    /// Bytes moved.
    pub bytes: i64,
    /// Its log.
    pub log: String,
}

/// The replication page: rules, the endpoints a new rule can use, executions (one page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationView {
    /// Every rule (a site has a handful).
    pub rules: Vec<ReplicationRuleSummary>,
    /// Endpoints by id and name.
    pub endpoints: Vec<(i64, String)>,
    /// Executions, newest first.
    pub runs: Page<ReplicationRun>,
}

/// The portal's form for a new replication rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReplicationRule {
    /// Name.
    pub name: String,
    /// Pull from the endpoint rather than push to it.
    pub pull: bool,
    /// The endpoint.
    pub endpoint: i64,
    /// Destination namespace.
    pub dest_namespace: String,
    /// Flattening (-1 all levels, 0 none, n levels).
    pub flatten: i64,
    /// Repository filter (doublestar; empty: all).
    pub name_filter: String,
    /// Tag filter (doublestar; empty: all).
    pub tag_filter: String,
    /// Label names an artifact must carry, comma-separated (empty: any).
    pub label_filter: String,
    /// When it runs.
    pub trigger: ReplicationTrigger,
    /// The cron of a scheduled rule.
    pub cron: String,
    /// Replicate deletions.
    pub replicate_deletion: bool,
}

/// The portal's form for a new registry endpoint (or for testing one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEndpoint {
    /// Name.
    pub name: String,
    /// What it is; `None` when the form left it unset.
    pub kind: Option<RegistryKind>,
    /// Base URL.
    pub url: String,
    /// Free text.
    pub description: String,
    /// User name; empty for anonymous access.
    pub access_key: String,
    /// Password or token.
    pub access_secret: String,
    /// Skip TLS verification.
    pub insecure: bool,
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
    /// Those of `tags` an immutability rule protects.
    pub immutable_tags: Vec<String>,
    /// Its labels.
    pub labels: Vec<LabelChip>,
    /// What it is.
    pub kind: ArtifactKind,
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayerView {
    /// Digest.
    pub digest: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes (compressed, as stored).
    pub size: i64,
    /// The build step (history entry) that made it, when the image records one.
    pub created_by: Option<String>,
}

/// What an entry of a layer (or of an image's merged filesystem) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (`target` is where it points).
    Symlink,
    /// A hard link (`target` is the path it shares content with).
    Hardlink,
    /// A character or block device.
    Device,
    /// A named pipe.
    Fifo,
    /// A whiteout: the layer deletes `path` (and everything under it) from the layers below.
    Whiteout,
    /// An opaque directory: the layer hides everything the layers below put in `path`.
    Opaque,
}

impl FileKind {
    /// How a listing shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "directory",
            Self::Symlink => "symlink",
            Self::Hardlink => "hard link",
            Self::Device => "device",
            Self::Fifo => "pipe",
            Self::Whiteout => "deleted",
            Self::Opaque => "emptied",
        }
    }

    /// Whether it removes something rather than adding it.
    pub fn is_deletion(self) -> bool {
        matches!(self, Self::Whiteout | Self::Opaque)
    }
}

/// One entry of a layer, as its tar archive records it (whiteouts already turned into the path
/// they delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayerFile {
    /// Path inside the image, `/`-rooted.
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Size of a regular file's content, else 0.
    pub size: u64,
    /// Unix permission bits (`0o755`).
    pub mode: u32,
    /// A link's target.
    pub target: Option<String>,
}

/// A page of one layer's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LayerFiles {
    /// The image's repository.
    pub repository: String,
    /// The image's digest.
    pub artifact: String,
    /// The layer: digest, media type, size and the build step that made it.
    pub layer: LayerView,
    /// Its 1-based position in the image, bottom first.
    pub index: usize,
    /// Layers in the image.
    pub layer_count: usize,
    /// Entries in the layer (as far as it was read).
    pub entries: u64,
    /// Bytes of file content in the layer, unpacked.
    pub unpacked_size: u64,
    /// The layer has more entries than Wharf lists; `entries` counts the listed ones.
    pub truncated: bool,
    /// This page's entries, in archive order.
    pub files: Vec<LayerFile>,
    /// Entries matching the filter, across all pages.
    pub total: i64,
    /// 1-based page number.
    pub page: i64,
    /// Entries per page.
    pub page_size: i64,
}

/// An entry of an image's merged filesystem: what a container sees after all layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TreeEntry {
    /// Its name in its directory.
    pub name: String,
    /// Its path, `/`-rooted.
    pub path: String,
    /// What it is (`whiteout` for something an upper layer removed).
    pub kind: FileKind,
    /// A file's size; a directory's is everything beneath it; a removed entry's is what it
    /// held before removal.
    pub size: u64,
    /// Regular files beneath a directory (1 for a file).
    pub files: u64,
    /// Unix permission bits.
    pub mode: u32,
    /// A link's target.
    pub target: Option<String>,
    /// The 1-based layer that last wrote it (or removed it).
    pub layer: usize,
}

/// One directory of an image's merged filesystem, its entries largest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TreeListing {
    /// The image's repository.
    pub repository: String,
    /// The image's digest.
    pub artifact: String,
    /// The directory, `/`-rooted.
    pub path: String,
    /// The directory itself (size and files beneath it).
    pub dir: TreeEntry,
    /// The image's layers, bottom first (entries name them by position).
    pub layers: Vec<LayerView>,
    /// Some layer has more entries than Wharf lists: the view may be incomplete.
    pub truncated: bool,
    /// This page of the directory's entries, largest first; removed entries last.
    pub entries: Vec<TreeEntry>,
    /// The largest files beneath the directory, largest first.
    pub largest: Vec<TreeEntry>,
    /// Entries in the directory, across all pages.
    pub total: i64,
    /// 1-based page number.
    pub page: i64,
    /// Entries per page.
    pub page_size: i64,
}

/// How a path differs between two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the second image.
    Added,
    /// Only in the first image.
    Removed,
    /// In both, with a different kind, size, mode, link target or content.
    Changed,
}

impl ChangeKind {
    /// How a comparison shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Changed => "changed",
        }
    }
}

/// A file that differs between two images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FileChange {
    /// Its path, `/`-rooted.
    pub path: String,
    /// Added, removed or changed.
    pub change: ChangeKind,
    /// Its size in the first image.
    pub before: Option<u64>,
    /// Its size in the second image.
    pub after: Option<u64>,
}

/// A configuration field that differs between two images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConfigChange {
    /// The field (`Entrypoint`, `Env PATH`, `Label version`, `Exposed port 80/tcp`, …).
    pub field: String,
    /// Its value in the first image.
    pub before: Option<String>,
    /// Its value in the second image.
    pub after: Option<String>,
}

/// Two images of a repository compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Comparison {
    /// The repository.
    pub repository: String,
    /// The first image's digest.
    pub base: String,
    /// The second image's digest.
    pub other: String,
    /// The first image's tags.
    pub base_tags: Vec<String>,
    /// The second image's tags.
    pub other_tags: Vec<String>,
    /// The first image's size (manifest and everything it references).
    pub base_size: i64,
    /// The second image's size.
    pub other_size: i64,
    /// Layers both share.
    pub shared_layers: Vec<LayerView>,
    /// Layers only the first has.
    pub base_layers: Vec<LayerView>,
    /// Layers only the second has.
    pub other_layers: Vec<LayerView>,
    /// Files only the second has.
    pub added: u64,
    /// Files only the first has.
    pub removed: u64,
    /// Files in both that differ.
    pub changed: u64,
    /// The differing files, by path; at most a few thousand (see `files_truncated`).
    pub files: Vec<FileChange>,
    /// More files differ than `files` holds.
    pub files_truncated: bool,
    /// Configuration fields that differ.
    pub config: Vec<ConfigChange>,
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
    /// The labels the artifact may carry (global and its project's), for the viewer to add.
    pub usable_labels: Vec<LabelChip>,
}

/// A label as a coloured chip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelChip {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `#rrggbb`, or empty.
    pub color: String,
    /// A global label (else the project's own).
    pub global: bool,
}

impl LabelChip {
    /// The chip's colour, `#rrggbb`, when it has a well-formed one.
    pub fn swatch(&self) -> Option<String> {
        let hex = self.color.strip_prefix('#').unwrap_or("");
        (hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("#{hex}"))
    }
}

/// A garbage collection run in the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcRunView {
    /// Run id.
    pub id: i64,
    /// What started it.
    pub trigger: Trigger,
    /// Only counted.
    pub dry_run: bool,
    /// Untagged manifests were deleted first.
    pub delete_untagged: bool,
    /// Where it stands.
    pub status: RunStatus,
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
    /// When it runs.
    pub schedule: Schedule,
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

/// A tag immutability rule, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmutableRuleView {
    /// Rule id.
    pub id: i64,
    /// "tags matching `v*` in repositories matching `**`".
    pub text: String,
    /// A disabled rule protects nothing.
    pub disabled: bool,
}

/// An audit log purge in the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRunView {
    /// Run id.
    pub id: i64,
    /// What started it.
    pub trigger: Trigger,
    /// Only counted.
    pub dry_run: bool,
    /// Where it stands.
    pub status: RunStatus,
    /// Entries deleted (or that would be).
    pub purged: i64,
    /// Start (RFC 3339).
    pub created: String,
}

/// Audit log retention on the admin page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeView {
    /// The schedule.
    pub schedule: Schedule,
    /// Its next run (RFC 3339).
    pub next: Option<String>,
    /// Hours of the log scheduled runs keep.
    pub keep_hours: i64,
    /// Operations scheduled runs purge (empty: all).
    pub operations: String,
    /// The latest runs, newest first.
    pub runs: Vec<PurgeRunView>,
}

/// A webhook policy in the project's Webhooks tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPolicyView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Where it posts (the first target).
    pub address: String,
    /// HTTP or Slack.
    pub kind: NotifyType,
    /// The JSON shape.
    pub format: PayloadFormat,
    /// The events it reports.
    pub events: Vec<WebhookEvent>,
    /// Whether it sends.
    pub enabled: bool,
    /// An auth header is stored (never shown).
    pub has_auth_header: bool,
}

/// One event's delivery in the Webhooks tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    /// Execution id.
    pub id: i64,
    /// The policy's id.
    pub policy_id: i64,
    /// The policy's name.
    pub policy: String,
    /// The event.
    pub event: String,
    /// `Running` (being sent or waiting to retry), `Success` or `Error`.
    pub status: String,
    /// When the event happened (RFC 3339).
    pub at: String,
    /// Attempts so far.
    pub attempts: i64,
    /// What the last attempt found.
    pub message: String,
}

/// A project's Webhooks tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksView {
    /// The policies.
    pub policies: Vec<WebhookPolicyView>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<WebhookDeliveryView>,
    /// The viewer may change the policies (project administrators).
    pub can_manage: bool,
}

/// The portal's form for a new webhook policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    /// Name.
    pub name: String,
    /// Where to post.
    pub address: String,
    /// HTTP or Slack.
    pub kind: NotifyType,
    /// The JSON shape.
    pub format: PayloadFormat,
    /// The `Authorization` header (empty: none).
    pub auth_header: String,
    /// Skip TLS verification.
    pub skip_cert_verify: bool,
    /// The events.
    pub events: Vec<WebhookEvent>,
}

/// The portal's form for a tag immutability rule: one repository and one tag selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewImmutableRule {
    /// `repoExcludes` rather than `repoMatches`.
    pub repo_excludes: bool,
    /// Repository pattern (doublestar).
    pub repo_pattern: String,
    /// `excludes` rather than `matches`.
    pub tag_excludes: bool,
    /// Tag pattern (doublestar).
    pub tag_pattern: String,
    /// Label names the artifact must carry, comma-separated (empty: any).
    pub labels: String,
}

/// One repository of a retention execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionTaskView {
    /// Task id.
    pub id: i64,
    /// Full repository name.
    pub repository: String,
    /// Where it stands.
    pub status: RunStatus,
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
    /// What started it.
    pub trigger: Trigger,
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Where it stands.
    pub status: RunStatus,
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
    /// When it runs (none: manual runs only).
    pub schedule: Schedule,
    /// Next scheduled run (RFC 3339).
    pub next: Option<String>,
    /// Executions, newest first.
    pub executions: Page<RetentionExecutionView>,
}

/// A rule as the Retention tab's form submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NewRetentionRule {
    /// Which rule.
    pub template: RetentionTemplate,
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
    /// Label names the artifact must carry, comma-separated (empty: any).
    pub labels: String,
}

/// How the authentication settings page asks for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettingInput {
    /// One line of text.
    Text,
    /// A password: never shown, empty keeps the stored one.
    Secret,
    /// A checkbox.
    Flag,
    /// Base, one level or subtree (0, 1, 2).
    Scope,
    /// A number.
    Number,
    /// Several lines (PEM certificates).
    Multiline,
}

/// The LDAP items the authentication settings page edits (Harbor's configuration names), with
/// what people read and how each is entered, in the page's order.
pub const LDAP_SETTINGS: [(&str, &str, SettingInput); 16] = [
    ("ldap_url", "Server URL (ldap:// or ldaps://)", SettingInput::Text),
    ("ldap_start_tls", "Upgrade ldap:// with StartTLS", SettingInput::Flag),
    ("ldap_verify_cert", "Verify the server's certificate", SettingInput::Flag),
    ("ldap_ca_cert", "CA certificates to trust (PEM; empty: the system's)", SettingInput::Multiline),
    ("ldap_search_dn", "Search DN", SettingInput::Text),
    ("ldap_search_password", "Search password", SettingInput::Secret),
    ("ldap_base_dn", "Users' base DN", SettingInput::Text),
    ("ldap_filter", "User filter", SettingInput::Text),
    ("ldap_uid", "Username attribute (uid, sAMAccountName)", SettingInput::Text),
    ("ldap_scope", "User search scope", SettingInput::Scope),
    ("ldap_timeout", "Timeout (seconds)", SettingInput::Number),
    ("ldap_group_base_dn", "Groups' base DN", SettingInput::Text),
    ("ldap_group_search_filter", "Group filter", SettingInput::Text),
    ("ldap_group_attribute_name", "Group name attribute", SettingInput::Text),
    ("ldap_group_membership_attribute", "Membership attribute (memberOf)", SettingInput::Text),
    ("ldap_group_admin_dn", "Administrators' group DN", SettingInput::Text),
];

/// The OIDC items the authentication settings page edits, as [`LDAP_SETTINGS`].
pub const OIDC_SETTINGS: [(&str, &str, SettingInput); 12] = [
    ("oidc_name", "Provider name (the sign-in button says \"Sign in with\" it)", SettingInput::Text),
    ("oidc_endpoint", "Issuer URL", SettingInput::Text),
    ("oidc_client_id", "Client ID", SettingInput::Text),
    ("oidc_client_secret", "Client secret", SettingInput::Secret),
    ("oidc_scope", "Scopes, comma-separated (offline_access keeps CLI secrets working)", SettingInput::Text),
    ("oidc_user_claim", "Username claim (empty: preferred_username, then name)", SettingInput::Text),
    ("oidc_groups_claim", "Groups claim", SettingInput::Text),
    ("oidc_admin_group", "Administrators' group", SettingInput::Text),
    ("oidc_verify_cert", "Verify the provider's certificate", SettingInput::Flag),
    (
        "oidc_auto_onboard",
        "Make accounts at the first sign-in without asking for a username",
        SettingInput::Flag,
    ),
    ("oidc_logout", "Signing out of Wharf signs out at the provider too", SettingInput::Flag),
    (
        "oidc_extra_redirect_parms",
        "Extra authorization parameters (JSON object of strings, as {\"access_type\": \"offline\"})",
        SettingInput::Text,
    ),
];

/// What the authentication settings form was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettingsIntent {
    /// Save the settings.
    Save,
    /// Try the LDAP settings as typed (nothing is saved).
    TestLdap,
    /// Find the OIDC provider the settings as typed name (nothing is saved).
    TestOidc,
}

impl SettingsIntent {
    /// The form's button value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Save => "save",
            Self::TestLdap => "test-ldap",
            Self::TestOidc => "test-oidc",
        }
    }

    /// The intent a button value names.
    pub fn of(value: &str) -> Option<Self> {
        [Self::Save, Self::TestLdap, Self::TestOidc].into_iter().find(|i| i.as_str() == value)
    }
}

/// The signed-in user's account page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Username.
    pub username: String,
    /// Whether the password is Wharf's to change (a database account, or the local admin).
    pub local_password: bool,
    /// An OIDC user's CLI secret (the password for docker login and the API).
    pub cli_secret: Option<String>,
    /// The registry's host, for the `docker login` command.
    pub registry: String,
}

/// One configuration item as the authentication settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingView {
    /// Harbor's item name.
    pub name: String,
    /// Its value as text ("true"/"false" for flags; empty for a secret).
    pub value: String,
    /// False when the operator fixed it (`WHARF_CONFIGURATIONS`).
    pub editable: bool,
}

/// The authentication settings (system administrators).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettingsView {
    /// How users sign in now.
    pub mode: AuthMode,
    /// False once users other than admin exist (accounts belong to the mode that made them) or
    /// when the operator fixed it.
    pub mode_editable: bool,
    /// The LDAP items, in [`LDAP_SETTINGS`] order.
    pub ldap: Vec<SettingView>,
    /// Whether a search password is stored.
    pub search_password_set: bool,
    /// The OIDC items, in [`OIDC_SETTINGS`] order.
    pub oidc: Vec<SettingView>,
    /// Whether a client secret is stored.
    pub client_secret_set: bool,
    /// The redirect URI to register with the provider.
    pub redirect_uri: String,
}

/// A user group in the administrators' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Where it comes from.
    pub group_type: GroupType,
    /// An LDAP group's DN.
    pub ldap_group_dn: String,
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
    /// The user's or the group's name.
    pub name: String,
    /// The group's type, `None` for a user.
    pub group: Option<GroupType>,
    /// Their role.
    pub role: Role,
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
    /// What it may do.
    pub permissions: RobotPermissions,
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

/// A size written as bytes or with a unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or
/// `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); `-1` means none. Shared by the configuration
/// (`WHARF_STORAGE_PER_PROJECT`) and the portal's quota form.
pub fn parse_size(text: &str) -> Result<i64, String> {
    let s = text.trim();
    if s == "-1" {
        return Ok(-1);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| format!("{s:?} is not a size such as 10GiB, 500MB or -1"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?}: the unit must be B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")),
    };
    let bytes = n * scale;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes.round() as i64)
}

/// How users other than the local `admin` sign in (Harbor's `auth_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AuthMode {
    /// Accounts and passwords in Wharf's database.
    #[default]
    #[serde(rename = "db_auth")]
    Database,
    /// The company directory: passwords checked by an LDAP bind, accounts made at first sign-in.
    #[serde(rename = "ldap_auth")]
    Ldap,
    /// Single sign-on with an OpenID Connect provider; registry clients use a CLI secret.
    #[serde(rename = "oidc_auth")]
    Oidc,
}

impl AuthMode {
    /// Harbor's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Database => "db_auth",
            Self::Ldap => "ldap_auth",
            Self::Oidc => "oidc_auth",
        }
    }

    /// Every mode, in the order a picker shows them.
    pub const ALL: [Self; 3] = [Self::Database, Self::Ldap, Self::Oidc];

    /// The mode Harbor's word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == word)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Self::Database => "Wharf accounts (database)",
            Self::Ldap => "The company directory (LDAP)",
            Self::Oidc => "Single sign-on (OIDC)",
        }
    }
}
