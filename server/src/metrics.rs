//! Prometheus metrics at `/metrics` (OpenMetrics text, through the `prometheus-client`
//! crate): per-process request counts and latencies by route, bytes pushed and pulled (counted
//! as they stream), and, read from the database at scrape time (so they hold for the whole
//! cluster), storage used, upload sessions in progress, and garbage collection and retention
//! runs with their durations.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db;

/// Latency histogram bounds, in seconds.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// The labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

/// The label of a run count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
    pushed: Counter,
    pulled: Counter,
    /// Cluster-wide gauges, set from the database at each scrape.
    stored: [Gauge; 6],
    runs: [Family<StatusLabel, Gauge>; 2],
    run_seconds: [Family<StatusLabel, Gauge<f64, AtomicU64>>; 2],
    /// Manifest pulls answered from memory, and read from the database.
    pull_cache: [Counter; 2],
}

/// This process's metrics.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

/// The cluster-wide gauges: name and help, in the order of [`Inner::stored`].
const STORED: [(&str, &str); 6] = [
    ("wharf_storage_bytes", "Bytes of blobs stored (each blob once)."),
    ("wharf_blobs", "Blobs stored."),
    ("wharf_manifests", "Manifests stored."),
    ("wharf_repositories", "Repositories."),
    ("wharf_projects", "Projects."),
    ("wharf_uploads_in_progress", "Upload sessions started and not finished."),
];

/// The job run gauges: name and help, in the order of [`Inner::runs`].
const RUNS: [(&str, &str); 2] = [
    ("wharf_gc_runs", "Garbage collection runs by status."),
    ("wharf_retention_executions", "Retention executions by status."),
];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "wharf_http_requests",
            "HTTP requests answered, by route, method and status.",
            requests.clone(),
        );
        let latency: Latencies = Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register(
            "wharf_http_request_duration_seconds",
            "Time to answer (until the body starts), by route and method.",
            latency.clone(),
        );
        let (pushed, pulled) = (Counter::default(), Counter::default());
        registry.register(
            "wharf_registry_bytes_pushed",
            "Bytes received by /v2 pushes (blobs and manifests).",
            pushed.clone(),
        );
        registry.register(
            "wharf_registry_bytes_pulled",
            "Bytes sent by successful /v2 reads (blobs and manifests).",
            pulled.clone(),
        );
        let stored: [Gauge; 6] = Default::default();
        for ((name, help), g) in STORED.iter().zip(&stored) {
            registry.register(*name, *help, g.clone());
        }
        let runs: [Family<StatusLabel, Gauge>; 2] = Default::default();
        let run_seconds: [Family<StatusLabel, Gauge<f64, AtomicU64>>; 2] = Default::default();
        for (((name, help), n), secs) in RUNS.iter().zip(&runs).zip(&run_seconds) {
            registry.register(*name, *help, n.clone());
            registry.register(
                format!("{name}_duration_seconds_sum"),
                "Total duration of the ended runs by status.",
                secs.clone(),
            );
        }
        let pull_cache: [Counter; 2] = Default::default();
        registry.register(
            "wharf_manifest_pulls_from_memory",
            "Manifest pulls whose database read was answered from memory (nothing had changed).",
            pull_cache[0].clone(),
        );
        registry.register(
            "wharf_manifest_pulls_read",
            "Manifest pulls that read the database.",
            pull_cache[1].clone(),
        );
        Self(Arc::new(Inner {
            registry,
            requests,
            latency,
            pushed,
            pulled,
            stored,
            runs,
            run_seconds,
            pull_cache,
        }))
    }
}

impl Metrics {
    /// The counters of manifest pulls answered from memory and read from the database.
    pub fn pull_cache_counters(&self) -> [Counter; 2] {
        self.0.pull_cache.clone()
    }
}

/// A route label with bounded cardinality: the kind of registry request, the API route
/// template, or the portal part; never a repository name or digest.
fn route_of(path: &str, api_template: Option<&'static str>) -> &'static str {
    if let Some(rest) = path.strip_prefix("/v2/") {
        return if rest.is_empty() {
            "/v2/"
        } else if rest == "_catalog" {
            "/v2/_catalog"
        } else if rest.contains("/blobs/uploads") {
            "/v2/<name>/blobs/uploads"
        } else if rest.contains("/blobs/") {
            "/v2/<name>/blobs/<digest>"
        } else if rest.contains("/manifests/") {
            "/v2/<name>/manifests/<reference>"
        } else if rest.ends_with("/tags/list") {
            "/v2/<name>/tags/list"
        } else if rest.contains("/referrers/") {
            "/v2/<name>/referrers/<digest>"
        } else {
            "/v2/other"
        };
    }
    if path == "/v2" {
        return "/v2/";
    }
    if path.starts_with("/service/token") {
        return "/service/token";
    }
    if path == "/metrics" {
        return "/metrics";
    }
    if path.starts_with("/api/") {
        return api_template.unwrap_or("/api/other");
    }
    if path.starts_with("/ui/") {
        return "/ui/<server function>";
    }
    if path.starts_with("/pkg/") {
        return "/pkg/<asset>";
    }
    "<page>"
}

/// What the request layer counts with: the metrics, and the API's route templates as
/// `'static` labels (the router's templates come from a document built once per process).
#[derive(Clone)]
pub struct Tracking {
    /// This process's metrics.
    pub metrics: Metrics,
    /// Every API route template.
    pub api_routes: Arc<[&'static str]>,
}

impl Tracking {
    /// The label of API route `template`; `/api/other` for one the list does not hold.
    fn api_label(&self, template: &str) -> &'static str {
        self.api_routes.iter().find(|t| **t == template).copied().unwrap_or("/api/other")
    }
}

/// The method label: one of the methods Wharf serves, else `other`. Any token is a valid
/// method to HTTP, so a label taken from the request would let anyone grow the exposition (and
/// this process) without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    fn record(&self, route: &'static str, method: &Method, status: u16, seconds: f64) {
        let method = method_label(method);
        self.0.requests.get_or_create(&RequestLabels { route, method, status }).inc();
        self.0.latency.get_or_create(&RouteLabels { route, method }).observe(seconds);
    }

    fn counter(&self, pushed: bool) -> impl Fn(u64) + Send + Sync + 'static {
        let c = if pushed { self.0.pushed.clone() } else { self.0.pulled.clone() };
        move |n| {
            c.inc_by(n);
        }
    }

    /// Sets the cluster-wide gauges from a database snapshot.
    fn set(&self, s: &db::metrics::Snapshot) {
        let values = [s.storage_bytes, s.blobs, s.manifests, s.repositories, s.projects, s.uploads];
        for (g, v) in self.0.stored.iter().zip(values) {
            g.set(v);
        }
        for ((count, seconds), rows) in
            self.0.runs.iter().zip(&self.0.run_seconds).zip([&s.gc_runs, &s.retention_runs])
        {
            // A status no run has any more must not linger.
            count.clear();
            seconds.clear();
            for (status, n, ms) in rows {
                let label = StatusLabel { status: status.clone() };
                count.get_or_create(&label).set(*n);
                seconds.get_or_create(&label).set(*ms as f64 / 1000.0);
            }
        }
    }

    /// The exposition.
    fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.0.registry) {
            tracing::error!(error = %e, "metrics: could not encode");
        }
        out
    }
}

fn counted(body: Body, add: impl Fn(u64) + Send + Sync + 'static) -> Body {
    Body::from_stream(body.into_data_stream().inspect(move |chunk| {
        if let Ok(c) = chunk {
            add(c.len() as u64);
        }
    }))
}

/// Middleware: times and counts every request; counts registry bytes in and out as they stream.
pub async fn track(State(tracking): State<Tracking>, req: Request, next: Next) -> Response {
    let metrics = &tracking.metrics;
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path();
    let api_template = if path.starts_with("/api/") {
        req.extensions().get::<MatchedPath>().map(|m| tracking.api_label(m.as_str()))
    } else {
        None
    };
    let route = route_of(path, api_template);
    let registry = route.starts_with("/v2/");
    let req = if registry && matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        let add = metrics.counter(true);
        req.map(|b| counted(b, add))
    } else {
        req
    };
    let res = next.run(req).await;
    let status = res.status().as_u16();
    metrics.record(route, &method, status, started.elapsed().as_secs_f64());
    if registry && method == Method::GET && res.status().is_success() {
        let add = metrics.counter(false);
        let (parts, body) = res.into_parts();
        return Response::from_parts(parts, counted(body, add));
    }
    res
}

/// `GET /metrics` in the OpenMetrics text format (which Prometheus scrapes natively): this
/// process's counters and the cluster's gauges, read from `db` now.
pub async fn serve(metrics: &Metrics, db: &db::Db) -> Response {
    match db::metrics::snapshot(db.reader()).await {
        Ok(s) => metrics.set(&s),
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the database"),
    }
    let out = metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_never_carry_names_or_digests() {
        for (path, want) in [
            ("/v2/", "/v2/"),
            ("/v2/library/app/blobs/sha256:abc", "/v2/<name>/blobs/<digest>"),
            ("/v2/library/app/blobs/uploads/123", "/v2/<name>/blobs/uploads"),
            ("/v2/a/b/c/manifests/latest", "/v2/<name>/manifests/<reference>"),
            ("/v2/a/tags/list", "/v2/<name>/tags/list"),
            ("/v2/_catalog", "/v2/_catalog"),
            ("/projects/secret-project", "<page>"),
            ("/ui/list_projects", "/ui/<server function>"),
        ] {
            assert_eq!(route_of(path, None), want, "{path}");
        }
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let m = Metrics::default();
        let first = Method::from_bytes(b"FOO").expect("a valid token");
        m.record(route_of("/v2/", None), &first, 404, 0.001);
        let one = m.encode().len();
        for i in 1..1000 {
            let method = Method::from_bytes(format!("FOO{i}").as_bytes()).expect("a valid token");
            m.record(route_of("/v2/", None), &method, 404, 0.001);
        }
        m.record(route_of("/v2/", None), &Method::GET, 401, 0.001);
        let out = m.encode();
        // One more status's series at most (the 401): a thousand methods added nothing.
        assert!(out.len() < one + 2048, "the exposition stays small: {} bytes after {one}", out.len());
        assert!(out.contains("method=\"other\",status=\"404\"} 1000"), "{out}");
        assert!(!out.contains("FOO"));
    }

    #[test]
    fn gauges_follow_the_database() {
        let m = Metrics::default();
        let mut s = db::metrics::Snapshot { blobs: 3, ..Default::default() };
        s.gc_runs = vec![("Running".into(), 1, 0), ("Success".into(), 2, 1500)];
        m.set(&s);
        let out = m.encode();
        assert!(out.contains("wharf_blobs 3\n"), "{out}");
        assert!(out.contains("wharf_gc_runs{status=\"Running\"} 1\n"), "{out}");
        assert!(out.contains("wharf_gc_runs_duration_seconds_sum{status=\"Success\"} 1.5\n"), "{out}");
        s.gc_runs = vec![("Success".into(), 3, 2000)];
        m.set(&s);
        let out = m.encode();
        assert!(!out.contains("Running"), "a status no run has any more is gone: {out}");
        assert!(out.ends_with("# EOF\n"));
    }
}
