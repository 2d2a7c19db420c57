//! The pull cache (`registry::pull_cache`) never shows what a fresh read would not: a moved
//! tag, a deleted manifest and a revoked membership are seen by the next request on the
//! server that made the change, and on another replica of the same database and storage
//! within the documented bound (the time the change's notification takes: PostgreSQL's NOTIFY,
//! or SQLite's `data_version` poll every 100 ms).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use wharf::auth::Role;

use crate::support::*;

/// What another replica may lag behind by, with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(2);

async fn replica_of(a: &TestApp) -> TestApp {
    let (db, store) = (a.state.config.database_url.clone(), a.state.config.storage_url.clone());
    TestApp::start_with(move |_, s| {
        s.database_url = Some(db);
        s.storage_url = Some(store);
    })
    .await
}

/// Pulls until `check` holds for the answer's status and digest; how long that took.
async fn until(app: &TestApp, path: &str, check: impl Fn(StatusCode, Option<&str>) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let res = app.admin(Method::GET, path).header("accept", OCI_MANIFEST).call().await;
        if check(res.status(), header(&res, "docker-content-digest")) {
            return started.elapsed();
        }
        assert!(started.elapsed() < BOUND, "{path} still answers {} after {BOUND:?}", res.status());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asks `ask` until `done` holds for its answer; fails after [`BOUND`] saying `what`.
async fn eventually<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    ask: impl Fn() -> F,
    done: impl Fn(&T) -> bool,
) {
    let started = Instant::now();
    loop {
        let answer = ask().await;
        if done(&answer) {
            return;
        }
        assert!(started.elapsed() < BOUND, "{what}: still {answer:?} after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn digest_of(app: &TestApp, path: &str) -> Option<String> {
    let res = app.admin(Method::GET, path).header("accept", OCI_MANIFEST).call().await;
    (res.status() == StatusCode::OK).then(|| header(&res, "docker-content-digest").unwrap_or("").to_owned())
}

/// Waits until the server's change watch runs (the cache is out of use before).
async fn warm(app: &TestApp) {
    for _ in 0..200 {
        if app.state.db.changes().stamp().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the change watch did not start");
}

#[tokio::test]
async fn a_tag_moved_or_deleted_is_seen_at_once_here_and_within_the_bound_on_another_replica() {
    let a = TestApp::start().await;
    let b = replica_of(&a).await;
    warm(&a).await;
    warm(&b).await;
    a.create_project("team", true).await;
    let (first, _, _) = a.push_image("team/app", "v1").await;
    // Both replicas have read (and keep) v1 → first.
    for app in [&a, &b] {
        for _ in 0..3 {
            assert_eq!(digest_of(app, "/v2/team/app/manifests/v1").await.as_deref(), Some(first.as_str()));
        }
    }
    // The cache is in use (so what follows tests it): once the push's own writes have settled
    // (the audit log is written up to 200 ms later, and each write starts the cache afresh),
    // pulls are answered from memory.
    for app in [&a, &b] {
        let from_memory = || async {
            assert_eq!(digest_of(app, "/v2/team/app/manifests/v1").await.as_deref(), Some(first.as_str()));
            app.state.metrics.pull_cache_counters()[0].get()
        };
        eventually("pulls are answered from memory", from_memory, |n| *n >= 1).await;
    }
    // Moved on A: A's very next pull has the new digest, every time.
    let (second, _, _) = a.push_image("team/app", "v1").await;
    assert_eq!(digest_of(&a, "/v2/team/app/manifests/v1").await.as_deref(), Some(second.as_str()));
    let lag = until(&b, "/v2/team/app/manifests/v1", |s, d| s == StatusCode::OK && d == Some(&second)).await;
    eprintln!("B saw the moved tag after {lag:?}");
    // Moved on B this time: B at once, A within the bound.
    let (third, _, _) = b.push_image("team/app", "v1").await;
    assert_eq!(digest_of(&b, "/v2/team/app/manifests/v1").await.as_deref(), Some(third.as_str()));
    until(&a, "/v2/team/app/manifests/v1", |s, d| s == StatusCode::OK && d == Some(&third)).await;

    // A manifest read by digest on both, then deleted on A: gone from A at once, from B soon.
    let by_digest = format!("/v2/team/app/manifests/{third}");
    for app in [&a, &b] {
        assert_eq!(digest_of(app, &by_digest).await.as_deref(), Some(third.as_str()));
    }
    a.admin(Method::DELETE, &by_digest).call().await.expect(StatusCode::ACCEPTED);
    assert_eq!(digest_of(&a, &by_digest).await, None, "a deleted manifest is not served from memory");
    assert_eq!(digest_of(&a, "/v2/team/app/manifests/v1").await, None, "nor its tag");
    until(&b, &by_digest, |s, _| s == StatusCode::NOT_FOUND).await;
    until(&b, "/v2/team/app/manifests/v1", |s, _| s == StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_revoked_membership_refuses_the_next_pull_here_and_soon_on_another_replica() {
    let a = TestApp::start().await;
    let b = replica_of(&a).await;
    warm(&a).await;
    warm(&b).await;
    a.create_project("private", false).await;
    a.push_image("private/app", "v1").await;
    let user = a.create_user("dev", "Passw0rd!").await;
    a.add_member("private", user, Role::Developer).await;
    let pull = |app: &TestApp| app.caller("dev", "Passw0rd!");
    for app in [&a, &b] {
        for _ in 0..3 {
            pull(app).get("/v2/private/app/manifests/v1").await.expect(StatusCode::OK);
        }
    }
    // Removed through A's API: A refuses the very next pull.
    let members: serde_json::Value = a
        .as_admin()
        .get("/api/v2.0/projects/private/members?entityname=dev")
        .await
        .expect(StatusCode::OK)
        .json();
    let mid = members[0]["id"].as_i64().expect("member id");
    a.as_admin().delete(&format!("/api/v2.0/projects/private/members/{mid}")).await.expect(StatusCode::OK);
    let res = pull(&a).get("/v2/private/app/manifests/v1").await;
    assert!(
        matches!(res.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "the next pull after the revocation answered {}",
        res.status()
    );
    let pulled = |caller: Caller| async move { caller.get("/v2/private/app/manifests/v1").await.status() };
    eventually("B refuses the revoked member", || pulled(pull(&b)), |s| *s != StatusCode::OK).await;
    // And the project made public, then private again, on B: A follows.
    for (public, seen) in [("true", true), ("false", false)] {
        b.as_admin()
            .send_json(
                Method::PUT,
                "/api/v2.0/projects/private",
                &serde_json::json!({"metadata": {"public": public}}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(b.anonymous().get("/v2/private/app/manifests/v1").await.status() == StatusCode::OK, seen);
        eventually("A follows the visibility", || pulled(a.anonymous()), |s| (*s == StatusCode::OK) == seen)
            .await;
    }
}
