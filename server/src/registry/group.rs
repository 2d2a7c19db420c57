//! Group projects: read-only projects whose pulls are answered by the first of their members
//! (hosted projects or proxy caches, in the order the group lists them) that has the reference.
//! One pull address for "our images, else Docker Hub, else the vendor's registry".
//!
//! A caller needs pull rights on the group only: the group reads its members with its own
//! rights (a system administrator set it up), and only reads; pushes and deletes through it are
//! refused.

use super::error::RegistryError;
use super::manifests::ServedManifest;
use super::proxy::ProxiedBlob;
use super::{Registry, RepoCtx};
use crate::db::{self, projects::GroupMember};
use crate::oci::reference::{Digest, Reference, RepoName};

/// Whether `e` means "not in this member": try the next one.
fn absent(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::ManifestUnknown(_)
            | RegistryError::BlobUnknown
            | RegistryError::NameUnknown(_)
            | RegistryError::Upstream(_)
    )
}

impl Registry {
    async fn members(&self, group_id: i64) -> Result<Vec<GroupMember>, RegistryError> {
        Ok(db::projects::group_members(self.db.reader(), group_id).await?)
    }

    /// `name` (in the group) as repository `member/<path>`.
    fn in_member(member: &GroupMember, name: &RepoName) -> Result<RepoName, RegistryError> {
        format!("{}/{}", member.name, name.path())
            .parse()
            .map_err(|e: crate::oci::reference::ParseError| RegistryError::NameInvalid(e.to_string()))
    }

    /// The repository of `member` behind `name`, created for a proxy member (its repositories
    /// appear on first pull); `None` when a hosted member does not have it.
    async fn member_repo(
        &self,
        member: &GroupMember,
        name: &RepoName,
    ) -> Result<Option<RepoCtx>, RegistryError> {
        let full = Self::in_member(member, name)?;
        let id = match db::repositories::by_name(self.db.reader(), full.as_str()).await? {
            Some(r) => r.id,
            None if member.registry_id.is_some() => {
                db::repositories::ensure(self.db.writer(), member.id, full.as_str()).await?
            }
            None => return Ok(None),
        };
        Ok(Some(RepoCtx {
            repository_id: id,
            project_id: member.id,
            proxy: member.registry_id,
            group: false,
        }))
    }

    /// The manifest `reference` of `name` from the first member of group `group_id` that has it.
    pub(super) async fn pull_group(
        &self,
        name: &RepoName,
        reference: &Reference,
        group_id: i64,
    ) -> Result<ServedManifest, RegistryError> {
        let members = self.members(group_id).await?;
        let mut last_failure = None;
        for member in &members {
            let Some(repo) = self.member_repo(member, name).await? else { continue };
            let local = match reference {
                Reference::Tag(t) => {
                    db::manifests::by_tag(self.db.reader(), repo.repository_id, t.as_str()).await?
                }
                Reference::Digest(d) => {
                    db::manifests::by_digest(self.db.reader(), repo.repository_id, d.as_str()).await?
                }
            };
            let found = match (local, member.registry_id) {
                (Some(row), None) => Ok(ServedManifest {
                    id: row.id,
                    repository_id: repo.repository_id,
                    project_id: member.id,
                    digest: row.digest,
                    media_type: row.media_type,
                    content: row.content,
                }),
                (None, None) => continue,
                (local, Some(endpoint)) => {
                    let full = Self::in_member(member, name)?;
                    self.pull_through(&full, reference, repo, endpoint, local).await
                }
            };
            match found {
                Ok(m) => return Ok(m),
                Err(e) if absent(&e) => last_failure = Some(e),
                Err(e) => return Err(e),
            }
        }
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        Err(match last_failure {
            Some(RegistryError::Upstream(m)) => RegistryError::Upstream(m),
            _ => RegistryError::ManifestUnknown(format!(
                "{reference} is in none of the group's projects ({})",
                names.join(", ")
            )),
        })
    }

    /// Blob `digest` of `name` from the first member of the group that has it.
    pub async fn group_blob(
        &self,
        repo: RepoCtx,
        name: &RepoName,
        digest: &Digest,
        head: bool,
    ) -> Result<ProxiedBlob, RegistryError> {
        for member in self.members(repo.project_id).await? {
            let Some(r) = self.member_repo(&member, name).await? else { continue };
            let local = if head { self.check_blob(r, digest).await } else { self.stat_blob(r, digest).await };
            match local {
                Ok(size) => {
                    let body = match head {
                        true => None,
                        false => {
                            let read = self.read_blob(digest, None).await?;
                            Some(futures::StreamExt::boxed(futures::TryStreamExt::map_err(
                                read.stream,
                                std::io::Error::other,
                            )))
                        }
                    };
                    return Ok(ProxiedBlob { size: Some(size), body });
                }
                Err(RegistryError::BlobUnknown) if r.proxy.is_some() => {
                    let full = Self::in_member(&member, name)?;
                    match self.proxy_blob(r, &full, digest, head).await {
                        Ok(b) => return Ok(b),
                        Err(e) if absent(&e) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(RegistryError::BlobUnknown) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::BlobUnknown)
    }

    /// The tags of `name` across the group's members (each once, in order), after `last`, at
    /// most `n`.
    pub(super) async fn group_tags(
        &self,
        repo: RepoCtx,
        name: &RepoName,
        last: Option<&str>,
        n: i64,
    ) -> Result<Vec<String>, RegistryError> {
        let mut all = std::collections::BTreeSet::new();
        for member in self.members(repo.project_id).await? {
            let full = Self::in_member(&member, name)?;
            if let Some(r) = db::repositories::by_name(self.db.reader(), full.as_str()).await? {
                all.extend(db::tags::list(self.db.reader(), r.id, last, n).await?);
            }
        }
        Ok(all.into_iter().take(n.max(0) as usize).collect())
    }
}
