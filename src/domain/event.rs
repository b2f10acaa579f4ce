//! Board events and the websocket messages that carry them.

use super::{Lead, Millis, Username};
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Claimed => "claimed",
            Change::ClaimLost { .. } => "claim_lost",
            Change::Released { .. } => "released",
            Change::Reassigned { .. } => "reassigned",
        }
    }
}

impl BoardEvent {
    /// The user who lost this lead through this event, if anyone did: a losing claimant, or a
    /// holder whose lead was taken away by someone else.
    pub fn loser(&self) -> Option<&Username> {
        match &self.change {
            Change::ClaimLost { .. } => Some(&self.actor),
            Change::Released { previous } if previous != &self.actor => Some(previous),
            Change::Reassigned { previous: Some(previous) } if self.lead.assignee.as_ref() != Some(previous) => {
                Some(previous)
            }
            _ => None,
        }
    }
}

/// Server to browser, over `GET /ws`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Event(BoardEvent),
    /// The whole board as of event `seq` of `stream`; sent when a client is too far behind to
    /// catch up by events, or resumes from another stream.
    Snapshot {
        stream: String,
        seq: u64,
        leads: Vec<Lead>,
    },
    /// Sent every few seconds so a client can tell a silent link from a dead one, and spot a gap.
    Heartbeat {
        seq: u64,
    },
    Error {
        message: String,
    },
}

/// The websocket close code meaning "your session ended" (account disabled, password reset,
/// signed out): the browser goes to the sign-in page instead of reconnecting.
pub const CLOSE_SIGNED_OUT: u16 = 4001;

/// Browser to server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Send me every event after `after_seq` (or a snapshot), then live events. Sequence numbers
    /// count within one `stream` (a database, or an app replica); resuming with another stream's
    /// name gets a snapshot. Without a stream, the server's current one is assumed.
    Resume {
        #[serde(default)]
        stream: Option<String>,
        after_seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_messages_round_trip_with_flat_fields() {
        let ev = BoardEvent {
            seq: 7,
            at: 100,
            actor: Username::parse("alice").unwrap(),
            lead: Lead::sample(Some("bob"), 3),
            change: Change::ClaimLost { winner: Username::parse("bob").unwrap(), margin_ms: 10 },
        };
        let msg = ServerMsg::Event(ev.clone());
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "event");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["kind"], "claim_lost");
        assert_eq!(json["winner"], "bob");
        assert_eq!(serde_json::from_value::<ServerMsg>(json).unwrap(), msg);
        assert_eq!(ev.loser().map(Username::as_str), Some("alice"));
        let resume: ClientMsg = serde_json::from_str(r#"{"type":"resume","after_seq":5}"#).unwrap();
        assert_eq!(resume, ClientMsg::Resume { stream: None, after_seq: 5 });
    }
}
