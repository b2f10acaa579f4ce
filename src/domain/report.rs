//! What the team did with its leads: per person, the outcomes recorded and how long from a claim
//! to its first outcome. Computed from the `outcome` events of a period.

use super::{BoardEvent, Change, LeadId, Millis, Outcome, Username};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// One person's outcomes in the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonOutcomes {
    pub user: Username,
    /// How many of each outcome they recorded, in `Outcome::ALL`'s order.
    pub counts: [u32; 5],
    /// Claims they recorded a first outcome on.
    pub first_outcomes: u32,
    /// The median time from a claim to its first outcome (None without any).
    pub median_to_first_ms: Option<Millis>,
}

impl PersonOutcomes {
    pub fn count(&self, outcome: Outcome) -> u32 {
        self.counts[Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or_default()]
    }
}

/// The report of the `outcome` events in `from..to`, people by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeReport {
    pub from: Millis,
    pub to: Millis,
    pub people: Vec<PersonOutcomes>,
}

impl OutcomeReport {
    /// Tallies `events` (oldest first; other kinds are skipped). A claim's first outcome is the
    /// first `outcome` event of that lead since that claim (told apart by the claim's time).
    pub fn from_events(from: Millis, to: Millis, events: &[BoardEvent]) -> Self {
        // Per person: the counts, and the waits from claim to first outcome.
        let mut people: BTreeMap<&Username, ([u32; 5], Vec<Millis>)> = BTreeMap::new();
        let mut seen: HashSet<(&LeadId, Option<Millis>)> = HashSet::new();
        for ev in events {
            let Change::Outcome { outcome, .. } = &ev.change else { continue };
            let (counts, waits) = people.entry(&ev.actor).or_default();
            if let Some(i) = Outcome::ALL.iter().position(|o| o == outcome) {
                counts[i] += 1;
            }
            if seen.insert((&ev.lead.id, ev.lead.claimed_at)) {
                if let Some(claimed_at) = ev.lead.claimed_at {
                    waits.push((ev.at - claimed_at).max(0));
                }
            }
        }
        let people = people
            .into_iter()
            .map(|(user, (counts, mut waits))| {
                waits.sort_unstable();
                PersonOutcomes {
                    user: user.clone(),
                    counts,
                    first_outcomes: waits.len() as u32,
                    median_to_first_ms: median(&waits),
                }
            })
            .collect();
        OutcomeReport { from, to, people }
    }
}

/// The middle of sorted `values` (the mean of the two middle ones for an even count).
fn median(values: &[Millis]) -> Option<Millis> {
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Lead, Note};

    fn outcome(seq: u64, at: Millis, who: &str, lead: &str, claimed_at: Millis, outcome: Outcome) -> BoardEvent {
        let mut l = Lead::sample(Some(who), seq);
        l.id = LeadId::parse(lead).unwrap();
        (l.claimed_at, l.outcome) = (Some(claimed_at), Some(outcome));
        BoardEvent {
            seq,
            at,
            actor: Username::parse(who).unwrap(),
            lead: l,
            change: Change::Outcome { outcome, note: Note::default() },
        }
    }

    #[test]
    fn counts_each_outcome_and_times_only_the_first_of_each_claim() {
        let mut claimed = BoardEvent { change: Change::Claimed, ..outcome(1, 0, "bob", "L1", 0, Outcome::Won) };
        claimed.lead.outcome = None;
        let events = [
            claimed,
            outcome(2, 60_000, "bob", "L1", 0, Outcome::Contacted),
            outcome(3, 90_000, "bob", "L1", 0, Outcome::Won),
            outcome(4, 50_000, "bob", "L2", 30_000, Outcome::Lost),
            // The same lead claimed again later: a new first outcome.
            outcome(5, 200_000, "alice", "L1", 100_000, Outcome::Qualified),
        ];
        let report = OutcomeReport::from_events(0, 300_000, &events);
        let [alice, bob] = &report.people[..] else { panic!("{report:?}") };
        assert_eq!((alice.user.as_str(), bob.user.as_str()), ("alice", "bob"));
        assert_eq!([Outcome::Contacted, Outcome::Won, Outcome::Lost].map(|o| bob.count(o)), [1, 1, 1]);
        assert_eq!(bob.count(Outcome::Qualified), 0);
        assert_eq!((bob.first_outcomes, bob.median_to_first_ms), (2, Some(40_000)), "60 s and 20 s");
        assert_eq!((alice.first_outcomes, alice.median_to_first_ms), (1, Some(100_000)));
    }

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1, 5, 9]), Some(5));
        assert_eq!(median(&[1, 5, 9, 11]), Some(7));
    }
}
