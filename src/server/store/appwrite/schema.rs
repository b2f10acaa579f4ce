//! `leadboard appwrite setup`: creates the database, collections, attributes, indexes and
//! permissions Leadboard needs, the service user the Realtime bridge signs in as, and the team
//! whose members are managers (accounts are Appwrite users: see `accounts`). Safe to run
//! any number of times: whatever exists already (409 `*_already_exists`) is left as it is.
//!
//! Permissions: only the service user may read `leads` and `attempts` (so its Realtime socket
//! gets their events); `claims` and `sessions` have no permissions at all, so only the
//! API key (the server) can touch them. Browsers never talk to Appwrite.

use super::client::{AwError, Call, Client};
use super::docs::{ATTEMPTS, CLAIMS, LEADS, SESSIONS};
use crate::server::config::AppwriteConfig;
use crate::server::store::StoreError;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::time::Duration;

enum Attr {
    Str { key: &'static str, size: u32, required: bool },
    Int { key: &'static str, required: bool, min: Option<i64> },
}

use Attr::{Int, Str};

struct Collection {
    id: &'static str,
    name: &'static str,
    /// Whether the service user may read it (and so receive its Realtime events).
    bridge_reads: bool,
    attrs: Vec<Attr>,
    /// (key, type, attributes)
    indexes: Vec<(&'static str, &'static str, Vec<&'static str>)>,
}

fn collections() -> Vec<Collection> {
    vec![
        Collection {
            id: LEADS,
            name: "Leads",
            bridge_reads: true,
            attrs: vec![
                Str { key: "name", size: 200, required: true },
                Str { key: "company", size: 200, required: true },
                Int { key: "value", required: true, min: Some(0) },
                Str { key: "assignee", size: 32, required: false },
                Int { key: "version", required: true, min: Some(1) },
                Int { key: "claimed_at", required: false, min: None },
                Str { key: "updated_by", size: 32, required: false },
                Str { key: "contact", size: 200, required: false },
                Str { key: "email", size: 254, required: false },
                Str { key: "phone", size: 32, required: false },
                Str { key: "source", size: 200, required: false },
                Str { key: "tags", size: 700, required: false },
                Int { key: "created_at", required: false, min: None },
            ],
            indexes: vec![("by_assignee", "key", vec!["assignee"])],
        },
        Collection {
            id: CLAIMS,
            name: "Claim documents (one per lead and version)",
            bridge_reads: false,
            attrs: vec![
                Str { key: "lead_id", size: 36, required: true },
                Int { key: "version", required: true, min: Some(1) },
                Str { key: "kind", size: 16, required: true },
                Str { key: "assignee", size: 32, required: false },
                Str { key: "actor", size: 32, required: true },
                Str { key: "request_id", size: 40, required: true },
                Int { key: "at", required: true, min: None },
            ],
            indexes: vec![("by_lead", "key", vec!["lead_id"])],
        },
        Collection {
            id: ATTEMPTS,
            name: "Claim attempts",
            bridge_reads: true,
            attrs: vec![
                Str { key: "lead_id", size: 36, required: true },
                Str { key: "claimant", size: 32, required: true },
                Str { key: "outcome", size: 16, required: true },
                Str { key: "winner", size: 32, required: false },
                Int { key: "margin_ms", required: false, min: None },
                Int { key: "received_at", required: true, min: None },
                Int { key: "decided_at", required: true, min: None },
            ],
            indexes: vec![("by_lead", "key", vec!["lead_id"])],
        },
        Collection {
            id: SESSIONS,
            name: "Leadboard sessions",
            bridge_reads: false,
            attrs: vec![
                Str { key: "token_hash", size: 64, required: true },
                Str { key: "username", size: 32, required: true },
                Int { key: "expires_at", required: true, min: None },
            ],
            indexes: vec![("by_username", "key", vec!["username"])],
        },
    ]
}

/// What `setup` did.
#[derive(Debug, Default)]
pub struct SetupReport {
    pub created: Vec<String>,
    pub existing: Vec<String>,
}

impl SetupReport {
    fn note(&mut self, what: String, result: Result<Value, AwError>) -> Result<(), StoreError> {
        match result {
            Ok(_) => {
                tracing::info!(what, "created");
                self.created.push(what);
                Ok(())
            }
            Err(e) if matches!(&e, AwError::Api { code: 409, kind, .. } if kind.ends_with("_already_exists")) => {
                tracing::debug!(what, "exists already");
                self.existing.push(what);
                Ok(())
            }
            Err(e) => Err(StoreError::Unavailable(format!("{what}: {e}"))),
        }
    }
}

/// Creates everything that is missing and waits until every attribute is `available`.
pub async fn setup(cfg: &AppwriteConfig) -> Result<SetupReport, StoreError> {
    let api = Client::new(cfg)?;
    let mut report = SetupReport::default();
    let db = cfg.database.as_str();

    let user = json!({
        "userId": cfg.service_user_id,
        "email": cfg.service_email,
        "password": cfg.service_password.expose_secret(),
        "name": "Leadboard realtime bridge",
    });
    report.note(format!("service user {}", cfg.service_user_id), api.send(Call::post("/users", user)).await)?;
    let team = json!({"teamId": cfg.managers_team, "name": "Leadboard managers", "roles": ["manager"]});
    report.note(format!("team {}", cfg.managers_team), api.send(Call::post("/teams", team)).await)?;
    report.note(
        format!("database {db}"),
        api.send(Call::post("/databases", json!({"databaseId": db, "name": "Leadboard"}))).await,
    )?;

    let bridge = format!("read(\"user:{}\")", cfg.service_user_id);
    for c in collections() {
        let permissions: Vec<&str> = if c.bridge_reads { vec![bridge.as_str()] } else { vec![] };
        let body = json!({"collectionId": c.id, "name": c.name, "permissions": permissions, "documentSecurity": false, "enabled": true});
        let base = format!("/databases/{db}/collections");
        report.note(format!("collection {}", c.id), api.send(Call::post(base.clone(), body)).await)?;
        let base = format!("{base}/{}", c.id);
        for a in &c.attrs {
            let (kind, key, body) = match a {
                Str { key, size, required } => {
                    ("string", *key, json!({"key": key, "size": size, "required": required}))
                }
                Int { key, required, min } => {
                    let mut b = json!({"key": key, "required": required});
                    if let Some(min) = min {
                        b["min"] = json!(min);
                    }
                    ("integer", *key, b)
                }
            };
            report.note(
                format!("attribute {}.{key}", c.id),
                api.send(Call::post(format!("{base}/attributes/{kind}"), body)).await,
            )?;
        }
        for a in &c.attrs {
            let key = match a {
                Str { key, .. } | Int { key, .. } => *key,
            };
            wait_available(&api, &format!("{base}/attributes/{key}"), &format!("{}.{key}", c.id)).await?;
        }
        for (key, kind, attrs) in &c.indexes {
            let body = json!({"key": key, "type": kind, "attributes": attrs});
            report
                .note(format!("index {}.{key}", c.id), api.send(Call::post(format!("{base}/indexes"), body)).await)?;
        }
    }
    Ok(report)
}

/// Appwrite creates attributes in the background (`processing`); indexes and documents need them
/// `available`.
async fn wait_available(api: &Client, path: &str, what: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let attr =
            api.send(Call::get(path)).await.map_err(|e| StoreError::Unavailable(format!("attribute {what}: {e}")))?;
        match attr["status"].as_str() {
            Some("available") => return Ok(()),
            Some("failed") | Some("stuck") => {
                return Err(StoreError::Internal(format!("attribute {what} is {}: {}", attr["status"], attr["error"])))
            }
            _ if tokio::time::Instant::now() > deadline => {
                return Err(StoreError::Unavailable(format!(
                    "attribute {what} is still {} after 2 minutes",
                    attr["status"]
                )))
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
