//! SQL for the `repositories` table.

use sqlx::{Any, Executor};

use super::{DbResult, now_ms, placeholders};

/// Returns the id of repository `name` in `project_id`, creating it when missing.
pub async fn ensure<'e>(e: impl Executor<'e, Database = Any>, project_id: i64, name: &str) -> DbResult<i64> {
    // The no-op update makes RETURNING yield the existing row on both engines.
    let id = sqlx::query_scalar(
        "INSERT INTO repositories (project_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
    )
    .bind(project_id)
    .bind(name)
    .bind(now_ms())
    .fetch_one(e)
    .await?;
    Ok(id)
}

/// Marks a repository as changed now.
pub async fn touch<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE repositories SET updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(e)
        .await?;
    Ok(())
}

/// Names of repositories that hold at least one manifest, after `last`, in order, at most `n`.
/// `project_ids` limits the listing (`None`: all projects).
pub async fn catalog<'e>(
    e: impl Executor<'e, Database = Any>,
    project_ids: Option<&[i64]>,
    last: Option<&str>,
    n: i64,
) -> DbResult<Vec<String>> {
    let mut sql = String::from(
        "SELECT r.name FROM repositories r WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) \
         AND r.name > $1",
    );
    if let Some(ids) = project_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND r.project_id IN ({})", placeholders(3, ids.len())));
    }
    sql.push_str(" ORDER BY r.name LIMIT $2");
    let mut q = sqlx::query_scalar(&sql).bind(last.unwrap_or("")).bind(n);
    for id in project_ids.unwrap_or_default() {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(e).await?)
}

/// A repository as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RepositoryRow {
    /// Id.
    pub id: i64,
    /// Project id.
    pub project_id: i64,
    /// Full name, `<project>/<path>`.
    pub name: String,
    /// Manifests in it.
    pub artifact_count: i64,
    /// Pulls recorded.
    pub pull_count: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

const REPO_SELECT: &str = "SELECT r.id AS id, r.project_id AS project_id, r.name AS name, \
     (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS artifact_count, \
     r.pull_count AS pull_count, r.created_at AS created_at, r.updated_at AS updated_at FROM repositories r";

fn repo_from(r: &sqlx::any::AnyRow) -> DbResult<RepositoryRow> {
    Ok(<RepositoryRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
}

/// Repositories of a project whose name contains `name`, by name, one page.
pub async fn list_in_project<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<RepositoryRow>> {
    let sql = format!(
        "{REPO_SELECT} WHERE r.project_id = $1 AND r.name LIKE $2 ESCAPE '\\' ORDER BY r.name LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(format!("%{}%", super::like_escape(name)))
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?;
    rows.iter().map(repo_from).collect()
}

/// How many repositories [`list_in_project`] would return without paging.
pub async fn count_in_project<'e>(
    e: impl Executor<'e, Database = Any>,
    project_id: i64,
    name: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM repositories r WHERE r.project_id = $1 AND r.name LIKE $2 ESCAPE '\\'",
    )
    .bind(project_id)
    .bind(format!("%{}%", super::like_escape(name)))
    .fetch_one(e)
    .await?)
}

/// The full name of repository `id`.
pub async fn name_of<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM repositories WHERE id = $1").bind(id).fetch_optional(e).await?)
}

/// What a webhook event says of repository `id`: (full name, creation time, project public).
pub async fn event_info(tx: &mut sqlx::AnyConnection, id: i64) -> DbResult<Option<(String, i64, bool)>> {
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT r.name, r.created_at, p.public FROM repositories r JOIN projects p ON p.id = r.project_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(name, created, public)| (name, created, public != 0)))
}

/// One repository by full name.
pub async fn by_name<'e>(
    e: impl Executor<'e, Database = Any>,
    name: &str,
) -> DbResult<Option<RepositoryRow>> {
    let row = sqlx::query(&format!("{REPO_SELECT} WHERE r.name = $1")).bind(name).fetch_optional(e).await?;
    row.as_ref().map(repo_from).transpose()
}

/// Deletes a repository with its manifests, tags and blob links (the blobs stay for garbage
/// collection). The manifests go first, in their own statement: the quota triggers read the
/// repository's project while they run.
pub async fn delete(tx: &mut sqlx::AnyConnection, id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM manifests WHERE repository_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM repositories WHERE id = $1").bind(id).execute(&mut *tx).await?;
    Ok(())
}

/// A repository found by search, with its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The repository.
    pub repository: RepositoryRow,
    /// Its project's name.
    pub project_name: String,
    /// Whether its project is public.
    pub project_public: bool,
}

/// Repositories whose name contains `text` in projects user `user_id` may read (`all` for
/// system administrators), by name, at most `limit`.
pub async fn search<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    all: bool,
    text: &str,
    limit: i64,
) -> DbResult<Vec<SearchHit>> {
    use sqlx::Row;
    let sql = format!(
        "SELECT r.id AS id, r.project_id AS project_id, r.name AS name, \
         (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS artifact_count, \
         r.pull_count AS pull_count, r.created_at AS created_at, r.updated_at AS updated_at, \
         p.name AS project_name, p.public AS project_public \
         FROM repositories r JOIN projects p ON p.id = r.project_id \
         WHERE r.name LIKE $1 ESCAPE '\\' AND ($2 <> 0 OR p.public <> 0 OR {}) \
         ORDER BY r.name LIMIT $4",
        super::members::is_member("p.id", "$3")
    );
    let rows = sqlx::query(&sql)
        .bind(format!("%{}%", super::like_escape(text)))
        .bind(i64::from(all))
        .bind(user_id)
        .bind(limit)
        .fetch_all(e)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SearchHit {
                repository: repo_from(r)?,
                project_name: r.try_get("project_name")?,
                project_public: r.try_get::<i64, _>("project_public")? != 0,
            })
        })
        .collect()
}

/// An artifact found by search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactHit {
    /// Its repository's full name.
    pub repository: String,
    /// Its digest.
    pub digest: String,
    /// A tag of it that matched (the first by name), if a tag matched.
    pub tag: Option<String>,
    /// When it was pushed (ms since the epoch).
    pub pushed_at: i64,
}

/// Artifacts whose digest starts with `digest_prefix` (a full `sha256:` prefix, or empty for
/// none) or that carry a tag containing `text`, in projects user `user_id` may read (`all` for
/// system administrators), newest first, at most `limit`.
pub async fn search_artifacts<'e>(
    e: impl Executor<'e, Database = Any>,
    user_id: i64,
    all: bool,
    digest_prefix: &str,
    text: &str,
    limit: i64,
) -> DbResult<Vec<ArtifactHit>> {
    use sqlx::Row;
    let sql = format!(
        "SELECT r.name AS repository, mf.digest AS digest, mf.pushed_at AS pushed_at, \
         (SELECT MIN(t2.name) FROM tags t2 WHERE t2.manifest_id = mf.id AND t2.name LIKE $2 ESCAPE '\\') AS tag \
         FROM manifests mf JOIN repositories r ON r.id = mf.repository_id JOIN projects p ON p.id = r.project_id \
         WHERE (mf.digest LIKE $1 OR EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = mf.id AND t.name LIKE $2 ESCAPE '\\')) \
         AND ($3 <> 0 OR p.public <> 0 OR {}) \
         ORDER BY mf.pushed_at DESC, mf.id DESC LIMIT $5",
        super::members::is_member("p.id", "$4")
    );
    let digest_pattern = if digest_prefix.is_empty() {
        String::new()
    } else {
        format!("{}%", super::like_escape(digest_prefix))
    };
    let rows = sqlx::query(&sql)
        .bind(digest_pattern)
        .bind(format!("%{}%", super::like_escape(text)))
        .bind(i64::from(all))
        .bind(user_id)
        .bind(limit)
        .fetch_all(e)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ArtifactHit {
                repository: r.try_get("repository")?,
                digest: r.try_get("digest")?,
                tag: r.try_get("tag")?,
                pushed_at: r.try_get("pushed_at")?,
            })
        })
        .collect()
}
