//! Slows down password guessing without letting anyone lock an account out.
//!
//! Failures are counted per account *and client address*: after `MAX_FAILURES` within `WINDOW`
//! from one address, that address is refused for the account (without a password check, so
//! guessing also stops costing the server argon2 time) until the window has passed. Other
//! addresses are unaffected, so an attacker cannot lock the real user out. Guessing spread over
//! many addresses meets the account-wide ceiling `MAX_ACCOUNT_FAILURES`; past it, every address
//! that has already failed for the account is refused, but one with no failures still gets its
//! check: the real user, signing in from their own address, is never refused because others
//! guessed wrong, and each further address gives an attacker one guess, not five.
//!
//! Tables are keyed by a hash of the account name (a 250 KB username costs 16 bytes), bounded
//! in size, and forget entries whose window has passed. The counts are per process: with several
//! replicas each replica counts on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Failed attempts allowed per account and address per window.
pub const MAX_FAILURES: u32 = 5;
/// Failed attempts per account from all addresses per window, past which only addresses with no
/// failures of their own may try.
pub const MAX_ACCOUNT_FAILURES: u32 = 50;
/// The window failures are counted in, and the lockout after it fills.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Entries tracked at most per table.
const MAX_TRACKED: usize = 10_000;

/// An account name, case-folded and hashed: fixed size whatever was sent.
type AccountKey = [u8; 16];

fn account_key(account: &str) -> AccountKey {
    let digest = Sha256::digest(account.to_lowercase().as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

type Counts<K> = Mutex<HashMap<K, (u32, Instant)>>;

/// Failed-login counts.
#[derive(Default)]
pub struct LoginThrottle {
    by_address: Counts<(AccountKey, IpAddr)>,
    by_account: Counts<AccountKey>,
}

/// Failures of `key` in the current window.
fn failures<K: std::hash::Hash + Eq>(map: &Counts<K>, key: &K) -> u32 {
    let Ok(map) = map.lock() else { return 0 };
    map.get(key).filter(|(_, since)| since.elapsed() < WINDOW).map_or(0, |(n, _)| *n)
}

fn bump<K: std::hash::Hash + Eq>(map: &Counts<K>, key: K) {
    let Ok(mut map) = map.lock() else { return };
    if map.len() >= MAX_TRACKED {
        map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let entry = map.entry(key).or_insert((0, Instant::now()));
    if entry.1.elapsed() >= WINDOW {
        *entry = (0, Instant::now());
    }
    entry.0 += 1;
}

impl LoginThrottle {
    /// Whether `account` may try a password from `client` now.
    pub fn allows(&self, account: &str, client: IpAddr) -> bool {
        let key = account_key(account);
        let own = failures(&self.by_address, &(key, client));
        own < MAX_FAILURES && (own == 0 || failures(&self.by_account, &key) < MAX_ACCOUNT_FAILURES)
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str, client: IpAddr) {
        let key = account_key(account);
        bump(&self.by_account, key);
        bump(&self.by_address, (key, client));
    }

    /// Forgets the failures from an address that signed in.
    pub fn succeeded(&self, account: &str, client: IpAddr) {
        if let Ok(mut map) = self.by_address.lock() {
            map.remove(&(account_key(account), client));
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.by_address.lock().map_or(0, |m| m.len()) + self.by_account.lock().map_or(0, |m| m.len())
    }
}

/// Password checks (argon2, tens of milliseconds of CPU each) allowed per client address per
/// second, on average; credentials already verified are answered from a cache and do not count.
pub const CHECKS_PER_SECOND: f64 = 10.0;
/// Password checks an address may make at once before the rate applies.
pub const CHECK_BURST: f64 = 30.0;

/// A token bucket per client address for password checks: without it, one address could keep
/// the server's cores busy hashing guesses for ever-new usernames, which the per-account
/// throttle does not see.
#[derive(Default)]
pub struct CheckRate {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl CheckRate {
    /// Gives back the check `take` charged, once it succeeded: right credentials never use up
    /// an address's allowance (a CI host behind one address may run many robots).
    pub fn refund(&self, client: IpAddr) {
        if let Ok(mut map) = self.buckets.lock()
            && let Some((tokens, _)) = map.get_mut(&client)
        {
            *tokens = (*tokens + 1.0).min(CHECK_BURST);
        }
    }

    /// Takes one check for `client`; false when its bucket is empty.
    pub fn take(&self, client: IpAddr) -> bool {
        let Ok(mut map) = self.buckets.lock() else { return true };
        if map.len() >= MAX_TRACKED {
            // Full buckets are the default: dropping them forgets nothing that limits anyone.
            map.retain(|_, (tokens, at)| {
                *tokens + at.elapsed().as_secs_f64() * CHECKS_PER_SECOND < CHECK_BURST
            });
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let now = Instant::now();
        let (tokens, at) = map.entry(client).or_insert((CHECK_BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * CHECKS_PER_SECOND).min(CHECK_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Password checks of one account name, one at a time. A client's parallel requests right
/// after its cached check expired (docker pushes layers in parallel) then cost one check: the
/// others wait for it and find the result in the cache, instead of each spending a check and
/// together exhausting the address's allowance.
#[derive(Default)]
pub struct CheckQueue {
    waiting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The turn to check one account's password; the next waiter goes when it is dropped.
pub struct Turn<'a> {
    queue: &'a CheckQueue,
    name: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl CheckQueue {
    /// Waits for the turn to check `name`.
    pub async fn turn(&self, name: &str) -> Turn<'_> {
        let name = name.to_lowercase();
        let lock = match self.waiting.lock() {
            Ok(mut map) => map.entry(name.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let held = Some(lock.clone().lock_owned().await);
        Turn { queue: self, name, lock, held }
    }

    #[cfg(test)]
    fn waiting_for(&self, name: &str) -> bool {
        self.waiting.lock().is_ok_and(|m| m.contains_key(&name.to_lowercase()))
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.held.take();
        if let Ok(mut map) = self.queue.waiting.lock()
            && Arc::strong_count(&self.lock) == 2
        {
            // Only the map and this turn know the lock: nobody waits, forget the name.
            map.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_a_burst_then_the_rate() {
        let r = CheckRate::default();
        for i in 0..CHECK_BURST as usize {
            assert!(r.take(A), "check {i} of the burst");
        }
        assert!(!r.take(A), "the burst is spent");
        assert!(r.take(B), "other addresses are unaffected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(r.take(A), "the bucket refills at the rate");
    }

    #[test]
    fn a_successful_check_is_given_back() {
        let r = CheckRate::default();
        for _ in 0..CHECK_BURST as usize * 3 {
            assert!(r.take(A));
            r.refund(A);
        }
    }

    #[tokio::test]
    async fn checks_of_one_account_take_turns_and_the_queue_forgets_it() {
        let q = CheckQueue::default();
        let first = q.turn("Admin").await;
        let other = tokio::time::timeout(Duration::from_millis(50), q.turn("someone")).await;
        assert!(other.is_ok(), "other accounts do not wait");
        drop(other);
        let second = tokio::time::timeout(Duration::from_millis(50), q.turn("admin")).await;
        assert!(second.is_err(), "the same account (any case) waits for its turn");
        drop(first);
        let third = q.turn("ADMIN").await;
        drop(third);
        assert!(!q.waiting_for("admin") && !q.waiting_for("someone"), "nothing left behind");
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn one_address_is_slowed_down_not_the_account() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            assert!(t.allows("Admin", A));
            t.failed("admin", A);
        }
        assert!(!t.allows("ADMIN", A), "accounts are matched case-insensitively");
        assert!(t.allows("admin", B), "the real user elsewhere is not locked out");
        assert!(t.allows("other", A));
        t.succeeded("admin", A);
        assert!(t.allows("admin", A));
    }

    #[test]
    fn guessing_from_many_addresses_meets_the_account_ceiling_but_locks_nobody_out() {
        let t = LoginThrottle::default();
        for i in 0..MAX_ACCOUNT_FAILURES {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i + 1));
            t.failed("admin", ip);
        }
        let guesser = IpAddr::V4(std::net::Ipv4Addr::from(1));
        assert!(!t.allows("admin", guesser), "an address that failed waits out the window");
        assert!(t.allows("admin", B), "the real user, from an address with no failures, still gets a check");
        t.failed("admin", B);
        assert!(!t.allows("admin", B), "past the ceiling each address gets one guess, not five");
        assert!(t.allows("someone", guesser), "other accounts are unaffected");
    }

    #[test]
    fn huge_usernames_cost_a_fixed_size_and_the_tables_stay_bounded() {
        let t = LoginThrottle::default();
        let huge = "x".repeat(250_000);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.failed(&format!("{huge}{i}"), A);
        }
        assert!(t.tracked() <= 2 * MAX_TRACKED, "{} entries", t.tracked());
        assert!(std::mem::size_of::<(AccountKey, IpAddr)>() <= 40, "a key is 16 bytes plus the address");
    }
}
