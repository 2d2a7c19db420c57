//! Looking inside images through the API: a layer's files (gzip and zstd, paged and filtered),
//! the merged filesystem with a file deleted by an upper layer, two tags compared, and who may
//! look.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use wharf::auth::Role;

use crate::support::*;

const ART: &str = "/api/v2.0/projects/library/repositories/app/artifacts";

fn config(env: &str, history: &[&str]) -> String {
    let history: Vec<String> = history.iter().map(|h| format!(r#"{{"created_by":"{h}"}}"#)).collect();
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["{env}"],"Entrypoint":["/app/run"]}},
        "rootfs":{{"type":"layers","diff_ids":[]}},"history":[{}]}}"#,
        history.join(",")
    )
}

/// `v1`: a gzip base layer and a zstd layer that deletes `/app/secret` and adds `/app/new`;
/// `v2`: the same base and a layer that changes `/app/config`.
async fn push_two(app: &TestApp) -> (String, String, Vec<String>, Vec<String>) {
    let base = tar_gz(&[
        ("app/", b""),
        ("app/secret", b"password=hunter2"),
        ("app/config", b"mode=one"),
        ("app/big.bin", &[7u8; 5000]),
        ("etc/os-release", b"ID=wharf"),
    ]);
    let upper = tar_zst(&[("app/.wh.secret", b""), ("app/new", b"hello")]);
    let (v1, l1) = app
        .push_layers(
            "library/app",
            "v1",
            &config("MODE=one", &["ADD base.tar /", "RUN rm /app/secret"]),
            &[(base.clone(), LAYER_GZIP), (upper, LAYER_ZSTD)],
        )
        .await;
    let changed = tar_gz(&[("app/config", b"mode=two")]);
    let (v2, l2) = app
        .push_layers(
            "library/app",
            "v2",
            &config("MODE=two", &["ADD base.tar /", "COPY config /app/config"]),
            &[(base, LAYER_GZIP), (changed, LAYER_GZIP)],
        )
        .await;
    (v1, v2, l1, l2)
}

async fn ok_json(res: Answer) -> Value {
    let status = res.status();
    let text = res.text();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("json")
}

#[tokio::test]
async fn layers_files_and_the_merged_filesystem_are_read_from_the_stored_layers() {
    let app = TestApp::start().await;
    let (v1, _, l1, _) = push_two(&app).await;

    let layers = ok_json(app.anon(Method::GET, &format!("{ART}/v1/layers")).call().await).await;
    assert_eq!(layers[0]["digest"], l1[0].as_str());
    assert_eq!(layers[0]["created_by"], "ADD base.tar /");
    assert_eq!(layers[1]["created_by"], "RUN rm /app/secret");
    assert_eq!(layers[1]["media_type"], LAYER_ZSTD);

    // The gzip layer, paged: the total in the body and in Harbor's header, a next link.
    let res = app.anon(Method::GET, &format!("{ART}/v1/layers/{}/files?page_size=2", l1[0])).call().await;
    assert_eq!(header(&res, "x-total-count"), Some("5"));
    assert!(header(&res, "link").is_some_and(|l| l.contains("rel=\"next\"")));
    let files = ok_json(res).await;
    assert_eq!(files["index"], 1);
    assert_eq!(files["layer_count"], 2);
    assert_eq!(files["entries"], 5);
    assert_eq!(files["unpacked_size"], 16 + 8 + 5000 + 8);
    let paths: Vec<&str> =
        files["files"].as_array().expect("files").iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["/app", "/app/secret"]);
    assert_eq!(files["files"][0]["kind"], "dir");
    assert_eq!(files["files"][1]["size"], 16);
    assert_eq!(files["files"][1]["mode"], 0o644);
    // Filtered by path, any case.
    let files =
        ok_json(app.anon(Method::GET, &format!("{ART}/v1/layers/{}/files?q=OS-REL", l1[0])).call().await)
            .await;
    assert_eq!(files["total"], 1);
    assert_eq!(files["files"][0]["path"], "/etc/os-release");
    // The zstd layer: the whiteout is shown as the path it deletes.
    let files =
        ok_json(app.anon(Method::GET, &format!("{ART}/{v1}/layers/{}/files", l1[1])).call().await).await;
    let entries: Vec<(&str, &str)> = files["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| (f["path"].as_str().unwrap_or(""), f["kind"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(entries, [("/app/secret", "whiteout"), ("/app/new", "file")]);

    // The merged filesystem: largest first, the deleted file listed last with what it held.
    let res = app.anon(Method::GET, &format!("{ART}/v1/filesystem?path=/app")).call().await;
    assert_eq!(header(&res, "x-total-count"), Some("4"));
    let tree = ok_json(res).await;
    let entries: Vec<(&str, &str, u64, u64)> = tree["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["size"].as_u64().unwrap_or(0),
                e["layer"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("big.bin", "file", 5000, 1),
            ("config", "file", 8, 1),
            ("new", "file", 5, 2),
            ("secret", "whiteout", 16, 2)
        ]
    );
    assert_eq!(tree["dir"]["size"], 5013);
    assert_eq!(tree["dir"]["files"], 3);
    assert_eq!(tree["largest"][0]["path"], "/app/big.bin");
    let root = ok_json(app.anon(Method::GET, &format!("{ART}/v1/filesystem")).call().await).await;
    assert_eq!(root["path"], "/");
    assert_eq!(root["dir"]["size"], 5013 + 8);
    assert_eq!(root["entries"][0]["name"], "app");

    // A second view comes from memory: the layers are not read again.
    assert!(app.state.inspector.holds_layer(&l1[0]));
}

#[tokio::test]
async fn two_tags_are_compared_by_layers_files_and_configuration() {
    let app = TestApp::start().await;
    let (v1, v2, l1, l2) = push_two(&app).await;
    assert_eq!(l1[0], l2[0], "the base layer is shared");
    let c = ok_json(app.anon(Method::GET, &format!("{ART}/v1/compare?with=v2")).call().await).await;
    assert_eq!(c["base"], v1.as_str());
    assert_eq!(c["other"], v2.as_str());
    assert_eq!(c["base_tags"][0], "v1");
    assert_eq!(c["shared_layers"].as_array().map(Vec::len), Some(1));
    assert_eq!(c["base_layers"][0]["digest"], l1[1].as_str());
    assert_eq!(c["other_layers"][0]["digest"], l2[1].as_str());
    let files: Vec<(&str, &str)> = c["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| (f["path"].as_str().unwrap_or(""), f["change"].as_str().unwrap_or("")))
        .collect();
    // v2 has the secret v1 deleted, lacks v1's new file, and its config has other bytes.
    assert_eq!(files, [("/app/config", "changed"), ("/app/new", "removed"), ("/app/secret", "added")]);
    assert_eq!(
        (c["added"].as_u64(), c["removed"].as_u64(), c["changed"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(c["config"][0]["field"], "Env MODE");
    assert_eq!(c["config"][0]["before"], "one");
    assert_eq!(c["config"][0]["after"], "two");
    assert_eq!(c["config"].as_array().map(Vec::len), Some(1));

    let res = app.anon(Method::GET, &format!("{ART}/v1/compare")).call().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.anon(Method::GET, &format!("{ART}/v1/compare?with=v9")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_who_may_pull_looks_inside_and_only_at_the_images_own_layers() {
    let app = TestApp::start().await;
    app.create_project("hush", false).await;
    let base = tar_gz(&[("secret/plans.txt", b"private")]);
    let (_, layers) =
        app.push_layers("hush/vault", "v1", &config("A=1", &["ADD plans /"]), &[(base, LAYER_GZIP)]).await;
    let files = format!("/api/v2.0/projects/hush/repositories/vault/artifacts/v1/layers/{}/files", layers[0]);
    let tree = "/api/v2.0/projects/hush/repositories/vault/artifacts/v1/filesystem";
    let compare = "/api/v2.0/projects/hush/repositories/vault/artifacts/v1/compare?with=v1";
    app.create_user("outsider", "Passw0rd!").await;
    let outsider = app.caller("outsider", "Passw0rd!");
    let guest = app.as_member("hush", Role::LimitedGuest).await;
    for path in [files.as_str(), tree, compare] {
        let res = app.anonymous().get(path).await;
        assert!(matches!(res.status().as_u16(), 401 | 404), "anonymous: {}", res.status());
        assert!(!res.text().contains("plans"));
        let res = outsider.get(path).await;
        assert!(matches!(res.status().as_u16(), 403 | 404), "outsider: {}", res.status());
        assert!(!res.text().contains("plans"));
        // A limited guest may pull, so may look inside.
        let res = guest.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "limited guest: {}", res.text());
    }
    assert!(guest.get(&files).await.text().contains("/secret/plans.txt"));

    // A public image's page cannot be used to read another project's layer by digest.
    let (_, public) = app
        .push_layers(
            "library/app",
            "v1",
            &config("A=1", &["ADD x /"]),
            &[(tar_gz(&[("x", b"x")]), LAYER_GZIP)],
        )
        .await;
    assert_ne!(public[0], layers[0]);
    let res = app.anon(Method::GET, &format!("{ART}/v1/layers/{}/files", layers[0])).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().contains("plans"));
}

#[tokio::test]
async fn what_is_not_a_filesystem_is_refused_clearly() {
    let app = TestApp::start().await;
    // A layer of random bytes under a tar media type.
    let (_, layers) = app
        .push_layers(
            "library/junk",
            "v1",
            &config("A=1", &["ADD junk /"]),
            &[(random_bytes(4096), LAYER_GZIP)],
        )
        .await;
    let res = app
        .anon(
            Method::GET,
            &format!("/api/v2.0/projects/library/repositories/junk/artifacts/v1/layers/{}/files", layers[0]),
        )
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json();
    assert_eq!(v["errors"][0]["code"], "BAD_REQUEST");
    assert!(
        v["errors"][0]["message"].as_str().is_some_and(|m| m.contains("not a readable tar archive")),
        "{v}"
    );
    // An index has no filesystem of its own.
    let (d, m, _) = app.push_image("library/multi", "one").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{}}}]}}"#,
        m.len()
    );
    app.put_manifest("library/multi", "all", OCI_INDEX, &index).await;
    let res = app
        .anon(Method::GET, "/api/v2.0/projects/library/repositories/multi/artifacts/all/filesystem")
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().contains("open one of its platforms"));
    // A directory that is not there, and a file asked for as a directory.
    let (_, _) = app
        .push_layers(
            "library/app",
            "v1",
            &config("A=1", &["ADD x /"]),
            &[(tar_gz(&[("x", b"x")]), LAYER_GZIP)],
        )
        .await;
    let res = app.anon(Method::GET, &format!("{ART}/v1/filesystem?path=/nope")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.anon(Method::GET, &format!("{ART}/v1/filesystem?path=/x")).call().await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
