//! Pushing, pulling and deleting manifests, and the referrers API, answered from the database.

use super::error::RegistryError;
use super::{Registry, RepoCtx};
use std::net::IpAddr;

use crate::audit::{Actor, Operation, ResourceType};
use crate::auth::{Action, Caller};
use crate::db::{self, manifests::NewManifest};
use std::sync::Arc;

use crate::immutable::Protection;
use crate::oci::digester::digest_of;
use crate::oci::manifest::{self, Manifest};
use crate::oci::reference::{Algorithm, Digest, Reference, RepoName, Tag};
use crate::webhooks::events::{self, RepoInfo};
use frontend::types::WebhookEvent;

/// A manifest as served.
#[derive(Debug, Clone)]
pub struct ServedManifest {
    /// Its row id.
    pub id: i64,
    /// Its repository.
    pub repository_id: i64,
    /// Its project.
    pub project_id: i64,
    /// Its digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its exact bytes.
    pub content: Vec<u8>,
}

/// What a successful push answers with.
#[derive(Debug, Clone)]
pub struct PushedManifest {
    /// The manifest's digest.
    pub digest: Digest,
    /// The digest of its subject, for the `OCI-Subject` header.
    pub subject: Option<Digest>,
    /// The tags it now carries from this push (the pushed-by tag, or the `tag` parameters of a
    /// push by digest), for the `OCI-Tag` header.
    pub tags: Vec<Tag>,
}

/// Whether an `Accept` header admits `media_type`. No header, or `*/*`, admits everything.
pub fn accepts(accept: &[&str], media_type: &str) -> bool {
    if accept.is_empty() {
        return true;
    }
    accept.iter().flat_map(|h| h.split(',')).any(|item| {
        let t = item.split(';').next().unwrap_or("").trim();
        t == "*/*" || t == media_type || t == "application/*"
    })
}

/// Whether an index may be stored before its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Children {
    /// Every child must be in the repository (a push).
    Required,
    /// Missing children are linked when they arrive (a proxy cache).
    Later,
}

/// How a manifest is read: a `HEAD` checks, a `GET` pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Only the headers.
    Head,
    /// The content: counted and audited as a pull.
    Get,
}

impl Registry {
    /// Checks that `caller` may pull from `name` and finds the manifest `reference` names, in
    /// one database round trip. A `GET` (not a `HEAD`) is a pull: counted and audited.
    pub async fn pull_manifest(
        &self,
        caller: &Caller,
        from: IpAddr,
        name: &RepoName,
        reference: &Reference,
        fetch: Fetch,
    ) -> Result<ServedManifest, RegistryError> {
        let (text, by_tag) = match reference {
            Reference::Tag(t) => (t.as_str(), true),
            Reference::Digest(d) => (d.as_str(), false),
        };
        let user_id = caller.identity.user_id();
        let key = super::pull_cache::Key::new(name.project(), name.as_str(), text, by_tag, user_id);
        let found = self
            .pulls
            .get_or_read(
                key,
                db::manifests::lookup(self.db.reader(), name.project(), name.as_str(), text, by_tag, user_id),
            )
            .await?;
        let (access, manifest) = match found.as_deref() {
            Some(f) => (Some(f.access.clone()), f.manifest.clone()),
            None => (None, None),
        };
        let access = super::decide(caller, name, Action::Pull, access)?;
        if access.is_group {
            let m = self.pull_group(name, reference, access.project_id).await?;
            if fetch == Fetch::Get {
                if m.id != 0 {
                    let tag = match reference {
                        Reference::Tag(t) => Some(t.to_string()),
                        Reference::Digest(_) => None,
                    };
                    self.auditor.count_pull(m.repository_id, m.id, tag, caller.identity.name());
                }
                let actor = Actor::new(&caller.identity, from);
                let resource = format!("{name}@{}", m.digest);
                self.auditor.log(
                    actor,
                    Some(access.project_id),
                    Operation::Pull,
                    ResourceType::Artifact,
                    resource,
                );
            }
            return Ok(m);
        }
        if let Some(endpoint) = access.registry_id {
            let repository_id = match access.repository_id {
                Some(id) => id,
                None => db::repositories::ensure(self.db.writer(), access.project_id, name.as_str()).await?,
            };
            let repo =
                RepoCtx { repository_id, project_id: access.project_id, proxy: Some(endpoint), group: false };
            let m = self.pull_through(name, reference, repo, endpoint, manifest).await?;
            if fetch == Fetch::Get {
                if m.id != 0 {
                    let tag = match reference {
                        Reference::Tag(t) => Some(t.to_string()),
                        Reference::Digest(_) => None,
                    };
                    self.auditor.count_pull(repository_id, m.id, tag, caller.identity.name());
                }
                let actor = Actor::new(&caller.identity, from);
                let resource = format!("{name}@{}", m.digest);
                self.auditor.log(
                    actor,
                    Some(access.project_id),
                    Operation::Pull,
                    ResourceType::Artifact,
                    resource,
                );
            }
            return Ok(m);
        }
        let Some(repository_id) = access.repository_id else {
            return Err(RegistryError::NameUnknown(name.to_string()));
        };
        let row = manifest.ok_or_else(|| RegistryError::ManifestUnknown(reference.to_string()))?;
        if fetch == Fetch::Get {
            let tag = match reference {
                Reference::Tag(t) => Some(t.to_string()),
                Reference::Digest(_) => None,
            };
            self.auditor.count_pull(repository_id, row.id, tag, caller.identity.name());
            let actor = Actor::new(&caller.identity, from);
            let resource = format!("{name}@{}", row.digest);
            self.auditor.log(
                actor,
                Some(access.project_id),
                Operation::Pull,
                ResourceType::Artifact,
                resource,
            );
        }
        Ok(ServedManifest {
            id: row.id,
            repository_id,
            project_id: access.project_id,
            digest: row.digest,
            media_type: row.media_type,
            content: row.content,
        })
    }

    /// `actor`'s push of a manifest to repository `name` (resolved to `repo`): stored as
    /// [`Self::put_manifest`] does, and audited.
    #[allow(clippy::too_many_arguments)]
    pub async fn push_manifest(
        &self,
        actor: Actor<'_>,
        repo: RepoCtx,
        name: &RepoName,
        reference: &Reference,
        extra_tags: &[Tag],
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<PushedManifest, RegistryError> {
        let operator = Some(actor.identity.name());
        let pushed = self
            .store_manifest(repo, reference, extra_tags, content_type, bytes, Children::Required, operator)
            .await?;
        let resource = format!("{name}:{reference}");
        self.auditor.log(actor, Some(repo.project_id), Operation::Push, ResourceType::Artifact, resource);
        Ok(pushed)
    }

    /// `actor`'s delete of a tag or manifest of repository `name` (resolved to `repo`), as
    /// [`Self::delete_manifest`] does, audited.
    pub async fn delete(
        &self,
        actor: Actor<'_>,
        repo: RepoCtx,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<(), RegistryError> {
        self.delete_manifest(repo, reference, actor.identity.name()).await?;
        let kind =
            if matches!(reference, Reference::Tag(_)) { ResourceType::Tag } else { ResourceType::Artifact };
        self.auditor.log(
            actor,
            Some(repo.project_id),
            Operation::Delete,
            kind,
            format!("{name}:{reference}"),
        );
        Ok(())
    }

    /// Stores a pushed manifest under `reference`, after checking that everything it names is in
    /// the repository (not audited: pushes and copies record their own events).
    pub(crate) async fn put_manifest(
        &self,
        repo: RepoCtx,
        reference: &Reference,
        extra_tags: &[Tag],
        content_type: Option<&str>,
        bytes: &[u8],
        operator: Option<&str>,
    ) -> Result<PushedManifest, RegistryError> {
        self.store_manifest(repo, reference, extra_tags, content_type, bytes, Children::Required, operator)
            .await
    }

    /// As [`Self::put_manifest`]; with [`Children::Later`] an index is stored before its
    /// children (a proxy cache fetches only those clients ask for), each linked when it arrives.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_manifest(
        &self,
        repo: RepoCtx,
        reference: &Reference,
        extra_tags: &[Tag],
        content_type: Option<&str>,
        bytes: &[u8],
        children_rule: Children,
        operator: Option<&str>,
    ) -> Result<PushedManifest, RegistryError> {
        let parsed: Manifest = manifest::parse(bytes, content_type)?;
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = digest_of(d.algorithm(), bytes);
                if &actual != d {
                    return Err(RegistryError::DigestInvalid(format!("expected {d}, content is {actual}")));
                }
                actual
            }
            Reference::Tag(_) => digest_of(Algorithm::Sha256, bytes),
        };
        let blobs: Vec<&str> = parsed.required_blobs().iter().map(|d| d.digest.as_str()).collect();
        let children: Vec<&str> = parsed.children().iter().map(|d| d.digest.as_str()).collect();

        let mut tx = self.db.begin().await?;
        let present = db::blobs::linked_among(&mut tx, self.db.backend(), repo.repository_id, &blobs).await?;
        if let Some(missing) = blobs.iter().find(|d| !present.iter().any(|(p, _)| p == *d)) {
            return Err(RegistryError::ManifestBlobUnknown(format!("blob {missing}")));
        }
        let kids =
            db::manifests::present_among(&mut tx, self.db.backend(), repo.repository_id, &children).await?;
        let missing: Vec<&str> =
            children.iter().copied().filter(|d| !kids.iter().any(|(p, _, _)| p == d)).collect();
        if let (Some(first), Children::Required) = (missing.first(), children_rule) {
            return Err(RegistryError::ManifestBlobUnknown(format!("manifest {first}")));
        }
        // `present` and `kids` hold each digest once (they come from primary keys).
        let total_size = bytes.len() as i64
            + present.iter().map(|(_, s)| s).sum::<i64>()
            + kids.iter().map(|(_, _, s)| s).sum::<i64>();
        let new = NewManifest {
            repository_id: repo.repository_id,
            digest: digest.as_str(),
            media_type: &parsed.media_type,
            artifact_type: parsed.artifact_type.as_deref(),
            config_media_type: parsed.config_media_type(),
            subject_digest: parsed.subject.as_ref().map(|s| s.digest.as_str()),
            annotations: parsed.annotations.as_deref(),
            total_size,
            content: bytes,
        };
        let quota = db::quotas::lock(&mut tx, self.db.backend(), repo.project_id).await?;
        let (before, hard) = (quota.used, quota.hard);
        let id = db::manifests::upsert(&mut tx, &new).await?;
        let blob_digests: Vec<&str> = present.iter().map(|(d, _)| d.as_str()).collect();
        db::manifests::add_blob_refs(&mut tx, id, &blob_digests).await?;
        let child_ids: Vec<i64> = kids.iter().map(|(_, id, _)| *id).collect();
        db::manifests::add_children(&mut tx, id, &child_ids).await?;
        // Only a proxy cache stores indexes ahead of their children; pushes skip the queries.
        if repo.proxy.is_some() {
            db::manifests::add_pending_children(&mut tx, id, &missing).await?;
            db::manifests::adopt_pending(&mut tx, repo.repository_id, id, digest.as_str()).await?;
        }
        // The tag pushed by, and the `tag` parameters of a push by digest, in the same
        // transaction as the manifest: all appear together or none.
        let mut tags: Vec<Tag> = Vec::new();
        for tag in extra_tags.iter().chain(match reference {
            Reference::Tag(t) => Some(t),
            Reference::Digest(_) => None,
        }) {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        // A proxy cache mirrors its upstream's tags; immutability governs what is pushed.
        let protection = if repo.proxy.is_none() && !tags.is_empty() {
            self.protection_in(&mut tx, repo, Some(&quota)).await?
        } else {
            None
        };
        for tag in &tags {
            self.write_tag(&mut tx, repo, protection.as_ref(), tag.as_str(), id).await?;
        }
        // The triggers counted what this manifest adds; over the limit, nothing is kept. The
        // count is read only when this push could cross the limit or the warning threshold:
        // it adds at most its own bytes and its blobs'.
        let threshold = hard.saturating_mul(i64::from(self.quota_warning)) / 100;
        let at_most = before.saturating_add(total_size - kids.iter().map(|(_, _, s)| s).sum::<i64>());
        let warn = quota.webhooks && before < threshold && at_most >= threshold;
        let mut used = before;
        if hard >= 0 && (at_most > hard || warn) {
            used = db::quotas::used_in(&mut tx, repo.project_id).await?;
            if used > hard && used > before {
                let details = crate::projects::quotas::overflow(used - before, before, hard);
                tx.rollback().await.map_err(db::DbError::from)?;
                if quota.webhooks
                    && let Some(operator) = operator
                {
                    self.report_quota_exceeded(repo, operator, &digest, &details).await;
                }
                return Err(RegistryError::QuotaExceeded(details));
            }
        }
        // Reported in this transaction: the events exist exactly when the push does.
        let mut touched = false;
        if quota.webhooks
            && children_rule == Children::Required
            && let Some(operator) = operator
        {
            let info = self.repo_info(&mut tx, repo, Some(&quota)).await?;
            let names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            let push = events::artifact(
                WebhookEvent::PushArtifact,
                operator,
                &self.host,
                &info,
                digest.as_str(),
                &names,
            );
            // The push's event and its last write in one round trip.
            db::webhooks::record_and_touch(
                &mut tx,
                self.db.backend(),
                repo.repository_id,
                repo.project_id,
                WebhookEvent::PushArtifact.as_str(),
                &push,
            )
            .await?;
            if hard >= 0 && warn && used >= threshold {
                let details = crate::projects::quotas::warning(self.quota_warning, used, hard);
                let warn =
                    events::quota(WebhookEvent::QuotaWarning, operator, &info, digest.as_str(), &details);
                db::webhooks::record(
                    &mut tx,
                    self.db.backend(),
                    repo.project_id,
                    WebhookEvent::QuotaWarning.as_str(),
                    &warn,
                )
                .await?;
            }
            touched = true;
        }
        if !touched {
            db::repositories::touch(&mut *tx, repo.repository_id).await?;
        }
        tx.commit().await.map_err(db::DbError::from)?;
        if children_rule == Children::Required {
            // Nobody listening is fine.
            let _ = self.events.send(super::RegistryEvent::Pushed {
                repository_id: repo.repository_id,
                digest: digest.to_string(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
            });
        }
        Ok(PushedManifest { digest, subject: parsed.subject.map(|s| s.digest), tags })
    }

    /// Deletes a tag (by tag) or a manifest with all its tags (by digest). A manifest that an
    /// index of the repository still names is refused. Not audited: [`Self::delete`] and the
    /// portal's and API's deletes record their own events.
    pub(crate) async fn delete_manifest(
        &self,
        repo: RepoCtx,
        reference: &Reference,
        operator: &str,
    ) -> Result<(), RegistryError> {
        match reference {
            Reference::Tag(t) => {
                let mut tx = self.db.begin().await?;
                if let Some((rules, path)) = self.protection_in(&mut tx, repo, None).await?
                    && rules.may_protect(&path, t.as_str())
                {
                    let labels = match db::tags::target(&mut *tx, repo.repository_id, t.as_str()).await? {
                        Some(id) if rules.uses_labels() => db::labels::names_of(&mut *tx, id).await?,
                        _ => Vec::new(),
                    };
                    if rules.protects(&path, t.as_str(), &strs(&labels)) {
                        return Err(RegistryError::Immutable(path, t.to_string()));
                    }
                }
                if db::tags::delete(&mut *tx, repo.repository_id, t.as_str()).await? {
                    tx.commit().await.map_err(db::DbError::from)?;
                    Ok(())
                } else {
                    Err(RegistryError::ManifestUnknown(t.to_string()))
                }
            }
            Reference::Digest(d) => {
                let mut tx = self.db.begin().await?;
                let row = db::manifests::by_digest(&mut *tx, repo.repository_id, d.as_str())
                    .await?
                    .ok_or_else(|| RegistryError::ManifestUnknown(d.to_string()))?;
                if let Some((rules, path)) = self.protection_in(&mut tx, repo, None).await? {
                    let tags = db::tags::of_manifest(&mut *tx, row.id).await?;
                    let labels = if rules.uses_labels() && !tags.is_empty() {
                        db::labels::names_of(&mut *tx, row.id).await?
                    } else {
                        Vec::new()
                    };
                    if let Some(tag) = rules.first_protected(&path, &tags, &strs(&labels)) {
                        return Err(RegistryError::Immutable(path, tag.to_owned()));
                    }
                }
                let parents = db::manifests::parents(&mut *tx, row.id).await?;
                // Read before the delete: the event names the tags the artifact had.
                let event = if parents.is_empty()
                    && db::webhooks::subscribed(
                        &mut *tx,
                        repo.project_id,
                        WebhookEvent::DeleteArtifact.as_str(),
                    )
                    .await?
                {
                    let info = self.repo_info(&mut tx, repo, None).await?;
                    let tags = db::tags::of_manifest(&mut *tx, row.id).await?;
                    Some(events::artifact(
                        WebhookEvent::DeleteArtifact,
                        operator,
                        &self.host,
                        &info,
                        d.as_str(),
                        &tags,
                    ))
                } else {
                    None
                };
                if !parents.is_empty() {
                    return Err(RegistryError::Conflict(format!(
                        "{d} is part of index {}; delete the index first",
                        parents.join(", ")
                    )));
                }
                // An index naming this manifest may have been pushed since the check above on a
                // database that runs writers concurrently: the foreign key refuses the delete.
                match db::manifests::delete(&mut *tx, row.id).await {
                    Err(e) if e.is_foreign_key_violation() => {
                        return Err(RegistryError::Conflict(format!(
                            "{d} is part of an index; delete the index first"
                        )));
                    }
                    other => other?,
                }
                if let Some(event) = event {
                    db::webhooks::record(
                        &mut tx,
                        self.db.backend(),
                        repo.project_id,
                        WebhookEvent::DeleteArtifact.as_str(),
                        &event,
                    )
                    .await?;
                }
                db::repositories::touch(&mut *tx, repo.repository_id).await?;
                let repository = db::repositories::name_of(&mut *tx, repo.repository_id).await?;
                tx.commit().await.map_err(db::DbError::from)?;
                if let Some(repository) = repository {
                    let _ =
                        self.events.send(super::RegistryEvent::Deleted { repository, digest: d.to_string() });
                }
                Ok(())
            }
        }
    }

    /// What an event says about repository `repo`, read in transaction `tx` (the project's
    /// visibility from `lock` when the write holds it).
    async fn repo_info(
        &self,
        tx: &mut sqlx::AnyConnection,
        repo: RepoCtx,
        lock: Option<&db::quotas::QuotaLock>,
    ) -> Result<RepoInfo, RegistryError> {
        if let Some(lock) = lock {
            let (full_name, created_at) = self.repo_identity(tx, repo.repository_id).await?;
            return Ok(RepoInfo { full_name: full_name.to_string(), created_at, public: lock.public });
        }
        let (full_name, created_at, public) =
            db::repositories::event_info(tx, repo.repository_id).await?.ok_or(RegistryError::Internal)?;
        Ok(RepoInfo { full_name, created_at, public })
    }

    /// Repository `id`'s full name and creation time, which never change (a repository is not
    /// renamed, and ids are not reused), so each replica reads them once.
    async fn repo_identity(
        &self,
        tx: &mut sqlx::AnyConnection,
        id: i64,
    ) -> Result<(std::sync::Arc<str>, i64), RegistryError> {
        if let Some(found) = self.names.lock().expect("names").get(&id) {
            return Ok(found.clone());
        }
        let (name, created_at, _) =
            db::repositories::event_info(tx, id).await?.ok_or(RegistryError::Internal)?;
        let found: (std::sync::Arc<str>, i64) = (name.into(), created_at);
        let mut names = self.names.lock().expect("names");
        if names.len() >= 65_536 {
            names.clear();
        }
        names.insert(id, found.clone());
        Ok(found)
    }

    /// Reports a push refused for the quota (its own transaction: the push's was rolled back).
    async fn report_quota_exceeded(&self, repo: RepoCtx, operator: &str, digest: &Digest, details: &str) {
        let result: Result<(), RegistryError> = async {
            let mut tx = self.db.begin().await?;
            let info = self.repo_info(&mut tx, repo, None).await?;
            let event = events::quota(WebhookEvent::QuotaExceed, operator, &info, digest.as_str(), details);
            db::webhooks::record(
                &mut tx,
                self.db.backend(),
                repo.project_id,
                WebhookEvent::QuotaExceed.as_str(),
                &event,
            )
            .await?;
            tx.commit().await.map_err(db::DbError::from)?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "recording a QUOTA_EXCEED event failed");
        }
    }

    /// The project's enabled immutability rules and the repository's path inside the project,
    /// in transaction `tx` (`None`: no rule is enabled). `lock` is the project's quota row when
    /// the write locked it already; otherwise it is locked here.
    async fn protection_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        repo: RepoCtx,
        lock: Option<&db::quotas::QuotaLock>,
    ) -> Result<Option<(Arc<Protection>, String)>, RegistryError> {
        let rules = match lock {
            Some(lock) => self.rules.get(tx, repo.project_id, lock).await?,
            None => self.rules.locked(tx, self.db.backend(), repo.project_id).await?,
        };
        let Some(rules) = rules else { return Ok(None) };
        let (name, _) = self.repo_identity(tx, repo.repository_id).await?;
        let path = name.split_once('/').map_or(&*name, |(_, r)| r).to_owned();
        Ok(Some((rules, path)))
    }

    /// Points tag `tag` at manifest `id` in transaction `tx`; an immutable tag may be created,
    /// never moved.
    async fn write_tag(
        &self,
        tx: &mut sqlx::AnyConnection,
        repo: RepoCtx,
        protection: Option<&(Arc<Protection>, String)>,
        tag: &str,
        id: i64,
    ) -> Result<(), RegistryError> {
        match protection {
            Some((rules, path)) if rules.may_protect(path, tag) => {
                match db::tags::create_or_get(tx, repo.repository_id, tag, id).await? {
                    Some(current) if current != id => {
                        // Whether the tag is frozen may depend on the labels of what it names now.
                        let labels = if rules.uses_labels() {
                            db::labels::names_of(&mut *tx, current).await?
                        } else {
                            Vec::new()
                        };
                        if rules.protects(path, tag, &strs(&labels)) {
                            return Err(RegistryError::Immutable(path.clone(), tag.to_owned()));
                        }
                        Ok(db::tags::upsert(&mut *tx, repo.repository_id, tag, id).await?)
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(db::tags::upsert(&mut *tx, repo.repository_id, tag, id).await?),
        }
    }

    /// Points tag `tag` of the repository at manifest `id` (the API's and the portal's tag
    /// writes), honouring immutability.
    pub(crate) async fn set_tag(&self, repo: RepoCtx, tag: &str, id: i64) -> Result<(), RegistryError> {
        let mut tx = self.db.begin().await?;
        let protection = self.protection_in(&mut tx, repo, None).await?;
        self.write_tag(&mut tx, repo, protection.as_ref(), tag, id).await?;
        db::repositories::touch(&mut *tx, repo.repository_id).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(())
    }

    /// Deletes the repository with its artifacts and tags, unless one of its tags is immutable.
    pub(crate) async fn delete_repository(&self, repo: RepoCtx) -> Result<(), RegistryError> {
        let mut tx = self.db.begin().await?;
        if let Some((rules, path)) = self.protection_in(&mut tx, repo, None).await? {
            let tags = db::tags::all_of(&mut *tx, repo.repository_id).await?;
            let labels = if rules.uses_labels() {
                db::labels::names_by_tag(&mut *tx, repo.repository_id).await?
            } else {
                Vec::new()
            };
            for tag in &tags {
                let mine: Vec<&str> =
                    labels.iter().filter(|(t, _)| t == tag).map(|(_, l)| l.as_str()).collect();
                if rules.protects(&path, tag, &mine) {
                    return Err(RegistryError::Immutable(path, tag.clone()));
                }
            }
        }
        db::repositories::delete(&mut tx, repo.repository_id).await?;
        tx.commit().await.map_err(db::DbError::from)?;
        Ok(())
    }

    /// The referrers of `subject` as an OCI image index, optionally filtered by artifact type.
    pub async fn referrers(
        &self,
        repo: RepoCtx,
        name: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<serde_json::Value, RegistryError> {
        let mut index = self.local_referrers(repo, subject, artifact_type).await?;
        // A proxy cache adds what its upstream knows: signatures and SBOMs are fetched when a
        // client asks for them by digest, like any manifest.
        if let Some(endpoint) = repo.proxy {
            match self.upstream_referrers(endpoint, name, subject, artifact_type).await {
                Ok(more) => {
                    if let Some(list) = index["manifests"].as_array_mut() {
                        for d in more {
                            if !list.iter().any(|l| l["digest"] == d["digest"]) {
                                list.push(d);
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(repository = %name, error = %e, "upstream referrers failed: answering the cached ones")
                }
            }
        }
        Ok(index)
    }

    async fn local_referrers(
        &self,
        repo: RepoCtx,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<serde_json::Value, RegistryError> {
        let rows =
            db::manifests::referrers(self.db.reader(), repo.repository_id, subject.as_str(), artifact_type)
                .await?;
        let manifests: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|r| {
                let mut d = serde_json::json!({
                    "mediaType": r.media_type,
                    "digest": r.digest,
                    "size": r.size,
                });
                if let Some(t) = r.artifact_type.or(r.config_media_type) {
                    d["artifactType"] = t.into();
                }
                if let Some(a) =
                    r.annotations.and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
                {
                    d["annotations"] = a;
                }
                d
            })
            .collect();
        Ok(index_of(manifests))
    }
}

/// An OCI image index listing `manifests` (the referrers API's answer).
fn index_of(manifests: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_INDEX,
        "manifests": manifests,
    })
}

/// The referrers of anything in a repository without content: none.
pub fn empty_index() -> serde_json::Value {
    index_of(Vec::new())
}

/// Borrowed views of `names`, for the label selectors.
fn strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_matching() {
        let t = "application/vnd.oci.image.index.v1+json";
        assert!(accepts(&[], t));
        assert!(accepts(&["application/json, */*;q=0.1"], t));
        assert!(accepts(&["application/vnd.docker.distribution.manifest.v2+json", t], t));
        assert!(!accepts(&["application/vnd.docker.distribution.manifest.v2+json"], t));
    }
}
