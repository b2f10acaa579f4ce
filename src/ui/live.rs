//! A board's live state: the leads (kept converged by events from `/ws`), lost-claim flags, the
//! activity feed and the connection status. The socket reconnects by itself and resumes from the
//! last sequence it applied, so nothing is missed. The socket half exists only in the browser;
//! the server renders the initial state.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use super::board::LeadList;
use super::toast::{toasts, Tone};
use crate::domain::{Applied, BoardEvent, BoardState, Change, ClaimOutcome, ClaimReply, Lead, LeadId, Username};
use leptos::prelude::*;
use std::collections::{HashMap, VecDeque};

const FEED_LEN: usize = 200;

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
}

/// Why a lead the user wanted or held is no longer theirs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostFlag {
    pub text: String,
}

#[derive(Clone, Copy)]
pub struct Live {
    pub me: StoredValue<Username>,
    pub board: RwSignal<BoardState>,
    pub conn: RwSignal<Conn>,
    pub flags: RwSignal<HashMap<LeadId, LostFlag>>,
    /// Newest first.
    pub feed: RwSignal<VecDeque<BoardEvent>>,
}

pub fn live() -> Live {
    expect_context::<Live>()
}

fn lead_label(lead: &Lead) -> String {
    format!("{} ({})", lead.id, lead.name)
}

impl Live {
    /// Creates the board state, provides it as context and, in the browser, connects the socket.
    pub fn provide(me: Username, list: LeadList, feed: Vec<BoardEvent>) -> Live {
        let live = Live {
            me: StoredValue::new(me),
            board: RwSignal::new(BoardState::new(list.stream, list.seq, list.leads)),
            conn: RwSignal::new(Conn::Connecting),
            flags: RwSignal::new(HashMap::new()),
            feed: RwSignal::new(feed.into_iter().rev().collect()),
        };
        provide_context(live);
        // Effects run only in the browser, after hydration.
        Effect::new(move || {
            #[cfg(feature = "hydrate")]
            socket::connect(live);
        });
        live
    }

    /// Flags a lead as lost, with a toast unless the same flag is already up (the reply to a
    /// claim and the event about it both report the loss).
    fn flag(&self, id: &LeadId, text: String) {
        let already = self.flags.with_untracked(|f| f.get(id).is_some_and(|old| old.text == text));
        if !already {
            self.flags.update(|f| {
                f.insert(id.clone(), LostFlag { text: text.clone() });
            });
            toasts().push(Tone::Bad, text);
        }
    }

    pub fn unflag(&self, id: &LeadId) {
        self.flags.update(|f| {
            f.remove(id);
        });
    }

    /// Applies the reply to this user's own claim.
    pub fn apply_claim(&self, reply: &ClaimReply) {
        let id = reply.lead.id.clone();
        let label = lead_label(&reply.lead);
        self.board.update(|b| {
            b.upsert(reply.lead.clone());
        });
        match &reply.outcome {
            ClaimOutcome::Won => {
                self.unflag(&id);
                toasts().push(Tone::Good, format!("You got {label}"));
            }
            ClaimOutcome::AlreadyYours => self.unflag(&id),
            ClaimOutcome::Lost { winner, margin_ms } => {
                self.flag(&id, format!("Lost {} to {winner}, {margin_ms} ms earlier", reply.lead.id));
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
            let text = match &ev.change {
                Change::ClaimLost { winner, margin_ms } => format!("Lost {} to {winner}, {margin_ms} ms earlier", ev.lead.id),
                Change::Released { .. } => format!("{} released {}", ev.actor, ev.lead.id),
                _ => match &ev.lead.assignee {
                    Some(to) => format!("{} was reassigned to {to} by {}", ev.lead.id, ev.actor),
                    None => format!("{} was taken from you by {}", ev.lead.id, ev.actor),
                },
            };
            self.flag(&ev.lead.id, text);
        } else if ev.lead.is_held_by(&me) {
            self.unflag(&ev.lead.id);
        }
        self.feed.update(|f| {
            f.push_front(ev);
            f.truncate(FEED_LEN);
        });
        applied
    }
}

#[component]
pub fn ConnectionBadge() -> impl IntoView {
    let live = use_context::<Live>();
    let state = move || live.map(|l| l.conn.get()).unwrap_or(Conn::Connecting);
    view! {
        <span class=move || format!("conn conn-{}", state().as_str()) data-conn=move || state().as_str() role="status">
            {move || match state() {
                Conn::Connecting => "Connecting…",
                Conn::Live => "Live",
                Conn::Reconnecting => "Reconnecting…",
            }}
        </span>
    }
}

#[cfg(feature = "hydrate")]
mod socket {
    use super::{Conn, Live};
    use crate::domain::event::CLOSE_SIGNED_OUT;
    use crate::domain::{Applied, BoardState, ClientMsg, ServerMsg};
    use leptos::prelude::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    /// Silence longer than this (the server sends a heartbeat every 15 s) means the link is dead,
    /// as after a laptop sleeps: close it and reconnect.
    const SILENCE_LIMIT_MS: f64 = 40_000.0;
    const MAX_BACKOFF_MS: u64 = 10_000;

    struct Socket {
        live: Live,
        ws: RefCell<Option<WebSocket>>,
        handlers: RefCell<Vec<Closure<dyn FnMut(JsValue)>>>,
        attempts: Cell<u32>,
        last_heard: Cell<f64>,
    }

    pub fn connect(live: Live) {
        let socket = Rc::new(Socket {
            live,
            ws: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            attempts: Cell::new(0),
            last_heard: Cell::new(js_sys::Date::now()),
        });
        open(&socket);
        let watchdog = socket.clone();
        let _ = set_interval_with_handle(
            move || {
                if js_sys::Date::now() - watchdog.last_heard.get() > SILENCE_LIMIT_MS {
                    if let Some(ws) = watchdog.ws.borrow().as_ref() {
                        let _ = ws.close();
                    }
                }
            },
            Duration::from_secs(5),
        );
        // A laptop waking up or a network coming back: check the link at once.
        let online = socket.clone();
        let _ = window_event_listener_untyped("online", move |_| {
            if online.live.conn.get_untracked() != Conn::Live {
                open(&online);
            }
        });
    }

    fn url() -> String {
        let loc = window().location();
        let scheme = if loc.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", loc.host().unwrap_or_default())
    }

    fn send(ws: &WebSocket, msg: &ClientMsg) {
        if let Ok(text) = serde_json::to_string(msg) {
            let _ = ws.send_with_str(&text);
        }
    }

    fn resume_msg(live: &Live) -> ClientMsg {
        live.board.with_untracked(|b| ClientMsg::Resume { stream: Some(b.stream.clone()), after_seq: b.seq })
    }

    fn open(s: &Rc<Socket>) {
        if let Some(old) = s.ws.borrow_mut().take() {
            old.set_onclose(None);
            let _ = old.close();
        }
        let Ok(ws) = WebSocket::new(&url()) else {
            schedule_reconnect(s);
            return;
        };
        let mut handlers = Vec::new();

        let me = s.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            me.attempts.set(0);
            me.last_heard.set(js_sys::Date::now());
            if let Some(ws) = me.ws.borrow().as_ref() {
                send(ws, &resume_msg(&me.live));
            }
            me.live.conn.set(Conn::Live);
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        handlers.push(on_open);

        let me = s.clone();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            me.last_heard.set(js_sys::Date::now());
            let Some(text) = e.dyn_into::<MessageEvent>().ok().and_then(|m| m.data().as_string()) else { return };
            match serde_json::from_str::<ServerMsg>(&text) {
                Ok(msg) => handle(&me, msg),
                Err(err) => leptos::logging::warn!("unreadable board message: {err}"),
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        handlers.push(on_message);

        let me = s.clone();
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            // The server ended this account's sessions (disabled, or its password reset).
            if e.dyn_into::<CloseEvent>().is_ok_and(|c| c.code() == CLOSE_SIGNED_OUT) {
                let _ = window().location().assign("/login");
                return;
            }
            me.live.conn.set(Conn::Reconnecting);
            schedule_reconnect(&me);
        });
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        handlers.push(on_close);

        *s.ws.borrow_mut() = Some(ws);
        *s.handlers.borrow_mut() = handlers;
    }

    fn handle(s: &Rc<Socket>, msg: ServerMsg) {
        let resume = |s: &Rc<Socket>| {
            if let Some(ws) = s.ws.borrow().as_ref() {
                send(ws, &resume_msg(&s.live));
            }
        };
        match msg {
            ServerMsg::Event(ev) => {
                if s.live.apply_event(ev) == Applied::Gap {
                    resume(s);
                }
            }
            ServerMsg::Snapshot { stream, seq, leads } => s.live.board.set(BoardState::new(stream, seq, leads)),
            ServerMsg::Heartbeat { seq } => {
                if seq > s.live.board.with_untracked(|b| b.seq) {
                    resume(s);
                }
            }
            ServerMsg::Error { message } => leptos::logging::warn!("board socket: {message}"),
        }
    }

    /// Exponential backoff with jitter, so boards do not all return at the same instant.
    fn schedule_reconnect(s: &Rc<Socket>) {
        let n = s.attempts.get();
        s.attempts.set(n.saturating_add(1));
        let base = (250u64 << n.min(6)).min(MAX_BACKOFF_MS);
        let delay = base / 2 + (js_sys::Math::random() * (base / 2) as f64) as u64;
        let me = s.clone();
        set_timeout(move || open(&me), Duration::from_millis(delay));
    }
}
