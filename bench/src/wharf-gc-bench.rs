//! `wharf-gc-bench`: times a garbage collection over a generated registry.
//!
//! Generates `WHARF_BENCH_MANIFESTS` manifests (default 10,000), each referencing its own
//! `WHARF_BENCH_BLOBS / WHARF_BENCH_MANIFESTS` blobs (default 100,000 blobs of 1 KiB), and tags
//! every other one; then runs a collection with `delete_untagged`, which deletes the untagged
//! half of the manifests and the half of the blobs only they referenced. Prints the generation
//! time, the collection's wall time and deletes per second.
//!
//! Uses `WHARF_DATABASE_URL` and `WHARF_STORAGE_URL` when set (PostgreSQL, S3 with the `AWS_*`
//! variables), else SQLite and a directory in a temp dir; `WHARF_GC_WORKERS` (default 8).
//! Run: `cargo run --release -p wharf-bench --bin wharf-gc-bench`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use wharf::db::{self, Db};
use wharf::gc::collector::{Collector, GcParams, Outcome, Reporter};
use wharf::jobs::lease::LeaseGuard;
use wharf::storage::{BlobStore, StorageKey};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[tokio::main]
async fn main() -> Result<()> {
    let blobs = env_usize("WHARF_BENCH_BLOBS", 100_000);
    let manifests = env_usize("WHARF_BENCH_MANIFESTS", 10_000).max(1);
    let workers = env_usize("WHARF_GC_WORKERS", 8);
    let per = blobs / manifests;
    let dir = tempfile::tempdir()?;
    let db_url = std::env::var("WHARF_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/wharf.db?mode=rwc", dir.path().display()));
    let storage_url =
        std::env::var("WHARF_STORAGE_URL").unwrap_or_else(|_| dir.path().join("blobs").display().to_string());
    let db = Db::connect(&db_url).await.context("database")?;
    let store = BlobStore::open(&storage_url, false).context("storage")?;
    println!(
        "backend: {:?} + {}",
        db.backend(),
        if storage_url.starts_with("s3://") { "S3" } else { "local disk" }
    );

    let started = Instant::now();
    let project = db::projects::insert(db.writer(), "bench", false, None).await?;
    let repo = db::repositories::ensure(db.writer(), project, "bench/gc").await?;
    let mut all = Vec::with_capacity(per * manifests);
    for m in 0..manifests {
        let layers: Vec<(String, Vec<u8>)> = (0..per)
            .map(|l| {
                let mut data = vec![0u8; 1024];
                data[..16].copy_from_slice(&((m * per + l) as u128).to_le_bytes());
                (digest_of(&data), data)
            })
            .collect();
        all.push(layers);
    }
    let files = all.iter().flatten().count();
    futures::stream::iter(all.iter().flatten())
        .map(|(d, data)| {
            let store = store.clone();
            async move { store.put(&StorageKey::Blob(d.parse().expect("digest")), data.clone().into()).await }
        })
        .buffer_unordered(32)
        .for_each(|r| async move { r.expect("put") })
        .await;
    for (m, layers) in all.iter().enumerate() {
        let mut tx = db.begin().await?;
        for (d, data) in layers {
            db::blobs::insert(&mut *tx, d, data.len() as i64).await?;
            db::blobs::link(&mut *tx, repo, d).await?;
        }
        let content = format!("{{\"schemaVersion\":2,\"n\":{m}}}");
        let digest = digest_of(content.as_bytes());
        let new = db::manifests::NewManifest {
            repository_id: repo,
            digest: &digest,
            media_type: "application/vnd.oci.image.manifest.v1+json",
            artifact_type: None,
            config_media_type: None,
            subject_digest: None,
            annotations: None,
            total_size: 0,
            content: content.as_bytes(),
        };
        let id = db::manifests::upsert(&mut tx, &new).await?;
        let refs: Vec<&str> = layers.iter().map(|(d, _)| d.as_str()).collect();
        db::manifests::add_blob_refs(&mut tx, id, &refs).await?;
        if m % 2 == 0 {
            db::tags::upsert(&mut *tx, repo, &format!("t{m}"), id).await?;
        }
        tx.commit().await?;
    }
    // Everything was pushed "long ago": the whole untagged half is past the grace window.
    sqlx::query("UPDATE blobs SET touched_at = 0").execute(db.writer()).await?;
    sqlx::query("UPDATE manifests SET pushed_at = 0").execute(db.writer()).await?;
    println!("generated {manifests} manifests and {files} blobs in {:.1} s", started.elapsed().as_secs_f64());

    let collector = Collector::new(db.clone(), store.clone(), Duration::ZERO, Duration::from_secs(86_400));
    let lease = LeaseGuard::acquire(&db, "gc", "bench", Duration::from_secs(30)).await?.context("lease")?;
    let run =
        db::gc_runs::insert(db.writer(), wharf::vocab::Trigger::Cli, false, true, workers as i64).await?;
    let mut rep = Reporter::new(db.clone(), run, None);
    let params = GcParams { delete_untagged: true, dry_run: false, workers: Some(workers) };
    let t = Instant::now();
    let outcome = collector.run(params, workers, &lease, &mut rep).await?;
    let wall = t.elapsed();
    lease.release().await;
    ensure!(outcome == Outcome::Finished, "collection stopped");
    let p = rep.progress();
    let left = store.list_blobs().await?.len();
    ensure!(p.manifests_deleted as usize == manifests / 2, "deleted {} manifests", p.manifests_deleted);
    ensure!(p.blobs_deleted as usize == manifests / 2 * per, "deleted {} blobs", p.blobs_deleted);
    ensure!(left == files - p.blobs_deleted as usize, "{left} objects left");
    println!(
        "gc ({workers} workers): {} manifests and {} blobs ({} MiB) deleted in {:.2} s = {:.0} blob deletes/s",
        p.manifests_deleted,
        p.blobs_deleted,
        p.bytes_freed / (1024 * 1024),
        wall.as_secs_f64(),
        p.blobs_deleted as f64 / wall.as_secs_f64()
    );
    Ok(())
}
