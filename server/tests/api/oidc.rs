//! OpenID Connect against a real provider (`oidc-provider`, run with Node.js).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::oidc::Provider;
use crate::support::*;

#[tokio::test]
async fn the_ping_finds_a_provider_and_explains_what_is_not_one() {
    let app = TestApp::start().await;
    let provider = Provider::start(&format!("{}/c/oidc/callback", app.base));
    let ping = |url: String| app.admin(Method::POST, "/api/v2.0/system/oidc/ping").json(&json!({"url": url}));
    let res = ping(provider.issuer.clone()).call().await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let res = ping(format!("{}/", provider.issuer)).call().await;
    assert_eq!(res.status(), StatusCode::OK, "a trailing slash is the same issuer: {}", res.text());
    // Wharf itself is no provider; nothing listens on the other; the last is no URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    for url in [app.base.clone(), format!("http://{closed}"), "not a url".to_owned()] {
        let res = ping(url.clone()).call().await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{url}: {}", res.text());
        assert!(res.text().contains("OIDC"), "{url}: {}", res.text());
    }
    let user = app.create_user("olive", "Passw0rd1").await;
    assert!(user > 0);
    let res = app
        .anon(Method::POST, "/api/v2.0/system/oidc/ping")
        .basic_auth("olive", Some("Passw0rd1"))
        .json(&json!({"url": provider.issuer}))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
