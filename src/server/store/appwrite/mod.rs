//! The Appwrite adapter: leads, claims and sessions in an Appwrite project, accounts as Appwrite users (`accounts`), boards fed by a
//! Realtime bridge. See `claims` for the verified claim protocol (Appwrite's `updateDocument` is
//! last-write-wins, so a plain update is never a claim), `bridge` and `mirror` for events,
//! `reconcile` for repairs, and `schema` for `leadboard appwrite setup`.
//!
//! The API key is used only here, on the server, in a header marked sensitive; it is never
//! formatted into errors, logs or anything sent to a browser.

mod accounts;
mod bridge;
mod claims;
pub mod client;
pub mod docs;
mod mirror;
mod reconcile;
pub mod schema;

use super::{AccountStore, EventSink, LeadStore, StoreError};
use crate::domain::{BoardEvent, ClaimReply, Lead, LeadId, Millis, NewLead, UserInfo, Username};
use crate::protocol::Snapshot;
use crate::server::config::AppwriteConfig;
use crate::server::metrics::BridgeMetrics;
use crate::server::now_ms;
use async_trait::async_trait;
use client::{Call, Client};
use docs::{doc_path, docs_path, LeadDoc, LEADS};
use futures::StreamExt;
use mirror::Mirror;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a read of the board waits for this replica's first full read of the leads.
const FIRST_LOAD: Duration = Duration::from_secs(15);
/// Leads created at once by `add_leads`.
const CREATE_CONCURRENCY: usize = 16;

/// What the store and its background tasks share.
pub(crate) struct Core {
    cfg: AppwriteConfig,
    api: Client,
    db: String,
    mirror: Mirror,
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
            mirror: Mirror::new(sink),
            cfg: cfg.clone(),
        });
        let (suspects_tx, suspects_rx) = tokio::sync::mpsc::unbounded_channel();
        let every = Duration::from_secs(cfg.reconcile_secs);
        let tasks = vec![
            runtime.spawn(bridge::run(core.clone(), suspects_tx, metrics)),
            runtime.spawn(reconcile::run(core.clone(), every, suspects_rx)),
        ];
        tracing::info!(endpoint = %cfg.endpoint, project = %cfg.project, database = %cfg.database, "using the Appwrite store");
        Ok(Self { core, stream: docs::random_id(), tasks })
    }

    /// Runs one reconcile pass now (also done on start-up and every `reconcile_secs`).
    pub async fn reconcile_now(&self) -> Result<usize, StoreError> {
        self.core.reconcile_all().await
    }

    async fn loaded(&self) -> Result<(), StoreError> {
        if self.core.mirror.is_loaded() || self.core.mirror.wait_loaded(FIRST_LOAD).await {
            Ok(())
        } else {
            Err(StoreError::Unavailable("the lead store (Appwrite) has not answered yet; try again shortly".into()))
        }
    }

    /// Deletes a document; one that is already gone is fine.
    async fn delete_doc(&self, collection: &str, id: &str) -> Result<(), StoreError> {
        match self.core.api.send(Call::delete(self.path(collection, id)?)).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn path(&self, collection: &str, id: &str) -> Result<String, StoreError> {
        doc_path(&self.core.db, collection, id)
    }

    async fn get_optional(&self, collection: &str, id: &str) -> Result<Option<Value>, StoreError> {
        match self.core.api.send(Call::get(self.path(collection, id)?)).await {
            Ok(doc) => Ok(Some(doc)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
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

    async fn claim(&self, id: &LeadId, by: &Username, received_at: Millis) -> Result<ClaimReply, StoreError> {
        self.core.claim(id, by, received_at).await
    }

    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        self.core.fenced(id, seen_version, actor, None).await
    }

    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
    ) -> Result<Lead, StoreError> {
        let to = self.user(to).await?.ok_or_else(|| StoreError::UserNotFound(to.clone()))?;
        self.core.fenced(id, seen_version, actor, Some(&to)).await
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
        let path = docs_path(&core.db, LEADS);
        let results: Vec<Result<bool, StoreError>> = futures::stream::iter(leads)
            .map(|l| {
                let path = path.clone();
                async move {
                    let data = json!({
                        "name": l.name, "company": l.company, "value": l.value as i64,
                        "assignee": null, "version": 1, "claimed_at": null, "updated_by": actor.as_str(),
                    });
                    let data = docs::with_details(data, &l.details, now_ms());
                    let body = json!({"documentId": l.id.as_str(), "data": data});
                    match core.api.send(Call::post(path, body)).await {
                        Ok(doc) => {
                            core.mirror.observe(&LeadDoc::from_json(&doc)?, Some(actor), now_ms());
                            Ok(true)
                        }
                        Err(e) if e.is("document_already_exists") => Ok(false),
                        Err(e) => Err(e.into()),
                    }
                }
            })
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
        let call = Call::get(docs_path(&self.core.db, LEADS)).query(json!({"method": "limit", "values": [1]}));
        self.core.api.once(&call).await.map(drop).map_err(StoreError::from)
    }
}
