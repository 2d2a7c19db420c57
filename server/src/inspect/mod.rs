//! Looking inside images: one layer's files, the merged filesystem a container sees, and two
//! images compared. Layers are read as streams from the blob store (never unpacked to disk);
//! what is read is kept by digest (layers and manifests never change), so a second view is
//! served from memory. Whoever may pull an artifact may look inside it, and nobody else: every
//! call goes through [`Artifacts::details`], and a layer is read only through an image whose
//! manifest names it.

pub mod cache;
pub mod diff;
pub mod layer;
pub mod tree;

use std::sync::Arc;

use frontend::types::{Comparison, LayerFiles, LayerView, TreeListing};
use futures::TryStreamExt;

use self::cache::Cache;
use self::layer::{LayerError, LayerIndex};
use self::tree::Tree;
use crate::artifacts::{ArtifactDetails, Artifacts, BrowseError};
use crate::auth::Identity;
use crate::oci::reference::Digest;
use crate::projects::ProjectRef;
use crate::storage::{BlobStore, StorageError, StorageKey};

/// Memory the read layers may hold, and the merged trees as much again.
const CACHE_BYTES: usize = 64 << 20;
/// The largest files a directory view lists.
const LARGEST: usize = 10;

/// An image as the inspector needs it.
struct Image {
    details: ArtifactDetails,
    layers: Vec<LayerView>,
}

/// The inspector.
#[derive(Clone)]
pub struct Inspector {
    artifacts: Artifacts,
    store: BlobStore,
    layers: Arc<Cache<LayerIndex>>,
    trees: Arc<Cache<Tree>>,
}

/// Whether a layer of `media_type` is a filesystem layer (a tar archive, compressed or not).
fn is_filesystem(media_type: &str) -> bool {
    media_type.contains(".tar") || media_type.contains("tar+") || media_type.ends_with("tar")
}

/// The layers of an image, bottom first, each with the build step that made it.
pub fn layer_views(details: &ArtifactDetails) -> Vec<LayerView> {
    let descriptors = details.manifest.as_ref().map_or(&[][..], |m| m.layers());
    let steps = details
        .config
        .as_ref()
        .map_or_else(|| vec![None; descriptors.len()], |c| c.layer_steps(descriptors.len()));
    descriptors
        .iter()
        .zip(steps)
        .map(|(l, created_by)| LayerView {
            digest: l.digest.to_string(),
            media_type: l.media_type.clone(),
            size: l.size,
            created_by,
        })
        .collect()
}

impl Inspector {
    /// An inspector checking access through `artifacts` and reading layers from `store`.
    pub fn new(artifacts: Artifacts, store: BlobStore) -> Self {
        Self {
            artifacts,
            store,
            layers: Arc::new(Cache::new(CACHE_BYTES)),
            trees: Arc::new(Cache::new(CACHE_BYTES)),
        }
    }

    /// Whether layer `digest` is held in memory (read before and not yet dropped).
    pub fn holds_layer(&self, digest: &str) -> bool {
        self.layers.holds(digest)
    }

    /// Image `reference` of `repo` with its layers lined up with their build steps, if `who` may
    /// pull it.
    async fn image(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
    ) -> Result<Image, BrowseError> {
        let details = self.artifacts.details(who, p, repo, reference).await?;
        if details.manifest.as_ref().and_then(|m| m.config()).is_none() {
            return Err(BrowseError::Invalid(format!(
                "{reference} is not an image with layers (an index: open one of its platforms)"
            )));
        }
        let layers = layer_views(&details);
        Ok(Image { details, layers })
    }

    /// The layers of image `reference`, bottom first, each with the build step that made it.
    pub async fn layers(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
    ) -> Result<Vec<LayerView>, BrowseError> {
        Ok(self.image(who, p, repo, reference).await?.layers)
    }

    /// The entries of layer `digest` of image `reference` whose path contains `filter` (any
    /// case), page `page` of `page_size`.
    #[allow(clippy::too_many_arguments)]
    pub async fn layer_files(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        digest: &str,
        filter: &str,
        page: i64,
        page_size: i64,
    ) -> Result<LayerFiles, BrowseError> {
        let image = self.image(who, p, repo, reference).await?;
        let at = image
            .layers
            .iter()
            .position(|l| l.digest == digest)
            .ok_or_else(|| BrowseError::NotFound(format!("layer {digest} of {reference}")))?;
        let layer = image.layers[at].clone();
        let index = self.layer_index(&layer).await?;
        let (page, page_size) = (page.max(1), page_size.clamp(1, 1000));
        let needle = filter.trim().to_lowercase();
        let matching =
            |e: &&layer::Entry| needle.is_empty() || e.path.to_lowercase().contains(needle.as_str());
        let total = index.entries.iter().filter(matching).count() as i64;
        let files = index
            .entries
            .iter()
            .filter(matching)
            .skip(((page - 1) * page_size) as usize)
            .take(page_size as usize)
            .map(layer::Entry::view)
            .collect();
        Ok(LayerFiles {
            repository: image.details.repository.name.clone(),
            artifact: image.details.artifact.0.digest.clone(),
            index: at + 1,
            layer_count: image.layers.len(),
            layer,
            entries: index.entries.len() as u64,
            unpacked_size: index.unpacked,
            truncated: index.truncated,
            files,
            total,
            page,
            page_size,
        })
    }

    /// Directory `path` of image `reference`'s merged filesystem: its entries largest first,
    /// page `page` of `page_size`, and the largest files beneath it.
    #[allow(clippy::too_many_arguments)]
    pub async fn tree(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        reference: &str,
        path: &str,
        page: i64,
        page_size: i64,
    ) -> Result<TreeListing, BrowseError> {
        let image = self.image(who, p, repo, reference).await?;
        let tree = self.merged(&image).await?;
        let dir_path =
            format!("/{}", path.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/"));
        let dir = tree
            .find(&dir_path)
            .ok_or_else(|| BrowseError::NotFound(format!("{dir_path} in {reference}")))?;
        if dir.kind != frontend::types::FileKind::Dir {
            return Err(BrowseError::Invalid(format!("{dir_path} is not a directory")));
        }
        let (page, page_size) = (page.max(1), page_size.clamp(1, 1000));
        let child_path =
            |name: &str| if dir_path == "/" { format!("/{name}") } else { format!("{dir_path}/{name}") };
        let entries = tree
            .children(dir)
            .skip(((page - 1) * page_size) as usize)
            .take(page_size as usize)
            .map(|n| tree::entry(&child_path(&n.name), n))
            .collect();
        let largest = tree
            .largest(dir, LARGEST)
            .into_iter()
            .map(|(rel, n)| tree::entry(&child_path(&rel), n))
            .collect();
        Ok(TreeListing {
            repository: image.details.repository.name.clone(),
            artifact: image.details.artifact.0.digest.clone(),
            dir: tree::entry(&dir_path, dir),
            path: dir_path,
            layers: image.layers,
            truncated: tree.truncated,
            total: dir.children.len() as i64,
            entries,
            largest,
            page,
            page_size,
        })
    }

    /// Images `base` and `other` of `repo` compared: layers, sizes, files and configuration.
    pub async fn compare(
        &self,
        who: &Identity,
        p: &ProjectRef,
        repo: &str,
        base: &str,
        other: &str,
    ) -> Result<Comparison, BrowseError> {
        let a = self.image(who, p, repo, base).await?;
        let b = self.image(who, p, repo, other).await?;
        let (ta, tb) = (self.merged(&a).await?, self.merged(&b).await?);
        let (files, [added, removed, changed]) =
            tokio::task::spawn_blocking(move || diff::files(&ta, &tb, diff::MAX_CHANGES))
                .await
                .map_err(|_| BrowseError::Internal)?;
        let has = |layers: &[LayerView], d: &str| layers.iter().any(|l| l.digest == d);
        let config = diff::config(a.details.config.as_ref(), b.details.config.as_ref());
        Ok(Comparison {
            repository: a.details.repository.name.clone(),
            base: a.details.artifact.0.digest.clone(),
            other: b.details.artifact.0.digest.clone(),
            base_tags: a.details.artifact.1.iter().map(|t| t.name.clone()).collect(),
            other_tags: b.details.artifact.1.iter().map(|t| t.name.clone()).collect(),
            base_size: a.details.artifact.0.total_size,
            other_size: b.details.artifact.0.total_size,
            shared_layers: a.layers.iter().filter(|l| has(&b.layers, &l.digest)).cloned().collect(),
            base_layers: a.layers.iter().filter(|l| !has(&b.layers, &l.digest)).cloned().collect(),
            other_layers: b.layers.iter().filter(|l| !has(&a.layers, &l.digest)).cloned().collect(),
            added,
            removed,
            changed,
            files_truncated: files.len() as u64 != added + removed + changed,
            files,
            config,
        })
    }

    /// Image `image`'s merged filesystem, from memory when it was built before.
    async fn merged(&self, image: &Image) -> Result<Arc<Tree>, BrowseError> {
        let key = image.details.artifact.0.digest.clone();
        self.trees
            .get_or_load(&key, Tree::weight, async {
                let mut layers = Vec::with_capacity(image.layers.len());
                for l in &image.layers {
                    layers.push(self.layer_index(l).await?);
                }
                tokio::task::spawn_blocking(move || {
                    Tree::merge(&layers.iter().map(Arc::as_ref).collect::<Vec<_>>())
                })
                .await
                .map_err(|_| BrowseError::Internal)
            })
            .await
    }

    /// The entries of `layer`, from memory when it was read before; reading streams the blob
    /// through the decompressor on a blocking thread.
    async fn layer_index(&self, layer: &LayerView) -> Result<Arc<LayerIndex>, BrowseError> {
        if !is_filesystem(&layer.media_type) {
            return Err(BrowseError::Invalid(format!(
                "layer {} is {}, not a filesystem layer",
                layer.digest, layer.media_type
            )));
        }
        let digest: Digest = layer.digest.parse().map_err(|_| BrowseError::Internal)?;
        self.layers
            .get_or_load(&layer.digest, LayerIndex::weight, async {
                let read = match self.store.read(&StorageKey::Blob(digest.clone()), None).await {
                    Ok(r) => r,
                    Err(StorageError::NotFound(_)) => {
                        return Err(BrowseError::NotFound(format!(
                            "layer {digest} in this registry's storage (a proxy cache fetches it on the first pull)"
                        )));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %digest, "reading a layer failed");
                        return Err(BrowseError::Unavailable);
                    }
                };
                let stream = read.stream.map_err(std::io::Error::other);
                let bridge = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
                let read = tokio::task::spawn_blocking(move || layer::read(bridge, layer::MAX_ENTRIES))
                    .await
                    .map_err(|_| BrowseError::Internal)?;
                read.map_err(|e| match e {
                    e @ LayerError::Unreadable(_) => BrowseError::Invalid(format!("layer {digest} is {e}")),
                    LayerError::Io(e) => {
                        tracing::warn!(error = %e, %digest, "reading a layer failed");
                        BrowseError::Unavailable
                    }
                })
            })
            .await
    }
}
