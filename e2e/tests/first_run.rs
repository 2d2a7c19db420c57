//! The binary is the whole product: copied alone into an empty folder and started there, it
//! serves the portal with its stylesheet and its hydrating bundle (the browser tests then load
//! those same embedded assets in Chromium).

use std::time::Duration;

use wharf_e2e::{WharfProcess, wharf_binary};

#[tokio::test]
async fn the_binary_alone_serves_the_styled_hydrating_portal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("wharf");
    std::fs::copy(wharf_binary(), &copy).expect("copy the binary");
    let data = dir.path().join("data");
    // Started from the copy, with an empty working directory: no site folder anywhere near.
    let wharf =
        WharfProcess::start_binary(&copy, &[("WHARF_DATA_DIR", data.display().to_string())], dir.path())
            .await;
    let base = format!("http://{}", wharf.host);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
    let html = client.get(format!("{base}/projects")).send().await.expect("page").text().await.expect("html");
    let find = |ext: &str| {
        html.split("\"/pkg/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .find(|name| name.ends_with(ext))
            .map(|name| format!("/pkg/{name}"))
            .unwrap_or_else(|| panic!("the page links no .{ext} asset: {html}"))
    };
    let (css, js, wasm) = (find("css"), find("js"), find("wasm"));
    assert!(html.contains(&format!("<link rel=\"stylesheet\" href=\"{css}\"")), "{html}");
    assert!(html.contains(&format!("import('{js}')")), "the hydration script loads the bundle");
    for (path, content_type, starts) in [
        (&css, "text/css; charset=utf-8", &b""[..]),
        (&js, "text/javascript; charset=utf-8", &b""[..]),
        (&wasm, "application/wasm", &b"\0asm"[..]),
    ] {
        let name = path.trim_start_matches("/pkg/");
        assert!(name.starts_with("wharf-") && name.len() > "wharf-.css".len() + 8, "content hash in {name}");
        let res = client.get(format!("{base}{path}")).send().await.expect("asset");
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{path}");
        let h = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(h("content-type"), content_type, "{path}");
        assert!(h("cache-control").contains("immutable"), "{path}");
        let body = res.bytes().await.expect("body");
        assert!(body.len() > 1000 && body.starts_with(starts), "{path}: {} bytes", body.len());
        if path.ends_with(".css") {
            assert!(String::from_utf8_lossy(&body).contains(":root"), "the stylesheet itself");
        }
        let gz =
            client.get(format!("{base}{path}")).header("accept-encoding", "gzip").send().await.expect("gz");
        assert_eq!(gz.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
        let packed = gz.bytes().await.expect("gzipped");
        assert!(packed.starts_with(&[0x1f, 0x8b]) && packed.len() < body.len(), "{path}");
    }
}
