//! Governance with real clients: tag immutability refusing podman's push over a release and
//! skopeo's delete of it.

use tokio::process::Command;
use wharf_e2e::*;

fn skopeo() -> Command {
    tool("skopeo");
    Command::new("skopeo")
}

async fn api_post(w: &Wharf, path: &str, body: serde_json::Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://{}{path}", w.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&body)
        .send()
        .await
        .expect("API call")
        .status()
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
        api_post(&w, "/api/v2.0/projects/library/immutabletagrules", rule).await,
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
