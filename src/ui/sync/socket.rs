//! The board's websocket, in the browser only: connects, resumes from the last sequence the board
//! applied, notices a dead link by its silence, and reconnects with backoff.

use super::{BoardSync, Conn};
use crate::domain::{Applied, BoardState};
use crate::protocol::{ClientMsg, Close, ServerMsg, Snapshot};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Silence longer than this (the server sends a heartbeat every 15 s) means the link is dead,
/// as after a laptop sleeps: drop it and reconnect.
const SILENCE_LIMIT_MS: f64 = 40_000.0;
/// When the network comes back, a link silent for longer than this is presumed dead.
const ONLINE_SILENCE_MS: f64 = 20_000.0;
/// A page older than this that cannot read the server's messages reloads, to get the code
/// that can (the server was updated under it); a younger one would only reload in a loop.
const RELOAD_AFTER_MS: f64 = 60_000.0;
const MAX_BACKOFF_MS: u64 = 10_000;

/// A DOM event handler the socket keeps alive for as long as it is open.
type Handler = Closure<dyn FnMut(JsValue)>;

struct Socket {
    sync: BoardSync,
    ws: RefCell<Option<WebSocket>>,
    handlers: RefCell<Vec<Handler>>,
    attempts: Cell<u32>,
    last_heard: Cell<f64>,
    /// Whether the current socket ever opened.
    opened: Cell<bool>,
    /// The sequence the last resume asked from: a burst of events behind one gap asks once.
    resume_at: Cell<Option<u64>>,
    started: f64,
}

pub fn connect(sync: BoardSync) {
    let now = js_sys::Date::now();
    let socket = Rc::new(Socket {
        sync,
        ws: RefCell::new(None),
        handlers: RefCell::new(Vec::new()),
        attempts: Cell::new(0),
        last_heard: Cell::new(now),
        opened: Cell::new(false),
        resume_at: Cell::new(None),
        started: now,
    });
    open(&socket);
    // The page moving to another lead (or none) while the socket is open.
    let looking = socket.clone();
    Effect::new(move |_| {
        let lead = looking.sync.looking_at.get();
        if looking.opened.get() {
            if let Some(ws) = looking.ws.borrow().as_ref() {
                send(ws, &ClientMsg::Viewing { lead });
            }
        }
    });
    let watchdog = socket.clone();
    let _ = set_interval_with_handle(
        move || {
            let silent = js_sys::Date::now() - watchdog.last_heard.get();
            if watchdog.sync.conn.get_untracked() == Conn::Live && silent > SILENCE_LIMIT_MS {
                // Not `close()`: on a dead link its handshake would wait for a reply.
                watchdog.sync.conn.set(Conn::Reconnecting);
                open(&watchdog);
            }
        },
        Duration::from_secs(5),
    );
    // A laptop waking up or a network coming back: check the link at once.
    let online = socket.clone();
    let _ = window_event_listener_untyped("online", move |_| {
        let silent = js_sys::Date::now() - online.last_heard.get();
        if online.sync.conn.get_untracked() != Conn::Live || silent > ONLINE_SILENCE_MS {
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

fn open(s: &Rc<Socket>) {
    if let Some(old) = s.ws.borrow_mut().take() {
        old.set_onclose(None);
        let _ = old.close();
    }
    s.opened.set(false);
    let Ok(ws) = WebSocket::new(&url()) else {
        schedule_reconnect(s);
        return;
    };
    let mut handlers = Vec::new();

    let me = s.clone();
    let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        me.opened.set(true);
        me.last_heard.set(js_sys::Date::now());
        resume(&me, true);
        // A new socket is a new board to the server (perhaps another replica): who looks is what
        // it says from now on (nothing while nobody looks), and it is told again what this page shows.
        me.sync.viewers.set(Default::default());
        if let (Some(lead), Some(ws)) = (me.sync.looking_at.get_untracked(), me.ws.borrow().as_ref()) {
            send(ws, &ClientMsg::Viewing { lead: Some(lead) });
        }
        me.sync.conn.set(Conn::Live);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    handlers.push(on_open);

    let me = s.clone();
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        me.last_heard.set(js_sys::Date::now());
        // Reset only once the server speaks: a server that accepts sockets and then fails
        // to catch them up must not be retried four times a second.
        me.attempts.set(0);
        let Some(text) = e.dyn_into::<MessageEvent>().ok().and_then(|m| m.data().as_string()) else { return };
        match serde_json::from_str::<ServerMsg>(&text) {
            Ok(msg) => handle(&me, msg),
            Err(err) => {
                leptos::logging::warn!("unreadable board message: {err}");
                if js_sys::Date::now() - me.started > RELOAD_AFTER_MS {
                    let _ = window().location().reload();
                }
            }
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    handlers.push(on_message);

    let me = s.clone();
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        // The server ended this account's sessions (disabled, or its password reset).
        if e.dyn_into::<CloseEvent>().is_ok_and(|c| c.code() == Close::SignedOut.code()) {
            let _ = window().location().assign("/login");
            return;
        }
        me.sync.conn.set(Conn::Reconnecting);
        if me.opened.get() {
            schedule_reconnect(&me);
            return;
        }
        // Refused before it opened: a browser is not shown why. A session that ended while
        // the board was away (expiry, a laptop asleep overnight) is refused every time.
        let me = me.clone();
        leptos::task::spawn_local(async move {
            match crate::ui::api::me().await {
                Ok(None) => {
                    let _ = window().location().assign("/login");
                }
                _ => schedule_reconnect(&me),
            }
        });
    });
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    handlers.push(on_close);

    *s.ws.borrow_mut() = Some(ws);
    *s.handlers.borrow_mut() = handlers;
}

/// Asks the server for what the board is missing: once per gap, unless `again` (a
/// heartbeat says the board is still behind, so the last request was not enough).
fn resume(s: &Rc<Socket>, again: bool) {
    let (stream, at) = s.sync.board.with_untracked(|b| (b.stream.clone(), b.seq));
    if !again && s.resume_at.get() == Some(at) {
        return;
    }
    s.resume_at.set(Some(at));
    if let Some(ws) = s.ws.borrow().as_ref() {
        send(ws, &ClientMsg::Resume { stream: Some(stream), after_seq: at });
    }
}

fn handle(s: &Rc<Socket>, msg: ServerMsg) {
    match msg {
        ServerMsg::Event(ev) => {
            if s.sync.apply_event(ev) == Applied::Gap {
                resume(s, false);
            }
        }
        // Applied in one go: the board redraws once for the whole batch.
        ServerMsg::Events { events } => {
            let gaps = events.into_iter().map(|ev| s.sync.apply_event(ev)).filter(|a| *a == Applied::Gap).count();
            if gaps > 0 {
                resume(s, false);
            }
        }
        ServerMsg::Snapshot(Snapshot { stream, seq, leads }) => s.sync.board.set(BoardState::new(stream, seq, leads)),
        ServerMsg::Heartbeat { seq, now } => {
            s.sync.server_time(now);
            if seq > s.sync.board.with_untracked(|b| b.seq) {
                resume(s, true);
            }
        }
        ServerMsg::Presence { viewing, whole } => s.sync.presence(viewing, whole),
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
