//! What an operator watches: one [`Metrics`] per `AppState` (so several servers in one process,
//! tests and replicas, keep their own numbers), served by `GET /metrics` in the Prometheus text
//! format (`exposition`). `primitives` holds the atomics. (The store's failures are counted by
//! `store::Metered`.)
//!
//! Every metric is listed, with its meaning, in the README's "Operations" section.

mod exposition;
mod primitives;

pub use exposition::Gauges;
pub use primitives::{Counter, Histogram, BUCKETS};

use enum_map::{Enum, EnumMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a claim attempt ended, as counted by `leadboard_claims_total{outcome}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ClaimResult {
    Won,
    Lost,
    AlreadyYours,
    /// Refused by the store: the claimant already holds as many leads as their cap allows.
    Capped,
    /// "Next lead" found no open lead.
    NoneOpen,
    /// Refused before it reached the store: unknown lead.
    NotFound,
    /// Refused before it reached the store: the user's claim rate limit.
    RateLimited,
    /// The store failed or its answer could not be verified.
    Error,
}

/// Operations that can meet a conflict: a lost claim, or a release/reassign refused because the
/// lead changed (stale version, no longer claimed, already the assignee).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ConflictOp {
    Claim,
    Release,
    Reassign,
    Extend,
    Outcome,
}

/// Why a board was sent a whole snapshot instead of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum SnapshotReason {
    /// It (re)connected without a usable resume point, or too far back, or from another stream.
    Resume,
    /// It fell behind the fan-out buffer while connected (a slow or stalled board).
    Lagged,
}

/// The store operations whose failures `leadboard_store_errors_total{op}` counts: one per port
/// method, and `claim_verify` for a claim answer that failed verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum StoreOp {
    Snapshot,
    Claim,
    ClaimNext,
    Release,
    Reassign,
    Extend,
    RecordOutcome,
    ExpireDue,
    EventsAfter,
    LatestSeq,
    RecentEvents,
    AddLeads,
    History,
    OutcomeHistory,
    LeadEvents,
    Ping,
    AddUser,
    VerifyPassword,
    LoginKey,
    User,
    Users,
    UpdateUser,
    CreateSession,
    SessionUser,
    DeleteSession,
    ClaimVerify,
}

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
#[derive(Default)]
pub struct Metrics {
    claims: EnumMap<ClaimResult, Counter>,
    pub claim_duration: Histogram,
    conflicts: EnumMap<ConflictOp, Counter>,
    store_errors: EnumMap<StoreOp, Counter>,
    /// Committed events handed to the fan-out.
    pub events_published: Counter,
    /// Event messages written to board sockets (live and catch-up).
    pub event_deliveries: Counter,
    snapshots: EnumMap<SnapshotReason, Counter>,
    /// Events a slow board missed because it fell behind the buffer (it got a snapshot instead).
    pub events_dropped: Counter,
    /// Board websockets accepted.
    pub board_connections: Counter,
    /// Boards told to reconnect (close 1012) because the server is shutting down.
    pub boards_restarted: Counter,
    /// Set in the Appwrite mode.
    pub bridge: Option<Arc<BridgeMetrics>>,
}

impl Metrics {
    /// `appwrite`: whether the Realtime bridge metrics apply.
    pub fn new(appwrite: bool) -> Self {
        Self { bridge: appwrite.then(Default::default), ..Self::default() }
    }

    pub fn claim(&self, result: ClaimResult) {
        self.claims[result].inc();
    }

    pub fn claims(&self, result: ClaimResult) -> u64 {
        self.claims[result].get()
    }

    pub fn conflict(&self, op: ConflictOp) {
        self.conflicts[op].inc();
    }

    pub fn conflicts(&self, op: ConflictOp) -> u64 {
        self.conflicts[op].get()
    }

    pub fn store_error(&self, op: StoreOp) {
        self.store_errors[op].inc();
    }

    pub fn store_errors(&self) -> u64 {
        self.store_errors.values().map(Counter::get).sum()
    }

    pub fn snapshot_sent(&self, reason: SnapshotReason) {
        self.snapshots[reason].inc();
    }

    pub fn snapshots(&self, reason: SnapshotReason) -> u64 {
        self.snapshots[reason].get()
    }
}
