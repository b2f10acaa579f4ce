//! A linearizability checker for the claim register: given what clients saw (each operation's
//! invocation and response instants and its result), decides whether some order of the
//! operations, consistent with real time, explains every result under the register's rules.
//!
//! # The model
//! Each lead is an independent register (linearizability is compositional, so leads are checked
//! one by one) holding `(holder, version)`. Every change of holder adds exactly 1 to `version`:
//! - `claim(u)`: open → held by `u` (won); held by `h` → unchanged, the answer names `h` (lost, or
//!   already yours when `h` is `u`).
//! - `release(u, seen)`: applies when `version == seen`, the lead is held, and `u` holds it or
//!   is a manager; then open.
//! - `reassign(m, seen, to)`: applies when `version == seen` and `to` does not hold it.
//!
//! Results: [`Outcome::Won`] (took effect, with the version after it), [`Outcome::Lost`] (the
//! claim found the lead held by the named user, at the reported version if known),
//! [`Outcome::Rejected`] (the server says it did not take effect) and [`Outcome::Unknown`]
//! (an error or timeout: it may or may not have taken effect, at any instant after its
//! invocation, even after the client gave up).
//!
//! # The algorithm
//! [`check`] first runs cheap direct checks that name what is wrong in the terms of the claim
//! rules (two winners at one version, a second winner without a release in between, versions
//! going backwards in real time, a `lost` naming someone who did not hold the lead), then the
//! complete check: a Wing & Gong search, in the form of Lowe's and Porcupine's "WGL" with a cache
//! of `(set of ordered operations, register state)` pairs already explored. It orders operations
//! one at a time, only ever picking one whose invocation precedes every pending response (so the
//! order respects real time: if A returned before B was invoked, A comes first), applies the model
//! and backtracks when a result cannot be explained. An operation with an unknown result is
//! treated as still running forever and may be ordered as taking effect or as doing nothing.
//! The search succeeds iff a linearization exists; the direct checks only ever report histories
//! the search would also reject (each is a necessary condition), so they add clarity, not
//! verdicts.
//!
//! # Limits
//! - Sound and complete for the model above, *given* that the recorded intervals contain the
//!   real ones: instants are taken by the client before sending and after the whole response
//!   arrived, from one monotonic clock. Instants that are equal count as concurrent.
//! - It checks what clients observed, nothing else: a change nobody recorded (a write by a tool
//!   outside the history) makes a valid server look wrong (versions skip), and an operation that
//!   is recorded as `Rejected` is trusted not to have taken effect (only 409 answers carry the
//!   lead, so only those are checked against the state).
//! - Worst-case time is exponential in the number of operations that overlap one another (the
//!   problem is NP-complete); in practice the version numbers pin the order of every change and
//!   the cache keeps the search near linear. [`check_with_limit`] bounds the cache; a search that
//!   hits the bound is reported as inconclusive, never as a pass.
//! - Histories with many `Unknown` operations get slower: each may or may not have happened.

mod direct;
mod history;
mod model;
mod recorder;
mod search;
#[cfg(test)]
mod tests;

pub use history::{History, LeadState, Nanos, Op, Operation, Outcome, Violation};
pub use recorder::{tally, Recorder};

use direct::direct_checks;
use search::{linearize, SearchError};
use std::collections::BTreeMap;

/// What a successful check looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub leads: usize,
    pub operations: usize,
    pub unknown: usize,
    /// Register states the search visited, over all leads.
    pub states: usize,
}

/// The default bound on states visited per lead.
pub const DEFAULT_STATE_LIMIT: usize = 20_000_000;

/// Checks every lead of `history`. See the module documentation.
pub fn check(history: &History) -> Result<Report, Violation> {
    check_with_limit(history, DEFAULT_STATE_LIMIT)
}

pub fn check_with_limit(history: &History, state_limit: usize) -> Result<Report, Violation> {
    let mut by_lead: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in &history.ops {
        by_lead.entry(&op.lead).or_default().push(op);
    }
    let mut report = Report { leads: by_lead.len(), operations: history.ops.len(), ..Default::default() };
    for (lead, ops) in by_lead {
        let initial = history.initial.get(lead).ok_or_else(|| Violation {
            lead: lead.to_owned(),
            message: "the history has no initial state for this lead".into(),
            inconclusive: false,
        })?;
        let fail = |message: String| Violation { lead: lead.to_owned(), message, inconclusive: false };
        report.unknown += ops.iter().filter(|o| o.outcome == Outcome::Unknown).count();
        direct_checks(initial, &ops).map_err(fail)?;
        report.states += linearize(initial, &ops, state_limit).map_err(|e| match e {
            SearchError::NotLinearizable(m) => fail(m),
            SearchError::TooManyStates(n) => Violation {
                lead: lead.to_owned(),
                message: format!("inconclusive: the search visited {n} states without deciding"),
                inconclusive: true,
            },
        })?;
    }
    Ok(report)
}
