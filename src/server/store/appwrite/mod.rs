//! The Appwrite adapter: leads, claims and sessions in an Appwrite project, accounts as Appwrite
//! users (`accounts`), boards fed by a Realtime bridge. See `verified_claim` for the claim
//! protocol (Appwrite's `updateDocument` is last-write-wins, so a plain update is never a
//! claim), `fenced` for release, reassign, extend, outcome and expiry, `leads` for the leads collection and its mapping, `version` for what differs between
//! Appwrite releases, `bridge` and `mirror` for events, `reconcile` for repairs, `prune` for
//! retention, `tokens` for the intake API's tokens, and `schema` for `leadboard appwrite setup`.
//!
//! The API key is used only here, on the server, in a header marked sensitive; it is never
//! formatted into errors, logs or anything sent to a browser.

mod accounts;
mod bridge;
pub mod client;
pub mod docs;
mod fenced;
mod leads;
mod mirror;
mod prune;
mod reconcile;
pub mod schema;
mod tokens;
mod verified_claim;
pub mod version;

use super::{AccountStore, EventSink, LeadStore, StoreError};
use crate::domain::claim::{check_extend, check_outcome, check_reassign, check_release};
use crate::domain::{
    BoardEvent, ClaimOutcome, ClaimReply, ClaimTerms, Lead, LeadId, Millis, NewLead, Note, Outcome, Step, UserInfo,
    Username,
};
use crate::protocol::Snapshot;
use crate::server::config::AppwriteConfig;
use crate::server::metrics::BridgeMetrics;
use crate::server::now_ms;
use async_trait::async_trait;
use client::{Call, Client};
use docs::{doc_path, docs_path, random_id, CLAIMS};
use futures::StreamExt;
use leads::Leads;
use mirror::Mirror;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use version::AppwriteVersion;

/// How long a read of the board waits for this replica's first full read of the leads.
const FIRST_LOAD: Duration = Duration::from_secs(15);
/// Leads created at once by `add_leads`.
const CREATE_CONCURRENCY: usize = 16;

/// Open leads "Next lead" tries before it gives up (each one lost was won by someone else).
const NEXT_TRIES: usize = 64;

/// What start-up warns about when `[claims]` asks for a cap: this store does not keep caps yet.
pub const CAPS_UNKEPT: &str = "caps on leads held at once are not kept by the Appwrite store yet";

/// What the store and its background tasks share.
pub(crate) struct Core {
    cfg: AppwriteConfig,
    api: Client,
    /// Leadboard's own database (claims, attempts, sessions).
    db: String,
    leads: Leads,
    mirror: Mirror,
    version: tokio::sync::OnceCell<AppwriteVersion>,
}

impl Core {
    /// The project's Appwrite version, asked once (`GET /v1/health/version`, no auth needed).
    pub(crate) async fn version(&self) -> Result<AppwriteVersion, StoreError> {
        let v = self
            .version
            .get_or_try_init(|| async {
                let answer = self.api.send(Call::get("/health/version")).await?;
                let text = answer["version"].as_str().unwrap_or_default();
                let v = AppwriteVersion::parse(text).unwrap_or_else(|| {
                    tracing::warn!(version = text, "unrecognised Appwrite version; assuming the newest tested");
                    AppwriteVersion::NEWEST_TESTED
                });
                if v < AppwriteVersion::OLDEST_TESTED || v > AppwriteVersion::NEWEST_TESTED {
                    tracing::warn!(version = %v, "Appwrite version outside the tested range 1.5.0 to 1.9.6");
                }
                tracing::info!(version = %v, protocol = %v.protocol(), "Appwrite version detected");
                Ok::<_, StoreError>(v)
            })
            .await?;
        Ok(*v)
    }

    /// Deletes a document of Leadboard's database; one that is already gone is fine.
    async fn delete_doc(&self, collection: &str, id: &str) -> Result<(), StoreError> {
        match self.api.send(Call::delete(doc_path(&self.db, collection, id)?)).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The highest version each lead ID reached in an earlier incarnation (its claim
    /// documents outlive it), so a lead added again continues above it.
    async fn earlier_versions(&self, ids: &[&LeadId]) -> Result<HashMap<LeadId, u64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(100) {
            let values: Vec<&str> = chunk.iter().map(|id| id.as_str()).collect();
            let mut cursor: Option<String> = None;
            loop {
                let mut call = Call::get(docs_path(&self.db, CLAIMS))
                    .query(json!({"method": "equal", "attribute": "lead_id", "values": values}))
                    .query(json!({"method": "limit", "values": [500]}));
                if let Some(c) = &cursor {
                    call = call.query(json!({"method": "cursorAfter", "values": [c]}));
                }
                let page = self.api.send(call).await?;
                let docs = page["documents"].as_array().cloned().unwrap_or_default();
                for t in docs.iter().filter_map(|d| docs::Transition::from_json(d).ok()) {
                    let top = out.entry(t.lead_id).or_insert(0);
                    *top = (*top).max(t.version + 1);
                }
                match docs.last().and_then(|d| d["$id"].as_str()) {
                    Some(last) if docs.len() == 500 => cursor = Some(last.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Creates one lead, or finds it there: Ok(false) if it exists, `LeadIdTaken` if one whose ID
    /// differs only in case does (Appwrite would call them the same document).
    async fn add_lead(&self, lead: &NewLead, actor: &Username, version: u64) -> Result<bool, StoreError> {
        let existing = |docs: Vec<docs::LeadDoc>| -> Result<bool, StoreError> {
            match docs.into_iter().next() {
                Some(d) if d.lead.id == lead.id => Ok(false),
                Some(d) => Err(StoreError::LeadIdTaken { id: lead.id.clone(), existing: d.lead.id }),
                None => Err(StoreError::Unavailable(format!("lead {} exists but cannot be read yet", lead.id))),
            }
        };
        let by_attribute = !self.leads.map.id_is_document_id();
        if by_attribute {
            let like = self.lead_docs_like(&lead.id).await?;
            if !like.is_empty() {
                return existing(like);
            }
        }
        let document_id = if by_attribute { random_id() } else { lead.id.as_str().to_owned() };
        let data = self.new_lead_data(lead, actor, &random_id(), version);
        match self.api.send(Call::post(self.leads.path(), json!({"documentId": document_id, "data": data}))).await {
            Ok(doc) => {
                self.mirror.observe(&self.parse_lead(&doc).await?, Some(actor), now_ms());
                Ok(true)
            }
            Err(e) if e.is("document_already_exists") => existing(self.lead_docs_like(&lead.id).await?),
            Err(e) => Err(e.into()),
        }
    }
}

pub struct AppwriteStore {
    core: Arc<Core>,
    stream: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AppwriteStore {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl AppwriteStore {
    /// Connects to the project and starts this replica's Realtime bridge and reconciler. Must be
    /// called inside a Tokio runtime. Does not wait for Appwrite: reads of the board wait (a
    /// little) for the first full read of the leads.
    pub fn open(
        cfg: &AppwriteConfig,
        sink: Arc<dyn EventSink>,
        metrics: Arc<BridgeMetrics>,
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::Internal("the Appwrite store needs a Tokio runtime".into()))?;
        let core = Arc::new(Core {
            api: Client::new(cfg)?,
            db: cfg.database.clone(),
            leads: Leads::new(cfg),
            mirror: Mirror::new(sink),
            version: tokio::sync::OnceCell::new(),
            cfg: cfg.clone(),
        });
        let (suspects_tx, suspects_rx) = tokio::sync::mpsc::unbounded_channel();
        let every = Duration::from_secs(cfg.reconcile_secs);
        let tasks = vec![
            runtime.spawn(bridge::run(core.clone(), suspects_tx, metrics)),
            runtime.spawn(reconcile::run(core.clone(), every, suspects_rx)),
            runtime.spawn(prune::run(core.clone())),
        ];
        tracing::info!(
            endpoint = %cfg.endpoint, project = %cfg.project, database = %cfg.database,
            leads = %format!("{}/{}", core.leads.db, core.leads.collection), "using the Appwrite store"
        );
        Ok(Self { core, stream: docs::random_id(), tasks })
    }

    /// Runs one reconcile pass now (also done on start-up and every `reconcile_secs`).
    pub async fn reconcile_now(&self) -> Result<usize, StoreError> {
        self.core.reconcile_all().await
    }

    /// Runs one pruning pass as if it were `now` (also done on start-up and every
    /// `prune_every_secs`). Returns how many documents it deleted.
    pub async fn prune_at(&self, now: Millis) -> Result<usize, StoreError> {
        self.core.prune(now).await
    }

    async fn loaded(&self) -> Result<(), StoreError> {
        if self.core.mirror.is_loaded() || self.core.mirror.wait_loaded(FIRST_LOAD).await {
            Ok(())
        } else {
            Err(StoreError::Unavailable("the lead store (Appwrite) has not answered yet; try again shortly".into()))
        }
    }

    /// The document with this exact ID, read by a list: up to Appwrite 1.9.0 a GET may answer
    /// from a cached copy that outlives the document (a signed-out session would live on).
    async fn find_doc(&self, collection: &str, id: &str) -> Result<Option<Value>, StoreError> {
        let call = Call::get(docs_path(&self.core.db, collection))
            .query(json!({"method": "equal", "attribute": "$id", "values": [id]}))
            .query(json!({"method": "limit", "values": [1]}));
        let page = self.core.api.send(call).await?;
        Ok(page["documents"].as_array().and_then(|docs| docs.iter().find(|d| d["$id"] == id).cloned()))
    }
}

#[async_trait]
impl LeadStore for AppwriteStore {
    fn stream(&self) -> &str {
        &self.stream
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.loaded().await?;
        let (seq, leads) = self.core.mirror.snapshot();
        Ok(Snapshot { stream: self.stream.clone(), seq, leads })
    }

    /// The lease of `terms` is kept; caps are not yet (`CAPS_UNKEPT`).
    async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<ClaimReply, StoreError> {
        self.core.claim(id, by, received_at, terms).await
    }

    /// Tries the open leads in order with the verified claim until one is won: a lead another
    /// replica's claimant wins meanwhile is lost (and recorded so) and the next one tried.
    async fn claim_next(
        &self,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<Option<ClaimReply>, StoreError> {
        self.loaded().await?;
        let (_, mut open) = self.core.mirror.snapshot();
        open.retain(|l| l.assignee.is_none());
        open.sort_by(|a, b| terms.next_order.rank(a, b));
        for lead in open.iter().take(NEXT_TRIES) {
            let reply = self.core.claim(&lead.id, by, received_at, terms).await?;
            if reply.outcome == ClaimOutcome::Won {
                return Ok(Some(reply));
            }
        }
        if open.len() > NEXT_TRIES {
            return Err(StoreError::Unavailable(format!("the first {NEXT_TRIES} open leads were taken meanwhile")));
        }
        Ok(None)
    }

    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        let rule = |lead: &Lead, _| check_release(lead, seen_version, actor);
        self.core.fenced(id, &actor.username, rule, Step::Release).await
    }

    /// A reassign may go past the new holder's cap (as on the embedded store); caps are not kept
    /// here yet anyway.
    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        let to = self.user(to).await?.ok_or_else(|| StoreError::UserNotFound(to.clone()))?;
        let rule = |lead: &Lead, _| check_reassign(lead, seen_version, &to, actor);
        let step = Step::Reassign { to: &to.username, lease_until: terms.lease_until(now_ms()) };
        self.core.fenced(id, &actor.username, rule, step).await
    }

    async fn extend(
        &self,
        id: &LeadId,
        seen_version: u64,
        by: &Username,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        let rule = |lead: &Lead, now| check_extend(lead, seen_version, by, now, terms.max_extensions);
        let step = Step::Extend { lease_until: terms.lease_until(now_ms()) };
        self.core.fenced(id, by, rule, step).await
    }

    async fn record_outcome(
        &self,
        id: &LeadId,
        seen_version: u64,
        by: &Username,
        outcome: Outcome,
        note: &Note,
    ) -> Result<Lead, StoreError> {
        let rule = |lead: &Lead, _| check_outcome(lead, seen_version, by);
        self.core.fenced(id, by, rule, Step::Outcome { outcome, note: note.clone() }).await
    }

    /// Waits for the first full read of the leads, so the pass at start-up catches the leases
    /// that ran out while no replica was running.
    async fn expire_due(&self, now: Millis) -> Result<usize, StoreError> {
        self.loaded().await?;
        self.core.expire_due(now).await
    }

    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError> {
        self.loaded().await?;
        Ok(self.core.mirror.events_after(after_seq, limit))
    }

    async fn latest_seq(&self) -> Result<u64, StoreError> {
        Ok(self.core.mirror.latest_seq())
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        Ok(self.core.mirror.recent(limit))
    }

    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError> {
        let core = &self.core;
        let ids: Vec<&LeadId> = leads.iter().map(|l| &l.id).collect();
        let earlier = core.earlier_versions(&ids).await?;
        let earlier = &earlier;
        let results: Vec<Result<bool, StoreError>> = futures::stream::iter(leads.clone())
            .map(|l| async move { core.add_lead(&l, actor, earlier.get(&l.id).map_or(1, |v| v + 1)).await })
            .buffer_unordered(CREATE_CONCURRENCY)
            .collect()
            .await;
        let mut created = 0;
        for r in results {
            created += usize::from(r?);
        }
        Ok(created)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let call = Call::get(self.core.leads.path()).query(json!({"method": "limit", "values": [1]}));
        self.core.api.once(&call).await.map(drop).map_err(StoreError::from)
    }
}
