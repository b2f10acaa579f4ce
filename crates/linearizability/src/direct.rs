//! Direct checks: each is a necessary condition for linearizability, with a message in the
//! vocabulary of claims.

use crate::model::effect;
use crate::{LeadState, Op, Operation, Outcome};
use std::collections::BTreeMap;

pub(crate) fn direct_checks(initial: &LeadState, ops: &[&Operation]) -> Result<(), String> {
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
        let (holder, closed) = match &o.op {
            Op::Claim { by } => (Some(by.clone()), false),
            Op::Release { .. } => (None, false),
            Op::Reassign { to, .. } => (Some(to.clone()), false),
            Op::Outcome { by, closes, .. } => (Some(by.clone()), *closes),
        };
        Some((LeadState { holder, version: v, closed }, Some(*o)))
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
