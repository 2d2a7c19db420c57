//! Signing in with the company directory from real clients: `docker login` and podman with a
//! directory user's password against a real OpenLDAP server, a directory group's project role
//! granting the push, and a user the directory disables refused at the next check.

use std::time::Duration;

use wharf_e2e::*;

#[path = "../../server/tests/support/ldap.rs"]
#[allow(dead_code, reason = "the shared fixture has helpers this test does not use")]
mod ldap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_log_in_with_docker_and_podman_and_groups_grant_the_push() {
    let slapd = ldap::Slapd::start();
    // A one-second credential window, so the directory's change shows within the test.
    let w = Wharf::start_with_settings(|s| s.credential_cache = Some("1s".parse().expect("duration"))).await;
    let put =
        w.admin_api(reqwest::Method::PUT, "/api/v2.0/configurations", ldap::configuration(&slapd.url)).await;
    assert_eq!(put, reqwest::StatusCode::OK);
    w.create_project("team", false).await;
    let developers = format!("cn=developers,ou=groups,{}", ldap::BASE);
    let added = w
        .admin_api(
            reqwest::Method::POST,
            "/api/v2.0/projects/team/members",
            serde_json::json!({"role_id": 2, "member_group": {"ldap_group_dn": developers}}),
        )
        .await;
    // The group is unknown until imported or seen at a sign-in: import it first.
    assert_eq!(added, reqwest::StatusCode::NOT_FOUND);
    let imported = w
        .admin_api(
            reqwest::Method::POST,
            "/api/v2.0/usergroups",
            serde_json::json!({"group_type": 1, "ldap_group_dn": developers}),
        )
        .await;
    assert_eq!(imported, reqwest::StatusCode::CREATED);
    let added = w
        .admin_api(
            reqwest::Method::POST,
            "/api/v2.0/projects/team/members",
            serde_json::json!({"role_id": 2, "member_group": {"ldap_group_dn": developers}}),
        )
        .await;
    assert_eq!(added, reqwest::StatusCode::CREATED);

    // docker: alice logs in with her directory password and pushes through her group's role.
    let d = Dockerd::start().await;
    let alice_pw = ldap::password("alice");
    run_fails(d.cmd().args(["login", "-u", "alice", "-p", "not-her-password", &w.host])).await;
    run(d.cmd().args(["login", "-u", "alice", "-p", &alice_pw, &w.host])).await;
    let ctx = tempfile::tempdir().expect("tempdir");
    build_context(ctx.path(), &[120_000]);
    let image = w.image("team/app:1");
    run(d
        .cmd()
        .args(["build", "-q", "-f"])
        .arg(ctx.path().join("Containerfile"))
        .args(["-t", &image])
        .arg(ctx.path()))
    .await;
    run(d.cmd().args(["push", &image])).await;
    let alice =
        wharf::db::users::by_username(w.state.db.reader(), "alice").await.expect("query").expect("made");
    assert_eq!(alice.email, "alice@wharf.test", "the account was made from the directory");

    // podman: bob (also in developers) pulls it and pushes another tag; a wrong password is
    // refused.
    let p = Podman::new();
    let bob = format!("bob:{}", ldap::password("bob"));
    run(p.cmd().args(["pull", "--tls-verify=false", "--creds", &bob, &image])).await;
    run(p.cmd().args(["push", "--tls-verify=false", "--creds", &bob, &image, &w.image("team/app:bob")]))
        .await;
    let err = run_fails(p.cmd().args(["pull", "--tls-verify=false", "--creds", "bob:wrong", &image])).await;
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");

    // The directory disables alice (the filter excludes her now): after the credential window
    // her saved docker login no longer pushes, and a fresh login is refused.
    slapd.modify(&format!(
        "dn: uid=alice,ou=people,{}\nchangetype: modify\nadd: description\ndescription: disabled\n",
        ldap::BASE
    ));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = run_fails(d.cmd().args(["push", &image])).await;
    assert!(err.contains("unauthorized") || err.contains("denied") || err.contains("401"), "{err}");
    run_fails(d.cmd().args(["login", "-u", "alice", "-p", &alice_pw, &w.host])).await;
    // The local admin is never the directory's to refuse.
    run(d.cmd().args(["login", "-u", "admin", "-p", ADMIN_PASSWORD, &w.host])).await;
}
