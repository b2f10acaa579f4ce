//! The reconciler: on start-up, every `reconcile_secs`, and at once for any lead the bridge saw
//! written from outside Leadboard. Safe with several replicas running it at once, because it
//! changes leads only through claim documents (insert-if-absent) and timestamp-fenced updates.
//!
//! For each lead at version `v`:
//! - a claim document for `v` exists: a transition was decided but the lead never showed it (a
//!   crash or timeout between the two writes): apply it;
//! - otherwise the claim document for `v - 1` (none for `v = 1`: a new lead is open) must name
//!   the lead's assignee. If it does not, the assignee was written from outside Leadboard (the
//!   console, an old client's plain `updateDocument`): adopt it, with a claim document for `v`
//!   (actor `appwrite`) and `version + 1`, so every board sees the change with a higher version
//!   and a holder who lost the lead gets the lost-claim flag.
//!
//! Each pass also re-reads every lead into the mirror, so events lost by Realtime are made up
//! for within one interval.

use super::docs::{outside_actor, transition_id, LeadDoc, Transition};
use super::Core;
use crate::domain::LeadId;
use crate::domain::Step;
use crate::server::now_ms;
use crate::server::store::StoreError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Leads checked per claims query (two document IDs each; Appwrite 1.5 and 1.6 take 100 values).
const BATCH: usize = 50;

/// The claim documents that say where `doc` should be: out of its version, and the one before.
fn chain_ids(doc: &LeadDoc) -> Vec<String> {
    let (id, inc, v) = (&doc.lead.id, doc.incarnation.as_str(), doc.lead.version);
    std::iter::once(transition_id(id, inc, v)).chain((v > 1).then(|| transition_id(id, inc, v - 1))).collect()
}

impl Core {
    /// One full pass: re-read all leads into the mirror, then check each against its claim
    /// documents. Returns how many leads were repaired.
    pub(crate) async fn reconcile_all(&self) -> Result<usize, StoreError> {
        let docs = self.list_leads().await?;
        self.mirror.resync(&docs, now_ms());
        let mut repaired = 0;
        for chunk in docs.chunks(BATCH) {
            let ids: Vec<String> = chunk.iter().flat_map(chain_ids).collect();
            let found = self.transitions(&ids).await?;
            for doc in chunk {
                repaired += usize::from(self.repair(doc, &found).await?);
            }
        }
        Ok(repaired)
    }

    /// Checks one lead now (the bridge saw it change without a new version).
    pub(crate) async fn reconcile_one(&self, id: &LeadId) -> Result<bool, StoreError> {
        let doc = match self.read_lead(id).await {
            Ok(doc) => doc,
            Err(StoreError::LeadNotFound(_)) => {
                self.mirror.remove(id, None);
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let found = self.transitions(&chain_ids(&doc)).await?;
        self.repair(&doc, &found).await
    }

    async fn repair(&self, doc: &LeadDoc, found: &HashMap<String, Transition>) -> Result<bool, StoreError> {
        let lead = &doc.lead;
        let at = |v: u64| found.get(&transition_id(&lead.id, &doc.incarnation, v));
        if let Some(pending) = at(lead.version) {
            tracing::info!(lead = %lead.id, version = lead.version, kind = pending.kind.as_str(), "applying a claim document the lead does not show yet");
            let after = self.apply(pending).await?;
            self.mirror.observe(&after, None, now_ms());
            return Ok(true);
        }
        let expected = if lead.version <= 1 { Some(None) } else { at(lead.version - 1).map(|t| t.assignee.clone()) };
        if expected.as_ref() == Some(&lead.assignee) {
            return Ok(false);
        }
        tracing::info!(
            lead = %lead.id, version = lead.version, assignee = ?lead.assignee.as_ref().map(|a| a.as_str()),
            expected = ?expected.as_ref().map(|e| e.as_ref().map(|a| a.as_str())),
            "adopting a write made outside Leadboard"
        );
        let t = Transition::step(doc, &outside_actor(), Step::Adopt);
        // Another replica may adopt (or a claim may win) the same version first: then we apply
        // that one instead, which is just as good.
        let stored = self.create_transition(&t).await?;
        let after = self.apply(&stored).await?;
        self.mirror.observe(&after, None, now_ms());
        Ok(true)
    }
}

/// The reconciler task: a pass at once and every `every`, and single leads on demand.
pub(crate) async fn run(core: Arc<Core>, every: Duration, mut suspects: mpsc::UnboundedReceiver<LeadId>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match core.reconcile_all().await {
                Ok(0) => tracing::debug!("reconciled: nothing to repair"),
                Ok(n) => tracing::info!(repaired = n, "reconciled"),
                Err(e) => tracing::warn!(error = %e, "reconcile pass failed; retrying next interval"),
            },
            id = suspects.recv() => {
                let Some(id) = id else { return };
                if let Err(e) = core.reconcile_one(&id).await {
                    tracing::warn!(lead = %id, error = %e, "could not reconcile a lead changed outside Leadboard");
                }
            }
        }
    }
}
