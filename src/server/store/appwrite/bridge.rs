//! The Realtime bridge: one task per app replica subscribed to the leads and attempts
//! collections, relaying Appwrite's document events to this replica's boards (through the
//! mirror, which turns them into board events and publishes them to the fan-out hub).
//!
//! - It signs in as the service user (an API key has no rights on the socket): the API key
//!   creates an email/password session for that user, whose secret is sent as the
//!   `a_session_<project>` cookie on the handshake and, if the server did not take it, in an
//!   `authentication` message.
//! - It speaks the project's Realtime form (`version`): channels in the URL up to 1.9.0, a
//!   `subscribe` message from 1.9.5.
//! - It sends `{"type":"ping"}` every 20 s (well under the 32 messages a minute a socket may
//!   send; before 1.6.1 the answer is error 1003, which proves the socket alive just as well) and
//!   reconnects with backoff when the socket drops or goes silent.
//! - Realtime has no replay: after every (re)connect it re-reads the leads through REST and
//!   emits whatever changed while it was away.

use super::client::{backoff, Call};
use super::docs::{parse_time, ATTEMPTS};
use super::mirror::Observed;
use super::version::AppwriteVersion;
use super::Core;
use crate::domain::{LeadId, Username};
use crate::server::metrics::BridgeMetrics;
use crate::server::now_ms;
use futures::{SinkExt, StreamExt};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const PING: Duration = Duration::from_secs(20);
/// No message at all (not even a pong) for this long: the socket is dead.
const SILENCE: Duration = Duration::from_secs(50);
const HANDSHAKE: Duration = Duration::from_secs(10);

enum Ended {
    /// The socket dropped or went silent: reconnect.
    Dropped(String),
    /// The session was refused: make a new one, then reconnect.
    BadSession(String),
}

/// Runs until the store is dropped (the task is aborted then), reporting its health to `metrics`.
pub(crate) async fn run(core: Arc<Core>, suspects: mpsc::UnboundedSender<LeadId>, metrics: Arc<BridgeMetrics>) {
    let mut session: Option<String> = None;
    let mut failures: u32 = 0;
    loop {
        if session.is_none() {
            match create_session(&core).await {
                Ok(s) => session = Some(s),
                Err(e) => tracing::warn!(error = %e, "realtime bridge: cannot sign in as the service user"),
            }
        }
        if let Some(secret) = session.clone() {
            let ended = connect_and_pump(&core, &secret, &suspects, &mut failures, &metrics).await;
            metrics.set_connected(false);
            match ended {
                Ended::Dropped(why) => tracing::info!(reason = %why, "realtime bridge: disconnected; reconnecting"),
                Ended::BadSession(why) => {
                    tracing::warn!(reason = %why, "realtime bridge: the session was refused; signing in again");
                    session = None;
                }
            }
        }
        metrics.reconnects.inc();
        failures = failures.saturating_add(1);
        // Backoff from 100 ms up to about 10 s, with jitter.
        let wait = backoff(failures.min(8)).max(Duration::from_millis(100)) * 5;
        tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
    }
}

/// Creates a session for the service user with the API key; returns its secret (the value of
/// the `a_session_<project>` cookie).
async fn create_session(core: &Core) -> Result<String, super::client::AwError> {
    let body = json!({"email": core.cfg.service_email, "password": core.cfg.service_password.expose_secret()});
    let res = core.api.send(Call::post("/account/sessions/email", body)).await?;
    res["secret"].as_str().filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| {
        super::client::AwError::Decode(
            "the session has no secret (is the API key's sessions.write scope granted?)".into(),
        )
    })
}

/// The Realtime message type that is the answer to a ping before 1.6.1.
const MESSAGE_TYPE_INVALID: u64 = 1003;

fn channels(core: &Core) -> [String; 2] {
    [core.leads.channel(), format!("databases.{}.collections.{ATTEMPTS}.documents", core.db)]
}

/// Up to 1.9.0 the channels go in the URL; from 1.9.5 the socket connects with the project
/// only and subscribes by message.
fn realtime_url(core: &Core, version: AppwriteVersion) -> String {
    let mut url = format!("{}?project={}", core.cfg.realtime_url(), core.cfg.project);
    if !version.subscribes_by_message() {
        for c in channels(core) {
            url.push_str(&format!("&channels%5B%5D={c}"));
        }
    }
    url
}

/// Waits for the answer to our `to` message (`authentication`, `subscribe`).
async fn answer<S>(ws: &mut S, to: &str) -> Result<(), Ended>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match next_json(ws, HANDSHAKE).await {
            Some(v) if v["type"] == "response" && v["data"]["to"] == to => {
                return if v["data"]["success"] == true {
                    Ok(())
                } else {
                    Err(Ended::BadSession(format!("{to} was not successful")))
                };
            }
            Some(v) if v["type"] == "error" => return Err(Ended::BadSession(v["data"]["message"].to_string())),
            Some(_) => continue, // an event may come before the answer; the re-read covers it
            None => return Err(Ended::Dropped(format!("no answer to {to}"))),
        }
    }
}

async fn connect_and_pump(
    core: &Core,
    secret: &str,
    suspects: &mpsc::UnboundedSender<LeadId>,
    failures: &mut u32,
    metrics: &BridgeMetrics,
) -> Ended {
    let version = match core.version().await {
        Ok(v) => v,
        Err(e) => return Ended::Dropped(format!("cannot read the Appwrite version: {e}")),
    };
    let mut req = match realtime_url(core, version).into_client_request() {
        Ok(r) => r,
        Err(e) => return Ended::Dropped(format!("bad realtime URL: {e}")),
    };
    let cookie = format!("a_session_{}={secret}", core.cfg.project);
    match cookie.parse() {
        Ok(v) => {
            req.headers_mut().insert("cookie", v);
        }
        Err(_) => return Ended::BadSession("the session secret is not a valid header".into()),
    }
    let mut ws = match tokio::time::timeout(HANDSHAKE, tokio_tungstenite::connect_async(req)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return Ended::Dropped(format!("connect: {e}")),
        Err(_) => return Ended::Dropped("connect timed out".into()),
    };
    // `connected` comes first; if it names no user, authenticate by message.
    let connected = match next_json(&mut ws, HANDSHAKE).await {
        Some(v) if v["type"] == "connected" => v,
        Some(v) if v["type"] == "error" => return Ended::Dropped(format!("refused: {}", v["data"]["message"])),
        other => return Ended::Dropped(format!("no connected message ({other:?})")),
    };
    if connected["data"]["user"].is_null() {
        let auth = json!({"type": "authentication", "data": {"session": secret}}).to_string();
        if ws.send(Message::text(auth)).await.is_err() {
            return Ended::Dropped("send failed".into());
        }
        if let Err(ended) = answer(&mut ws, "authentication").await {
            return ended;
        }
    }
    if version.subscribes_by_message() {
        let subscribe =
            json!({"type": "subscribe", "data": [{"subscriptionId": "leadboard", "channels": channels(core)}]});
        if ws.send(Message::text(subscribe.to_string())).await.is_err() {
            return Ended::Dropped("send failed".into());
        }
        if let Err(ended) = answer(&mut ws, "subscribe").await {
            return ended;
        }
    }
    tracing::info!(%version, channels = ?channels(core), "realtime bridge: connected");
    // Nothing sent while we were away is replayed: re-read everything.
    match core.list_leads().await {
        Ok(docs) => {
            for id in core.mirror.resync(&docs, now_ms()) {
                let _ = suspects.send(id);
            }
            *failures = 0;
            metrics.set_connected(true);
        }
        Err(e) => return Ended::Dropped(format!("re-read after connecting failed: {e}")),
    }
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    last_heard = tokio::time::Instant::now();
                    match serde_json::from_str::<Value>(&t) {
                        Ok(v) if v["type"] == "event" => {
                            observe_lag(metrics, &v["data"]);
                            on_event(core, &v["data"], suspects).await
                        }
                        Ok(v) if v["type"] == "error" => {
                            let code = v["data"]["code"].as_u64().unwrap_or(0);
                            let message = v["data"]["message"].as_str().unwrap_or_default().to_owned();
                            if message.to_lowercase().contains("session") {
                                return Ended::BadSession(message);
                            }
                            if code == MESSAGE_TYPE_INVALID && !version.answers_ping() {
                                continue; // the answer to our ping on this version
                            }
                            tracing::warn!(code, message, "realtime bridge: error message");
                        }
                        Ok(_) => {} // pong, response
                        Err(_) => tracing::warn!("realtime bridge: a message that is not JSON"),
                    }
                }
                Some(Ok(Message::Close(frame))) => return Ended::Dropped(format!("closed: {frame:?}")),
                Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                Some(Err(e)) => return Ended::Dropped(e.to_string()),
                None => return Ended::Dropped("the socket ended".into()),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE {
                    return Ended::Dropped("silent for too long".into());
                }
                if ws.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
                    return Ended::Dropped("ping failed".into());
                }
            }
        }
    }
}

async fn next_json<S>(ws: &mut S, wait: Duration) -> Option<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(wait, ws.next()).await.ok()??.ok()? {
            Message::Text(t) => return serde_json::from_str(&t).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Counts a Realtime event and how long after Appwrite's timestamp of it (the message's
/// `timestamp`, else the document's `$updatedAt`) it arrived. Clocks that disagree show up here
/// as lag (or as none, when Appwrite's runs ahead).
fn observe_lag(metrics: &BridgeMetrics, data: &Value) {
    metrics.events.inc();
    let stamp = data["timestamp"].as_str().or_else(|| data["payload"]["$updatedAt"].as_str());
    if let Some(at) = stamp.and_then(parse_time) {
        let lag_ms = u64::try_from(now_ms() - at).unwrap_or(0);
        metrics.lag.observe(Duration::from_millis(lag_ms));
    }
}

/// One Realtime event: a lead created/updated/deleted, or a claim attempt recorded.
async fn on_event(core: &Core, data: &Value, suspects: &mpsc::UnboundedSender<LeadId>) {
    let payload = &data["payload"];
    let events: Vec<&str> =
        data["events"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let [leads, attempts] = channels(core).map(|c| format!("{c}."));
    let is = |prefix: &str, action: &str| events.iter().any(|e| e.starts_with(prefix) && e.ends_with(action));
    let now = now_ms();
    if is(&leads, ".delete") {
        if let Ok(doc) = core.parse_lead(payload).await {
            core.mirror.remove(&doc.lead.id, Some(&doc.incarnation));
        }
    } else if is(&leads, ".create") || is(&leads, ".update") {
        match core.parse_lead(payload).await {
            Ok(doc) => {
                if core.mirror.observe(&doc, None, now) == Observed::Suspect {
                    tracing::info!(lead = %doc.lead.id, "realtime bridge: a lead changed without a new version (written outside Leadboard)");
                    let _ = suspects.send(doc.lead.id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "realtime bridge: a lead document Leadboard cannot read"),
        }
    } else if is(&attempts, ".create") && payload["outcome"] == "lost" {
        let user = |k: &str| payload[k].as_str().and_then(|s| Username::parse(s).ok());
        let lead = payload["lead_id"].as_str().and_then(|s| LeadId::parse(s).ok());
        if let (Some(id), Some(lead), Some(claimant), Some(winner)) =
            (payload["$id"].as_str(), lead, user("claimant"), user("winner"))
        {
            let margin = payload["margin_ms"].as_i64().unwrap_or(0);
            let at = payload["decided_at"].as_i64().unwrap_or(now);
            core.mirror.observe_lost(id, &lead, claimant, winner, margin, at);
        }
    }
}
