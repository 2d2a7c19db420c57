//! The `wharf` command: `serve` (the default) and admin tasks.

use std::io::BufRead;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use wharf::app;
use wharf::config::{Config, ExposeSecret, Settings};
use wharf::state::AppState;

/// Wharf: a container registry portal. Every setting can be given as a flag, as a WHARF_*
/// environment variable, or in a TOML config file (--config); flags win over the environment,
/// which wins over the file.
#[derive(Parser, Debug)]
#[command(name = "wharf", version)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry and portal (the default).
    Serve,
    /// Administrative tasks on the configured database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy this Wharf (the configured database and blob storage) to another database and blob
    /// storage, e.g. from SQLite + disk to PostgreSQL + S3. Stop the server first; the target
    /// database must be new. Blobs are verified against their digests on the way.
    Migrate {
        /// The target database URL (`postgres://…` or `sqlite://…`).
        #[arg(long, env = "WHARF_MIGRATE_DATABASE_URL", hide_env_values = true)]
        to_database_url: String,
        /// The target blob storage (`s3://bucket/prefix`, a directory or `file://` URL).
        #[arg(long, env = "WHARF_MIGRATE_STORAGE_URL")]
        to_storage_url: String,
    },
    /// Delete blobs no manifest references (and, optionally, untagged manifests) now. Safe on
    /// a live data dir while servers run; waits for nothing and refuses to start while another
    /// collection runs. Prints the log and exits non-zero if the run fails.
    Gc {
        /// Count what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// First delete untagged manifests (never a child of a tagged index, never an artifact
        /// whose subject is present, never one pushed within the grace window).
        #[arg(long)]
        delete_untagged: bool,
        /// Parallel storage deletes [default: WHARF_GC_WORKERS].
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Check blob storage against the database: blob rows without bytes, bytes without rows,
    /// blobs and manifests that do not hash to their digest, broken upload sessions. Exits 0
    /// when nothing is (left) wrong, 1 otherwise. Safe while servers run.
    Fsck {
        /// Also repair what is provably safe: delete unrecorded bytes older than the grace
        /// window (WHARF_GC_GRACE) and broken blob rows no manifest references, end upload
        /// sessions with missing parts. Never deletes anything a manifest references.
        #[arg(long)]
        repair: bool,
        /// Check presence and sizes only; do not read and hash every blob.
        #[arg(long)]
        no_verify: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Parallel storage reads and deletes [default: WHARF_GC_WORKERS].
        #[arg(long)]
        workers: Option<usize>,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Set a user's password, read from WHARF_NEW_PASSWORD or the first line of standard input.
    SetPassword {
        /// The user whose password changes.
        username: String,
    },
}

fn main() -> std::process::ExitCode {
    return_large_blocks();
    let cli = Cli::parse();
    let config = match Config::resolve(cli.settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wharf: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_json {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wharf: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(Command::Fsck { repair, no_verify, json, workers }) = cli.command {
        return runtime.block_on(fsck(config, repair, !no_verify, json, workers));
    }
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Admin(AdminCommand::SetPassword { username }) => set_password(config, &username).await,
            Command::Migrate { to_database_url, to_storage_url } => {
                migrate(config, &to_database_url, &to_storage_url).await
            }
            Command::Gc { dry_run, delete_untagged, workers } => {
                gc(config, wharf::gc::collector::GcParams { delete_untagged, dry_run, workers }).await
            }
            Command::Fsck { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wharf: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves allocations of 4 MiB and more (argon2's 19 MiB working memory above all) from their
/// own mappings, returned to the system when freed. glibc's default raises that threshold to
/// the size of the largest block freed so far, after which every password check's block stayed
/// in a heap arena: 19 MiB per hashing thread, held for the life of the process. Setting the
/// threshold fixes it (no raising) before any thread starts. Fixing it also fixes the trim
/// threshold, which would stay at 128 KiB: every request freeing a few hundred KiB at a heap's
/// top would hand the pages back and fault them in again (a chunked push measured 0.26 of the
/// hashing limit so, 0.44 with 4 MiB), so it is set to the same 4 MiB. No crate wraps mallopt
/// safely; this is the workspace's only unsafe code.
#[allow(unsafe_code)]
fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let tls = config.tls.clone();
    let prepared = tokio::task::spawn_blocking(wharf::app::prepare);
    let state = AppState::init(config).await?;
    prepared.await?;
    let external = state.config.external_url.clone();
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    tracing::info!(%listen, %external, tls = tls.is_some(), "wharf is serving");
    match tls {
        Some((cert, key)) => app::serve_https(state, listener, &cert, &key, shutdown_signal()).await?,
        None => {
            app::serve_http(state, tokio::net::TcpListener::from_std(listener)?, shutdown_signal()).await?
        }
    }
    tracing::info!("wharf stopped");
    Ok(())
}

async fn gc(config: Config, params: wharf::gc::collector::GcParams) -> anyhow::Result<()> {
    let state = AppState::init(config).await?;
    let run = state.gc.run_now(wharf::gc::Trigger::Cli, params, Some(|line| println!("{line}"))).await?;
    let freed = if run.dry_run { "would free" } else { "freed" };
    println!(
        "garbage collection {} ({}): {} manifests, {} blobs, {} upload sessions; {freed} {} bytes",
        run.id, run.status, run.manifests_deleted, run.blobs_deleted, run.uploads_purged, run.bytes_freed
    );
    state.auditor.flush().await;
    anyhow::ensure!(
        run.status == frontend::types::RunStatus::Success,
        "garbage collection ended with status {}",
        run.status
    );
    Ok(())
}

async fn fsck(
    config: Config,
    repair: bool,
    verify_content: bool,
    json: bool,
    workers: Option<usize>,
) -> std::process::ExitCode {
    use wharf::gc::fsck::{Fix, FsckParams};
    let run = async {
        let state = AppState::init(config).await?;
        let workers = workers.unwrap_or(state.gc.default_workers());
        anyhow::Ok(state.gc.fsck(FsckParams { repair, verify_content, workers }).await?)
    };
    let report = match run.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wharf: fsck failed: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        for p in &report.problems {
            let fix = match &p.fix {
                Fix::Repaired => "repaired".to_owned(),
                Fix::Repairable => "repairable with --repair".to_owned(),
                Fix::NeedsAttention(what) => format!("needs attention: {what}"),
            };
            println!("{:?} {}: {} ({fix})", p.kind, p.subject, p.detail);
            for m in &p.referenced_by {
                println!("    referenced by {m}");
            }
        }
        let repaired = report.problems.iter().filter(|p| p.fix == Fix::Repaired).count();
        println!(
            "checked {} blobs ({} objects, {} bytes hashed), {} manifests, {} upload parts, \
             {} project quotas; {} blobs being collected, {} unrecorded objects younger than the \
             grace window; {} problems, {repaired} repaired",
            report.blobs,
            report.objects,
            report.bytes_verified,
            report.manifests,
            report.upload_parts,
            report.quotas,
            report.purging,
            report.recent_unrecorded,
            report.problems.len()
        );
    }
    if report.clean() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}

async fn set_password(config: Config, username: &str) -> anyhow::Result<()> {
    let password = match std::env::var("WHARF_NEW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    anyhow::ensure!(!password.is_empty(), "no password given");
    let state = AppState::init(config).await?;
    let found = wharf::bootstrap::set_password(&state.db, username, &password).await?;
    anyhow::ensure!(found, "no user named {username}");
    println!("password of {username} changed");
    Ok(())
}

async fn migrate(config: Config, to_database_url: &str, to_storage_url: &str) -> anyhow::Result<()> {
    use wharf::{db::Db, storage::BlobStore};
    let from_db = Db::connect(config.database_url.expose_secret()).await?;
    let from_store = BlobStore::open(&config.storage_url, config.storage_fsync)?;
    let to_db = Db::connect(to_database_url).await?;
    let to_store = BlobStore::open(to_storage_url, config.storage_fsync)?;
    let report =
        wharf::migrate::run(&from_db, &from_store, &to_db, &to_store, |line| eprintln!("{line}")).await?;
    println!(
        "migrated: {} blobs copied ({} bytes), {} already present; {} rows",
        report.blobs_copied,
        report.bytes_copied,
        report.blobs_present,
        report.rows.iter().map(|(_, n)| n).sum::<u64>()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
