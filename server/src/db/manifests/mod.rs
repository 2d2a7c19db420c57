//! SQL for `manifests`, `manifest_blobs` and `manifest_children`, by client: pushing and
//! pulling here, browsing in [`browse`], garbage collection and `fsck` in [`collect`].

use sqlx::{Any, Executor, Row};

mod browse;
mod collect;

pub use browse::*;
pub use collect::*;

use super::{DbResult, now_ms};

/// A manifest as served to clients.
#[derive(Debug, Clone, sqlx::FromRow)]
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
    Ok(<ManifestRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
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
    // Built once: this runs on every manifest pull.
    static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
        let of = |join: &str| {
            format!(
                "SELECT p.id AS pid, p.public AS public, r.id AS rid, {} AS role_id, \
                 p.registry_id AS registry_id, p.is_group AS is_group, m.id AS id, \
                 m.digest AS digest, m.media_type AS media_type, m.content AS content FROM projects p \
                 LEFT JOIN repositories r ON r.project_id = p.id AND r.name = $2 {join} WHERE p.name = $1",
                super::members::role_of("p.id", "$4")
            )
        };
        [
            of("LEFT JOIN manifests m ON m.repository_id = r.id AND m.digest = $3"),
            of(
                "LEFT JOIN tags t ON t.repository_id = r.id AND t.name = $3 LEFT JOIN manifests m ON m.id = t.manifest_id",
            ),
        ]
    });
    let sql = &SQL[usize::from(by_tag)];
    let row =
        sqlx::query(sql).bind(project).bind(repo).bind(reference).bind(user_id).fetch_optional(e).await?;
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

/// The digest of manifest `id`.
pub async fn digest_of<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT digest FROM manifests WHERE id = $1").bind(id).fetch_optional(e).await?)
}

/// The manifest tag `tag` names in the repository.
pub async fn by_tag<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    tag: &str,
) -> DbResult<Option<ManifestRow>> {
    let row = sqlx::query(
        "SELECT m.id AS id, m.digest AS digest, m.media_type AS media_type, m.content AS content \
         FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = $1 AND t.name = $2",
    )
    .bind(repo_id)
    .bind(tag)
    .fetch_optional(e)
    .await?;
    row.as_ref().map(manifest_from).transpose()
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

/// Records that index `parent_id` names children (`digests`) the repository does not have yet.
pub async fn add_pending_children(
    tx: &mut sqlx::AnyConnection,
    parent_id: i64,
    digests: &[&str],
) -> DbResult<()> {
    for d in digests {
        sqlx::query(
            "INSERT INTO manifest_pending_children (parent_id, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(parent_id)
        .bind(*d)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Links manifest `child_id` (digest `digest`) to the indexes of repository `repo_id` that were
/// stored waiting for it.
pub async fn adopt_pending(
    tx: &mut sqlx::AnyConnection,
    repo_id: i64,
    child_id: i64,
    digest: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO manifest_children (parent_id, child_id) SELECT p.parent_id, $1 \
         FROM manifest_pending_children p JOIN manifests m ON m.id = p.parent_id \
         WHERE p.digest = $2 AND m.repository_id = $3 ON CONFLICT DO NOTHING",
    )
    .bind(child_id)
    .bind(digest)
    .bind(repo_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM manifest_pending_children WHERE digest = $1 \
         AND parent_id IN (SELECT id FROM manifests WHERE repository_id = $2)",
    )
    .bind(digest)
    .bind(repo_id)
    .execute(&mut *tx)
    .await?;
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
