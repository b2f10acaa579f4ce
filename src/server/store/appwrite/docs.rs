//! Leadboard's documents in Appwrite: collection IDs, paths, and the conversions between
//! Appwrite's JSON documents and domain values.

use super::client::{id_segment, AwError};
use crate::domain::{Email, Holding, Lead, LeadDetails, LeadId, Millis, Note, Outcome, Phone, Step, Tag, Username};
use crate::server::config::{LeadsMapping, OptionalField};
use crate::server::now_ms;
use crate::server::store::StoreError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLAIMS: &str = "claims";
pub const ATTEMPTS: &str = "attempts";
pub const SESSIONS: &str = "sessions";

/// The actor named on events caused by writes from outside Leadboard (the Appwrite console, old
/// browser clients writing the lead directly).
pub const OUTSIDE_ACTOR: &str = "appwrite";

pub fn outside_actor() -> Username {
    Username::parse(OUTSIDE_ACTOR).expect("a valid username")
}

pub fn docs_path(db: &str, collection: &str) -> String {
    format!("/databases/{db}/collections/{collection}/documents")
}

pub fn doc_path(db: &str, collection: &str, id: &str) -> Result<String, StoreError> {
    Ok(format!("/databases/{db}/collections/{collection}/documents/{}", id_segment(id)?))
}

/// A lead document as read, with the `$updatedAt` text to send back as `X-Appwrite-Timestamp`.
#[derive(Clone, Debug)]
pub struct LeadDoc {
    /// The Appwrite document ID (the lead ID, unless the mapping names an ID attribute).
    pub doc_id: String,
    pub lead: Lead,
    pub updated_at_raw: String,
    /// Who made the last Leadboard write (`updated_by`); writes from outside leave it unchanged.
    pub updated_by: Option<Username>,
    /// Which life of this lead ID the document is: a lead deleted and added again is another
    /// incarnation, whose claim documents are not the old one's. The stored attribute, or for a
    /// document that has none yet (made outside Leadboard) its `$createdAt`.
    pub incarnation: String,
    /// The kind of transition that made this version (None: made outside Leadboard, or before
    /// it kept one).
    pub last_change: Option<Kind>,
    /// The note of the outcome, when the last change recorded one.
    pub note: Note,
}

fn decode(what: &str) -> AwError {
    AwError::Decode(what.to_owned())
}

fn int(doc: &Value, key: &str) -> Result<i64, AwError> {
    doc[key].as_i64().ok_or_else(|| decode(&format!("attribute {key} is missing or not an integer")))
}

fn opt_int(doc: &Value, key: &str) -> Option<i64> {
    doc[key].as_i64()
}

fn text<'a>(doc: &'a Value, key: &str) -> Result<&'a str, AwError> {
    doc[key].as_str().ok_or_else(|| decode(&format!("attribute {key} is missing or not a string")))
}

/// A username attribute: null, empty or not a valid username (written from outside) is None.
pub fn opt_user(doc: &Value, key: &str) -> Option<Username> {
    doc[key].as_str().filter(|s| !s.is_empty()).and_then(|s| Username::parse(s).ok())
}

impl LeadDoc {
    /// Reads a document through the mapping; `assignee` is the assignee attribute already
    /// turned into a username (see `leads::Leads::assignee_of`).
    pub fn from_json(doc: &Value, map: &LeadsMapping, assignee: Option<Username>) -> Result<Self, AwError> {
        let id_text = if map.id_is_document_id() { text(doc, "$id")? } else { text(doc, &map.id)? };
        let id = LeadId::parse(id_text).map_err(|e| decode(&e.to_string()))?;
        let updated_at_raw = text(doc, "$updatedAt")?.to_owned();
        let field = |key: &str, optional: OptionalField| -> Result<String, AwError> {
            match doc[key].as_str() {
                Some(s) => Ok(s.to_owned()),
                None if map.is_optional(optional) => Ok(String::new()),
                None => Err(decode(&format!("attribute {key} is missing or not a string"))),
            }
        };
        let value = match doc[&map.value].as_i64().or_else(|| doc[&map.value].as_f64().map(|f| f as i64)) {
            Some(v) => v.max(0) as u64,
            None if map.is_optional(OptionalField::Value) => 0,
            None => return Err(decode(&format!("attribute {} is missing or not a number", map.value))),
        };
        let incarnation = match doc[&map.incarnation].as_str().filter(|s| !s.is_empty()) {
            Some(stored) => stored.to_owned(),
            None => text(doc, "$createdAt")?.to_owned(),
        };
        let held = assignee.is_some();
        let lead = Lead {
            id,
            name: field(&map.name, OptionalField::Name)?,
            company: field(&map.company, OptionalField::Company)?,
            value,
            claimed_at: held.then(|| opt_int(doc, &map.claimed_at)).flatten(),
            assignee,
            // Documents from before Leadboard (an adopted collection) have no version yet.
            version: opt_int(doc, &map.version).unwrap_or(1).max(1) as u64,
            updated_at: parse_time(&updated_at_raw).unwrap_or(0),
            details: details_from_json(doc, map),
            // What a holder has: an open lead keeps nothing of its last claim.
            lease_until: held.then(|| opt_int(doc, &map.lease_until)).flatten(),
            extensions: held.then(|| opt_int(doc, &map.extensions)).flatten().unwrap_or(0).max(0) as u32,
            outcome: held.then(|| doc[&map.outcome].as_str().and_then(|o| o.parse().ok())).flatten(),
        };
        Ok(LeadDoc {
            doc_id: text(doc, "$id")?.to_owned(),
            lead,
            updated_at_raw,
            updated_by: opt_user(doc, &map.updated_by),
            incarnation,
            last_change: doc[&map.last_change].as_str().and_then(|k| k.parse().ok()),
            note: doc[&map.outcome_note].as_str().and_then(|n| Note::parse(n).ok()).unwrap_or_default(),
        })
    }
}

/// A lead's details as read through the mapping. Attributes written from outside that do not
/// validate (or are missing, on a project set up before leads had details) are left out, not
/// fatal. A lead without a created time of its own was created when its document was.
fn details_from_json(doc: &Value, map: &LeadsMapping) -> LeadDetails {
    let s = |key: &str| doc[key].as_str().filter(|s| !s.is_empty());
    let created = |key: &str| opt_int(doc, key).or_else(|| s(key).and_then(parse_time));
    LeadDetails {
        contact: s(&map.contact).map(str::to_owned),
        email: s(&map.email).and_then(|e| Email::parse(e).ok()),
        phone: s(&map.phone).and_then(|p| Phone::parse(p).ok()),
        source: s(&map.source).map(str::to_owned),
        tags: s(&map.tags).and_then(|t| Tag::parse_list(t).ok()).unwrap_or_default(),
        created_at: created(&map.created_at).or_else(|| created("$createdAt")),
    }
}

/// A new lead's details, those it has, as attributes named by the mapping, added to `data`.
/// Absent ones are left out rather than written as null, so a collection set up before leads had
/// details still takes leads without them; a lead without a created time has its document's.
pub fn insert_details(data: &mut serde_json::Map<String, Value>, map: &LeadsMapping, d: &LeadDetails) {
    let tags = Some(Tag::join(&d.tags)).filter(|t| !t.is_empty());
    let texts = [
        (&map.contact, d.contact.as_deref()),
        (&map.email, d.email.as_ref().map(Email::as_str)),
        (&map.phone, d.phone.as_ref().map(Phone::as_str)),
        (&map.source, d.source.as_deref()),
        (&map.tags, tags.as_deref()),
    ];
    for (key, value) in texts {
        if let Some(value) = value {
            data.insert(key.clone(), json!(value));
        }
    }
    if let Some(at) = d.created_at {
        data.insert(map.created_at.clone(), json!(at));
    }
}

/// Which kind of transition made a lead's version: stored in the claim document, and on the
/// lead document as its last change (so a replica that only sees the lead can name the event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    Claim,
    Release,
    Reassign,
    Extend,
    Outcome,
    /// The lease ran out: the lead went back to the pool by itself.
    Expire,
    /// Leadboard taking on a write made from outside it (console, old clients).
    Adopt,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A claim document: the one transition of a lead out of `version`. Its ID is derived from
/// (lead, incarnation, version), so Appwrite's insert-if-absent decides which of several
/// concurrent writers makes that transition, and a lead added again under an old ID starts a
/// chain of its own. The lead at `version + 1` must show `assignee` and the rest of what the
/// transition leaves (claim time, lease, extensions, outcome).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub lead_id: LeadId,
    pub incarnation: String,
    pub version: u64,
    pub kind: Kind,
    pub assignee: Option<Username>,
    pub claimed_at: Option<Millis>,
    pub lease_until: Option<Millis>,
    pub extensions: u32,
    pub outcome: Option<Outcome>,
    /// The outcome's note (empty for every other kind).
    pub note: Note,
    pub actor: Username,
    /// Random per request: recognises our own create when a retry finds it existing.
    pub request_id: String,
    pub at: Millis,
}

/// The claim document ID of (lead, incarnation, version): `t` + 35 hex digits of SHA-256, within
/// Appwrite's 36-character rule whatever the lead ID's length. Lower case, so Appwrite's
/// case-insensitive IDs cannot make two of them collide.
pub fn transition_id(lead: &LeadId, incarnation: &str, version: u64) -> String {
    let digest = Sha256::digest(format!("{}\n{incarnation}\n{version}", lead.as_str()).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t{}", &hex[..35])
}

impl Transition {
    pub fn id(&self) -> String {
        transition_id(&self.lead_id, &self.incarnation, self.version)
    }

    /// The transition `step` out of the version `doc` shows, made by `actor` now.
    pub fn step(doc: &LeadDoc, actor: &Username, step: Step<'_>) -> Transition {
        let at = now_ms();
        let lead = &doc.lead;
        let Holding { assignee, claimed_at, lease_until, extensions, outcome } = step.after(lead, actor, at);
        let (kind, note) = match step {
            Step::Claim { .. } => (Kind::Claim, Note::default()),
            Step::Release => (Kind::Release, Note::default()),
            Step::Reassign { .. } => (Kind::Reassign, Note::default()),
            Step::Extend { .. } => (Kind::Extend, Note::default()),
            Step::Outcome { note, .. } => (Kind::Outcome, note),
            Step::Expire => (Kind::Expire, Note::default()),
            Step::Adopt => (Kind::Adopt, Note::default()),
        };
        Transition {
            lead_id: lead.id.clone(),
            incarnation: doc.incarnation.clone(),
            version: lead.version,
            kind,
            assignee,
            claimed_at,
            lease_until,
            extensions,
            outcome,
            note,
            actor: actor.clone(),
            request_id: random_id(),
            at,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "lead_id": self.lead_id.as_str(),
            "incarnation": self.incarnation,
            "version": self.version as i64,
            "kind": self.kind.as_str(),
            "assignee": self.assignee.as_ref().map(Username::as_str),
            "claimed_at": self.claimed_at,
            "lease_until": self.lease_until,
            "extensions": self.extensions,
            "outcome": self.outcome.map(Outcome::as_str),
            "note": Some(self.note.as_str()).filter(|n| !n.is_empty()),
            "actor": self.actor.as_str(),
            "request_id": self.request_id,
            "at": self.at,
        })
    }

    /// Reads a claim document; one written before leases and outcomes has none, and its holder
    /// got the lead when it was made.
    pub fn from_json(doc: &Value) -> Result<Self, AwError> {
        let assignee = opt_user(doc, "assignee");
        let at = int(doc, "at")?;
        Ok(Transition {
            lead_id: LeadId::parse(text(doc, "lead_id")?).map_err(|e| decode(&e.to_string()))?,
            incarnation: doc["incarnation"].as_str().unwrap_or_default().to_owned(),
            version: int(doc, "version")? as u64,
            kind: text(doc, "kind")?.parse().map_err(|_| decode("unknown transition kind"))?,
            claimed_at: assignee.as_ref().map(|_| opt_int(doc, "claimed_at").unwrap_or(at)),
            lease_until: opt_int(doc, "lease_until"),
            extensions: opt_int(doc, "extensions").unwrap_or(0).max(0) as u32,
            outcome: doc["outcome"].as_str().and_then(|o| o.parse().ok()),
            note: doc["note"].as_str().and_then(|n| Note::parse(n).ok()).unwrap_or_default(),
            assignee,
            actor: opt_user(doc, "actor").unwrap_or_else(outside_actor),
            request_id: text(doc, "request_id")?.to_owned(),
            at,
        })
    }

    /// The lead as this transition leaves it.
    pub fn applied_to(&self, before: &Lead) -> Lead {
        Lead {
            assignee: self.assignee.clone(),
            version: self.version + 1,
            claimed_at: self.claimed_at,
            lease_until: self.lease_until,
            extensions: self.extensions,
            outcome: self.outcome,
            ..before.clone()
        }
    }

    /// Whether `lead` shows this transition applied (at the version after it).
    pub fn applied_in(&self, lead: &Lead) -> bool {
        lead.version == self.version + 1 && lead.assignee == self.assignee
    }
}

/// A random ID of 20 hex digits (like Appwrite's `ID.unique()`).
pub fn random_id() -> String {
    let mut raw = [0u8; 10];
    rand::fill(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appwrite's timestamps (`2024-05-01T12:34:56.789+00:00`, or with `Z`) as Unix milliseconds.
pub fn parse_time(s: &str) -> Option<Millis> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        (t, sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?))
    };
    let mut t = time.split(':');
    let (h, min): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let sec_text = t.next().unwrap_or("0");
    let (sec, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let sec: i64 = sec.parse().ok()?;
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + sec) - offset_min * 60) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appwrite_times_parse_to_millis() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000+00:00"), Some(0));
        assert_eq!(parse_time("2024-05-01T12:34:56.789+00:00"), Some(1_714_566_896_789));
        assert_eq!(parse_time("2024-05-01T14:34:56.789+02:00"), Some(1_714_566_896_789));
        assert_eq!(parse_time("2024-05-01T12:34:56.789Z"), Some(1_714_566_896_789));
        assert_eq!(parse_time("nonsense"), None);
    }

    #[test]
    fn transition_ids_are_appwrite_ids_and_differ_by_version_and_incarnation() {
        let id = LeadId::parse("x".repeat(36)).unwrap();
        let a = transition_id(&id, "i1", 1);
        assert_eq!(a.len(), 36);
        assert!(a.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_ne!(a, transition_id(&id, "i1", 2));
        assert_ne!(a, transition_id(&id, "i2", 1), "another incarnation, another chain");
        assert_eq!(a, transition_id(&id, "i1", 1));
    }
}
