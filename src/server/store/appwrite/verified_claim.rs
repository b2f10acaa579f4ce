//! The verified claim protocol, and release/reassign, over an API without compare-and-swap.
//!
//! Every change of a lead's assignee is a *transition* out of the lead's current `version`, and
//! each transition has a claim document whose ID is derived from (lead, version). Appwrite's
//! create is insert-if-absent: of any number of concurrent writers, exactly one creates the
//! document (201); every other gets 409 `document_already_exists` and reads who did. A retry of
//! our own create after a timeout finds our own `request_id` there and is recognised as ours.
//!
//! The claim document is the source of truth; the lead document follows it. Whoever finds a claim
//! document for the lead's current version (the winner, a loser, the reconciler of any replica)
//! applies it to the lead: assignee, `version + 1`, `claimed_at`, sent with
//! `X-Appwrite-Timestamp` = the `$updatedAt` it read, so a write that came in between (another
//! helper, a write from outside Leadboard) makes it fail with 409 `document_update_conflict`
//! instead of being overwritten; then it re-reads and tries again. Applying the same document
//! twice writes the same values, so helpers cannot disagree. A claim answers `won` only after
//! reading the lead back and seeing it at the version after our own claim document, naming us.

use super::client::Call;
use super::docs::{doc_path, docs_path, random_id, Kind, LeadDoc, Transition, ATTEMPTS, CLAIMS, LEADS};
use super::Core;
use crate::domain::claim::{check_reassign, check_release, judge_unapplied};
use crate::domain::{Account, ClaimOutcome, ClaimReply, Lead, LeadId, Millis, RuleError, UserInfo, Username};
use crate::server::now_ms;
use crate::server::store::StoreError;
use serde_json::json;

/// Rounds of read-decide-write before giving up under contention (each round makes progress:
/// some transition was applied).
const ROUNDS: usize = 12;

impl Core {
    pub(crate) async fn get_lead(&self, id: &LeadId) -> Result<LeadDoc, StoreError> {
        match self.api.send(Call::get(doc_path(&self.db, LEADS, id.as_str())?)).await {
            Ok(doc) => Ok(LeadDoc::from_json(&doc)?),
            Err(e) if e.status() == Some(404) => Err(StoreError::LeadNotFound(id.clone())),
            Err(e) => Err(e.into()),
        }
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
                let doc = self.api.send(Call::get(doc_path(&self.db, CLAIMS, &id)?)).await?;
                let stored = Transition::from_json(&doc)?;
                if stored.lead_id != t.lead_id || stored.version != t.version {
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

    /// Applies claim document `t` to its lead (idempotent; any replica may do it). Returns the
    /// lead as it stands afterwards.
    pub(crate) async fn apply(&self, t: &Transition) -> Result<LeadDoc, StoreError> {
        let path = doc_path(&self.db, LEADS, t.lead_id.as_str())?;
        for _ in 0..ROUNDS {
            let doc = self.get_lead(&t.lead_id).await?;
            if doc.lead.version > t.version {
                return Ok(doc); // applied already (by us or a helper), or moved on since
            }
            if doc.lead.version < t.version {
                return Err(StoreError::Internal(format!(
                    "lead {} is at version {} below its claim document's {}",
                    t.lead_id, doc.lead.version, t.version
                )));
            }
            let call = Call::patch(path.clone(), json!({"data": t.lead_update()})).timestamp(&doc.updated_at_raw);
            match self.api.send(call).await {
                Ok(json) => {
                    tracing::debug!(lead = %t.lead_id, version = t.version + 1, "applied the claim document");
                    return Ok(LeadDoc::from_json(&json)?);
                }
                Err(e) if e.is("document_update_conflict") => {
                    tracing::debug!(lead = %t.lead_id, "the lead changed since it was read; re-reading");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Unavailable(format!("lead {} keeps changing; try again", t.lead_id)))
    }

    pub(crate) async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
    ) -> Result<ClaimReply, StoreError> {
        let request_id = random_id();
        // The version whose claim document we created.
        let mut mine: Option<u64> = None;
        for _ in 0..ROUNDS {
            let doc = self.get_lead(id).await?;
            let lead = &doc.lead;
            if lead.assignee.is_some() {
                let now = now_ms();
                let outcome = if lead.is_held_by(by) && mine.is_some_and(|v| lead.version == v + 1) {
                    ClaimOutcome::Won
                } else {
                    judge_unapplied(lead, by, now).expect("the lead is held")
                };
                return Ok(self.decided(&request_id, by, received_at, now, outcome, doc).await);
            }
            let t = Transition {
                lead_id: id.clone(),
                version: lead.version,
                kind: Kind::Claim,
                assignee: Some(by.clone()),
                actor: by.clone(),
                request_id: request_id.clone(),
                at: now_ms(),
            };
            let stored = self.create_transition(&t).await?;
            if stored.request_id == request_id {
                mine = Some(t.version);
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

    /// Release (`to` = None) or reassign, fenced by the version the caller saw: the claim
    /// document of exactly that version must be ours.
    pub(crate) async fn fenced(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &UserInfo,
        to: Option<&Account>,
    ) -> Result<Lead, StoreError> {
        let request_id = random_id();
        let doc = self.get_lead(id).await?;
        let rule = match to {
            None => check_release(&doc.lead, seen_version, actor),
            Some(to) => check_reassign(&doc.lead, seen_version, to, actor),
        };
        rule.map_err(|rule| StoreError::Rejected { rule, current: Box::new(doc.lead.clone()) })?;
        let t = Transition {
            lead_id: id.clone(),
            version: doc.lead.version,
            kind: if to.is_some() { Kind::Reassign } else { Kind::Release },
            assignee: to.map(|a| a.username.clone()),
            actor: actor.username.clone(),
            request_id: request_id.clone(),
            at: now_ms(),
        };
        let stored = self.create_transition(&t).await?;
        let after = self.apply(&stored).await?;
        if stored.request_id != request_id {
            // Someone else changed this version first (a claim, another manager).
            self.mirror.observe(&after, None, now_ms());
            return Err(StoreError::Rejected {
                rule: RuleError::StaleVersion { current: after.lead.version },
                current: Box::new(after.lead),
            });
        }
        // Verify: read back; the lead must be at least at the version our document made.
        let back = self.get_lead(id).await?;
        let shown = if stored.applied_in(&back.lead) { back } else { after };
        if !stored.applied_in(&shown.lead) && shown.lead.version <= stored.version {
            return Err(StoreError::Internal(format!("lead {id} does not show its claim document")));
        }
        self.mirror.observe(&shown, Some(&actor.username), now_ms());
        Ok(shown.lead)
    }
}
