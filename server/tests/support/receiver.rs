//! A real HTTP receiver for webhook tests: records every request, answers a chosen status
//! (optionally after a delay), and can go down (listener and every open connection dropped, so
//! senders see refused or reset connections) and come back on the same port.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: serde_json::Value,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    port: u16,
    log: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    answer_len: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver answering 200 on a free port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut r = Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            log: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
            connections: Arc::default(),
            answer_len: Arc::new(AtomicU64::new(2)),
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (log, status, delay) = (self.log.clone(), self.status.clone(), self.delay_ms.clone());
        let (accepted, answer_len) = (self.connections.clone(), self.answer_len.clone());
        self.task = Some(tokio::spawn(async move {
            // Connections live in this set: aborting the accept task drops them all.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (log, status, delay) = (log.clone(), status.clone(), delay.clone());
                let answer_len = answer_len.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let (log, status, delay) = (log.clone(), status.clone(), delay.clone());
                            let len = answer_len.load(Ordering::SeqCst) as usize;
                            async move {
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect();
                                let bytes =
                                    req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                let wait = delay.load(Ordering::SeqCst);
                                if wait > 0 {
                                    tokio::time::sleep(Duration::from_millis(wait)).await;
                                }
                                let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                                log.lock().expect("log").push(Received { headers, body });
                                let code = status.load(Ordering::SeqCst);
                                let mut res =
                                    hyper::Response::new(Full::new(Bytes::from("ok".repeat(len / 2))));
                                *res.status_mut() =
                                    hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::OK);
                                Ok::<_, std::convert::Infallible>(res)
                            }
                        });
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                        .ok();
                });
            }
        }));
    }

    /// Answers `code` from now on.
    pub fn answer(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    /// Answers a body of `len` bytes from now on ("ok" by default, as Slack does).
    pub fn answer_len(&self, len: u64) {
        self.answer_len.store(len, Ordering::SeqCst);
    }

    /// Holds each request `ms` before recording and answering it.
    pub fn delay(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Goes down: the port refuses connections and open ones are dropped.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Comes back on the same port.
    pub async fn resume(&mut self) {
        self.stop();
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }

    /// How many connections senders opened so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until `pred` holds for what was received (at most `secs`); returns it.
    pub async fn wait_until(&self, secs: u64, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver never got what was expected: {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The requests whose event type (either format) is `event`.
    pub fn of_type(&self, event: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| event_type(r) == event).collect()
    }
}

/// The Harbor event type of a request, whichever format it came in.
pub fn event_type(r: &Received) -> String {
    r.headers.get("x-wharf-event").cloned().unwrap_or_default()
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}
