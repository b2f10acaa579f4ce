//! Where events fan out: every committed event is serialised once and broadcast to every
//! connected board's websocket task (`ws`).

pub mod ws;

use super::store::EventSink;
use crate::domain::{BoardEvent, ServerMsg, Username};
use axum::extract::ws::Utf8Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::broadcast;

/// Events buffered for boards that are momentarily slow. A board further behind than this gets a
/// snapshot instead, so a stalled board costs bounded memory.
const BUFFER: usize = 4096;

/// An event ready to send: its sequence and its JSON text, shared by all boards.
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    pub json: Utf8Bytes,
}

pub struct Hub {
    tx: broadcast::Sender<Frame>,
    /// Accounts whose boards must close now (disabled, or their password reset).
    kicked: broadcast::Sender<Username>,
    boards: AtomicUsize,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        Self { tx: broadcast::channel(BUFFER).0, kicked: broadcast::channel(64).0, boards: AtomicUsize::new(0) }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Closes every board `user` has open on this replica.
    pub fn kick(&self, user: &Username) {
        let _ = self.kicked.send(user.clone());
    }

    pub fn kicks(&self) -> broadcast::Receiver<Username> {
        self.kicked.subscribe()
    }

    /// Boards connected right now.
    pub fn boards(&self) -> usize {
        self.boards.load(Ordering::Relaxed)
    }
}

/// Serialises a message for the wire.
pub fn frame(msg: &ServerMsg) -> Utf8Bytes {
    serde_json::to_string(msg).expect("board messages always serialise").into()
}

impl EventSink for Hub {
    fn publish(&self, event: &BoardEvent) {
        let frame = Frame { seq: event.seq, json: frame(&ServerMsg::Event(event.clone())) };
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(frame);
    }
}
