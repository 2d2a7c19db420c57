//! Pushing blobs: monolithic, POST+PUT, chunked, streamed, status, cancel, mount, and the
//! failures of each.

use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha512};

use crate::support::*;

async fn start(app: &TestApp, repo: &str) -> String {
    let res = app.admin(Method::POST, &format!("/v2/{repo}/blobs/uploads/")).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(header(&res, "docker-upload-uuid").is_some());
    assert_eq!(header(&res, "range"), Some("0-0"));
    header(&res, "location").expect("location").to_owned()
}

/// Names of the upload part objects left in storage (on whichever backend the test runs).
async fn upload_files(app: &TestApp) -> Vec<String> {
    app.state.store.list(&wharf::storage::StorageKey::UploadArea).await.expect("list uploads")
}

async fn get_blob(app: &TestApp, repo: &str, digest: &str) -> Vec<u8> {
    let res = app.admin(Method::GET, &format!("/v2/{repo}/blobs/{digest}")).call().await;
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().to_vec()
}

#[tokio::test]
async fn monolithic_push_verifies_the_digest() {
    let app = TestApp::start().await;
    let data = random_bytes(70_000);
    let d = sha256(&data);
    let res = app
        .admin(Method::POST, &format!("/v2/library/mono/blobs/uploads/?digest={d}"))
        .body(data.clone())
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(header(&res, "location"), Some(format!("/v2/library/mono/blobs/{d}").as_str()));
    assert_eq!(header(&res, "docker-content-digest"), Some(d.as_str()));
    assert_eq!(get_blob(&app, "library/mono", &d).await, data);

    let wrong = sha256(b"something else");
    let res = app
        .admin(Method::POST, &format!("/v2/library/mono/blobs/uploads/?digest={wrong}"))
        .body(data.clone())
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let res = app.admin(Method::HEAD, &format!("/v2/library/mono/blobs/{wrong}")).call().await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "content never lands under a digest it does not match");
    let res = app
        .admin(Method::POST, "/v2/library/mono/blobs/uploads/?digest=sha256:nothex")
        .body("x")
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let res = app
        .admin(Method::POST, &format!("/v2/library/mono/blobs/uploads/?digest=md5:{}", "a".repeat(32)))
        .body("x")
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn sha512_digests_are_accepted() {
    let app = TestApp::start().await;
    let data = random_bytes(5_000);
    let d = format!("sha512:{}", hex::encode(Sha512::digest(&data)));
    let loc = start(&app, "library/s512").await;
    let res = app.admin(Method::PATCH, &loc).body(data.clone()).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = app.admin(Method::PUT, &format!("{loc}?digest={d}")).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get_blob(&app, "library/s512", &d).await, data);
}

#[tokio::test]
async fn post_then_put_with_the_whole_body() {
    let app = TestApp::start().await;
    let data = random_bytes(1234);
    let d = sha256(&data);
    let loc = start(&app, "library/pp").await;
    let res = app.admin(Method::PUT, &format!("{loc}?digest={d}")).body(data.clone()).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get_blob(&app, "library/pp", &d).await, data);
    // The session is gone once committed.
    let res = app.admin(Method::GET, &loc).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn chunked_upload_in_order_with_status_and_out_of_order_refused() {
    let app = TestApp::start().await;
    let data = random_bytes(3 * 100_000 + 17);
    let d = sha256(&data);
    let loc = start(&app, "library/chunks").await;
    let mut offset = 0usize;
    for chunk in data.chunks(100_000) {
        let end = offset + chunk.len() - 1;
        let res = app
            .admin(Method::PATCH, &loc)
            .header("content-range", format!("{offset}-{end}"))
            .header("content-type", "application/octet-stream")
            .body(chunk.to_vec())
            .call()
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(header(&res, "range"), Some(format!("0-{end}").as_str()));
        offset += chunk.len();
        if offset == 200_000 {
            // A chunk that does not start where the upload ends is refused with 416.
            let res = app
                .admin(Method::PATCH, &loc)
                .header("content-range", "0-9")
                .body(vec![0u8; 10])
                .call()
                .await;
            expect_error(res, StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID").await;
            let res = app
                .admin(Method::PATCH, &loc)
                .header("content-range", "250000-250009")
                .body(vec![0u8; 10])
                .call()
                .await;
            expect_error(res, StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID").await;
            let res = app.admin(Method::GET, &loc).call().await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
            assert_eq!(header(&res, "range"), Some("0-199999"));
        }
    }
    let res = app.admin(Method::PUT, &format!("{loc}?digest={d}")).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get_blob(&app, "library/chunks", &d).await, data);
    assert_eq!(upload_files(&app).await, Vec::<String>::new(), "a committed upload leaves no parts");
}

#[tokio::test]
async fn chunk_length_must_match_its_range() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/cl").await;
    let res = app.admin(Method::PATCH, &loc).header("content-range", "0-99").body(vec![1u8; 10]).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "SIZE_INVALID").await;
    let res = app.admin(Method::PATCH, &loc).header("content-range", "garbage").body("x").call().await;
    expect_error(res, StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID").await;
    let res = app.admin(Method::GET, &loc).call().await;
    assert_eq!(header(&res, "range"), Some("0-0"), "nothing was appended");
}

#[tokio::test]
async fn streamed_patch_without_range_then_put_with_a_final_chunk() {
    let app = TestApp::start().await;
    let data = random_bytes(500_000);
    let d = sha256(&data);
    let loc = start(&app, "library/stream").await;
    let (head, tail) = data.split_at(400_000);
    let body = reqwest::Body::wrap_stream(futures_stream(head.to_vec()));
    let res = app.admin(Method::PATCH, &loc).body(body).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&res, "range"), Some("0-399999"));
    let res = app
        .admin(Method::PUT, &format!("{loc}?digest={d}"))
        .header("content-range", "400000-499999")
        .body(tail.to_vec())
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get_blob(&app, "library/stream", &d).await, data);
}

fn futures_stream(data: Vec<u8>) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

#[tokio::test]
async fn a_wrong_digest_at_put_drops_the_session() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/bad").await;
    app.admin(Method::PATCH, &loc).body("abc").call().await;
    let res = app.admin(Method::PUT, &format!("{loc}?digest={}", sha256(b"abd"))).call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let res = app.admin(Method::GET, &loc).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    let loc = start(&app, "library/bad").await;
    let res = app.admin(Method::PUT, &loc).body("abc").call().await;
    expect_error(res, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn cancel_and_unknown_sessions() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/cancel").await;
    app.admin(Method::PATCH, &loc).body(random_bytes(1000)).call().await;
    let cancelled = loc.rsplit('/').next().expect("id").to_owned();
    let res = app.admin(Method::DELETE, &loc).call().await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(upload_files(&app).await.iter().all(|f| !f.contains(&cancelled)), "the partial data is gone");
    let res = app.admin(Method::PATCH, &loc).body("more").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    let res = app.admin(Method::DELETE, &loc).call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    let res = app.admin(Method::GET, "/v2/library/cancel/blobs/uploads/not-a-uuid").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    // A session of one repository cannot be used through another.
    let loc = start(&app, "library/owner").await;
    let other = loc.replace("library/owner", "library/thief");
    app.push_blob("library/thief", b"x").await;
    let res = app.admin(Method::PATCH, &other).body("x").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn cross_repository_mount_links_or_falls_back() {
    let app = TestApp::start().await;
    let d = app.push_blob("library/src", b"shared layer").await;
    let res = app
        .admin(Method::POST, &format!("/v2/library/dst/blobs/uploads/?mount={d}&from=library/src"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(header(&res, "location"), Some(format!("/v2/library/dst/blobs/{d}").as_str()));
    assert_eq!(get_blob(&app, "library/dst", &d).await, b"shared layer");
    // The source lacks the blob: a normal upload session starts instead.
    let other = sha256(b"not there");
    let res = app
        .admin(Method::POST, &format!("/v2/library/dst/blobs/uploads/?mount={other}&from=library/src"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // An unknown source project also falls back.
    let res = app
        .admin(Method::POST, &format!("/v2/library/dst/blobs/uploads/?mount={d}&from=nosuch/src"))
        .call()
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn racing_chunks_at_the_same_offset_never_mix() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/race").await;
    let a = random_bytes(200_000);
    let b = random_bytes(200_000);
    let (ra, rb) = tokio::join!(
        app.admin(Method::PATCH, &loc).header("content-range", "0-199999").body(a.clone()).call(),
        app.admin(Method::PATCH, &loc).header("content-range", "0-199999").body(b.clone()).call(),
    );

    let statuses = [ra.status(), rb.status()];
    assert!(statuses.contains(&StatusCode::ACCEPTED), "{statuses:?}");
    let winner = if ra.status() == StatusCode::ACCEPTED { &a } else { &b };
    if statuses.iter().all(|s| *s == StatusCode::ACCEPTED) {
        panic!("both chunks were accepted at offset 0");
    }
    let d = sha256(winner);
    let res = app.admin(Method::PUT, &format!("{loc}?digest={d}")).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(&get_blob(&app, "library/race", &d).await, winner);
}

#[tokio::test]
async fn a_truncated_body_appends_nothing() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/trunc").await;
    cut_off_patch(&app, &loc, 5000).await;
    let res = app.admin(Method::GET, &loc).call().await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&res, "range"), Some("0-0"), "a half-sent chunk must not count");
}

/// A `PATCH` to `loc` announcing 100,000 bytes whose client sends `sent` and goes away.
async fn cut_off_patch(app: &TestApp, loc: &str, sent: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let auth = base64_basic("admin", ADMIN_PASSWORD);
    let req = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Length: 100000\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(&vec![7u8; sent]).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut Vec::new())).await;
}

fn base64_basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

#[tokio::test]
async fn an_account_may_keep_only_so_many_upload_sessions_open() {
    let app = TestApp::start_with(|_, s| s.max_uploads = Some(3)).await;
    let dev = app.create_user("dev", "Passw0rd1").await;
    app.add_member("library", dev, wharf::auth::Role::Developer).await;
    let start = |user: &'static str, pass: &'static str| {
        app.anon(Method::POST, "/v2/library/app/blobs/uploads/").basic_auth(user, Some(pass)).call()
    };
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let res = start("admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        sessions.push(header(&res, "location").expect("location").to_owned());
    }
    let res = start("admin", ADMIN_PASSWORD).await;
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS").await;
    // Another account is not affected, nor are one-request (monolithic) uploads.
    assert_eq!(start("dev", "Passw0rd1").await.status(), StatusCode::ACCEPTED);
    app.push_blob("library/app", b"monolithic").await;
    // Finishing or cancelling one frees a place.
    let res = app.admin(Method::DELETE, &sessions[0]).call().await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(start("admin", ADMIN_PASSWORD).await.status(), StatusCode::ACCEPTED);
}

/// A refused or cut-off chunk leaves nothing behind, so the blob is exactly the accepted chunks;
/// and a chunk for an upload that has completed is refused without touching the blob.
#[tokio::test]
async fn refused_bytes_never_reach_the_blob_and_late_chunks_are_refused() {
    let app = TestApp::start().await;
    let loc = start(&app, "library/once").await;
    let (a, b) = (random_bytes(300_000), random_bytes(200_000));
    let res = app.admin(Method::PATCH, &loc).header("content-range", "0-299999").body(a.clone()).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Announces 100 bytes, sends 10: refused once its bytes were received and stored.
    let res = app
        .admin(Method::PATCH, &loc)
        .header("content-range", "300000-300099")
        .body(vec![9u8; 10])
        .call()
        .await;
    expect_error(res, StatusCode::BAD_REQUEST, "SIZE_INVALID").await;
    cut_off_patch(&app, &loc, 50_000).await;
    let res = app.admin(Method::GET, &loc).call().await;
    assert_eq!(header(&res, "range"), Some("0-299999"), "only the accepted chunk counts");

    let res =
        app.admin(Method::PATCH, &loc).header("content-range", "300000-499999").body(b.clone()).call().await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let objects = app.state.store.list_objects(&wharf::storage::StorageKey::UploadArea).await.expect("list");
    let sizes: Vec<u64> = objects.iter().map(|o| o.size).collect();
    if app.state.store.stages_in_place() {
        assert_eq!(
            sizes,
            [500_000],
            "one staging object of the accepted chunks, nothing of the refused ones"
        );
    } else {
        assert_eq!(sizes.len(), 2, "one object per accepted chunk, nothing of the refused ones: {objects:?}");
    }
    let whole = [a, b].concat();
    let d = sha256(&whole);
    let res = app.admin(Method::PUT, &format!("{loc}?digest={d}")).call().await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(get_blob(&app, "library/once", &d).await, whole);
    assert!(upload_files(&app).await.is_empty(), "the upload's data is gone once it is a blob");

    let res = app.admin(Method::PATCH, &loc).body("late").call().await;
    expect_error(res, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    assert_eq!(get_blob(&app, "library/once", &d).await, whole, "a late chunk never reaches the blob");
    assert!(upload_files(&app).await.is_empty());
}
