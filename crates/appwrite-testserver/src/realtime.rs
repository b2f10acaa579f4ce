//! The Realtime websocket, following `app/realtime.php`: project and channels in the URL
//! query (`?project=P&channels[]=documents`), auth by cookie / `X-Appwrite-Session` /
//! `X-Appwrite-JWT` on the handshake or an `authentication` message. API keys are ignored:
//! a socket only ever has the rights of a user or a guest. From 1.9.0 the URL's channels form
//! one subscription with an ID, reported in `connected` and in each event's `subscriptions`;
//! from 1.9.5 a socket may connect without channels and `subscribe`/`unsubscribe` by
//! message (`src/Appwrite/Realtime/Message/Handlers/*.php`). The abuse limits refuse a 129th
//! connection per minute from one IP (error 1013, closed) and a 33rd message per minute on
//! one socket (error 1013; the socket stays open, as only 1008 closes it).

use std::net::SocketAddr;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{self, SignedIn};
use crate::errors::ApiError;
use crate::{params, AppState};

/// Appwrite's Realtime error codes (`app/config/errors.php`).
const POLICY_VIOLATION: u16 = 1008;
const MESSAGE_FORMAT_INVALID: u16 = 1003;
const TOO_MANY_MESSAGES: u16 = 1013;

/// An error sent as `{"type":"error","data":{"code","message"}}`.
struct SocketError {
    code: u16,
    message: String,
}

impl SocketError {
    fn new(code: u16, message: &str) -> Self {
        SocketError { code, message: message.to_owned() }
    }

    fn to_message(&self) -> Message {
        text(json!({"type": "error", "data": {"code": self.code, "message": self.message}}))
    }
}

impl From<ApiError> for SocketError {
    fn from(error: ApiError) -> Self {
        SocketError { code: error.type_and_status().1, message: error.to_string() }
    }
}

fn text(value: Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// One socket: its subscriptions, and the roles it held when (re)subscribing.
struct Subscription {
    /// Subscription ID and its channels, in subscription order. Before 1.9.0 there is one,
    /// whose ID is never shown.
    subscriptions: Vec<(String, Vec<String>)>,
    roles: Vec<String>,
    user: Option<SignedIn>,
    /// Key of this socket's message limit.
    socket_id: String,
}

impl Subscription {
    /// Every channel of every subscription, without repeats.
    fn channels(&self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for channel in self.subscriptions.iter().flat_map(|(_, channels)| channels) {
            if !all.contains(channel) {
                all.push(channel.clone());
            }
        }
        all
    }

    /// The IDs of the subscriptions an event reaches (`Realtime::getSubscribers`).
    fn matching(&self, event: &crate::events::Event) -> Vec<String> {
        if !event.roles.iter().any(|r| r == "any" || self.roles.contains(r)) {
            return vec![];
        }
        self.subscriptions
            .iter()
            .filter(|(_, channels)| event.channels.iter().any(|c| channels.contains(c)))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// `Realtime::convertChannels`: `account` also subscribes `account.<userId>`; any explicit
/// `account.*` channel is dropped.
fn convert_channels(requested: &[String], user: Option<&SignedIn>) -> Vec<String> {
    let mut channels: Vec<String> = Vec::new();
    for channel in requested.iter().filter(|c| !c.starts_with("account.")) {
        if !channels.contains(channel) {
            channels.push(channel.clone());
        }
    }
    if let (true, Some(user)) = (channels.iter().any(|c| c == "account"), user) {
        channels.push(format!("account.{}", user.user_id));
    }
    channels
}

fn roles(state: &AppState, user: Option<&SignedIn>) -> Vec<String> {
    auth::roles(&state.store.lock().expect("store lock"), user)
}

fn account_json(state: &AppState, user: Option<&SignedIn>) -> Value {
    let store = state.store.lock().expect("store lock");
    user.and_then(|u| store.users.get(&u.user_id)).map_or(Value::Null, |u| u.account_json())
}

pub async fn handler(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state, peer, query, headers))
}

/// The `onOpen` checks: project, abuse limit, handshake auth, channels.
fn open(
    state: &AppState,
    peer: SocketAddr,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Subscription, SocketError> {
    let project = params::single(query, "project").unwrap_or_default();
    if project != state.config.project {
        return Err(SocketError::new(POLICY_VIOLATION, "Missing or unknown project ID"));
    }
    let (connections, _) = state.faults.realtime_limits();
    if !state.time_limits.allow(&format!("ip:{}", peer.ip()), connections) {
        return Err(SocketError::new(TOO_MANY_MESSAGES, "Too many requests"));
    }
    let user = {
        let store = state.store.lock().expect("store lock");
        auth::resolve_user(&store, &project, headers)?
    };
    let channels = convert_channels(&params::list(query, "channels"), user.as_ref());
    if channels.is_empty() && !state.version.realtime_subscribe_messages() {
        return Err(SocketError::new(POLICY_VIOLATION, "Missing channels"));
    }
    let subscriptions = if channels.is_empty() { vec![] } else { vec![(crate::ids::unique(), channels)] };
    Ok(Subscription { roles: roles(state, user.as_ref()), subscriptions, user, socket_id: crate::ids::unique() })
}

/// `connected`: the channels, from 1.9.0 the subscription IDs, and the user.
fn connected(state: &AppState, sub: &Subscription) -> Value {
    let mut data = json!({"channels": sub.channels()});
    if state.version.realtime_subscriptions() {
        let ids: Vec<&str> = sub.subscriptions.iter().map(|(id, _)| id.as_str()).collect();
        data["subscriptions"] = json!(ids);
    }
    data["user"] = account_json(state, sub.user.as_ref());
    json!({"type": "connected", "data": data})
}

async fn serve(mut socket: WebSocket, state: AppState, peer: SocketAddr, query: Option<String>, headers: HeaderMap) {
    // Subscribe before anything else so no event published after the handshake is missed.
    let mut events = state.events.subscribe();
    let mut kill = state.faults.kill_signal();
    let mut sub = match open(&state, peer, query.as_deref(), &headers) {
        Ok(sub) => sub,
        Err(error) => {
            // Appwrite closes with the error code; HTTP-style codes are not valid close codes.
            let code = if error.code >= 1000 { error.code } else { POLICY_VIOLATION };
            let _ = socket.send(error.to_message()).await;
            let frame = CloseFrame { code, reason: Utf8Bytes::from(error.message) };
            let _ = socket.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    if socket.send(text(connected(&state, &sub))).await.is_err() {
        return;
    }
    loop {
        let outgoing = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(body))) => match on_message(&state, &mut sub, body.as_str()) {
                    Ok(reply) => reply,
                    Err(error) => {
                        let close = error.code == POLICY_VIOLATION;
                        if socket.send(error.to_message()).await.is_err() || close {
                            break;
                        }
                        continue;
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
            event = events.recv() => match event {
                Ok(event) => {
                    let matching = sub.matching(&event);
                    if matching.is_empty() || state.faults.lose_event() {
                        continue;
                    }
                    let subscriptions = state.version.realtime_subscriptions().then_some(matching.as_slice());
                    Message::Text(Utf8Bytes::from(event.message(subscriptions)))
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
            // Fault injection: vanish without a close frame, like a dropped connection.
            _ = kill.changed() => return,
        };
        if socket.send(outgoing).await.is_err() {
            break;
        }
    }
}

/// `onMessage`: the message limit, then `ping`, `authentication`, and from 1.9.5
/// `subscribe`/`unsubscribe`.
fn on_message(state: &AppState, sub: &mut Subscription, body: &str) -> Result<Message, SocketError> {
    let (_, messages) = state.faults.realtime_limits();
    if !state.time_limits.allow(&format!("connection:{}", sub.socket_id), messages) {
        return Err(SocketError::new(TOO_MANY_MESSAGES, "Too many messages."));
    }
    let format_error = |message: &str| SocketError::new(MESSAGE_FORMAT_INVALID, message);
    let message: Value = serde_json::from_str(body).map_err(|_| format_error("Message format is not valid."))?;
    if message.get("type").is_none() && message.get("data").is_none() {
        return Err(format_error("Message format is not valid."));
    }
    match message["type"].as_str() {
        // Before 1.6.1 `ping` is an unknown type: error 1003, which still proves the link alive.
        Some("ping") if state.version.answers_ping() => Ok(text(json!({"type": "pong"}))),
        Some("authentication") => {
            let session = message["data"]["session"].as_str().ok_or_else(|| format_error("Payload is not valid."))?;
            let user = {
                let store = state.store.lock().expect("store lock");
                auth::user_from_session(&store, session)
            }
            .ok_or_else(|| format_error("Session is not valid."))?;
            for (_, channels) in &mut sub.subscriptions {
                *channels = convert_channels(channels, Some(&user));
            }
            sub.roles = roles(state, Some(&user));
            sub.user = Some(user);
            Ok(text(json!({"type": "response", "data": {
                "to": "authentication",
                "success": true,
                "user": account_json(state, sub.user.as_ref()),
            }})))
        }
        Some("subscribe") if state.version.realtime_subscribe_messages() => subscribe(sub, &message["data"]),
        Some("unsubscribe") if state.version.realtime_subscribe_messages() => unsubscribe(sub, &message["data"]),
        _ => Err(format_error("Message type is not valid.")),
    }
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// `Handlers/Subscribe.php`: adds (or, for a known `subscriptionId`, replaces) subscriptions.
/// Queries are echoed but not applied: every event on the channels is delivered.
fn subscribe(sub: &mut Subscription, items: &Value) -> Result<Message, SocketError> {
    let invalid = || SocketError::new(MESSAGE_FORMAT_INVALID, "Payload is not valid.");
    let items = items.as_array().ok_or_else(invalid)?;
    let mut parsed = Vec::new();
    for item in items {
        let channels = strings(&item["channels"]).ok_or_else(invalid)?;
        let queries =
            if item.get("queries").is_some() { strings(&item["queries"]).ok_or_else(invalid)? } else { vec![] };
        let id = match item.get("subscriptionId") {
            None => crate::ids::unique(),
            Some(id) => id.as_str().filter(|id| crate::ids::is_valid(id)).ok_or_else(invalid)?.to_owned(),
        };
        parsed.push((id, convert_channels(&channels, sub.user.as_ref()), queries));
    }
    let mut answered = Vec::new();
    for (id, channels, queries) in parsed {
        answered.push(json!({"subscriptionId": id, "channels": channels, "queries": queries}));
        sub.subscriptions.retain(|(existing, _)| *existing != id);
        sub.subscriptions.push((id, channels));
    }
    Ok(text(json!({"type": "response", "data": {"to": "subscribe", "success": true, "subscriptions": answered}})))
}

/// `Handlers/Unsubscribe.php`: removes subscriptions by ID, saying which existed.
fn unsubscribe(sub: &mut Subscription, items: &Value) -> Result<Message, SocketError> {
    let invalid = || SocketError::new(MESSAGE_FORMAT_INVALID, "Payload is not valid.");
    let items = items.as_array().ok_or_else(invalid)?;
    let ids: Vec<String> = items
        .iter()
        .map(|item| item["subscriptionId"].as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    let answered: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let before = sub.subscriptions.len();
            sub.subscriptions.retain(|(existing, _)| *existing != id);
            json!({"subscriptionId": id, "removed": sub.subscriptions.len() < before})
        })
        .collect();
    Ok(text(json!({"type": "response", "data": {"to": "unsubscribe", "success": true, "subscriptions": answered}})))
}
