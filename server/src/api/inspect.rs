//! Looking inside an image through the API: its layers with their build steps, one layer's
//! files, the merged filesystem and a comparison of two images. Harbor has no such paths; they
//! sit under Harbor's artifact path, read with the pull permission, paged as Harbor pages.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use frontend::types::{Comparison, LayerFiles, LayerView, TreeListing};

use super::caller::{ApiCaller, ApiPath};
use super::error::ApiError;
use super::projects::{page_of, param, project_ref, query_pairs};
use crate::state::AppState;

use super::repositories::decode_again as repo_name;

/// `GET …/artifacts/{reference}/layers`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/layers",
    tag = "artifact",
    summary = "An image's layers, bottom first, each with the build step that made it",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest of an image (not an index)")
    ),
    responses(
        (status = 200, description = "The layers", body = [LayerView]),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn list_layers(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Vec<LayerView>>, ApiError> {
    let p = project_ref(&project, &headers);
    Ok(Json(app.inspector.layers(&who, &p, &repo_name(&repo), &reference).await?))
}

/// `GET …/artifacts/{reference}/layers/{digest}/files?q=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/layers/{digest}/files",
    tag = "artifact",
    summary = "The files of one layer of an image, in archive order",
    description = "Read from the layer's compressed tar archive as a stream (gzip, zstd or none) and kept \
        in memory by digest. Whiteouts are shown as `whiteout` (the path they delete) and `opaque` entries.",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest of an image"),
        ("digest" = String, Path, description = "A layer's digest (one of the image's layers)"),
        ("q" = String, Query, description = "Only entries whose path contains this text (any case)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Entries per page (at most 100)")
    ),
    responses(
        (status = 200, description = "One page of the layer's entries; X-Total-Count and Link headers", body = LayerFiles),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn layer_files(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference, digest)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let filter = param(&pairs, "q").unwrap_or_default();
    let p = project_ref(&project, &headers);
    let files = app
        .inspector
        .layer_files(&who, &p, &repo_name(&repo), &reference, &digest, filter, page.page, page.page_size)
        .await?;
    let path = format!(
        "/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}/layers/{digest}/files"
    );
    Ok((page.headers(files.total, &path, &rest), Json(files)).into_response())
}

/// `GET …/artifacts/{reference}/filesystem?path=&page=&page_size=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/filesystem",
    tag = "artifact",
    summary = "One directory of an image's merged filesystem (what a container sees), largest entries first",
    description = "Each entry names the layer that last wrote it; paths an upper layer deleted are listed \
        last as `whiteout`, with the bytes they held.",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "A tag or a digest of an image"),
        ("path" = String, Query, description = "The directory (default /)"),
        ("page" = i64, Query, description = "Page number, from 1"),
        ("page_size" = i64, Query, description = "Entries per page (at most 100)")
    ),
    responses(
        (status = 200, description = "The directory; X-Total-Count and Link headers", body = TreeListing),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn filesystem(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let (page, rest) = page_of(&pairs)?;
    let dir = param(&pairs, "path").unwrap_or("/");
    let p = project_ref(&project, &headers);
    let listing =
        app.inspector.tree(&who, &p, &repo_name(&repo), &reference, dir, page.page, page.page_size).await?;
    let path = format!("/api/v2.0/projects/{project}/repositories/{repo}/artifacts/{reference}/filesystem");
    Ok((page.headers(listing.total, &path, &rest), Json(listing)).into_response())
}

/// `GET …/artifacts/{reference}/compare?with=`
#[utoipa::path(
    get,
    path = "/api/v2.0/projects/{project_name}/repositories/{repository_name}/artifacts/{reference}/compare",
    tag = "artifact",
    summary = "Two images of a repository compared: layers, size, files and configuration",
    params(
        ("project_name" = String, Path, description = "The project's name"),
        ("repository_name" = String, Path, description = "The repository's name within the project (URL-encode a '/' as %252F)"),
        ("reference" = String, Path, description = "The first image: a tag or a digest"),
        ("with" = String, Query, description = "The second image of the same repository: a tag or a digest")
    ),
    responses(
        (status = 200, description = "The comparison", body = Comparison),
        (status = "default", description = "Harbor's error body", body = super::error::Errors)
    )
)]
pub async fn compare(
    State(app): State<AppState>,
    ApiCaller(who): ApiCaller,
    ApiPath((project, repo, reference)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Comparison>, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let other = param(&pairs, "with")
        .filter(|w| !w.is_empty())
        .ok_or_else(|| ApiError::BadRequest("with=<tag or digest> is required".into()))?;
    let p = project_ref(&project, &headers);
    Ok(Json(app.inspector.compare(&who, &p, &repo_name(&repo), &reference, other).await?))
}
