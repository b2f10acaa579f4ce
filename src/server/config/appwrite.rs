//! `[store.appwrite]`: how to reach an Appwrite project. Every key can also be set as
//! `LEADBOARD_APPWRITE_<KEY>`; keep the secrets (`api_key`, `service_password`) in the
//! environment rather than the file.

use super::values;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppwriteConfig {
    /// The REST endpoint, e.g. `https://cloud.appwrite.io/v1`.
    #[serde(deserialize_with = "values::http_url")]
    pub endpoint: String,
    /// The Realtime endpoint; derived from `endpoint` (`wss://HOST/v1/realtime`) unless set.
    #[serde(default, deserialize_with = "values::ws_url")]
    pub realtime_endpoint: Option<String>,
    pub project: String,
    /// A server API key (see the README for its scopes). Stays on the server.
    pub api_key: SecretString,
    /// The database holding Leadboard's collections.
    #[serde(default = "default_database", deserialize_with = "values::appwrite_id")]
    pub database: String,
    /// The service user the Realtime bridge signs in as (an API key has no rights on the socket).
    #[serde(default = "default_service_user", deserialize_with = "values::appwrite_id")]
    pub service_user_id: String,
    #[serde(deserialize_with = "values::email")]
    pub service_email: String,
    #[serde(deserialize_with = "values::password")]
    pub service_password: SecretString,
    /// The Appwrite team whose members are Leadboard managers.
    #[serde(default = "default_managers_team", deserialize_with = "values::appwrite_id")]
    pub managers_team: String,
    /// The email domain of users created from Leadboard (`<username>@<domain>`): Appwrite signs
    /// users in by email. Users made in Appwrite keep their own addresses.
    #[serde(default = "default_email_domain", deserialize_with = "values::domain_name")]
    pub email_domain: String,
    /// How often every replica re-reads the leads and repairs half-done or foreign writes.
    #[serde(default = "default_reconcile_secs", deserialize_with = "values::positive")]
    pub reconcile_secs: u64,
    /// How long the claim attempts, expired sessions and intake idempotency keys are kept (days;
    /// fractions allowed), then pruned by every replica. Claim documents are never pruned: they
    /// decide claims.
    #[serde(default = "default_retention_days", deserialize_with = "values::positive")]
    pub retention_days: f64,
    /// How often the pruning runs.
    #[serde(default = "default_prune_every_secs", deserialize_with = "values::positive")]
    pub prune_every_secs: u64,
    /// Timeout of one REST request, in milliseconds.
    #[serde(default = "default_timeout_ms", deserialize_with = "values::timeout_ms")]
    pub timeout_ms: u64,
    /// `[store.appwrite.leads]`: where the leads live and what their attributes are called.
    #[serde(default)]
    pub leads: LeadsMapping,
}

/// The leads collection: Leadboard's own (the defaults), or one a team already has, with
/// Leadboard's fields mapped onto its attributes. Set in the file only (no variables).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeadsMapping {
    /// The database holding it; the `database` setting unless set.
    #[serde(deserialize_with = "values::opt_appwrite_id")]
    pub database: Option<String>,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub collection: String,
    /// The attribute holding the lead ID, or `$id` (the document ID).
    #[serde(deserialize_with = "values::id_attribute")]
    pub id: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub name: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub company: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub value: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub assignee: String,
    /// What the assignee attribute holds.
    pub assignee_holds: AssigneeForm,
    /// Fields a document may leave empty or out (shown as "" and 0).
    pub optional: Vec<OptionalField>,
    /// Leadboard's own attributes, added to the collection by `appwrite setup`; rename them if
    /// the team's collection already uses one of these keys for something else.
    #[serde(deserialize_with = "values::appwrite_id")]
    pub version: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub claimed_at: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub updated_by: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub incarnation: String,
    /// The holder's lease: when it runs out, and how often it was extended.
    #[serde(deserialize_with = "values::appwrite_id")]
    pub lease_until: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub extensions: String,
    /// The outcome the holder recorded, and its note.
    #[serde(deserialize_with = "values::appwrite_id")]
    pub outcome: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub outcome_note: String,
    /// The kind of Leadboard's last change (claim, release, extend, outcome, expire...).
    #[serde(deserialize_with = "values::appwrite_id")]
    pub last_change: String,
    /// The lead's details, all optional: the team's attributes when it has them (each must be a
    /// single string, `created_at` a number of Unix milliseconds), else added by `appwrite setup`.
    /// `tags` holds them comma-separated. A lead without `created_at` shows its `$createdAt`.
    #[serde(deserialize_with = "values::appwrite_id")]
    pub contact: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub email: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub phone: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub source: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub tags: String,
    #[serde(deserialize_with = "values::appwrite_id")]
    pub created_at: String,
}

/// How the assignee attribute names a person. Leadboard usernames are Appwrite user IDs, so
/// `username` and `user_id` are the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssigneeForm {
    #[serde(alias = "user_id")]
    Username,
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionalField {
    Name,
    Company,
    Value,
}

impl Default for LeadsMapping {
    fn default() -> Self {
        Self {
            database: None,
            collection: "leads".into(),
            id: "$id".into(),
            name: "name".into(),
            company: "company".into(),
            value: "value".into(),
            assignee: "assignee".into(),
            assignee_holds: AssigneeForm::Username,
            optional: Vec::new(),
            version: "version".into(),
            claimed_at: "claimed_at".into(),
            updated_by: "updated_by".into(),
            incarnation: "incarnation".into(),
            lease_until: "lease_until".into(),
            extensions: "extensions".into(),
            outcome: "outcome".into(),
            outcome_note: "outcome_note".into(),
            last_change: "last_change".into(),
            contact: "contact".into(),
            email: "email".into(),
            phone: "phone".into(),
            source: "source".into(),
            tags: "tags".into(),
            created_at: "created_at".into(),
        }
    }
}

impl LeadsMapping {
    /// Whether the lead ID is the document ID (else an attribute).
    pub fn id_is_document_id(&self) -> bool {
        self.id == "$id"
    }

    pub fn is_optional(&self, field: OptionalField) -> bool {
        self.optional.contains(&field)
    }
}

impl AppwriteConfig {
    /// The database of the leads collection.
    pub fn leads_database(&self) -> &str {
        self.leads.database.as_deref().unwrap_or(&self.database)
    }

    /// `realtime_endpoint`, or the endpoint's host with `wss://` (`ws://` for `http://`).
    pub fn realtime_url(&self) -> String {
        if let Some(url) = &self.realtime_endpoint {
            return url.clone();
        }
        match self.endpoint.split_once("://") {
            Some(("http", rest)) => format!("ws://{rest}/realtime"),
            Some((_, rest)) => format!("wss://{rest}/realtime"),
            None => self.endpoint.clone(),
        }
    }
}

fn default_database() -> String {
    "leadboard".into()
}

fn default_service_user() -> String {
    "leadboard-bridge".into()
}

fn default_managers_team() -> String {
    "leadboard-managers".into()
}

fn default_email_domain() -> String {
    "users.leadboard.invalid".into()
}

fn default_reconcile_secs() -> u64 {
    30
}

fn default_retention_days() -> f64 {
    super::RETENTION_DAYS
}

fn default_prune_every_secs() -> u64 {
    super::PRUNE_EVERY_SECS
}

fn default_timeout_ms() -> u64 {
    10_000
}
