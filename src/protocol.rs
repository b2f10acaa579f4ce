//! The wire protocol between a board and the server: the messages on `GET /ws` in both directions,
//! the websocket close codes and what each asks the browser to do, and the board snapshot (also the
//! answer of `POST /api/leads`). Shared by the store port, the fan-out, the HTTP layer and the
//! browser, so both ends are compiled from one definition.

use crate::domain::{BoardEvent, ClaimTerms, Lead, LeadId, Millis, Username};
use serde::{Deserialize, Serialize};

/// The whole board as of event `seq` of `stream`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The event stream the sequence numbers belong to (a database file, or an app replica).
    pub stream: String,
    /// The last event the leads reflect: resume the websocket from here.
    pub seq: u64,
    pub leads: Vec<Lead>,
}

/// The answer of `POST /api/leads`: the snapshot (its fields at the top level), the terms claims
/// are held on, and the server's clock, so a board counts leases down by the server's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub terms: ClaimTerms,
    pub now: Millis,
}

/// The answer of `POST /api/leads/history`: a lead as it stands and its events (claims won and
/// lost, leases, expiries, reassigns, outcomes with their notes), oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadHistory {
    pub lead: Lead,
    pub events: Vec<BoardEvent>,
}

/// Who has one lead's page open right now (empty: nobody any more).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewers {
    pub lead: LeadId,
    pub users: Vec<Username>,
}

/// Server to browser. A message is made, serialised and sent (or received and applied) one at a
/// time, never kept in bulk, so a large `Event` beside the small variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Event(BoardEvent),
    /// Consecutive events committed together (an import's batch of new leads): one message, so a
    /// board takes them in as one update.
    Events {
        events: Vec<BoardEvent>,
    },
    /// Sent when a board is too far behind to catch up by events, or resumes from another stream.
    Snapshot(Snapshot),
    /// Sent every few seconds so a board can tell a silent link from a dead one, and spot a gap.
    Heartbeat {
        seq: u64,
        /// The server's clock (0 from a server before leases).
        #[serde(default)]
        now: Millis,
    },
    Error {
        message: String,
    },
    /// Who views the leads whose viewers changed; with `whole`, the whole picture (a lead not
    /// listed has no viewers). Sent on connect only while someone looks.
    Presence {
        viewing: Vec<Viewers>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        whole: bool,
    },
}

/// Browser to server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Send me every event after `after_seq` (or a snapshot), then live events. Resuming with
    /// another stream's name gets a snapshot; without a stream, the server's current one is assumed.
    Resume {
        #[serde(default)]
        stream: Option<String>,
        after_seq: u64,
    },
    /// I am looking at this lead's page now (None: at none). One lead per board; counts against
    /// the board's message budget.
    Viewing { lead: Option<LeadId> },
}

/// Why the server closed a board's socket, and so what the browser does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// The session ended (signed out, account disabled, password reset): go to sign-in.
    SignedOut,
    /// Too many, oversized or unreadable messages: reconnect later, with backoff.
    Policy,
    /// The board could not be read from the store: reconnect later.
    Unavailable,
    /// The server is restarting: reconnect (with backoff) and resume where it was.
    Restart,
}

impl Close {
    pub const fn code(self) -> u16 {
        match self {
            Close::SignedOut => 4001,
            Close::Policy => 1008,
            Close::Unavailable => 1011,
            Close::Restart => 1012,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Change, Username};

    #[test]
    fn messages_keep_their_flat_json_shape() {
        let ev = BoardEvent {
            seq: 7,
            at: 100,
            actor: Username::parse("alice").unwrap(),
            lead: Lead::sample(Some("bob"), 3),
            change: Change::ClaimLost { winner: Username::parse("bob").unwrap(), margin_ms: 10 },
        };
        let msg = ServerMsg::Event(ev);
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(
            (json["type"].as_str(), json["seq"].as_u64(), json["kind"].as_str()),
            (Some("event"), Some(7), Some("claim_lost"))
        );
        assert_eq!(json["winner"], "bob");
        assert_eq!(serde_json::from_value::<ServerMsg>(json).unwrap(), msg);

        let snap = ServerMsg::Snapshot(Snapshot { stream: "s".into(), seq: 3, leads: vec![Lead::sample(None, 1)] });
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(
            (json["type"].as_str(), json["stream"].as_str(), json["seq"].as_u64()),
            (Some("snapshot"), Some("s"), Some(3))
        );
        assert_eq!(serde_json::from_value::<ServerMsg>(json).unwrap(), snap);

        let resume: ClientMsg = serde_json::from_str(r#"{"type":"resume","after_seq":5}"#).unwrap();
        assert_eq!(resume, ClientMsg::Resume { stream: None, after_seq: 5 });
        let viewing: ClientMsg = serde_json::from_str(r#"{"type":"viewing","lead":"L1"}"#).unwrap();
        assert_eq!(viewing, ClientMsg::Viewing { lead: Some(crate::domain::LeadId::parse("L1").unwrap()) });
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"viewing","lead":"no such id"}"#).is_err());
    }
}
