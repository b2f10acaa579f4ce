//! What each transition of a lead leaves it with (holder, claim time, lease, extensions,
//! outcome): one rule for both stores, which differ only in how they make the transition atomic.

use super::{Lead, Millis, Note, Outcome, Username};

/// A transition of a lead, from the lead it starts at.
pub enum Step<'a> {
    /// To the actor, with a fresh lease.
    Claim {
        lease_until: Option<Millis>,
    },
    Release,
    /// To `to`, with a fresh lease.
    Reassign {
        to: &'a Username,
        lease_until: Option<Millis>,
    },
    /// The same holder, with a fresh lease.
    Extend {
        lease_until: Option<Millis>,
    },
    /// The same holder, with what happened recorded and the lease ended.
    Outcome {
        outcome: Outcome,
        note: Note,
    },
    /// Back to the pool, as a release.
    Expire,
    /// The assignee the lead shows, written from outside Leadboard.
    Adopt,
}

/// The holder's side of a lead after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    pub assignee: Option<Username>,
    pub claimed_at: Option<Millis>,
    pub lease_until: Option<Millis>,
    pub extensions: u32,
    pub outcome: Option<Outcome>,
}

impl Step<'_> {
    /// What `lead` is left with after this step, made by `actor` at `now`.
    pub fn after(&self, lead: &Lead, actor: &Username, now: Millis) -> Holding {
        let open = Holding { assignee: None, claimed_at: None, lease_until: None, extensions: 0, outcome: None };
        let held = |lease_until, extensions, outcome| Holding {
            assignee: lead.assignee.clone(),
            claimed_at: lead.claimed_at,
            lease_until,
            extensions,
            outcome,
        };
        let to = |who: &Username, lease_until| Holding {
            assignee: Some(who.clone()),
            claimed_at: Some(now),
            lease_until,
            extensions: 0,
            outcome: None,
        };
        match self {
            Step::Claim { lease_until } => to(actor, *lease_until),
            Step::Reassign { to: who, lease_until } => to(who, *lease_until),
            Step::Release | Step::Expire => open,
            Step::Extend { lease_until } => held(*lease_until, lead.extensions + 1, lead.outcome),
            Step::Outcome { outcome, .. } => held(None, lead.extensions, Some(*outcome)),
            Step::Adopt => match &lead.assignee {
                Some(who) => to(who, None),
                None => open,
            },
        }
    }
}
