//! In-memory rate limits, counted per replica: fixed windows per key ([`RateLimiter`]), and the
//! limits a replica enforces ([`Limits`]).

use super::client::{ClientKey, ClientRule};
use crate::domain::Username;
use crate::error::ApiError;
use crate::server::config::SecurityConfig;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys tracked before expired windows are swept out, so a flood of new keys costs bounded memory.
const SWEEP_AT: usize = 10_000;

/// Counts events per key in fixed windows: at most `limit` per `window`. In memory, so each
/// replica counts on its own.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, hits: Mutex::new(HashMap::new()) }
    }

    fn hits(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds to wait)` when `key` has used up its allowance.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.hits().get(key).map_or(Ok(()), |&(start, n)| self.allows(start, n))
    }

    fn allows(&self, start: Instant, n: u32) -> Result<(), u64> {
        let elapsed = start.elapsed();
        if n >= self.limit && elapsed < self.window {
            Err(self.window.saturating_sub(elapsed).as_secs() + 1)
        } else {
            Ok(())
        }
    }

    /// Counts one event against `key`.
    pub fn hit(&self, key: &str) {
        let _ = self.count(key, false);
    }

    /// Counts one event against `key` unless it has used up its allowance (then `Err(seconds to
    /// wait)`). Checked and counted under one lock, so that concurrent callers cannot all pass
    /// the check before any of them is counted.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.count(key, true)
    }

    fn count(&self, key: &str, within_allowance: bool) -> Result<(), u64> {
        let mut hits = self.hits();
        if hits.len() >= SWEEP_AT {
            hits.retain(|_, (start, _)| start.elapsed() < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        if within_allowance {
            self.allows(entry.0, entry.1)?;
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back one event taken in the current window (one that turned out not to count).
    pub fn refund(&self, key: &str) {
        if let Some((start, n)) = self.hits().get_mut(key) {
            if start.elapsed() < self.window {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Events counted against `key` in its current window.
    pub fn counted(&self, key: &str) -> u32 {
        self.hits().get(key).filter(|(start, _)| start.elapsed() < self.window).map_or(0, |&(_, n)| n)
    }

    pub fn forget(&self, key: &str) {
        self.hits().remove(key);
    }
}

/// Things open at once per key (connections per address, boards per user), each counted for
/// as long as its guard lives.
pub struct Open<K: Eq + Hash + Clone> {
    counts: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Eq + Hash + Clone> Default for Open<K> {
    fn default() -> Self {
        Self { counts: Arc::default() }
    }
}

impl<K: Eq + Hash + Clone> Open<K> {
    /// Counts one more for `key`, unless it has `cap` open already.
    pub fn enter(&self, key: K, cap: usize) -> Option<OpenGuard<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(key.clone()).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(OpenGuard { key, counts: self.counts.clone() })
    }
}

pub struct OpenGuard<K: Eq + Hash + Clone> {
    key: K,
    counts: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Eq + Hash + Clone> Drop for OpenGuard<K> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The limits a replica enforces, from `[security]`.
pub struct Limits {
    pub sign_in: SignInLimits,
    pub boards: BoardLimits,
    /// How clients are told apart (trusted proxies, IPv6 networks).
    pub clients: ClientRule,
}

impl Limits {
    pub fn new(cfg: &SecurityConfig) -> Self {
        Self { sign_in: SignInLimits::new(cfg), boards: BoardLimits::new(cfg), clients: ClientRule::new(cfg) }
    }
}

/// How long a user whose board was closed for misbehaving (1008: flooding, oversized messages,
/// too many snapshots) must wait before opening a board again.
pub const BOARD_PENALTY: Duration = Duration::from_secs(10);

/// Boards open per user and per client, snapshots asked for per user, and the pause after a
/// board was closed for misbehaving: what one account or address can make the server hold or do.
pub struct BoardLimits {
    per_user: usize,
    per_client: usize,
    users: Open<Username>,
    clients: Open<ClientKey>,
    /// Users barred from opening boards until the instant given.
    barred: Mutex<HashMap<Username, Instant>>,
    snapshots: RateLimiter,
}

/// A board's place under the caps, for as long as it is open.
pub struct BoardTicket {
    _user: OpenGuard<Username>,
    _client: OpenGuard<ClientKey>,
}

impl BoardLimits {
    fn new(cfg: &SecurityConfig) -> Self {
        Self {
            per_user: cfg.max_boards_per_user,
            per_client: cfg.max_boards_per_address,
            users: Open::default(),
            clients: Open::default(),
            barred: Mutex::default(),
            snapshots: RateLimiter::new(cfg.snapshots_per_minute, Duration::from_secs(60)),
        }
    }

    /// A place for a new board of `user` from `client`, or 429 saying which cap it hit.
    pub fn admit(&self, user: &Username, client: &ClientKey) -> Result<BoardTicket, ApiError> {
        let now = Instant::now();
        if let Some(until) = self.barred().get(user).filter(|until| **until > now) {
            let wait = until.duration_since(now).as_secs() + 1;
            return Err(too_many("misbehaving boards (one was closed for it)", wait));
        }
        let at_cap = |what: &str| ApiError::TooManyRequests {
            message: format!("too many open boards {what}; close one (a tab) first"),
            retry_after_s: BOARD_PENALTY.as_secs(),
        };
        let user_place = self.users.enter(user.clone(), self.per_user).ok_or_else(|| at_cap("for this account"))?;
        let client_place =
            self.clients.enter(client.clone(), self.per_client).ok_or_else(|| at_cap("from your address"))?;
        Ok(BoardTicket { _user: user_place, _client: client_place })
    }

    /// `user`'s board was closed for misbehaving: no new board for [`BOARD_PENALTY`].
    pub fn penalize(&self, user: &Username) {
        let mut barred = self.barred();
        let now = Instant::now();
        if barred.len() >= SWEEP_AT {
            barred.retain(|_, until| *until > now);
        }
        barred.insert(user.clone(), now + BOARD_PENALTY);
    }

    /// Counts a snapshot a board of `user` asked for; false once over the allowance.
    pub fn take_snapshot(&self, user: &Username) -> bool {
        self.snapshots.take(user.as_str()).is_ok()
    }

    fn barred(&self) -> std::sync::MutexGuard<'_, HashMap<Username, Instant>> {
        self.barred.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of the global sign-in count.
const EVERYONE: &str = "";
/// The first step of an account's sign-in delay; it doubles with every failure past the free ones.
const FIRST_DELAY: Duration = Duration::from_millis(100);

/// Password guessing, limited so that nobody can use the limits to lock someone else out:
/// - per (account, client) pair: `login_failures_per_account` failures per window, then 429 for
///   that pair only. The account's owner, from her own address, still signs in;
/// - per client (an IPv4 address or an IPv6 network): `login_failures_per_ip` failures, then
///   429 (only failures count: an office behind one address signs in at once);
/// - per account, from anywhere: past `login_failures_per_account` failures every sign-in to it
///   waits before its check, 100 ms doubling per failure up to `login_max_delay_ms`. A delay,
///   never a refusal: a guessing run slows everyone's sign-in to that account a little, and
///   locks out nobody;
/// - per replica: past `login_failures_global` failures per window (password spraying from many
///   addresses), clients that have failed in the window are refused, clients with a clean
///   record still get in.
///
/// A sign-in is counted against its pair before its password is checked, and given back if it
/// succeeds (or the store fails), so parallel guesses at one account cannot all slip under its
/// limit; how far parallel guesses can overshoot the client's is bounded by the checks that run
/// at once.
pub struct SignInLimits {
    pair: RateLimiter,
    client: RateLimiter,
    account: RateLimiter,
    global: RateLimiter,
    free: u32,
    max_delay: Duration,
    /// Sign-ins being checked at once: a password check holds 19 MiB (Argon2) and the blocking
    /// pool has hundreds of threads.
    checks: tokio::sync::Semaphore,
}

impl SignInLimits {
    fn new(cfg: &SecurityConfig) -> Self {
        let window = Duration::from_secs(cfg.login_window_secs);
        Self {
            pair: RateLimiter::new(cfg.login_failures_per_account, window),
            client: RateLimiter::new(cfg.login_failures_per_ip, window),
            account: RateLimiter::new(u32::MAX, window),
            global: RateLimiter::new(cfg.login_failures_global, window),
            free: cfg.login_failures_per_account,
            max_delay: Duration::from_millis(cfg.login_max_delay_ms),
            checks: tokio::sync::Semaphore::new(2 * std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    /// Lets a sign-in of `account` (the store's key for the login, see
    /// `AccountStore::login_key`) from `client` through to its password check, after its delay;
    /// the check must run while the returned permit is held. 429 when a limit says no.
    pub async fn attempt(
        &self,
        account: &str,
        client: &ClientKey,
    ) -> Result<(Attempt<'_>, tokio::sync::SemaphorePermit<'_>), ApiError> {
        let client = client.as_str();
        if self.global.check(EVERYONE).is_err() && self.client.counted(client) > 0 {
            let wait = self.global.check(EVERYONE).err().unwrap_or(1);
            return Err(too_many("failed sign-ins on this server, and some from your address", wait));
        }
        self.client.check(client).map_err(|s| too_many("failed sign-ins from your address", s))?;
        let pair = format!("{account} {client}");
        self.pair.take(&pair).map_err(|s| too_many("failed sign-ins for this account from your address", s))?;
        let attempt =
            Attempt { limits: self, account: account.to_owned(), client: client.to_owned(), pair, settled: false };
        tokio::time::sleep(self.delay(account)).await;
        let turn = self.checks.acquire().await.map_err(|_| ApiError::Unavailable("sign-ins are closed".into()))?;
        Ok((attempt, turn))
    }

    /// How long a sign-in of `account` waits before its check.
    pub fn delay(&self, account: &str) -> Duration {
        let failures = self.account.counted(account);
        let Some(doublings) = failures.checked_sub(self.free) else { return Duration::ZERO };
        FIRST_DELAY.saturating_mul(1u32 << doublings.min(20)).min(self.max_delay)
    }
}

/// A sign-in let through to its password check. Say how it went (`failed`, `succeeded`);
/// dropped unsettled (the store failed), it gives back what it took.
pub struct Attempt<'a> {
    limits: &'a SignInLimits,
    account: String,
    client: String,
    pair: String,
    settled: bool,
}

impl Attempt<'_> {
    /// A wrong password (or an account that may not sign in): it stays counted.
    pub fn failed(mut self) {
        self.limits.client.hit(&self.client);
        self.limits.account.hit(&self.account);
        self.limits.global.hit(EVERYONE);
        self.settled = true;
    }

    /// The owner signed in: the pair starts over; the account's failures stay (they are not hers).
    pub fn succeeded(mut self) {
        self.limits.pair.forget(&self.pair);
        self.settled = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.limits.pair.refund(&self.pair);
        }
    }
}

pub fn too_many(what: &str, retry_after_s: u64) -> ApiError {
    ApiError::TooManyRequests { message: format!("too many {what}; try again in {retry_after_s} s"), retry_after_s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limiter_allows_the_limit_then_names_the_wait() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.take("k").is_ok() && l.take("k").is_ok());
        let wait = l.take("k").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.check("other").is_ok());
        l.refund("k");
        assert!(l.take("k").is_ok(), "a refunded event frees its place");
        assert!(l.check("k").is_err());
        l.forget("k");
        assert!(l.check("k").is_ok());
        l.hit("k");
        l.hit("k");
        assert!(l.take("k").is_err());
        assert_eq!(l.counted("k"), 2);
    }

    fn limits(per_pair: u32, global: u32) -> SignInLimits {
        SignInLimits::new(&SecurityConfig {
            login_failures_per_account: per_pair,
            login_failures_global: global,
            login_max_delay_ms: 400,
            ..SecurityConfig::default()
        })
    }

    fn client(ip: &str) -> ClientKey {
        ClientRule::new(&SecurityConfig::default()).key(ip.parse().unwrap())
    }

    #[tokio::test]
    async fn guesses_from_others_slow_an_account_down_but_never_lock_its_owner_out() {
        let l = limits(2, 1000);
        let attacker = client("198.51.100.1");
        for _ in 0..2 {
            l.attempt("maria", &attacker).await.unwrap().0.failed();
        }
        assert!(l.attempt("maria", &attacker).await.is_err(), "the pair is used up");
        assert_eq!(l.delay("maria"), FIRST_DELAY, "the account is only slowed");
        for n in 0..6 {
            l.attempt("maria", &client(&format!("198.51.100.{}", 10 + n))).await.unwrap().0.failed();
        }
        assert_eq!(l.delay("maria"), Duration::from_millis(400), "doubling, up to the ceiling");
        let (attempt, _turn) = l.attempt("maria", &client("192.0.2.77")).await.expect("her own address gets in");
        attempt.succeeded();
        assert_eq!(l.delay("bob"), Duration::ZERO, "other accounts are not slowed");
    }

    #[tokio::test]
    async fn past_the_global_ceiling_only_clients_that_failed_are_refused() {
        let l = limits(5, 3);
        for n in 0..3 {
            l.attempt(&format!("user{n}"), &client("198.51.100.1")).await.unwrap().0.failed();
        }
        assert!(l.attempt("user9", &client("198.51.100.1")).await.is_err(), "a sprayer is stopped");
        assert!(l.attempt("user9", &client("192.0.2.1")).await.is_ok(), "a clean client still gets in");
    }
}
