//! Browsing and managing repositories, artifacts and tags through the API. Permissions come
//! from the project (via [`Projects::get`]); deleting an artifact goes through the registry's
//! own rules (an index still naming it keeps it).

use std::collections::HashMap;

use frontend::types::ArtifactKind;

use crate::audit::{Actor, Auditor, Operation, ResourceType};
use crate::auth::{Action, Identity};
use crate::db::manifests::{ArtifactRow, ArtifactSort, ReferrerRow, TagRow};
use crate::db::projects::ProjectRow;
use crate::db::repositories::RepositoryRow;
use crate::db::{self, Db};
use crate::immutable::Protection;
use crate::oci::config::{ImageConfig, MAX_CONFIG_BYTES};
use crate::oci::manifest::Manifest;
use crate::oci::reference::{Digest, Reference, Tag};
use crate::projects::{ProjectError, ProjectRef, Projects};
use crate::registry::error::RegistryError;
use crate::registry::{Registry, RepoCtx};

/// A browsing failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BrowseError {
    /// The project failed to resolve or the caller may not act on it.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// No such repository or artifact.
    #[error("{0} not found")]
    NotFound(String),
    /// A malformed tag or reference.
    #[error("{0}")]
    Invalid(String),
    /// The registry refused (e.g. an index still names the artifact).
    #[error("{0}")]
    Conflict(String),
    /// It is there already (409).
    #[error("{0}")]
    Exists(String),
    /// The project's storage quota refused the write.
    #[error("{0}")]
    Quota(String),
    /// The database or the storage is briefly unavailable (retry).
    #[error("temporarily unavailable")]
    Unavailable,
    /// A database or registry failure.
    #[error("internal failure")]
    Internal,
}

impl From<db::DbError> for BrowseError {
    fn from(e: db::DbError) -> Self {
        tracing::error!(error = %e, "database error");
        Self::Internal
    }
}

/// An artifact with its tags.
pub type ArtifactWithTags = (ArtifactRow, Vec<TagRow>);

/// A page of artifacts with their tags and platforms (see [`Artifacts::browse`]).
#[derive(Debug, Clone)]
pub struct ArtifactPage {
    /// The artifacts, each with its tags and, for an index, its platforms.
    pub items: Vec<(ArtifactWithTags, Vec<String>)>,
    /// Artifacts in the repository.
    pub total: i64,
    /// The project (with the caller's role).
    pub project: ProjectRow,
}

/// Everything an artifact's page shows, from one read of its project, repository and manifest.
#[derive(Debug, Clone)]
pub struct ArtifactDetails {
    /// Its project (with the caller's role, for further permissions).
    pub project: ProjectRow,
    /// Its repository.
    pub repository: RepositoryRow,
    /// The artifact and its tags.
    pub artifact: ArtifactWithTags,
    /// What it is.
    pub kind: ArtifactKind,
    /// The manifest as stored.
    pub content: Vec<u8>,
    /// The manifest, parsed (`None` only for a stored manifest that no longer parses).
    pub manifest: Option<Manifest>,
    /// The image configuration (images whose config is readable and not huge).
    pub config: Option<ImageConfig>,
    /// Artifacts attached to it through `subject`.
    pub referrers: Vec<ReferrerRow>,
}

/// Browsing services.
#[derive(Clone)]
pub struct Artifacts {
    db: Db,
    projects: Projects,
    registry: Registry,
    auditor: Auditor,
}

/// Whether `reference` is a tag (else a digest); a malformed one is refused.
fn by_tag(reference: &str) -> Result<bool, BrowseError> {
    let parsed: Reference = reference
        .parse()
        .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
    Ok(matches!(parsed, Reference::Tag(_)))
}

fn registry_error(e: RegistryError) -> BrowseError {
    match e {
        RegistryError::Conflict(m) => BrowseError::Conflict(m),
        e @ RegistryError::Immutable(..) => BrowseError::Conflict(e.to_string()),
        RegistryError::QuotaExceeded(m) => BrowseError::Quota(m),
        RegistryError::ManifestUnknown(m) | RegistryError::ManifestBlobUnknown(m) => BrowseError::NotFound(m),
        // The database or the storage is briefly unavailable: the caller may try again.
        RegistryError::Unavailable(_) | RegistryError::StorageUnavailable => BrowseError::Unavailable,
        other => {
            tracing::error!(error = %other, "registry call failed");
            BrowseError::Internal
        }
    }
}

impl Artifacts {
    /// Browsing over `db`, checking access with `projects`, deleting through `registry` and
    /// recording changes to `auditor`.
    pub fn new(db: Db, projects: Projects, registry: Registry, auditor: Auditor) -> Self {
        Self { db, projects, registry, auditor }
    }

    /// Repositories of project `p` whose name contains `name`, one page, and the total.
    pub async fn list_repositories(
        &self,
        who: &Identity,
        p: &ProjectRef,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RepositoryRow>, i64), BrowseError> {
        let project = self.projects.get(who, p, Action::ReadProject).await?;
        let rows =
            db::repositories::list_in_project(self.db.reader(), project.id, name, offset, limit).await?;
        let total = db::repositories::count_in_project(self.db.reader(), project.id, name).await?;
        Ok((rows, total))
    }

    /// At most `limit` repositories whose name contains `text`, among those `who` may read.
    pub async fn search(
        &self,
        who: &Identity,
        text: &str,
        limit: i64,
    ) -> Result<Vec<db::repositories::SearchHit>, BrowseError> {
        let all = matches!(who, Identity::User { sysadmin: true, .. });
        Ok(db::repositories::search(self.db.reader(), who.user_id(), all, text, limit).await?)
    }

    /// At most `limit` artifacts, newest first, among those `who` may pull, whose digest starts
    /// with `text` (with or without `sha256:`, at least 4 hex digits) or with a tag containing it.
    pub async fn search_artifacts(
        &self,
        who: &Identity,
        text: &str,
        limit: i64,
    ) -> Result<Vec<db::repositories::ArtifactHit>, BrowseError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let hex = text.strip_prefix("sha256:").unwrap_or(text).to_ascii_lowercase();
        let prefix = if hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            format!("sha256:{hex}")
        } else {
            String::new()
        };
        let all = matches!(who, Identity::User { sysadmin: true, .. });
        Ok(db::repositories::search_artifacts(self.db.reader(), who.user_id(), all, &prefix, text, limit)
            .await?)
    }

    /// Repository `repo` (the path inside the project) of project `p`, if `who` may `action`.
    pub async fn repository(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        action: Action,
    ) -> Result<RepositoryRow, BrowseError> {
        Ok(self.repository_in(who, p, repo, action).await?.1)
    }

    /// Repository `repo` of project `p` with the project (and the caller's role in it).
    async fn repository_in(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        action: Action,
    ) -> Result<(ProjectRow, RepositoryRow), BrowseError> {
        let project = self.projects.get(who, p, action).await?;
        let full = format!("{}/{repo}", project.name);
        let r =
            db::repositories::by_name(self.db.reader(), &full).await?.ok_or(BrowseError::NotFound(full))?;
        Ok((project, r))
    }

    /// Deletes repository `repo` with all its artifacts and tags; returns what it was.
    pub async fn delete_repository(
        &self,
        actor: Actor<'_>,
        p: &ProjectRef,
        repo: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let r = self.repository(actor.identity, p, repo, Action::Delete).await?;
        let ctx = RepoCtx { repository_id: r.id, project_id: r.project_id, proxy: None, group: false };
        self.registry.delete_repository(ctx).await.map_err(registry_error)?;
        self.auditor.log(
            actor,
            Some(r.project_id),
            Operation::Delete,
            ResourceType::Repository,
            r.name.clone(),
        );
        Ok(r)
    }

    /// `rows` of repository `r` with their tags, each marked immutable when a rule protects it.
    async fn with_tags(
        &self,
        r: &RepositoryRow,
        rows: Vec<ArtifactRow>,
    ) -> Result<Vec<ArtifactWithTags>, BrowseError> {
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        let mut tags = db::manifests::tags_of(self.db.reader(), &ids).await?;
        let mut labels = db::labels::of_manifests(self.db.reader(), &ids).await?;
        let mut rows = rows;
        for row in &mut rows {
            let (mine, rest): (Vec<_>, Vec<_>) = labels.drain(..).partition(|(m, _)| *m == row.id);
            labels = rest;
            row.labels = mine.into_iter().map(|(_, l)| l).collect();
        }
        let rules = Protection::load(&self.db, r.project_id).await?;
        if !rules.is_empty() {
            let path = r.name.split_once('/').map_or(r.name.as_str(), |(_, p)| p);
            let labels: std::collections::HashMap<i64, Vec<&str>> =
                rows.iter().map(|a| (a.id, a.labels.iter().map(|l| l.name.as_str()).collect())).collect();
            for t in &mut tags {
                let mine = labels.get(&t.manifest_id).map(Vec::as_slice).unwrap_or_default();
                t.immutable = rules.protects(path, &t.name, mine);
            }
        }
        Ok(rows
            .into_iter()
            .map(|a| {
                let (mine, rest): (Vec<TagRow>, Vec<TagRow>) =
                    tags.drain(..).partition(|t| t.manifest_id == a.id);
                tags = rest;
                (a, mine)
            })
            .collect())
    }

    /// Artifacts of repository `repo` in `sort` order (those carrying every one of `labels`),
    /// one page, with their tags, the total, and the project (for the caller's further
    /// permissions).
    #[allow(clippy::too_many_arguments)]
    pub async fn list_artifacts(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        sort: ArtifactSort,
        labels: &[i64],
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ArtifactWithTags>, i64, ProjectRow), BrowseError> {
        let (project, r) = self.repository_in(who, p, repo, Action::Pull).await?;
        let rows = db::manifests::list_artifacts(self.db.reader(), r.id, sort, labels, offset, limit).await?;
        let total = db::manifests::count_artifacts(self.db.reader(), r.id, labels).await?;
        Ok((self.with_tags(&r, rows).await?, total, project))
    }

    /// Artifact `reference` (tag or digest) of repository `repo`, if `who` may `action`.
    pub async fn artifact(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        action: Action,
    ) -> Result<(RepositoryRow, ArtifactWithTags), BrowseError> {
        let r = self.repository(who, p, repo, action).await?;
        let a = db::manifests::find_artifact(self.db.reader(), r.id, reference, by_tag(reference)?)
            .await?
            .ok_or_else(|| BrowseError::NotFound(format!("artifact {reference}")))?;
        let mut found = self.with_tags(&r, vec![a]).await?;
        let one = found.pop().ok_or(BrowseError::Internal)?;
        Ok((r, one))
    }

    /// Artifact `reference` of repository `repo` with its manifest, configuration and
    /// referrers, if `who` may pull it.
    pub async fn details(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
    ) -> Result<ArtifactDetails, BrowseError> {
        let (project, repository) = self.repository_in(who, p, repo, Action::Pull).await?;
        let (a, content) = db::manifests::find_artifact_with_content(
            self.db.reader(),
            repository.id,
            reference,
            by_tag(reference)?,
        )
        .await?
        .ok_or_else(|| BrowseError::NotFound(format!("artifact {reference}")))?;
        let (a, tags) = self.with_tags(&repository, vec![a]).await?.pop().ok_or(BrowseError::Internal)?;
        let manifest = crate::oci::manifest::parse(&content, Some(&a.media_type)).ok();
        let kind =
            ArtifactKind::classify(&a.media_type, a.artifact_type.as_deref(), a.config_media_type.as_deref());
        let config = match manifest.as_ref().and_then(Manifest::config) {
            Some(c) if kind == ArtifactKind::Image => self
                .registry
                .small_blob(&c.digest, MAX_CONFIG_BYTES)
                .await
                .map_err(registry_error)?
                .and_then(|bytes| ImageConfig::parse(&bytes)),
            _ => None,
        };
        let referrers = db::manifests::referrers(self.db.reader(), repository.id, &a.digest, None).await?;
        Ok(ArtifactDetails {
            project,
            repository,
            artifact: (a, tags),
            kind,
            content,
            manifest,
            config,
            referrers,
        })
    }

    /// A page of repository `repo`'s artifacts in `sort` order, each with its tags and, for an
    /// index, the platforms it holds; the total; and the project (for the caller's further
    /// permissions).
    pub async fn browse(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        sort: ArtifactSort,
        offset: i64,
        limit: i64,
    ) -> Result<ArtifactPage, BrowseError> {
        let (rows, total, project) = self.list_artifacts(who, p, repo, sort, &[], offset, limit).await?;
        let mut platforms = self.platforms(&rows).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let of_row = platforms.remove(&row.0.id).unwrap_or_default();
                (row, of_row)
            })
            .collect();
        Ok(ArtifactPage { items, total, project })
    }

    /// The platforms (`os/arch[/variant]`) of each index among `artifacts`, by manifest id.
    async fn platforms(
        &self,
        artifacts: &[ArtifactWithTags],
    ) -> Result<HashMap<i64, Vec<String>>, BrowseError> {
        let indexes: HashMap<i64, &str> = artifacts
            .iter()
            .filter(|(a, _)| {
                ArtifactKind::classify(
                    &a.media_type,
                    a.artifact_type.as_deref(),
                    a.config_media_type.as_deref(),
                ) == ArtifactKind::Index
            })
            .map(|(a, _)| (a.id, a.media_type.as_str()))
            .collect();
        let ids: Vec<i64> = indexes.keys().copied().collect();
        let contents = db::manifests::contents_of(self.db.reader(), &ids).await?;
        Ok(contents
            .into_iter()
            .map(|(id, content)| {
                let platforms = crate::oci::manifest::parse(&content, indexes.get(&id).copied())
                    .map(|m| {
                        m.children()
                            .iter()
                            .map(|c| c.platform.clone().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                (id, platforms)
            })
            .collect())
    }

    /// Deletes artifact `reference` with all its tags; returns its repository.
    pub async fn delete_artifact(
        &self,
        actor: Actor<'_>,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let (r, (a, _)) = self.artifact(actor.identity, p, repo, reference, Action::Delete).await?;
        let digest: Digest = a.digest.parse().map_err(|_| BrowseError::Internal)?;
        let ctx = RepoCtx { repository_id: r.id, project_id: r.project_id, proxy: None, group: false };
        let operator = actor.identity.name();
        self.registry
            .delete_manifest(ctx, &Reference::Digest(digest), operator)
            .await
            .map_err(registry_error)?;
        let resource = format!("{}:{reference}", r.name);
        self.auditor.log(actor, Some(r.project_id), Operation::Delete, ResourceType::Artifact, resource);
        Ok(r)
    }

    /// Adds tag `tag` to artifact `reference` (moving it if it pointed elsewhere); returns the
    /// repository.
    pub async fn add_tag(
        &self,
        actor: Actor<'_>,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        tag: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let tag: Tag = tag
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let (r, (a, _)) = self.artifact(actor.identity, p, repo, reference, Action::Push).await?;
        let ctx = RepoCtx { repository_id: r.id, project_id: r.project_id, proxy: None, group: false };
        self.registry.set_tag(ctx, tag.as_str(), a.id).await.map_err(registry_error)?;
        let resource = format!("{}:{tag}", r.name);
        self.auditor.log(actor, Some(r.project_id), Operation::Create, ResourceType::Tag, resource);
        Ok(r)
    }

    /// Puts label `label_id` (global, or of the artifact's project) on artifact `reference`.
    pub async fn add_label(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<(), BrowseError> {
        let (r, (a, _)) = self.artifact(who, p, repo, reference, Action::Push).await?;
        let label = db::labels::get(self.db.reader(), label_id)
            .await?
            .ok_or_else(|| BrowseError::NotFound(format!("label {label_id}")))?;
        if label.project_id.is_some_and(|pid| pid != r.project_id) {
            return Err(BrowseError::Invalid(format!("label {} belongs to another project", label.name)));
        }
        if !db::labels::attach(self.db.writer(), a.id, label_id).await? {
            return Err(BrowseError::Exists(format!("the artifact has label {} already", label.name)));
        }
        Ok(())
    }

    /// Takes label `label_id` off artifact `reference`.
    pub async fn remove_label(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<(), BrowseError> {
        let (_, (a, _)) = self.artifact(who, p, repo, reference, Action::Push).await?;
        if db::labels::detach(self.db.writer(), a.id, label_id).await? {
            Ok(())
        } else {
            Err(BrowseError::NotFound(format!("label {label_id} on artifact {reference}")))
        }
    }

    /// Deletes tag `tag` of artifact `reference`; returns the repository.
    pub async fn delete_tag(
        &self,
        actor: Actor<'_>,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        tag: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let (r, (_, tags)) = self.artifact(actor.identity, p, repo, reference, Action::Delete).await?;
        if !tags.iter().any(|t| t.name == tag) {
            return Err(BrowseError::NotFound(format!("tag {tag} of artifact {reference}")));
        }
        let tag: Tag = tag
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let ctx = RepoCtx { repository_id: r.id, project_id: r.project_id, proxy: None, group: false };
        let operator = actor.identity.name();
        self.registry
            .delete_manifest(ctx, &Reference::Tag(tag.clone()), operator)
            .await
            .map_err(registry_error)?;
        self.auditor.log(
            actor,
            Some(r.project_id),
            Operation::Delete,
            ResourceType::Tag,
            format!("{}:{tag}", r.name),
        );
        Ok(r)
    }

    /// Copies artifact `from` (`<project>/<repository>@<digest>` or `…:<tag>`) into repository
    /// `repo` of project `p`: Harbor's copy, which its UI calls retag. The caller needs pull on
    /// the source and push on the destination (so a Guest of the source may copy into a project
    /// where it is a Developer). Blobs are linked, not moved; an index comes with its children;
    /// a tag named in `from` is set on the copy too. Returns the destination and the digest.
    pub async fn copy_artifact(
        &self,
        actor: Actor<'_>,
        p: &ProjectRef,
        repo: &str,
        from: &str,
    ) -> Result<(RepositoryRow, String), BrowseError> {
        let (src_name, reference, tag) = match from.split_once('@') {
            Some((name, digest)) => (name, digest, None),
            None => {
                match from.rsplit_once(':').filter(|(name, tag)| !tag.contains('/') && !name.is_empty()) {
                    Some((name, tag)) => (name, tag, Some(tag)),
                    None => {
                        return Err(BrowseError::Invalid(format!(
                            "from={from:?} needs <project>/<repository>@<digest> or :<tag>"
                        )));
                    }
                }
            }
        };
        let (src_project, src_repo) = src_name
            .split_once('/')
            .ok_or_else(|| BrowseError::Invalid(format!("{src_name:?} is not <project>/<repository>")))?;
        let src_ref = ProjectRef::Name(src_project.to_owned());
        let who = actor.identity;
        let (src, (a, _)) = self.artifact(who, &src_ref, src_repo, reference, Action::Pull).await?;
        let dest_project = self.projects.get(who, p, Action::Push).await?;
        if dest_project.registry_id.is_some() {
            return Err(BrowseError::Invalid(format!(
                "project {} is a proxy cache: it is read-only",
                dest_project.name
            )));
        }
        let full = format!("{}/{repo}", dest_project.name);
        let name: crate::oci::reference::RepoName = full
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let dest_id = db::repositories::ensure(self.db.writer(), dest_project.id, name.as_str()).await?;
        let from_ctx =
            RepoCtx { repository_id: src.id, project_id: src.project_id, proxy: None, group: false };
        let to_ctx =
            RepoCtx { repository_id: dest_id, project_id: dest_project.id, proxy: None, group: false };
        self.copy_manifest(from_ctx, to_ctx, &a.digest).await?;
        if let Some(tag) = tag {
            let copied = db::manifests::find_artifact(self.db.reader(), dest_id, &a.digest, false)
                .await?
                .ok_or(BrowseError::Internal)?;
            self.registry.set_tag(to_ctx, tag, copied.id).await.map_err(registry_error)?;
        }
        let dest = db::repositories::by_name(self.db.reader(), &full).await?.ok_or(BrowseError::Internal)?;
        let resource = format!("{}@{}", dest.name, a.digest);
        self.auditor.log(actor, Some(dest.project_id), Operation::Create, ResourceType::Artifact, resource);
        Ok((dest, a.digest))
    }

    /// Copies manifest `digest` (children first) and links the blobs it needs.
    fn copy_manifest<'a>(
        &'a self,
        from: RepoCtx,
        to: RepoCtx,
        digest: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), BrowseError>> {
        Box::pin(async move {
            let m = db::manifests::by_digest(self.db.reader(), from.repository_id, digest)
                .await?
                .ok_or_else(|| BrowseError::NotFound(format!("manifest {digest}")))?;
            let parsed = crate::oci::manifest::parse(&m.content, Some(&m.media_type))
                .map_err(|e| registry_error(e.into()))?;
            for child in parsed.children() {
                self.copy_manifest(from, to, child.digest.as_str()).await?;
            }
            for blob in parsed.required_blobs() {
                if !self.registry.mount_blob(to, from, &blob.digest).await.map_err(registry_error)? {
                    return Err(BrowseError::NotFound(format!("blob {}", blob.digest)));
                }
            }
            let d: Digest = digest.parse().map_err(|_| BrowseError::Internal)?;
            self.registry
                .put_manifest(to, &Reference::Digest(d), &[], Some(&m.media_type), &m.content, None)
                .await
                .map_err(registry_error)?;
            Ok(())
        })
    }
}
