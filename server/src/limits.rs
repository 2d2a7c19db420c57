//! Limits on what one client can hold: how long it may take to send a request body, and how
//! many connections it may keep open. Without them, slow senders (a few bytes a minute) could
//! hold every connection and file descriptor the server has, anonymously.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

/// The largest body an API, token or portal request may have (they are small JSON or forms).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Middleware: a non-registry request's body must arrive whole within the body timeout and be
/// at most [`BODY_LIMIT`] bytes; a registry body (a blob, possibly gigabytes) streams on, but
/// must not stall for longer than the timeout between bytes.
pub async fn body_deadline(State(limit): State<std::time::Duration>, req: Request, next: Next) -> Response {
    if !has_body(&req) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/v2/") {
        return next.run(req.map(|b| idle_limited(b, limit))).await;
    }
    let api = req.uri().path().starts_with("/api/");
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(limit, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) => {
            let too_large =
                std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let (status, message) = if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is over {BODY_LIMIT} bytes"))
            } else {
                (StatusCode::BAD_REQUEST, "the request body could not be read".to_owned())
            };
            refuse(api, status, message)
        }
        Err(_) => refuse(
            api,
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {} s", limit.as_secs_f64()),
        ),
    }
}

fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    let declared = headers.contains_key(header::TRANSFER_ENCODING)
        || headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() != "0");
    declared && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
}

/// An error answer in the API's JSON shape on `/api`, plain text elsewhere.
fn refuse(api: bool, status: StatusCode, message: String) -> Response {
    if api {
        // Harbor's codes are the status names: `REQUEST_TIMEOUT`, `PAYLOAD_TOO_LARGE`, …
        let code = status.canonical_reason().unwrap_or("ERROR").to_uppercase().replace(' ', "_");
        let body = serde_json::json!({ "errors": [{ "code": code, "message": message }] });
        (status, axum::Json(body)).into_response()
    } else {
        (status, message).into_response()
    }
}

/// The body, failing with a timeout error when no bytes arrive for `limit`.
fn idle_limited(body: Body, limit: Duration) -> Body {
    let stream = body.into_data_stream();
    Body::from_stream(futures::stream::unfold(Some(stream), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(item)) => Some((item.map_err(axum::BoxError::from), Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(axum::BoxError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client sent nothing within the body timeout",
                ))),
                None,
            )),
        }
    }))
}

/// Open connections per client address.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
    exempt: crate::auth::client::TrustedProxies,
}

/// A connection counted against its address until it is dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    limit: ConnectionLimit,
    ip: IpAddr,
}

impl ConnectionLimit {
    /// At most `max` connections per address; `exempt` (trusted proxies) are not counted.
    pub fn new(max: usize, exempt: crate::auth::client::TrustedProxies) -> Self {
        Self { open: Arc::default(), max, exempt }
    }

    /// A slot for one more connection from `ip`, or `None` when it holds `max` already.
    /// `Some(None)` means the address is exempt.
    pub fn acquire(&self, ip: IpAddr) -> Option<Option<ConnectionSlot>> {
        let ip = ip.to_canonical();
        if self.exempt.trusts(ip) {
            return Some(None);
        }
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Some(ConnectionSlot { limit: self.clone(), ip }))
    }

    /// Connections open from `ip`.
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        self.open.lock().map_or(0, |m| m.get(&ip.to_canonical()).copied().unwrap_or(0))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_own_allowance_and_gets_it_back() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let l = ConnectionLimit::new(2, crate::auth::client::TrustedProxies::new(vec![proxy.into()]));
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = l.acquire(a).expect("first");
        let second = l.acquire(a).expect("second");
        assert!(l.acquire(a).is_none(), "the third is refused");
        assert!(l.acquire(b).is_some(), "other addresses are unaffected");
        drop(first);
        assert_eq!(l.open_from(a), 1);
        assert!(l.acquire(a).is_some(), "a closed connection frees its slot");
        drop(second);
        for _ in 0..10 {
            assert!(matches!(l.acquire(proxy), Some(None)), "trusted proxies are not counted");
        }
    }
}
