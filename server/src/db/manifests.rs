//! SQL for `manifests`, `manifest_blobs` and `manifest_children`.

use sqlx::{Any, Executor, Row};

use super::{Backend, DbResult, now_ms, placeholders};

/// A manifest as served to clients.
#[derive(Debug, Clone)]
pub struct ManifestRow {
    /// Row id.
    pub id: i64,
    /// Content digest.
    pub digest: String,
    /// Media type the content was pushed with.
    pub media_type: String,
    /// The exact bytes pushed.
    pub content: Vec<u8>,
}

/// A manifest to store.
#[derive(Debug, Clone)]
pub struct NewManifest<'a> {
    /// Repository it is pushed to.
    pub repository_id: i64,
    /// Content digest.
    pub digest: &'a str,
    /// Media type.
    pub media_type: &'a str,
    /// OCI `artifactType`, if any.
    pub artifact_type: Option<&'a str>,
    /// The config descriptor's media type, if any.
    pub config_media_type: Option<&'a str>,
    /// Digest of the `subject`, if any.
    pub subject_digest: Option<&'a str>,
    /// Annotations as JSON text, if any.
    pub annotations: Option<&'a str>,
    /// Size of the manifest plus everything it references.
    pub total_size: i64,
    /// The exact bytes.
    pub content: &'a [u8],
}

/// A manifest that names a subject, as listed by the referrers API.
#[derive(Debug, Clone)]
pub struct ReferrerRow {
    /// Digest of the referrer.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its `artifactType`, if set.
    pub artifact_type: Option<String>,
    /// Its config media type, if any.
    pub config_media_type: Option<String>,
    /// Its annotations as JSON text.
    pub annotations: Option<String>,
}

fn manifest_from(r: &sqlx::any::AnyRow) -> DbResult<ManifestRow> {
    Ok(ManifestRow {
        id: r.try_get("id")?,
        digest: r.try_get("digest")?,
        media_type: r.try_get("media_type")?,
        content: r.try_get("content")?,
    })
}

/// A project's access row and, found in the same query, a manifest of one of its repositories:
/// the pull hot path costs one round trip.
#[derive(Debug, Clone)]
pub struct ManifestLookup {
    /// The project (and repository) as the permission check needs them.
    pub access: super::projects::ProjectAccess,
    /// The manifest, when the repository has it.
    pub manifest: Option<ManifestRow>,
}

/// Looks up project `project`, repository `repo` and the manifest `reference` names in it
/// (`by_tag` says whether `reference` is a tag or a digest). `None`: no such project.
pub async fn lookup<'e>(
    e: impl Executor<'e, Database = Any>,
    project: &str,
    repo: &str,
    reference: &str,
    by_tag: bool,
    user_id: i64,
) -> DbResult<Option<ManifestLookup>> {
    let join = if by_tag {
        "LEFT JOIN tags t ON t.repository_id = r.id AND t.name = $3 LEFT JOIN manifests m ON m.id = t.manifest_id"
    } else {
        "LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = $3"
    };
    let sql = format!(
        "SELECT p.id AS pid, p.public AS public, r.id AS rid, pm.role_id AS role_id, m.id AS id, \
         m.digest AS digest, m.media_type AS media_type, m.content AS content FROM projects p \
         LEFT JOIN repositories r ON r.project_id = p.id AND r.name = $2 \
         LEFT JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = $4 {join} WHERE p.name = $1"
    );
    let row =
        sqlx::query(&sql).bind(project).bind(repo).bind(reference).bind(user_id).fetch_optional(e).await?;
    row.map(|r| {
        let access = super::projects::access_from(&r)?;
        let manifest = match r.try_get::<Option<i64>, _>("id")? {
            Some(_) => Some(manifest_from(&r)?),
            None => None,
        };
        Ok(ManifestLookup { access, manifest })
    })
    .transpose()
}

/// The manifest with `digest` in the repository.
pub async fn by_digest<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    digest: &str,
) -> DbResult<Option<ManifestRow>> {
    let row = sqlx::query(
        "SELECT id, digest, media_type, content FROM manifests WHERE repository_id = $1 AND digest = $2",
    )
    .bind(repo_id)
    .bind(digest)
    .fetch_optional(e)
    .await?;
    row.as_ref().map(manifest_from).transpose()
}

/// Of `digests`, the manifests present in the repository: (digest, id, size). On PostgreSQL the
/// rows are share-locked until the caller's transaction ends, so the collector's removal of
/// untagged manifests waits for an index naming them to commit (and then keeps them).
pub async fn present_among(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    repo_id: i64,
    digests: &[&str],
) -> DbResult<Vec<(String, i64, i64)>> {
    if digests.is_empty() {
        return Ok(Vec::new());
    }
    let lock = if backend == Backend::Postgres { " FOR SHARE" } else { "" };
    let sql = format!(
        "SELECT digest, id, total_size FROM manifests WHERE repository_id = $1 AND digest IN ({}){lock}",
        placeholders(2, digests.len())
    );
    let mut q = sqlx::query(&sql).bind(repo_id);
    for d in digests {
        q = q.bind(*d);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Stores a manifest (a re-push of the same digest refreshes its push time); returns its id.
pub async fn upsert(tx: &mut sqlx::AnyConnection, m: &NewManifest<'_>) -> DbResult<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, config_media_type, \
         subject_digest, annotations, size, total_size, content, pushed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (repository_id, digest) DO UPDATE SET pushed_at = excluded.pushed_at RETURNING id",
    )
    .bind(m.repository_id)
    .bind(m.digest)
    .bind(m.media_type)
    .bind(m.artifact_type)
    .bind(m.config_media_type)
    .bind(m.subject_digest)
    .bind(m.annotations)
    .bind(m.content.len() as i64)
    .bind(m.total_size)
    .bind(m.content)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await?;
    Ok(id)
}

/// Records the blobs a manifest references.
pub async fn add_blob_refs(tx: &mut sqlx::AnyConnection, manifest_id: i64, digests: &[&str]) -> DbResult<()> {
    for d in digests {
        sqlx::query(
            "INSERT INTO manifest_blobs (manifest_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(manifest_id)
        .bind(*d)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records the children of an index.
pub async fn add_children(tx: &mut sqlx::AnyConnection, parent_id: i64, child_ids: &[i64]) -> DbResult<()> {
    for c in child_ids {
        sqlx::query(
            "INSERT INTO manifest_children (parent_id, child_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(parent_id)
        .bind(*c)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Digests of the indexes in the repository that name manifest `id` as a child.
pub async fn parents<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT m.digest FROM manifest_children c JOIN manifests m ON m.id = c.parent_id WHERE c.child_id = $1",
    )
    .bind(id)
    .fetch_all(e)
    .await?)
}

/// Deletes a manifest with its tags and references.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM manifests WHERE id = $1").bind(id).execute(e).await?;
    Ok(())
}

/// What makes a manifest removable by `delete_untagged`: pushed before the cutoff (`$1`), no
/// tag, no index naming it, and no subject left in its repository.
const UNTAGGED: &str = "m.pushed_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id) \
     AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.child_id = m.id) \
     AND (m.subject_digest IS NULL OR NOT EXISTS \
          (SELECT 1 FROM manifests s WHERE s.repository_id = m.repository_id AND s.digest = m.subject_digest))";

/// Up to `limit` removable untagged manifests with ids above `after`, in id order.
pub async fn untagged<'e>(
    e: impl Executor<'e, Database = Any>,
    cutoff: i64,
    after: i64,
    limit: i64,
) -> DbResult<Vec<i64>> {
    let sql = format!("SELECT m.id FROM manifests m WHERE {UNTAGGED} AND m.id > $2 ORDER BY m.id LIMIT $3");
    Ok(sqlx::query_scalar(&sql).bind(cutoff).bind(after).bind(limit).fetch_all(e).await?)
}

/// Deletes those of `ids` that are still removable; returns how many went.
///
/// On PostgreSQL the rows are locked `FOR UPDATE` first, which waits for a concurrent tag, index
/// or re-push holding them to commit; the `DELETE` that follows is a new statement whose
/// snapshot sees those commits and keeps the manifest.
pub async fn delete_untagged(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    ids: &[i64],
    cutoff: i64,
) -> DbResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = placeholders(2, ids.len());
    if backend == Backend::Postgres {
        let sql = format!(
            "SELECT id FROM manifests WHERE pushed_at < $1 AND id IN ({list}) ORDER BY id FOR UPDATE"
        );
        let mut q = sqlx::query(&sql).bind(cutoff);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?;
    }
    let sql = format!(
        "DELETE FROM manifests WHERE id IN (SELECT m.id FROM manifests m WHERE {UNTAGGED} AND m.id IN ({list}))"
    );
    let mut q = sqlx::query(&sql).bind(cutoff);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.execute(&mut *tx).await?.rows_affected())
}

/// Manifests in the repository whose subject is `subject`, optionally of one artifact type.
pub async fn referrers<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    subject: &str,
    artifact_type: Option<&str>,
) -> DbResult<Vec<ReferrerRow>> {
    let mut sql = String::from(
        "SELECT digest, media_type, size, artifact_type, config_media_type, annotations FROM manifests \
         WHERE repository_id = $1 AND subject_digest = $2",
    );
    if artifact_type.is_some() {
        sql.push_str(" AND COALESCE(artifact_type, config_media_type) = $3");
    }
    sql.push_str(" ORDER BY pushed_at, id");
    let mut q = sqlx::query(&sql).bind(repo_id).bind(subject);
    if let Some(t) = artifact_type {
        q = q.bind(t);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter()
        .map(|r| {
            Ok(ReferrerRow {
                digest: r.try_get(0)?,
                media_type: r.try_get(1)?,
                size: r.try_get(2)?,
                artifact_type: r.try_get(3)?,
                config_media_type: r.try_get(4)?,
                annotations: r.try_get(5)?,
            })
        })
        .collect()
}

/// Whether a manifest of the repository references blob `digest`.
pub async fn uses_blob<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    digest: &str,
) -> DbResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
         WHERE m.repository_id = $1 AND mb.digest = $2 LIMIT 1",
    )
    .bind(repo_id)
    .bind(digest)
    .fetch_optional(e)
    .await?;
    Ok(found.is_some())
}

/// The manifests (`repository@digest`) that reference blob `digest`.
pub async fn referencing_blob<'e>(
    e: impl Executor<'e, Database = Any>,
    digest: &str,
) -> DbResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.name, m.digest FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
         JOIN repositories r ON r.id = m.repository_id WHERE mb.digest = $1 ORDER BY r.name, m.digest",
    )
    .bind(digest)
    .fetch_all(e)
    .await?;
    rows.iter().map(|r| Ok(format!("{}@{}", r.try_get::<&str, _>(0)?, r.try_get::<&str, _>(1)?))).collect()
}

/// Up to `limit` manifests after id `after`: id, `repository@digest` and content (for `fsck`).
pub async fn content_page<'e>(
    e: impl Executor<'e, Database = Any>,
    after: i64,
    limit: i64,
) -> DbResult<Vec<(i64, String, String, Vec<u8>)>> {
    let rows = sqlx::query(
        "SELECT m.id, r.name, m.digest, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         WHERE m.id > $1 ORDER BY m.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(e)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
}

/// Pairs of (`repository@manifest digest`, blob digest) where a manifest references a blob a
/// sweep is deleting: the collector's protocol forbids this, so `fsck` reports any.
pub async fn referencing_purging<'e>(
    e: impl Executor<'e, Database = Any>,
) -> DbResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT r.name, m.digest, b.digest FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest \
         JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id \
         WHERE b.status = 'purging' ORDER BY r.name, m.digest",
    )
    .fetch_all(e)
    .await?;
    rows.iter()
        .map(|r| Ok((format!("{}@{}", r.try_get::<&str, _>(0)?, r.try_get::<&str, _>(1)?), r.try_get(2)?)))
        .collect()
}

/// An artifact (manifest) as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRow {
    /// Id.
    pub id: i64,
    /// Repository id.
    pub repository_id: i64,
    /// Digest.
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
    /// OCI `artifactType`.
    pub artifact_type: Option<String>,
    /// Config media type.
    pub config_media_type: Option<String>,
    /// Size of the manifest and everything it references.
    pub total_size: i64,
    /// Push time, unix ms.
    pub pushed_at: i64,
    /// Last pull time, unix ms.
    pub pulled_at: Option<i64>,
}

/// A tag of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    /// The manifest it points at.
    pub manifest_id: i64,
    /// Tag name.
    pub name: String,
    /// When it was pushed, unix ms.
    pub pushed_at: i64,
    /// Last pull, unix ms.
    pub pulled_at: Option<i64>,
}

const ARTIFACT_SELECT: &str = "SELECT id, repository_id, digest, media_type, artifact_type, config_media_type, \
     total_size, pushed_at, pulled_at FROM manifests";

fn artifact_from(r: &sqlx::any::AnyRow) -> DbResult<ArtifactRow> {
    Ok(ArtifactRow {
        id: r.try_get("id")?,
        repository_id: r.try_get("repository_id")?,
        digest: r.try_get("digest")?,
        media_type: r.try_get("media_type")?,
        artifact_type: r.try_get("artifact_type")?,
        config_media_type: r.try_get("config_media_type")?,
        total_size: r.try_get("total_size")?,
        pushed_at: r.try_get("pushed_at")?,
        pulled_at: r.try_get("pulled_at")?,
    })
}

/// How a listing of artifacts is ordered (Harbor's `sort` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArtifactSort {
    /// `-push_time`: newest push first (the default).
    #[default]
    PushedDesc,
    /// `push_time`
    PushedAsc,
    /// `-pull_time`: most recently pulled first, never pulled last.
    PulledDesc,
    /// `pull_time`
    PulledAsc,
    /// `-size`: largest first.
    SizeDesc,
    /// `size`
    SizeAsc,
}

impl ArtifactSort {
    /// Parses Harbor's `sort` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "-push_time" => Self::PushedDesc,
            "push_time" => Self::PushedAsc,
            "-pull_time" => Self::PulledDesc,
            "pull_time" => Self::PulledAsc,
            "-size" => Self::SizeDesc,
            "size" => Self::SizeAsc,
            _ => return None,
        })
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::PushedDesc => "pushed_at DESC, id DESC",
            Self::PushedAsc => "pushed_at, id",
            Self::PulledDesc => "COALESCE(pulled_at, -1) DESC, id DESC",
            Self::PulledAsc => "COALESCE(pulled_at, -1), id",
            Self::SizeDesc => "total_size DESC, id DESC",
            Self::SizeAsc => "total_size, id",
        }
    }
}

/// Artifacts of a repository in `sort` order, one page.
pub async fn list_artifacts<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    sort: ArtifactSort,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ArtifactRow>> {
    let sql =
        format!("{ARTIFACT_SELECT} WHERE repository_id = $1 ORDER BY {} LIMIT $2 OFFSET $3", sort.order_by());
    let rows = sqlx::query(&sql).bind(repo_id).bind(limit).bind(offset).fetch_all(e).await?;
    rows.iter().map(artifact_from).collect()
}

/// How many artifacts a repository holds.
pub async fn count_artifacts<'e>(e: impl Executor<'e, Database = Any>, repo_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM manifests WHERE repository_id = $1")
        .bind(repo_id)
        .fetch_one(e)
        .await?)
}

/// One artifact by digest, or by the tag pointing at it.
pub async fn find_artifact<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    reference: &str,
    by_tag: bool,
) -> DbResult<Option<ArtifactRow>> {
    let sql = if by_tag {
        format!(
            "{ARTIFACT_SELECT} WHERE id = (SELECT manifest_id FROM tags WHERE repository_id = $1 AND name = $2)"
        )
    } else {
        format!("{ARTIFACT_SELECT} WHERE repository_id = $1 AND digest = $2")
    };
    let row = sqlx::query(&sql).bind(repo_id).bind(reference).fetch_optional(e).await?;
    row.as_ref().map(artifact_from).transpose()
}

/// The tags of the given manifests, in one query (no query per row).
pub async fn tags_of<'e>(
    e: impl Executor<'e, Database = Any>,
    manifest_ids: &[i64],
) -> DbResult<Vec<TagRow>> {
    if manifest_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT manifest_id, name, pushed_at, pulled_at FROM tags WHERE manifest_id IN ({}) ORDER BY name",
        placeholders(1, manifest_ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in manifest_ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter()
        .map(|r| {
            Ok(TagRow {
                manifest_id: r.try_get("manifest_id")?,
                name: r.try_get("name")?,
                pushed_at: r.try_get("pushed_at")?,
                pulled_at: r.try_get("pulled_at")?,
            })
        })
        .collect()
}

/// The content of the given manifests, in one query (index rows of a listing show their
/// platforms).
pub async fn contents_of<'e>(
    e: impl Executor<'e, Database = Any>,
    ids: &[i64],
) -> DbResult<Vec<(i64, Vec<u8>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT id, content FROM manifests WHERE id IN ({})", placeholders(1, ids.len()));
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
