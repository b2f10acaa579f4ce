//! The verified claim protocol over an API without compare-and-swap (the fenced transitions of
//! a held lead, which build on it, are in `fenced`).
//!
//! Every change of a lead's assignee is a *transition* out of the lead's current `version`, and
//! each transition has a claim document whose ID is derived from (lead, incarnation, version).
//! Appwrite's create is insert-if-absent, on every version: of any number of concurrent
//! writers, exactly one creates the document (201); every other gets 409
//! `document_already_exists` and reads who did. A retry of our own create after a timeout finds
//! our own `request_id` there and is recognised as ours.
//!
//! The claim documents are the source of truth; the lead document follows them. Whoever finds
//! a claim document for the lead's current version (the winner, a loser, the reconciler of any
//! replica) applies it to the lead: assignee, `version + 1`, `claimed_at`, sent with
//! `X-Appwrite-Timestamp` = the `$updatedAt` it read. From Appwrite 1.9.5 that guard is checked
//! against the row; up to 1.9.0 it may be checked against a stale cached copy, so an apply can
//! overwrite a newer row and move the lead document back. Hence:
//! - every read that decides is a list (`leads::read_lead`), which the cache cannot answer;
//! - an answer taken from the lead document (`lost`, a refused release) is given only once no
//!   claim document exists for the version it shows ([`Core::settled`]): a lead document that
//!   lags is first moved forward, so no answer goes back behind one already given;
//! - `won` is answered only after reading the lead at the version after our own claim
//!   document, naming us.
//!
//! Transactions (1.8+) are not used: on 1.8 to 1.9.0 their commit checks through the same cached
//! read, and reads inside them are not validated, so they would add nothing the claim documents
//! do not already give.

use super::client::Call;
use super::docs::{
    doc_path, docs_path, outside_actor, random_id, transition_id, LeadDoc, Transition, ATTEMPTS, CLAIMS,
};
use super::Core;
use crate::domain::claim::{check_claimable, judge_unapplied};
use crate::domain::{ClaimOutcome, ClaimReply, ClaimTerms, LeadId, Millis, Step, Username};
use crate::server::now_ms;
use crate::server::store::StoreError;
use serde_json::json;
use std::collections::HashMap;

/// Rounds of read-decide-write before giving up under contention (each round makes progress:
/// some transition was applied).
const ROUNDS: usize = 12;

impl Core {
    /// The claim documents with these IDs (those that exist), by a list: never a cached GET.
    pub(crate) async fn transitions(&self, ids: &[String]) -> Result<HashMap<String, Transition>, StoreError> {
        let call = Call::get(docs_path(&self.db, CLAIMS))
            .query(json!({"method": "equal", "attribute": "$id", "values": ids}))
            .query(json!({"method": "limit", "values": [ids.len().max(1)]}));
        let page = self.api.send(call).await?;
        let mut found = HashMap::new();
        for d in page["documents"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let (Some(id), Ok(t)) = (d["$id"].as_str(), Transition::from_json(d)) {
                found.insert(id.to_owned(), t);
            }
        }
        Ok(found)
    }

    /// The claim document out of `version` of the lead `doc` is, if there is one.
    async fn transition_at(&self, doc: &LeadDoc, version: u64) -> Result<Option<Transition>, StoreError> {
        let id = transition_id(&doc.lead.id, &doc.incarnation, version);
        Ok(self.transitions(std::slice::from_ref(&id)).await?.remove(&id))
    }

    /// The lead at the head of its claim documents: read, and while a claim document exists for
    /// the version shown (decided but not applied, or undone by a stale cached merge), apply it
    /// and read again. What this returns may be answered from.
    pub(crate) async fn settled(&self, id: &LeadId) -> Result<LeadDoc, StoreError> {
        for _ in 0..ROUNDS {
            let doc = self.read_lead(id).await?;
            match self.transition_at(&doc, doc.lead.version).await? {
                None => return Ok(doc),
                Some(pending) => {
                    tracing::debug!(lead = %id, version = doc.lead.version, "the lead lags its claim documents; moving it forward");
                    self.apply(&pending).await?;
                }
            }
        }
        Err(StoreError::Unavailable(format!("lead {id} keeps changing; try again")))
    }

    /// Creates the claim document `t`, or reads the one already there. Returns the stored one:
    /// ours if its `request_id` is ours.
    pub(crate) async fn create_transition(&self, t: &Transition) -> Result<Transition, StoreError> {
        let id = t.id();
        let body = json!({"documentId": id, "data": t.to_json()});
        match self.api.send(Call::post(docs_path(&self.db, CLAIMS), body)).await {
            Ok(_) => {
                tracing::debug!(lead = %t.lead_id, version = t.version, kind = t.kind.as_str(), "created the claim document");
                Ok(t.clone())
            }
            Err(e) if e.is("document_already_exists") => {
                let stored = self.transitions(std::slice::from_ref(&id)).await?.remove(&id).ok_or_else(|| {
                    StoreError::Unavailable(format!("claim document {id} exists but cannot be read yet; try again"))
                })?;
                if stored.lead_id != t.lead_id || stored.version != t.version || stored.incarnation != t.incarnation {
                    return Err(StoreError::Internal(format!("claim document {id} belongs to another lead")));
                }
                tracing::debug!(
                    lead = %t.lead_id, version = t.version, ours = stored.request_id == t.request_id,
                    holder = ?stored.assignee.as_ref().map(Username::as_str), "the claim document exists"
                );
                Ok(stored)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies claim document `t` to its lead, and any earlier ones the lead document does not
    /// show (idempotent; any replica may do it). Returns the lead as read afterwards.
    ///
    /// A plain update from outside can land between a claim document and its apply, and up to
    /// 1.9.0 it can also be merged into a stale cached row: either way the lead shows an
    /// assignee that no claim document gave it. Applying over that would lose the outside
    /// write, so it is first adopted after the newest claim document ([`Core::adopt_at_head`]);
    /// telling costs one read of the claim document before.
    pub(crate) async fn apply(&self, t: &Transition) -> Result<LeadDoc, StoreError> {
        let mut adopted = false;
        let mut conflicted: Option<String> = None;
        for _ in 0..ROUNDS {
            let doc = self.read_lead(&t.lead_id).await?;
            let v = doc.lead.version;
            if doc.incarnation != t.incarnation || v > t.version {
                return Ok(doc); // applied already (by us or a helper), moved on since, or re-added
            }
            let at = |v: u64| transition_id(&doc.lead.id, &doc.incarnation, v);
            let mut ids = Vec::new();
            if v < t.version {
                ids.push(at(v));
            }
            if v > 1 {
                ids.push(at(v - 1));
            }
            let found = if ids.is_empty() { HashMap::new() } else { self.transitions(&ids).await? };
            // A lead document moved back by a stale merge is brought forward one step at a time.
            let next = if v == t.version {
                t.clone()
            } else {
                found.get(&at(v)).cloned().ok_or_else(|| {
                    StoreError::Internal(format!(
                        "lead {} is at version {v} below its claim document's {}, with none between",
                        t.lead_id, t.version
                    ))
                })?
            };
            // Applying `next` would overwrite an assignee that no claim document gave the lead.
            let expected = if v == 1 { Some(None) } else { found.get(&at(v - 1)).map(|p| p.assignee.clone()) };
            let overwrites = next.assignee != doc.lead.assignee && expected.is_some_and(|e| e != doc.lead.assignee);
            if !adopted && overwrites {
                self.adopt_at_head(&doc).await?;
                adopted = true;
            }
            let path = doc_path(&self.leads.db, &self.leads.collection, &doc.doc_id)?;
            let mut call = Call::patch(path, json!({"data": self.lead_update(&next).await?}));
            // A conflict although the row is as we read it came from a cached copy that is
            // newer than the row (up to 1.9.0, when clocks or a race left one there); it would
            // refuse every guarded update for a day, so this one goes unguarded. Whatever it
            // overwrites is repaired from the claim documents like any stale merge.
            if conflicted.as_deref() != Some(doc.updated_at_raw.as_str()) {
                call = call.timestamp(&doc.updated_at_raw);
            }
            match self.api.send(call).await {
                Ok(_) => tracing::debug!(lead = %t.lead_id, version = next.version + 1, "applied the claim document"),
                Err(e) if e.is("document_update_conflict") => {
                    tracing::debug!(lead = %t.lead_id, "the lead changed since it was read; re-reading");
                    conflicted = Some(doc.updated_at_raw.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unavailable(format!("lead {} keeps changing; try again", t.lead_id)))
    }

    /// Records the assignee `doc` shows, written from outside Leadboard onto a lead document
    /// that lags its claim documents, as an adoption after the newest of them.
    async fn adopt_at_head(&self, doc: &LeadDoc) -> Result<(), StoreError> {
        let mut head = doc.lead.version;
        for _ in 0..ROUNDS {
            let ids: Vec<String> = (head..head + 4).map(|v| transition_id(&doc.lead.id, &doc.incarnation, v)).collect();
            let found = self.transitions(&ids).await?;
            match ids.iter().position(|id| !found.contains_key(id)) {
                Some(free) => head += free as u64,
                None => {
                    head += 4;
                    continue;
                }
            }
            tracing::info!(lead = %doc.lead.id, version = head, "adopting a write made outside Leadboard onto a lagging lead document");
            let t = Transition { version: head, ..Transition::step(doc, &outside_actor(), Step::Adopt) };
            if self.create_transition(&t).await?.request_id == t.request_id {
                return Ok(());
            }
            // Someone decided that version first: the outside write comes after it.
        }
        Err(StoreError::Unavailable(format!("lead {} keeps changing; try again", doc.lead.id)))
    }

    /// Claims `id` for `by` on `terms` (the lease it gets; caps are not kept here yet). A closed
    /// lead is refused, answered like every refusal only from a lead not behind its claim
    /// documents.
    pub(crate) async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<ClaimReply, StoreError> {
        let request_id = random_id();
        // The (incarnation, version) whose claim document we created.
        let mut mine: Option<(String, u64)> = None;
        for _ in 0..ROUNDS {
            let doc = self.read_lead(id).await?;
            let lead = &doc.lead;
            if lead.assignee.is_some() {
                let won = lead.is_held_by(by)
                    && mine.as_ref().is_some_and(|(inc, v)| *inc == doc.incarnation && lead.version == v + 1);
                if won {
                    return Ok(self.decided(&request_id, by, received_at, now_ms(), ClaimOutcome::Won, doc).await);
                }
                // Answer from the lead only if it is not behind its claim documents.
                if let Some(pending) = self.transition_at(&doc, lead.version).await? {
                    self.apply(&pending).await?;
                    continue;
                }
                check_claimable(lead).map_err(|rule| StoreError::Rejected { rule, current: Box::new(lead.clone()) })?;
                let now = now_ms();
                let outcome = judge_unapplied(lead, by, now).expect("the lead is held");
                return Ok(self.decided(&request_id, by, received_at, now, outcome, doc).await);
            }
            let step = Step::Claim { lease_until: terms.lease_until(now_ms()) };
            let t = Transition { request_id: request_id.clone(), ..Transition::step(&doc, by, step) };
            let stored = self.create_transition(&t).await?;
            if stored.request_id == request_id {
                mine = Some((t.incarnation.clone(), t.version));
            }
            // Winner or not, make the lead show the claim document (helping a winner that may
            // have stopped), then read it back in the next round and decide from what is stored.
            self.apply(&stored).await?;
        }
        Err(StoreError::Unavailable(format!("lead {id} keeps changing; try again")))
    }

    /// Publishes and records a decided claim attempt.
    async fn decided(
        &self,
        request_id: &str,
        by: &Username,
        received_at: Millis,
        now: Millis,
        outcome: ClaimOutcome,
        doc: LeadDoc,
    ) -> ClaimReply {
        let attempt_id = format!("a{request_id}");
        match &outcome {
            ClaimOutcome::Won => {
                self.mirror.observe(&doc, Some(by), now);
            }
            ClaimOutcome::Lost { winner, margin_ms } => {
                self.mirror.observe(&doc, None, now);
                self.mirror.observe_lost(&attempt_id, &doc.lead.id, by.clone(), winner.clone(), *margin_ms, now);
            }
            ClaimOutcome::AlreadyYours => {
                self.mirror.observe(&doc, None, now);
            }
        }
        let (winner, margin) = match &outcome {
            ClaimOutcome::Lost { winner, margin_ms } => (Some(winner.as_str()), *margin_ms),
            _ => (Some(by.as_str()), 0),
        };
        let body = json!({"documentId": attempt_id, "data": {
            "lead_id": doc.lead.id.as_str(),
            "claimant": by.as_str(),
            "outcome": outcome.label(),
            "winner": winner,
            "margin_ms": margin,
            "received_at": received_at,
            "decided_at": now,
        }});
        match self.api.send(Call::post(docs_path(&self.db, ATTEMPTS), body)).await {
            Ok(_) => {}
            Err(e) if e.is("document_already_exists") => {}
            // The outcome stands; only the record (and other replicas' conflict feed) misses it.
            Err(e) => tracing::warn!(lead = %doc.lead.id, error = %e, "could not record the claim attempt"),
        }
        ClaimReply { outcome, lead: doc.lead }
    }
}
