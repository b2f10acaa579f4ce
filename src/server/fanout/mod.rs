//! Where events fan out: every committed event is serialised once and broadcast to every
//! connected board's task (the websocket itself is the HTTP layer's, `http::ws`); so is who is
//! looking at which lead (`presence`).

mod presence;

use super::metrics::Metrics;
use super::store::EventSink;
use crate::domain::{BoardEvent, Username};
use crate::protocol::ServerMsg;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, watch, Notify};

/// Events buffered for boards that are momentarily slow. A board further behind than this gets a
/// snapshot instead, so a stalled board costs bounded memory: the buffer is a ring that the
/// newest event overwrites, whoever has not read the oldest.
pub const BUFFER: usize = 4096;

/// An event ready to send: its sequence and its JSON text, shared by all boards.
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    /// UTF-8 JSON, serialised once for every board.
    pub json: Bytes,
}

/// Boards that must close now.
#[derive(Clone, Debug)]
pub enum Kick {
    /// Every board of an account (disabled, or its password changed).
    Account(Username),
    /// The boards of one session (signed out), by the hash of its token.
    Session(String),
}

pub struct Hub {
    tx: broadcast::Sender<Frame>,
    kicked: broadcast::Sender<Kick>,
    boards: AtomicUsize,
    /// Woken when the last board disconnects.
    idle: Notify,
    /// Set once the server is shutting down: every board is told to reconnect elsewhere.
    closing: watch::Sender<bool>,
    presence: presence::Presence,
    metrics: Arc<Metrics>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with metrics of its own.
    pub fn new() -> Self {
        Self::with_metrics(Arc::new(Metrics::new(false)))
    }

    pub fn with_metrics(metrics: Arc<Metrics>) -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            kicked: broadcast::channel(64).0,
            boards: AtomicUsize::new(0),
            idle: Notify::new(),
            closing: watch::channel(false).0,
            presence: presence::Presence::default(),
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Who looks at which lead on this replica.
    pub fn presence(&self) -> &presence::Presence {
        &self.presence
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Closes every board `user` has open on this replica.
    pub fn kick(&self, user: &Username) {
        let _ = self.kicked.send(Kick::Account(user.clone()));
    }

    /// Closes the boards opened with the session whose token hashes to `session`.
    pub fn end_session(&self, session: &str) {
        let _ = self.kicked.send(Kick::Session(session.to_owned()));
    }

    pub fn kicks(&self) -> broadcast::Receiver<Kick> {
        self.kicked.subscribe()
    }

    /// Boards connected right now.
    pub fn boards(&self) -> usize {
        self.boards.load(Ordering::Relaxed)
    }

    /// Events held in the buffer for the slowest board (at most [`BUFFER`]).
    pub fn buffered(&self) -> usize {
        self.tx.len()
    }

    /// Starts shutting down: every open board is closed with 1012 ("service restart", so the
    /// browser reconnects) and new boards are refused.
    pub fn shut_down(&self) {
        self.closing.send_replace(true);
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Resolves once [`Hub::shut_down`] has been called.
    pub(crate) async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }

    /// Resolves when no board is connected.
    pub async fn all_boards_gone(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.boards() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Counts a board for as long as the returned guard lives.
    pub(crate) fn connected(&self) -> BoardGuard<'_> {
        self.boards.fetch_add(1, Ordering::Relaxed);
        self.metrics.board_connections.inc();
        BoardGuard(self)
    }
}

pub(crate) struct BoardGuard<'a>(&'a Hub);

impl Drop for BoardGuard<'_> {
    fn drop(&mut self) {
        if self.0.boards.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Serialises a message for the wire.
pub fn frame(msg: &ServerMsg) -> Bytes {
    serde_json::to_vec(msg).expect("board messages always serialise").into()
}

impl EventSink for Hub {
    fn publish(&self, event: &BoardEvent) {
        self.publish_all(std::slice::from_ref(event));
    }

    /// One frame for events committed together, numbered by the last: a board task sends it
    /// whole (a board ignores events it already has), and an import of thousands of leads takes
    /// a few places in the buffer, not thousands.
    fn publish_all(&self, events: &[BoardEvent]) {
        let (msg, seq) = match events {
            [] => return,
            [one] => (ServerMsg::Event(one.clone()), one.seq),
            [.., last] => (ServerMsg::Events { events: events.to_vec() }, last.seq),
        };
        self.metrics.events_published.add(events.len() as u64);
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(Frame { seq, json: frame(&msg) });
    }
}
