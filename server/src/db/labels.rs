//! SQL for `labels` and `artifact_labels`.

use sqlx::{Any, Executor};

use super::{DbResult, like_escape, now_ms, placeholders};

/// A label.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LabelRow {
    /// Id.
    pub id: i64,
    /// Name, unique in its scope.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `#rrggbb`, or empty.
    pub color: String,
    /// `g` (global) or `p` (project).
    pub scope: String,
    /// The project of a project label.
    pub project_id: Option<i64>,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

/// What a create or update writes.
#[derive(Debug, Clone)]
pub struct LabelFields<'a> {
    /// Name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// `#rrggbb`, or empty.
    pub color: &'a str,
}

const SELECT: &str =
    "SELECT id, name, description, color, scope, project_id, created_at, updated_at FROM labels";

/// Labels of `scope` (`g`, or `p` of `project_id`) whose name contains `name`, by name.
pub async fn list<'e>(
    e: impl Executor<'e, Database = Any>,
    scope: &str,
    project_id: Option<i64>,
    name: &str,
    offset: i64,
    limit: i64,
) -> DbResult<Vec<LabelRow>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE scope = $1 AND COALESCE(project_id, 0) = $2 AND name LIKE $3 ESCAPE '\\' \
         ORDER BY name LIMIT $4 OFFSET $5"
    ))
    .bind(scope)
    .bind(project_id.unwrap_or(0))
    .bind(format!("%{}%", like_escape(name)))
    .bind(limit)
    .bind(offset)
    .fetch_all(e)
    .await?)
}

/// How many labels [`list`] pages through.
pub async fn count<'e>(
    e: impl Executor<'e, Database = Any>,
    scope: &str,
    project_id: Option<i64>,
    name: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM labels WHERE scope = $1 AND COALESCE(project_id, 0) = $2 AND name LIKE $3 ESCAPE '\\'",
    )
    .bind(scope)
    .bind(project_id.unwrap_or(0))
    .bind(format!("%{}%", like_escape(name)))
    .fetch_one(e)
    .await?)
}

/// The labels an artifact of project `project_id` may carry: the global ones and the project's.
pub async fn usable<'e>(e: impl Executor<'e, Database = Any>, project_id: i64) -> DbResult<Vec<LabelRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE scope = 'g' OR project_id = $1 ORDER BY scope, name"))
        .bind(project_id)
        .fetch_all(e)
        .await?)
}

/// Label `id`.
pub async fn get<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<Option<LabelRow>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(e).await?)
}

/// Stores a label; returns its id.
pub async fn insert<'e>(
    e: impl Executor<'e, Database = Any>,
    scope: &str,
    project_id: Option<i64>,
    f: &LabelFields<'_>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO labels (name, description, color, scope, project_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(f.name)
    .bind(f.description)
    .bind(f.color)
    .bind(scope)
    .bind(project_id)
    .bind(now_ms())
    .fetch_one(e)
    .await?)
}

/// Changes label `id`; returns whether it exists.
pub async fn update<'e>(
    e: impl Executor<'e, Database = Any>,
    id: i64,
    f: &LabelFields<'_>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE labels SET name = $2, description = $3, color = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(f.name)
    .bind(f.description)
    .bind(f.color)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes label `id` (and takes it off every artifact); returns whether it existed.
pub async fn delete<'e>(e: impl Executor<'e, Database = Any>, id: i64) -> DbResult<bool> {
    Ok(sqlx::query("DELETE FROM labels WHERE id = $1").bind(id).execute(e).await?.rows_affected() > 0)
}

/// Puts label `label_id` on manifest `manifest_id`; returns whether it was not there yet.
pub async fn attach<'e>(
    e: impl Executor<'e, Database = Any>,
    manifest_id: i64,
    label_id: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO artifact_labels (manifest_id, label_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (manifest_id, label_id) DO NOTHING",
    )
    .bind(manifest_id)
    .bind(label_id)
    .bind(now_ms())
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Takes label `label_id` off manifest `manifest_id`; returns whether it was there.
pub async fn detach<'e>(
    e: impl Executor<'e, Database = Any>,
    manifest_id: i64,
    label_id: i64,
) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM artifact_labels WHERE manifest_id = $1 AND label_id = $2")
        .bind(manifest_id)
        .bind(label_id)
        .execute(e)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The labels of each of `manifest_ids`: (manifest id, label).
pub async fn of_manifests<'e>(
    e: impl Executor<'e, Database = Any>,
    manifest_ids: &[i64],
) -> DbResult<Vec<(i64, LabelRow)>> {
    if manifest_ids.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        manifest_id: i64,
        #[sqlx(flatten)]
        label: LabelRow,
    }
    let sql = format!(
        "SELECT a.manifest_id AS manifest_id, l.id AS id, l.name AS name, l.description AS description, \
         l.color AS color, l.scope AS scope, l.project_id AS project_id, l.created_at AS created_at, \
         l.updated_at AS updated_at FROM artifact_labels a JOIN labels l ON l.id = a.label_id \
         WHERE a.manifest_id IN ({}) ORDER BY l.name",
        placeholders(1, manifest_ids.len())
    );
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for id in manifest_ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(e).await?.into_iter().map(|r| (r.manifest_id, r.label)).collect())
}

/// The names of the labels on manifest `manifest_id` (what label selectors match).
pub async fn names_of<'e>(e: impl Executor<'e, Database = Any>, manifest_id: i64) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT l.name FROM artifact_labels a JOIN labels l ON l.id = a.label_id WHERE a.manifest_id = $1",
    )
    .bind(manifest_id)
    .fetch_all(e)
    .await?)
}

/// (tag, label name) for every label on an artifact a tag of repository `repo_id` names.
pub async fn names_by_tag<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
) -> DbResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT t.name, l.name FROM tags t JOIN artifact_labels a ON a.manifest_id = t.manifest_id \
         JOIN labels l ON l.id = a.label_id WHERE t.repository_id = $1",
    )
    .bind(repo_id)
    .fetch_all(e)
    .await?)
}
