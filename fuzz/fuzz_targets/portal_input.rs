//! What the portal takes from a URL or a request before any page logic: the sign-in `next`
//! path, a digest or reference shortened for a title, text escaped into a page, a query value
//! encoded into a link, and the forwarding headers behind which the real client hides. None may
//! panic, and each keeps its promise: `next` stays on this site, escaped text carries no markup,
//! an encoded value no separator.
#![no_main]

use frontend::components::{encode, escape_html, local_path, short_digest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let next = local_path(Some(input));
    assert!(next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'), "{next:?}");
    assert!(!next.chars().any(char::is_control), "{next:?}");
    assert!(short_digest(input).chars().count() <= 12);
    let escaped = escape_html(input);
    assert!(!escaped.contains(['<', '>', '"', '\'']), "{escaped:?}");
    let encoded = encode(input);
    assert!(!encoded.contains(['&', '=', '#', '?', ' ', '"', '<']), "{encoded:?}");
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(v) = axum::http::HeaderValue::from_str(input) {
        headers.insert("x-forwarded-for", v.clone());
        headers.insert("forwarded", v);
    }
    let trusted = wharf::auth::client::TrustedProxies::new(vec!["0.0.0.0/0".parse().expect("net")]);
    let _ = trusted.client([10, 0, 0, 1].into(), &headers);
});
