//! Signing in with the company directory, against a real OpenLDAP server (`slapd`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::ldap::{self, Slapd};
use crate::support::*;

async fn ldap_app(slapd: &Slapd) -> TestApp {
    let app = TestApp::start().await;
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&ldap::configuration(&slapd.url))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    app
}

#[tokio::test]
async fn directory_users_sign_in_are_made_at_first_sign_in_and_groups_grant_admin() {
    let slapd = Slapd::start();
    let app = ldap_app(&slapd).await;
    let v: Value = app.anon(Method::GET, "/api/v2.0/systeminfo").call().await.json();
    assert_eq!(v["auth_mode"], "ldap_auth");

    // The settings test: the stored ones work; a wrong password for the search DN says so.
    let ok: Value = app.admin(Method::POST, "/api/v2.0/ldap/ping").call().await.json();
    assert_eq!(ok["success"], true, "{ok}");
    let bad: Value = app
        .admin(Method::POST, "/api/v2.0/ldap/ping")
        .json(&json!({"ldap_search_password": "wrong"}))
        .call()
        .await
        .json();
    assert_eq!(bad["success"], false);
    assert!(bad["message"].as_str().is_some_and(|m| m.contains("search DN")), "{bad}");

    // alice signs in with her directory password (API Basic, and the registry's /v2/).
    let alice = app.caller("alice", &ldap::password("alice"));
    let me: Value = alice.get("/api/v2.0/users/current").await.expect(StatusCode::OK).json();
    assert_eq!((me["username"].as_str(), me["email"].as_str()), (Some("alice"), Some("alice@wharf.test")));
    assert_eq!((me["realname"].as_str(), me["sysadmin_flag"].as_bool()), (Some("Alice Archer"), Some(false)));
    let v2 = app.anon(Method::GET, "/v2/").basic_auth("alice", Some(ldap::password("alice"))).call().await;
    assert_eq!(v2.status(), StatusCode::OK);
    // A wrong password, a user outside the filter, and an unknown user are all refused alike.
    for (user, pass) in
        [("alice", "nope".to_owned()), ("dave", ldap::password("dave")), ("zed", "x".to_owned())]
    {
        let res = app.anon(Method::GET, "/api/v2.0/users/current").basic_auth(user, Some(pass)).call().await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{user}");
    }
    // carol is in the admin group.
    let carol = app.caller("carol", &ldap::password("carol"));
    let me: Value = carol.get("/api/v2.0/users/current").await.expect(StatusCode::OK).json();
    assert_eq!(me["sysadmin_flag"], true);
    // Accounts and passwords belong to the directory: none made or changed here (the local
    // admin's own password still changes).
    let users: Value = app.admin(Method::GET, "/api/v2.0/users?q=username%3D~ali").call().await.json();
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    let res = app
        .admin(Method::POST, "/api/v2.0/users")
        .json(&json!({"username": "local", "email": "l@x.test", "realname": "L", "password": "Passw0rd1"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}", res.text());
    let res = app
        .anon(Method::PUT, &format!("/api/v2.0/users/{}/password", me["user_id"]))
        .basic_auth("carol", Some(ldap::password("carol")))
        .json(&json!({"old_password": ldap::password("carol"), "new_password": "N3wPassw0rd"}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains("ldap_auth"), "{}", res.text());

    // Search and import.
    let found: Value = app.admin(Method::GET, "/api/v2.0/ldap/users/search?username=bo").call().await.json();
    assert_eq!(found, json!([{"username": "bob", "realname": "Bob Baker", "email": "bob@wharf.test"}]));
    let groups: Value =
        app.admin(Method::GET, "/api/v2.0/ldap/groups/search?groupname=dev").call().await.json();
    assert_eq!(
        groups,
        json!([{"id": 0, "group_name": "developers", "group_type": 1, "ldap_group_dn": format!("cn=developers,ou=groups,{}", ldap::BASE)}])
    );
    let by_dn: Value = app
        .admin(
            Method::GET,
            &format!(
                "/api/v2.0/ldap/groups/search?groupdn=cn%3Dadmins%2Cou%3Dgroups%2C{}",
                ldap::BASE.replace('=', "%3D").replace(',', "%2C")
            ),
        )
        .call()
        .await
        .json();
    assert_eq!(by_dn[0]["group_name"], "admins");
    let res = app
        .admin(Method::POST, "/api/v2.0/ldap/users/import")
        .json(&json!({"ldap_uid_list": ["bob"]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let res = app
        .admin(Method::POST, "/api/v2.0/ldap/users/import")
        .json(&json!({"ldap_uid_list": ["nobody"]}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>()[0]["uid"], "nobody");
    let bob: Value = app.admin(Method::GET, "/api/v2.0/users?q=username%3Dbob").call().await.json();
    assert_eq!(bob[0]["email"], "bob@wharf.test", "imported before signing in");
    // Non-administrators may not use the directory API.
    alice.get("/api/v2.0/ldap/users/search?username=a").await.expect(StatusCode::FORBIDDEN);

    // With the directory down: a clear 503 for directory users (no hang), the admin still in.
    slapd.stop();
    let started = std::time::Instant::now();
    let res = app
        .anon(Method::GET, "/api/v2.0/users/current")
        .basic_auth("bob", Some(ldap::password("bob")))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{}", res.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    let v2 = app.anon(Method::GET, "/v2/").basic_auth("bob", Some(ldap::password("bob"))).call().await;
    assert_eq!(v2.status(), StatusCode::SERVICE_UNAVAILABLE);
    app.as_admin().get("/api/v2.0/users/current").await.expect(StatusCode::OK);
    let down: Value = app.admin(Method::POST, "/api/v2.0/ldap/ping").call().await.json();
    assert_eq!(down["success"], false);
    assert!(down["message"].as_str().is_some_and(|m| m.contains("cannot be reached")), "{down}");
}

#[tokio::test]
async fn directory_groups_grant_roles_and_the_directory_is_followed_at_the_next_check() {
    let slapd = Slapd::start();
    // A one-second credential window, so the test sees the directory's changes take effect.
    let app = TestApp::start_with(|_, s| s.credential_cache = Some("1s".parse().expect("duration"))).await;
    let res = app
        .admin(Method::PUT, "/api/v2.0/configurations")
        .json(&ldap::configuration(&slapd.url))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let developers = format!("cn=developers,ou=groups,{}", ldap::BASE);

    // An administrator imports the directory's group by DN; its name comes from the directory.
    let res = app
        .admin(Method::POST, "/api/v2.0/usergroups")
        .json(&json!({"group_type": 1, "ldap_group_dn": developers}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let group: Value =
        app.admin(Method::GET, &format!("/api/v2.0/usergroups/{}", res.created_id())).call().await.json();
    assert_eq!((group["group_name"].clone(), group["group_type"].clone()), (json!("developers"), json!(1)));
    let res = app
        .admin(Method::POST, "/api/v2.0/usergroups")
        .json(&json!({"group_type": 1, "ldap_group_dn": format!("cn=ghosts,ou=groups,{}", ldap::BASE)}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a DN the directory does not have");

    // The group is a Developer of a private project: alice and bob, never signed in, push.
    app.create_project("dev", false).await;
    let res = app
        .admin(Method::POST, "/api/v2.0/projects/dev/members")
        .json(&json!({"role_id": 2, "member_group": {"ldap_group_dn": developers.to_uppercase()}}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let upload = |user: &'static str| {
        let req =
            app.anon(Method::POST, "/v2/dev/app/blobs/uploads/").basic_auth(user, Some(ldap::password(user)));
        async move { req.call().await.status() }
    };
    assert_eq!(upload("alice").await, StatusCode::ACCEPTED);
    assert_eq!(upload("bob").await, StatusCode::ACCEPTED);
    assert_eq!(upload("carol").await, StatusCode::ACCEPTED, "carol is an administrator (admins)");
    // The sign-in recorded the groups the directory named (under the group base DN).
    let carol: Value = app.admin(Method::GET, "/api/v2.0/usergroups?group_name=admins").call().await.json();
    assert_eq!(carol[0]["ldap_group_dn"], format!("cn=admins,ou=groups,{}", ldap::BASE), "{carol}");

    // A refresh token (what `docker login` keeps instead of the password) works while bob is in
    // the directory.
    let token = |form: Vec<(&'static str, String)>| {
        let req = app.anon(Method::POST, "/service/token").form(&form);
        async move { req.call().await }
    };
    let res = token(vec![
        ("grant_type", "password".into()),
        ("username", "bob".into()),
        ("password", ldap::password("bob")),
        ("service", "wharf".into()),
        ("access_type", "offline".into()),
    ])
    .await;
    let refresh = res.json::<Value>()["refresh_token"].as_str().expect("refresh token").to_owned();
    let redeem = || {
        token(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
            ("service", "wharf".into()),
        ])
    };
    assert_eq!(redeem().await.status(), StatusCode::OK);

    // The directory takes alice out of the group and deletes bob. Within the window their
    // verified sign-ins still hold; after it, alice is a stranger to the project and bob is
    // refused outright.
    slapd.modify(&format!(
        "dn: {developers}\nchangetype: modify\ndelete: member\nmember: uid=alice,ou=people,{}\n",
        ldap::BASE
    ));
    slapd.modify(&format!("dn: uid=bob,ou=people,{}\nchangetype: delete\n", ldap::BASE));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(upload("alice").await, StatusCode::FORBIDDEN);
    assert_eq!(upload("bob").await, StatusCode::UNAUTHORIZED);
    let res = app
        .anon(Method::GET, "/api/v2.0/users/current")
        .basic_auth("bob", Some(ldap::password("bob")))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(redeem().await.status(), StatusCode::UNAUTHORIZED, "his refresh token ends with him");
    // Back in the group, alice pushes again at her next check.
    slapd.modify(&format!(
        "dn: {developers}\nchangetype: modify\nadd: member\nmember: uid=alice,ou=people,{}\n",
        ldap::BASE
    ));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(upload("alice").await, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn starttls_trusts_the_directorys_certificate_when_given_and_refuses_it_otherwise() {
    let slapd = Slapd::start();
    let app = ldap_app(&slapd).await;
    let set = |extra: Value| {
        let req = app.admin(Method::PUT, "/api/v2.0/configurations").json(&extra);
        async move {
            let res = req.call().await;
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
        }
    };
    let status = |user: &'static str| {
        let req =
            app.anon(Method::GET, "/api/v2.0/users/current").basic_auth(user, Some(ldap::password(user)));
        async move { req.call().await.status() }
    };
    // StartTLS with verification and a self-signed certificate nobody trusts: refused.
    set(json!({"ldap_start_tls": true, "ldap_verify_cert": true})).await;
    assert_eq!(status("bob").await, StatusCode::SERVICE_UNAVAILABLE);
    let ping: Value = app.admin(Method::POST, "/api/v2.0/ldap/ping").call().await.json();
    assert_eq!(ping["success"], false, "{ping}");
    // Trusting the directory's certificate: signed in over TLS.
    set(json!({"ldap_ca_cert": slapd.certificate()})).await;
    let ping: Value = app.admin(Method::POST, "/api/v2.0/ldap/ping").call().await.json();
    assert_eq!(ping["success"], true, "{ping}");
    assert_eq!(status("alice").await, StatusCode::OK);
    // Or skipping verification.
    set(json!({"ldap_ca_cert": "", "ldap_verify_cert": false})).await;
    assert_eq!(status("carol").await, StatusCode::OK);
    // A certificate that is not PEM is refused when set, with the reason; nothing changes.
    for bad in ["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", "just text"] {
        let res = app
            .admin(Method::PUT, "/api/v2.0/configurations")
            .json(&json!({"ldap_ca_cert": bad, "ldap_verify_cert": true}))
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().contains("ldap_ca_cert"), "{}", res.text());
    }
    assert_eq!(status("bob").await, StatusCode::OK, "the settings in force are unchanged");
}
