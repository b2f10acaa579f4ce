//! This replica's view of the board: an in-memory copy of every lead and a bounded ring of recent
//! events numbered by a local, gap-free sequence. Appwrite Realtime has no replay and no sequence
//! numbers, so each app replica keeps its own event stream (named by a random stream ID); a board
//! that resumes from another replica's numbers, or from further back than the ring reaches, gets
//! a snapshot.
//!
//! Every change is turned into a [`BoardEvent`] by comparing the lead with the mirror's copy.
//! Only a higher `version` counts, so the same change seen twice (the local write and its
//! Realtime echo, a re-read after reconnect) yields one event.

use super::docs::{outside_actor, Kind, LeadDoc};
use crate::domain::{BoardEvent, Change, Lead, LeadId, Millis, Username};
use crate::server::store::EventSink;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Events kept for boards catching up. Further back, a board gets a snapshot.
pub const RING: usize = 10_000;
const SEEN_ATTEMPTS: usize = 8_192;

/// What observing a lead did.
#[derive(Debug, PartialEq, Eq)]
pub enum Observed {
    /// A newer version: this event was published.
    Changed(u64),
    /// Nothing new.
    Same,
    /// Same version but another assignee: written from outside Leadboard. Not applied; the
    /// reconciler adopts it (with a higher version).
    Suspect,
}

pub struct Mirror {
    inner: Mutex<Inner>,
    sink: Arc<dyn EventSink>,
    loaded: watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    leads: BTreeMap<LeadId, Lead>,
    /// Each lead's incarnation: a lead added again under an old ID is a new lead.
    incarnations: HashMap<LeadId, String>,
    ring: VecDeque<BoardEvent>,
    seq: u64,
    seen_attempts: HashSet<String>,
    seen_order: VecDeque<String>,
}

/// The board event for a lead moving from `prev` to `doc` (a higher version), caused by `actor`.
/// The kind of Leadboard's last change names what the assignees alone cannot tell (an expiry, an
/// extension, an outcome), also when this replica missed versions in between: it is always the
/// newest transition's. An expiry's actor is the holder whose lease ran out.
fn change_of(prev: Option<&Lead>, doc: &LeadDoc, actor: &Username) -> Change {
    let Some(prev) = prev else { return Change::Created };
    let lead = &doc.lead;
    match (&prev.assignee, &lead.assignee, doc.last_change) {
        (_, None, Some(Kind::Expire)) => Change::Expired { previous: actor.clone() },
        (Some(a), Some(b), Some(Kind::Extend)) if a == b => Change::Extended,
        (Some(a), Some(b), Some(Kind::Outcome)) if a == b => match lead.outcome {
            Some(outcome) => Change::Outcome { outcome, note: doc.note.clone() },
            None => Change::Claimed,
        },
        (None, Some(b), _) if b == actor => Change::Claimed,
        (None, Some(_), _) => Change::Reassigned { previous: None },
        (Some(a), None, _) => Change::Released { previous: a.clone() },
        // The same holder under a new version (a write re-recorded by the reconciler): no one lost it.
        (Some(a), Some(b), _) if a == b => Change::Claimed,
        (Some(a), Some(_), _) => Change::Reassigned { previous: Some(a.clone()) },
        // Claimed and released again while this replica was not looking.
        (None, None, _) => Change::Released { previous: actor.clone() },
    }
}

impl Mirror {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Self { inner: Mutex::new(Inner::default()), sink, loaded: watch::channel(false).0 }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Waits until the first full read of the leads (at most `wait`).
    pub async fn wait_loaded(&self, wait: std::time::Duration) -> bool {
        let mut rx = self.loaded.subscribe();
        tokio::time::timeout(wait, rx.wait_for(|l| *l)).await.is_ok_and(|r| r.is_ok())
    }

    /// Appends and publishes an event (under the lock, so events go out in sequence order).
    fn emit(&self, inner: &mut Inner, at: Millis, actor: Username, lead: Lead, change: Change) -> u64 {
        inner.seq += 1;
        let event = BoardEvent { seq: inner.seq, at, actor, lead, change };
        tracing::debug!(seq = event.seq, lead = %event.lead.id, kind = event.change.kind(), version = event.lead.version, "board event");
        self.sink.publish(&event);
        inner.ring.push_back(event);
        if inner.ring.len() > RING {
            inner.ring.pop_front();
        }
        inner.seq
    }

    /// Takes a lead as read from Appwrite (a Realtime event, a re-read, the answer to our own
    /// write). `actor`: who made the change, when known; else the document's `updated_by`.
    pub fn observe(&self, doc: &LeadDoc, actor: Option<&Username>, at: Millis) -> Observed {
        let mut inner = self.lock();
        let same_life = inner.incarnations.get(&doc.lead.id).is_none_or(|i| *i == doc.incarnation);
        let prev = inner.leads.get(&doc.lead.id).cloned().filter(|_| same_life);
        match &prev {
            Some(p) if p.version > doc.lead.version => return Observed::Same,
            Some(p) if p.version == doc.lead.version => {
                return if p.assignee != doc.lead.assignee { Observed::Suspect } else { Observed::Same };
            }
            _ => {}
        }
        let actor = actor.cloned().or_else(|| doc.updated_by.clone()).unwrap_or_else(outside_actor);
        let change = change_of(prev.as_ref(), doc, &actor);
        inner.leads.insert(doc.lead.id.clone(), doc.lead.clone());
        inner.incarnations.insert(doc.lead.id.clone(), doc.incarnation.clone());
        if !self.is_loaded() {
            return Observed::Changed(inner.seq);
        }
        Observed::Changed(self.emit(&mut inner, at, actor, doc.lead.clone(), change))
    }

    /// A lost claim attempt (recorded in the `attempts` collection), once per attempt ID.
    pub fn observe_lost(
        &self,
        attempt_id: &str,
        lead_id: &LeadId,
        claimant: Username,
        winner: Username,
        margin_ms: Millis,
        at: Millis,
    ) {
        let mut inner = self.lock();
        if !inner.seen_attempts.insert(attempt_id.to_owned()) {
            return;
        }
        inner.seen_order.push_back(attempt_id.to_owned());
        if inner.seen_order.len() > SEEN_ATTEMPTS {
            if let Some(old) = inner.seen_order.pop_front() {
                inner.seen_attempts.remove(&old);
            }
        }
        let Some(lead) = inner.leads.get(lead_id).cloned() else { return };
        if self.is_loaded() {
            self.emit(&mut inner, at, claimant, lead, Change::ClaimLost { winner, margin_ms });
        }
    }

    /// A full read of the leads (start-up, every reconnect, every reconcile pass): emits what
    /// changed. The first one fills the mirror silently. Returns the leads that look written
    /// from outside.
    pub fn resync(&self, docs: &[LeadDoc], at: Millis) -> Vec<LeadId> {
        let mut suspects = Vec::new();
        for doc in docs {
            if self.observe(doc, None, at) == Observed::Suspect {
                suspects.push(doc.lead.id.clone());
            }
        }
        // Leads deleted in Appwrite leave this replica's board (boards keep them until they
        // take a snapshot: there is no "deleted" event).
        let present: HashSet<&LeadId> = docs.iter().map(|d| &d.lead.id).collect();
        let mut inner = self.lock();
        inner.leads.retain(|id, _| present.contains(id));
        inner.incarnations.retain(|id, _| present.contains(id));
        drop(inner);
        self.loaded.send_replace(true);
        suspects
    }

    /// Forgets a deleted lead; with `incarnation`, only if it is still that life of the ID (a
    /// late delete event must not remove a lead added again since).
    pub fn remove(&self, id: &LeadId, incarnation: Option<&str>) {
        let mut inner = self.lock();
        if incarnation.is_some_and(|i| inner.incarnations.get(id).is_some_and(|have| have != i)) {
            return;
        }
        inner.leads.remove(id);
        inner.incarnations.remove(id);
    }

    /// All leads and the sequence they reflect, under one lock.
    pub fn snapshot(&self) -> (u64, Vec<Lead>) {
        let inner = self.lock();
        (inner.seq, inner.leads.values().cloned().collect())
    }

    pub fn latest_seq(&self) -> u64 {
        self.lock().seq
    }

    /// Events after `after`, or None when the ring no longer reaches back that far.
    pub fn events_after(&self, after: u64, limit: usize) -> Option<Vec<BoardEvent>> {
        let inner = self.lock();
        if after >= inner.seq {
            return Some(Vec::new());
        }
        let oldest = inner.ring.front().map_or(inner.seq + 1, |e| e.seq);
        if after + 1 < oldest {
            return None;
        }
        Some(inner.ring.iter().filter(|e| e.seq > after).take(limit).cloned().collect())
    }

    pub fn recent(&self, limit: usize) -> Vec<BoardEvent> {
        let inner = self.lock();
        let skip = inner.ring.len().saturating_sub(limit);
        inner.ring.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Mutex<Vec<BoardEvent>>);
    impl EventSink for Collect {
        fn publish(&self, e: &BoardEvent) {
            self.0.lock().unwrap().push(e.clone());
        }
    }

    fn doc(version: u64, assignee: Option<&str>, by: Option<&str>) -> LeadDoc {
        LeadDoc {
            doc_id: "L1".into(),
            lead: Lead::sample(assignee, version),
            updated_at_raw: String::new(),
            updated_by: by.map(|b| Username::parse(b).unwrap()),
            incarnation: "i1".into(),
            last_change: None,
            note: Default::default(),
        }
    }

    #[test]
    fn changes_become_events_once_and_foreign_writes_are_suspects() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let m = Mirror::new(sink.clone());
        assert!(m.resync(&[doc(1, None, None)], 0).is_empty());
        assert_eq!(m.latest_seq(), 0, "the first read is silent");
        assert_eq!(m.observe(&doc(2, Some("bob"), Some("bob")), None, 1), Observed::Changed(1));
        assert_eq!(m.observe(&doc(2, Some("bob"), Some("bob")), None, 1), Observed::Same);
        assert_eq!(m.observe(&doc(2, Some("eve"), Some("bob")), None, 1), Observed::Suspect);
        assert_eq!(m.observe(&doc(3, Some("eve"), Some("appwrite")), None, 2), Observed::Changed(2));
        let events = sink.0.lock().unwrap().clone();
        assert_eq!(events[0].change, Change::Claimed);
        assert_eq!(events[1].change, Change::Reassigned { previous: Some(Username::parse("bob").unwrap()) });
        assert_eq!(events[1].loser().map(Username::as_str), Some("bob"));
        assert_eq!(m.events_after(0, 10).unwrap().len(), 2);
        assert_eq!(m.events_after(2, 10).unwrap().len(), 0);
    }

    #[test]
    fn a_lead_added_again_is_a_new_lead_and_a_late_delete_of_the_old_one_is_ignored() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let m = Mirror::new(sink.clone());
        m.resync(&[doc(5, Some("bob"), Some("bob"))], 0);
        let again = LeadDoc { incarnation: "i2".into(), ..doc(1, None, Some("maria")) };
        assert_eq!(m.observe(&again, None, 1), Observed::Changed(1), "a lower version of another incarnation counts");
        assert_eq!(sink.0.lock().unwrap()[0].change, Change::Created);
        m.remove(&again.lead.id, Some("i1"));
        assert_eq!(m.snapshot().1.len(), 1, "the old incarnation's delete leaves the new lead");
        m.remove(&again.lead.id, Some("i2"));
        assert!(m.snapshot().1.is_empty());
    }

    #[test]
    fn the_same_holder_under_a_new_version_flags_nobody() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let m = Mirror::new(sink.clone());
        m.resync(&[doc(2, Some("bob"), Some("bob"))], 0);
        m.observe(&doc(3, Some("bob"), Some("appwrite")), None, 1);
        let events = sink.0.lock().unwrap().clone();
        assert_eq!(events[0].change, Change::Claimed);
        assert_eq!(events[0].loser(), None);
    }

    #[test]
    fn the_last_change_names_an_expiry_and_an_extension_also_across_missed_versions() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let m = Mirror::new(sink.clone());
        m.resync(&[doc(5, None, None)], 0);
        // Claimed by bob at 6 and given back at 7, seen only at 7.
        m.observe(&LeadDoc { last_change: Some(Kind::Expire), ..doc(7, None, Some("bob")) }, None, 1);
        m.observe(&doc(8, Some("bob"), Some("bob")), None, 2);
        m.observe(&LeadDoc { last_change: Some(Kind::Extend), ..doc(10, Some("bob"), Some("bob")) }, None, 3);
        let events = sink.0.lock().unwrap().clone();
        assert_eq!(events[0].change, Change::Expired { previous: Username::parse("bob").unwrap() });
        assert_eq!(events[0].loser().map(Username::as_str), Some("bob"), "the holder is told");
        assert_eq!(events[2].change, Change::Extended);
    }

    #[test]
    fn the_ring_forgets_and_then_asks_for_a_snapshot() {
        let m = Mirror::new(Arc::new(Collect(Mutex::new(Vec::new()))));
        m.resync(&[doc(1, None, None)], 0);
        for v in 2..(RING as u64 + 10) {
            m.observe(&doc(v, if v % 2 == 0 { Some("bob") } else { None }, Some("bob")), None, 0);
        }
        assert!(m.events_after(0, 10).is_none());
        let latest = m.latest_seq();
        assert_eq!(m.events_after(latest - 5, 100).unwrap().len(), 5);
        assert_eq!(m.recent(3).len(), 3);
    }
}
