//! Tag retention with real clients: podman pushes a series of tags, a policy is dry-run (nothing
//! deleted, the log names the right digests) and run, and skopeo then pulls exactly the tags the
//! policy retains.

use std::time::Duration;
use wharf_e2e::client::Call;

use serde_json::{Value, json};
use wharf_e2e::{ADMIN_PASSWORD, Podman, Wharf, build_context, run, run_fails, tool};

async fn api(
    wharf: &Wharf,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> wharf_e2e::client::Answer {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{}{path}", wharf.host))
        .basic_auth("admin", Some(ADMIN_PASSWORD));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.call().await
}

/// Runs policy `id` (dry or not) and waits for the end; returns the execution id.
async fn execute(wharf: &Wharf, id: i64, dry_run: bool) -> i64 {
    let res = api(
        wharf,
        reqwest::Method::POST,
        &format!("/api/v2.0/retentions/{id}/executions"),
        Some(json!({ "dry_run": dry_run })),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let eid: i64 = res.headers()["location"]
        .to_str()
        .ok()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|s| s.parse().ok())
        .expect("execution id");
    for _ in 0..300 {
        let list: Value =
            api(wharf, reqwest::Method::GET, &format!("/api/v2.0/retentions/{id}/executions"), None)
                .await
                .json();
        let e = list.as_array().and_then(|l| l.iter().find(|e| e["id"] == eid)).cloned().expect("listed");
        if e["status"] != "Running" {
            assert_eq!(e["status"], "Success", "{e}");
            return eid;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {eid} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_pushed_tags_are_kept_and_deleted_as_the_policy_says() {
    tool("skopeo");
    let wharf = Wharf::start().await;
    wharf.create_project("team", false).await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let skopeo_digest = |tag: &str| {
        let image = format!("docker://{}/team/app:{tag}", wharf.host);
        let creds = creds.clone();
        async move {
            run(tokio::process::Command::new("skopeo").args([
                "inspect",
                "--tls-verify=false",
                "--creds",
                &creds,
                "--format",
                "{{.Digest}}",
                &image,
            ]))
            .await
            .trim()
            .to_owned()
        }
    };
    // v1..v6, each its own image, pushed in order; `latest` goes on v3 before v4 is pushed.
    let mut digests = Vec::new();
    for i in 1..=6 {
        let ctx = p.dir().join(format!("ctx{i}"));
        build_context(&ctx, &[20_000]);
        let local = format!("localhost/app:v{i}");
        run(p.cmd().args(["build", "-q", "-t", &local]).arg(&ctx)).await;
        let remote = wharf.image(&format!("team/app:v{i}"));
        run(p.cmd().args(["push", "--tls-verify=false", "--creds", &creds, &local, &remote])).await;
        if i == 3 {
            let latest = wharf.image("team/app:latest");
            run(p.cmd().args(["push", "--tls-verify=false", "--creds", &creds, &local, &latest])).await;
        }
        digests.push(skopeo_digest(&format!("v{i}")).await);
        // Distinct push times in milliseconds.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let project: Value = api(&wharf, reqwest::Method::GET, "/api/v2.0/projects/team", None).await.json();
    let pid = project["project_id"].as_i64().expect("project id");
    let selector = |decoration: &str, pattern: &str| json!({"kind": "doublestar", "decoration": decoration, "pattern": pattern});
    let policy = json!({
        "algorithm": "or",
        "rules": [
            {"template": "latestPushedK", "params": {"latestPushedK": 2}, "action": "retain",
             "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*", "extras": "{\"untagged\":false}"}],
             "scope_selectors": {"repository": [selector("repoMatches", "**")]}},
            {"template": "always", "params": {}, "action": "retain",
             "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "latest"}],
             "scope_selectors": {"repository": [selector("repoMatches", "app")]}},
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": pid},
    });
    let res = api(&wharf, reqwest::Method::POST, "/api/v2.0/retentions", Some(policy)).await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let id: i64 = res.headers()["location"]
        .to_str()
        .ok()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|s| s.parse().ok())
        .expect("policy id");

    // Retained: v5 and v6 (latest pushed v*), v3 (tagged latest). Deleted: v1, v2, v4.
    let (kept, gone) = ([3usize, 5, 6], [1usize, 2, 4]);
    let eid = execute(&wharf, id, true).await;
    let tasks: Value =
        api(&wharf, reqwest::Method::GET, &format!("/api/v2.0/retentions/{id}/executions/{eid}/tasks"), None)
            .await
            .json();
    assert_eq!(tasks[0]["repository"], "team/app");
    assert_eq!((tasks[0]["total"].as_i64(), tasks[0]["retained"].as_i64()), (Some(6), Some(3)));
    let tid = tasks[0]["id"].as_i64().expect("task id");
    let log = api(
        &wharf,
        reqwest::Method::GET,
        &format!("/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}"),
        None,
    )
    .await
    .text();
    for (numbers, verdict) in [(&kept, " RETAIN "), (&gone, " DEL ")] {
        for n in numbers.iter() {
            let d = &digests[n - 1];
            let line = log
                .lines()
                .find(|l| l.starts_with(d.as_str()))
                .unwrap_or_else(|| panic!("v{n} {d} not in\n{log}"));
            assert!(line.contains(verdict), "v{n}: {line}");
        }
    }
    // The dry run deleted nothing: every tag still pulls.
    let out = p.dir().join("pulled");
    std::fs::create_dir_all(&out).expect("dir");
    for i in 1..=6 {
        let dest = format!("dir:{}", out.join(format!("dry-v{i}")).display());
        let src = format!("docker://{}/team/app:v{i}", wharf.host);
        run(tokio::process::Command::new("skopeo").args([
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &src,
            &dest,
        ]))
        .await;
    }

    execute(&wharf, id, false).await;
    for tag in ["v3", "latest", "v5", "v6"] {
        let dest = format!("dir:{}", out.join(format!("run-{tag}")).display());
        let src = format!("docker://{}/team/app:{tag}", wharf.host);
        run(tokio::process::Command::new("skopeo").args([
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &src,
            &dest,
        ]))
        .await;
    }
    for n in gone {
        let src = format!("docker://{}/team/app:v{n}", wharf.host);
        let dest = format!("dir:{}", out.join(format!("gone-v{n}")).display());
        let err = run_fails(tokio::process::Command::new("skopeo").args([
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &src,
            &dest,
        ]))
        .await;
        assert!(err.contains("manifest unknown") || err.contains("not found"), "v{n}: {err}");
        // Gone by digest too, not only the tag.
        let by_digest = format!("docker://{}/team/app@{}", wharf.host, digests[n - 1]);
        run_fails(tokio::process::Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            &creds,
            &by_digest,
        ]))
        .await;
    }
}
