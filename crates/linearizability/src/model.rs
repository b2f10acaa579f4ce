//! The claim register's rules: what each operation does to a lead, and which states a recorded
//! result allows.

use crate::{LeadState, Op, Operation, Outcome};

/// The state after `op` takes effect, or None when its precondition fails in `s`.
pub(crate) fn effect(op: &Op, s: &LeadState) -> Option<LeadState> {
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
