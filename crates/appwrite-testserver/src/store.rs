//! The in-memory project: databases, collections, documents, users, sessions and teams, and
//! their response models (`src/Appwrite/Utopia/Response/Model/*.php`, 1.8.1).
//! One `Mutex<Store>` guards everything. A write holds it for each of its steps (see
//! `rest/writes.rs`); between steps only row locks (`rows.rs`) and the cache model decide what
//! others see.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::cache::DocumentCache;
pub use crate::document::Document;
use crate::ids;
use crate::query::Fields;
use crate::schema::{Attribute, Index};
use crate::time::{self, Timestamp};
use crate::txn::Transaction;

#[derive(Default)]
pub struct Store {
    pub databases: HashMap<String, Database>,
    pub users: HashMap<String, User>,
    /// Keyed by session ID.
    pub sessions: HashMap<String, Session>,
    /// Keyed by the token itself.
    pub jwts: HashMap<String, Jwt>,
    pub teams: HashMap<String, Team>,
    pub transactions: HashMap<String, Transaction>,
    /// Last internal sequence handed out to a user, session or membership (UDB `$sequence`),
    /// so lists keep creation order like the database's auto-increment key.
    pub sequence: u64,
}

pub struct Database {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub collections: HashMap<String, Collection>,
}

impl Database {
    pub fn to_json(&self) -> Value {
        let ts = time::format(&self.created_at);
        json!({
            "$id": self.id,
            "name": self.name,
            "$createdAt": ts,
            "$updatedAt": ts,
            "enabled": self.enabled,
            "type": "legacy",
        })
    }
}

pub struct Collection {
    pub id: String,
    pub database_id: String,
    pub name: String,
    pub enabled: bool,
    pub document_security: bool,
    pub permissions: Vec<String>,
    pub created_at: Timestamp,
    pub attributes: Vec<Attribute>,
    pub indexes: Vec<Index>,
    /// Committed rows, keyed by the case-folded ID: `_uid` is compared without a binary
    /// collation, so IDs differing only in case are one row.
    pub documents: HashMap<String, Document>,
    /// Used only by the legacy cache model.
    pub cache: DocumentCache,
    pub next_sequence: u64,
}

impl Collection {
    pub fn to_json(&self) -> Value {
        let ts = time::format(&self.created_at);
        json!({
            "$id": self.id,
            "$createdAt": ts,
            "$updatedAt": ts,
            "$permissions": self.permissions,
            "databaseId": self.database_id,
            "name": self.name,
            "enabled": self.enabled,
            "documentSecurity": self.document_security,
            "attributes": self.attributes.iter().map(|a| a.to_json("available")).collect::<Vec<_>>(),
            "indexes": self.indexes.iter().map(|i| i.to_json(i.status)).collect::<Vec<_>>(),
        })
    }

    /// The committed row whose ID equals `id` ignoring case.
    pub fn document(&self, id: &str) -> Option<&Document> {
        self.documents.get(&ids::fold(id))
    }

    /// The unique index `doc` would violate, if any.
    pub fn unique_violation(&self, doc: &Document) -> Option<&Index> {
        self.indexes.iter().filter(|i| i.is_unique()).find(|index| {
            let Some(wanted) = unique_key(index, doc) else { return false };
            self.documents.values().any(|other| {
                !other.id.eq_ignore_ascii_case(&doc.id) && unique_key(index, other).as_ref() == Some(&wanted)
            })
        })
    }

    /// True if existing documents already collide on `index` (building it would fail).
    pub fn has_duplicates(&self, index: &Index) -> bool {
        let mut seen: Vec<Vec<Value>> = Vec::new();
        self.documents.values().filter_map(|doc| unique_key(index, doc)).any(|key| {
            let duplicate = seen.contains(&key);
            seen.push(key);
            duplicate
        })
    }
}

/// The values of the indexed fields; `None` when one is NULL, since SQL unique indexes let
/// NULLs repeat. Strings compare ignoring case, like the columns' default collation.
fn unique_key(index: &Index, doc: &Document) -> Option<Vec<Value>> {
    index
        .attributes
        .iter()
        .map(|a| match doc.field(a) {
            Value::Null => None,
            Value::String(text) => Some(Value::String(text.to_lowercase())),
            other => Some(other),
        })
        .collect()
}

impl Fields for Document {
    fn field(&self, name: &str) -> Value {
        match name {
            "$id" => json!(self.id),
            "$sequence" => json!(self.sequence),
            "$createdAt" => json!(time::format(&self.created_at)),
            "$updatedAt" => json!(time::format(&self.updated_at)),
            _ => self.data.get(name).cloned().unwrap_or(Value::Null),
        }
    }
}

pub struct User {
    pub id: String,
    pub sequence: u64,
    pub name: String,
    /// Empty when the user has none (Appwrite stores `null` and renders `""`).
    pub email: String,
    pub password: Option<String>,
    /// `false` once blocked through `PATCH /v1/users/{id}/status`.
    pub status: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the password was last set; `None` for users without one.
    pub password_update: Option<Timestamp>,
}

impl User {
    /// The Account model (what a user sees of itself, also sent by Realtime).
    pub fn account_json(&self) -> Value {
        self.model(false)
    }

    /// The User model of the Users API: the Account model plus the password hash fields.
    /// The hash is not exposed; it is not something a test can rely on.
    pub fn user_json(&self) -> Value {
        self.model(true)
    }

    /// Both models in the field order of `Model/User.php` and `Model/Account.php`.
    fn model(&self, with_hash: bool) -> Value {
        let created = time::format(&self.created_at);
        let mut out = Map::new();
        out.insert("$id".into(), json!(self.id));
        out.insert("$createdAt".into(), json!(created));
        out.insert("$updatedAt".into(), json!(time::format(&self.updated_at)));
        out.insert("name".into(), json!(self.name));
        if with_hash {
            out.insert("password".into(), json!(""));
            out.insert("hash".into(), json!("argon2"));
            out.insert(
                "hashOptions".into(),
                json!({"type": "argon2", "memoryCost": 65536, "timeCost": 4, "threads": 3}),
            );
        }
        out.insert("registration".into(), json!(created));
        out.insert("status".into(), json!(self.status));
        out.insert("labels".into(), json!([]));
        out.insert("passwordUpdate".into(), json!(self.password_update.as_ref().map(time::format).unwrap_or_default()));
        out.insert("email".into(), json!(self.email));
        out.insert("phone".into(), json!(""));
        out.insert("emailVerification".into(), json!(false));
        out.insert("phoneVerification".into(), json!(false));
        out.insert("mfa".into(), json!(false));
        out.insert("prefs".into(), json!({}));
        out.insert("targets".into(), json!([]));
        out.insert("accessedAt".into(), json!(created));
        Value::Object(out)
    }
}

/// Fields of the `users` collection for `GET /v1/users` queries. Unset values are NULL in
/// the database (the model renders them as `""`).
impl Fields for User {
    fn field(&self, name: &str) -> Value {
        let or_null = |text: &str| if text.is_empty() { Value::Null } else { json!(text) };
        match name {
            "$id" => json!(self.id),
            "$sequence" => json!(self.sequence),
            "$createdAt" | "registration" => json!(time::format(&self.created_at)),
            "$updatedAt" => json!(time::format(&self.updated_at)),
            "name" => json!(self.name),
            "email" => or_null(&self.email),
            "status" => json!(self.status),
            "passwordUpdate" => self.password_update.as_ref().map_or(Value::Null, |ts| json!(time::format(ts))),
            "emailVerification" | "phoneVerification" => json!(false),
            "labels" => json!([]),
            _ => Value::Null,
        }
    }
}

pub struct Session {
    pub id: String,
    pub sequence: u64,
    pub user_id: String,
    pub secret: String,
    pub created_at: Timestamp,
    pub expire: Timestamp,
}

impl Session {
    /// The Session model; `secret` is the cookie value, shown only to API-key callers.
    pub fn to_json(&self, email: &str, secret: &str) -> Value {
        let ts = time::format(&self.created_at);
        json!({
            "$id": self.id,
            "$createdAt": ts,
            "$updatedAt": ts,
            "userId": self.user_id,
            "expire": time::format(&self.expire),
            "provider": "email",
            "providerUid": email,
            "providerAccessToken": "",
            "providerAccessTokenExpiry": "",
            "providerRefreshToken": "",
            "ip": "127.0.0.1",
            "osCode": "", "osName": "", "osVersion": "",
            "clientType": "", "clientCode": "", "clientName": "", "clientVersion": "",
            "clientEngine": "", "clientEngineVersion": "",
            "deviceName": "", "deviceBrand": "", "deviceModel": "",
            "countryCode": "--",
            "countryName": "Unknown",
            "current": true,
            "factors": ["password"],
            "secret": secret,
            "mfaUpdatedAt": "",
        })
    }
}

pub struct Jwt {
    pub user_id: String,
    /// The session the JWT was made from. Once that session is gone the JWT no longer
    /// authenticates (the `user` resource matches it against the user's sessions).
    pub session_id: Option<String>,
    pub expire: Timestamp,
}

pub struct Team {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub memberships: Vec<Membership>,
}

impl Team {
    pub fn to_json(&self) -> Value {
        let ts = time::format(&self.created_at);
        json!({
            "$id": self.id,
            "$createdAt": ts,
            "$updatedAt": ts,
            "name": self.name,
            "total": self.memberships.iter().filter(|m| m.confirm).count(),
            "prefs": {},
        })
    }
}

pub struct Membership {
    pub id: String,
    pub sequence: u64,
    pub user_id: String,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
    pub confirm: bool,
}

/// A membership with its team, as the `memberships` collection stores it (for queries).
pub struct MembershipRow<'a> {
    pub team: &'a Team,
    pub membership: &'a Membership,
}

impl Fields for MembershipRow<'_> {
    fn field(&self, name: &str) -> Value {
        let m = self.membership;
        match name {
            "$id" => json!(m.id),
            "$sequence" => json!(m.sequence),
            "$createdAt" | "$updatedAt" | "invited" => json!(time::format(&m.created_at)),
            "joined" if m.confirm => json!(time::format(&m.created_at)),
            "userId" => json!(m.user_id),
            "teamId" => json!(self.team.id),
            "confirm" => json!(m.confirm),
            "roles" => json!(m.roles),
            _ => Value::Null,
        }
    }
}

impl Store {
    /// The next internal sequence number.
    pub fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    /// Deletes the user's oldest sessions beyond `max`, like the `session` shutdown hook of
    /// `shared/api.php` (the user's `sessions` subquery lists them oldest first).
    pub fn limit_sessions(&mut self, user_id: &str, max: usize) {
        let mut own: Vec<(u64, String)> =
            self.sessions.values().filter(|s| s.user_id == user_id).map(|s| (s.sequence, s.id.clone())).collect();
        if own.len() <= max {
            return;
        }
        own.sort();
        for (_, id) in &own[..own.len() - max] {
            self.sessions.remove(id);
        }
    }

    /// Deletes every session of the user. JWTs made from them stop working too.
    pub fn delete_sessions_of(&mut self, user_id: &str) {
        self.sessions.retain(|_, s| s.user_id != user_id);
    }

    /// Roles of a signed-in user (`Auth::getRoles` / `User::getRoles`): `any`, `users`,
    /// `user:ID`, their `unverified` dimensions (no verification here), and for confirmed
    /// memberships `team:T`, `team:T/<role>` and `member:M`.
    pub fn roles_of(&self, user_id: &str) -> Vec<String> {
        let mut roles = vec![
            "any".to_owned(),
            "users".to_owned(),
            format!("user:{user_id}"),
            "users/unverified".to_owned(),
            format!("user:{user_id}/unverified"),
        ];
        for team in self.teams.values() {
            for m in team.memberships.iter().filter(|m| m.confirm && m.user_id == user_id) {
                roles.push(format!("team:{}", team.id));
                roles.push(format!("member:{}", m.id));
                roles.extend(m.roles.iter().map(|r| format!("team:{}/{r}", team.id)));
            }
        }
        roles
    }

    pub fn membership_json(&self, team: &Team, m: &Membership) -> Value {
        let user = self.users.get(&m.user_id);
        let ts = time::format(&m.created_at);
        json!({
            "$id": m.id,
            "$createdAt": ts,
            "$updatedAt": ts,
            "userId": m.user_id,
            "userName": user.map_or("", |u| u.name.as_str()),
            "userEmail": user.map_or("", |u| u.email.as_str()),
            "teamId": team.id,
            "teamName": team.name,
            "invited": ts,
            "joined": if m.confirm { ts.clone() } else { String::new() },
            "confirm": m.confirm,
            "mfa": false,
            "roles": m.roles,
        })
    }
}
