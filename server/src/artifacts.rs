//! Browsing and managing repositories, artifacts and tags through the API. Permissions come
//! from the project (via [`Projects::get`]); deleting an artifact goes through the registry's
//! own rules (an index still naming it keeps it).

use crate::auth::{Action, Identity};
use crate::db::manifests::{ArtifactRow, ArtifactSort, TagRow};
use crate::db::projects::ProjectRow;
use crate::db::repositories::RepositoryRow;
use crate::db::{self, Db};
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

/// Browsing services.
#[derive(Clone)]
pub struct Artifacts {
    db: Db,
    projects: Projects,
    registry: Registry,
}

fn registry_error(e: RegistryError) -> BrowseError {
    match e {
        RegistryError::Conflict(m) => BrowseError::Conflict(m),
        RegistryError::ManifestUnknown(m) | RegistryError::ManifestBlobUnknown(m) => BrowseError::NotFound(m),
        _ => BrowseError::Internal,
    }
}

impl Artifacts {
    /// Browsing over `db`, checking access with `projects` and deleting through `registry`.
    pub fn new(db: Db, projects: Projects, registry: Registry) -> Self {
        Self { db, projects, registry }
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
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let r = self.repository(who, p, repo, Action::Delete).await?;
        db::repositories::delete(self.db.writer(), r.id).await?;
        Ok(r)
    }

    async fn with_tags(&self, rows: Vec<ArtifactRow>) -> Result<Vec<ArtifactWithTags>, BrowseError> {
        let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
        let mut tags = db::manifests::tags_of(self.db.reader(), &ids).await?;
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

    /// Artifacts of repository `repo` in `sort` order, one page, with their tags, the total, and
    /// the project (for the caller's further permissions).
    pub async fn list_artifacts(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        sort: ArtifactSort,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ArtifactWithTags>, i64, ProjectRow), BrowseError> {
        let (project, r) = self.repository_in(who, p, repo, Action::Pull).await?;
        let rows = db::manifests::list_artifacts(self.db.reader(), r.id, sort, offset, limit).await?;
        let total = db::manifests::count_artifacts(self.db.reader(), r.id).await?;
        Ok((self.with_tags(rows).await?, total, project))
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
        let parsed: Reference = reference
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let by_tag = matches!(parsed, Reference::Tag(_));
        let a = db::manifests::find_artifact(self.db.reader(), r.id, reference, by_tag)
            .await?
            .ok_or_else(|| BrowseError::NotFound(format!("artifact {reference}")))?;
        let mut found = self.with_tags(vec![a]).await?;
        let one = found.pop().ok_or(BrowseError::Internal)?;
        Ok((r, one))
    }

    /// Deletes artifact `reference` with all its tags; returns its repository.
    pub async fn delete_artifact(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let (r, (a, _)) = self.artifact(who, p, repo, reference, Action::Delete).await?;
        let digest: Digest = a.digest.parse().map_err(|_| BrowseError::Internal)?;
        let ctx = RepoCtx { repository_id: r.id, project_id: r.project_id };
        self.registry.delete_manifest(ctx, &Reference::Digest(digest)).await.map_err(registry_error)?;
        Ok(r)
    }

    /// Adds tag `tag` to artifact `reference` (moving it if it pointed elsewhere); returns the
    /// repository.
    pub async fn add_tag(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        tag: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let tag: Tag = tag
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let (r, (a, _)) = self.artifact(who, p, repo, reference, Action::Push).await?;
        db::tags::upsert(self.db.writer(), r.id, tag.as_str(), a.id).await?;
        Ok(r)
    }

    /// Deletes tag `tag` of artifact `reference`; returns the repository.
    pub async fn delete_tag(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        tag: &str,
    ) -> Result<RepositoryRow, BrowseError> {
        let (r, (_, tags)) = self.artifact(who, p, repo, reference, Action::Delete).await?;
        if !tags.iter().any(|t| t.name == tag) {
            return Err(BrowseError::NotFound(format!("tag {tag} of artifact {reference}")));
        }
        db::tags::delete(self.db.writer(), r.id, tag).await?;
        Ok(r)
    }

    /// Copies artifact `from` (`<project>/<repository>@<digest>` or `…:<tag>`) into repository
    /// `repo` of project `p`: Harbor's copy, which its UI calls retag. The caller needs pull on
    /// the source and push on the destination (so a Guest of the source may copy into a project
    /// where it is a Developer). Blobs are linked, not moved; an index comes with its children;
    /// a tag named in `from` is set on the copy too. Returns the destination and the digest.
    pub async fn copy_artifact(
        &self,
        who: &Identity,
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
        let (src, (a, _)) = self.artifact(who, &src_ref, src_repo, reference, Action::Pull).await?;
        let dest_project = self.projects.get(who, p, Action::Push).await?;
        let full = format!("{}/{repo}", dest_project.name);
        let name: crate::oci::reference::RepoName = full
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| BrowseError::Invalid(e.to_string()))?;
        let dest_id = db::repositories::ensure(self.db.writer(), dest_project.id, name.as_str()).await?;
        let from_ctx = RepoCtx { repository_id: src.id, project_id: src.project_id };
        let to_ctx = RepoCtx { repository_id: dest_id, project_id: dest_project.id };
        self.copy_manifest(from_ctx, to_ctx, &a.digest).await?;
        if let Some(tag) = tag {
            let copied = db::manifests::find_artifact(self.db.reader(), dest_id, &a.digest, false)
                .await?
                .ok_or(BrowseError::Internal)?;
            db::tags::upsert(self.db.writer(), dest_id, tag, copied.id).await?;
        }
        let dest = db::repositories::by_name(self.db.reader(), &full).await?.ok_or(BrowseError::Internal)?;
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
                .put_manifest(to, &Reference::Digest(d), &[], Some(&m.media_type), &m.content)
                .await
                .map_err(registry_error)?;
            Ok(())
        })
    }
}
