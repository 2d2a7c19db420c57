//! Prometheus metrics at `/metrics`: per-process request counts and latencies by route, bytes
//! pushed and pulled (counted as they stream), and, read from the database at scrape time (so
//! they hold for the whole cluster), storage used, upload sessions in progress, and garbage
//! collection and retention runs with their durations.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::db;
use crate::state::AppState;

/// Latency histogram bounds, in seconds.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

type Key = (&'static str, &'static str);

#[derive(Default)]
struct Inner {
    requests: Mutex<HashMap<(&'static str, &'static str, u16), u64>>,
    latency: Mutex<HashMap<Key, Histogram>>,
    pushed: AtomicU64,
    pulled: AtomicU64,
}

/// This process's counters.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Inner>);

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

/// The API route template as a `'static` label: the router has a fixed, small set of them, each
/// leaked once.
fn api_label(template: &str) -> &'static str {
    static INTERNED: std::sync::OnceLock<Mutex<HashMap<String, &'static str>>> = std::sync::OnceLock::new();
    let mut map =
        INTERNED.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(l) = map.get(template) {
        return l;
    }
    let label: &'static str = Box::leak(template.to_owned().into_boxed_str());
    map.insert(template.to_owned(), label);
    label
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
        let mut r = self.0.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *r.entry((route, method, status)).or_default() += 1;
        drop(r);
        let mut l = self.0.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        l.entry((route, method)).or_default().observe(seconds);
    }

    fn counter(&self, pushed: bool) -> impl Fn(u64) + Send + Sync + 'static {
        let inner = self.0.clone();
        move |n| {
            let c = if pushed { &inner.pushed } else { &inner.pulled };
            c.fetch_add(n, Ordering::Relaxed);
        }
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
pub async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path();
    let api_template = if path.starts_with("/api/") {
        req.extensions().get::<MatchedPath>().map(|m| api_label(m.as_str()))
    } else {
        None
    };
    let route = route_of(path, api_template);
    let registry = route.starts_with("/v2/");
    let req = if registry && matches!(method, Method::PUT | Method::PATCH | Method::POST) {
        let add = app.metrics.counter(true);
        req.map(|b| counted(b, add))
    } else {
        req
    };
    let res = next.run(req).await;
    let status = res.status().as_u16();
    app.metrics.record(route, &method, status, started.elapsed().as_secs_f64());
    if registry && method == Method::GET && res.status().is_success() {
        let add = app.metrics.counter(false);
        let (parts, body) = res.into_parts();
        return Response::from_parts(parts, counted(body, add));
    }
    res
}

/// `GET /metrics` in Prometheus' text format.
pub async fn serve(State(app): State<AppState>) -> Response {
    let mut out = String::with_capacity(8192);
    app.metrics.write(&mut out);
    match db::metrics::snapshot(app.db.reader()).await {
        Ok(s) => write_snapshot(&mut out, &s),
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the database"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn write(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP wharf_http_requests_total HTTP requests answered, by route, method and status."
        );
        let _ = writeln!(out, "# TYPE wharf_http_requests_total counter");
        let requests = self.0.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rows: Vec<_> = requests.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for ((route, method, status), n) in rows {
            let _ = writeln!(
                out,
                "wharf_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        drop(requests);
        let _ = writeln!(
            out,
            "# HELP wharf_http_request_duration_seconds Time to answer (until the body starts), by route and method."
        );
        let _ = writeln!(out, "# TYPE wharf_http_request_duration_seconds histogram");
        let latency = self.0.latency.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rows: Vec<_> = latency.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for ((route, method), h) in rows {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ =
                    writeln!(out, "wharf_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {c}");
            }
            let _ = writeln!(
                out,
                "wharf_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "wharf_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "wharf_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        drop(latency);
        for (name, help, v) in [
            (
                "wharf_registry_bytes_pushed_total",
                "Bytes received by /v2 pushes (blobs and manifests).",
                &self.0.pushed,
            ),
            (
                "wharf_registry_bytes_pulled_total",
                "Bytes sent by successful /v2 reads (blobs and manifests).",
                &self.0.pulled,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}

fn write_snapshot(out: &mut String, s: &db::metrics::Snapshot) {
    let gauges = [
        ("wharf_storage_bytes", "Bytes of blobs stored (each blob once).", s.storage_bytes),
        ("wharf_blobs", "Blobs stored.", s.blobs),
        ("wharf_manifests", "Manifests stored.", s.manifests),
        ("wharf_repositories", "Repositories.", s.repositories),
        ("wharf_projects", "Projects.", s.projects),
        ("wharf_uploads_in_progress", "Upload sessions started and not finished.", s.uploads),
    ];
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    for (name, help, rows) in [
        ("wharf_gc_runs", "Garbage collection runs by status.", &s.gc_runs),
        ("wharf_retention_executions", "Retention executions by status.", &s.retention_runs),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (status, count, _) in rows {
            let _ = writeln!(out, "{name}{{status=\"{}\"}} {count}", escape(status));
        }
        let seconds = format!("{name}_duration_seconds_sum");
        let _ = writeln!(
            out,
            "# HELP {seconds} Total duration of the ended runs by status.\n# TYPE {seconds} gauge"
        );
        for (status, _, ms) in rows {
            let _ = writeln!(out, "{seconds}{{status=\"{}\"}} {}", escape(status), *ms as f64 / 1000.0);
        }
    }
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
        for i in 0..1000 {
            let method = Method::from_bytes(format!("FOO{i}").as_bytes()).expect("a valid token");
            m.record(route_of("/v2/", None), &method, 404, 0.001);
        }
        m.record(route_of("/v2/", None), &Method::GET, 401, 0.001);
        let mut out = String::new();
        m.write(&mut out);
        assert!(out.len() < 4096, "the exposition stays small: {} bytes", out.len());
        assert!(out.contains("method=\"other\",status=\"404\"} 1000"), "{out}");
        assert!(!out.contains("FOO"));
    }

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        h.observe(100.0);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[5], 2, "le=0.25 counts both smaller ones");
        assert_eq!(h.counts[BUCKETS.len() - 1], 2);
        assert_eq!(h.count, 3);
    }
}
