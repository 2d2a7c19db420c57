//! Looking inside images podman built and pushed: a `RUN rm` in an upper layer shows as a
//! deletion in that layer and as removed in the merged filesystem, a zstd push reads like a
//! gzip one, and two tags pushed with different compressions compare by content.

use serde_json::Value;
use wharf_e2e::{ADMIN_PASSWORD, Podman, Wharf, build_layered_image, run};

async fn get(wharf: &Wharf, path: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("http://{}{path}", wharf.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("GET");
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, reqwest::StatusCode::OK, "{path}: {text}");
    serde_json::from_str(&text).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_podman_image_is_browsed_layer_by_layer_and_compared_across_compressions() {
    let wharf = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    build_layered_image(&p, "localhost/layered:one", "one").await;
    build_layered_image(&p, "localhost/layered:two", "two").await;
    // v1 in zstd, v2 in gzip (the layers are stored uncompressed locally, so each push
    // compresses them as asked).
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "--compression-format", "zstd"])
        .arg("localhost/layered:one")
        .arg(wharf.image("library/layered:v1")))
    .await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "--compression-format", "gzip"])
        .arg("localhost/layered:two")
        .arg(wharf.image("library/layered:v2")))
    .await;
    let art = "/api/v2.0/projects/library/repositories/layered/artifacts";

    // Three layers, each lined up with the Containerfile step that made it.
    let layers = get(&wharf, &format!("{art}/v1/layers")).await;
    let layers = layers.as_array().expect("layers");
    assert_eq!(layers.len(), 3, "{layers:?}");
    let steps: Vec<&str> = layers.iter().map(|l| l["created_by"].as_str().unwrap_or("")).collect();
    assert!(steps[0].contains("COPY") && steps[0].contains("busybox"), "{steps:?}");
    assert!(steps[1].contains("COPY") && steps[1].contains("/app"), "{steps:?}");
    assert!(steps[2].contains("rm") && steps[2].contains("/app/secret"), "{steps:?}");
    assert!(
        layers.iter().all(|l| l["media_type"].as_str().is_some_and(|m| m.contains("zstd"))),
        "{layers:?}"
    );

    // The RUN layer holds the whiteout; the COPY layer the file it deletes.
    let run_layer = layers[2]["digest"].as_str().expect("digest");
    let files = get(&wharf, &format!("{art}/v1/layers/{run_layer}/files")).await;
    let deleted: Vec<&str> = files["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["kind"] == "whiteout")
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(deleted, ["/app/secret"], "{files}");
    let copy_layer = layers[1]["digest"].as_str().expect("digest");
    let files = get(&wharf, &format!("{art}/v1/layers/{copy_layer}/files?q=secret")).await;
    assert_eq!(files["files"][0]["path"], "/app/secret");
    assert_eq!(files["files"][0]["size"], 17);

    // The merged view: the deleted file is listed as removed by layer 3, the rest is there.
    let app = get(&wharf, &format!("{art}/v1/filesystem?path=/app")).await;
    let entries: Vec<(&str, &str, u64)> = app["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["layer"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(entries, [("data.bin", "file", 2), ("config", "file", 2), ("secret", "whiteout", 3)], "{app}");
    let root = get(&wharf, &format!("{art}/v1/filesystem")).await;
    let busybox = std::fs::metadata("/bin/busybox").expect("busybox").len();
    assert_eq!(root["largest"][0]["path"], "/bin/busybox");
    assert_eq!(root["largest"][0]["size"], busybox);
    assert_eq!(root["dir"]["size"], busybox + 200 * 1024 + "mode=one\n".len() as u64);

    // The busybox layer is shared (podman reuses the blob it pushed already); the other two
    // differ in compression (zstd against gzip), yet only the changed file and the environment
    // differ in content.
    let c = get(&wharf, &format!("{art}/v1/compare?with=v2")).await;
    assert_eq!(c["shared_layers"].as_array().map(Vec::len), Some(1), "{c}");
    assert!(c["shared_layers"][0]["created_by"].as_str().is_some_and(|s| s.contains("/bin/busybox")), "{c}");
    assert_eq!(c["other_layers"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(c["other_layers"][0]["media_type"], "application/vnd.oci.image.layer.v1.tar+gzip");
    let changes: Vec<(&str, &str)> = c["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| (f["path"].as_str().unwrap_or(""), f["change"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(changes, [("/app/config", "changed")], "{c}");
    let config: Vec<&str> =
        c["config"].as_array().expect("config").iter().filter_map(|d| d["field"].as_str()).collect();
    assert_eq!(config, ["Env MODE"], "{c}");
}
