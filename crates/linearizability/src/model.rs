//! The claim register's rules: what each operation does to a lead, and which states a recorded
//! result allows.

use crate::{LeadState, Op, Operation, Outcome};

/// The state after `op` takes effect, or None when its precondition fails in `s`.
pub(crate) fn effect(op: &Op, s: &LeadState) -> Option<LeadState> {
    let next = |holder: Option<String>, closed| LeadState { holder, version: s.version + 1, closed };
    let fenced = |seen: &u64| s.version == *seen;
    match op {
        Op::Claim { by } => s.holder.is_none().then(|| next(Some(by.clone()), false)),
        // The holder releases a lead they work; a manager any held lead, a closed one included
        // (which reopens it).
        Op::Release { by, seen_version, manager } => {
            let allowed = s.holder.as_ref().is_some_and(|h| (h == by && !s.closed) || *manager);
            (fenced(seen_version) && allowed).then(|| next(None, false))
        }
        Op::Reassign { seen_version, to, .. } => {
            (fenced(seen_version) && s.holder.as_ref() != Some(to)).then(|| next(Some(to.clone()), false))
        }
        Op::Outcome { by, seen_version, closes } => {
            (fenced(seen_version) && s.holder.as_ref() == Some(by) && !s.closed)
                .then(|| next(Some(by.clone()), *closes))
        }
    }
}

/// The states `op` with its recorded outcome can lead to from `s` (none: it cannot happen in `s`).
/// For an unknown outcome, doing nothing comes first.
pub(crate) fn step(o: &Operation, s: &LeadState) -> Vec<LeadState> {
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
