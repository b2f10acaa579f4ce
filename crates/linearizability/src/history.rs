//! What a history is made of: the register state, operations, their outcomes, and violations.

use std::collections::BTreeMap;
use std::fmt;

/// Nanoseconds since the recording started, from one monotonic clock.
pub type Nanos = u64;

/// The register's state: who holds the lead, its version, and whether an outcome closed it (it
/// then keeps its holder, and nobody can claim it until a manager reopens it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeadState {
    pub holder: Option<String>,
    pub version: u64,
    pub closed: bool,
}

impl LeadState {
    pub fn new(holder: Option<&str>, version: u64) -> Self {
        Self { holder: holder.map(str::to_owned), version, closed: false }
    }
}

impl fmt::Display for LeadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.holder {
            Some(h) if self.closed => write!(f, "closed by {h} at version {}", self.version),
            Some(h) => write!(f, "held by {h} at version {}", self.version),
            None => write!(f, "open at version {}", self.version),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Claim {
        by: String,
    },
    /// `manager`: whether `by` may release leads others hold.
    Release {
        by: String,
        seen_version: u64,
        manager: bool,
    },
    Reassign {
        by: String,
        seen_version: u64,
        to: String,
    },
    /// The holder records an outcome; `closes`: whether it closes the lead (all but "contacted").
    Outcome {
        by: String,
        seen_version: u64,
        closes: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation took effect (a claim won, a release or reassign applied); `version` is the
    /// lead's version after it.
    Won { version: u64 },
    /// The claim found the lead held by `holder` (who is the claimant for "already yours"), at
    /// `version` when the answer reported one.
    Lost { holder: String, version: Option<u64> },
    /// The server said the operation did not take effect. `observed`: the lead it reported (a
    /// 409's body); with it, the state must be that lead and the operation's precondition must
    /// fail in it. Without it (403, 404, 429) nothing is assumed about the state.
    Rejected { observed: Option<LeadState> },
    /// An error or timeout: it may have taken effect at any time after it was invoked, or never.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub lead: String,
    pub op: Op,
    pub outcome: Outcome,
    /// Before the request was sent.
    pub start: Nanos,
    /// After the response arrived (or the client gave up).
    pub end: Nanos,
}

impl Operation {
    /// The version this operation reports, if any.
    pub(crate) fn reported_version(&self) -> Option<u64> {
        match &self.outcome {
            Outcome::Won { version } => Some(*version),
            Outcome::Lost { version, .. } => *version,
            Outcome::Rejected { observed } => observed.as_ref().map(|o| o.version),
            Outcome::Unknown => None,
        }
    }

    /// When the search may no longer order it: never, for an unknown outcome.
    pub(crate) fn deadline(&self) -> Nanos {
        if self.outcome == Outcome::Unknown {
            Nanos::MAX
        } else {
            self.end
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |n: Nanos| n as f64 / 1e6;
        match &self.op {
            Op::Claim { by } => write!(f, "{by}'s claim")?,
            Op::Release { by, seen_version, .. } => write!(f, "{by}'s release of version {seen_version}")?,
            Op::Reassign { by, seen_version, to } => write!(f, "{by}'s reassign of version {seen_version} to {to}")?,
            Op::Outcome { by, seen_version, closes } => {
                let what = if *closes { "closing outcome" } else { "outcome" };
                write!(f, "{by}'s {what} on version {seen_version}")?
            }
        }
        write!(f, " [{:.3}–{:.3} ms] ", ms(self.start), ms(self.end))?;
        match &self.outcome {
            Outcome::Won { version } if matches!(self.op, Op::Claim { .. }) => write!(f, "won version {version}"),
            Outcome::Won { version } => write!(f, "applied as version {version}"),
            Outcome::Lost { holder, version: Some(v) } => write!(f, "lost to {holder} at version {v}"),
            Outcome::Lost { holder, version: None } => write!(f, "lost to {holder}"),
            Outcome::Rejected { observed: Some(o) } => write!(f, "rejected, lead {o}"),
            Outcome::Rejected { observed: None } => write!(f, "rejected"),
            Outcome::Unknown => write!(f, "outcome unknown"),
        }
    }
}

/// The operations of a run, with each lead's state before the first of them.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub initial: BTreeMap<String, LeadState>,
    pub ops: Vec<Operation>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn initial(&mut self, lead: &str, state: LeadState) {
        self.initial.insert(lead.to_owned(), state);
    }

    pub fn push(&mut self, op: Operation) {
        self.ops.push(op);
    }
}

/// Why a history is not linearizable, or could not be decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub lead: String,
    pub message: String,
    /// True when the search gave up (too many states), not a proof of a violation.
    pub inconclusive: bool,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lead {}: {}", self.lead, self.message)
    }
}

impl std::error::Error for Violation {}
