//! Browsing artifacts: listings in Harbor's orders, tags and contents of a page of them.

use sqlx::{Any, Executor, Row};

use crate::db::{DbResult, placeholders};

/// An artifact (manifest) as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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
    /// Its labels (filled by the domain; queries leave it empty).
    #[sqlx(skip)]
    pub labels: Vec<crate::db::labels::LabelRow>,
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
    /// Whether an immutability rule protects it (the domain's verdict; queries leave it false).
    pub immutable: bool,
}

const ARTIFACT_SELECT: &str = "SELECT id, repository_id, digest, media_type, artifact_type, config_media_type, \
     total_size, pushed_at, pulled_at FROM manifests";

fn artifact_from(r: &sqlx::any::AnyRow) -> DbResult<ArtifactRow> {
    Ok(<ArtifactRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(r)?)
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
    labels: &[i64],
    offset: i64,
    limit: i64,
) -> DbResult<Vec<ArtifactRow>> {
    let sql = format!(
        "{ARTIFACT_SELECT} WHERE repository_id = $1{} ORDER BY {} LIMIT $2 OFFSET $3",
        with_labels(4, labels),
        sort.order_by()
    );
    let mut q = sqlx::query(&sql).bind(repo_id).bind(limit).bind(offset);
    for l in labels {
        q = q.bind(*l);
    }
    let rows = q.fetch_all(e).await?;
    rows.iter().map(artifact_from).collect()
}

/// The condition that keeps artifacts carrying every one of `labels` (bound from `$first`).
fn with_labels(first: usize, labels: &[i64]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    format!(
        " AND id IN (SELECT manifest_id FROM artifact_labels WHERE label_id IN ({}) GROUP BY manifest_id \
         HAVING COUNT(*) = {})",
        placeholders(first, labels.len()),
        labels.len()
    )
}

/// How many artifacts a repository holds (with every one of `labels`).
pub async fn count_artifacts<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    labels: &[i64],
) -> DbResult<i64> {
    let sql = format!("SELECT COUNT(*) FROM manifests WHERE repository_id = $1{}", with_labels(2, labels));
    let mut q = sqlx::query_scalar(&sql).bind(repo_id);
    for l in labels {
        q = q.bind(*l);
    }
    Ok(q.fetch_one(e).await?)
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

/// As [`find_artifact`], with the manifest as stored (an artifact's page: one read).
pub async fn find_artifact_with_content<'e>(
    e: impl Executor<'e, Database = Any>,
    repo_id: i64,
    reference: &str,
    by_tag: bool,
) -> DbResult<Option<(ArtifactRow, Vec<u8>)>> {
    let columns = "SELECT id, repository_id, digest, media_type, artifact_type, config_media_type, total_size, \
         pushed_at, pulled_at, content FROM manifests";
    let sql = if by_tag {
        format!("{columns} WHERE id = (SELECT manifest_id FROM tags WHERE repository_id = $1 AND name = $2)")
    } else {
        format!("{columns} WHERE repository_id = $1 AND digest = $2")
    };
    let row = sqlx::query(&sql).bind(repo_id).bind(reference).fetch_optional(e).await?;
    row.map(|r| Ok((artifact_from(&r)?, r.try_get("content")?))).transpose()
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
                immutable: false,
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
