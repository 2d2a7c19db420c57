//! Background jobs: cron schedules that fire on exactly one replica, and leases that keep a job
//! on one replica at a time.

pub mod cron;
pub mod lease;
pub mod run;
pub mod scheduler;

/// A name for this process among replicas sharing the database: host, pid and a random part
/// (a restarted process on the same host is a new holder).
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", if host.is_empty() { "wharf" } else { &host }, std::process::id(), &rand[..8])
}
