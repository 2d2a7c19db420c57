//! Real registry clients against a running Wharf: podman, skopeo, the docker CLI with its own
//! dockerd, and oras (Python SDK). Each test has its own server and client sandbox.

use std::path::Path;

use tokio::process::Command;
use wharf_e2e::*;

fn skopeo() -> Command {
    tool("skopeo");
    Command::new("skopeo")
}

async fn inspect_raw(w: &Wharf, image: &str) -> serde_json::Value {
    let out = run(skopeo()
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("admin:{ADMIN_PASSWORD}"))
        .arg(format!("docker://{}", w.image(image))))
    .await;
    serde_json::from_str(&out).expect("manifest JSON")
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

async fn podman_image_id(p: &Podman, image: &str) -> String {
    run(p.cmd().args(["image", "inspect", "--format", "{{.Id}}", image])).await.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_login_push_pull_and_access() {
    let w = Wharf::start().await;
    let p = Podman::new();
    let login = |user: &'static str, pw: &'static str| {
        let mut c = p.cmd();
        c.args(["login", "--tls-verify=false", "-u", user, "-p", pw, &w.host]);
        c
    };
    let err = run_fails(&mut login("admin", "wrong-password")).await;
    assert!(err.contains("invalid username/password") || err.contains("401"), "{err}");
    run(&mut login("admin", ADMIN_PASSWORD)).await;

    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[300_000, 1_500_000, 20_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/e2e:1"]).arg(&ctx)).await;
    let built = podman_image_id(&p, "localhost/e2e:1").await;
    let target = w.image("library/podman:1");
    run(p.cmd().args(["push", "--tls-verify=false", "localhost/e2e:1", &target])).await;
    let manifest = inspect_raw(&w, "library/podman:1").await;
    assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(3), "{manifest}");

    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &target])).await;
    assert_eq!(podman_image_id(&p, &target).await, built, "the pulled image is the pushed one");

    // Anonymous: pull from the public project works, pushing does not.
    run(p.cmd().args(["logout", &w.host])).await;
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", &target])).await;
    run(p.cmd().args(["tag", &target, &w.image("library/podman:anon")])).await;
    run_fails(p.cmd().args(["push", "--tls-verify=false", &w.image("library/podman:anon")])).await;

    // A private project: pushed as admin, invisible to anonymous pulls.
    w.create_project("team", false).await;
    run(&mut login("admin", ADMIN_PASSWORD)).await;
    run(p.cmd().args(["push", "--tls-verify=false", &target, &w.image("team/app:1")])).await;
    run(p.cmd().args(["logout", &w.host])).await;
    run_fails(p.cmd().args(["pull", "--tls-verify=false", &w.image("team/app:1")])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_and_skopeo_multi_arch_index() {
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    for (arch, size) in [("amd64", 100_000), ("arm64", 120_000)] {
        let ctx = p.dir().join(format!("ctx-{arch}"));
        build_context(&ctx, &[size, 10_000]);
        run(p
            .cmd()
            .args([
                "build",
                "-q",
                "--platform",
                &format!("linux/{arch}"),
                "-t",
                &format!("localhost/multi:{arch}"),
            ])
            .arg(&ctx))
        .await;
    }
    run(p.cmd().args(["manifest", "create", "localhost/multi:list"])).await;
    for arch in ["amd64", "arm64"] {
        run(p.cmd().args([
            "manifest",
            "add",
            "localhost/multi:list",
            &format!("containers-storage:localhost/multi:{arch}"),
        ]))
        .await;
    }
    let target = format!("docker://{}", w.image("library/multi:1"));
    run(p.cmd().args([
        "manifest",
        "push",
        "--all",
        "--tls-verify=false",
        "--creds",
        &creds,
        "localhost/multi:list",
        &target,
    ]))
    .await;

    let index = inspect_raw(&w, "library/multi:1").await;
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .collect();
    assert_eq!(archs, vec!["amd64", "arm64"]);

    // skopeo pulls the whole index back and verifies every digest on the way.
    let out = tempfile::tempdir().expect("tempdir");
    let layout = format!("oci:{}:multi", out.path().display());
    run(skopeo().args(["copy", "--all", "--src-tls-verify=false", "--src-creds", &creds, &target, &layout]))
        .await;
    let oci_index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("index.json")).expect("index.json"))
            .expect("json");
    let pulled = oci_index["manifests"][0]["digest"].as_str().expect("digest");
    let raw =
        run(skopeo().args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &target])).await;
    assert_eq!(pulled, sha256_hex(raw.as_bytes()), "the index comes back byte for byte");
    let blob_dir = out.path().join("blobs/sha256");
    assert!(
        std::fs::read_dir(&blob_dir).expect("blobs").count() >= 7,
        "index, 2 manifests, 2 configs, 4 layers"
    );

    // The arm64 variant pulls by platform.
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args([
        "pull",
        "--tls-verify=false",
        "--creds",
        &creds,
        "--arch",
        "arm64",
        &w.image("library/multi:1"),
    ]))
    .await;
    let arch =
        run(p.cmd().args(["image", "inspect", "--format", "{{.Architecture}}", &w.image("library/multi:1")]))
            .await;
    assert_eq!(arch.trim(), "arm64");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copy_mount_list_delete() {
    let w = Wharf::start().await;
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[400_000, 30_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/sk:1"]).arg(&ctx)).await;
    let layout = p.dir().join("layout");
    run(p.cmd().args(["push", "localhost/sk:1", &format!("oci:{}:sk", layout.display())])).await;

    let a = format!("docker://{}", w.image("library/sk-a:1"));
    let b = format!("docker://{}", w.image("library/sk-b:1"));
    run(skopeo().args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &format!("oci:{}:sk", layout.display()),
        &a,
    ]))
    .await;
    // Registry to registry: the layers are mounted across repositories, not uploaded again.
    run(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--src-creds",
        &creds,
        "--dest-creds",
        &creds,
        &a,
        &b,
    ]))
    .await;
    let digest = |img: String| {
        let creds = creds.clone();
        async move {
            run(skopeo().args([
                "inspect",
                "--tls-verify=false",
                "--creds",
                &creds,
                "--format",
                "{{.Digest}}",
                &img,
            ]))
            .await
            .trim()
            .to_owned()
        }
    };
    assert_eq!(digest(a.clone()).await, digest(b.clone()).await);
    let tags = run(skopeo().args([
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{}", w.image("library/sk-a")),
    ]))
    .await;
    let tags: serde_json::Value = serde_json::from_str(&tags).expect("json");
    assert_eq!(tags["Tags"], serde_json::json!(["1"]));

    // Pull to a directory: skopeo verifies every blob digest.
    let dir = tempfile::tempdir().expect("tempdir");
    run(skopeo().args([
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &b,
        &format!("dir:{}", dir.path().display()),
    ]))
    .await;
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest"))
            .expect("json");
    for layer in manifest["layers"].as_array().expect("layers") {
        let d = layer["digest"].as_str().expect("digest");
        assert_eq!(file_digest(&dir.path().join(d.trim_start_matches("sha256:"))), d);
    }

    run(skopeo().args(["delete", "--tls-verify=false", "--creds", &creds, &b])).await;
    run_fails(skopeo().args(["inspect", "--tls-verify=false", "--creds", &creds, &b])).await;
    run(skopeo().args(["inspect", "--tls-verify=false", "--creds", &creds, &a])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_login_push_pull() {
    let w = Wharf::start().await;
    let d = Dockerd::start().await;
    let login = |pw: &str| {
        let mut c = d.cmd();
        c.args(["login", "-u", "admin", "-p", pw, &w.host]);
        c
    };
    run_fails(&mut login("wrong-password")).await;
    run(&mut login(ADMIN_PASSWORD)).await;

    let ctx = tempfile::tempdir().expect("tempdir");
    build_context(ctx.path(), &[250_000, 800_000]);
    let image = w.image("library/docker:1");
    run(d
        .cmd()
        .args(["build", "-q", "-f"])
        .arg(ctx.path().join("Containerfile"))
        .args(["-t", &image])
        .arg(ctx.path()))
    .await;
    let built = run(d.cmd().args(["image", "inspect", "-f", "{{.Id}}", &image])).await;
    run(d.cmd().args(["push", &image])).await;
    run(d.cmd().args(["rmi", &image])).await;
    run(d.cmd().args(["pull", &image])).await;
    assert_eq!(run(d.cmd().args(["image", "inspect", "-f", "{{.Id}}", &image])).await, built);

    // `docker import` makes a single-layer image with no pull at all.
    let rootfs = ctx.path().join("rootfs.tar");
    make_tar(&rootfs, ctx.path());
    let imported = w.image("library/imported:1");
    run(d.cmd().arg("import").arg(&rootfs).arg(&imported)).await;
    run(d.cmd().args(["push", &imported])).await;

    // Logged out: anonymous pull from a public project works, push is refused.
    run(d.cmd().args(["logout", &w.host])).await;
    run(d.cmd().args(["rmi", &image])).await;
    run(d.cmd().args(["pull", &image])).await;
    let err = run_fails(d.cmd().args(["push", &image])).await;
    assert!(err.contains("unauthorized") || err.contains("denied"), "{err}");
}

fn make_tar(out: &Path, from: &Path) {
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(from)
        .args(["-cf"])
        .arg(out)
        .args(["layer0", "layer1"])
        .status()
        .expect("tar");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oras_artifact_with_subject_and_referrers() {
    let w = Wharf::start().await;
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[10_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/app:1"]).arg(&ctx)).await;
    run(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        "localhost/app:1",
        &w.image("library/app:1"),
    ]))
    .await;

    let work = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/oras_artifact.py");
    let out = run(Command::new("python3")
        .arg(script)
        .args([&w.host, "library/app", "1", ADMIN_PASSWORD])
        .arg(work.path()))
    .await;
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or("")).expect("summary JSON");
    assert_eq!(v["pushed_status"], 201, "{v}");
    assert_eq!(v["oci_subject"], v["subject"], "{v}");
    assert_eq!(v["pulled_same"], true, "{v}");
    let referrers = v["referrers"].as_array().expect("referrers");
    assert_eq!(referrers.len(), 1, "{v}");
    assert_eq!(referrers[0]["artifactType"], "application/vnd.example.sbom.v1+json");
    assert_eq!(referrers[0]["annotations"]["org.example.kind"], "sbom");
    assert_eq!(v["filter_header"], "artifactType");
    assert_eq!(v["filtered"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_roles_developer_pushes_guest_may_not() {
    use wharf::auth::Role;
    let w = Wharf::start().await;
    w.create_project("team", false).await;
    for (name, role) in [("dev", Role::Developer), ("guest", Role::Guest)] {
        let hash = wharf::auth::password::hash("Passw0rd1".into()).await.expect("hash");
        let user = wharf::db::users::NewUser {
            username: name,
            email: "",
            realname: "",
            password_hash: &hash,
            sysadmin: false,
        };
        let id = wharf::db::users::create(w.state.db.writer(), &user).await.expect("user");
        let p = wharf::db::projects::access(w.state.db.reader(), "team", "", 0)
            .await
            .expect("query")
            .expect("project");
        wharf::db::members::add(
            w.state.db.writer(),
            p.project_id,
            wharf::db::members::Entity::User(id),
            role,
        )
        .await
        .expect("member");
    }
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[50_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/roles:1"]).arg(&ctx)).await;
    let image = w.image("team/app:1");
    let as_user = |user: &str| format!("{user}:Passw0rd1");
    // A Developer pushes; a Guest is denied with the registry's answer; the Guest can pull.
    run(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &as_user("dev"),
        "localhost/roles:1",
        &image,
    ]))
    .await;
    let err = run_fails(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &as_user("guest"),
        "localhost/roles:1",
        &w.image("team/app:2"),
    ]))
    .await;
    assert!(err.contains("denied") || err.contains("unauthorized"), "{err}");
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run(p.cmd().args(["pull", "--tls-verify=false", "--creds", &as_user("guest"), &image])).await;
    // Anonymous pulls of the private project fail.
    run(p.cmd().args(["rmi", "-a", "-f"])).await;
    run_fails(p.cmd().args(["pull", "--tls-verify=false", &image])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_accounts_push_with_podman_and_docker() {
    use wharf::auth::{Identity, RobotPermissions};
    use wharf::projects::{ProjectRef, robots::NewRobot};
    let w = Wharf::start().await;
    w.create_project("team", false).await;
    let admin = Identity::User { id: 1, name: "admin".into(), sysadmin: true };
    let new = NewRobot {
        name: "ci".into(),
        description: "e2e".into(),
        grants: RobotPermissions { pull: true, push: true, delete: false },
        duration_days: 1,
        disabled: false,
    };
    let (robot, _, secret) =
        w.state.projects.create_robot(&admin, &ProjectRef::Name("team".into()), new).await.expect("robot");
    let secret = wharf::config::ExposeSecret::expose_secret(&secret).to_owned();
    assert_eq!(robot.name, "robot$team+ci");

    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[60_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/robot:1"]).arg(&ctx)).await;
    let creds = format!("{}:{secret}", robot.name);
    run(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &creds,
        "localhost/robot:1",
        &w.image("team/podman:1"),
    ]))
    .await;
    // The robot's grants end at its project.
    run_fails(p.cmd().args([
        "push",
        "--tls-verify=false",
        "--creds",
        &creds,
        "localhost/robot:1",
        &w.image("library/podman:1"),
    ]))
    .await;

    let d = Dockerd::start().await;
    run(d.cmd().args(["login", "-u", &robot.name, "-p", &secret, &w.host])).await;
    let dctx = tempfile::tempdir().expect("tempdir");
    build_context(dctx.path(), &[70_000]);
    let image = w.image("team/docker:1");
    run(d
        .cmd()
        .args(["build", "-q", "-f"])
        .arg(dctx.path().join("Containerfile"))
        .args(["-t", &image])
        .arg(dctx.path()))
    .await;
    run(d.cmd().args(["push", &image])).await;
    run(d.cmd().args(["rmi", &image])).await;
    run(d.cmd().args(["pull", &image])).await;
}
