//! The whole permission matrix over HTTP: every kind of caller × every action, on a public and a
//! private project. Expectations are written out from Harbor's rules, not computed by Wharf.

use reqwest::Method;
use serde_json::json;
use wharf::auth::{Identity, RobotPermissions, Role};
use wharf::projects::{ProjectRef, robots::NewRobot};

use crate::support::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Pull,
    Push,
    DeleteTag,
    DeleteArtifact,
    DeleteRepository,
    ListMembers,
    AddMember,
    CreateRobot,
    DeleteProject,
}

const ACTS: [Act; 9] = [
    Act::Pull,
    Act::Push,
    Act::DeleteTag,
    Act::DeleteArtifact,
    Act::DeleteRepository,
    Act::ListMembers,
    Act::AddMember,
    Act::CreateRobot,
    Act::DeleteProject,
];

/// Harbor's rules for a caller with `role` (None: not a member).
fn role_may(role: Option<Role>, act: Act, public: bool) -> bool {
    use Act::*;
    if public && act == Pull {
        return true;
    }
    let Some(role) = role else { return false };
    match act {
        Pull => true,
        ListMembers => role != Role::LimitedGuest,
        Push => matches!(role, Role::Developer | Role::Maintainer | Role::ProjectAdmin),
        DeleteTag | DeleteArtifact | DeleteRepository => {
            matches!(role, Role::Maintainer | Role::ProjectAdmin)
        }
        AddMember | CreateRobot | DeleteProject => role == Role::ProjectAdmin,
    }
}

/// What a robot holding `g` in the project may do.
fn robot_may(g: RobotPermissions, act: Act, public: bool) -> bool {
    use Act::*;
    match act {
        Pull => public || g.pull || g.push || g.delete,
        Push => g.push,
        DeleteTag | DeleteArtifact | DeleteRepository => g.delete,
        _ => false,
    }
}

/// Users whose role comes (also) through a user group: (name, own role, their group's role,
/// the role Harbor gives them: the strongest).
const VIA_GROUPS: [(&str, Option<Role>, Role, Role); 3] = [
    ("grouped-dev", None, Role::Developer, Role::Developer),
    ("guest-in-maintainers", Some(Role::Guest), Role::Maintainer, Role::Maintainer),
    ("admin-in-guests", Some(Role::ProjectAdmin), Role::Guest, Role::ProjectAdmin),
];

/// Gives the `VIA_GROUPS` users their own memberships and their groups' in `project`.
async fn grant_via_groups(app: &TestApp, project: &str) {
    for (name, own, group_role, _) in VIA_GROUPS {
        if let Some(role) = own {
            app.add_member(project, user_id(app, name).await, role).await;
        }
        let res = app
            .admin(Method::POST, &format!("/api/v2.0/projects/{project}/members"))
            .json(&json!({"role_id": group_role.id(), "member_group": {"group_name": format!("team-of-{name}"), "group_type": 2}}))
            .call()
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{}", res.text());
    }
}

/// A caller's credentials, if any.
type Creds = Option<(String, String)>;
/// Which actions a caller should be allowed.
type Rule = Box<dyn Fn(Act) -> bool>;

#[derive(Clone, Debug)]
enum Caller {
    Anonymous,
    User(&'static str, Option<Role>),
    Admin,
    Disabled,
    Robot(&'static str, RobotPermissions),
    ExpiredRobot,
}

#[tokio::test]
async fn every_caller_times_every_action_on_public_and_private_projects() {
    let app = TestApp::start().await;
    let admin = Identity::User { id: 1, name: "admin".into(), sysadmin: true };
    let g = |pull, push, delete| RobotPermissions { pull, push, delete };
    let callers = vec![
        Caller::Anonymous,
        Caller::User("outsider", None),
        Caller::User("lguest", Some(Role::LimitedGuest)),
        Caller::User("guest", Some(Role::Guest)),
        Caller::User("dev", Some(Role::Developer)),
        Caller::User("maint", Some(Role::Maintainer)),
        Caller::User("padmin", Some(Role::ProjectAdmin)),
        Caller::Admin,
        Caller::Disabled,
        Caller::Robot("puller", g(true, false, false)),
        Caller::Robot("pusher", g(true, true, false)),
        Caller::Robot("deleter", g(true, true, true)),
        Caller::ExpiredRobot,
    ];
    for name in ["outsider", "lguest", "guest", "dev", "maint", "padmin", "disabled", "spare"] {
        app.create_user(name, "Passw0rd1").await;
    }
    // Each grouped user is in their own HTTP group (as their sign-in would record).
    let mut callers = callers;
    for (name, _, _, strongest) in VIA_GROUPS {
        let id = app.create_user(name, "Passw0rd1").await;
        let res = app
            .admin(Method::POST, "/api/v2.0/usergroups")
            .json(&json!({"group_name": format!("team-of-{name}"), "group_type": 2}))
            .call()
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{}", res.text());
        let mut tx = app.state.db.begin().await.expect("tx");
        wharf::db::usergroups::set_memberships(
            &mut tx,
            id,
            wharf::vocab::GroupType::Http,
            &[res.created_id()],
        )
        .await
        .expect("group");
        tx.commit().await.expect("commit");
        callers.push(Caller::User(name, Some(strongest)));
    }
    let mut secrets = std::collections::HashMap::new();
    let mut counter = 0;
    for (project, public) in [("pub", true), ("priv", false)] {
        app.create_project(project, public).await;
        app.push_image(&format!("{project}/app"), "v1").await;
        for c in &callers {
            if let Caller::User(name, Some(role)) = c
                && !VIA_GROUPS.iter().any(|v| v.0 == *name)
            {
                let id = user_id(&app, name).await;
                app.add_member(project, id, *role).await;
            }
        }
        let disabled = user_id(&app, "disabled").await;
        app.add_member(project, disabled, Role::ProjectAdmin).await;
        grant_via_groups(&app, project).await;
        for (name, grants) in [
            ("puller", g(true, false, false)),
            ("pusher", g(true, true, false)),
            ("deleter", g(true, true, true)),
            ("expired", g(true, true, true)),
        ] {
            let new = NewRobot {
                name: name.into(),
                description: String::new(),
                grants,
                duration_days: -1,
                disabled: false,
            };
            let (robot, _, secret) = app
                .state
                .projects
                .create_robot(&admin, &ProjectRef::Name(project.into()), new)
                .await
                .expect("robot");
            if name == "expired" {
                sqlx::query("UPDATE robots SET expires_at = 1 WHERE id = $1")
                    .bind(robot.id)
                    .execute(app.state.db.writer())
                    .await
                    .expect("expire");
            }
            secrets.insert(
                (project, name),
                (robot.name, wharf::config::ExposeSecret::expose_secret(&secret).to_owned()),
            );
        }
    }
    wharf::db::users::set_disabled(app.state.db.writer(), user_id(&app, "disabled").await, true)
        .await
        .expect("disable");

    let mut failures = Vec::new();
    for (project, public) in [("pub", true), ("priv", false)] {
        for caller in &callers {
            let (creds, expected): (Creds, Rule) = match caller.clone() {
                Caller::Anonymous => (None, Box::new(move |a| public && a == Act::Pull)),
                Caller::User(n, role) => {
                    (Some((n.into(), "Passw0rd1".into())), Box::new(move |a| role_may(role, a, public)))
                }
                Caller::Admin => (Some(("admin".into(), ADMIN_PASSWORD.into())), Box::new(|_| true)),
                Caller::Disabled => (Some(("disabled".into(), "Passw0rd1".into())), Box::new(|_| false)),
                Caller::Robot(n, grants) => {
                    (secrets.get(&(project, n)).cloned(), Box::new(move |a| robot_may(grants, a, public)))
                }
                Caller::ExpiredRobot => (secrets.get(&(project, "expired")).cloned(), Box::new(|_| false)),
            };
            for act in ACTS {
                counter += 1;
                if let Some(f) = attempt(&app, project, public, act, counter, &creds, expected(act)).await {
                    failures.push(format!("{caller:?} {f}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {counter} checks failed:\n{}", failures.len(), failures.join("\n"));
}

/// Tries `act` on `project` with `creds`; a description of the answer when it is not what
/// `allowed` says.
async fn attempt(
    app: &TestApp,
    project: &str,
    public: bool,
    act: Act,
    n: usize,
    creds: &Creds,
    allowed: bool,
) -> Option<String> {
    let (method, path, body) = prepare(app, project, public, act, n).await;
    let mut req = app.anon(method.clone(), &path);
    if let Some((u, p)) = creds {
        req = req.basic_auth(u, Some(p));
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let status = req.call().await.status();
    (status.is_success() != allowed).then(|| format!("{act:?} on {project}: {method} {path} -> {status}"))
}

/// How the users of [`external_users_times_every_action`] sign in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum External {
    Ldap,
    Oidc,
}

/// Directory (LDAP) and single sign-on (OIDC, with CLI secrets) users against the same matrix:
/// roles through their directory or provider groups, their own memberships, and the admin group.
async fn external_users_times_every_action(mode: External) {
    let app = TestApp::start().await;
    let mut slapd = None;
    let mut provider = None;
    let mut creds = std::collections::HashMap::new();
    let developers = match mode {
        External::Ldap => {
            let s = crate::support::ldap::Slapd::start();
            let mut conf = crate::support::ldap::configuration(&s.url);
            conf["auth_mode"] = json!("ldap_auth");
            let res = app.admin(Method::PUT, "/api/v2.0/configurations").json(&conf).call().await;
            assert_eq!(res.status(), reqwest::StatusCode::OK, "{}", res.text());
            for name in ["alice", "bob", "carol", "dave"] {
                creds.insert(name, crate::support::ldap::password(name));
                // Accounts are made at the first sign-in, which records their groups.
                app.anon(Method::GET, "/api/v2.0/users/current")
                    .basic_auth(name, Some(crate::support::ldap::password(name)))
                    .call()
                    .await;
            }
            slapd = Some(s);
            json!({"ldap_group_dn": format!("cn=developers,ou=groups,{}", crate::support::ldap::BASE)})
        }
        External::Oidc => {
            let p = crate::support::oidc::Provider::start(&format!("{}/c/oidc/callback", app.base));
            let res = app
                .admin(Method::PUT, "/api/v2.0/configurations")
                .json(&json!({"auth_mode": "oidc_auth", "oidc_endpoint": p.issuer, "oidc_client_id": "wharf",
                    "oidc_client_secret": crate::support::oidc::CLIENT_SECRET,
                    "oidc_scope": "openid,profile,groups,offline_access", "oidc_groups_claim": "groups",
                    "oidc_admin_group": "wharf-admins", "oidc_auto_onboard": true}))
                .call()
                .await;
            assert_eq!(res.status(), reqwest::StatusCode::OK, "{}", res.text());
            for name in ["alice", "bob", "carol"] {
                let mut b = crate::support::oidc::Browser::new();
                b.sign_in_at(&format!("{}/c/oidc/login", app.base), name).await;
                let (_, _, body) =
                    b.send(Method::GET, &format!("{}/api/v2.0/users/current", app.base), None).await;
                let me: serde_json::Value = serde_json::from_str(&body).expect("json");
                creds.insert(name, me["oidc_user_meta"]["secret"].as_str().expect("secret").to_owned());
            }
            provider = Some(p);
            json!({"group_name": "developers", "group_type": 3})
        }
    };
    // The local accounts `prepare` gives roles to (they cannot sign in in these modes).
    for name in ["lguest", "guest", "dev", "maint", "padmin", "disabled"] {
        app.create_user(name, "Passw0rd1").await;
    }
    for (name, ..) in VIA_GROUPS {
        app.create_user(name, "Passw0rd1").await;
    }
    for (project, public) in [("pub", true), ("priv", false)] {
        app.create_project(project, public).await;
        app.push_image(&format!("{project}/app"), "v1").await;
        let res = app
            .admin(Method::POST, &format!("/api/v2.0/projects/{project}/members"))
            .json(&json!({"role_id": Role::Developer.id(), "member_group": developers}))
            .call()
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{}", res.text());
    }
    // bob is also a Maintainer of priv himself.
    app.add_member("priv", user_id(&app, "bob").await, Role::Maintainer).await;
    // What Harbor gives each: alice a Developer through the group; bob the stronger of his own
    // role and the group's (in LDAP he is in developers, in OIDC in ops); carol administers.
    let role_of = |name: &str, public: bool| -> Option<Option<Role>> {
        match (name, public, mode) {
            ("alice", _, _) => Some(Some(Role::Developer)),
            ("bob", false, _) => Some(Some(Role::Maintainer)),
            ("bob", true, External::Ldap) => Some(Some(Role::Developer)),
            ("bob", true, External::Oidc) => Some(None),
            // An administrator: everything.
            ("carol", ..) => None,
            _ => Some(None),
        }
    };
    let mut failures = Vec::new();
    let mut counter = 0;
    for (project, public) in [("pub", true), ("priv", false)] {
        for (name, secret) in &creds {
            let c: Creds = Some(((*name).to_owned(), secret.clone()));
            for act in ACTS {
                counter += 1;
                let allowed = match (*name, role_of(name, public)) {
                    // dave is filtered out by the directory: refused outright.
                    ("dave", _) => false,
                    (_, None) => true,
                    (_, Some(role)) => role_may(role, act, public),
                };
                if let Some(f) = attempt(&app, project, public, act, counter, &c, allowed).await {
                    failures.push(format!("{mode:?} {name} {f}"));
                }
            }
        }
    }
    drop((slapd, provider));
    assert!(failures.is_empty(), "{} of {counter} checks failed:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn directory_users_times_every_action() {
    external_users_times_every_action(External::Ldap).await;
}

#[tokio::test]
async fn single_sign_on_users_times_every_action() {
    external_users_times_every_action(External::Oidc).await;
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    wharf::db::users::by_username(app.state.db.reader(), name).await.expect("query").expect("user").id
}

/// Sets up a fresh target for one check (as the admin) and returns the request to try.
async fn prepare(
    app: &TestApp,
    project: &str,
    public: bool,
    act: Act,
    n: usize,
) -> (Method, String, Option<serde_json::Value>) {
    match act {
        Act::Pull => (Method::GET, format!("/v2/{project}/app/manifests/v1"), None),
        Act::Push => (Method::POST, format!("/v2/{project}/app/blobs/uploads/"), None),
        Act::DeleteTag => {
            let (_, manifest, _) = app.push_image(&format!("{project}/app"), "base").await;
            app.put_manifest(&format!("{project}/app"), &format!("t{n}"), OCI_MANIFEST, &manifest).await;
            (Method::DELETE, format!("/v2/{project}/app/manifests/t{n}"), None)
        }
        Act::DeleteArtifact => {
            let (digest, _, _) = app.push_image(&format!("{project}/app"), &format!("a{n}")).await;
            (
                Method::DELETE,
                format!("/api/v2.0/projects/{project}/repositories/app/artifacts/{digest}"),
                None,
            )
        }
        Act::DeleteRepository => {
            app.push_image(&format!("{project}/r{n}"), "v1").await;
            (Method::DELETE, format!("/api/v2.0/projects/{project}/repositories/r{n}"), None)
        }
        Act::ListMembers => (Method::GET, format!("/api/v2.0/projects/{project}/members"), None),
        Act::AddMember => {
            let name = format!("spare{n}");
            app.create_user(&name, "Passw0rd1").await;
            let body = json!({"role_id": 3, "member_user": {"username": name}});
            (Method::POST, format!("/api/v2.0/projects/{project}/members"), Some(body))
        }
        Act::CreateRobot => {
            let body = json!({"name": format!("bot{n}"), "duration": -1, "level": "project",
                "permissions": [{"kind": "project", "namespace": project, "access": [{"resource": "repository", "action": "pull"}]}]});
            (Method::POST, "/api/v2.0/robots".into(), Some(body))
        }
        Act::DeleteProject => {
            // A fresh empty project with the same visibility; the caller gets their usual role there.
            let name = format!("{project}-empty{n}");
            app.create_project(&name, public).await;
            for (user, role) in [
                ("lguest", Role::LimitedGuest),
                ("guest", Role::Guest),
                ("dev", Role::Developer),
                ("maint", Role::Maintainer),
                ("padmin", Role::ProjectAdmin),
                ("disabled", Role::ProjectAdmin),
            ] {
                let id = user_id(app, user).await;
                app.add_member(&name, id, role).await;
            }
            grant_via_groups(app, &name).await;
            (Method::DELETE, format!("/api/v2.0/projects/{name}"), None)
        }
    }
}
