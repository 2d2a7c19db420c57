//! The web portal rendered on the server: every page answers with its key content for the
//! right viewer, forms work without scripts, sessions and the cross-site check hold.

#[path = "../support/mod.rs"]
mod support;

use reqwest::{Client, Method, StatusCode, redirect::Policy};
use support::*;

/// A browser without scripts: no redirects followed, cookies passed by hand.
struct Browser {
    client: Client,
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        // A page that never finishes must fail the test, not hang it.
        let client = Client::builder()
            .redirect(Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("client");
        Self { client, base: app.base.clone(), cookie: None, csrf: None }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = req.call().await;
        let status = res.status();
        (status, res.text())
    }

    /// Submits a form the way a browser does from one of Wharf's pages (the page it was on
    /// goes in `Referer`, which the same-origin referrer policy allows).
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let req = self
            .client
            .request(Method::POST, format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("referer", format!("{}/page", self.base))
            .header("accept", "text/html");
        let mut form = form.to_vec();
        if let Some(t) = &self.csrf {
            form.push(("csrf", t));
        }
        let mut req = req.form(&form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        req.call().await
    }

    async fn sign_in(&mut self, user: &str, password: &str) {
        let res = self
            .post("/ui/sign_in", &[("username", user), ("password", password), ("next", "/projects")])
            .await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(header(&res, "location"), Some("/projects"));
        let set = header(&res, "set-cookie").expect("session cookie").to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        let cookie = set.split(';').next().expect("pair").to_owned();
        self.csrf = Some(csrf_token_at(&self.client, &self.base, &cookie).await);
        self.cookie = Some(cookie);
    }
}

fn main_of(html: &str) -> &str {
    let start = html.find("<main>").expect("main");
    let end = html.find("</main>").expect("end of main");
    &html[start..end]
}

#[tokio::test]
async fn anonymous_viewers_see_public_projects_and_a_sign_in_link() {
    let app = TestApp::start().await;
    app.create_project("secret", false).await;
    let b = Browser::new(&app);
    let (status, html) = b.get("/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Projects · Wharf</title>"), "rendered completely on the server");
    assert!(html.contains("href=\"/login\""));
    let main = main_of(&html);
    assert!(main.contains("library") && main.contains("badge public"), "{main}");
    assert!(!main.contains("secret"), "private projects stay hidden");
    assert!(!main.contains("New project"), "only signed-in users create projects");
    let (status, html) = b.get("/projects/secret").await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains("Project secret was not found."), "{}", main_of(&html));
    let (status, html) = b.get("/admin/gc").await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains("Sign in to see this."));
    assert!(
        main_of(&html).contains(r#"href="/login?next=/admin/gc""#),
        "an ended or missing session is offered a way back: {}",
        main_of(&html)
    );
    let (status, html) = b.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("There is nothing at this address"));
}

#[tokio::test]
async fn sign_in_works_without_scripts_and_sign_out_ends_the_session() {
    let app = TestApp::start().await;
    let mut b = Browser::new(&app);
    // A wrong password comes back to the form with a readable message.
    let res =
        b.post("/ui/sign_in", &[("username", "admin"), ("password", "nope"), ("next", "/projects")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(header(&res, "set-cookie").is_none());
    let back = header(&res, "location").expect("back to the form").to_owned();
    let path = back.trim_start_matches(&app.base).replacen("/page", "/login", 1);
    let (_, html) = b.get(&path).await;
    assert!(html.contains("Wrong username or password."), "{path}");

    // Another site cannot post with the viewer's cookie.
    let res = b
        .client
        .post(format!("{}/ui/sign_in", app.base))
        .header("origin", "http://evil.example")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    b.sign_in("admin", ADMIN_PASSWORD).await;
    let first = b.cookie.clone();
    let (_, html) = b.get("/projects").await;
    assert!(
        html.contains(r#"href="/account" title="Account" class="who">admin</a>"#)
            && html.contains("Sign out")
    );
    assert!(html.contains("Garbage collection"), "administrators see the admin page link");
    b.sign_in("admin", ADMIN_PASSWORD).await;
    assert_ne!(b.cookie, first, "a new session id at every sign-in");

    let res = b.post("/ui/sign_out", &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(header(&res, "set-cookie").expect("clears").contains("Max-Age=0"));
    // The old cookie is dead on the server, not only forgotten by the browser.
    let (_, html) = b.get("/projects").await;
    assert!(!html.contains("Sign out"), "signed out server-side");
    let headers = b.client.get(format!("{}/projects", app.base)).call().await;
    let csp = header(&headers, "content-security-policy").expect("csp").to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("'nonce-") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    let body = headers.text();
    let nonce = csp.split("'nonce-").nth(1).and_then(|n| n.split('\'').next()).expect("nonce");
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "the page's inline scripts carry the header's nonce"
    );
}

#[tokio::test]
async fn a_user_creates_a_project_pushes_and_browses_down_to_the_layers() {
    let app = TestApp::start().await;
    app.create_user("dev", "Passw0rd!").await;
    let mut b = Browser::new(&app);
    b.sign_in("dev", "Passw0rd!").await;
    let res = b.post("/ui/create_project", &[("name", "team"), ("public", "on")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(header(&res, "location"), Some("/projects/team"));
    let (_, html) = b.get("/projects/team").await;
    let main = main_of(&html);
    assert!(main.contains("No repositories yet.") && main.contains("docker push"), "{main}");
    assert!(main.contains("/team/&lt;image&gt;:&lt;tag&gt;"), "the push command names the project: {main}");
    let res = b.post("/ui/create_project", &[("name", "Bad Name")]).await;
    let back = header(&res, "location").expect("back").to_owned();
    assert!(back.contains("__err"), "{back}");

    // An image pushed with the registry API shows up all the way down.
    let (digest, _, layer) = app.push_image("team/app", "v1").await;
    let (_, html) = b.get("/projects/team").await;
    assert!(main_of(&html).contains("href=\"/repositories/team/app\""));
    let (_, html) = b.get("/repositories/team/app").await;
    let main = main_of(&html);
    assert!(main.contains(&digest["sha256:".len().."sha256:".len() + 12]) && main.contains("v1"), "{main}");
    assert!(main.contains("image"));
    let (_, html) = b.get(&format!("/artifacts/team/app?ref={digest}")).await;
    let main = main_of(&html);
    assert!(main.contains(&format!("docker pull {}/team/app@{digest}", app.addr)), "{main}");
    assert!(main.contains(&format!("docker pull {}/team/app:v1", app.addr)));
    assert!(main.contains("Layers") && main.contains(&layer["sha256:".len().."sha256:".len() + 12]));
    assert!(main.contains("OS/Arch") && main.contains("linux/amd64"), "config shown: {main}");
    assert!(main.contains("Delete artifact"), "the project admin may delete");

    // Tags: add one, delete one, both without scripts.
    let res =
        b.post("/ui/add_tag", &[("repository", "team/app"), ("digest", &digest), ("tag", "stable")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let res =
        b.post("/ui/delete_tag", &[("repository", "team/app"), ("digest", &digest), ("tag", "v1")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = b.get(&format!("/artifacts/team/app?ref={digest}")).await;
    let main = main_of(&html);
    assert!(main.contains("stable") && !main.contains(":v1"), "{main}");

    // A guest of the project sees the artifact but no delete button.
    let guest = app.create_user("guest", "Passw0rd!").await;
    app.add_member("team", guest, wharf::auth::Role::Guest).await;
    let mut g = Browser::new(&app);
    g.sign_in("guest", "Passw0rd!").await;
    let (_, html) = g.get(&format!("/artifacts/team/app?ref={digest}")).await;
    let main = main_of(&html);
    assert!(main.contains("Layers") && !main.contains("Delete"), "{main}");
    let res = g.post("/ui/delete_artifact", &[("repository", "team/app"), ("digest", &digest)]).await;
    assert!(header(&res, "location").expect("refused").contains("__err"));

    let res = b.post("/ui/delete_artifact", &[("repository", "team/app"), ("digest", &digest)]).await;
    assert_eq!(header(&res, "location"), Some("/repositories/team/app"));
    let (_, html) = b.get("/repositories/team/app").await;
    assert!(main_of(&html).contains("This repository has no artifacts."));

    // What was done in the portal is in the audit log, as through the API; the refused delete
    // is not.
    app.state.auditor.flush().await;
    let logged: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT username, operation, resource_type, resource FROM audit_logs \
         WHERE resource_type IN ('tag', 'artifact') AND operation <> 'push' ORDER BY id",
    )
    .fetch_all(app.state.db.reader())
    .await
    .expect("audit");
    let row = |op: &str, kind: &str, res: String| ("dev".to_owned(), op.to_owned(), kind.to_owned(), res);
    assert_eq!(
        logged,
        vec![
            row("create", "tag", "team/app:stable".into()),
            row("delete", "tag", "team/app:v1".into()),
            row("delete", "artifact", format!("team/app:{digest}")),
        ]
    );
}

#[tokio::test]
async fn a_layer_the_merged_filesystem_and_a_comparison_read_without_scripts() {
    let app = TestApp::start().await;
    let config = |mode: &str| {
        format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["MODE={mode}"]}},"rootfs":{{"type":"layers","diff_ids":[]}},
            "history":[{{"created_by":"ADD base /"}},{{"created_by":"RUN rm /app/secret"}}]}}"#
        )
    };
    let base = tar_gz(&[("app/secret", b"pw"), ("app/big.bin", &[1u8; 3000]), ("app/conf", b"one")]);
    let upper = tar_zst(&[("app/.wh.secret", b""), ("app/new", b"hello")]);
    let (v1, layers) = app
        .push_layers("library/app", "v1", &config("one"), &[(base.clone(), LAYER_GZIP), (upper, LAYER_ZSTD)])
        .await;
    app.push_layers(
        "library/app",
        "v2",
        &config("two"),
        &[(base, LAYER_GZIP), (tar_gz(&[("app/conf", b"two")]), LAYER_GZIP)],
    )
    .await;
    let b = Browser::new(&app);

    // The artifact page lines each layer up with its build step and links inside.
    let (_, html) = b.get("/artifacts/library/app?ref=v1").await;
    let main = main_of(&html);
    assert!(main.contains("RUN rm /app/secret"), "{main}");
    assert!(
        main.contains("Browse the filesystem") && main.contains("/filesystem/library/app?ref="),
        "{main}"
    );
    assert!(main.contains(&format!("/layers/library/app?ref={v1}&amp;layer={}", layers[1])), "{main}");
    assert!(main.contains("action=\"/compare/library/app\""), "{main}");

    // One layer: its whiteout shown as a deletion, the filter as a plain GET form.
    let (status, html) = b.get(&format!("/layers/library/app?ref=v1&layer={}", layers[1])).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains("Layer 2 of 2") && main.contains("RUN rm /app/secret"), "{main}");
    assert!(main.contains("/app/secret") && main.contains("deleted") && main.contains("/app/new"), "{main}");
    let (_, html) = b.get(&format!("/layers/library/app?ref=v1&layer={}&q=NEW", layers[1])).await;
    let main = main_of(&html);
    assert!(main.contains("<code>/app/new</code>") && !main.contains("<code>/app/secret</code>"), "{main}");

    // The merged filesystem: largest first, the deleted file struck through with its layer.
    let (_, html) = b.get("/filesystem/library/app?ref=v1&path=/app").await;
    let main = main_of(&html);
    let (big, new) = (main.find("big.bin").expect("big"), main.find(">new<").expect("new"));
    assert!(big < new, "largest first: {main}");
    assert!(main.contains("removed in layer 2"), "{main}");
    assert!(main.contains("-rw-r--r--"), "modes as ls shows them: {main}");
    assert!(main.contains("Largest files here"), "{main}");

    // Two tags compared.
    let (_, html) = b.get("/compare/library/app?ref=v1&with=v2").await;
    let main = main_of(&html);
    assert!(main.contains("/app/conf") && main.contains("changed"), "{main}");
    assert!(main.contains("Env MODE") && main.contains("two"), "{main}");
    assert!(main.contains("1 layers shared"), "{main}");

    // A private project's insides stay private to anonymous viewers.
    app.create_project("hush", false).await;
    let (_, secret) = app
        .push_layers("hush/vault", "v1", &config("x"), &[(tar_gz(&[("plans.txt", b"x")]), LAYER_GZIP)])
        .await;
    let (_, html) = b.get(&format!("/layers/hush/vault?ref=v1&layer={}", secret[0])).await;
    assert!(!main_of(&html).contains("plans.txt"));
}

#[tokio::test]
async fn the_header_searches_what_the_viewer_may_see_and_the_left_navigation_fits_the_viewer() {
    let app = TestApp::start().await;
    app.create_project("hush", false).await;
    let (public, _, _) = app.push_image("library/findme", "release-7").await;
    let (private, _, _) = app.push_image("hush/findme-too", "release-8").await;
    let short = |d: &str| d["sha256:".len().."sha256:".len() + 12].to_owned();

    let anon = Browser::new(&app);
    let (_, html) = anon.get("/search?q=findme").await;
    let main = main_of(&html);
    assert!(main.contains("library/findme") && !main.contains("hush"), "{main}");
    // By tag, and by the start of a digest (with or without sha256:).
    let (_, html) = anon.get("/search?q=release").await;
    assert!(main_of(&html).contains("library/findme:release-7") && !main_of(&html).contains("release-8"));
    let (_, html) = anon.get(&format!("/search?q={}", &short(&public)[..8])).await;
    assert!(main_of(&html).contains(&format!("/artifacts/library/findme?ref={public}")), "{html}");
    let (_, html) = anon.get(&format!("/search?q=sha256:{}", &short(&private)[..8])).await;
    assert!(main_of(&html).contains("Nothing you can see matches"), "{html}");
    // The box is a plain GET form; anonymous viewers get no administration entries.
    assert!(html.contains(r#"action="/search""#) && html.contains(r#"role="search""#));
    assert!(html.contains(r#"<nav aria-label="Main" class="side">"#) && !html.contains("Administration"));
    let (_, html) = anon.get("/logs").await;
    assert!(main_of(&html).contains("Sign in to see this."), "{html}");

    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let (_, html) = admin.get("/search?q=release").await;
    let main = main_of(&html);
    assert!(
        main.contains("library/findme:release-7") && main.contains("hush/findme-too:release-8"),
        "{main}"
    );
    // Times read as people say them, the exact time kept for machines and on hover.
    assert!(main.contains("just now") && main.contains("datetime=\"20"), "{main}");
    assert!(html.contains("Administration") && html.contains(r#"href="/admin/gc#audit""#));
    let (_, html) = admin.get("/projects").await;
    assert!(
        html.contains(r#"<a href="/projects" aria-current="page">Projects</a>"#),
        "the current entry is marked"
    );
    app.state.auditor.flush().await;
    let (_, html) = admin.get("/logs").await;
    let main = main_of(&html);
    assert!(main.contains("<h1>Logs</h1>") && main.contains("findme"), "pushes are in the log: {main}");
}

#[tokio::test]
async fn a_project_summary_and_the_dashboard_chart_real_pushes_and_pulls() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let dev = app.create_user("dev", "Passw0rd!").await;
    app.add_member("team", dev, wharf::auth::Role::Developer).await;
    let guest = app.create_user("guest", "Passw0rd!").await;
    app.add_member("team", guest, wharf::auth::Role::Guest).await;
    app.push_image("team/app", "v1").await;
    app.push_image("team/app", "v2").await;
    app.push_image("team/other", "v1").await;
    // Three different pulls (identical pulls in one audit batch are one entry).
    for path in ["/v2/team/app/manifests/v1", "/v2/team/app/manifests/v2", "/v2/team/other/manifests/v1"] {
        let res = app.admin(Method::GET, path).header("accept", OCI_MANIFEST).call().await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    app.state.auditor.flush().await;

    let mut b = Browser::new(&app);
    b.sign_in("dev", "Passw0rd!").await;
    let (status, html) = b.get("/projects/team/summary").await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"aria-current="page""#) && main.contains(">Summary<"), "the tab: {main}");
    let figure = |label: &str| {
        let at = main
            .find(&format!(r#"<span class="stat-label">{label}</span>"#))
            .unwrap_or_else(|| panic!("{label}: {main}"));
        let value = &main[..at];
        value[value.rfind(r#"<span class="stat-value">"#).expect("value") + 25..]
            .trim_end_matches("</span>")
            .to_owned()
    };
    assert_eq!(figure("repositories"), "2");
    assert_eq!(figure("artifacts"), "3");
    assert_eq!(figure("members"), "2");
    assert!(
        main.contains("<strong>1</strong> Developer") && main.contains("<strong>1</strong> Guest"),
        "{main}"
    );
    // Charts are SVG pictures with a text alternative and a table of the same figures.
    assert!(
        main.contains(r#"role="img" aria-label="Pushes: 3 in all, at most 3 a day, over the last 30 days""#),
        "{main}"
    );
    assert!(main.contains(r#"aria-label="Pulls: 3 in all"#), "{main}");
    assert!(main.matches(r#"class="bar""#).count() >= 60, "a bar per day");
    assert!(main.contains("Pushes as a table"));
    // Only a system administrator sees the dashboard.
    let (_, html) = b.get("/admin").await;
    assert!(main_of(&html).contains("You are not allowed to do this."), "{html}");
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let (_, html) = admin.get("/admin").await;
    let main = main_of(&html);
    assert!(main.contains("<h1>Dashboard</h1>") && main.contains("Pushes: 3 in all"), "{main}");
    assert!(main.contains("No collection has deleted anything yet."), "{main}");
    // A local store's volume is shown; a bucket has none to show.
    assert_eq!(main.contains("Blob store volume"), app.state.store.volume().is_some(), "{main}");
}

#[tokio::test]
async fn administrators_see_and_set_every_projects_quota_on_one_page() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    app.push_image("team/app", "v1").await;
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let (_, html) = admin.get("/admin/quotas").await;
    let main = main_of(&html);
    assert!(main.contains(r#"href="/projects/team/summary""#) && main.contains("used, no limit"), "{main}");
    let res = admin
        .post("/ui/set_project_quota", &[("project", "team"), ("limit", "1GiB"), ("back", "quotas")])
        .await;
    assert_eq!(header(&res, "location"), Some("/admin/quotas"));
    let (_, html) = admin.get("/admin/quotas").await;
    assert!(main_of(&html).contains("of 1.0 GiB"), "{html}");
    let q: serde_json::Value = app.admin(Method::GET, "/api/v2.0/quotas?reference_id=2").call().await.json();
    assert!(q.to_string().contains("1073741824"), "{q}");

    app.create_user("dev", "Passw0rd!").await;
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/admin/quotas").await;
    assert!(
        main_of(&html).contains("You are not allowed to do this.") && !html.contains("team/summary"),
        "{html}"
    );
}

#[tokio::test]
async fn administrators_manage_global_labels_on_their_page() {
    let app = TestApp::start().await;
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let (_, html) = admin.get("/admin/labels").await;
    assert!(main_of(&html).contains("No global labels yet"), "{html}");
    let res = admin.post("/ui/create_global_label", &[("name", "released"), ("color", "#00aa00")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/labels"));
    let (_, html) = admin.get("/admin/labels").await;
    let main = main_of(&html);
    assert!(main.contains(">released<") && main.contains(r##"fill="#00aa00""##), "{main}");
    let labels: serde_json::Value = app.admin(Method::GET, "/api/v2.0/labels?scope=g").call().await.json();
    assert_eq!(labels[0]["name"], "released", "{labels}");
    let id = labels[0]["id"].as_i64().expect("id").to_string();

    // Anyone else is refused, and the label stays.
    app.create_user("dev", "Passw0rd!").await;
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let res = dev.post("/ui/create_global_label", &[("name", "mine")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = dev.post("/ui/delete_global_label", &[("id", &id)]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    // A project's label is not a global one, even for an administrator on this page.
    app.create_project("team", false).await;
    let res = admin.post("/ui/create_label", &[("project", "team"), ("name", "own")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/settings"));
    let own: serde_json::Value =
        app.admin(Method::GET, "/api/v2.0/labels?scope=p&project_id=2").call().await.json();
    let own_id = own[0]["id"].as_i64().expect("project label").to_string();
    let res = admin.post("/ui/delete_global_label", &[("id", &own_id)]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let own: serde_json::Value =
        app.admin(Method::GET, "/api/v2.0/labels?scope=p&project_id=2").call().await.json();
    assert_eq!(own[0]["name"], "own", "still there: {own}");

    let res = admin.post("/ui/delete_global_label", &[("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/admin/labels"));
    let (_, html) = admin.get("/admin/labels").await;
    assert!(main_of(&html).contains("No global labels yet"), "{html}");
}

#[tokio::test]
async fn administrators_run_and_schedule_garbage_collection_from_the_page() {
    let app = TestApp::start().await;
    app.create_user("dev", "Passw0rd!").await;
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/admin/gc").await;
    assert!(main_of(&html).contains("You are not allowed to do this."));
    let mut b = Browser::new(&app);
    b.sign_in("admin", ADMIN_PASSWORD).await;
    let (_, html) = b.get("/admin/gc").await;
    assert!(main_of(&html).contains("No collection has run yet."));
    let res = b.post("/ui/run_gc", &[("dry_run", "on")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/gc"));
    let res = b.post("/ui/set_gc_schedule", &[("kind", "Weekly"), ("cron", "")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/gc"));
    let mut html = String::new();
    for _ in 0..50 {
        html = b.get("/admin/gc").await.1;
        if html.contains("status success") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let main = main_of(&html);
    assert!(
        main.contains("MANUAL") && main.contains("(dry run)") && main.contains("status success"),
        "{main}"
    );
    assert!(main.contains("Weekly (0 0 0 * * 0), next run"), "{main}");
    let res = b.post("/ui/set_gc_schedule", &[("kind", "Custom"), ("cron", "not cron")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
}

#[tokio::test]
async fn developers_manage_retention_from_the_project_tab_without_scripts() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    for (name, role) in [("dev", wharf::auth::Role::Developer), ("guest", wharf::auth::Role::Guest)] {
        let uid = app.create_user(name, "Passw0rd!").await;
        app.add_member("team", uid, role).await;
    }
    for i in 1..=3 {
        app.push_image("team/app", &format!("v{i}")).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Guests see no Retention tab and cannot open it.
    let mut guest = Browser::new(&app);
    guest.sign_in("guest", "Passw0rd!").await;
    let (_, html) = guest.get("/projects/team").await;
    assert!(!main_of(&html).contains("/projects/team/retention"));
    let (_, html) = guest.get("/projects/team/retention").await;
    assert!(main_of(&html).contains("You are not allowed to do this."), "{}", main_of(&html));
    let res = guest.post("/ui/run_retention", &[("project", "team"), ("dry_run", "on")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/projects/team").await;
    assert!(main_of(&html).contains(r#"href="/projects/team/retention""#));
    let (status, html) = dev.get("/projects/team/retention").await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains("No retention rules: nothing is deleted."), "{}", main_of(&html));
    let rule = [
        ("project", "team"),
        ("template", "latestPushedK"),
        ("count", "1"),
        ("repo_decoration", "repoMatches"),
        ("repo_pattern", "**"),
        ("tag_decoration", "matches"),
        ("tag_pattern", "v*"),
    ];
    let res = dev.post("/ui/save_retention_rule", &rule).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/retention"));
    // A bad pattern comes back as a readable error.
    let mut bad = rule;
    bad[6] = ("tag_pattern", "{v1");
    let res = dev.post("/ui/save_retention_rule", &bad).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = dev.post("/ui/set_retention_schedule", &[("project", "team"), ("kind", "Daily")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/retention"));
    let (_, html) = dev.get("/projects/team/retention").await;
    let main = main_of(&html);
    assert!(
        main.contains(
            "retain the 1 most recently pushed artifacts in repositories matching `**` with tags matching `v*` (excluding untagged)"
        ),
        "{main}"
    );
    assert!(main.contains("Runs on cron 0 0 0 * * *; next run"), "{main}");

    let res = dev.post("/ui/run_retention", &[("project", "team"), ("dry_run", "on")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/retention"));
    let mut html = String::new();
    for _ in 0..100 {
        html = dev.get("/projects/team/retention").await.1;
        if html.contains("status success") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Without the hydration markers between text nodes.
    let main = main_of(&html).replace("<!>", "");
    assert!(main.contains("MANUAL (dry run)") && main.contains("team/app: 1 / 3"), "{main}");
    // The task's log opens with the portal session (the API reads it from the cookie).
    let log_href = main
        .split("href=\"")
        .find(|s| s.starts_with("/api/v2.0/retentions/"))
        .and_then(|s| s.split('"').next())
        .expect("log link")
        .to_owned();
    let (status, log) = dev.get(&log_href).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(log.contains("dry run: nothing was deleted") && log.contains(" DEL "), "{log}");
    let (status, _) = guest.get(&log_href).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Edit the rule in place: the form comes filled with its fields.
    assert!(main.contains(r#"<input name="tag_pattern" value="v*""#), "{main}");
    let mut edit = rule.to_vec();
    edit.push(("index", "0"));
    edit.push(("labels", "release"));
    edit[2] = ("count", "2");
    let res = dev.post("/ui/save_retention_rule", &edit).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/retention"));
    let (_, html) = dev.get("/projects/team/retention").await;
    let main = main_of(&html);
    assert!(main.contains("retain the 2 most recently pushed artifacts"), "{main}");
    assert!(main.contains("and labelled `release`"), "{main}");
    assert!(
        main.contains(r#"<input name="labels" value="release""#),
        "the edit form keeps the labels: {main}"
    );
    assert!(!main.contains("retain the 1 most recently pushed artifacts"), "{main}");
    let res = dev.post("/ui/delete_retention_rule", &[("project", "team"), ("index", "0")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/retention"));
    let (_, html) = dev.get("/projects/team/retention").await;
    assert!(main_of(&html).contains("No retention rules: nothing is deleted."));
}

#[tokio::test]
async fn maintainers_manage_tag_immutability_and_listings_show_locked_tags() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    for (name, role) in [("keeper", wharf::auth::Role::Maintainer), ("dev", wharf::auth::Role::Developer)] {
        let uid = app.create_user(name, "Passw0rd!").await;
        app.add_member("team", uid, role).await;
    }
    let (digest, _, _) = app.push_image("team/app", "v1").await;
    app.push_image("team/app", "latest").await;

    // Developers see no Immutability tab and cannot add rules.
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/projects/team").await;
    assert!(!main_of(&html).contains("/projects/team/immutability"));
    let form = [
        ("project", "team"),
        ("repo_decoration", "repoMatches"),
        ("repo_pattern", "**"),
        ("tag_decoration", "matches"),
        ("tag_pattern", "v*"),
    ];
    let res = dev.post("/ui/add_immutable_rule", &form).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    let mut keeper = Browser::new(&app);
    keeper.sign_in("keeper", "Passw0rd!").await;
    let (_, html) = keeper.get("/projects/team").await;
    assert!(main_of(&html).contains(r#"href="/projects/team/immutability""#));
    let (status, html) = keeper.get("/projects/team/immutability").await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains("No immutability rules"), "{}", main_of(&html));
    let res = keeper.post("/ui/add_immutable_rule", &form).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/immutability"));
    let main = eventually(
        &keeper,
        "/projects/team/immutability",
        "tags matching `v*` in repositories matching `**`",
    )
    .await;
    let id = main
        .split(r#"name="id" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("rule id")
        .to_owned();

    // The repository and artifact pages mark v1 as immutable and offer no delete for it.
    let main = eventually(&keeper, "/repositories/team/app", "🔒 v1").await;
    assert!(!main.contains("🔒 latest"), "{main}");
    let (_, html) = keeper.get(&format!("/artifacts/team/app?ref={digest}")).await;
    let main = main_of(&html).replace("<!>", "");
    assert!(main.contains("🔒 v1") && !main.contains("Delete tag v1"), "{main}");
    assert!(!main.contains("Delete artifact"), "{main}");
    let res = keeper
        .post("/ui/delete_tag", &[("repository", "team/app"), ("digest", &digest), ("tag", "v1")])
        .await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    // Disabled: the rule shows so, and v1 is an ordinary tag again; then deleted.
    let res = keeper.post("/ui/switch_immutable_rule", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/immutability"));
    eventually(&keeper, "/projects/team/immutability", "disabled").await;
    let (_, html) = keeper.get("/repositories/team/app").await;
    assert!(!main_of(&html).contains("🔒 v1"));
    let res =
        keeper.post("/ui/switch_immutable_rule", &[("project", "team"), ("id", &id), ("on", "on")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/immutability"));
    let res = keeper.post("/ui/delete_immutable_rule", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/immutability"));
    eventually(&keeper, "/projects/team/immutability", "No immutability rules").await;

    // A rule on labels, from the same form: the page says so in words.
    let mut labelled = form.to_vec();
    labelled.push(("labels", " release "));
    let res = keeper.post("/ui/add_immutable_rule", &labelled).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/immutability"));
    eventually(
        &keeper,
        "/projects/team/immutability",
        "tags matching `v*` and labelled `release` in repositories matching `**`",
    )
    .await;
}

#[tokio::test]
async fn administrators_set_a_quota_from_the_settings_tab_and_members_see_the_usage() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let owner = app.create_user("owner", "Passw0rd!").await;
    app.add_member("team", owner, wharf::auth::Role::ProjectAdmin).await;
    app.push_image("team/app", "v1").await;

    // A project admin sees the usage but may not change the limit.
    let mut b = Browser::new(&app);
    b.sign_in("owner", "Passw0rd!").await;
    let (_, html) = b.get("/projects/team").await;
    assert!(main_of(&html).replace("<!>", "").contains("used, no limit"), "{}", main_of(&html));
    let (_, html) = b.get("/projects/team/settings").await;
    let main = main_of(&html);
    assert!(main.contains("Storage quota") && !main.contains(r#"name="limit""#), "{main}");
    let res = b.post("/ui/set_project_quota", &[("project", "team"), ("limit", "1GiB")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let res = admin.post("/ui/set_project_quota", &[("project", "team"), ("limit", "10 parsecs")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = admin.post("/ui/set_project_quota", &[("project", "team"), ("limit", "1MiB")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/settings"));
    let main = eventually(&admin, "/projects/team/settings", "of 1.0 MiB (").await;
    assert!(main.contains(r#"<meter min="0" max="1048576""#), "{main}");
    let (_, html) = b.get("/projects?q=team").await;
    assert!(main_of(&html).replace("<!>", "").contains(" of 1.0 MiB"), "{}", main_of(&html));
}

#[tokio::test]
async fn project_admins_add_webhooks_and_watch_deliveries_from_the_tab() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let owner = app.create_user("owner", "Passw0rd!").await;
    app.add_member("team", owner, wharf::auth::Role::ProjectAdmin).await;
    let keeper = app.create_user("keeper", "Passw0rd!").await;
    app.add_member("team", keeper, wharf::auth::Role::Maintainer).await;
    let receiver = support::receiver::Receiver::start().await;

    let mut b = Browser::new(&app);
    b.sign_in("owner", "Passw0rd!").await;
    let (_, html) = b.get("/projects/team").await;
    assert!(main_of(&html).contains(r#"href="/projects/team/webhooks""#));
    eventually(&b, "/projects/team/webhooks", "No webhooks").await;
    let form = [
        ("project", "team"),
        ("name", "ci"),
        ("address", receiver.url.as_str()),
        ("kind", "http"),
        ("format", "CloudEvents"),
        ("auth_header", "Bearer portal-secret"),
        ("PUSH_ARTIFACT", "on"),
        ("DELETE_ARTIFACT", "on"),
    ];
    let res = b.post("/ui/add_webhook", &form).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/webhooks"));
    let main = eventually(&b, "/projects/team/webhooks", "Artifact deleted").await;
    assert!(
        main.contains("CloudEvents") && main.contains("with auth header") && !main.contains("portal-secret"),
        "{main}"
    );
    // A bad URL comes back as an error.
    let mut bad = form;
    bad[1] = ("name", "other");
    bad[2] = ("address", "not a url");
    let res = b.post("/ui/add_webhook", &bad).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    // A push is delivered and listed.
    app.push_image("team/app", "v1").await;
    receiver.wait_until(10, |r| !r.is_empty()).await;
    let main = eventually(&b, "/projects/team/webhooks", "status success").await;
    assert!(main.contains("PUSH_ARTIFACT") && main.contains("delivered: HTTP 200"), "{main}");

    // Maintainers see the tab, without the forms; they cannot add.
    let mut m = Browser::new(&app);
    m.sign_in("keeper", "Passw0rd!").await;
    let (_, html) = m.get("/projects/team/webhooks").await;
    let main = main_of(&html);
    assert!(main.contains("ci") && !main.contains("Add a webhook"), "{main}");
    let res = m.post("/ui/add_webhook", &form).await;
    assert!(header(&res, "location").expect("back").contains("__err"));

    // Disable, then delete.
    let policies: serde_json::Value =
        app.admin(Method::GET, "/api/v2.0/projects/team/webhook/policies").call().await.json();
    let id = policies[0]["id"].as_i64().expect("id").to_string();
    let res = b.post("/ui/switch_webhook", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/webhooks"));
    eventually(&b, "/projects/team/webhooks", "disabled").await;
    let res = b.post("/ui/delete_webhook", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/webhooks"));
    eventually(&b, "/projects/team/webhooks", "No webhooks").await;
}

#[tokio::test]
async fn administrators_purge_the_audit_log_from_the_admin_page() {
    let app = TestApp::start().await;
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let main = eventually(&admin, "/admin/gc", "Audit log retention").await;
    assert!(main.contains("No purge has run yet."), "{main}");
    let res = admin
        .post("/ui/set_purge_schedule", &[("kind", "Daily"), ("keep_hours", "720"), ("operations", "pull")])
        .await;
    assert_eq!(header(&res, "location"), Some("/admin/gc"));
    eventually(&admin, "/admin/gc", "keeping 720 hours of pull").await;
    let res = admin.post("/ui/set_purge_schedule", &[("kind", "Daily"), ("keep_hours", "none")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = admin.post("/ui/run_purge", &[("keep_hours", "1"), ("dry_run", "on")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/gc"));
    let main = eventually(&admin, "/admin/gc", "status success").await;
    assert!(main.contains("MANUAL (dry run)") && main.contains("/api/v2.0/system/purgeaudit/"), "{main}");
    let mut user = Browser::new(&app);
    app.create_user("plain", "Passw0rd!").await;
    user.sign_in("plain", "Passw0rd!").await;
    let res = user.post("/ui/run_purge", &[("keep_hours", "1")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
}

#[tokio::test]
async fn labels_are_made_on_the_settings_tab_and_put_on_artifacts() {
    let app = TestApp::start().await;
    app.create_project("team", false).await;
    let owner = app.create_user("owner", "Passw0rd!").await;
    app.add_member("team", owner, wharf::auth::Role::ProjectAdmin).await;
    let (digest, _, _) = app.push_image("team/app", "v1").await;
    let mut b = Browser::new(&app);
    b.sign_in("owner", "Passw0rd!").await;
    eventually(&b, "/projects/team/settings", "No labels yet.").await;
    let res =
        b.post("/ui/create_label", &[("project", "team"), ("name", "tested"), ("color", "#00aa00")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/settings"));
    // A project admin cannot make global labels.
    let res =
        b.post("/ui/create_label", &[("project", "team"), ("name", "everywhere"), ("global", "on")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let main = eventually(&b, "/projects/team/settings", ">tested<").await;
    assert!(main.contains(r##"fill="#00aa00""##), "the label's colour: {main}");
    let labels: serde_json::Value = app
        .admin(
            Method::GET,
            &format!("/api/v2.0/labels?scope=p&project_id={}", {
                let p: serde_json::Value =
                    app.admin(Method::GET, "/api/v2.0/projects/team").call().await.json();
                p["project_id"].as_i64().expect("id")
            }),
        )
        .call()
        .await
        .json();
    let id = labels[0]["id"].as_i64().expect("label").to_string();
    let res = b
        .post("/ui/label_artifact", &[("repository", "team/app"), ("digest", &digest), ("label", &id)])
        .await;
    assert!(
        header(&res, "location").expect("back").starts_with("/artifacts/team%2Fapp")
            || header(&res, "location").expect("back").starts_with("/artifacts/")
    );
    let main = eventually(&b, "/repositories/team/app", ">tested<").await;
    assert!(main.contains(r#"class="label""#), "{main}");
    let (_, html) = b.get(&format!("/artifacts/team/app?ref={digest}")).await;
    assert!(main_of(&html).contains("Remove label tested"), "{}", main_of(&html));
    b.post("/ui/unlabel_artifact", &[("repository", "team/app"), ("digest", &digest), ("label", &id)]).await;
    let (_, html) = b.get("/repositories/team/app").await;
    assert!(!main_of(&html).contains(">tested<"));
    let res = b.post("/ui/delete_label", &[("project", "team"), ("id", &id)]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/settings"));
    eventually(&b, "/projects/team/settings", "No labels yet.").await;
}

/// Polls `path` until its main part contains `needle` (actions that finish in the background).
async fn eventually(b: &Browser, path: &str, needle: &str) -> String {
    let mut main = String::new();
    for _ in 0..100 {
        let (_, html) = b.get(path).await;
        main = main_of(&html).replace("<!>", "");
        if main.contains(needle) {
            return main;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {needle:?}: {main}");
}

#[tokio::test]
async fn users_change_their_password_and_administrators_manage_users() {
    let app = TestApp::start().await;
    app.create_user("dev", "Passw0rd!").await;
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/account").await;
    assert!(main_of(&html).contains("Change password"));
    for form in [
        [("old", "wrong"), ("new", "NewPassw0rd"), ("confirm", "NewPassw0rd")],
        [("old", "Passw0rd!"), ("new", "NewPassw0rd"), ("confirm", "Different1")],
        [("old", "Passw0rd!"), ("new", "weak"), ("confirm", "weak")],
    ] {
        let res = dev.post("/ui/change_password", &form).await;
        assert!(header(&res, "location").expect("back").contains("__err"), "{form:?}");
    }
    let res = dev
        .post(
            "/ui/change_password",
            &[("old", "Passw0rd!"), ("new", "NewPassw0rd"), ("confirm", "NewPassw0rd")],
        )
        .await;
    assert_eq!(header(&res, "location"), Some("/account?changed=1"));
    // Every session of dev ended; this browser goes on in the new one it was given.
    let old_session = dev.cookie.clone();
    let new_session = header(&res, "set-cookie").expect("a new session").split(';').next().expect("pair");
    dev.cookie = Some(new_session.to_owned());
    let (_, html) = dev.get("/account?changed=1").await;
    assert!(main_of(&html).contains("Password changed."));
    let mut stale = Browser::new(&app);
    stale.cookie = old_session;
    let (_, html) = stale.get("/account").await;
    assert!(!html.contains("Sign out"), "the old session ended");
    let mut again = Browser::new(&app);
    again.sign_in("dev", "NewPassw0rd").await;

    // Only administrators see the users page.
    let (_, html) = dev.get("/admin/users").await;
    assert!(main_of(&html).contains("You are not allowed to do this."));
    let mut admin = Browser::new(&app);
    admin.sign_in("admin", ADMIN_PASSWORD).await;
    let res = admin.post("/ui/create_user", &[("username", "ops"), ("password", "short")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = admin
        .post(
            "/ui/create_user",
            &[("username", "ops"), ("email", "ops@example.com"), ("password", "0psPassword")],
        )
        .await;
    assert_eq!(header(&res, "location"), Some("/admin/users"));
    let main = eventually(&admin, "/admin/users?q=ops", "ops@example.com").await;
    assert!(main.contains("active") && !main.contains(">dev<"), "search narrows the list: {main}");
    let ops: i64 =
        wharf::db::users::by_username(app.state.db.reader(), "ops").await.expect("query").expect("ops").id;
    let id = ops.to_string();
    let res = admin.post("/ui/change_user", &[("id", &id), ("what", "disable")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/users"));
    let res = Browser::new(&app)
        .post("/ui/sign_in", &[("username", "ops"), ("password", "0psPassword"), ("next", "/projects")])
        .await;
    assert!(header(&res, "location").expect("back").contains("__err"), "a disabled user cannot sign in");
    admin.post("/ui/change_user", &[("id", &id), ("what", "enable")]).await;
    admin.post("/ui/change_user", &[("id", &id), ("what", "password"), ("password", "Reset1234")]).await;
    admin.post("/ui/change_user", &[("id", &id), ("what", "admin")]).await;
    let mut ops_browser = Browser::new(&app);
    ops_browser.sign_in("ops", "Reset1234").await;
    let (_, html) = ops_browser.get("/admin/users").await;
    assert!(main_of(&html).contains("ops@example.com"), "ops is an administrator now");
    // An administrator cannot demote or disable themselves.
    let admin_id = "1";
    let res = admin.post("/ui/change_user", &[("id", admin_id), ("what", "unadmin")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
}

#[tokio::test]
async fn project_admins_manage_members_robots_settings_and_read_the_logs() {
    let app = TestApp::start().await;
    let owner = app.create_user("owner", "Passw0rd!").await;
    app.create_user("dev", "Passw0rd!").await;
    app.create_project("team", false).await;
    app.add_member("team", owner, wharf::auth::Role::ProjectAdmin).await;
    app.push_image("team/app", "v1").await;
    let mut b = Browser::new(&app);
    b.sign_in("owner", "Passw0rd!").await;
    let (_, html) = b.get("/projects/team").await;
    let main = main_of(&html);
    for tab in ["members", "robots", "logs", "retention", "settings"] {
        assert!(main.contains(&format!(r#"href="/projects/team/{tab}""#)), "tab {tab}: {main}");
    }

    // Members: add by username, change the role, remove.
    let res = b
        .post(
            "/ui/add_member",
            &[("project", "team"), ("kind", "user"), ("name", "nobody"), ("role_id", "2")],
        )
        .await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    let res = b
        .post("/ui/add_member", &[("project", "team"), ("kind", "user"), ("name", "dev"), ("role_id", "2")])
        .await;
    assert_eq!(header(&res, "location"), Some("/projects/team/members"));
    // A group, by name: unknown LDAP groups are refused with the way to get them; an HTTP group
    // an administrator made is added and listed with its type.
    let res = b
        .post(
            "/ui/add_member",
            &[
                ("project", "team"),
                ("kind", "group"),
                ("name", "cn=ghosts,dc=example,dc=org"),
                ("role_id", "3"),
            ],
        )
        .await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    app.admin(Method::POST, "/api/v2.0/usergroups")
        .json(&serde_json::json!({"group_name": "crew", "group_type": 2}))
        .call()
        .await
        .expect(StatusCode::CREATED);
    let res = b
        .post("/ui/add_member", &[("project", "team"), ("kind", "group"), ("name", "crew"), ("role_id", "3")])
        .await;
    assert_eq!(header(&res, "location"), Some("/projects/team/members"));
    let main = eventually(&b, "/projects/team/members", "HTTP group").await;
    assert!(main.contains("<td>crew</td>"), "{main}");
    let main = eventually(&b, "/projects/team/members", "<td>Developer</td>").await;
    let member = main
        .split(r#"name="member" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("member id")
        .to_owned();
    b.post("/ui/set_member_role", &[("project", "team"), ("member", &member), ("role_id", "3")]).await;
    // The owner's row comes first or second; dev is now a guest.
    eventually(&b, "/projects/team/members", "guest").await;
    let mut dev = Browser::new(&app);
    dev.sign_in("dev", "Passw0rd!").await;
    let (_, html) = dev.get("/projects/team").await;
    let main = main_of(&html);
    assert!(main.contains(r#"href="/projects/team/members""#) && !main.contains("/projects/team/settings"));
    let (_, html) = dev.get("/projects/team/robots").await;
    assert!(main_of(&html).contains("You are not allowed to do this."));
    b.post("/ui/remove_member", &[("project", "team"), ("member", &member)]).await;
    let (_, html) = dev.get("/projects/team").await;
    assert!(main_of(&html).contains("not found"), "{}", main_of(&html));

    // Robots: the secret comes back once and works; disable, delete.
    // The secret comes back to the page's script (it cannot ride a redirect).
    let res = Client::new()
        .post(format!("{}/ui/create_robot", app.base))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .header("cookie", b.cookie.clone().expect("session"))
        .header("x-csrf-token", b.csrf.clone().expect("token"))
        .form(&[("project", "team"), ("name", "ci"), ("pull", "on"), ("days", "30")])
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let created: serde_json::Value = serde_json::from_str(&res.text()).expect("json");
    let (name, secret) =
        (created["name"].as_str().expect("name"), created["secret"].as_str().expect("secret"));
    assert_eq!(name, "robot$team+ci");
    let token = |user: &str, pass: &str| {
        Client::new()
            .get(format!("{}/service/token?service=wharf&scope=repository:team/app:pull", app.base))
            .basic_auth(user, Some(pass))
    };
    assert_eq!(token(name, secret).call().await.status(), StatusCode::OK);
    let main = eventually(&b, "/projects/team/robots", "robot$team+ci").await;
    assert!(main.contains("pull") && main.contains("active"), "{main}");
    assert!(!main.contains(secret), "the secret is never shown again");
    let id =
        main.split(r#"name="id" value=""#).nth(1).and_then(|s| s.split('"').next()).expect("id").to_owned();
    b.post("/ui/change_robot", &[("project", "team"), ("id", &id), ("what", "disable")]).await;
    eventually(&b, "/projects/team/robots", "disabled").await;
    assert_eq!(token(name, secret).call().await.status(), StatusCode::UNAUTHORIZED);
    b.post("/ui/change_robot", &[("project", "team"), ("id", &id), ("what", "delete")]).await;
    eventually(&b, "/projects/team/robots", "No robot accounts.").await;

    // Logs: the push is there.
    app.state.auditor.flush().await;
    let main = eventually(&b, "/projects/team/logs", "team/app:v1").await;
    assert!(main.contains("push"), "{main}");

    // Repository: sort by size both ways, then delete it; settings: public, then delete the
    // (now empty) project.
    app.push_image("team/app", "v2").await;
    let (_, html) = b.get("/repositories/team%2Fapp?sort=size").await;
    assert!(main_of(&html).replace("<!>", "").contains("Size ↑"), "{}", main_of(&html));
    let (_, html) = b.get("/repositories/team%2Fapp").await;
    let main = main_of(&html).replace("<!>", "");
    assert!(main.contains("Pushed ↓") && main.contains("Delete repository"), "{main}");
    let res = b.post("/ui/delete_project", &[("project", "team")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"), "not empty yet");
    let res = b.post("/ui/set_project_public", &[("project", "team"), ("public", "on")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team/settings"));
    let (_, html) = Browser::new(&app).get("/projects/team").await;
    assert!(main_of(&html).contains("badge public"), "anonymous viewers see it now");
    let res = b.post("/ui/delete_repository", &[("repository", "team/app")]).await;
    assert_eq!(header(&res, "location"), Some("/projects/team"));
    let (_, html) = b.get("/projects/team/settings").await;
    assert!(main_of(&html).contains("Delete team"), "{}", main_of(&html));
    let res = b.post("/ui/delete_project", &[("project", "team")]).await;
    assert_eq!(header(&res, "location"), Some("/projects"));
    let (_, html) = b.get("/projects/team").await;
    assert!(main_of(&html).contains("not found"));
}

#[tokio::test]
async fn listings_show_storage_per_project_and_the_platforms_of_an_index() {
    let app = TestApp::start().await;
    app.create_project("multi", true).await;
    let (d1, m1, _) = app.push_image("multi/app", "amd64").await;
    let (d2, m2, _) = app.push_image("multi/app", "arm64").await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{d2}","size":{},"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
        m1.len(),
        m2.len()
    );
    let res = app.put_manifest("multi/app", "latest", OCI_INDEX, &index).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let b = Browser::new(&app);
    let (_, html) = b.get("/repositories/multi%2Fapp").await;
    let main = main_of(&html).replace("<!>", "");
    assert!(main.contains("index<span class=\"muted small\"> (linux/amd64, linux/arm64/v8)"), "{main}");
    // Two images of one 4 KiB layer and a small config each, and three manifests: the quota's
    // usage (each blob once), a bit over 9 KiB.
    let quotas: serde_json::Value =
        app.admin(Method::GET, "/api/v2.0/quotas?page_size=100").call().await.json();
    let used = quotas
        .as_array()
        .and_then(|a| a.iter().find(|q| q["ref"]["name"] == "multi"))
        .and_then(|q| q["used"]["storage"].as_i64())
        .expect("multi's quota");
    assert!((9 * 1024..10 * 1024).contains(&used), "{used}");
    let (_, html) = b.get("/projects?q=multi").await;
    let main = main_of(&html).replace("<!>", "");
    assert!(main.contains(&format!(">{}<", frontend::components::human_size(used))), "{main}");
}

/// Every page that puts part of its URL into the page (title, headings, links) escapes it: a
/// hostile name in the path or query injects no markup (the page title was written raw once).
#[tokio::test]
async fn hostile_names_in_the_url_inject_no_markup() {
    let app = TestApp::start().await;
    let mut b = Browser::new(&app);
    b.sign_in("admin", ADMIN_PASSWORD).await;
    let evil = "</title><meta http-equiv=\"refresh\" content=\"0;url=http://evil.example\"><title>é";
    let enc: String = evil.bytes().map(|c| format!("%{c:02X}")).collect();
    let pages = [
        format!("/projects/{enc}"),
        format!("/projects/{enc}/members"),
        format!("/projects/{enc}/robots"),
        format!("/projects/{enc}/logs"),
        format!("/projects/{enc}/settings"),
        format!("/projects/{enc}/retention"),
        format!("/repositories/library/{enc}"),
        format!("/artifacts/library/{enc}?ref={enc}"),
        format!("/artifacts/library/x?ref={enc}"),
        "/artifacts/library/x?ref=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9".to_owned(),
        format!("/login?next={enc}"),
        format!("/projects?q={enc}"),
        format!("/admin/users?q={enc}"),
        format!("/{enc}"),
    ];
    for anonymous in [false, true] {
        let browser = if anonymous { &Browser::new(&app) } else { &b };
        for page in &pages {
            let (status, html) = browser.get(page).await;
            assert!(status == StatusCode::OK || status == StatusCode::NOT_FOUND, "{page}: {status}");
            assert!(!html.contains("<meta http-equiv"), "{page}: markup injected:\n{html}");
            assert!(!html.contains("</title><meta"), "{page}: the title was closed early");
            assert_eq!(html.matches("<title>").count(), 1, "{page}: one title");
            let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).expect("title");
            assert!(!title.contains('<') && !title.contains('"'), "{page}: title {title}");
        }
    }
}

/// A sign-in link's `next` is followed only to a path on this site.
#[tokio::test]
async fn sign_in_goes_only_to_local_paths() {
    let app = TestApp::start().await;
    let b = Browser::new(&app);
    for (next, want) in [
        ("/projects/library", "/projects/library"),
        ("//evil.example/x", "/projects"),
        ("/\\evil.example", "/projects"),
        ("https://evil.example", "/projects"),
        ("/a\nSet-Cookie: x=1", "/projects"),
    ] {
        let res = b
            .post("/ui/sign_in", &[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", next)])
            .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(header(&res, "location"), Some(want), "{next:?}");
    }
}

/// The member-add form tells a signed-in outsider nothing: the same answer for an existing and a
/// made-up username, and for a private project and no project at all.
#[tokio::test]
async fn the_member_form_reveals_no_users_or_private_projects_to_outsiders() {
    let app = TestApp::start().await;
    app.create_project("hidden", false).await;
    app.create_user("victim", "Passw0rd!").await;
    app.create_user("nosy", "Passw0rd!").await;
    let mut b = Browser::new(&app);
    b.sign_in("nosy", "Passw0rd!").await;
    let mut answers = Vec::new();
    for (project, user) in [("hidden", "victim"), ("hidden", "made-up"), ("nothing-here", "victim")] {
        let res = b
            .client
            .post(format!("{}/ui/add_member", app.base))
            .header("origin", &app.base)
            .header("cookie", b.cookie.clone().expect("cookie"))
            .header("accept", "application/json")
            .form(&[
                ("project", project),
                ("username", user),
                ("role_id", "1"),
                ("csrf", b.csrf.clone().expect("token").as_str()),
            ])
            .call()
            .await;
        let status = res.status();
        let text = res.text().replace(project, "<project>");
        answers.push((status, text));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert!(!answers[0].1.contains("victim") && !answers[0].1.contains("made-up"), "{answers:?}");
}

/// Posts the authentication settings form.
async fn save_auth(b: &Browser, form: Vec<(String, String)>) -> Answer {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post("/ui/save_auth_settings", &pairs).await
}

#[tokio::test]
async fn administrators_set_up_ldap_with_a_test_first_and_manage_groups() {
    let slapd = support::ldap::Slapd::start();
    let app = TestApp::start().await;
    let mut b = Browser::new(&app);
    b.sign_in("admin", ADMIN_PASSWORD).await;
    let (status, html) = b.get("/admin/auth").await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains("Test LDAP connection") && main.contains(r#"name="items[ldap_url]""#), "{main}");
    assert!(main.contains("Wharf accounts (database)"), "{main}");

    let conf = support::ldap::configuration(&slapd.url);
    let text = |k: &str| conf[k].as_str().map(str::to_owned).unwrap_or_else(|| conf[k].to_string());
    let mut form: Vec<(String, String)> = [
        "ldap_url",
        "ldap_search_dn",
        "ldap_base_dn",
        "ldap_filter",
        "ldap_uid",
        "ldap_scope",
        "ldap_timeout",
        "ldap_group_base_dn",
        "ldap_group_search_filter",
        "ldap_group_attribute_name",
        "ldap_group_admin_dn",
        "ldap_group_membership_attribute",
    ]
    .into_iter()
    .map(|k| (format!("items[{k}]"), text(k)))
    .collect();
    form.push(("items[ldap_verify_cert]".into(), "on".into()));
    let send = |form: &Vec<(String, String)>, extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(String, String)> = form.clone();
        all.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        save_auth(&b, all)
    };
    // Test with a wrong password: the page says why, and nothing is stored.
    let res = send(&form, &[("items[ldap_search_password]", "wrong"), ("intent", "test-ldap")]).await;
    let back = header(&res, "location").expect("back").to_owned();
    let err = back.split("__err=").nth(1).expect("an error").replace("%3D", "=");
    let err = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, err).expect("base64");
    let err = String::from_utf8_lossy(&err);
    assert!(err.contains("The test failed") && err.contains("search DN"), "{err}");
    let v: serde_json::Value = app.admin(Method::GET, "/api/v2.0/configurations").call().await.json();
    assert_eq!(v["ldap_url"]["value"], "", "a test stores nothing");
    // The right password tests well; saved with the mode, directory users sign in.
    let res = send(
        &form,
        &[("items[ldap_search_password]", support::ldap::MANAGER_PASSWORD), ("intent", "test-ldap")],
    )
    .await;
    assert!(!header(&res, "location").unwrap_or("").contains("__err"), "{:?}", header(&res, "location"));
    let res = send(
        &form,
        &[
            ("items[ldap_search_password]", support::ldap::MANAGER_PASSWORD),
            ("items[auth_mode]", "ldap_auth"),
            ("intent", "save"),
        ],
    )
    .await;
    assert!(!header(&res, "location").unwrap_or("").contains("__err"), "{:?}", header(&res, "location"));
    let v: serde_json::Value = app.admin(Method::GET, "/api/v2.0/configurations").call().await.json();
    assert_eq!(
        (v["auth_mode"]["value"].clone(), v["ldap_url"]["value"].clone()),
        (serde_json::json!("ldap_auth"), serde_json::json!(slapd.url))
    );
    assert!(!v.to_string().contains(support::ldap::MANAGER_PASSWORD), "the password is never answered");
    let mut alice = Browser::new(&app);
    alice.sign_in("alice", &support::ldap::password("alice")).await;
    // Saved again with the password field empty: the stored password is kept.
    let res = send(&form, &[("intent", "save")]).await;
    assert!(!header(&res, "location").unwrap_or("").contains("__err"));
    let (_, html) = b.get("/admin/auth").await;
    let main = main_of(&html);
    assert!(main.contains("stored: leave empty to keep it"), "{main}");
    assert!(main.contains("The mode can change only while admin is the only user"), "{main}");
    let res = send(&form, &[("intent", "test-ldap")]).await;
    assert!(!header(&res, "location").unwrap_or("").contains("__err"), "the kept password still binds");

    // Groups: alice's sign-in brought hers; one more by DN; delete it.
    let main = eventually(&b, "/admin/groups", "developers").await;
    assert!(main.contains("LDAP"), "{main}");
    let admins = format!("cn=admins,ou=groups,{}", support::ldap::BASE);
    let res = b.post("/ui/add_group", &[("group_type", "1"), ("dn", &admins), ("name", "")]).await;
    assert_eq!(header(&res, "location"), Some("/admin/groups"));
    let main = eventually(&b, "/admin/groups", "<td>admins</td>").await;
    let id = main
        .split("<td>admins</td>")
        .nth(1)
        .and_then(|s| s.split(r#"name="id" value=""#).nth(1))
        .and_then(|s| s.split('"').next())
        .expect("group id")
        .to_owned();
    let res = b.post("/ui/add_group", &[("group_type", "1"), ("dn", "cn=nope,dc=x"), ("name", "")]).await;
    assert!(header(&res, "location").expect("back").contains("__err"));
    b.post("/ui/delete_group", &[("id", &id)]).await;
    let (_, html) = b.get("/admin/groups").await;
    assert!(!main_of(&html).contains("<td>admins</td>"));
    // Not for other users.
    let (_, html) = alice.get("/admin/auth").await;
    assert!(main_of(&html).contains("You are not allowed to do this."), "{}", main_of(&html));
}

/// The error a server function's redirect carries back to the page, if any.
fn error_in(res: &Answer) -> Option<String> {
    let back = header(res, "location")?;
    let err = back.split("__err=").nth(1)?.replace("%3D", "=");
    let err = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, err).ok()?;
    Some(String::from_utf8_lossy(&err).into_owned())
}

#[tokio::test]
async fn administrators_set_up_single_sign_on_with_a_test_first_and_the_sign_in_page_offers_it() {
    let app = TestApp::start().await;
    let provider = support::oidc::Provider::start(&format!("{}/c/oidc/callback", app.base));
    let mut b = Browser::new(&app);
    b.sign_in("admin", ADMIN_PASSWORD).await;
    let (status, html) = b.get("/admin/auth").await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains("Test OIDC provider") && main.contains(r#"name="items[oidc_endpoint]""#), "{main}");
    assert!(main.contains(&format!("{}/c/oidc/callback", app.base)), "the redirect URI to register: {main}");
    let form = |endpoint: &str, secret: &str, extra: &[(&str, &str)]| {
        [
            ("items[oidc_name]", "Test OP"),
            ("items[oidc_endpoint]", endpoint),
            ("items[oidc_client_id]", "wharf"),
            ("items[oidc_client_secret]", secret),
            ("items[oidc_scope]", "openid,profile,email,groups,offline_access"),
            ("items[oidc_groups_claim]", "groups"),
            ("items[oidc_verify_cert]", "on"),
            ("items[oidc_auto_onboard]", "on"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<Vec<_>>()
    };
    let secret = support::oidc::CLIENT_SECRET;
    // Wharf itself is no provider: the test says so, and nothing is stored.
    let res = save_auth(&b, form(&app.base, secret, &[("intent", "test-oidc")])).await;
    let err = error_in(&res).expect("an error");
    assert!(err.contains("The test failed") && err.contains("OIDC"), "{err}");
    let v: serde_json::Value = app.admin(Method::GET, "/api/v2.0/configurations").call().await.json();
    assert_eq!(v["oidc_endpoint"]["value"], "", "a test stores nothing");
    // The real provider tests well; saved with the mode, the sign-in page offers it.
    let res = save_auth(&b, form(&provider.issuer, secret, &[("intent", "test-oidc")])).await;
    assert_eq!(error_in(&res), None);
    let res = save_auth(
        &b,
        form(&provider.issuer, secret, &[("items[auth_mode]", "oidc_auth"), ("intent", "save")]),
    )
    .await;
    assert_eq!(error_in(&res), None);
    let v: serde_json::Value = app.admin(Method::GET, "/api/v2.0/configurations").call().await.json();
    assert_eq!(
        (v["auth_mode"]["value"].as_str(), v["oidc_endpoint"]["value"].as_str()),
        (Some("oidc_auth"), Some(provider.issuer.as_str()))
    );
    assert!(!v.to_string().contains(secret), "the client secret is never answered");
    // Saved again with the secret field left empty, the stored secret stays.
    let res = save_auth(&b, form(&provider.issuer, "", &[("intent", "save")])).await;
    assert_eq!(error_in(&res), None);
    let current = app.state.configurations.current().await.expect("configuration");
    assert_eq!(current.text("oidc_client_secret"), secret);
    // Anyone arriving sees the button; it leads to the provider.
    let anon = Browser::new(&app);
    let (status, html) = anon.get("/login?next=/projects/x").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign in with Test OP"), "{}", main_of(&html));
    assert!(html.contains("/c/oidc/login?next=/projects/x"), "{}", main_of(&html));
    // An unknown action is refused rather than taken for a save.
    let res = save_auth(&b, form("http://elsewhere.example", secret, &[("intent", "test")])).await;
    assert!(error_in(&res).is_some_and(|e| e.contains("Unknown action")), "{:?}", error_in(&res));
}
