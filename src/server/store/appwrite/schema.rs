//! `leadboard appwrite setup [--dry-run]`: creates what Leadboard needs and is missing: the
//! database, its own collections (`claims`, `attempts`, `sessions`, and the intake API's
//! `api_tokens`, `api_revocations`, `api_requests`), the leads collection unless
//! it exists, the service user the Realtime bridge signs in as, and the team whose members are
//! managers (accounts are Appwrite users: see `accounts`). It looks first and then creates, so
//! `--dry-run` can say what it would do; running it again changes nothing.
//!
//! A leads collection that exists (a team's own, named in `[store.appwrite.leads]`) is never
//! changed beyond adding what Leadboard keeps on each lead (its optional `version`,
//! `claimed_at`, `updated_by`, `incarnation`, lease, outcome and `last_change` attributes, and the
//! lead details the collection has no attribute for) and indexes it queries by. Nothing is dropped, renamed or retyped; a
//! mapped attribute that is missing, or any attribute of the wrong type, is an error, and missing
//! read access for the service user is reported with the fix.
//!
//! Permissions of the collections setup creates: only the service user may read the leads and
//! `attempts` (so its Realtime socket gets their events); the others have none at all, so only
//! the API key (the server) can touch them. Browsers never talk to Appwrite.

use super::client::{AwError, Call, Client};
use super::docs::{ATTEMPTS, CLAIMS, SESSIONS};
use super::tokens::{API_REQUESTS, API_REVOCATIONS, API_TOKENS};
use crate::server::config::{AppwriteConfig, LeadsMapping, OptionalField};
use crate::server::store::StoreError;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Clone)]
enum Attr {
    Str { key: String, size: u32, required: bool },
    Int { key: String, required: bool, min: Option<i64> },
}

impl Attr {
    fn str(key: &str, size: u32, required: bool) -> Self {
        Attr::Str { key: key.into(), size, required }
    }

    fn int(key: &str, required: bool, min: Option<i64>) -> Self {
        Attr::Int { key: key.into(), required, min }
    }

    fn key(&self) -> &str {
        match self {
            Attr::Str { key, .. } | Attr::Int { key, .. } => key,
        }
    }

    /// Added to a collection that has documents already: those have no value for it.
    fn optional(self) -> Self {
        match self {
            Attr::Str { key, size, .. } => Attr::Str { key, size, required: false },
            Attr::Int { key, min, .. } => Attr::Int { key, required: false, min },
        }
    }

    fn create(&self) -> (&'static str, Value) {
        match self {
            Attr::Str { key, size, required } => ("string", json!({"key": key, "size": size, "required": required})),
            Attr::Int { key, required, min } => {
                let mut b = json!({"key": key, "required": required});
                if let Some(min) = min {
                    b["min"] = json!(min);
                }
                ("integer", b)
            }
        }
    }
}

struct Index {
    key: String,
    kind: &'static str,
    attrs: Vec<String>,
}

fn index(key: &str, kind: &'static str, attrs: &[&str]) -> Index {
    Index { key: key.into(), kind, attrs: attrs.iter().map(|a| (*a).to_owned()).collect() }
}

struct Collection {
    db: String,
    id: String,
    name: &'static str,
    /// Whether the service user may read it (and so receive its Realtime events).
    bridge_reads: bool,
    attrs: Vec<Attr>,
    /// Of `attrs`, the ones that hold the team's data when the collection exists already: they
    /// must be there (unless optional), and are never added.
    mapped: Vec<(Attr, bool)>,
    indexes: Vec<Index>,
}

/// The leads collection as the mapping names it: the team's fields, then Leadboard's own.
fn leads_collection(cfg: &AppwriteConfig) -> Collection {
    let m: &LeadsMapping = &cfg.leads;
    let mut mapped = Vec::new();
    if !m.id_is_document_id() {
        mapped.push((Attr::str(&m.id, 36, true), false));
    }
    mapped.push((Attr::str(&m.name, 200, !m.is_optional(OptionalField::Name)), m.is_optional(OptionalField::Name)));
    let company_optional = m.is_optional(OptionalField::Company);
    mapped.push((Attr::str(&m.company, 200, !company_optional), company_optional));
    let value_optional = m.is_optional(OptionalField::Value);
    mapped.push((Attr::int(&m.value, !value_optional, Some(0)), value_optional));
    mapped.push((Attr::str(&m.assignee, 320, false), false));
    let own = vec![
        Attr::int(&m.version, false, Some(1)),
        Attr::int(&m.claimed_at, false, None),
        Attr::str(&m.updated_by, 32, false),
        Attr::str(&m.incarnation, 40, false),
        Attr::int(&m.lease_until, false, None),
        Attr::int(&m.extensions, false, Some(0)),
        Attr::str(&m.outcome, 16, false),
        Attr::str(&m.outcome_note, 500, false),
        Attr::str(&m.last_change, 16, false),
        // The details: the team's attributes when it has them, else added like Leadboard's own.
        Attr::str(&m.contact, 200, false),
        Attr::str(&m.email, 254, false),
        Attr::str(&m.phone, 32, false),
        Attr::str(&m.source, 200, false),
        Attr::str(&m.tags, 700, false),
        Attr::int(&m.created_at, false, None),
    ];
    let mut indexes = vec![index("by_assignee", "key", &[m.assignee.as_str()])];
    if !m.id_is_document_id() {
        indexes.push(index("by_lead_id", "unique", &[m.id.as_str()]));
    }
    Collection {
        db: cfg.leads_database().to_owned(),
        id: m.collection.clone(),
        name: "Leads",
        bridge_reads: true,
        attrs: mapped.iter().map(|(a, _)| a.clone()).chain(own).collect(),
        mapped,
        indexes,
    }
}

fn collections(cfg: &AppwriteConfig) -> Vec<Collection> {
    let own = |id: &str, name, bridge_reads, attrs, indexes| Collection {
        db: cfg.database.clone(),
        id: id.into(),
        name,
        bridge_reads,
        attrs,
        mapped: Vec::new(),
        indexes,
    };
    vec![
        leads_collection(cfg),
        own(
            CLAIMS,
            "Claim documents (one per lead, incarnation and version)",
            false,
            vec![
                Attr::str("lead_id", 36, true),
                Attr::int("version", true, Some(1)),
                Attr::str("kind", 16, true),
                Attr::str("assignee", 32, false),
                Attr::str("actor", 32, true),
                Attr::str("request_id", 40, true),
                Attr::int("at", true, None),
                Attr::str("incarnation", 40, false),
                Attr::int("claimed_at", false, None),
                Attr::int("lease_until", false, None),
                Attr::int("extensions", false, Some(0)),
                Attr::str("outcome", 16, false),
                Attr::str("note", 500, false),
            ],
            vec![index("by_lead", "key", &["lead_id"])],
        ),
        own(
            ATTEMPTS,
            "Claim attempts",
            true,
            vec![
                Attr::str("lead_id", 36, true),
                Attr::str("claimant", 32, true),
                Attr::str("outcome", 16, true),
                Attr::str("winner", 32, false),
                Attr::int("margin_ms", false, None),
                Attr::int("received_at", true, None),
                Attr::int("decided_at", true, None),
            ],
            // by_decided_at: pruning reads the oldest.
            vec![index("by_lead", "key", &["lead_id"]), index("by_decided_at", "key", &["decided_at"])],
        ),
        own(
            SESSIONS,
            "Leadboard sessions",
            false,
            vec![
                Attr::str("token_hash", 64, true),
                Attr::str("username", 32, true),
                Attr::int("expires_at", true, None),
            ],
            vec![index("by_username", "key", &["username"]), index("by_expires_at", "key", &["expires_at"])],
        ),
        own(
            API_TOKENS,
            "Intake API tokens (hashes of their secrets)",
            false,
            vec![
                Attr::str("name", 64, true),
                Attr::str("token_hash", 64, true),
                Attr::str("created_by", 32, true),
                Attr::int("created_at", true, None),
                Attr::int("last_used_at", false, None),
            ],
            vec![index("by_token_hash", "unique", &["token_hash"])],
        ),
        own(
            API_REVOCATIONS,
            "Revoked intake API tokens (one per token)",
            false,
            vec![Attr::int("revoked_at", true, None)],
            Vec::new(),
        ),
        own(
            API_REQUESTS,
            "The first intake request per token and Idempotency-Key",
            false,
            vec![Attr::str("token_id", 16, true), Attr::str("fingerprint", 64, true), Attr::int("at", true, None)],
            vec![index("by_at", "key", &["at"])],
        ),
    ]
}

/// What `setup` did (or, with `--dry-run`, would do).
#[derive(Debug, Default)]
pub struct SetupReport {
    pub dry_run: bool,
    /// Created, or to be created.
    pub created: Vec<String>,
    pub existing: Vec<String>,
    /// Things setup will not change but someone should look at.
    pub notes: Vec<String>,
}

struct Setup<'a> {
    api: Client,
    cfg: &'a AppwriteConfig,
    report: SetupReport,
}

/// Whether a GET finds it.
async fn exists(api: &Client, path: &str, what: &str) -> Result<Option<Value>, StoreError> {
    match api.send(Call::get(path)).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(StoreError::Unavailable(format!("{what}: {e}"))),
    }
}

impl Setup<'_> {
    /// Creates `what` with `call` unless it exists (or records the plan, in a dry run).
    async fn ensure(&mut self, what: String, present: bool, call: Call<'_>) -> Result<bool, StoreError> {
        if present {
            self.report.existing.push(what);
            return Ok(false);
        }
        if self.report.dry_run {
            self.report.created.push(what);
            return Ok(true);
        }
        match self.api.send(call).await {
            Ok(_) => {
                tracing::info!(what, "created");
                self.report.created.push(what);
                Ok(true)
            }
            // Another setup running at once.
            Err(e) if matches!(&e, AwError::Api { code: 409, kind, .. } if kind.ends_with("_already_exists")) => {
                self.report.existing.push(what);
                Ok(false)
            }
            Err(e) => Err(StoreError::Unavailable(format!("{what}: {e}"))),
        }
    }

    async fn principals(&mut self) -> Result<(), StoreError> {
        let cfg = self.cfg;
        let user = json!({
            "userId": cfg.service_user_id,
            "email": cfg.service_email,
            "password": cfg.service_password.expose_secret(),
            "name": "Leadboard realtime bridge",
        });
        let present = exists(&self.api, &format!("/users/{}", cfg.service_user_id), "service user").await?.is_some();
        self.ensure(format!("service user {}", cfg.service_user_id), present, Call::post("/users", user)).await?;
        let team = json!({"teamId": cfg.managers_team, "name": "Leadboard managers", "roles": ["manager"]});
        let present = exists(&self.api, &format!("/teams/{}", cfg.managers_team), "team").await?.is_some();
        self.ensure(format!("team {}", cfg.managers_team), present, Call::post("/teams", team)).await?;
        Ok(())
    }

    async fn database(&mut self, db: &str) -> Result<(), StoreError> {
        let present = exists(&self.api, &format!("/databases/{db}"), "database").await?.is_some();
        let body = json!({"databaseId": db, "name": "Leadboard"});
        self.ensure(format!("database {db}"), present, Call::post("/databases", body)).await?;
        Ok(())
    }

    async fn collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        let base = format!("/databases/{}/collections", c.db);
        let path = format!("{base}/{}", c.id);
        let found = exists(&self.api, &path, "collection").await?;
        let adopted = found.is_some() && !c.mapped.is_empty();
        let bridge = format!("read(\"user:{}\")", self.cfg.service_user_id);
        let permissions: Vec<&str> = if c.bridge_reads { vec![bridge.as_str()] } else { vec![] };
        let body = json!({"collectionId": c.id, "name": c.name, "permissions": permissions, "documentSecurity": false, "enabled": true});
        self.ensure(format!("collection {}", c.id), found.is_some(), Call::post(base, body)).await?;
        if let (Some(found), true) = (&found, c.bridge_reads) {
            self.check_bridge_reads(c, found);
        }
        let have = if found.is_some() { self.listed(&path, "attributes", &c.id).await? } else { Vec::new() };
        let find = |key: &str| have.iter().find(|a| a["key"] == key);
        let mut made = Vec::new();
        for a in &c.attrs {
            let mapped = c.mapped.iter().find(|(m, _)| m.key() == a.key());
            if let (true, Some((_, optional))) = (adopted, mapped) {
                self.check_mapped(c, a, *optional, find(a.key()))?;
                continue;
            }
            if let Some(have) = find(a.key()) {
                check_type(c, a, have)?;
            }
            let a = if adopted { a.clone().optional() } else { a.clone() };
            let (kind, body) = a.create();
            let what = format!("attribute {}.{}", c.id, a.key());
            let call = Call::post(format!("{path}/attributes/{kind}"), body);
            if self.ensure(what, find(a.key()).is_some(), call).await? {
                made.push(a.key().to_owned());
            }
        }
        if !self.report.dry_run {
            for key in &made {
                wait_available(&self.api, &format!("{path}/attributes/{key}"), &format!("{}.{key}", c.id)).await?;
            }
        }
        let indexes = if found.is_some() { self.listed(&path, "indexes", &c.id).await? } else { Vec::new() };
        for ix in &c.indexes {
            // An index of the team's over the same attributes serves as well as ours.
            let covered = indexes.iter().any(|have| {
                have["key"] == ix.key.as_str()
                    || (have["attributes"] == json!(ix.attrs) && (ix.kind != "unique" || have["type"] == "unique"))
            });
            let body = json!({"key": ix.key, "type": ix.kind, "attributes": ix.attrs});
            self.ensure(format!("index {}.{}", c.id, ix.key), covered, Call::post(format!("{path}/indexes"), body))
                .await?;
        }
        Ok(())
    }

    /// The attributes or indexes (`what`) of the collection at `path`.
    async fn listed(&self, path: &str, what: &str, id: &str) -> Result<Vec<Value>, StoreError> {
        let list = self
            .api
            .send(Call::get(format!("{path}/{what}")))
            .await
            .map_err(|e| StoreError::Unavailable(format!("{what} of {id}: {e}")))?;
        Ok(list[what].as_array().cloned().unwrap_or_default())
    }

    /// A team's attribute that a Leadboard field is mapped onto: it must be there, of a type
    /// Leadboard can read. Setup never adds or changes it.
    fn check_mapped(
        &mut self,
        c: &Collection,
        want: &Attr,
        optional: bool,
        have: Option<&Value>,
    ) -> Result<(), StoreError> {
        let key = want.key();
        let Some(have) = have else {
            if optional {
                self.report.notes.push(format!("{}.{key} does not exist; Leadboard shows that field empty", c.id));
                return Ok(());
            }
            return Err(StoreError::Invalid(format!(
                "collection {} has no attribute {key:?}, which [store.appwrite.leads] maps a field onto; fix the mapping (setup never adds the team's attributes)",
                c.id
            )));
        };
        check_type(c, want, have)?;
        self.report.existing.push(format!("attribute {}.{key} (the team's)", c.id));
        Ok(())
    }

    /// Realtime delivers a collection's events only to users who may read them.
    fn check_bridge_reads(&mut self, c: &Collection, found: &Value) {
        let user = format!("read(\"user:{}\")", self.cfg.service_user_id);
        let reads = found["$permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|p| p == user || p == "read(\"users\")" || p == "read(\"any\")");
        if !reads {
            self.report.notes.push(format!(
                "the service user {} cannot read collection {}: boards see its changes only at each reconcile pass. \
                 Add the permission {user} to the collection (Console -> Databases -> {} -> {} -> Settings -> Permissions)",
                self.cfg.service_user_id, c.id, c.db, c.id
            ));
        }
    }
}

/// An attribute that is there already must be of a type Leadboard reads and writes for `want`.
fn check_type(c: &Collection, want: &Attr, have: &Value) -> Result<(), StoreError> {
    let kind = have["type"].as_str().unwrap_or_default();
    let fits = match want {
        Attr::Str { .. } => kind == "string" || kind == "email",
        Attr::Int { .. } => kind == "integer" || kind == "double" || kind == "float",
    };
    if fits && have["array"] != true {
        return Ok(());
    }
    let what = match (have["array"] == true, kind.starts_with(['a', 'e', 'i', 'o', 'u'])) {
        (true, _) => format!("an array of {kind}"),
        (false, true) => format!("an {kind}"),
        (false, false) => format!("a {kind}"),
    };
    let need = if matches!(want, Attr::Str { .. }) { "string" } else { "number" };
    Err(StoreError::Invalid(format!("{}.{} is {what} attribute; Leadboard needs a single {need}", c.id, want.key())))
}

/// Creates everything that is missing and waits until every attribute it made is `available`.
pub async fn setup(cfg: &AppwriteConfig) -> Result<SetupReport, StoreError> {
    run(cfg, false).await
}

/// `setup`, or with `dry_run` only the report of what it would create.
pub async fn run(cfg: &AppwriteConfig, dry_run: bool) -> Result<SetupReport, StoreError> {
    let mut s = Setup { api: Client::new(cfg)?, cfg, report: SetupReport { dry_run, ..Default::default() } };
    s.principals().await?;
    s.database(&cfg.database).await?;
    if cfg.leads_database() != cfg.database {
        let db = cfg.leads_database();
        if exists(&s.api, &format!("/databases/{db}"), "database").await?.is_none() {
            return Err(StoreError::Invalid(format!("the leads database {db} does not exist")));
        }
    }
    for c in collections(cfg) {
        s.collection(&c).await?;
    }
    Ok(s.report)
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
