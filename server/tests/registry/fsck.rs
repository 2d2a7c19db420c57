//! `fsck`: every kind of damage is found; `--repair` fixes exactly what is safe and never
//! touches what a manifest references; the documented remedy for the rest works.

use std::collections::HashMap;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use wharf::config::HumanDuration;
use wharf::gc::fsck::{Fix, FsckParams, FsckReport, ProblemKind};
use wharf::storage::StorageKey;

use crate::support::*;

async fn fsck(app: &TestApp, repair: bool) -> FsckReport {
    app.state.gc.fsck(FsckParams { repair, verify_content: true, workers: 4 }).await.expect("fsck")
}

fn by_subject(report: &FsckReport) -> HashMap<String, (ProblemKind, Fix, Vec<String>)> {
    report
        .problems
        .iter()
        .map(|p| (p.subject.clone(), (p.kind, p.fix.clone(), p.referenced_by.clone())))
        .collect()
}

fn blob(digest: &str) -> StorageKey {
    StorageKey::Blob(digest.parse().expect("digest"))
}

async fn blob_row(app: &TestApp, digest: &str) -> bool {
    wharf::db::blobs::status(app.state.db.reader(), digest).await.expect("status").is_some()
}

async fn stored(app: &TestApp, key: &StorageKey) -> bool {
    match app.state.store.size(key).await {
        Ok(_) => true,
        Err(wharf::storage::StorageError::NotFound(_)) => false,
        Err(e) => panic!("storage: {e}"),
    }
}

#[tokio::test]
async fn fsck_finds_damage_and_repairs_only_what_is_safe() {
    let zero: HumanDuration = "0s".parse().expect("duration");
    let app = TestApp::start_with(|_, s| {
        s.gc_grace = Some(zero);
        s.gc_upload_age = Some(zero);
    })
    .await;
    let repo = "library/fsck";
    let (manifest, _, layer) = app.push_image(repo, "v1").await;
    let lost = app.push_blob(repo, b"unreferenced; its bytes will be lost").await;
    let flipped = app.push_blob(repo, b"unreferenced; its bytes will be flipped").await;

    let healthy = fsck(&app, false).await;
    assert!(healthy.clean(), "{:?}", healthy.problems);
    assert_eq!((healthy.blobs, healthy.objects, healthy.manifests), (4, 4, 1));
    assert!(healthy.bytes_verified > 4096);

    // Damage of every kind.
    let store = &app.state.store;
    store.delete(&blob(&layer)).await.expect("lose a referenced layer");
    store.delete(&blob(&lost)).await.expect("lose an unreferenced blob");
    store
        .put(&blob(&flipped), Bytes::from_static(b"unreferenced; its bytes will be FLIPPED"))
        .await
        .expect("flip");
    let orphan_bytes = b"written by a push that crashed before recording it";
    let orphan = sha256(orphan_bytes);
    store.put(&blob(&orphan), Bytes::from_static(orphan_bytes)).await.expect("orphan");
    let stray_part = StorageKey::UploadPart { upload: "no-such-session".into(), part: "0".into() };
    store.put(&stray_part, Bytes::from_static(b"abandoned")).await.expect("stray part");
    let res = app.admin(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).call().await;
    let session = header(&res, "location").expect("location").to_owned();
    let res = app.admin(Method::PATCH, &session).body(vec![7u8; 1000]).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let session_id = header(&res, "docker-upload-uuid").expect("uuid").to_owned();
    for name in store.list(&StorageKey::UploadArea).await.expect("list") {
        if let Some((upload, part)) = name.split_once('.').filter(|(u, _)| *u == session_id) {
            store
                .delete(&StorageKey::UploadPart { upload: upload.into(), part: part.into() })
                .await
                .expect("rm");
        }
    }
    sqlx::query("UPDATE manifests SET content = $1 WHERE digest = $2")
        .bind(b"{\"tampered\":true}".to_vec())
        .bind(&manifest)
        .execute(app.state.db.writer())
        .await
        .expect("tamper");

    // A check reports everything and changes nothing.
    let found = fsck(&app, false).await;
    assert!(!found.clean());
    let problems = by_subject(&found);
    let layer_problem =
        (ProblemKind::MissingBlob, problems[&layer].1.clone(), vec![format!("{repo}@{manifest}")]);
    assert_eq!(problems[&layer], layer_problem);
    assert!(matches!(problems[&layer].1, Fix::NeedsAttention(_)));
    assert_eq!(problems[&lost], (ProblemKind::MissingBlob, Fix::Repairable, vec![]));
    assert_eq!(problems[&flipped].0, ProblemKind::CorruptBlob);
    assert_eq!(problems[&flipped].1, Fix::Repairable);
    assert_eq!(problems[&orphan], (ProblemKind::OrphanBlob, Fix::Repairable, vec![]));
    assert_eq!(problems[&stray_part.to_string()].0, ProblemKind::OrphanUploadPart);
    assert_eq!(problems[&format!("upload {session_id}")].0, ProblemKind::MissingUploadPart);
    assert_eq!(problems[&format!("{repo}@{manifest}")].0, ProblemKind::CorruptManifest);
    assert_eq!(found.problems.len(), 7, "{:?}", found.problems);
    assert!(
        blob_row(&app, &lost).await && stored(&app, &blob(&orphan)).await && stored(&app, &stray_part).await
    );

    // Repair fixes the safe ones and leaves what a manifest references.
    let repaired = fsck(&app, true).await;
    let fixed = by_subject(&repaired);
    for subject in [&lost, &flipped, &orphan, &stray_part.to_string(), &format!("upload {session_id}")] {
        assert_eq!(fixed[subject].1, Fix::Repaired, "{subject}");
    }
    assert!(!blob_row(&app, &lost).await);
    assert!(!blob_row(&app, &flipped).await && !stored(&app, &blob(&flipped)).await);
    assert!(!blob_row(&app, &orphan).await && !stored(&app, &blob(&orphan)).await);
    assert!(!stored(&app, &stray_part).await);
    let res = app.admin(Method::GET, &session).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(blob_row(&app, &layer).await, "a referenced row is never removed");

    let left = fsck(&app, true).await;
    let mut kinds: Vec<ProblemKind> = left.problems.iter().map(|p| p.kind).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(kinds, [ProblemKind::CorruptManifest, ProblemKind::MissingBlob]);
    assert!(left.problems.iter().all(|p| matches!(p.fix, Fix::NeedsAttention(_))));

    // The remedy it names: delete the artifact, repair, push again.
    let res = app.admin(Method::DELETE, &format!("/v2/{repo}/manifests/{manifest}")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let healed = fsck(&app, true).await;
    assert!(healed.clean(), "{:?}", healed.problems);
    assert!(!blob_row(&app, &layer).await);
    let res = app.admin(Method::HEAD, &format!("/v2/{repo}/blobs/{layer}")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "clients upload the layer again");
    let after = fsck(&app, false).await;
    assert!(after.clean() && after.problems.is_empty(), "{:?}", after.problems);
}

#[tokio::test]
async fn fsck_leaves_recent_unrecorded_bytes_alone() {
    let app = TestApp::start().await;
    let data = b"a push between writing its bytes and recording them";
    let digest = sha256(data);
    app.state.store.put(&blob(&digest), Bytes::from_static(data)).await.expect("put");
    let report = fsck(&app, true).await;
    assert!(report.clean(), "{:?}", report.problems);
    assert_eq!(report.recent_unrecorded, 1);
    assert!(stored(&app, &blob(&digest)).await);
}

#[tokio::test]
async fn a_row_with_a_malformed_digest_is_reported_not_fatal() {
    let app = TestApp::start().await;
    wharf::db::blobs::insert(app.state.db.writer(), "sha256:not-a-digest", 3).await.expect("row");
    let found = fsck(&app, false).await;
    let problems = by_subject(&found);
    assert_eq!(problems["sha256:not-a-digest"].0, ProblemKind::CorruptBlob);
    assert_eq!(problems["sha256:not-a-digest"].1, Fix::Repairable);
    let repaired = fsck(&app, true).await;
    assert!(repaired.clean(), "{:?}", repaired.problems);
    assert!(!blob_row(&app, "sha256:not-a-digest").await);
}
