//! Slow and idle clients: a connection that does not send a complete request head within the
//! header timeout is closed, so slow-loris clients cannot hold connections.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let app = TestApp::start_with(|_, s| s.header_timeout = Some("1s".parse().expect("duration"))).await;

    // A slow-loris client: half a request head, then silence.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: wharf\r\nX-Slow: ").await.expect("write");
    let (_, took) = until_closed(&mut slow, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");

    // An idle connection that never sends anything.
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let (_, took) = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");

    // A kept-alive connection: one request is answered, then the idle connection is closed.
    let mut kept = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    kept.write_all(b"GET /v2/ HTTP/1.1\r\nHost: wharf\r\n\r\n").await.expect("write");
    let (answer, took) = until_closed(&mut kept, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");

    // Normal clients are unaffected.
    let res = app.anon(reqwest::Method::GET, "/api/v2.0/health").call().await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}
