//! Application state, router assembly, and serving (HTTP or HTTPS) with graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The header carrying a request's id, on the request and on the response.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random per-process prefix and a counter, unique across replicas and restarts
/// without a system call per request (as a v4 UUID from the OS generator would cost).
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        let prefix = format!("{:016x}", rand::random::<u64>());
        Self { prefix: prefix.into(), next: Arc::default() }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:08x}", self.prefix)).ok().map(RequestId::new)
    }
}

use crate::state::{AppState, StartError};

/// Builds the parts of the router that no state shapes (the API's routes and OpenAPI document,
/// the portal's page routes), once per process. They are most of the router's cost, pure CPU,
/// so `wharf serve` runs this on a thread of its own while the database opens: on two cores
/// the start is the longer of the two instead of their sum. [`router`] builds whatever is
/// still missing.
pub fn prepare() {
    let _ = crate::api::document();
    let _ = crate::ui::routes();
}

/// All routes with their middleware.
pub fn router(state: AppState) -> Router {
    let tracking = crate::metrics::Tracking {
        metrics: state.metrics.clone(),
        api_routes: crate::api::document().paths.paths.keys().map(String::as_str).collect(),
    };
    let mut routes = Router::new()
        .merge(crate::registry::handlers::router())
        .merge(crate::api::router().layer(state.sessions.layer()))
        .merge(crate::ui::router(&state));
    if state.config.metrics_listen.is_none() {
        routes = routes.route("/metrics", axum::routing::get(metrics));
    }
    routes
        .layer(axum::middleware::from_fn_with_state(state.config.body_timeout, crate::limits::body_deadline))
        .layer(axum::middleware::from_fn_with_state(tracking, crate::metrics::track))
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::client::TrustedProxies::new(state.config.trusted_proxies.clone()),
            crate::auth::client::resolve,
        ))
        // Outermost last: the request id is set first, so the trace span and the response
        // both carry it.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            // The path only: query strings are not logged.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::default()))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            // Same-origin only: the portal's forms need the Referer to come back to the page with
            // an error when scripts are off; other sites learn nothing.
            HeaderValue::from_static("same-origin"),
        ))
        .with_state(state)
}

/// `GET /metrics`.
async fn metrics(axum::extract::State(app): axum::extract::State<AppState>) -> axum::response::Response {
    crate::metrics::serve(&app.metrics, &app.db).await
}

/// An acceptor that drops a connection whose first byte does not arrive within `limit` (before
/// its first byte a connection is still in protocol detection, where hyper's header timeout
/// does not run yet), and one from an address that holds its allowance of connections.
#[derive(Clone)]
struct Guarded<A> {
    inner: A,
    limit: std::time::Duration,
    connections: crate::limits::ConnectionLimit,
}

/// A connection that gives its slot back when it closes.
struct Counted {
    stream: tokio::net::TcpStream,
    _slot: Option<crate::limits::ConnectionSlot>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl<A, S> axum_server::accept::Accept<tokio::net::TcpStream, S> for Guarded<A>
where
    A: axum_server::accept::Accept<Counted, S> + Clone + Send + 'static,
    A::Future: Send,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = futures::future::BoxFuture<'static, std::io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let (inner, limit, connections) = (self.inner.clone(), self.limit, self.connections.clone());
        Box::pin(async move {
            let peer = stream.peer_addr()?.ip();
            let Some(slot) = connections.acquire(peer) else {
                tracing::debug!(%peer, "connection refused: the address holds its allowance");
                return Err(std::io::Error::other("too many connections from one address"));
            };
            let mut first = [0u8; 1];
            match tokio::time::timeout(limit, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => inner.accept(Counted { stream, _slot: slot }, service).await,
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request within the header timeout",
                )),
            }
        })
    }
}

/// Serves `server` until `shutdown` completes, then drains in-flight requests (at most 30 s).
/// Every connection must send a complete request head within the header timeout, also between
/// requests on a kept-alive connection, so slow or idle clients cannot hold connections open.
async fn serve_with<A>(
    state: AppState,
    server: axum_server::Server<A>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError>
where
    A: axum_server::accept::Accept<
            Counted,
            axum::middleware::AddExtension<Router, axum::extract::ConnectInfo<std::net::SocketAddr>>,
        > + Clone
        + Send
        + Sync
        + 'static,
    A::Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    A::Service: axum_server::service::SendService<axum::http::Request<hyper::body::Incoming>> + Send,
    A::Future: Send,
{
    let timeout = state.config.header_timeout;
    let connections = crate::limits::ConnectionLimit::new(
        state.config.max_connections_per_client,
        crate::auth::client::TrustedProxies::new(state.config.trusted_proxies.clone()),
    );
    let mut server = server.map(|inner| Guarded { inner, limit: timeout, connections });
    server.http_builder().http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(timeout);
    server
        .http_builder()
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
    });
    let auditor = state.auditor.clone();
    // Built before the background jobs start, so their first rounds do not delay the first answer.
    let app = router(state.clone());
    let jobs = state.start_jobs();
    let metrics = match state.config.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(%addr, "metrics are served on their own listener");
            let routes =
                Router::new().route("/metrics", axum::routing::get(metrics)).with_state(state.clone());
            Some(tokio::spawn(async move { axum::serve(listener, routes).await }))
        }
        None => None,
    };
    // Connect info gives handlers the client address (login throttling, logs).
    let served =
        server.handle(handle).serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    jobs.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    served?;
    auditor.flush().await;
    Ok(())
}

/// Serves plain HTTP on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve_http(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    serve_with(state, axum_server::from_tcp(listener.into_std()?), shutdown).await
}

/// Serves HTTPS with the PEM `cert` and `key` until `shutdown` completes.
pub async fn serve_https(
    state: AppState,
    listener: std::net::TcpListener,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // Installing twice (tests, restarts in-process) is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    serve_with(state, axum_server::from_tcp_rustls(listener, tls), shutdown).await
}
