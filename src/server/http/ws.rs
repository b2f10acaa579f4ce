//! `GET /ws`: one task per connected board. It catches the board up from the sequence it last saw
//! (events, or a snapshot when too far behind), then relays live events, skipping any it already
//! sent, so the board sees every event exactly once and in order.

use super::deadline::WriteDeadline;
use super::ConnSlot;
use crate::domain::UserInfo;
use crate::error::ApiError;
use crate::protocol::{ClientMsg, Close, ServerMsg};
use crate::server::fanout::{Frame, Kick};
use crate::server::metrics::{Metrics, SnapshotReason};
use crate::server::{auth, now_ms, store::LeadStore, AppState};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// More missed events than this and a snapshot is cheaper.
const MAX_CATCH_UP: usize = 1000;
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a new connection may take to say where it wants to resume from.
const RESUME_WAIT: Duration = Duration::from_secs(5);
const MAX_FRAME: usize = 4 * 1024;
const READ_BUFFER: usize = 1024;
/// A board sends a message on (re)connecting and after a gap; more than this is a script.
const MAX_MESSAGES: u32 = 30;
const MESSAGE_WINDOW: Duration = Duration::from_secs(10);
/// How long a board may take to accept the closing frame at shutdown.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// How long a write to a board may wait for room before the board is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const UNREADABLE: &str = "unreadable or oversized message (4 KiB at most)";
const TOO_MANY_SNAPSHOTS: &str = "too many snapshots asked for; reconnect later";

pub async fn handler(ws: WebSocketUpgrade, State(state): State<AppState>, request: Parts) -> Response {
    let headers = request.headers;
    if let Err(e) = crate::server::security::check_same_origin(&headers) {
        return e.into_response();
    }
    if state.hub.is_closing() {
        return ApiError::Unavailable("the server is restarting".into()).into_response();
    }
    let user = match auth::user_from_headers(&state, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => return ApiError::Unauthorized("sign in first".into()).into_response(),
        Err(e) => return e.into_response(),
    };
    let client = state.limits.clients.client_key(auth::peer_of(&request.extensions), &headers);
    let place = match state.limits.boards.admit(&user.username, &client) {
        // The connection's slot goes with the board: an open board counts as a connection.
        Ok(ticket) => (ticket, request.extensions.get::<ConnSlot>().cloned()),
        Err(e) => return e.into_response(),
    };
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        // Tungstenite zero-fills as much of its read buffer as it may read (128 KiB by
        // default) every time the socket is polled, and a board's socket is polled after
        // every event it is sent: with 10,000 boards that is cold memory each time. Boards
        // send a few small messages; a larger one (up to 4 KiB) just takes several reads.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let _place = place;
            serve_board(socket, state, user, headers).await;
        })
}

fn close(code: Close, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code: code.code(), reason: reason.into() }))
}

/// Counts a connection's messages in fixed windows.
struct Budget {
    started: tokio::time::Instant,
    used: u32,
}

impl Budget {
    fn spend(&mut self) -> bool {
        if self.started.elapsed() >= MESSAGE_WINDOW {
            *self = Budget { started: tokio::time::Instant::now(), used: 0 };
        }
        self.used += 1;
        self.used <= MAX_MESSAGES
    }
}

/// One board's connection, until it ends. The relay runs until the board leaves, is closed, or
/// the server shuts down; then a board is told to reconnect (close 1012). A relay stuck writing
/// to a board that stopped reading is dropped at shutdown all the same.
async fn serve_board(socket: WebSocket, state: AppState, user: UserInfo, headers: HeaderMap) {
    let hub = state.hub.clone();
    let _connected = hub.connected();
    let (tx, mut rx) = socket.split();
    let mut tx = WriteDeadline::new(tx, WRITE_TIMEOUT);
    tracing::debug!(user = %user.username, "board connected");
    let restart = tokio::select! {
        biased;
        () = hub.closed() => true,
        () = relay(&mut tx, &mut rx, &state, &user, &headers) => false,
    };
    if restart {
        hub.metrics().boards_restarted.inc();
        let _ = tokio::time::timeout(CLOSE_WAIT, tx.send(close(Close::Restart, "service restart"))).await;
    }
    // Read on until the board's closing reply: a socket dropped with unread data is reset by the
    // kernel, and the board would lose the close frame (and its reason) that was just sent.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(msg)) = rx.next().await {
            if let Message::Close(_) = msg {
                break;
            }
        }
    })
    .await;
    tracing::debug!(user = %user.username, restart, "board disconnected");
}

/// Catches the board up and relays live events. `headers` carry the session, which is checked
/// again at every heartbeat: a session ended on another replica (or by expiry) closes the board
/// within one heartbeat.
async fn relay<S, R>(tx: &mut S, rx: &mut R, state: &AppState, user: &UserInfo, headers: &HeaderMap)
where
    S: futures::Sink<Message> + Unpin,
    R: futures::Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let metrics = state.hub.metrics();
    // Subscribe before reading the backlog, so nothing falls between the two.
    let mut live = state.hub.subscribe();
    let mut kicks = state.hub.kicks();
    let mut place = state.hub.presence().join(user.username.clone());
    let session = auth::session_of(state, headers);
    let mut budget = Budget { started: tokio::time::Instant::now(), used: 0 };
    let board = Board { store: &*state.leads, metrics, state, user };

    let first = tokio::time::timeout(RESUME_WAIT, rx.next()).await.ok().flatten();
    let after = match first {
        Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMsg>(&t) {
            Ok(resume @ ClientMsg::Resume { .. }) => resume_point(&*state.leads, resume),
            Ok(ClientMsg::Viewing { .. }) => {
                let _ = tx.send(error_frame("resume first".into())).await;
                None
            }
            Err(e) => {
                let _ = tx.send(error_frame(format!("bad message: {e}"))).await;
                None
            }
        },
        Some(Ok(Message::Close(_))) | None => return,
        Some(Err(_)) => {
            unreadable(tx).await;
            return;
        }
        _ => None,
    };
    let mut last = match board.catch_up(tx, after).await {
        Ok(seq) => seq,
        Err(Stop::TooManySnapshots) => return board.refuse(tx, TOO_MANY_SNAPSHOTS).await,
        Err(Stop::Broken) => {
            let _ = tx.send(close(Close::Unavailable, "cannot read the board; reconnect later")).await;
            return;
        }
    };

    // Who looks at what, if anyone does: nothing to send while nobody looks.
    let everyone = state.hub.presence().everyone();
    if matches!(&everyone, ServerMsg::Presence { viewing, .. } if !viewing.is_empty())
        && tx.send(text(&everyone)).await.is_err()
    {
        return;
    }

    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    // A board that was stuck writing checks its session once, not once per missed beat.
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    loop {
        let sent = tokio::select! {
            frame = live.recv() => match frame {
                // Events already waiting behind this one go out in the same write; the last
                // of a burst flushes. A board that fell behind catches up in few syscalls.
                Ok(Frame { seq, json }) if seq > last => {
                    last = seq;
                    let msg = event_text(json);
                    let sent = if live.is_empty() { tx.send(msg).await } else { tx.feed(msg).await }.map_err(drop);
                    if sent.is_ok() {
                        metrics.event_deliveries.inc();
                    }
                    sent
                }
                Ok(_) if live.is_empty() => tx.flush().await.map_err(drop),
                Ok(_) => Ok(()),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(user = %user.username, missed, "board fell behind; sending a snapshot");
                    metrics.events_dropped.add(missed);
                    board.snapshot(tx, SnapshotReason::Lagged).await.map(|seq| last = seq).map_err(drop)
                }
                Err(RecvError::Closed) => break,
            },
            update = place.updates.recv() => match update {
                Ok(json) => tx.send(event_text(json)).await.map_err(drop),
                // Updates missed: the whole picture replaces them.
                Err(RecvError::Lagged(_)) => tx.send(text(&state.hub.presence().everyone())).await.map_err(drop),
                Err(RecvError::Closed) => break,
            },
            kicked = kicks.recv() => {
                let ours = match kicked {
                    Ok(Kick::Account(name)) => name == user.username,
                    Ok(Kick::Session(hash)) => session.as_deref() == Some(hash.as_str()),
                    // Kicks missed in a burst may have included ours: ask the store.
                    Err(RecvError::Lagged(_)) => matches!(auth::user_from_headers(state, headers).await, Ok(None)),
                    Err(RecvError::Closed) => break,
                };
                if ours {
                    let _ = tx.send(close(Close::SignedOut, "signed out")).await;
                    break;
                }
                Ok(())
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(_) | Message::Binary(_))) if !budget.spend() => {
                    let _ = tx.send(error_frame("too many messages; reconnect later".into())).await;
                    board.refuse(tx, "too many messages").await;
                    break;
                }
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMsg>(&t) {
                    Ok(ClientMsg::Viewing { lead }) => {
                        place.look_at(lead);
                        Ok(())
                    }
                    Ok(resume @ ClientMsg::Resume { .. }) => {
                        let from = resume_point(&*state.leads, resume);
                        match board.catch_up(tx, from).await {
                            Ok(seq) => {
                                last = last.max(seq);
                                Ok(())
                            }
                            Err(Stop::TooManySnapshots) => {
                                board.refuse(tx, TOO_MANY_SNAPSHOTS).await;
                                break;
                            }
                            Err(Stop::Broken) => Err(()),
                        }
                    }
                    Err(e) => tx.send(error_frame(format!("bad message: {e}"))).await.map_err(drop),
                },
                Some(Ok(Message::Binary(_))) => tx.send(error_frame("binary messages are not accepted".into())).await.map_err(drop),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Err(_)) => {
                    unreadable(tx).await;
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
            },
            _ = heartbeat.tick() => {
                if matches!(auth::user_from_headers(state, headers).await, Ok(None)) {
                    let _ = tx.send(close(Close::SignedOut, "signed out")).await;
                    break;
                }
                tx.send(text(&ServerMsg::Heartbeat { seq: last, now: now_ms() })).await.map_err(drop)
            }
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Where a board wants to resume from, if that point is in this store's stream.
fn resume_point(store: &dyn LeadStore, msg: ClientMsg) -> Option<u64> {
    match msg {
        ClientMsg::Resume { stream: Some(s), .. } if s != store.stream() => None,
        ClientMsg::Resume { after_seq, .. } => Some(after_seq),
        ClientMsg::Viewing { .. } => None,
    }
}

/// Tells a board whose message could not be read (too large, not UTF-8, not a websocket frame)
/// why it is being closed. Not a penalty: a board that just went away (reset) ends here too.
async fn unreadable<S: futures::Sink<Message> + Unpin>(tx: &mut S) {
    let _ = tx.send(close(Close::Policy, UNREADABLE)).await;
}

fn error_frame(message: String) -> Message {
    text(&ServerMsg::Error { message })
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("board messages always serialise").into())
}

/// A message the hub serialised once for every board (serde_json writes only UTF-8).
fn event_text(json: bytes::Bytes) -> Message {
    Message::Text(Utf8Bytes::try_from(json).expect("the hub's frames are JSON text"))
}

/// Why a board's catch-up stopped.
enum Stop {
    /// The socket or the store failed.
    Broken,
    /// The board's user asked for more snapshots than `snapshots_per_minute`.
    TooManySnapshots,
}

/// One board's view of the server: the store it reads, and whose board it is.
struct Board<'a> {
    store: &'a dyn LeadStore,
    metrics: &'a Metrics,
    state: &'a AppState,
    user: &'a UserInfo,
}

impl Board<'_> {
    /// Closes the board for misbehaving (1008, with `why`: flooding, too many snapshots); its
    /// user must wait before opening another (`security::limits::BOARD_PENALTY`), so a script that reconnects at once gets 429s.
    async fn refuse<S: futures::Sink<Message> + Unpin>(&self, tx: &mut S, why: &'static str) {
        self.state.limits.boards.penalize(&self.user.username);
        tracing::info!(user = %self.user.username, why, "board closed for misbehaving");
        let _ = tx.send(close(Close::Policy, why)).await;
    }

    /// Sends what the board missed after `after` (or a snapshot when `after` is None or too far
    /// back, within the user's snapshot allowance). Returns the last sequence sent.
    async fn catch_up<S>(&self, tx: &mut S, after: Option<u64>) -> Result<u64, Stop>
    where
        S: futures::Sink<Message> + Unpin,
    {
        if let Some(after) = after {
            let store = self.store;
            match store.events_after(after, MAX_CATCH_UP + 1).await {
                // A board ahead of the store (say, the database was replaced) must start over.
                Ok(Some(events))
                    if events.is_empty() && store.latest_seq().await.is_ok_and(|latest| after > latest) => {}
                Ok(Some(events)) if events.len() <= MAX_CATCH_UP => {
                    let mut last = after;
                    for ev in events {
                        last = ev.seq;
                        tx.send(text(&ServerMsg::Event(ev))).await.map_err(|_| Stop::Broken)?;
                        self.metrics.event_deliveries.inc();
                    }
                    return Ok(last);
                }
                Ok(_) => {} // too far behind, or no longer replayable
                Err(e) => tracing::warn!(error = %e, "cannot read missed events; sending a snapshot"),
            }
        }
        if !self.state.limits.boards.take_snapshot(&self.user.username) {
            return Err(Stop::TooManySnapshots);
        }
        self.snapshot(tx, SnapshotReason::Resume).await
    }

    /// Sends the whole board, counting it under `reason` once sent; returns the sequence it reflects.
    async fn snapshot<S>(&self, tx: &mut S, reason: SnapshotReason) -> Result<u64, Stop>
    where
        S: futures::Sink<Message> + Unpin,
    {
        let snap = self.store.snapshot().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read a snapshot");
            Stop::Broken
        })?;
        let seq = snap.seq;
        tx.send(text(&ServerMsg::Snapshot(snap))).await.map_err(|_| Stop::Broken)?;
        self.metrics.snapshot_sent(reason);
        Ok(seq)
    }
}
