//! Governance with real clients and real processes: tag immutability refusing podman's push
//! over a release and skopeo's delete of it; webhook events surviving a `wharf` killed in the
//! middle of delivering them.

use std::collections::HashSet;
use std::time::Duration;

use tokio::process::Command;
use wharf_e2e::*;

#[path = "../../server/tests/support/receiver.rs"]
#[allow(dead_code, reason = "the shared receiver has helpers this test does not use")]
mod receiver;

fn skopeo() -> Command {
    tool("skopeo");
    Command::new("skopeo")
}

async fn digest_of(creds: &str, image: &str) -> String {
    run(skopeo().args(["inspect", "--tls-verify=false", "--creds", creds, "--format", "{{.Digest}}", image]))
        .await
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_tags_refuse_podman_pushes_over_them_and_skopeo_deletes() {
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "admin", "-p", ADMIN_PASSWORD, &w.host])).await;
    for (name, size) in [("a", 200_000), ("b", 150_000)] {
        let ctx = p.dir().join(name);
        build_context(&ctx, &[size]);
        run(p.cmd().args(["build", "-q", "-t", &format!("localhost/frozen:{name}")]).arg(&ctx)).await;
    }
    let release = w.image("library/frozen:v1");
    run(p.cmd().args(["push", "--tls-verify=false", "localhost/frozen:a", &release])).await;
    let first = digest_of(&creds, &format!("docker://{release}")).await;
    let rule = serde_json::json!({
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    });
    assert_eq!(
        w.admin_api(reqwest::Method::POST, "/api/v2.0/projects/library/immutabletagrules", rule).await,
        reqwest::StatusCode::CREATED
    );

    // podman pushing another image over the release: refused with Harbor's words.
    let err = run_fails(p.cmd().args(["push", "--tls-verify=false", "localhost/frozen:b", &release])).await;
    assert!(err.contains("configured as immutable"), "{err}");
    // skopeo copying over it, and deleting it: refused; the release is what it was.
    let err = run_fails(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &format!(
            "containers-storage:[vfs@{}+{}]localhost/frozen:b",
            p.dir().join("root").display(),
            p.dir().join("run").display()
        ),
        &format!("docker://{release}"),
    ]))
    .await;
    assert!(err.contains("immutable") || err.contains("412"), "{err}");
    let err = run_fails(skopeo().args([
        "delete",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{release}"),
    ]))
    .await;
    assert!(err.contains("immutable") || err.contains("412"), "{err}");
    assert_eq!(digest_of(&creds, &format!("docker://{release}")).await, first);

    // Other tags move and go as usual.
    let latest = w.image("library/frozen:latest");
    run(p.cmd().args(["push", "--tls-verify=false", "localhost/frozen:a", &latest])).await;
    run(p.cmd().args(["push", "--tls-verify=false", "localhost/frozen:b", &latest])).await;
    assert_ne!(digest_of(&creds, &format!("docker://{latest}")).await, first);
    run(skopeo().args(["delete", "--tls-verify=false", "--creds", &creds, &format!("docker://{latest}")]))
        .await;
}

/// A one-layer image pushed over plain HTTP as `admin`; returns the manifest digest.
async fn push_image(http: &reqwest::Client, host: &str, repo: &str, tag: &str) -> String {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","n":"{}"}}"#, rand::random::<u64>());
    let layer: Vec<u8> = (0..2048).map(|_| rand::random::<u8>()).collect();
    let digest_of = |d: &[u8]| format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(d)));
    for blob in [config.as_bytes(), layer.as_slice()] {
        let res = http
            .post(format!("http://{host}/v2/{repo}/blobs/uploads/?digest={}", digest_of(blob)))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .body(blob.to_vec())
            .send()
            .await
            .expect("blob");
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        digest_of(config.as_bytes()),
        config.len(),
        digest_of(&layer),
        layer.len()
    );
    let res = http
        .put(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .expect("manifest");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    digest_of(manifest.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_survive_a_kill_in_the_middle_of_their_delivery() {
    let data = DataDir::new().await;
    let mut env = data.env();
    // Claims lapse six seconds after a replica stops; an attempt may take three.
    env.retain(|(k, _)| *k != "WHARF_JOB_LEASE");
    env.push(("WHARF_JOB_LEASE", "6s".into()));
    let receiver = receiver::Receiver::start().await;
    // The receiver holds every request a second: the kill lands while deliveries are open.
    receiver.delay(1000);
    let http = reqwest::Client::new();
    let first = WharfProcess::start(&env).await;
    let res = http
        .post(format!("http://{}/api/v2.0/projects/library/webhook/policies", first.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&serde_json::json!({"name": "ci", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "http", "address": receiver.url, "payload_format": "Default"}]}))
        .send()
        .await
        .expect("policy");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let mut pushed = HashSet::new();
    for i in 0..6 {
        pushed.insert(push_image(&http, &first.host, "library/hooked", &format!("v{i}")).await);
    }
    // Deliveries start within half a second; kill while the receiver still holds them.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = receiver.received().len();
    first.kill();
    assert!(before < pushed.len(), "the kill came too late to test anything: {before} delivered");

    // A new process on the same data picks up what the dead one held once its claims lapse.
    let second = WharfProcess::start(&env).await;
    receiver.delay(0);
    let got = receiver
        .wait_until(60, |r| {
            let seen: HashSet<String> = r
                .iter()
                .filter_map(|x| x.body["event_data"]["resources"][0]["digest"].as_str().map(str::to_owned))
                .collect();
            pushed.is_subset(&seen)
        })
        .await;
    let deliveries: HashSet<&str> =
        got.iter().filter_map(|r| r.headers.get("x-wharf-delivery").map(String::as_str)).collect();
    assert_eq!(deliveries.len(), pushed.len(), "one delivery id per event, repeats share it");
    eprintln!(
        "{} events, {} received before the kill, {} requests in all after it (repeats carry the same delivery id)",
        pushed.len(),
        before,
        got.len()
    );
    drop(second);
}
