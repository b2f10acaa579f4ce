//! Board events: one committed change each, numbered by a gap-free sequence.

use super::{Lead, Millis, Note, Outcome, Username};
use serde::{Deserialize, Serialize};

/// One committed change, numbered by a global, gap-free sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEvent {
    pub seq: u64,
    pub at: Millis,
    /// Who caused it.
    pub actor: Username,
    /// The lead after the change.
    pub lead: Lead,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Change {
    Created,
    Claimed,
    /// A claim attempt that found the lead taken; the lead itself did not change.
    ClaimLost {
        winner: Username,
        margin_ms: Millis,
    },
    Released {
        previous: Username,
    },
    /// A manager (or, in the Appwrite mode, a write from outside Leadboard) gave the lead to
    /// someone else.
    Reassigned {
        previous: Option<Username>,
    },
    /// The holder's lease ran out and the lead went back to the pool by itself. The event's actor
    /// is the holder whose lease it was.
    Expired {
        previous: Username,
    },
    /// The holder extended their lease (the lead carries the new deadline and the count).
    Extended,
    /// The holder recorded what happened, with a note (the lead carries the outcome).
    Outcome {
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Note::is_empty")]
        note: Note,
    },
}

impl Change {
    /// The kind of `Change::Outcome`, for stores that select events by kind.
    pub const OUTCOME: &'static str = "outcome";

    /// The `kind` the event carries on the wire.
    pub fn kind(&self) -> &'static str {
        self.into()
    }
}

impl BoardEvent {
    /// The user who lost this lead through this event, if anyone did: a losing claimant, a holder
    /// whose lead was taken away by someone else, or a holder whose lease ran out.
    pub fn loser(&self) -> Option<&Username> {
        match &self.change {
            Change::ClaimLost { .. } => Some(&self.actor),
            Change::Released { previous } if previous != &self.actor => Some(previous),
            Change::Reassigned { previous: Some(previous) } if self.lead.assignee.as_ref() != Some(previous) => {
                Some(previous)
            }
            Change::Expired { previous } => Some(previous),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_claim_names_its_claimant_as_the_loser() {
        let ev = BoardEvent {
            seq: 7,
            at: 100,
            actor: Username::parse("alice").unwrap(),
            lead: Lead::sample(Some("bob"), 3),
            change: Change::ClaimLost { winner: Username::parse("bob").unwrap(), margin_ms: 10 },
        };
        assert_eq!(ev.loser().map(Username::as_str), Some("alice"));
    }

    #[test]
    fn an_expiry_names_the_former_holder_and_an_extension_nobody() {
        let bob = Username::parse("bob").unwrap();
        let mut ev = BoardEvent {
            seq: 8,
            at: 100,
            actor: bob.clone(),
            lead: Lead::sample(None, 4),
            change: Change::Expired { previous: bob.clone() },
        };
        assert_eq!(ev.loser(), Some(&bob));
        assert_eq!(ev.change.kind(), "expired");
        ev.change = Change::Extended;
        ev.lead = Lead::sample(Some("bob"), 4);
        assert_eq!((ev.loser(), ev.change.kind()), (None, "extended"));
    }

    #[test]
    fn every_kind_is_the_name_on_the_wire() {
        let bob = Username::parse("bob").unwrap();
        for change in [
            Change::Created,
            Change::Claimed,
            Change::ClaimLost { winner: bob.clone(), margin_ms: 1 },
            Change::Released { previous: bob.clone() },
            Change::Reassigned { previous: None },
            Change::Expired { previous: bob.clone() },
            Change::Extended,
            Change::Outcome { outcome: Outcome::Won, note: Note::parse("signed").unwrap() },
        ] {
            assert_eq!(serde_json::to_value(&change).unwrap()["kind"], change.kind());
        }
        assert_eq!(Change::Outcome { outcome: Outcome::Lost, note: Note::default() }.kind(), Change::OUTCOME);
    }
}
