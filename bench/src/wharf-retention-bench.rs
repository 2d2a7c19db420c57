//! `wharf-retention-bench`: times a retention policy over a generated project.
//!
//! Generates `WHARF_BENCH_REPOS` repositories (default 1,000) of `WHARF_BENCH_ARTIFACTS`
//! artifacts each (default 100): every artifact tagged `v<n>` except one in ten (untagged), one
//! in five also tagged `rc-<n>`, one in three pulled at some point in the last 30 days. The
//! policy retains the 10 most recently pushed `v*` artifacts and anything pulled within 7 days.
//! Prints the times of: reading the project (3 queries), evaluating the policy on every
//! repository, a full dry run (with tasks and logs written), and the real run (with deletes).
//!
//! Uses `WHARF_DATABASE_URL` when set (PostgreSQL), else SQLite in a temp dir.
//! Run: `cargo run --release -p wharf-bench --bin wharf-retention-bench`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sha2::{Digest as _, Sha256};
use wharf::auth::Identity;
use wharf::db::{self, Db};
use wharf::projects::Projects;
use wharf::retention::RetentionService;
use wharf::retention::evaluate::evaluate;
use wharf::retention::policy::PolicyDoc;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const DAY: i64 = 24 * 60 * 60 * 1000;

#[tokio::main]
async fn main() -> Result<()> {
    let repos = env_usize("WHARF_BENCH_REPOS", 1_000);
    let per = env_usize("WHARF_BENCH_ARTIFACTS", 100);
    let dir = tempfile::tempdir()?;
    let db_url = std::env::var("WHARF_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/wharf.db?mode=rwc", dir.path().display()));
    let db = Db::connect(&db_url).await.context("database")?;
    println!("backend: {:?}", db.backend());

    let started = Instant::now();
    let project = db::projects::insert(db.writer(), "bench", false, None).await?;
    let now = db::now_ms();
    for r in 0..repos {
        let repo =
            db::repositories::ensure(db.writer(), project, &format!("bench/team-{}/app-{r}", r % 10)).await?;
        let mut tx = db.begin().await?;
        for a in 0..per {
            let content = format!("{{\"schemaVersion\":2,\"repo\":{r},\"n\":{a}}}");
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(content.as_bytes())));
            let new = db::manifests::NewManifest {
                repository_id: repo,
                digest: &digest,
                media_type: "application/vnd.oci.image.manifest.v1+json",
                artifact_type: None,
                config_media_type: Some("application/vnd.oci.image.config.v1+json"),
                subject_digest: None,
                annotations: None,
                total_size: 1024,
                content: content.as_bytes(),
            };
            let id = db::manifests::upsert(&mut tx, &new).await?;
            if a % 10 != 9 {
                db::tags::upsert(&mut *tx, repo, &format!("v{a}"), id).await?;
            }
            if a % 5 == 0 {
                db::tags::upsert(&mut *tx, repo, &format!("rc-{a}"), id).await?;
            }
            // Push times spread over the last 100 days, in push order.
            let pushed = now - (per - a) as i64 * DAY * 100 / per as i64;
            // Half a day off the day boundaries the 7-day rule tests, so the verdicts do not depend on
            // the seconds between this evaluation and the runs below.
            let pulled = (a % 3 == 0).then(|| now - ((a * 7 + r) % 30) as i64 * DAY + DAY / 2);
            sqlx::query("UPDATE manifests SET pushed_at = $1, pulled_at = $2 WHERE id = $3")
                .bind(pushed)
                .bind(pulled)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE tags SET pushed_at = $1 WHERE manifest_id = $2")
                .bind(pushed)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    let total = repos * per;
    println!(
        "generated {repos} repositories with {total} artifacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let doc: PolicyDoc = serde_json::from_value(serde_json::json!({
        "algorithm": "or",
        "rules": [
            {"template": "latestPushedK", "params": {"latestPushedK": 10},
             "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*", "extras": "{\"untagged\":false}"}],
             "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "team-*/**"}]}},
            {"template": "nDaysSinceLastPull", "params": {"nDaysSinceLastPull": 7},
             "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
             "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project},
    }))?;
    let policy = doc.compile()?;

    let mut best_load = Duration::MAX;
    let mut best_eval = Duration::MAX;
    let mut deletes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let loaded = db::retention::load_project(db.reader(), db.backend(), project).await?;
        let load = t.elapsed();
        let t = Instant::now();
        deletes = 0;
        for (_, full, mut repo) in loaded {
            repo.name = full.split_once('/').map(|(_, r)| r.to_owned()).unwrap_or(full);
            deletes += evaluate(&policy, &repo, now).map_or(0, |o| o.delete.len());
        }
        let eval = t.elapsed();
        best_load = best_load.min(load);
        best_eval = best_eval.min(eval);
    }
    println!(
        "read the project: {:.0} ms; evaluate {total} artifacts: {:.0} ms ({:.2} µs per artifact); {deletes} to delete",
        best_load.as_secs_f64() * 1000.0,
        best_eval.as_secs_f64() * 1000.0,
        best_eval.as_secs_f64() * 1e6 / total as f64
    );

    let service = RetentionService::new(
        db.clone(),
        Projects::new(db.clone(), wharf::audit::Auditor::start(db.clone())),
        "bench",
        Duration::from_secs(60),
    );
    let admin = Identity::User { id: 0, name: "admin".into(), sysadmin: true };
    let id = service.create(&admin, &doc).await?;
    let t = Instant::now();
    let dry = service.run_now(id, true).await?;
    println!("dry run (tasks and logs written): {:.2} s, {}", t.elapsed().as_secs_f64(), dry.status);
    let t = Instant::now();
    let real = service.run_now(id, false).await?;
    let wall = t.elapsed();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM manifests").fetch_one(db.reader()).await?;
    ensure!(real.status == wharf::vocab::RunStatus::Success, "run ended {}", real.status);
    ensure!(left as usize == total - deletes, "{left} artifacts left, expected {}", total - deletes);
    println!(
        "run: {deletes} artifacts deleted in {:.2} s = {:.0} deletes/s; {left} left",
        wall.as_secs_f64(),
        deletes as f64 / wall.as_secs_f64()
    );
    Ok(())
}
