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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// Nanoseconds since the recording started, from one monotonic clock.
pub type Nanos = u64;

/// The register's state: who holds the lead and its version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeadState {
    pub holder: Option<String>,
    pub version: u64,
}

impl LeadState {
    pub fn new(holder: Option<&str>, version: u64) -> Self {
        Self { holder: holder.map(str::to_owned), version }
    }
}

impl fmt::Display for LeadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.holder {
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
    fn reported_version(&self) -> Option<u64> {
        match &self.outcome {
            Outcome::Won { version } => Some(*version),
            Outcome::Lost { version, .. } => *version,
            Outcome::Rejected { observed } => observed.as_ref().map(|o| o.version),
            Outcome::Unknown => None,
        }
    }

    /// When the search may no longer order it: never, for an unknown outcome.
    fn deadline(&self) -> Nanos {
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

// ---------------------------------------------------------------------------------------------
// The model.

/// The state after `op` takes effect, or None when its precondition fails in `s`.
fn effect(op: &Op, s: &LeadState) -> Option<LeadState> {
    match op {
        Op::Claim { by } => s.holder.is_none().then(|| LeadState { holder: Some(by.clone()), version: s.version + 1 }),
        Op::Release { by, seen_version, manager } => {
            let allowed = s.holder.as_ref().is_some_and(|h| h == by || *manager);
            (s.version == *seen_version && allowed).then(|| LeadState { holder: None, version: s.version + 1 })
        }
        Op::Reassign { seen_version, to, .. } => (s.version == *seen_version && s.holder.as_ref() != Some(to))
            .then(|| LeadState { holder: Some(to.clone()), version: s.version + 1 }),
    }
}

/// The states `op` with its recorded outcome can lead to from `s` (none: it cannot happen in `s`).
/// For an unknown outcome, doing nothing comes first.
fn step(o: &Operation, s: &LeadState) -> Vec<LeadState> {
    match &o.outcome {
        Outcome::Won { version } => effect(&o.op, s).filter(|n| n.version == *version).into_iter().collect(),
        Outcome::Lost { holder, version } => {
            let ok = matches!(o.op, Op::Claim { .. })
                && s.holder.as_ref() == Some(holder)
                && version.is_none_or(|v| v == s.version);
            if ok {
                vec![s.clone()]
            } else {
                vec![]
            }
        }
        Outcome::Rejected { observed: Some(seen) } => {
            if seen == s && effect(&o.op, s).is_none() {
                vec![s.clone()]
            } else {
                vec![]
            }
        }
        Outcome::Rejected { observed: None } => vec![s.clone()],
        Outcome::Unknown => std::iter::once(s.clone()).chain(effect(&o.op, s)).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Direct checks: each is a necessary condition for linearizability, with a message in the
// vocabulary of claims.

fn direct_checks(initial: &LeadState, ops: &[&Operation]) -> Result<(), String> {
    let has_unknown = ops.iter().any(|o| o.outcome == Outcome::Unknown);
    // Each version is made by exactly one change.
    let mut made: BTreeMap<u64, &Operation> = BTreeMap::new();
    for o in ops {
        if let Outcome::Won { version } = o.outcome {
            if version <= initial.version {
                return Err(format!(
                    "{o}, but the lead started at version {}: versions went backwards",
                    initial.version
                ));
            }
            if let Some(other) = made.insert(version, o) {
                let what = if matches!((&other.op, &o.op), (Op::Claim { .. }, Op::Claim { .. })) {
                    "two winners at once"
                } else {
                    "two changes made the same version"
                };
                return Err(format!("{what}: {other}; {o}"));
            }
        }
    }

    // Real time: if A returned before B was invoked, B cannot report an older version than A,
    // and a change B must come after A's version.
    let mut known: Vec<(&Operation, u64)> = ops
        .iter()
        .filter(|o| o.outcome != Outcome::Unknown)
        .filter_map(|o| Some((*o, o.reported_version()?)))
        .collect();
    for (o, v) in &known {
        let floor = initial.version + u64::from(matches!(o.outcome, Outcome::Won { .. }));
        if *v < floor {
            return Err(format!("{o}, but the lead started at version {}: versions went backwards", initial.version));
        }
    }
    known.sort_by_key(|(o, _)| o.end);
    let mut by_start: Vec<(&Operation, u64)> = known.clone();
    by_start.sort_by_key(|(o, _)| o.start);
    let mut before: Option<(&Operation, u64)> = None;
    let mut next = 0;
    for (b, vb) in &by_start {
        while next < known.len() && known[next].0.end < b.start {
            if before.is_none_or(|(_, v)| known[next].1 > v) {
                before = Some(known[next]);
            }
            next += 1;
        }
        if let Some((a, va)) = before {
            let need = va + u64::from(matches!(b.outcome, Outcome::Won { .. }));
            if *vb < need {
                return Err(format!(
                    "versions went backwards: {a} returned before {b} was sent, but the later one reports version {vb}"
                ));
            }
        }
    }

    // The state each known version stands for.
    let state_at = |v: u64| -> Option<(LeadState, Option<&Operation>)> {
        if v == initial.version {
            return Some((initial.clone(), None));
        }
        let o = made.get(&v)?;
        let holder = match &o.op {
            Op::Claim { by } => Some(by.clone()),
            Op::Release { .. } => None,
            Op::Reassign { to, .. } => Some(to.clone()),
        };
        Some((LeadState { holder, version: v }, Some(*o)))
    };

    // Every change must be allowed in the state before it.
    for (&v, o) in &made {
        match state_at(v - 1) {
            Some((prev, by)) if effect(&o.op, &prev).is_none() => {
                let from = by.map(|p| format!("{p}")).unwrap_or_else(|| "the initial state".into());
                return Err(match (&o.op, &prev.holder) {
                    (Op::Claim { .. }, Some(h)) => format!(
                        "a second winner with no release in between: {o}, but version {} was {h}'s ({from})",
                        v - 1
                    ),
                    _ => format!("{o} was not allowed: before it the lead was {prev} ({from})"),
                });
            }
            Some(_) => {}
            None if !has_unknown => {
                return Err(format!("{o}, but no operation made version {}: a change is missing", v - 1));
            }
            None => {} // an operation with an unknown outcome may have made it
        }
    }

    // A lost claim names someone who held the lead while the claim was running.
    for o in ops {
        let Outcome::Lost { holder, version } = &o.outcome else { continue };
        let ever_held = initial.holder.as_ref() == Some(holder)
            || ops.iter().any(|p| match (&p.op, &p.outcome) {
                (Op::Claim { by }, Outcome::Won { .. } | Outcome::Unknown) => by == holder,
                (Op::Reassign { to, .. }, Outcome::Won { .. } | Outcome::Unknown) => to == holder,
                _ => false,
            });
        if !ever_held {
            return Err(format!("{o}, but {holder} never held the lead"));
        }
        let Some(v) = version else { continue };
        if let Some((s, by)) = state_at(*v) {
            if s.holder.as_ref() != Some(holder) {
                let who = s.holder.as_deref().unwrap_or("nobody");
                let from = by.map(|p| format!(" ({p})")).unwrap_or_default();
                return Err(format!("{o}, but at version {v} the lead was held by {who}{from}"));
            }
            if let Some(p) = by.filter(|p| p.start > o.end) {
                return Err(format!("{o}, but {holder} only got the lead after that answer ({p})"));
            }
        }
        if let Some(p) = made.get(&(v + 1)).filter(|p| p.end < o.start) {
            return Err(format!("{o}, but {holder} had already lost the lead before the claim was sent ({p})"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The search (Wing & Gong; Lowe's "WGL" with a cache of explored configurations).

enum SearchError {
    NotLinearizable(String),
    TooManyStates(usize),
}

/// A set of operation indices (in invocation order), kept as a bitset with a count of the
/// leading ones, so a cache key holds only the ragged window beyond the ordered prefix.
struct Linearized {
    words: Vec<u64>,
    prefix: usize,
}

impl Linearized {
    fn new(n: usize) -> Self {
        Self { words: vec![0; n.div_ceil(64)], prefix: 0 }
    }

    fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        while self.prefix < self.words.len() * 64 && self.get(self.prefix) {
            self.prefix += 1;
        }
    }

    fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.prefix = self.prefix.min(i);
    }

    /// The set as a compact key: the length of the prefix, and the words after it up to the last
    /// one with a bit set.
    fn key(&self) -> (usize, Vec<u64>) {
        let from = self.prefix / 64;
        let mut to = self.words.len();
        while to > from && self.words[to - 1] == 0 {
            to -= 1;
        }
        (self.prefix, self.words[from..to].to_vec())
    }

    fn with(&mut self, i: usize) -> (usize, Vec<u64>) {
        self.set(i);
        let k = self.key();
        self.clear(i);
        k
    }
}

const NIL: usize = usize::MAX;

/// Returns the number of states visited.
fn linearize(initial: &LeadState, ops: &[&Operation], limit: usize) -> Result<usize, SearchError> {
    let mut ops: Vec<&Operation> = ops.to_vec();
    ops.sort_by_key(|o| (o.start, o.deadline()));
    let n = ops.len();
    // Entries: 2i is op i's invocation, 2i+1 its response; sorted by time, invocations first at
    // equal instants (equal instants are concurrent).
    let mut order: Vec<usize> = (0..2 * n).collect();
    order.sort_by_key(|&e| {
        let o = ops[e / 2];
        if e % 2 == 0 {
            (o.start, 0, e)
        } else {
            (o.deadline(), 1, e)
        }
    });
    // A doubly linked list over the entries, with a head sentinel at index 2n.
    let head = 2 * n;
    let mut next = vec![NIL; 2 * n + 1];
    let mut prev = vec![NIL; 2 * n + 1];
    let mut last = head;
    for &e in &order {
        next[last] = e;
        prev[e] = last;
        last = e;
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NIL {
            prev[q] = e;
        }
    };

    let mut state = initial.clone();
    let mut lin = Linearized::new(n);
    let mut cache: HashSet<((usize, Vec<u64>), LeadState)> = HashSet::new();
    let mut stack: Vec<(usize, LeadState)> = Vec::new();
    // The deepest point reached, to explain a failure.
    let mut deepest: (usize, LeadState, Option<usize>) = (0, state.clone(), None);
    let mut entry = next[head];
    while next[head] != NIL {
        if entry.is_multiple_of(2) {
            let i = entry / 2;
            let mut taken = false;
            for s in step(ops[i], &state) {
                let key = (lin.with(i), s);
                if !cache.contains(&key) {
                    if cache.len() >= limit {
                        return Err(SearchError::TooManyStates(cache.len()));
                    }
                    let s = key.1.clone();
                    cache.insert(key);
                    stack.push((entry, std::mem::replace(&mut state, s)));
                    lin.set(i);
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, entry + 1);
                    entry = next[head];
                    taken = true;
                    break;
                }
            }
            if !taken {
                entry = next[entry];
            }
        } else {
            // A response whose operation is not ordered yet: undo the last choice.
            if stack.len() > deepest.0 || deepest.2.is_none() {
                deepest = (stack.len(), state.clone(), Some(entry / 2));
            }
            let Some((e, s)) = stack.pop() else {
                return Err(SearchError::NotLinearizable(explain(&ops, n, deepest)));
            };
            state = s;
            lin.clear(e / 2);
            relink(&mut next, &mut prev, e + 1);
            relink(&mut next, &mut prev, e);
            // Try the same operation's other results (the ones tried are cached), then later ones.
            entry = e;
        }
    }
    Ok(cache.len())
}

fn explain(ops: &[&Operation], n: usize, (depth, state, stuck): (usize, LeadState, Option<usize>)) -> String {
    let stuck = stuck.map(|i| format!("{}", ops[i])).unwrap_or_else(|| "?".into());
    format!(
        "not linearizable: no order of the {n} operations consistent with real time explains every result; \
         at best {depth} could be ordered, then the lead was {state} and this result could not be explained \
         before it returned: {stuck}"
    )
}

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
            (_, Outcome::Rejected { .. }) => "rejected",
            (_, Outcome::Unknown) => "unknown",
            _ => "other",
        };
        *t.entry(kind).or_insert(0) += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const ML: u64 = 1_000_000; // one millisecond

    fn claim(by: &str, t0: u64, t1: u64, outcome: Outcome) -> Operation {
        Operation { lead: "L1".into(), op: Op::Claim { by: by.into() }, outcome, start: t0 * ML, end: t1 * ML }
    }

    fn release(by: &str, seen: u64, t0: u64, t1: u64, outcome: Outcome) -> Operation {
        let op = Op::Release { by: by.into(), seen_version: seen, manager: by == "maria" };
        Operation { lead: "L1".into(), op, outcome, start: t0 * ML, end: t1 * ML }
    }

    fn reassign(to: &str, seen: u64, t0: u64, t1: u64, outcome: Outcome) -> Operation {
        let op = Op::Reassign { by: "maria".into(), seen_version: seen, to: to.into() };
        Operation { lead: "L1".into(), op, outcome, start: t0 * ML, end: t1 * ML }
    }

    fn won(version: u64) -> Outcome {
        Outcome::Won { version }
    }

    fn lost(holder: &str, version: u64) -> Outcome {
        Outcome::Lost { holder: holder.into(), version: Some(version) }
    }

    fn history(ops: Vec<Operation>) -> History {
        let mut h = History::new();
        h.initial("L1", LeadState::new(None, 1));
        h.ops = ops;
        h
    }

    fn search_only(h: &History) -> bool {
        let ops: Vec<&Operation> = h.ops.iter().collect();
        linearize(&h.initial["L1"], &ops, DEFAULT_STATE_LIMIT).is_ok()
    }

    #[track_caller]
    fn valid(ops: Vec<Operation>) {
        let h = history(ops);
        if let Err(v) = check(&h) {
            panic!("expected linearizable, got: {v}");
        }
        assert!(search_only(&h));
    }

    /// Fails with a message containing `words`, and the search alone rejects it too.
    #[track_caller]
    fn invalid(ops: Vec<Operation>, words: &str) -> String {
        let h = history(ops);
        let v = check(&h).expect_err("expected a violation");
        assert!(!v.inconclusive);
        assert!(v.message.contains(words), "message {:?} should contain {words:?}", v.message);
        assert!(!search_only(&h), "the search alone must reject it too");
        v.message
    }

    #[test]
    fn sequential_claims_and_releases_pass() {
        valid(vec![
            claim("alice", 0, 1, won(2)),
            claim("bob", 2, 3, lost("alice", 2)),
            claim("alice", 4, 5, lost("alice", 2)), // already yours
            release("alice", 2, 6, 7, won(3)),
            claim("bob", 8, 9, won(4)),
            release("alice", 4, 10, 11, Outcome::Rejected { observed: None }), // 403: not hers
            release("bob", 3, 12, 13, Outcome::Rejected { observed: Some(LeadState::new(Some("bob"), 4)) }), // stale
            reassign("carol", 4, 14, 15, won(5)),
            release("maria", 5, 16, 17, won(6)),
        ]);
    }

    #[test]
    fn overlapping_concurrent_claims_pass_whoever_linearizes_first() {
        // Four claimants at once: the one who won may even answer last.
        valid(vec![
            claim("alice", 0, 10, won(2)),
            claim("bob", 1, 3, lost("alice", 2)),
            claim("carol", 1, 4, lost("alice", 2)),
            claim("dave", 2, 12, lost("alice", 2)),
        ]);
        // A lost claim may name a holder who let go before the loser's answer arrived.
        valid(vec![
            claim("alice", 0, 5, won(2)),
            claim("bob", 4, 9, lost("alice", 2)),
            release("alice", 2, 6, 8, won(3)),
            claim("carol", 7, 10, won(4)),
            claim("bob", 9, 11, lost("carol", 4)),
        ]);
        // Without versions, the search still finds the order.
        valid(vec![
            claim("alice", 0, 4, won(2)),
            claim("bob", 1, 6, Outcome::Lost { holder: "alice".into(), version: None }),
            release("alice", 2, 2, 5, won(3)),
            claim("carol", 3, 7, won(4)),
            claim("dave", 5, 8, Outcome::Lost { holder: "carol".into(), version: None }),
        ]);
    }

    #[test]
    fn unknown_outcomes_may_or_may_not_have_happened() {
        // A timed-out claim that took effect (bob lost to alice later) ...
        valid(vec![claim("alice", 0, 5, Outcome::Unknown), claim("bob", 10, 11, lost("alice", 2))]);
        // ... or that did not (bob won instead).
        valid(vec![claim("alice", 0, 5, Outcome::Unknown), claim("bob", 10, 11, won(2))]);
        // A failed release that went through after its client gave up.
        valid(vec![
            claim("alice", 0, 1, won(2)),
            release("alice", 2, 2, 3, Outcome::Unknown),
            claim("bob", 4, 5, lost("alice", 2)),
            claim("bob", 6, 7, won(4)),
        ]);
    }

    #[test]
    fn two_overlapping_winners_fail() {
        invalid(vec![claim("alice", 0, 10, won(2)), claim("bob", 1, 9, won(2))], "two winners at once");
    }

    #[test]
    fn a_winner_with_no_release_in_between_fails() {
        let m = invalid(
            vec![claim("alice", 0, 2, won(2)), claim("bob", 3, 4, won(3))],
            "a second winner with no release in between",
        );
        assert!(m.contains("alice"), "{m}");
        // The same with a release that was refused: it did not make the lead open.
        invalid(
            vec![
                claim("alice", 0, 2, won(2)),
                release("bob", 2, 3, 4, Outcome::Rejected { observed: None }),
                claim("bob", 5, 6, won(3)),
            ],
            "a second winner with no release in between",
        );
    }

    #[test]
    fn a_lost_naming_someone_who_never_held_it_fails() {
        invalid(vec![claim("alice", 0, 2, won(2)), claim("bob", 3, 4, lost("carol", 2))], "carol never held the lead");
        // Naming a real holder of another version is caught too.
        invalid(
            vec![
                claim("alice", 0, 2, won(2)),
                release("alice", 2, 3, 4, won(3)),
                claim("carol", 5, 6, won(4)),
                claim("bob", 7, 8, lost("alice", 4)),
            ],
            "at version 4 the lead was held by carol",
        );
    }

    #[test]
    fn versions_going_backwards_fail() {
        // A stale read: bob was told alice holds version 2 after her release had returned.
        invalid(
            vec![claim("alice", 0, 1, won(2)), release("alice", 2, 2, 3, won(3)), claim("bob", 4, 5, lost("alice", 2))],
            "versions went backwards",
        );
        invalid(vec![claim("alice", 0, 1, won(1))], "versions went backwards");
    }

    #[test]
    fn a_lost_naming_a_holder_outside_its_interval_fails_in_the_search() {
        // No versions reported, so only the search can tell: alice held the lead, but not while
        // bob's claim was running.
        let h = history(vec![
            claim("alice", 0, 1, won(2)),
            release("alice", 2, 2, 3, won(3)),
            claim("bob", 4, 5, Outcome::Lost { holder: "alice".into(), version: None }),
        ]);
        let v = check(&h).expect_err("bob cannot have lost to alice then");
        assert!(v.message.contains("not linearizable") && v.message.contains("bob's claim"), "{v}");
    }

    #[test]
    fn a_change_nobody_made_fails() {
        invalid(vec![claim("alice", 0, 1, won(2)), release("alice", 4, 2, 3, won(5))], "no operation made version 4");
    }

    #[test]
    fn leads_are_checked_independently_and_need_an_initial_state() {
        let mut h = history(vec![claim("alice", 0, 1, won(2))]);
        let mut other = claim("bob", 0, 1, won(8));
        other.lead = "L2".into();
        h.ops.push(other.clone());
        assert!(check(&h).unwrap_err().message.contains("no initial state"));
        h.initial("L2", LeadState::new(None, 7));
        let report = check(&h).unwrap();
        assert_eq!((report.leads, report.operations), (2, 2));
    }

    #[test]
    fn a_bounded_search_is_inconclusive_not_a_pass() {
        let ops: Vec<Operation> =
            (0..40).map(|i| claim(&format!("u{i}"), 0, 100, if i == 0 { won(2) } else { lost("u0", 2) })).collect();
        let h = history(ops);
        assert!(check(&h).is_ok());
        let v = check_with_limit(&h, 5).unwrap_err();
        assert!(v.inconclusive, "{v}");
    }

    #[test]
    fn many_concurrent_losers_stay_fast() {
        // 2,000 operations in rounds of 50 concurrent claimants with releases in between.
        let mut ops = Vec::new();
        let mut version = 1;
        for round in 0..40u64 {
            let t = round * 100;
            version += 1;
            let winner = format!("u{}", round % 7);
            ops.push(claim(&winner, t, t + 50, won(version)));
            for k in 0..48 {
                ops.push(claim(&format!("v{k}"), t + 1 + k % 5, t + 60, lost(&winner, version)));
            }
            ops.push(release(&winner, version, t + 70, t + 80, won(version + 1)));
            version += 1;
        }
        let started = std::time::Instant::now();
        let report = check(&history(ops)).unwrap();
        assert_eq!(report.operations, 40 * 50);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}
