//! Fault injection, controlled at run time through `/__faults` (see README): REST latency,
//! REST errors before or after the call is applied, skewed API-node clocks, the document
//! cache race, dropped sockets, lost, delayed and reordered events, and the Realtime abuse
//! limits. Random choices come from one seeded RNG so a run is reproducible.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::errors::ApiError;
use crate::time::{self, Timestamp};
use crate::AppState;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Fail without touching any data.
    #[default]
    Before,
    /// Run the call (the write happens), then answer with the error anyway.
    After,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// 429 (`general_rate_limit_exceeded`) or a 5xx (`general_unknown`).
    pub status: u16,
    /// Fail the next `count` matching calls, then the rule expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Or fail this fraction (0..=1) of matching calls, until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    #[serde(default)]
    pub phase: Phase,
    /// Hold the reply this long before sending the error (lets clients time out).
    #[serde(default)]
    pub hang_ms: u64,
    /// Only calls with this HTTP method (e.g. "PATCH").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only calls whose path starts with this (e.g. "/v1/databases/main/collections/leads").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

impl ErrorRule {
    fn validate(&self) -> Result<(), String> {
        if !(self.status == 429 || (500..=599).contains(&self.status)) {
            return Err(format!("status must be 429 or 5xx, got {}", self.status));
        }
        match (self.count, self.fraction) {
            (Some(_), None) => Ok(()),
            (None, Some(f)) if (0.0..=1.0).contains(&f) => Ok(()),
            _ => Err("give exactly one of count or fraction (0..=1)".into()),
        }
    }

    fn applies_to(&self, method: &Method, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealtimeFaults {
    /// Fraction (0..=1) of event deliveries silently dropped, per subscriber.
    #[serde(default)]
    pub drop_event_fraction: f64,
    /// Drop every socket every this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_every_secs: Option<u64>,
    /// Publish each event this long after its write (after the reply), plus a random
    /// `0..=jitter_ms`, so events of different requests can arrive in any order.
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
    /// Appwrite's abuse limits (`app/realtime.php`); `null` turns one off.
    #[serde(default = "connections_per_minute")]
    pub connections_per_minute: Option<u32>,
    #[serde(default = "messages_per_minute")]
    pub messages_per_minute: Option<u32>,
}

fn connections_per_minute() -> Option<u32> {
    Some(128)
}

fn messages_per_minute() -> Option<u32> {
    Some(32)
}

impl Default for RealtimeFaults {
    fn default() -> Self {
        RealtimeFaults {
            drop_event_fraction: 0.0,
            close_every_secs: None,
            delay_ms: 0,
            jitter_ms: 0,
            connections_per_minute: connections_per_minute(),
            messages_per_minute: messages_per_minute(),
        }
    }
}

/// Several API nodes whose clocks disagree: each write is served by one picked at random,
/// and stamps `$updatedAt` with its clock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockFaults {
    /// Each node's offset from the true time, in milliseconds (may be negative).
    #[serde(default)]
    pub node_offsets_ms: Vec<i64>,
}

/// Widens or forces the races of the legacy document cache (see `rest/writes.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheFaults {
    /// Pause between a write's locking read and its write, as PHP work would.
    #[serde(default)]
    pub lock_gap_ms: u64,
    /// Pause between a write's cache purge and its commit: a GET in between re-caches the
    /// pre-commit row.
    #[serde(default)]
    pub commit_window_ms: u64,
    /// The next N writes behave as if a GET had raced them in that window.
    #[serde(default)]
    pub recache_count: u64,
    /// Or this fraction (0..=1) of writes does.
    #[serde(default)]
    pub recache_fraction: f64,
}

/// The active faults, as shown by `GET /__faults`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultConfig {
    pub latency: Option<Latency>,
    pub errors: Vec<ErrorRule>,
    pub realtime: RealtimeFaults,
    pub clock: ClockFaults,
    pub cache: CacheFaults,
}

/// `POST /__faults`: each field present replaces that part of the configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultUpdate {
    #[serde(default, with = "double_option")]
    pub latency: Option<Option<Latency>>,
    pub errors: Option<Vec<ErrorRule>>,
    pub realtime: Option<RealtimeFaults>,
    pub clock: Option<ClockFaults>,
    pub cache: Option<CacheFaults>,
    /// Drop all Realtime sockets now (no close frame, like a lost connection).
    #[serde(default)]
    pub drop_sockets: bool,
}

/// Distinguishes `"latency": null` (clear) from an absent field (keep).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

struct FaultState {
    config: FaultConfig,
    rng: StdRng,
    /// Bumped whenever the periodic socket closer must stop or restart.
    closer_epoch: u64,
}

pub struct Faults {
    state: Mutex<FaultState>,
    /// Sockets end when this generation changes.
    kill: watch::Sender<u64>,
}

/// What to do with one REST call.
struct Decision {
    delay: Duration,
    error: Option<ErrorRule>,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            state: Mutex::new(FaultState {
                config: FaultConfig::default(),
                rng: StdRng::seed_from_u64(seed),
                closer_epoch: 0,
            }),
            kill: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().expect("fault lock")
    }

    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// A receiver that changes when all sockets must be dropped.
    pub fn kill_signal(&self) -> watch::Receiver<u64> {
        self.kill.subscribe()
    }

    pub fn drop_sockets(&self) {
        self.kill.send_modify(|generation| *generation += 1);
    }

    /// Applies an update; returns the new closer epoch when a periodic closer must start.
    pub fn update(&self, update: FaultUpdate) -> Result<Option<(u64, u64)>, String> {
        if let Some(errors) = &update.errors {
            errors.iter().try_for_each(ErrorRule::validate)?;
        }
        if let Some(rt) = &update.realtime {
            if !(0.0..=1.0).contains(&rt.drop_event_fraction) || rt.close_every_secs == Some(0) {
                return Err("drop_event_fraction must be in 0..=1 and close_every_secs > 0".into());
            }
        }
        if update.cache.as_ref().is_some_and(|c| !(0.0..=1.0).contains(&c.recache_fraction)) {
            return Err("recache_fraction must be in 0..=1".into());
        }
        let mut state = self.lock();
        if let Some(latency) = update.latency {
            state.config.latency = latency;
        }
        if let Some(errors) = update.errors {
            state.config.errors = errors;
        }
        if let Some(clock) = update.clock {
            state.config.clock = clock;
        }
        if let Some(cache) = update.cache {
            state.config.cache = cache;
        }
        let mut closer = None;
        if let Some(realtime) = update.realtime {
            state.closer_epoch += 1;
            closer = realtime.close_every_secs.map(|secs| (state.closer_epoch, secs));
            state.config.realtime = realtime;
        }
        drop(state);
        if update.drop_sockets {
            self.drop_sockets();
        }
        Ok(closer)
    }

    pub fn clear(&self) {
        let mut state = self.lock();
        state.config = FaultConfig::default();
        state.closer_epoch += 1;
    }

    fn closer_epoch(&self) -> u64 {
        self.lock().closer_epoch
    }

    /// True if this event delivery should be lost.
    pub fn lose_event(&self) -> bool {
        let mut state = self.lock();
        let fraction = state.config.realtime.drop_event_fraction;
        fraction > 0.0 && state.rng.random_bool(fraction)
    }

    /// The time on the API node serving this request (`DateTime::now()` in PHP).
    pub fn node_now(&self) -> Timestamp {
        let mut state = self.lock();
        let FaultState { config, rng, .. } = &mut *state;
        let offsets = &config.clock.node_offsets_ms;
        let offset = if offsets.is_empty() { 0 } else { offsets[rng.random_range(0..offsets.len())] };
        time::now() + TimeDelta::milliseconds(offset)
    }

    /// How long to hold a write at each point of the write protocol.
    pub fn cache_pauses(&self) -> (Duration, Duration) {
        let cache = &self.lock().config.cache;
        (Duration::from_millis(cache.lock_gap_ms), Duration::from_millis(cache.commit_window_ms))
    }

    /// True if this write must behave as if a GET had re-cached the old row before commit.
    pub fn recache(&self) -> bool {
        let mut state = self.lock();
        let FaultState { config, rng, .. } = &mut *state;
        let cache = &mut config.cache;
        if cache.recache_count > 0 {
            cache.recache_count -= 1;
            return true;
        }
        cache.recache_fraction > 0.0 && rng.random_bool(cache.recache_fraction)
    }

    /// When to publish an event, from its write.
    pub fn event_delay(&self) -> Duration {
        let mut state = self.lock();
        let FaultState { config, rng, .. } = &mut *state;
        let rt = &config.realtime;
        let jitter = if rt.jitter_ms > 0 { rng.random_range(0..=rt.jitter_ms) } else { 0 };
        Duration::from_millis(rt.delay_ms + jitter)
    }

    /// The abuse limits in force: connections per minute per IP, messages per minute per socket.
    pub fn realtime_limits(&self) -> (Option<u32>, Option<u32>) {
        let rt = &self.lock().config.realtime;
        (rt.connections_per_minute, rt.messages_per_minute)
    }

    fn decide(&self, method: &Method, path: &str) -> Decision {
        let mut state = self.lock();
        let FaultState { config, rng, .. } = &mut *state;
        let delay = config
            .latency
            .as_ref()
            .map_or(0, |l| l.ms + if l.jitter_ms > 0 { rng.random_range(0..=l.jitter_ms) } else { 0 });
        let mut error = None;
        for rule in config.errors.iter_mut().filter(|r| r.applies_to(method, path)) {
            let hit = match (&mut rule.count, rule.fraction) {
                (Some(count), _) if *count > 0 => {
                    *count -= 1;
                    true
                }
                (None, Some(fraction)) => rng.random_bool(fraction),
                _ => false,
            };
            if hit {
                error = Some(rule.clone());
                break;
            }
        }
        config.errors.retain(|r| r.count != Some(0));
        Decision { delay: Duration::from_millis(delay), error }
    }
}

/// Drops every socket every `secs` seconds until the realtime faults change.
pub fn spawn_closer(state: AppState, epoch: u64, secs: u64) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            if state.faults.closer_epoch() != epoch {
                break;
            }
            state.faults.drop_sockets();
        }
    });
}

/// Middleware for the REST routes.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let decision = state.faults.decide(request.method(), request.uri().path());
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let Some(rule) = decision.error else {
        return next.run(request).await;
    };
    if rule.phase == Phase::After {
        next.run(request).await;
    }
    tokio::time::sleep(Duration::from_millis(rule.hang_ms)).await;
    ApiError::for_status(rule.status).into_response()
}
