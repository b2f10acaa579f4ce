//! What an operator watches: counters, gauges and histograms kept in atomics and served by
//! `GET /metrics` in the Prometheus text format (version 0.0.4). One [`Metrics`] per `AppState`,
//! so several servers in one process (tests, replicas) keep their own numbers.
//!
//! Every metric is listed, with its meaning, in the README's "Operations" section.

use super::store::{AccountStore, LeadStore, StoreError, UserUpdate};
use crate::domain::{
    Account, BoardEvent, ClaimReply, Lead, LeadId, Millis, NewLead, Password, Role, UserInfo, Username,
};
use crate::protocol::Snapshot;
use async_trait::async_trait;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets: 0.5 ms to 5 s.
pub const BUCKETS: [f64; 13] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A latency histogram with [`BUCKETS`]; the sum is kept in nanoseconds.
#[derive(Default)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.iter().position(|&le| secs <= le).unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str) {
        let mut cumulative = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            cumulative += n.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        // The count is the +Inf bucket, so the two agree even while observations land.
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// How a claim attempt ended, as counted by `leadboard_claims_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimResult {
    Won,
    Lost,
    AlreadyYours,
    /// Refused before it reached the store: unknown lead.
    NotFound,
    /// Refused before it reached the store: the user's claim rate limit.
    RateLimited,
    /// The store failed or its answer could not be verified.
    Error,
}

impl ClaimResult {
    const ALL: [ClaimResult; 6] = [
        ClaimResult::Won,
        ClaimResult::Lost,
        ClaimResult::AlreadyYours,
        ClaimResult::NotFound,
        ClaimResult::RateLimited,
        ClaimResult::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ClaimResult::Won => "won",
            ClaimResult::Lost => "lost",
            ClaimResult::AlreadyYours => "already_yours",
            ClaimResult::NotFound => "not_found",
            ClaimResult::RateLimited => "rate_limited",
            ClaimResult::Error => "error",
        }
    }
}

/// Operations that can meet a conflict: a lost claim, or a release/reassign refused because the
/// lead changed (stale version, no longer claimed, already the assignee).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictOp {
    Claim,
    Release,
    Reassign,
}

impl ConflictOp {
    const ALL: [ConflictOp; 3] = [ConflictOp::Claim, ConflictOp::Release, ConflictOp::Reassign];

    fn label(self) -> &'static str {
        match self {
            ConflictOp::Claim => "claim",
            ConflictOp::Release => "release",
            ConflictOp::Reassign => "reassign",
        }
    }
}

/// Why a board was sent a whole snapshot instead of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotReason {
    /// It (re)connected without a usable resume point, or too far back, or from another stream.
    Resume,
    /// It fell behind the fan-out buffer while connected (a slow or stalled board).
    Lagged,
}

/// The store operations whose failures `leadboard_store_errors_total{op}` counts.
const STORE_OPS: [&str; 18] = [
    "snapshot",
    "claim",
    "release",
    "reassign",
    "events_after",
    "latest_seq",
    "recent_events",
    "add_leads",
    "ping",
    "add_user",
    "verify_password",
    "user",
    "users",
    "update_user",
    "create_session",
    "session_user",
    "delete_session",
    "claim_verify",
];

/// The Appwrite Realtime bridge's health, updated by the bridge task.
#[derive(Default)]
pub struct BridgeMetrics {
    connected: AtomicBool,
    /// Times the bridge lost its socket (or could not open one) and started over.
    pub reconnects: Counter,
    /// From Appwrite's timestamp of a change to the bridge receiving it.
    pub lag: Histogram,
    /// Realtime events received.
    pub events: Counter,
}

impl BridgeMetrics {
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// One server's metrics.
pub struct Metrics {
    claims: [Counter; ClaimResult::ALL.len()],
    pub claim_duration: Histogram,
    conflicts: [Counter; ConflictOp::ALL.len()],
    store_errors: [Counter; STORE_OPS.len()],
    /// Committed events handed to the fan-out.
    pub events_published: Counter,
    /// Event messages written to board sockets (live and catch-up).
    pub event_deliveries: Counter,
    snapshots: [Counter; 2],
    /// Events a slow board missed because it fell behind the buffer (it got a snapshot instead).
    pub events_dropped: Counter,
    /// Board websockets accepted.
    pub board_connections: Counter,
    /// Boards told to reconnect (close 1012) because the server is shutting down.
    pub boards_restarted: Counter,
    /// Set in the Appwrite mode.
    pub bridge: Option<Arc<BridgeMetrics>>,
}

/// Gauges read from elsewhere at scrape time.
pub struct Gauges {
    pub boards: usize,
    pub buffered_events: usize,
    pub shutting_down: bool,
}

impl Metrics {
    /// `appwrite`: whether the Realtime bridge metrics apply.
    pub fn new(appwrite: bool) -> Self {
        Self {
            claims: Default::default(),
            claim_duration: Histogram::default(),
            conflicts: Default::default(),
            store_errors: Default::default(),
            events_published: Counter::default(),
            event_deliveries: Counter::default(),
            snapshots: Default::default(),
            events_dropped: Counter::default(),
            board_connections: Counter::default(),
            boards_restarted: Counter::default(),
            bridge: appwrite.then(Default::default),
        }
    }

    pub fn claim(&self, result: ClaimResult) {
        self.claims[result as usize].inc();
    }

    pub fn claims(&self, result: ClaimResult) -> u64 {
        self.claims[result as usize].get()
    }

    pub fn conflict(&self, op: ConflictOp) {
        self.conflicts[op as usize].inc();
    }

    pub fn conflicts(&self, op: ConflictOp) -> u64 {
        self.conflicts[op as usize].get()
    }

    pub fn store_error(&self, op: &'static str) {
        let i = STORE_OPS.iter().position(|o| *o == op).expect("a known store operation");
        self.store_errors[i].inc();
    }

    pub fn store_errors(&self) -> u64 {
        self.store_errors.iter().map(Counter::get).sum()
    }

    pub fn snapshot_sent(&self, reason: SnapshotReason) {
        self.snapshots[reason as usize].inc();
    }

    pub fn snapshots(&self, reason: SnapshotReason) -> u64 {
        self.snapshots[reason as usize].get()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        fn head(out: &mut String, name: &str, kind: &str, help: &str) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        }
        head(&mut out, "leadboard_claims_total", "counter", "Claim attempts by outcome.");
        for r in ClaimResult::ALL {
            let _ = writeln!(out, "leadboard_claims_total{{outcome=\"{}\"}} {}", r.label(), self.claims(r));
        }
        head(
            &mut out,
            "leadboard_claim_duration_seconds",
            "histogram",
            "Time to decide a claim in the store and verify the answer.",
        );
        self.claim_duration.render(&mut out, "leadboard_claim_duration_seconds");
        head(
            &mut out,
            "leadboard_conflicts_total",
            "counter",
            "Lost claims, and releases or reassigns refused because the lead had changed.",
        );
        for op in ConflictOp::ALL {
            let _ = writeln!(out, "leadboard_conflicts_total{{op=\"{}\"}} {}", op.label(), self.conflicts(op));
        }
        head(
            &mut out,
            "leadboard_store_errors_total",
            "counter",
            "Store operations that failed (unavailable or internal error; not rule refusals).",
        );
        for (op, n) in STORE_OPS.iter().zip(&self.store_errors) {
            let _ = writeln!(out, "leadboard_store_errors_total{{op=\"{op}\"}} {}", n.get());
        }
        head(&mut out, "leadboard_boards_connected", "gauge", "Board websockets open now.");
        let _ = writeln!(out, "leadboard_boards_connected {}", gauges.boards);
        head(&mut out, "leadboard_board_connections_total", "counter", "Board websockets accepted.");
        let _ = writeln!(out, "leadboard_board_connections_total {}", self.board_connections.get());
        head(&mut out, "leadboard_events_published_total", "counter", "Committed events handed to the fan-out.");
        let _ = writeln!(out, "leadboard_events_published_total {}", self.events_published.get());
        head(
            &mut out,
            "leadboard_event_deliveries_total",
            "counter",
            "Event messages handed to board sockets (live and catch-up).",
        );
        let _ = writeln!(out, "leadboard_event_deliveries_total {}", self.event_deliveries.get());
        head(
            &mut out,
            "leadboard_board_snapshots_total",
            "counter",
            "Snapshots sent to boards: on resume, or because the board lagged behind the fan-out buffer.",
        );
        for (reason, label) in [(SnapshotReason::Resume, "resume"), (SnapshotReason::Lagged, "lagged")] {
            let _ = writeln!(out, "leadboard_board_snapshots_total{{reason=\"{label}\"}} {}", self.snapshots(reason));
        }
        head(
            &mut out,
            "leadboard_events_dropped_total",
            "counter",
            "Events slow boards missed because they fell behind the fan-out buffer (each such board got a snapshot).",
        );
        let _ = writeln!(out, "leadboard_events_dropped_total {}", self.events_dropped.get());
        head(
            &mut out,
            "leadboard_fanout_buffered_events",
            "gauge",
            "Events held in the fan-out buffer for the slowest board.",
        );
        let _ = writeln!(out, "leadboard_fanout_buffered_events {}", gauges.buffered_events);
        head(
            &mut out,
            "leadboard_boards_restarted_total",
            "counter",
            "Boards told to reconnect (close 1012) because the server was shutting down.",
        );
        let _ = writeln!(out, "leadboard_boards_restarted_total {}", self.boards_restarted.get());
        head(&mut out, "leadboard_shutting_down", "gauge", "1 while the server drains before exiting.");
        let _ = writeln!(out, "leadboard_shutting_down {}", u8::from(gauges.shutting_down));
        if let Some(b) = &self.bridge {
            head(
                &mut out,
                "leadboard_realtime_bridge_connected",
                "gauge",
                "1 while the Appwrite Realtime bridge is connected and caught up.",
            );
            let _ = writeln!(out, "leadboard_realtime_bridge_connected {}", u8::from(b.is_connected()));
            head(
                &mut out,
                "leadboard_realtime_bridge_reconnects_total",
                "counter",
                "Times the Realtime bridge lost its socket (or failed to open one) and started over.",
            );
            let _ = writeln!(out, "leadboard_realtime_bridge_reconnects_total {}", b.reconnects.get());
            head(&mut out, "leadboard_realtime_bridge_events_total", "counter", "Realtime events the bridge received.");
            let _ = writeln!(out, "leadboard_realtime_bridge_events_total {}", b.events.get());
            head(
                &mut out,
                "leadboard_realtime_bridge_lag_seconds",
                "histogram",
                "From Appwrite's timestamp of a change to the bridge receiving it.",
            );
            b.lag.render(&mut out, "leadboard_realtime_bridge_lag_seconds");
        }
        out
    }
}

fn is_failure(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::Internal(_))
}

/// A store port (`dyn LeadStore` or `dyn AccountStore`), counting its failures.
pub struct Metered<S: ?Sized> {
    inner: Arc<S>,
    metrics: Arc<Metrics>,
}

impl<S: ?Sized> Metered<S> {
    pub fn new(inner: Arc<S>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(&self, op: &'static str, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r {
            if is_failure(e) {
                self.metrics.store_error(op);
            }
        }
        r
    }
}

#[async_trait]
impl LeadStore for Metered<dyn LeadStore> {
    fn stream(&self) -> &str {
        self.inner.stream()
    }
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.count("snapshot", self.inner.snapshot().await)
    }
    async fn claim(&self, id: &LeadId, by: &Username, received_at: Millis) -> Result<ClaimReply, StoreError> {
        self.count("claim", self.inner.claim(id, by, received_at).await)
    }
    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        self.count("release", self.inner.release(id, seen_version, actor).await)
    }
    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
    ) -> Result<Lead, StoreError> {
        self.count("reassign", self.inner.reassign(id, seen_version, to, actor).await)
    }
    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError> {
        self.count("events_after", self.inner.events_after(after_seq, limit).await)
    }
    async fn latest_seq(&self) -> Result<u64, StoreError> {
        self.count("latest_seq", self.inner.latest_seq().await)
    }
    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.count("recent_events", self.inner.recent_events(limit).await)
    }
    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError> {
        self.count("add_leads", self.inner.add_leads(leads, actor).await)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.count("ping", self.inner.ping().await)
    }
}

#[async_trait]
impl AccountStore for Metered<dyn AccountStore> {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError> {
        self.count("add_user", self.inner.add_user(username, role, password).await)
    }
    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Account>, StoreError> {
        self.count("verify_password", self.inner.verify_password(login, password).await)
    }
    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError> {
        self.count("user", self.inner.user(username).await)
    }
    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        self.count("users", self.inner.users().await)
    }
    async fn update_user(&self, username: &Username, update: UserUpdate) -> Result<Account, StoreError> {
        self.count("update_user", self.inner.update_user(username, update).await)
    }
    async fn create_session(
        &self,
        token_hash: &str,
        username: &Username,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        self.count("create_session", self.inner.create_session(token_hash, username, expires_at).await)
    }
    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError> {
        self.count("session_user", self.inner.session_user(token_hash, now).await)
    }
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.count("delete_session", self.inner.delete_session(token_hash).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `series` (name and labels exactly as rendered).
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    }

    fn gauges() -> Gauges {
        Gauges { boards: 3, buffered_events: 7, shutting_down: false }
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = Metrics::new(false);
        m.claim_duration.observe(Duration::from_micros(300)); // <= 0.5 ms
        m.claim_duration.observe(Duration::from_micros(700)); // <= 1 ms
        m.claim_duration.observe(Duration::from_millis(30)); // <= 50 ms
        m.claim_duration.observe(Duration::from_secs(9)); // +Inf
        let text = m.render(&gauges());
        let name = "leadboard_claim_duration_seconds";
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.0005\"}}")), 1.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.001\"}}")), 2.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.025\"}}")), 2.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.05\"}}")), 3.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"5\"}}")), 3.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"+Inf\"}}")), 4.0);
        assert_eq!(sample(&text, &format!("{name}_count")), 4.0);
        assert!((sample(&text, &format!("{name}_sum")) - 9.031).abs() < 1e-9);
    }

    #[test]
    fn every_series_is_exposed_from_zero_with_help_and_type() {
        let m = Metrics::new(false);
        m.claim(ClaimResult::Won);
        m.claim(ClaimResult::Won);
        m.conflict(ConflictOp::Release);
        m.store_error("ping");
        m.snapshot_sent(SnapshotReason::Lagged);
        let text = m.render(&gauges());
        assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"won\"}"), 2.0);
        assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"rate_limited\"}"), 0.0);
        assert_eq!(sample(&text, "leadboard_conflicts_total{op=\"release\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_store_errors_total{op=\"ping\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_board_snapshots_total{reason=\"lagged\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_boards_connected"), 3.0);
        assert_eq!(sample(&text, "leadboard_fanout_buffered_events"), 7.0);
        assert!(!text.contains("realtime_bridge"), "no bridge metrics without the Appwrite store");
        // Every sample line belongs to a family announced by # TYPE.
        let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
            assert!(families.contains(&name) || families.contains(&family), "{line}");
        }
        assert!(Metrics::new(true).render(&gauges()).contains("leadboard_realtime_bridge_connected 0"));
    }
}
