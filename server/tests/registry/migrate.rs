//! `wharf migrate`: a registry moved to another database and store serves everything it held.

use reqwest::{Method, StatusCode};
use wharf::config::Secret;
use wharf::db::Db;
use wharf::migrate::{self, MigrateError};
use wharf::storage::BlobStore;

use crate::support::*;

/// A source on the embedded default, whatever the environment says.
async fn embedded() -> TestApp {
    TestApp::start_with(|dir, s| {
        s.database_url = Some(Secret::from(format!("sqlite://{}/wharf.db?mode=rwc", dir.display())));
        s.storage_url = Some(dir.join("blobs").display().to_string());
    })
    .await
}

/// The target: PostgreSQL + S3 when the test command provides them, else SQLite + disk.
async fn target(dir: &std::path::Path) -> (String, String) {
    let db = test_database().await.unwrap_or_else(|| format!("sqlite://{}/wharf.db?mode=rwc", dir.display()));
    let store = test_storage().unwrap_or_else(|| dir.join("blobs").display().to_string());
    (db, store)
}

async fn body(app: &TestApp, path: &str) -> (StatusCode, Vec<u8>) {
    let res =
        app.admin(Method::GET, path).header("accept", format!("{OCI_MANIFEST},{OCI_INDEX}")).call().await;
    (res.status(), res.bytes().to_vec())
}

#[tokio::test]
async fn migrate_moves_everything_and_the_target_serves_it() {
    let src = embedded().await;
    let (d1, m1, l1) = src.push_image("library/app", "v1").await;
    let (d2, m2, _) = src.push_image("library/app", "v2").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{d2}","size":{}}}]}}"#,
        m1.len(),
        m2.len()
    );
    assert_eq!(
        src.put_manifest("library/app", "multi", OCI_INDEX, &index).await.status(),
        StatusCode::CREATED
    );
    src.create_project("team", false).await;
    src.push_image("team/svc", "latest").await;
    let token: serde_json::Value = src
        .admin(Method::GET, "/service/token?service=wharf&scope=repository:library/app:pull")
        .call()
        .await
        .json();

    // A system robot with grants in one project moves with its permissions.
    let robot = serde_json::json!({"name": "mover", "level": "system", "duration": -1, "permissions": [
        {"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}]});
    let created: serde_json::Value =
        src.admin(Method::POST, "/api/v2.0/robots").json(&robot).call().await.json();
    let secret = created["secret"].as_str().expect("secret").to_owned();

    // Settings beyond images move too: a quota's limit (its usage is recounted), a user group
    // and its membership, a label, a configuration item.
    let team: serde_json::Value = src.admin(Method::GET, "/api/v2.0/projects/team").call().await.json();
    let team_id = team["project_id"].as_i64().expect("id");
    // A second later than the project, so the limit's own update time must move with it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    src.admin(Method::PUT, &format!("/api/v2.0/quotas/{team_id}"))
        .json(&serde_json::json!({"hard": {"storage": 123_456_789}}))
        .call()
        .await
        .expect(StatusCode::OK);
    src.admin(Method::POST, "/api/v2.0/usergroups")
        .json(&serde_json::json!({"group_name": "crew", "group_type": 2}))
        .call()
        .await
        .expect(StatusCode::CREATED);
    src.admin(Method::POST, "/api/v2.0/projects/team/members")
        .json(&serde_json::json!({"role_id": 2, "member_group": {"group_name": "crew"}}))
        .call()
        .await
        .expect(StatusCode::CREATED);
    src.admin(Method::POST, "/api/v2.0/labels")
        .json(&serde_json::json!({"name": "moved", "scope": "g"}))
        .call()
        .await
        .expect(StatusCode::CREATED);
    src.admin(Method::PUT, "/api/v2.0/configurations")
        .json(&serde_json::json!({"ldap_base_dn": "dc=moved"}))
        .call()
        .await
        .expect(StatusCode::OK);
    let settings = [
        format!("/api/v2.0/quotas/{team_id}"),
        "/api/v2.0/usergroups".to_owned(),
        "/api/v2.0/projects/team/members".to_owned(),
        "/api/v2.0/labels?scope=g".to_owned(),
    ];

    let dir = tempfile::tempdir().expect("tempdir");
    let (db_url, store_url) = target(dir.path()).await;
    let to_db = Db::connect(&db_url).await.expect("target db");
    let to_store = BlobStore::open(&store_url, false).expect("target store");
    let report =
        migrate::run(&src.state.db, &src.state.store, &to_db, &to_store, |_| {}).await.expect("migrate");
    // 2 configs + 2 layers for library/app, 1 + 1 for team/svc.
    assert_eq!((report.blobs_copied, report.blobs_present), (6, 0));
    assert!(report.rows.iter().any(|(t, n)| *t == "tags" && *n == 4), "{:?}", report.rows);
    let again = migrate::run(&src.state.db, &src.state.store, &to_db, &to_store, |_| {}).await;
    assert!(matches!(again, Err(MigrateError::TargetNotEmpty)));

    let dst = TestApp::start_with(|_, s| {
        s.database_url = Some(Secret::from(db_url.clone()));
        s.storage_url = Some(store_url.clone());
    })
    .await;
    for path in [
        "/v2/_catalog".to_owned(),
        "/v2/library/app/tags/list".to_owned(),
        "/v2/library/app/manifests/v1".to_owned(),
        "/v2/library/app/manifests/multi".to_owned(),
        format!("/v2/library/app/blobs/{l1}"),
        "/v2/team/svc/manifests/latest".to_owned(),
    ] {
        let (a, b) = (body(&src, &path).await, body(&dst, &path).await);
        assert_eq!(a.0, StatusCode::OK, "{path}");
        assert_eq!(a, b, "{path} differs after migration");
    }
    for path in &settings {
        let (a, b) = (body(&src, path).await, body(&dst, path).await);
        assert_eq!(a.0, StatusCode::OK, "{path}");
        let (a, b): (serde_json::Value, serde_json::Value) =
            (serde_json::from_slice(&a.1).expect("json"), serde_json::from_slice(&b.1).expect("json"));
        assert_eq!(a, b, "{path} differs after migration");
    }
    let quota: serde_json::Value = dst.admin(Method::GET, &settings[0]).call().await.json();
    assert_eq!(quota["hard"]["storage"], 123_456_789);
    assert!(quota["used"]["storage"].as_i64().is_some_and(|u| u > 0), "{quota}");
    let conf: serde_json::Value = dst.admin(Method::GET, "/api/v2.0/configurations").call().await.json();
    assert_eq!(conf["ldap_base_dn"]["value"], "dc=moved");
    // The signing key moved too: a token of the old server works on the new one.
    let res = dst
        .anon(Method::GET, "/v2/library/app/manifests/v1")
        .bearer_auth(token["token"].as_str().expect("token"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = dst
        .anon(Method::GET, "/v2/team/svc/manifests/latest")
        .basic_auth("robot$mover", Some(&secret))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "the system robot and its grants moved");
    // New rows on the target get fresh ids: pushing and deleting works as before.
    let (d3, _, _) = dst.push_image("library/app", "v3").await;
    let res = dst.admin(Method::DELETE, &format!("/v2/library/app/manifests/{d3}")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn migrate_refuses_a_damaged_blob_and_copies_no_rows() {
    let src = embedded().await;
    let (_, _, layer) = src.push_image("library/app", "v1").await;
    let hex = layer.trim_start_matches("sha256:");
    let file = src.dir.path().join("blobs/blobs/sha256").join(&hex[..2]).join(hex);
    let mut bytes = std::fs::read(&file).expect("layer file");
    bytes[0] ^= 0xff;
    std::fs::write(&file, bytes).expect("damage");

    let dir = tempfile::tempdir().expect("tempdir");
    let (db_url, store_url) = target(dir.path()).await;
    let to_db = Db::connect(&db_url).await.expect("target db");
    let to_store = BlobStore::open(&store_url, false).expect("target store");
    let result = migrate::run(&src.state.db, &src.state.store, &to_db, &to_store, |_| {}).await;
    assert!(
        matches!(result, Err(MigrateError::Damaged { ref digest, .. }) if *digest == layer),
        "{result:?}"
    );
    assert!(wharf::db::transfer::is_empty(&to_db).await.expect("query"), "no rows without their bytes");
}
