//! The leads collection through the mapping (`[store.appwrite.leads]`): Leadboard's own, or the
//! one a team already has. Every read that decides something is a list with `equal`, never a
//! GET of the document: up to Appwrite 1.9.0 a GET may be answered from a document cache that a
//! racing read can leave stale for a day, and lists never use that cache.
//!
//! Lead IDs are exact here although Appwrite compares them ignoring case: a read of `l00001`
//! does not find `L00001` (the SQLite store agrees), and the claim documents of a lead are
//! always derived from its stored ID.

use super::client::Call;
use super::docs::{docs_path, LeadDoc, Transition};
use super::Core;
use crate::domain::{LeadId, Outcome, Username};
use crate::server::config::{AppwriteConfig, AssigneeForm, LeadsMapping};
use crate::server::store::StoreError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Page size for listing leads.
const PAGE: usize = 500;

/// Where the leads are, how their attributes are named, and (when the assignee attribute holds
/// email addresses) who is who.
pub(crate) struct Leads {
    pub db: String,
    pub collection: String,
    pub map: LeadsMapping,
    /// Lower-case email -> username, and back, as far as looked up.
    emails: Mutex<HashMap<String, Username>>,
}

impl Leads {
    pub fn new(cfg: &AppwriteConfig) -> Self {
        Leads {
            db: cfg.leads_database().to_owned(),
            collection: cfg.leads.collection.clone(),
            map: cfg.leads.clone(),
            emails: Mutex::new(HashMap::new()),
        }
    }

    pub fn path(&self) -> String {
        docs_path(&self.db, &self.collection)
    }

    /// The Realtime channel of the collection's documents.
    pub fn channel(&self) -> String {
        format!("databases.{}.collections.{}.documents", self.db, self.collection)
    }

    /// The query attribute for the lead ID.
    fn id_key(&self) -> &str {
        &self.map.id
    }

    fn known_email(&self, email: &str) -> Option<Username> {
        self.emails.lock().unwrap_or_else(|p| p.into_inner()).get(&email.to_lowercase()).cloned()
    }

    fn email_of_known(&self, who: &Username) -> Option<String> {
        let emails = self.emails.lock().unwrap_or_else(|p| p.into_inner());
        emails.iter().find(|(_, u)| *u == who).map(|(e, _)| e.clone())
    }

    fn remember(&self, email: &str, who: Username) {
        self.emails.lock().unwrap_or_else(|p| p.into_inner()).insert(email.to_lowercase(), who);
    }
}

impl Core {
    /// Looks up the users behind email addresses not seen yet (one call per 100).
    async fn learn_emails(&self, docs: &[Value]) -> Result<(), StoreError> {
        let key = &self.leads.map.assignee;
        let mut unknown: Vec<String> = docs
            .iter()
            .filter_map(|d| d[key].as_str())
            .filter(|e| !e.is_empty() && self.leads.known_email(e).is_none())
            .map(str::to_lowercase)
            .collect();
        unknown.sort();
        unknown.dedup();
        for chunk in unknown.chunks(100) {
            let call = Call::get("/users")
                .query(json!({"method": "equal", "attribute": "email", "values": chunk}))
                .query(json!({"method": "limit", "values": [chunk.len()]}));
            let found = self.api.send(call).await?;
            for user in found["users"].as_array().into_iter().flatten() {
                if let (Some(email), Some(Ok(who))) =
                    (user["email"].as_str(), user["$id"].as_str().map(Username::parse))
                {
                    self.leads.remember(email, who);
                }
            }
        }
        Ok(())
    }

    /// The assignee attribute as a username (None: open, or nobody Leadboard knows).
    fn assignee_of(&self, doc: &Value) -> Option<Username> {
        let raw = doc[&self.leads.map.assignee].as_str().filter(|s| !s.is_empty())?;
        match self.leads.map.assignee_holds {
            AssigneeForm::Username => Username::parse(raw).ok(),
            AssigneeForm::Email => self.leads.known_email(raw),
        }
    }

    /// Documents as leads; ones Leadboard cannot read are logged and left out.
    pub(crate) async fn parse_leads(&self, docs: &[Value]) -> Result<Vec<LeadDoc>, StoreError> {
        if self.leads.map.assignee_holds == AssigneeForm::Email {
            self.learn_emails(docs).await?;
        }
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            match LeadDoc::from_json(d, &self.leads.map, self.assignee_of(d)) {
                Ok(doc) => out.push(doc),
                Err(e) => {
                    tracing::warn!(id = ?d["$id"].as_str(), error = %e, "skipping a lead document Leadboard cannot read")
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn parse_lead(&self, doc: &Value) -> Result<LeadDoc, StoreError> {
        let parsed = self.parse_leads(std::slice::from_ref(doc)).await?;
        parsed.into_iter().next().ok_or_else(|| StoreError::Internal("a lead document Leadboard cannot read".into()))
    }

    /// The lead documents whose ID equals `id` ignoring case (Appwrite's comparison).
    pub(crate) async fn lead_docs_like(&self, id: &LeadId) -> Result<Vec<LeadDoc>, StoreError> {
        let call = Call::get(self.leads.path())
            .query(json!({"method": "equal", "attribute": self.leads.id_key(), "values": [id.as_str()]}))
            .query(json!({"method": "limit", "values": [10]}));
        let page = self.api.send(call).await?;
        self.parse_leads(page["documents"].as_array().map(Vec::as_slice).unwrap_or_default()).await
    }

    /// The lead as committed (a list, which the document cache cannot answer), by its exact ID.
    pub(crate) async fn read_lead(&self, id: &LeadId) -> Result<LeadDoc, StoreError> {
        self.lead_docs_like(id)
            .await?
            .into_iter()
            .find(|d| d.lead.id == *id)
            .ok_or_else(|| StoreError::LeadNotFound(id.clone()))
    }

    /// Every lead, paging with `cursorAfter` until a page comes back empty.
    pub(crate) async fn list_leads(&self) -> Result<Vec<LeadDoc>, StoreError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut call = Call::get(self.leads.path()).query(json!({"method": "limit", "values": [PAGE]}));
            if let Some(c) = &cursor {
                call = call.query(json!({"method": "cursorAfter", "values": [c]}));
            }
            let page = self.api.send(call).await?;
            let docs = page["documents"].as_array().cloned().unwrap_or_default();
            if docs.is_empty() {
                return Ok(out);
            }
            out.extend(self.parse_leads(&docs).await?);
            cursor = docs.last().and_then(|d| d["$id"].as_str()).map(str::to_owned);
        }
    }

    /// What the assignee attribute stores for `who`.
    async fn stored_assignee(&self, who: Option<&Username>) -> Result<Value, StoreError> {
        let Some(who) = who else { return Ok(Value::Null) };
        if self.leads.map.assignee_holds == AssigneeForm::Username {
            return Ok(json!(who.as_str()));
        }
        if let Some(email) = self.leads.email_of_known(who) {
            return Ok(json!(email));
        }
        let user = self.api.send(Call::get(format!("/users/{who}"))).await?;
        let email = user["email"]
            .as_str()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| StoreError::Invalid(format!("user {who} has no email address to write as the assignee")))?;
        self.leads.remember(email, who.clone());
        Ok(json!(email.to_lowercase()))
    }

    /// The attributes that apply `t` to its lead. The incarnation is written every time, so an
    /// update merged into a stale cached row of an earlier incarnation cannot bring that back.
    pub(crate) async fn lead_update(&self, t: &Transition) -> Result<Value, StoreError> {
        let m = &self.leads.map;
        let mut data = serde_json::Map::new();
        data.insert(m.assignee.clone(), self.stored_assignee(t.assignee.as_ref()).await?);
        data.insert(m.version.clone(), json!((t.version + 1) as i64));
        data.insert(m.claimed_at.clone(), json!(t.claimed_at));
        data.insert(m.updated_by.clone(), json!(t.actor.as_str()));
        data.insert(m.incarnation.clone(), json!(t.incarnation));
        data.insert(m.lease_until.clone(), json!(t.lease_until));
        data.insert(m.extensions.clone(), json!(t.extensions));
        data.insert(m.outcome.clone(), json!(t.outcome.map(Outcome::as_str)));
        data.insert(m.outcome_note.clone(), json!(Some(t.note.as_str()).filter(|n| !n.is_empty())));
        data.insert(m.last_change.clone(), json!(t.kind.as_str()));
        Ok(Value::Object(data))
    }

    /// The attributes of a new lead.
    pub(crate) fn new_lead_data(
        &self,
        lead: &crate::domain::NewLead,
        actor: &Username,
        incarnation: &str,
        version: u64,
    ) -> Value {
        let m = &self.leads.map;
        let mut data = serde_json::Map::new();
        if !m.id_is_document_id() {
            data.insert(m.id.clone(), json!(lead.id.as_str()));
        }
        data.insert(m.name.clone(), json!(lead.name));
        data.insert(m.company.clone(), json!(lead.company));
        data.insert(m.value.clone(), json!(lead.value as i64));
        data.insert(m.assignee.clone(), Value::Null);
        data.insert(m.version.clone(), json!(version as i64));
        data.insert(m.claimed_at.clone(), Value::Null);
        data.insert(m.updated_by.clone(), json!(actor.as_str()));
        data.insert(m.incarnation.clone(), json!(incarnation));
        data.insert(m.extensions.clone(), json!(0));
        super::docs::insert_details(&mut data, m, &lead.details);
        Value::Object(data)
    }
}
