//! The Realtime websocket, following `app/realtime.php` of 1.5-1.8: project and channels in
//! the URL query (`?project=P&channels[]=documents`), auth by cookie / `X-Appwrite-Session` /
//! `X-Appwrite-JWT` on the handshake or an `authentication` message. API keys are ignored:
//! a socket only ever has the rights of a user or a guest.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
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

/// One subscriber: its channels and the roles it held when (re)subscribing.
struct Subscription {
    channels: Vec<String>,
    roles: Vec<String>,
    user: Option<SignedIn>,
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
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state, query, headers))
}

/// The `onOpen` checks: project, handshake auth, channels.
fn open(state: &AppState, query: Option<&str>, headers: &HeaderMap) -> Result<Subscription, SocketError> {
    let project = params::single(query, "project").unwrap_or_default();
    if project != state.config.project {
        return Err(SocketError::new(POLICY_VIOLATION, "Missing or unknown project ID"));
    }
    let user = {
        let store = state.store.lock().expect("store lock");
        auth::resolve_user(&store, &project, headers)?
    };
    let channels = convert_channels(&params::list(query, "channels"), user.as_ref());
    if channels.is_empty() {
        return Err(SocketError::new(POLICY_VIOLATION, "Missing channels"));
    }
    Ok(Subscription { roles: roles(state, user.as_ref()), channels, user })
}

async fn serve(mut socket: WebSocket, state: AppState, query: Option<String>, headers: HeaderMap) {
    // Subscribe before anything else so no event published after the handshake is missed.
    let mut events = state.events.subscribe();
    let mut kill = state.faults.kill_signal();
    let mut sub = match open(&state, query.as_deref(), &headers) {
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
    let connected = json!({"type": "connected", "data": {
        "channels": sub.channels,
        "user": account_json(&state, sub.user.as_ref()),
    }});
    if socket.send(text(connected)).await.is_err() {
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
                Ok(event) if event.is_for(&sub.channels, &sub.roles) && !state.faults.lose_event() => {
                    Message::Text(Utf8Bytes::from(event.message()))
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
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

/// `onMessage`: `ping` and `authentication`.
fn on_message(state: &AppState, sub: &mut Subscription, body: &str) -> Result<Message, SocketError> {
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
            sub.channels = convert_channels(&sub.channels, Some(&user));
            sub.roles = roles(state, Some(&user));
            sub.user = Some(user);
            Ok(text(json!({"type": "response", "data": {
                "to": "authentication",
                "success": true,
                "user": account_json(state, sub.user.as_ref()),
            }})))
        }
        _ => Err(format_error("Message type is not valid.")),
    }
}
