//! Garbage collection racing real clients: podman pushes images that share and drop layers
//! while collections run back to back; afterwards every tag pulls completely with skopeo
//! (which verifies each blob's digest) and storage holds exactly the referenced blobs.

use std::time::Duration;

use wharf::gc::Trigger;
use wharf::gc::collector::GcParams;
use wharf_e2e::{ADMIN_PASSWORD, Podman, Wharf, run, tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_pushes_survive_collections_and_skopeo_pulls_everything() {
    tool("skopeo");
    // A short grace window: layers of dropped images become garbage during the test, while a
    // push that is under way is covered by it.
    let wharf = Wharf::start_with_settings(|s| s.gc_grace = Some("2s".parse().expect("duration"))).await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    // Images over a shared base layer, each with its own top layer.
    let base = p.dir().join("base");
    std::fs::create_dir_all(&base).expect("dir");
    std::fs::write(base.join("shared"), (0..300_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
        .expect("shared");
    let mut images = Vec::new();
    for i in 0..6 {
        let ctx = p.dir().join(format!("ctx{i}"));
        std::fs::create_dir_all(&ctx).expect("ctx");
        std::fs::copy(base.join("shared"), ctx.join("shared")).expect("copy");
        std::fs::write(ctx.join("own"), (0..50_000).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
            .expect("own");
        std::fs::write(ctx.join("Containerfile"), "FROM scratch\nCOPY shared /shared\nCOPY own /own\n")
            .expect("file");
        let local = format!("localhost/race{i}:1");
        run(p.cmd().args(["build", "-q", "-t", &local]).arg(&ctx)).await;
        images.push(local);
    }

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collections = {
        let (gc, stop) = (wharf.state.gc.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut runs, mut deleted) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let params = GcParams { delete_untagged: true, ..Default::default() };
                let run = gc.run_now(Trigger::Manual, params, None).await.expect("collection");
                assert_eq!(run.status, wharf::vocab::RunStatus::Success);
                runs += 1;
                deleted += run.blobs_deleted;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            (runs, deleted)
        })
    };
    // Push each image twice under two tags, then delete the first tag's manifest half the time,
    // so manifests and their own layers keep becoming garbage while the base stays shared.
    let mut kept = Vec::new();
    for (i, local) in images.iter().enumerate() {
        let remote = format!("{}/library/race{i}:1", wharf.host);
        run(p.cmd().args(["push", "--tls-verify=false", "--creds", &creds, local, &remote])).await;
        if i % 2 == 1 {
            let c = reqwest::Client::new();
            let digest = c
                .head(format!("http://{}/v2/library/race{i}/manifests/1", wharf.host))
                .header("accept", "application/vnd.oci.image.manifest.v1+json")
                .basic_auth("admin", Some(ADMIN_PASSWORD))
                .send()
                .await
                .expect("head")
                .headers()["docker-content-digest"]
                .to_str()
                .expect("digest")
                .to_owned();
            let res = c
                .delete(format!("http://{}/v2/library/race{i}/manifests/{digest}", wharf.host))
                .basic_auth("admin", Some(ADMIN_PASSWORD))
                .send()
                .await
                .expect("delete");
            assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
        } else {
            kept.push(format!("library/race{i}:1"));
        }
        // Let collections pass over the dropped layers before the next push reuses the base.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, deleted) = collections.await.expect("collector");
    eprintln!("{runs} collections deleted {deleted} blobs while podman pushed");
    assert!(runs >= 10 && deleted > 0, "collections deleted dropped layers during the pushes");

    for image in &kept {
        let dest = tempfile::tempdir().expect("tmp");
        run(tokio::process::Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--src-creds", &creds])
            .arg(format!("docker://{}/{image}", wharf.host))
            .arg(format!("dir:{}", dest.path().display())))
        .await;
    }
    // Storage holds exactly the blobs some manifest references.
    let stored = wharf.state.store.list_blobs().await.expect("list").len();
    let referenced: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT digest) FROM manifest_blobs")
        .fetch_one(wharf.state.db.reader())
        .await
        .expect("count");
    wharf.state.gc.run_now(Trigger::Manual, GcParams::default(), None).await.expect("final");
    let after = wharf.state.store.list_blobs().await.expect("list").len();
    assert!(after as i64 == referenced && after <= stored, "{after} stored, {referenced} referenced");
}
