//! Recording a history from many concurrent clients, and counting what it holds.

use crate::{History, LeadState, Nanos, Op, Operation, Outcome};
use std::collections::HashMap;

/// Collects operations from many concurrent clients, timed on one monotonic clock.
pub struct Recorder {
    epoch: std::time::Instant,
    history: std::sync::Mutex<History>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self { epoch: std::time::Instant::now(), history: Default::default() }
    }

    pub fn now(&self) -> Nanos {
        self.epoch.elapsed().as_nanos() as Nanos
    }

    pub fn initial(&self, lead: &str, state: LeadState) {
        self.history.lock().unwrap_or_else(|e| e.into_inner()).initial(lead, state);
    }

    pub fn push(&self, op: Operation) {
        self.history.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }

    pub fn history(&self) -> History {
        self.history.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Counts of operations by kind and outcome, for reports (e.g. to show a run was not vacuous).
pub fn tally(history: &History) -> HashMap<&'static str, usize> {
    let mut t = HashMap::new();
    for o in &history.ops {
        let kind = match (&o.op, &o.outcome) {
            (Op::Claim { .. }, Outcome::Won { .. }) => "claim won",
            (Op::Claim { by }, Outcome::Lost { holder, .. }) if by == holder => "claim already yours",
            (Op::Claim { .. }, Outcome::Lost { .. }) => "claim lost",
            (Op::Release { .. }, Outcome::Won { .. }) => "release applied",
            (Op::Reassign { .. }, Outcome::Won { .. }) => "reassign applied",
            (Op::Outcome { closes: false, .. }, Outcome::Won { .. }) => "outcome applied",
            (Op::Outcome { closes: true, .. }, Outcome::Won { .. }) => "closing outcome applied",
            (_, Outcome::Rejected { .. }) => "rejected",
            (_, Outcome::Unknown) => "unknown",
            _ => "other",
        };
        *t.entry(kind).or_insert(0) += 1;
    }
    t
}
