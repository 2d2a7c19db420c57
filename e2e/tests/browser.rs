//! The portal in a real browser: Debian's Chromium, headless, driven over WebDriver by
//! chromedriver. A user signs in, creates a project, pushes an image with podman, finds it,
//! reads its layers, copies the pull command and deletes a tag; a Guest sees no delete button.
//! Every step saves a screenshot under `e2e/output/`.
//!
//! The browser assets are embedded in the server by its build script; the tests check the page
//! hydrated.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use wharf_e2e::{ADMIN_PASSWORD, Podman, Wharf, build_context, build_layered_image, run, run_fails, tool};

#[path = "../../server/tests/support/oidc.rs"]
#[allow(dead_code, reason = "the shared fixture has helpers this test does not use")]
mod oidc;

/// chromedriver on a free port; killed when dropped, with the browsers it started: Chromium
/// outlives a killed chromedriver, so chromedriver runs in a process group of its own and the
/// whole group is killed.
struct Driver {
    child: tokio::process::Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Self {
        tool("chromedriver");
        tool("chromium");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, port, _profile: tempfile::tempdir().expect("profile") }
    }

    async fn browser(&self) -> Client {
        let profile = tempfile::tempdir().expect("profile").keep();
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    // Nothing leaves the machine: the OpenID Provider's pages import a web font
                    // from the internet, whose unanswered connection held the page load (and
                    // the test) until it timed out. Every other host name now fails at once.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                    format!("--user-data-dir={}", profile.display())]
            }
        });
        let caps = caps.as_object().expect("caps").clone();
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("connect to chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status().ok();
        }
        self.child.start_kill().ok();
    }
}

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("output");
    std::fs::create_dir_all(&dir).expect("output dir");
    dir
}

/// Builds a one-layer image of `layer` bytes with podman and pushes it as the admin to
/// `library/app:1`; the returned podman keeps its storage alive.
async fn push_app(wharf: &Wharf, layer: usize) -> Podman {
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[layer]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/app:1"]).arg(&ctx)).await;
    let creds = format!("admin:{ADMIN_PASSWORD}");
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/app:1"])
        .arg(wharf.image("library/app:1")))
    .await;
    p
}

/// Saves a screenshot of a page that is not one of Wharf's (the OpenID Provider's, a raw
/// refusal): nothing of ours to check for accessibility.
async fn shot_foreign(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(output_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Saves a screenshot of the page as `<name>.png`, after checking the page's accessibility
/// (every page a test shows is checked).
async fn shot(c: &Client, name: &str) {
    if !name.starts_with("failed-") {
        accessible(c, name).await;
    }
    shot_foreign(c, name).await;
}

/// Runs axe-core (from the npm registry; `scripts/test.sh` installs it) in the page and fails
/// on any serious or critical violation, naming the rule and the elements.
async fn accessible(c: &Client, what: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("axe/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("{} is missing: run scripts/test.sh (it installs axe-core)", path.display())
    });
    // WebDriver's scripts are not subject to the page's Content-Security-Policy.
    c.execute(&format!("{axe}\n;window.axe = axe;"), vec![]).await.expect("inject axe-core");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations\
               .filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))\
             .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    let violations: Vec<String> = serde_json::from_value(found).expect("violations");
    if !violations.is_empty() {
        let html = c.source().await.unwrap_or_default();
        std::fs::write(output_dir().join(format!("failed-axe-{what}.html")), &html).ok();
    }
    assert!(violations.is_empty(), "{what}: accessibility violations: {violations:#?}");
}

/// Waits for `css`; on a timeout saves the page (PNG and HTML) as `failed-<what>` and fails.
async fn wait_for(c: &Client, css: &str, what: &str) {
    if c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await.is_err() {
        fail_with_page(c, what, &format!("no {css}")).await;
    }
}

/// Waits for the browser to be at `url`; on a timeout saves the page and fails.
async fn wait_for_url(c: &Client, url: &str, what: &str) {
    let target = url.parse().expect("url");
    if c.wait().at_most(Duration::from_secs(10)).for_url(&target).await.is_err() {
        fail_with_page(c, what, &format!("not at {url}")).await;
    }
}

/// Saves the page (PNG and HTML) as `failed-<what>` and fails the test.
async fn fail_with_page(c: &Client, what: &str, why: &str) -> ! {
    shot(c, &format!("failed-{what}")).await;
    let html = c.source().await.unwrap_or_default();
    std::fs::write(output_dir().join(format!("failed-{what}.html")), &html).ok();
    panic!("{what}: {why} on {:?}", c.current_url().await.map(|u| u.to_string()));
}

async fn hydrated(c: &Client) {
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("body[data-hydrated=true]"))
        .await
        .expect("the page hydrated (was the server built with WHARF_BUNDLE=off?)");
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    hydrated(c).await;
    c.find(Locator::Css("input[name=username]")).await.expect("user").send_keys(user).await.expect("type");
    c.find(Locator::Css("input[name=password]")).await.expect("pw").send_keys(password).await.expect("type");
    c.find(Locator::Css("form button[type=submit]")).await.expect("button").click().await.expect("click");
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".who")).await.expect("signed in");
    // The navigation to the projects page must have finished: a click made while it is still
    // under way is overtaken by it.
    wait_for_url(c, &format!("{base}/projects"), "signed-in").await;
    wait_for(c, "main table.list, main .empty", "projects-after-sign-in").await;
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_create_push_browse_copy_and_delete_in_chromium() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let driver = Driver::start().await;
    let c = driver.browser().await;

    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;
    shot(&c, "01-projects").await;

    // Create a project from the form.
    c.find(Locator::Css("input[name=name]")).await.expect("name").send_keys("web").await.expect("type");
    c.find(Locator::Css("form.row button[type=submit]")).await.expect("create").click().await.expect("click");
    wait_for_url(&c, &format!("{base}/projects/web"), "project-page").await;
    wait_for(&c, ".empty", "empty-state").await;
    let empty = text_of(&c, "main").await;
    assert!(
        empty.contains("No repositories yet.") && empty.contains(&format!("docker push {}/web/", wharf.host)),
        "{empty}"
    );
    shot(&c, "02-empty-project").await;

    // Push an image with podman.
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[400_000, 120_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/site:1"]).arg(&ctx)).await;
    let creds = format!("admin:{ADMIN_PASSWORD}");
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/site:1"])
        .arg(format!("{}/web/site:1", wharf.host)))
    .await;
    run(p.cmd().args(["tag", "localhost/site:1", "localhost/site:stable"])).await;
    run(p
        .cmd()
        .args(["push", "--tls-verify=false", "--creds", &creds, "localhost/site:stable"])
        .arg(format!("{}/web/site:stable", wharf.host)))
    .await;

    // Find it: project → repository → artifact.
    c.goto(&format!("{base}/projects/web")).await.expect("project");
    c.find(Locator::LinkText("web/site")).await.expect("repository link").click().await.expect("click");
    wait_for(&c, "a.digest", "artifact-row").await;
    let row = text_of(&c, "table.list tbody").await;
    assert!(row.contains('1') && row.contains("stable") && row.contains("image"), "{row}");
    shot(&c, "03-repository").await;
    c.find(Locator::Css("a.digest")).await.expect("artifact").click().await.expect("click");
    wait_for(&c, "table.layers", "layers").await;
    hydrated(&c).await;
    let layers = text_of(&c, "table.layers").await;
    // Random content does not compress: the two layers are about 400 kB and 120 kB.
    let kib: Vec<f64> = layers
        .lines()
        .filter_map(|l| {
            l.split_once(" KiB").and_then(|(l, _)| l.rsplit([' ', '\t']).next()).and_then(|n| n.parse().ok())
        })
        .collect();
    assert!(
        kib.len() == 2 && (385.0..400.0).contains(&kib[0]) && (115.0..125.0).contains(&kib[1]),
        "layer sizes: {layers}"
    );
    let config = text_of(&c, "dl.config").await;
    assert!(config.contains("Cmd") && config.contains("/layer0"), "{config}");
    shot(&c, "04-artifact").await;

    // Copy a pull command: the hydrated button answers.
    let button = c.find(Locator::Css(".copy button")).await.expect("copy button");
    button.click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::XPath("//button[contains(@class,'copy-button') and text()='Copied']"))
        .await
        .expect("copied");
    let command = text_of(&c, ".copy code").await;
    assert!(command.starts_with(&format!("docker pull {}/web/site:", wharf.host)), "{command}");

    // Delete the `1` tag: open its confirmation, which names it, then confirm.
    c.find(Locator::Css("summary[aria-label='Delete tag 1…']"))
        .await
        .expect("delete tag")
        .click()
        .await
        .expect("open");
    c.find(Locator::Css("button[aria-label='Delete tag 1']"))
        .await
        .expect("delete tag")
        .click()
        .await
        .expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//ul[@class='tags' and not(.//span[text()='1'])]"))
        .await
        .expect("tag gone");
    let tags = text_of(&c, "ul.tags").await;
    assert!(tags.contains("stable") && !tags.contains("\n1"), "{tags}");
    shot(&c, "05-tag-deleted").await;
    let artifact_url = c.current_url().await.expect("url");

    // Retention: add a rule in plain words from the project's tab, dry-run it, read the result.
    c.goto(&format!("{base}/projects/web")).await.expect("project");
    c.find(Locator::LinkText("Retention")).await.expect("retention tab").click().await.expect("click");
    wait_for(&c, "form.rule-form", "retention-tab").await;
    hydrated(&c).await;
    let count = c.find(Locator::Css("input[name=count]")).await.expect("count");
    count.clear().await.expect("clear");
    count.send_keys("1").await.expect("type");
    c.find(Locator::Css("form.rule-form button[type=submit]"))
        .await
        .expect("add")
        .click()
        .await
        .expect("click");
    wait_for(&c, "ol.rules li", "rule-added").await;
    let rules = text_of(&c, "ol.rules").await;
    assert!(
        rules.contains("retain the 1 most recently pushed artifacts in repositories matching `**`"),
        "{rules}"
    );
    c.find(Locator::Css("button[name=dry_run]")).await.expect("dry run").click().await.expect("click");
    // The history refreshes after the action; a run this small ends before the page asks.
    for _ in 0..50 {
        if c.find(Locator::Css("table.list .status.success")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.refresh().await.expect("refresh");
    }
    wait_for(&c, "table.list .status.success", "retention-run").await;
    let history = text_of(&c, "table.list").await;
    assert!(history.contains("(dry run)") && history.contains("web/site: 1 / 1"), "{history}");
    c.execute("document.querySelector('table.list').scrollIntoView({block: 'end'})", vec![])
        .await
        .expect("scroll");
    shot(&c, "06-retention").await;

    // A robot account: the secret shows once, with a copy button, and works for the registry.
    c.find(Locator::LinkText("Robot accounts")).await.expect("robots tab").click().await.expect("click");
    wait_for(&c, "input[name=name]", "robots-tab").await;
    hydrated(&c).await;
    c.find(Locator::Css("input[name=name]")).await.expect("name").send_keys("ci").await.expect("type");
    c.find(Locator::Css("form.row button.primary")).await.expect("create").click().await.expect("click");
    wait_for(&c, ".secret .copy code", "robot-secret").await;
    let secret = text_of(&c, ".secret .copy code").await;
    assert_eq!(secret.len(), 35, "{secret}");
    wait_for(&c, "table.list code", "robot-listed").await;
    assert!(text_of(&c, "table.list").await.contains("robot$web+ci"));
    let token = reqwest::Client::new()
        .get(format!("{base}/service/token?service=wharf&scope=repository:web/site:pull"))
        .basic_auth("robot$web+ci", Some(&secret))
        .send()
        .await
        .expect("token");
    assert_eq!(token.status(), reqwest::StatusCode::OK);
    shot(&c, "07-robot").await;

    // A Guest of the project sees the artifact but no delete button.
    let hash = wharf::auth::password::hash("Passw0rd!".into()).await.expect("hash");
    let guest = wharf::db::users::create(
        wharf.state.db.writer(),
        &wharf::db::users::NewUser {
            username: "guest",
            email: "",
            realname: "",
            password_hash: &hash,
            sysadmin: false,
        },
    )
    .await
    .expect("guest");
    let project =
        wharf::db::projects::access(wharf.state.db.reader(), "web", "", 0).await.expect("q").expect("p");
    wharf::db::members::add(
        wharf.state.db.writer(),
        project.project_id,
        wharf::db::members::Entity::User(guest),
        wharf::auth::Role::Guest,
    )
    .await
    .expect("member");
    c.find(Locator::Css("form.inline button.link")).await.expect("sign out").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("input[name=username]"))
        .await
        .expect("signed out");
    sign_in(&c, &base, "guest", "Passw0rd!").await;
    c.goto(artifact_url.as_str()).await.expect("artifact as guest");
    wait_for(&c, "table.layers", "guest-layers").await;
    let buttons = c.find_all(Locator::Css("button.danger")).await.expect("query");
    assert!(buttons.is_empty(), "a Guest sees no delete button");
    shot(&c, "08-guest-view").await;
    c.close().await.expect("close");
}

/// A hostile link puts no markup into the page, and a form that reaches a signed-in
/// administrator's page anyway (as an injection once could) cannot act: it lacks the session's
/// anti-forgery token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_markup_and_forms_cannot_act_for_a_signed_in_admin() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let hash = wharf::auth::password::hash("Passw0rd!".into()).await.expect("hash");
    let user = wharf::db::users::NewUser {
        username: "mallory",
        email: "",
        realname: "",
        password_hash: &hash,
        sysadmin: false,
    };
    let mallory = wharf::db::users::create(wharf.state.db.writer(), &user).await.expect("user");
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;

    let evil = "</title><meta http-equiv=\"refresh\" content=\"0;url=/login?pwned\"><title>";
    let enc: String = evil.bytes().map(|b| format!("%{b:02X}")).collect();
    c.goto(&format!("{base}/projects/{enc}")).await.expect("hostile link");
    hydrated(&c).await;
    let injected = c.find_all(Locator::Css("head meta[http-equiv]")).await.expect("query");
    assert!(injected.is_empty(), "a meta element was injected");
    let title = c.title().await.expect("title");
    assert!(title.starts_with("</title><meta"), "the name shows as text: {title}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!c.current_url().await.expect("url").as_str().contains("pwned"), "no redirect");

    // The form an injection used: same origin, the admin's cookie, no token.
    let script = format!(
        "const f = document.createElement('form'); f.method = 'post'; f.action = '/ui/change_user'; \
         for (const [k, v] of [['id', '{mallory}'], ['what', 'admin']]) {{ \
           const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }} \
         document.body.appendChild(f); f.submit();"
    );
    c.execute(&script, vec![]).await.expect("submit the forged form");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let source = c.source().await.expect("page");
    assert!(source.contains("form has expired"), "the post was refused: {source}");
    let row =
        wharf::db::users::by_username(wharf.state.db.reader(), "mallory").await.expect("q").expect("user");
    assert!(!row.sysadmin, "the forged form made mallory an administrator");
    shot_foreign(&c, "09-forged-form-refused").await;
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_registry_tests_it_and_creates_a_proxy_cache_in_chromium() {
    let upstream = wharf_e2e::Distribution::start().await;
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;

    c.find(Locator::LinkText("Registries")).await.expect("nav link").click().await.expect("click");
    wait_for_url(&c, &format!("{base}/admin/registries"), "registries-page").await;
    hydrated(&c).await;
    assert!(text_of(&c, "main").await.contains("No registry endpoints yet."));

    // Test first: a wrong address says why; the right one says OK.
    let type_in = |css: &'static str, text: String| {
        let c = c.clone();
        async move {
            let field = c.find(Locator::Css(css)).await.expect(css);
            field.clear().await.expect("clear");
            field.send_keys(&text).await.expect("type");
        }
    };
    type_in("input[name=name]", "distribution".into()).await;
    type_in("input[name=url]", "http://127.0.0.1:9".into()).await;
    c.find(Locator::Css("button[value=test]")).await.expect("test").click().await.expect("click");
    wait_for(&c, ".error", "test-refused").await;
    assert!(text_of(&c, ".error").await.contains("unreachable"));
    type_in("input[name=url]", format!("http://{}", upstream.host)).await;
    c.find(Locator::Css("button[value=test]")).await.expect("test").click().await.expect("click");
    wait_for(&c, ".ok", "test-ok").await;
    assert!(text_of(&c, ".ok").await.contains("Connection OK"));
    c.find(Locator::Css("button[value=save]")).await.expect("add").click().await.expect("click");
    wait_for(&c, "table.list", "endpoint-row").await;
    let row = text_of(&c, "table.list tbody").await;
    assert!(
        row.contains("distribution") && row.contains(&upstream.host) && row.contains("anonymous"),
        "{row}"
    );
    // The background check marks it healthy; "Test connection" on the row checks again now.
    c.find(Locator::Css("table.list button.small")).await.expect("row test").click().await.expect("click");
    wait_for(&c, ".ok", "row-test").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//table[@class='list']//span[text()='healthy']"))
        .await
        .expect("healthy");
    shot(&c, "10-registries").await;

    // A proxy-cache project from the projects page.
    c.goto(&format!("{base}/projects")).await.expect("projects");
    hydrated(&c).await;
    c.find(Locator::Css("input[name=name]")).await.expect("name").send_keys("hub").await.expect("type");
    c.find(Locator::Css("select[name=proxy_of] option:nth-child(2)"))
        .await
        .expect("option")
        .click()
        .await
        .expect("pick");
    c.find(Locator::Css("form.row button[type=submit]")).await.expect("create").click().await.expect("click");
    wait_for_url(&c, &format!("{base}/projects/hub"), "proxy-project").await;
    let page = text_of(&c, "main").await;
    assert!(page.contains("A proxy cache of distribution"), "{page}");
    assert!(
        page.contains(&format!("docker pull {}/hub/", wharf.host)) && !page.contains("docker push"),
        "{page}"
    );
    shot(&c, "11-proxy-project").await;
    c.goto(&format!("{base}/projects")).await.expect("projects");
    let list = text_of(&c, "table.list").await;
    assert!(list.contains("hub") && list.contains("proxy cache"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_replication_rule_runs_it_and_reads_its_task_log_in_chromium() {
    let upstream = wharf_e2e::Distribution::start().await;
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let _podman = push_app(&wharf, 150_000).await;
    let admin =
        wharf_e2e::client::Caller::new(reqwest::Client::new(), &base, Some(("admin", ADMIN_PASSWORD)));
    admin
        .post(
            "/api/v2.0/registries",
            &serde_json::json!({"name": "dist", "url": format!("http://{}", upstream.host), "type": "docker-registry"}),
        )
        .await
        .expect(reqwest::StatusCode::CREATED);

    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;
    c.find(Locator::LinkText("Replications")).await.expect("nav link").click().await.expect("click");
    wait_for_url(&c, &format!("{base}/admin/replication"), "replication-page").await;
    hydrated(&c).await;
    assert!(text_of(&c, "main").await.contains("No replication rules yet."));
    c.find(Locator::Css("input[name=name]")).await.expect("name").send_keys("to-dist").await.expect("type");
    c.find(Locator::Css("input[name=name_filter]"))
        .await
        .expect("filter")
        .send_keys("library/**")
        .await
        .expect("type");
    c.find(Locator::Css("form.stack button[type=submit]")).await.expect("add").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//button[text()='Replicate now']"))
        .await
        .expect("the rule is listed");
    let rules = text_of(&c, "table.list").await;
    assert!(
        rules.contains("to-dist") && rules.contains("push") && rules.contains("name library/**"),
        "{rules}"
    );
    c.find(Locator::XPath("//button[text()='Replicate now']"))
        .await
        .expect("run")
        .click()
        .await
        .expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//h1[starts-with(text(),'Execution #')]"))
        .await
        .expect("the execution page");
    let url = c.current_url().await.expect("url");
    for _ in 0..50 {
        if text_of(&c, "h1").await.contains("Succeed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.goto(url.as_str()).await.expect("reload");
    }
    assert!(text_of(&c, "h1").await.contains("Succeed"), "{}", text_of(&c, "main").await);
    let tasks = text_of(&c, "table.list").await;
    assert!(tasks.contains("library/app:1") && tasks.contains("copy"), "{tasks}");
    c.find(Locator::Css("main details summary")).await.expect("log").click().await.expect("open");
    let log = text_of(&c, "pre.log").await;
    assert!(log.contains("manifest") && log.contains("put as library/app:1"), "{log}");
    shot(&c, "12-replication-run").await;
    c.goto(&format!("{base}/admin/replication")).await.expect("back");
    shot(&c, "13-replication").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_admin_protects_releases_and_adds_a_webhook_in_chromium() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;

    // Immutability: the form's default rule (v* in every repository) added from the tab.
    c.goto(&format!("{base}/projects/library")).await.expect("project");
    c.find(Locator::LinkText("Immutability")).await.expect("tab").click().await.expect("click");
    wait_for(&c, "form.rule-form", "immutability-tab").await;
    hydrated(&c).await;
    assert!(text_of(&c, "main").await.contains("No immutability rules"));
    c.find(Locator::Css("form.rule-form button[type=submit]"))
        .await
        .expect("add")
        .click()
        .await
        .expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//ol[@class='rules']//span[contains(text(), 'tags matching `v*`')]"))
        .await
        .expect("rule listed");
    shot(&c, "14-immutability").await;

    // Webhooks: a policy with its URL, listed with its events.
    c.find(Locator::LinkText("Webhooks")).await.expect("tab").click().await.expect("click");
    wait_for(&c, "form.rule-form", "webhooks-tab").await;
    hydrated(&c).await;
    c.find(Locator::Css("input[name=name]")).await.expect("name").send_keys("ci").await.expect("type");
    c.find(Locator::Css("input[name=address]"))
        .await
        .expect("url")
        .send_keys("http://127.0.0.1:9/hook")
        .await
        .expect("type");
    c.find(Locator::Css("form.rule-form button[type=submit]"))
        .await
        .expect("add")
        .click()
        .await
        .expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//table[@class='list']//code[text()='http://127.0.0.1:9/hook']"))
        .await
        .expect("policy listed");
    let row = text_of(&c, "table.list tbody").await;
    assert!(row.contains("ci") && row.contains("Artifact pushed") && row.contains("enabled"), "{row}");
    shot(&c, "15-webhooks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_quota_labels_an_artifact_and_purges_the_audit_log_in_chromium() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let _podman = push_app(&wharf, 200_000).await;
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;

    // Settings: a limit for the project, shown as a meter of what the pushed image holds.
    c.goto(&format!("{base}/projects/library")).await.expect("project");
    c.find(Locator::LinkText("Settings")).await.expect("tab").click().await.expect("click");
    wait_for(&c, "input[name=limit]", "settings-tab").await;
    hydrated(&c).await;
    let limit = c.find(Locator::Css("input[name=limit]")).await.expect("limit");
    limit.clear().await.expect("clear");
    limit.send_keys("1GiB").await.expect("type");
    c.find(Locator::XPath("//button[text()='Set limit']")).await.expect("set").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//span[contains(@class,'quota')][contains(., 'of 1.0 GiB')]"))
        .await
        .expect("the meter shows the limit");
    assert!(c.find(Locator::Css("span.quota meter")).await.is_ok(), "a meter, not only words");

    // A label made on the same tab, then put on the artifact from its page.
    c.find(Locator::Css("input[name=name]"))
        .await
        .expect("label name")
        .send_keys("released")
        .await
        .expect("type");
    c.find(Locator::XPath("//button[text()='Add label']")).await.expect("add").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//ul[@class='labels']//span[@class='label'][text()='released']"))
        .await
        .expect("the label is listed");
    shot(&c, "16-project-settings").await;
    c.goto(&format!("{base}/repositories/library/app")).await.expect("repository");
    wait_for(&c, "a.digest", "artifact-row").await;
    c.find(Locator::Css("a.digest")).await.expect("artifact").click().await.expect("click");
    wait_for(&c, "select[name=label]", "artifact-page").await;
    hydrated(&c).await;
    c.find(Locator::XPath("//button[text()='Add label']")).await.expect("add").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//ul[@class='labels']//span[@class='label'][text()='released']"))
        .await
        .expect("the artifact carries the label");
    c.goto(&format!("{base}/repositories/library/app")).await.expect("repository");
    wait_for(&c, "span.label", "label-chip-in-list").await;
    assert!(text_of(&c, "table.list").await.contains("released"));

    // Audit purge from the garbage collection page: a run with its history row.
    c.goto(&format!("{base}/admin/gc")).await.expect("gc page");
    wait_for(&c, "input[name=keep_hours]", "purge-section").await;
    hydrated(&c).await;
    assert!(text_of(&c, "main").await.contains("No purge has run yet."));
    c.find(Locator::XPath("//button[text()='Purge now']"))
        .await
        .expect("purge")
        .click()
        .await
        .expect("click");
    for _ in 0..50 {
        if text_of(&c, "main").await.contains("Success") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.refresh().await.expect("reload");
    }
    let main = text_of(&c, "main").await;
    assert!(main.contains("MANUAL") && main.contains("Success"), "{main}");
    shot(&c, "17-audit-purge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_through_the_providers_pages_then_podman_and_skopeo_with_the_cli_secret() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let provider = oidc::Provider::start(&format!("{base}/c/oidc/callback"));
    let configured = wharf
        .admin_api(
            reqwest::Method::PUT,
            "/api/v2.0/configurations",
            serde_json::json!({
                "auth_mode": "oidc_auth", "oidc_name": "Test OP", "oidc_endpoint": provider.issuer,
                "oidc_client_id": "wharf", "oidc_client_secret": oidc::CLIENT_SECRET,
                "oidc_scope": "openid,profile,email,groups,offline_access", "oidc_groups_claim": "groups",
                "oidc_auto_onboard": true,
            }),
        )
        .await;
    assert_eq!(configured, reqwest::StatusCode::OK);
    // The provider's "developers" group are Developers of project team.
    wharf.create_project("team", false).await;
    let added = wharf
        .admin_api(
            reqwest::Method::POST,
            "/api/v2.0/projects/team/members",
            serde_json::json!({"role_id": 2, "member_group": {"group_name": "developers", "group_type": 3}}),
        )
        .await;
    assert_eq!(added, reqwest::StatusCode::CREATED);

    let driver = Driver::start().await;
    let c = driver.browser().await;
    c.goto(&format!("{base}/login")).await.expect("login page");
    hydrated(&c).await;
    shot(&c, "sso-01-sign-in").await;
    c.find(Locator::Css("a.sso")).await.expect("the provider's button").click().await.expect("click");
    // The provider's own pages: its login form, then its consent form.
    wait_for(&c, "input[name=login]", "provider-login").await;
    assert!(c.current_url().await.expect("url").as_str().starts_with(&provider.issuer));
    shot_foreign(&c, "sso-02-provider-login").await;
    c.find(Locator::Css("input[name=login]")).await.expect("login").send_keys("alice").await.expect("type");
    c.find(Locator::Css("input[name=password]")).await.expect("pw").send_keys("any").await.expect("type");
    c.find(Locator::Css("button[type=submit]")).await.expect("sign-in").click().await.expect("click");
    wait_for(&c, "form:has(input[name=prompt][value=consent]) button[type=submit], .who", "provider-consent")
        .await;
    if let Ok(consent) =
        c.find(Locator::Css("form:has(input[name=prompt][value=consent]) button[type=submit]")).await
    {
        shot_foreign(&c, "sso-03-provider-consent").await;
        consent.click().await.expect("consent");
    }
    wait_for_url(&c, &format!("{base}/projects"), "back-from-the-provider").await;
    wait_for(&c, ".who", "signed-in-with-sso").await;
    assert_eq!(text_of(&c, ".who").await, "alice");
    shot(&c, "sso-04-signed-in").await;

    // Her account page: the CLI secret, hidden until asked for, and the login command.
    c.find(Locator::Css(".who")).await.expect("account link").click().await.expect("click");
    wait_for(&c, ".cli-secret summary", "account-page").await;
    hydrated(&c).await;
    let main = text_of(&c, "main").await;
    assert!(main.contains(&format!("docker login {} -u alice", wharf.host)), "{main}");
    assert!(!main.contains("Change password"), "an OIDC user has no Wharf password: {main}");
    c.find(Locator::Css(".cli-secret summary")).await.expect("show").click().await.expect("click");
    let secret = text_of(&c, ".cli-secret details code").await;
    assert_eq!(secret.len(), 35, "{secret}");
    shot(&c, "sso-05-cli-secret").await;

    // podman logs in with it and pushes through her group's role; a wrong secret is refused.
    let p = Podman::new();
    let ctx = p.dir().join("ctx");
    build_context(&ctx, &[200_000]);
    run(p.cmd().args(["build", "-q", "-t", "localhost/sso:1"]).arg(&ctx)).await;
    run_fails(p.cmd().args([
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "Wrong-secret-1",
        &wharf.host,
    ]))
    .await;
    run(p.cmd().args(["login", "--tls-verify=false", "-u", "alice", "-p", &secret, &wharf.host])).await;
    run(p.cmd().args(["push", "--tls-verify=false", "localhost/sso:1"]).arg(wharf.image("team/sso:1"))).await;
    // skopeo reads it back with the same secret.
    tool("skopeo");
    let creds = format!("alice:{secret}");
    let raw = run(tokio::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds])
        .arg(format!("docker://{}", wharf.image("team/sso:1"))))
    .await;
    assert!(raw.contains("schemaVersion"), "{raw}");

    // Regenerated on the page, the old secret stops working for skopeo and the new one works.
    c.find(Locator::Css(".cli-secret form button[type=submit]"))
        .await
        .expect("regenerate")
        .click()
        .await
        .expect("click");
    wait_for(&c, ".cli-secret .ok", "regenerated").await;
    if c.find(Locator::Css(".cli-secret details[open]")).await.is_err() {
        c.find(Locator::Css(".cli-secret summary")).await.expect("show").click().await.expect("click");
    }
    let fresh = text_of(&c, ".cli-secret details code").await;
    assert!(fresh.len() == 35 && fresh != secret, "{fresh}");
    shot(&c, "sso-06-regenerated").await;
    run_fails(
        tokio::process::Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false", "--creds", &creds])
            .arg(format!("docker://{}", wharf.image("team/sso:1"))),
    )
    .await;
    run(tokio::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds", &format!("alice:{fresh}")])
        .arg(format!("docker://{}", wharf.image("team/sso:1"))))
    .await;

    // Signing out, configured to sign out at the provider too: its confirmation, then back to
    // Wharf's sign-in page.
    let on = wharf
        .admin_api(reqwest::Method::PUT, "/api/v2.0/configurations", serde_json::json!({"oidc_logout": true}))
        .await;
    assert_eq!(on, reqwest::StatusCode::OK);
    c.find(Locator::Css("form.inline button.link")).await.expect("sign out").click().await.expect("click");
    wait_for(&c, "button[name=logout][value=yes]", "provider-sign-out").await;
    shot_foreign(&c, "sso-07-provider-sign-out").await;
    c.find(Locator::Css("button[name=logout][value=yes]")).await.expect("yes").click().await.expect("click");
    wait_for_url(&c, &format!("{base}/login"), "back-after-sign-out").await;
    wait_for(&c, "a.sso", "sign-in-page-after-sign-out").await;
}

/// The left navigation and the header's search, then inside an image podman built: its merged
/// filesystem (a file deleted by a `RUN rm` shows as removed), one layer's files, and two tags
/// compared. The phone layout keeps the navigation behind its switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_search_and_a_look_inside_an_image_in_chromium() {
    let wharf = Wharf::start().await;
    let base = format!("http://{}", wharf.host);
    let p = Podman::new();
    let creds = format!("admin:{ADMIN_PASSWORD}");
    build_layered_image(&p, "localhost/layered:one", "one").await;
    build_layered_image(&p, "localhost/layered:two", "two").await;
    for (local, tag) in [("localhost/layered:one", "v1"), ("localhost/layered:two", "v2")] {
        run(p
            .cmd()
            .args(["push", "--tls-verify=false", "--creds", &creds, local])
            .arg(wharf.image(&format!("library/layered:{tag}"))))
        .await;
    }
    // And pulled back once, so the summary has pulls to chart.
    run(p
        .cmd()
        .args(["pull", "--tls-verify=false", "--creds", &creds])
        .arg(wharf.image("library/layered:v1")))
    .await;
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &base, "admin", ADMIN_PASSWORD).await;
    hydrated(&c).await;
    let nav = text_of(&c, "nav.side").await;
    for entry in ["Projects", "Logs", "ADMINISTRATION", "Users", "Registries", "Garbage collection"] {
        assert!(nav.contains(entry), "{entry} in {nav}");
    }
    shot(&c, "22-navigation").await;

    // The header's search answers as the viewer types (no Enter), by tag.
    c.find(Locator::Css("header input[type=search]"))
        .await
        .expect("search")
        .send_keys("v2")
        .await
        .expect("type");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//main//a[text()='library/layered:v2']"))
        .await
        .expect("a result while typing");
    assert!(c.current_url().await.expect("url").as_str().ends_with("/search?q=v2"));
    // Times read as people say them; once hydrated the exact time on hover is the browser's
    // own (the server wrote UTC).
    let when = c.find(Locator::Css("main time")).await.expect("a time");
    assert_eq!(when.text().await.expect("text"), "just now");
    let exact = when.attr("title").await.expect("title").unwrap_or_default();
    assert!(!exact.is_empty() && !exact.ends_with(" UTC"), "the viewer's zone: {exact}");
    shot(&c, "23-search").await;

    // The artifact page lines layers up with their steps; the filesystem opens from there.
    c.find(Locator::XPath("//main//a[text()='library/layered:v2']"))
        .await
        .expect("hit")
        .click()
        .await
        .expect("click");
    wait_for(&c, "table.layers", "artifact-layers").await;
    let layers = text_of(&c, "table.layers").await;
    assert!(layers.contains("/app/secret") && layers.contains("COPY"), "{layers}");
    c.goto(&format!("{base}/artifacts/library/layered?ref=v1")).await.expect("v1");
    wait_for(&c, "table.layers", "artifact-v1").await;
    c.find(Locator::LinkText("Browse the filesystem")).await.expect("browse").click().await.expect("click");
    wait_for(&c, "table.tree", "filesystem-root").await;
    let root = text_of(&c, "main").await;
    assert!(root.contains("Largest files here") && root.contains("/bin/busybox"), "{root}");
    shot(&c, "24-filesystem").await;
    c.find(Locator::LinkText("app/")).await.expect("app dir").click().await.expect("click");
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//tr[contains(@class,'removed')]//span[text()='secret']"))
        .await
        .expect("the deleted file, struck through");
    let app = text_of(&c, "table.tree").await;
    assert!(app.contains("removed in layer 3") && app.contains("data.bin"), "{app}");
    shot(&c, "25-filesystem-removed").await;

    // The layer that deleted it, from the legend.
    let legend = c.find_all(Locator::Css("ol.layers-legend a")).await.expect("legend");
    assert_eq!(legend.len(), 3);
    legend[2].clone().click().await.expect("click");
    wait_for(&c, "table.files", "layer-files").await;
    let files = text_of(&c, "main").await;
    assert!(
        files.contains("Layer 3 of 3") && files.contains("/app/secret") && files.contains("deleted"),
        "{files}"
    );
    shot(&c, "26-layer").await;

    // Compare v1 with v2 from the artifact page's form.
    c.goto(&format!("{base}/artifacts/library/layered?ref=v1")).await.expect("v1");
    wait_for(&c, "form.compare-form", "compare-form").await;
    c.find(Locator::Css("form.compare-form input[name=with]"))
        .await
        .expect("with")
        .send_keys("v2")
        .await
        .expect("type");
    c.find(Locator::Css("form.compare-form button")).await.expect("compare").click().await.expect("click");
    wait_for(&c, "table.file-changes", "comparison").await;
    let diff = text_of(&c, "main").await;
    assert!(
        diff.contains("/app/config") && diff.contains("Env MODE") && diff.contains("1 changed"),
        "{diff}"
    );
    shot(&c, "27-compare").await;

    // The project's summary and the administrators' dashboard chart what just happened.
    c.goto(&format!("{base}/projects/library/summary")).await.expect("summary");
    wait_for(&c, "figure.chart svg", "summary-charts").await;
    let summary = text_of(&c, "main").await;
    assert!(summary.contains("Pushes") && summary.contains("2 in all"), "{summary}");
    let pulls = text_of(&c, "figure.chart:nth-child(2) figcaption").await;
    assert!(pulls.starts_with("Pulls") && !pulls.contains("Pulls 0 in all"), "{pulls}");
    shot(&c, "30-project-summary").await;
    c.find(Locator::LinkText("Dashboard")).await.expect("dashboard").click().await.expect("click");
    wait_for(&c, "figure.chart svg", "dashboard-charts").await;
    shot(&c, "31-dashboard").await;
    c.find(Locator::LinkText("Labels")).await.expect("labels").click().await.expect("click");
    wait_for(&c, "main form.row input[name=name]", "labels").await;
    shot(&c, "33-labels").await;
    c.find(Locator::LinkText("Quotas")).await.expect("quotas").click().await.expect("click");
    wait_for(&c, "main table.list meter, main table.list .quota", "quotas").await;
    shot(&c, "32-quotas").await;

    // The admin's log, then a phone: the navigation opens from its switch.
    c.find(Locator::LinkText("Logs")).await.expect("logs").click().await.expect("click");
    wait_for(&c, "main table.list", "logs").await;
    shot(&c, "28-logs").await;
    c.set_window_size(390, 844).await.expect("phone size");
    c.goto(&format!("{base}/projects")).await.expect("projects");
    wait_for(&c, "main table.list", "phone-projects").await;
    let side = c.find(Locator::Css("nav.side")).await.expect("nav");
    assert!(!side.is_displayed().await.expect("displayed"), "hidden on a phone until asked for");
    c.find(Locator::Css("label.nav-button")).await.expect("switch").click().await.expect("click");
    assert!(side.is_displayed().await.expect("displayed"), "the switch opens it");
    shot(&c, "29-phone-navigation").await;
    c.close().await.expect("close");
}
