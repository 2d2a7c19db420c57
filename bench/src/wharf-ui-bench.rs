//! `wharf-ui-bench`: times the portal's server rendering of a project page listing repositories.
//!
//! Creates a project with `WHARF_BENCH_REPOS` repositories (default 10,000) on SQLite in a temp
//! dir, signs the admin in, and requests `/projects/bench` (the first page of its repositories,
//! 20 rows) `WHARF_BENCH_REQUESTS` times (default 200) one after another over HTTP, printing the
//! median, 99th percentile and mean time to the complete page.
//! Run: `cargo run --release -p wharf-bench --bin wharf-ui-bench`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use wharf::app;
use wharf::config::{Config, Secret, Settings};
use wharf::db;
use wharf::state::AppState;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<()> {
    let repos = env_usize("WHARF_BENCH_REPOS", 10_000);
    let requests = env_usize("WHARF_BENCH_REQUESTS", 200).max(1);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        data_dir: Some(dir.path().to_path_buf()),
        admin_password: Some(Secret::from("Bench12345")),
        listen: Some(addr),
        log: Some("warn".into()),
        ..Default::default()
    };
    let state = AppState::init(Config::resolve(settings)?).await?;
    let project = db::projects::insert(state.db.writer(), "bench", false, None).await?;
    let mut tx = state.db.begin().await?;
    for i in 0..repos {
        db::repositories::ensure(&mut *tx, project, &format!("bench/service-{i:05}")).await?;
    }
    tx.commit().await?;
    let serving = state.clone();
    tokio::spawn(async move { app::serve_http(serving, listener, std::future::pending()).await });

    // Signed in as a browser is: the sign-in form, then the session cookie.
    let form: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let sign_in = hyper::Request::post(format!("http://{addr}/ui/sign_in"))
        .header("origin", format!("http://{addr}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"username=admin&password=Bench12345&next=%2Fprojects")))?;
    let res = form.request(sign_in).await?;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("no session cookie from the sign-in")?
        .to_owned();

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = || async {
        let req = hyper::Request::get(format!("http://{addr}/projects/bench"))
            .header("cookie", &cookie)
            .body(Empty::new())?;
        let t = Instant::now();
        let res = client.request(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        let took = t.elapsed();
        ensure!(status.is_success(), "status {status}");
        ensure!(
            body.windows(b"service-00019".len()).any(|w| w == b"service-00019"),
            "the first page lists repositories"
        );
        Ok::<_, anyhow::Error>((took, body.len()))
    };
    for _ in 0..10 {
        get().await?;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(requests);
    let mut size = 0;
    for _ in 0..requests {
        let (t, n) = get().await?;
        times.push(t);
        size = n;
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / requests as u32;
    println!(
        "/projects/bench with {repos} repositories ({size} bytes): median {:.2} ms, p99 {:.2} ms, mean {:.2} ms over {requests} requests",
        times[requests / 2].as_secs_f64() * 1000.0,
        times[(requests * 99 / 100).min(requests - 1)].as_secs_f64() * 1000.0,
        mean.as_secs_f64() * 1000.0
    );
    Ok(())
}
