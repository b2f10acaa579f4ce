//! A board's live state: the leads (kept converged by events from `/ws`), lost-claim flags, the
//! activity feed, who else is looking at which lead, the connection status, and the server's clock
//! that leases count down by. The socket reconnects by itself and resumes from the
//! last sequence it applied, so nothing is missed. The socket half exists only in the browser;
//! the server renders the initial state.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use super::toast::{toasts, Tone};
use crate::domain::{
    Applied, BoardEvent, BoardState, Change, ClaimOutcome, ClaimReply, ClaimTerms, Lead, LeadId, Millis, NextReply,
    Username,
};
use crate::protocol::{Board, Viewers};
use leptos::prelude::*;
use std::collections::{HashMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Live,
    Reconnecting,
}

impl Conn {
    pub fn as_str(self) -> &'static str {
        match self {
            Conn::Connecting => "connecting",
            Conn::Live => "live",
            Conn::Reconnecting => "reconnecting",
        }
    }

    /// What the header's badge says.
    pub fn label(self) -> &'static str {
        match self {
            Conn::Connecting => "Connecting…",
            Conn::Live => "Live",
            Conn::Reconnecting => "Reconnecting…",
        }
    }
}

/// Why a lead the user wanted or held is no longer theirs: `text` says what and by whom (also
/// the toast), `detail` by how much, when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostFlag {
    pub text: String,
    pub detail: Option<String>,
}

impl LostFlag {
    fn new(text: String) -> Self {
        LostFlag { text, detail: None }
    }

    fn lost_claim(lead: &LeadId, winner: &Username, margin_ms: i64) -> Self {
        LostFlag { text: format!("Lost {lead} to {winner}"), detail: Some(format!("{margin_ms} ms earlier")) }
    }
}

#[derive(Clone, Copy)]
pub struct BoardSync {
    pub me: StoredValue<Username>,
    pub board: RwSignal<BoardState>,
    pub conn: RwSignal<Conn>,
    pub flags: RwSignal<HashMap<LeadId, LostFlag>>,
    /// Newest first.
    pub feed: RwSignal<VecDeque<FeedItem>>,
    pub terms: StoredValue<ClaimTerms>,
    /// Who has which lead's page open (on this server), as the server last said.
    pub viewers: RwSignal<HashMap<LeadId, Vec<Username>>>,
    /// The lead whose page this is (None on the boards): the socket tells the server.
    pub looking_at: RwSignal<Option<LeadId>>,
    /// The server's clock as this board reckons it (the browser's clock plus the difference the
    /// server last reported), moved on every second in the browser.
    pub now: RwSignal<Millis>,
    /// The server's clock minus the browser's.
    skew: StoredValue<Millis>,
}

pub fn board_sync() -> BoardSync {
    expect_context::<BoardSync>()
}

fn lead_label(lead: &Lead) -> String {
    format!("{} ({})", lead.id, lead.name)
}

impl BoardSync {
    /// Takes in who views which leads: the leads named get their viewers (nobody: removed); with
    /// `whole`, every other lead has none.
    pub fn presence(&self, viewing: Vec<Viewers>, whole: bool) {
        self.viewers.update(|map| {
            if whole {
                map.clear();
            }
            for Viewers { lead, users } in viewing {
                if users.is_empty() {
                    map.remove(&lead);
                } else {
                    map.insert(lead, users);
                }
            }
        });
    }

    /// Everyone but me who has `lead`'s page open.
    pub fn others_viewing(&self, lead: &LeadId) -> Vec<Username> {
        let me = self.me.get_value();
        self.viewers.with(|map| map.get(lead).into_iter().flatten().filter(|u| **u != me).cloned().collect())
    }

    /// Creates the board state, provides it as context and, in the browser, connects the socket.
    pub fn provide(me: Username, board: Board, feed: Vec<BoardEvent>) -> BoardSync {
        let Board { snapshot: list, terms, now } = board;
        let sync = BoardSync {
            me: StoredValue::new(me),
            board: RwSignal::new(BoardState::new(list.stream, list.seq, list.leads)),
            conn: RwSignal::new(Conn::Connecting),
            flags: RwSignal::new(HashMap::new()),
            feed: RwSignal::new(feed.into_iter().fold(VecDeque::new(), |mut f, ev| {
                feed::add(&mut f, ev);
                f
            })),
            terms: StoredValue::new(terms),
            viewers: RwSignal::new(HashMap::new()),
            looking_at: RwSignal::new(None),
            now: RwSignal::new(now),
            skew: StoredValue::new(0),
        };
        provide_context(sync);
        // Effects run only in the browser, after hydration.
        Effect::new(move || {
            #[cfg(feature = "hydrate")]
            {
                // The board's `now` is when the server rendered the page, seconds ago by now: the
                // browser's clock stands in until the first heartbeat (sent on connect) says the
                // server's.
                sync.tick();
                set_interval(move || sync.tick(), std::time::Duration::from_secs(1));
                socket::connect(sync);
            }
        });
        sync
    }

    /// Takes the server's clock reading `server_now` (0: the server did not say).
    #[cfg(feature = "hydrate")]
    pub fn server_time(&self, server_now: Millis) {
        if server_now > 0 {
            self.skew.set_value(server_now - js_sys::Date::now() as Millis);
            self.tick();
        }
    }

    #[cfg(feature = "hydrate")]
    fn tick(&self) {
        self.now.set(js_sys::Date::now() as Millis + self.skew.get_value());
    }

    /// Flags a lead as lost, with a toast unless the same flag is already up (the reply to a
    /// claim and the event about it both report the loss).
    fn flag(&self, id: &LeadId, flag: LostFlag) {
        let already = self.flags.with_untracked(|f| f.get(id).is_some_and(|old| old.text == flag.text));
        if !already {
            toasts().push(Tone::Bad, flag.text.clone());
            self.flags.update(|f| {
                f.insert(id.clone(), flag);
            });
        }
    }

    pub fn unflag(&self, id: &LeadId) {
        self.flags.update(|f| {
            f.remove(id);
        });
    }

    /// Applies the reply to this user's own claim.
    pub fn apply_claim(&self, reply: &ClaimReply) {
        self.apply_claim_for(reply, None);
    }

    /// Applies the reply to "Next lead", which says why it picked the lead.
    pub fn apply_next(&self, next: &NextReply) {
        self.apply_claim_for(&next.claim, Some(&next.reason));
    }

    fn apply_claim_for(&self, reply: &ClaimReply, reason: Option<&str>) {
        let id = reply.lead.id.clone();
        let label = lead_label(&reply.lead);
        self.board.update(|b| {
            b.upsert(reply.lead.clone());
        });
        match &reply.outcome {
            ClaimOutcome::Won => {
                self.unflag(&id);
                let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
                toasts().push(Tone::Good, format!("You got {label}{why}"));
            }
            ClaimOutcome::AlreadyYours => self.unflag(&id),
            ClaimOutcome::Lost { winner, margin_ms } => {
                self.flag(&id, LostFlag::lost_claim(&id, winner, *margin_ms));
            }
        }
    }

    /// Applies one event from the socket. Returns what applying did.
    pub fn apply_event(&self, ev: BoardEvent) -> Applied {
        let applied = self.board.try_update(|b| b.apply(&ev)).unwrap_or(Applied::Duplicate);
        if applied == Applied::Duplicate {
            return applied;
        }
        let me = self.me.get_value();
        if ev.loser() == Some(&me) {
            let flag = match &ev.change {
                Change::ClaimLost { winner, margin_ms } => LostFlag::lost_claim(&ev.lead.id, winner, *margin_ms),
                Change::Released { .. } => LostFlag::new(format!("{} released {}", ev.actor, ev.lead.id)),
                Change::Expired { .. } => LostFlag::new(format!("Your claim on {} expired", ev.lead.id)),
                _ => LostFlag::new(match &ev.lead.assignee {
                    Some(to) => format!("{} was reassigned to {to} by {}", ev.lead.id, ev.actor),
                    None => format!("{} was taken from you by {}", ev.lead.id, ev.actor),
                }),
            };
            self.flag(&ev.lead.id, flag);
        } else if ev.lead.is_held_by(&me) {
            self.unflag(&ev.lead.id);
        }
        self.feed.update(|f| feed::add(f, ev));
        applied
    }
}

mod feed;
#[cfg(feature = "hydrate")]
mod socket;

pub use feed::FeedItem;
