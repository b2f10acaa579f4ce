//! A board's local copy of the leads, kept converged with the store by applying events. Applying
//! is idempotent and order-tolerant: a lead only ever moves to a higher version.

use super::{BoardEvent, Lead, LeadId};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoardState {
    /// The event stream the sequence numbers belong to.
    pub stream: String,
    /// The highest event sequence applied.
    pub seq: u64,
    leads: BTreeMap<LeadId, Lead>,
}

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event was new; the lead changed (or the event was informational, like a lost claim).
    New,
    /// Seen before (sequence at or below the board's): nothing changed.
    Duplicate,
    /// New, but one or more events before it were never seen: the board should resume from `seq`.
    Gap,
}

impl BoardState {
    pub fn new(stream: String, seq: u64, leads: impl IntoIterator<Item = Lead>) -> Self {
        Self { stream, seq, leads: leads.into_iter().map(|l| (l.id.clone(), l)).collect() }
    }

    pub fn apply(&mut self, ev: &BoardEvent) -> Applied {
        if ev.seq <= self.seq {
            // Still merge the lead: harmless by version, and heals a board seeded from an
            // older snapshot.
            self.upsert(ev.lead.clone());
            return Applied::Duplicate;
        }
        let gap = ev.seq > self.seq + 1;
        self.upsert(ev.lead.clone());
        if gap {
            Applied::Gap
        } else {
            self.seq = ev.seq;
            Applied::New
        }
    }

    /// Takes `lead` unless the board already has the same or a newer version. Returns whether it
    /// was taken.
    pub fn upsert(&mut self, lead: Lead) -> bool {
        match self.leads.get(&lead.id) {
            Some(have) if have.version >= lead.version => false,
            _ => {
                self.leads.insert(lead.id.clone(), lead);
                true
            }
        }
    }

    pub fn get(&self, id: &LeadId) -> Option<&Lead> {
        self.leads.get(id)
    }

    pub fn leads(&self) -> impl Iterator<Item = &Lead> {
        self.leads.values()
    }

    pub fn len(&self) -> usize {
        self.leads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, Username};

    fn lead(version: u64, assignee: Option<&str>) -> Lead {
        Lead::sample(assignee, version)
    }

    fn event(seq: u64, lead: Lead) -> BoardEvent {
        BoardEvent { seq, at: 0, actor: Username::parse("bob").unwrap(), lead, change: Change::Claimed }
    }

    #[test]
    fn events_apply_once_and_never_go_back_a_version() {
        let mut b = BoardState::new("s".into(), 1, [lead(1, None)]);
        assert_eq!(b.apply(&event(2, lead(2, Some("bob")))), Applied::New);
        assert_eq!(b.apply(&event(2, lead(2, Some("bob")))), Applied::Duplicate);
        // An old event replayed late must not undo the newer state.
        assert_eq!(b.apply(&event(1, lead(1, None))), Applied::Duplicate);
        assert_eq!(b.get(&LeadId::parse("L1").unwrap()).unwrap().assignee.as_ref().unwrap().as_str(), "bob");
        assert_eq!(b.seq, 2);
    }

    #[test]
    fn a_skipped_sequence_is_reported_as_a_gap_and_not_advanced_past() {
        let mut b = BoardState::new("s".into(), 1, [lead(1, None)]);
        assert_eq!(b.apply(&event(3, lead(3, Some("bob")))), Applied::Gap);
        assert_eq!(b.seq, 1, "the board must resume from before the gap");
    }
}
