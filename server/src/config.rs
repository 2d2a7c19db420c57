//! One `Config`: defaults < config file (TOML) < environment (`WHARF_*`) < command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
pub use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A secret setting (a password, a URL with credentials): `secrecy`'s string, which never
/// prints and is wiped from memory when dropped; read it with [`ExposeSecret::expose_secret`].
pub type Secret = SecretString;

/// Reads a secret from the command line or the environment.
fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::from(s))
}

/// Settings as given on the command line, in the environment or in the config file. Every field
/// is optional here; [`Config::resolve`] fills in the defaults.
#[derive(Args, Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Config file (TOML) whose keys are these settings' long names with `_` for `-`.
    #[arg(long, env = "WHARF_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:5000].
    #[arg(long, env = "WHARF_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and local blobs [default: ./data].
    #[arg(long, env = "WHARF_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Password of the `admin` user created at first start; without it a random one is
    /// generated and printed once.
    #[arg(long, env = "WHARF_ADMIN_PASSWORD", global = true, hide_env_values = true, value_parser = secret)]
    pub admin_password: Option<Secret>,
    /// Database URL: `sqlite://…` or `postgres://…` [default: sqlite://<data dir>/wharf.db].
    #[arg(long, env = "WHARF_DATABASE_URL", global = true, hide_env_values = true, value_parser = secret)]
    pub database_url: Option<Secret>,
    /// Blob storage: a directory or `file://` URL [default: <data dir>/blobs].
    #[arg(long, env = "WHARF_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
    /// Flush blob files to disk before a push is acknowledged (true/false) [default: true].
    #[arg(long, env = "WHARF_STORAGE_FSYNC", global = true)]
    pub storage_fsync: Option<bool>,
    /// The URL clients reach Wharf at, used in links and pull commands
    /// [default: http(s)://<listen address>].
    #[arg(long, env = "WHARF_EXTERNAL_URL", global = true)]
    pub external_url: Option<String>,
    /// PEM certificate chain; with `tls-key`, Wharf serves HTTPS.
    #[arg(long, env = "WHARF_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls-cert`.
    #[arg(long, env = "WHARF_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Log filter, e.g. `info` or `wharf=debug,tower_http=info` [default: info].
    #[arg(long, env = "WHARF_LOG", global = true)]
    pub log: Option<String>,
    /// Log format: `text` or `json` (one JSON object per line) [default: text].
    #[arg(long, env = "WHARF_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Garbage collection spares blobs a push used within this window, e.g. `2h`, `30m`, `0s`
    /// [default: 2h].
    #[arg(long, env = "WHARF_GC_GRACE", global = true)]
    pub gc_grace: Option<HumanDuration>,
    /// Garbage collection purges upload sessions idle this long, with their data [default: 24h].
    #[arg(long, env = "WHARF_GC_UPLOAD_AGE", global = true)]
    pub gc_upload_age: Option<HumanDuration>,
    /// Parallel storage deletes of a garbage collection when the request names none [default: 8].
    #[arg(long, env = "WHARF_GC_WORKERS", global = true)]
    pub gc_workers: Option<usize>,
    /// Serve the portal's browser assets from this directory (`pkg/wharf.css`, `.js`, `.wasm`
    /// as `cargo leptos build` writes them) instead of those embedded in the binary: for
    /// working on the portal with cargo-leptos' watch mode [default: the embedded ones].
    #[arg(long, env = "WHARF_SITE_DIR", global = true)]
    pub site_dir: Option<PathBuf>,
    /// How long a verified password (or directory sign-in) is trusted before it is checked
    /// again: a user disabled here or in the directory is refused within this window, at most
    /// `60s` [default: 60s].
    #[arg(long, env = "WHARF_CREDENTIAL_CACHE", global = true)]
    pub credential_cache: Option<HumanDuration>,
    /// Lifetime of a background job's lease (renewed while the job runs): how long a job that
    /// a crashed process held blocks other replicas from starting it [default: 30s].
    #[arg(long, env = "WHARF_JOB_LEASE", global = true)]
    pub job_lease: Option<HumanDuration>,
    /// Time a client has to send its first byte and a complete request head, and the longest a
    /// kept-alive HTTP/1 connection may sit idle; slower clients are disconnected (slow-loris).
    /// HTTP/2 connections are pinged at this interval instead [default: 20s].
    #[arg(long, env = "WHARF_HEADER_TIMEOUT", global = true)]
    pub header_timeout: Option<HumanDuration>,
    /// Upload sessions one account (user, robot or anonymous) may have in progress at once;
    /// a session stops counting an hour after its last use [default: 200].
    #[arg(long, env = "WHARF_MAX_UPLOADS", global = true)]
    pub max_uploads: Option<usize>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the real client, as
    /// addresses or networks separated by commas (`10.0.0.0/8, ::1`); from anyone else those
    /// headers are ignored [default: none].
    #[arg(long, env = "WHARF_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Connections one client address may hold open at once; trusted proxies are exempt
    /// [default: 256].
    #[arg(long, env = "WHARF_MAX_CONNECTIONS_PER_CLIENT", global = true)]
    pub max_connections_per_client: Option<usize>,
    /// Time a client has to send a whole request body to the API, the token endpoint and the
    /// portal (blob uploads instead must not sit idle this long between bytes) [default: 30s].
    #[arg(long, env = "WHARF_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<HumanDuration>,
    /// Key that seals the credentials of registry endpoints in the database: 64 hex digits, or
    /// any passphrase (its SHA-256 is the key). Replicas sharing a database must share it
    /// [default: a random key created in `<data dir>/secret.key` on first start].
    #[arg(long, env = "WHARF_SECRET_KEY", global = true, hide_env_values = true, value_parser = secret)]
    pub secret_key: Option<Secret>,
    /// Serve `/metrics` on this address only (for example `127.0.0.1:9090`) instead of on the
    /// main listener [default: the main listener].
    #[arg(long, env = "WHARF_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// Storage limit of new projects, as bytes or with a unit (`10GiB`, `500MB`), or -1 for
    /// none; system administrators may set another per project [default: -1].
    #[arg(long, env = "WHARF_STORAGE_PER_PROJECT", global = true, allow_hyphen_values = true)]
    pub storage_per_project: Option<HumanSize>,
    /// Usage, in percent of a project's limit, at which a `QUOTA_WARNING` event is sent
    /// [default: 85].
    #[arg(long, env = "WHARF_QUOTA_WARNING", global = true)]
    pub quota_warning: Option<u8>,
    /// How long a webhook delivery is retried after its event before it is given up
    /// [default: 24h].
    #[arg(long, env = "WHARF_WEBHOOK_RETENTION", global = true)]
    pub webhook_retention: Option<HumanDuration>,
    /// Configuration items fixed by the operator, as a JSON object of Harbor's
    /// `/configurations` items (e.g. `{"auth_mode":"ldap_auth","ldap_url":"ldaps://dir"}`):
    /// they win over what administrators set and cannot be changed through the API.
    #[arg(long, env = "WHARF_CONFIGURATIONS", global = true, hide_env_values = true, value_parser = secret)]
    pub configurations: Option<Secret>,
}

/// A size written as bytes or with a unit: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1000) or
/// `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); `-1` means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanSize(pub i64);

impl std::str::FromStr for HumanSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        frontend::types::parse_size(s).map(Self)
    }
}

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // TOML may give a number (bytes) or a string with a unit.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) if n >= -1 => Ok(Self(n)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!("{n} is not a size (use -1 for none)"))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration written as a number and a unit: `ms`, `s`, `m`, `h` or `d` (`90s`, `2h`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (n, unit) = s.split_at(split);
        let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration such as 2h, 30m or 0s"))?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("{s:?} has no unit: write ms, s, m, h or d (e.g. 2h)")),
        };
        n.checked_mul(ms)
            .map(|ms| Self(Duration::from_millis(ms)))
            .ok_or_else(|| format!("{s:?} is too long"))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Initial admin password.
    pub admin_password: Option<Secret>,
    /// Database URL.
    pub database_url: Secret,
    /// Blob storage URL.
    pub storage_url: String,
    /// fsync blob writes.
    pub storage_fsync: bool,
    /// External URL without a trailing slash.
    pub external_url: String,
    /// Whether the external URL was configured; if not, links follow the request's `Host`.
    pub external_url_set: bool,
    /// TLS certificate and key, when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Log filter.
    pub log: String,
    /// Log as JSON lines.
    pub log_json: bool,
    /// Garbage collection's grace window.
    pub gc_grace: Duration,
    /// Age at which idle upload sessions are purged.
    pub gc_upload_age: Duration,
    /// Default parallel deletes of a garbage collection.
    pub gc_workers: usize,
    /// How long a verified credential is trusted.
    pub credential_cache: Duration,
    /// Lifetime of job leases.
    pub job_lease: Duration,
    /// Limit on reading a request head (and on idle kept-alive connections).
    pub header_timeout: Duration,
    /// Upload sessions per account.
    pub max_uploads: usize,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Open connections per client address.
    pub max_connections_per_client: usize,
    /// Limit on receiving a non-blob request body (and on a blob upload's idle time).
    pub body_timeout: Duration,
    /// A separate listener for `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// The key sealing endpoint credentials, when configured (else the data dir's key file).
    pub secret_key: Option<Secret>,
    /// A directory to serve the portal's browser assets from instead of the embedded ones.
    pub site_dir: Option<PathBuf>,
    /// Storage limit of new projects in bytes; -1: none.
    pub storage_per_project: i64,
    /// Percent of a project's limit at which `QUOTA_WARNING` is sent.
    pub quota_warning: u8,
    /// How long webhook deliveries are retried.
    pub webhook_retention: Duration,
    /// Configuration items fixed by the operator (JSON; may hold secrets).
    pub configurations: Option<Secret>,
}

/// A configuration error.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {0}: {1}")]
    Parse(PathBuf, String),
    /// A trusted proxy is not an address or network.
    #[error("WHARF_TRUSTED_PROXIES: {0:?} is not an address or network (e.g. 10.0.0.0/8)")]
    TrustedProxy(String),
    /// Only one of the TLS files was given.
    #[error("WHARF_TLS_CERT and WHARF_TLS_KEY must be given together")]
    TlsPair,
}

impl Config {
    /// Merges `given` (flags and environment) over the config file over the defaults.
    pub fn resolve(given: Settings) -> Result<Self, ConfigError> {
        let file = match &given.config {
            Some(path) => read_file(path)?,
            None => Settings::default(),
        };
        let listen = given.listen.or(file.listen).unwrap_or(([127, 0, 0, 1], 5000).into());
        let data_dir = given.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = given
            .database_url
            .or(file.database_url)
            .unwrap_or_else(|| Secret::from(format!("sqlite://{}/wharf.db?mode=rwc", data_dir.display())));
        let storage_url = given
            .storage_url
            .or(file.storage_url)
            .unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        let tls = match (given.tls_cert.or(file.tls_cert), given.tls_key.or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        // An empty value (as compose files pass through) means "not set".
        let configured = given.external_url.or(file.external_url).filter(|u| !u.trim().is_empty());
        let external_url_set = configured.is_some();
        let external_url =
            configured.unwrap_or_else(|| format!("{scheme}://{listen}")).trim_end_matches('/').to_owned();
        Ok(Self {
            listen,
            data_dir,
            admin_password: given.admin_password.or(file.admin_password),
            database_url,
            storage_url,
            storage_fsync: given.storage_fsync.or(file.storage_fsync).unwrap_or(true),
            external_url,
            external_url_set,
            tls,
            log: given.log.or(file.log).unwrap_or_else(|| "info".into()),
            log_json: given.log_format.or(file.log_format).is_some_and(|f| f.eq_ignore_ascii_case("json")),
            gc_grace: given.gc_grace.or(file.gc_grace).map_or(Duration::from_secs(2 * 3600), |d| d.0),
            gc_upload_age: given
                .gc_upload_age
                .or(file.gc_upload_age)
                .map_or(Duration::from_secs(24 * 3600), |d| d.0),
            gc_workers: given.gc_workers.or(file.gc_workers).unwrap_or(8).clamp(1, 64),
            credential_cache: given
                .credential_cache
                .or(file.credential_cache)
                .map_or(Duration::from_secs(60), |d| d.0.min(Duration::from_secs(60))),
            // Renewed every third of its life: below a second, renewals would be all it does.
            site_dir: given.site_dir.or(file.site_dir),
            job_lease: given
                .job_lease
                .or(file.job_lease)
                .map_or(Duration::from_secs(30), |d| d.0.max(Duration::from_secs(1))),
            header_timeout: given
                .header_timeout
                .or(file.header_timeout)
                .map_or(Duration::from_secs(20), |d| d.0.max(Duration::from_millis(100))),
            max_uploads: given.max_uploads.or(file.max_uploads).unwrap_or(200).max(1),
            trusted_proxies: parse_proxies(given.trusted_proxies.or(file.trusted_proxies).as_deref())?,
            max_connections_per_client: given
                .max_connections_per_client
                .or(file.max_connections_per_client)
                .unwrap_or(256)
                .max(1),
            body_timeout: given
                .body_timeout
                .or(file.body_timeout)
                .map_or(Duration::from_secs(30), |d| d.0.max(Duration::from_millis(100))),
            metrics_listen: given.metrics_listen.or(file.metrics_listen),
            secret_key: given.secret_key.or(file.secret_key).filter(|k| !k.expose_secret().trim().is_empty()),
            storage_per_project: given
                .storage_per_project
                .or(file.storage_per_project)
                .map_or(-1, |s| s.0.max(-1)),
            quota_warning: given.quota_warning.or(file.quota_warning).unwrap_or(85).clamp(1, 100),
            webhook_retention: given
                .webhook_retention
                .or(file.webhook_retention)
                .map_or(Duration::from_secs(24 * 3600), |d| d.0.max(Duration::from_secs(1))),
            configurations: given.configurations.or(file.configurations),
        })
    }

    /// The registry host clients put in image names: the external URL without its scheme.
    pub fn registry_host(&self) -> &str {
        self.external_url.split_once("://").map_or(&self.external_url, |(_, h)| h)
    }

    /// The base URL for links in an answer to a request that named `host`: the configured
    /// external URL, or else the scheme Wharf serves with and the host the client used.
    pub fn base_url(&self, host: Option<&str>) -> String {
        match host {
            Some(h) if !self.external_url_set && !h.is_empty() => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{h}")
            }
            _ => self.external_url.clone(),
        }
    }
}

/// `10.0.0.0/8, 192.168.1.1, ::1`: networks, or single addresses.
fn parse_proxies(list: Option<&str>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let nets = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::TrustedProxy(s.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(nets)
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        let size = |s: &str| s.parse::<HumanSize>().map(|h| h.0);
        assert_eq!(size("-1"), Ok(-1));
        assert_eq!(size("1024"), Ok(1024));
        assert_eq!(size("10GiB"), Ok(10 * 1024 * 1024 * 1024));
        assert_eq!(size("500 MB"), Ok(500_000_000));
        assert_eq!(size("1.5KiB"), Ok(1536));
        assert!(size("10 parsecs").is_err());
        assert!(size("lots").is_err());
        let c = Config::resolve(Settings { storage_per_project: Some(HumanSize(7)), ..Default::default() })
            .expect("config");
        assert_eq!((c.storage_per_project, c.quota_warning), (7, 85));
    }

    #[test]
    fn defaults_file_then_given() {
        let c = Config::resolve(Settings::default()).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(c.database_url.expose_secret(), "sqlite://./data/wharf.db?mode=rwc");
        assert_eq!(c.storage_url, "./data/blobs");
        assert_eq!(c.external_url, "http://127.0.0.1:5000");
        assert!(c.storage_fsync);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("wharf.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:6000\"\ndata_dir = \"/srv/w\"\nexternal_url = \"https://reg.example/\"\n",
        )
        .expect("write");
        let given = Settings {
            config: Some(file),
            listen: Some("127.0.0.1:7000".parse().expect("addr")),
            ..Default::default()
        };
        let c = Config::resolve(given).expect("file");
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.data_dir, PathBuf::from("/srv/w"));
        assert_eq!(c.external_url, "https://reg.example");
        assert_eq!(c.base_url(Some("other:1")), "https://reg.example", "configured wins");
        let d = Config::resolve(Settings::default()).expect("defaults");
        assert_eq!(d.base_url(Some("reg.lan:5000")), "http://reg.lan:5000");
        assert_eq!(d.base_url(None), "http://127.0.0.1:5000");
        let empty = Settings { external_url: Some(String::new()), ..Default::default() };
        assert!(!Config::resolve(empty).expect("empty").external_url_set);
        assert_eq!(c.registry_host(), "reg.example");
        assert!(!format!("{:?}", Secret::from("pw")).contains("pw"));
        assert_eq!(c.base_url(Some("other:1")), "https://reg.example", "configured wins");
        let d = Config::resolve(Settings::default()).expect("defaults");
        assert_eq!(d.base_url(Some("reg.lan:5000")), "http://reg.lan:5000");
        assert_eq!(d.base_url(None), "http://127.0.0.1:5000");
        let empty = Settings { external_url: Some(String::new()), ..Default::default() };
        assert!(!Config::resolve(empty).expect("empty").external_url_set);
    }

    #[test]
    fn durations_need_a_unit() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.0);
        assert_eq!(d("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(d("2").is_err() && d("h").is_err() && d("2w").is_err() && d("-1s").is_err());
        let c = Config::resolve(Settings::default()).expect("defaults");
        assert_eq!(
            (c.gc_grace, c.gc_upload_age, c.gc_workers),
            (Duration::from_secs(7200), Duration::from_secs(86_400), 8)
        );
    }

    #[test]
    fn bad_files_and_half_tls_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "no_such_setting = 1\n").expect("write");
        let r = Config::resolve(Settings { config: Some(file), ..Default::default() });
        assert!(matches!(r, Err(ConfigError::Parse(..))));
        let r = Config::resolve(Settings { tls_cert: Some("c.pem".into()), ..Default::default() });
        assert!(matches!(r, Err(ConfigError::TlsPair)));
        let r = Config::resolve(Settings {
            trusted_proxies: Some("10.0.0.0/8, nonsense".into()),
            ..Default::default()
        });
        assert!(matches!(r, Err(ConfigError::TrustedProxy(p)) if p == "nonsense"));
        let c = Config::resolve(Settings {
            trusted_proxies: Some("10.0.0.0/8, ::1".into()),
            ..Default::default()
        })
        .expect("proxies");
        let trusts = |ip: &str| {
            c.trusted_proxies.iter().any(|n| n.contains(&ip.parse::<std::net::IpAddr>().expect("ip")))
        };
        assert!(trusts("10.2.3.4"));
        assert!(trusts("::1"));
        assert!(!trusts("11.0.0.1"));
    }
}
