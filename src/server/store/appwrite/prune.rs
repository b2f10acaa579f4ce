//! Retention on Appwrite: claim attempts and intake idempotency keys older than `retention_days`,
//! and expired sessions, are deleted in the background by every replica (a document another
//! replica deleted first is fine), a page at a time. Claim documents are never pruned: they
//! decide claims, and a lead added again continues above the versions they hold.

use super::client::Call;
use super::docs::{docs_path, ATTEMPTS, SESSIONS};
use super::tokens::API_REQUESTS;
use super::Core;
use crate::domain::Millis;
use crate::server::now_ms;
use crate::server::store::StoreError;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Documents listed (and then deleted) per request.
const PAGE: usize = 100;
/// Deletes in flight at once: pruning must not crowd out the claims' requests.
const CONCURRENCY: usize = 4;

impl Core {
    /// One pass at `now`: deletes what is past the retention or expired. Returns how many
    /// documents it deleted.
    pub(crate) async fn prune(&self, now: Millis) -> Result<usize, StoreError> {
        let keep = Millis::try_from(Duration::from_secs_f64(self.cfg.retention_days * 86_400.0).as_millis())
            .unwrap_or(Millis::MAX);
        let cutoff = now.saturating_sub(keep);
        Ok(self.prune_before(ATTEMPTS, "decided_at", cutoff).await?
            + self.prune_before(API_REQUESTS, "at", cutoff).await?
            + self.prune_before(SESSIONS, "expires_at", now).await?)
    }

    /// Deletes every document of `collection` whose `attribute` is before `cutoff`.
    async fn prune_before(&self, collection: &str, attribute: &str, cutoff: Millis) -> Result<usize, StoreError> {
        let mut deleted = 0;
        loop {
            let call = Call::get(docs_path(&self.db, collection))
                .query(json!({"method": "lessThan", "attribute": attribute, "values": [cutoff]}))
                .query(json!({"method": "limit", "values": [PAGE]}));
            let page = self.api.send(call).await?;
            let ids: Vec<String> = page["documents"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["$id"].as_str().map(str::to_owned))
                .collect();
            futures::stream::iter(ids.iter().cloned())
                .map(|id| async move { self.delete_doc(collection, &id).await })
                .buffer_unordered(CONCURRENCY)
                .try_collect::<()>()
                .await?;
            deleted += ids.len();
            if ids.len() < PAGE {
                return Ok(deleted);
            }
        }
    }
}

/// Prunes every `prune_every_secs`, from start-up on, until the store is dropped.
pub(crate) async fn run(core: Arc<Core>) {
    let mut tick = tokio::time::interval(Duration::from_secs(core.cfg.prune_every_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match core.prune(now_ms()).await {
            Ok(0) => {}
            Ok(pruned) => {
                tracing::info!(pruned, "pruned claim attempts, idempotency keys and sessions past the retention")
            }
            Err(e) => tracing::warn!(error = %e, "pruning failed; retrying at the next round"),
        }
    }
}
