//! What the load binaries share: a `wharf` process of their own and its memory.
#![allow(dead_code, reason = "each load binary uses a different subset of these")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// A `wharf` on a free loopback port; killed when dropped.
pub struct WharfChild {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl WharfChild {
    /// Starts `WHARF_BIN` (default: the `wharf` next to this binary) on `data_dir` with the
    /// admin password `password`; `WHARF_DATABASE_URL` / `WHARF_STORAGE_URL` pass through.
    pub fn start(data_dir: &Path, password: &str) -> Result<Self> {
        Self::start_with(data_dir, password, &[])
    }

    /// [`WharfChild::start`] with more environment for the server (a database or storage of its
    /// own).
    pub fn start_with(data_dir: &Path, password: &str, env: &[(String, String)]) -> Result<Self> {
        let bin = match std::env::var_os("WHARF_BIN") {
            Some(b) => PathBuf::from(b),
            None => std::env::current_exe()?.with_file_name("wharf"),
        };
        anyhow::ensure!(
            bin.is_file(),
            "{} is missing: build it first (`cargo build --release -p wharf`) or point WHARF_BIN at one",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&bin)
            .env("WHARF_LISTEN", format!("127.0.0.1:{port}"))
            .env("WHARF_DATA_DIR", data_dir)
            .env("WHARF_ADMIN_PASSWORD", password)
            .env("WHARF_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self { child, base: format!("http://127.0.0.1:{port}") })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for WharfChild {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A memory figure of process `pid` in MiB: `field` is `VmRSS` (now) or `VmHWM` (peak).
pub fn memory_mib(pid: u32, field: &str) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| field.to_owned())?;
    Ok(kb / 1024.0)
}

/// CPU time (user + system) process `pid` has used so far, in seconds (`/proc/<pid>/stat`, in
/// clock ticks of 1/100 s).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).context("stat field");
    // utime and stime are the 14th and 15th fields; `rest` starts at the 3rd.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// A relay in front of a database's Unix socket that counts round trips: each time a client
/// sends after the server last spoke (or first) is one. The PostgreSQL protocol is request and
/// answer, so that is the number of times a query waited on the database; notifications the
/// server pushes unasked count nothing. The database sees the relay's user (peer
/// authentication works as for the bench itself).
pub struct RoundTrips {
    /// The loopback port to connect to instead of the socket.
    pub port: u16,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RoundTrips {
    /// Listens on a free loopback port and relays each connection to `socket`.
    pub async fn start(socket: PathBuf) -> Result<Self> {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let count = Arc::new(AtomicU64::new(0));
        let total = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (socket, total) = (socket.clone(), total.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::UnixStream::connect(&socket).await else { return };
                    client.set_nodelay(true).ok();
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    // Whether the client spoke last: its next message after an answer is a new
                    // round trip. The answer is marked before it is forwarded, so the client
                    // cannot send again before the mark.
                    let client_last = Arc::new(AtomicBool::new(false));
                    let mark = client_last.clone();
                    let up = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                            if !mark.swap(true, Ordering::AcqRel) {
                                total.fetch_add(1, Ordering::Relaxed);
                            }
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        server_write.shutdown().await.ok();
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                            client_last.store(false, Ordering::Release);
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        client_write.shutdown().await.ok();
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Ok(Self { port, count, task })
    }

    /// Round trips so far, over every connection.
    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RoundTrips {
    fn drop(&mut self) {
        self.task.abort();
    }
}
