//! Slows down password guessing: after `MAX_FAILURES` failed logins for one account within
//! `WINDOW`, further attempts for it are refused without checking the password until the window
//! has passed. Refusing before argon2 also keeps guessing from costing the server CPU.
//!
//! The counts are per process: with several replicas an attacker gets at most `MAX_FAILURES`
//! tries per replica per window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed per account per window.
pub const MAX_FAILURES: u32 = 5;
/// The window failures are counted in, and the lockout after it fills.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Accounts tracked at most; the table starts over when full.
const MAX_TRACKED: usize = 10_000;

/// Failed-login counts per account.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Whether `account` may try a password now.
    pub fn allows(&self, account: &str) -> bool {
        let Ok(map) = self.failures.lock() else { return true };
        match map.get(&account.to_lowercase()) {
            Some((n, since)) => *n < MAX_FAILURES || since.elapsed() >= WINDOW,
            None => true,
        }
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str) {
        let Ok(mut map) = self.failures.lock() else { return };
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
        let entry = map.entry(account.to_lowercase()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets the failures of an account that signed in.
    pub fn succeeded(&self, account: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&account.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_resets_on_success() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(t.allows("Admin"));
            t.failed("admin");
        }
        assert!(!t.allows("ADMIN"), "accounts are matched case-insensitively");
        assert!(t.allows("other"));
        t.succeeded("admin");
        assert!(t.allows("admin"));
    }
}
