//! The fenced transitions of a held lead: release, reassign, extend, outcome and expiry. Each is
//! checked against the lead as it stands and made only out of the version the caller saw; its
//! claim document's ID is derived from that version, so of two transitions out of one version
//! (a late extend and the expiry, an outcome and a manager's release, two replicas' expiry
//! passes) Appwrite's insert-if-absent lets exactly one be made.

use super::docs::Transition;
use super::Core;
use crate::domain::claim::check_expire;
use crate::domain::Step;
use crate::domain::{Lead, LeadId, Millis, RuleError, Username};
use crate::server::now_ms;
use crate::server::store::StoreError;

/// Leads given back by one expiry pass at most; the next pass takes the rest.
const EXPIRY_BATCH: usize = 500;

impl Core {
    /// Makes `step` out of the version lead `id` stands at if `rule` (which checks that version
    /// is the one the caller saw) allows it at the time the call started. A refusal is answered
    /// only from a settled lead (the document may lag its claim documents).
    pub(crate) async fn fenced(
        &self,
        id: &LeadId,
        actor: &Username,
        rule: impl Fn(&Lead, Millis) -> Result<(), RuleError>,
        step: Step<'_>,
    ) -> Result<Lead, StoreError> {
        let now = now_ms();
        let doc = self.read_lead(id).await?;
        let doc = match rule(&doc.lead, now) {
            Ok(()) => doc,
            Err(_) => {
                let doc = self.settled(id).await?;
                rule(&doc.lead, now)
                    .map_err(|rule| StoreError::Rejected { rule, current: Box::new(doc.lead.clone()) })?;
                doc
            }
        };
        let t = Transition::step(&doc, actor, step);
        let stored = self.create_transition(&t).await?;
        self.apply(&stored).await?;
        if stored.request_id != t.request_id {
            // Someone else changed this version first (a claim, another manager, an expiry).
            let now = self.settled(id).await?;
            self.mirror.observe(&now, None, now_ms());
            return Err(StoreError::Rejected {
                rule: RuleError::StaleVersion { current: now.lead.version },
                current: Box::new(now.lead),
            });
        }
        // Verify: read back; the lead must show our claim document, or have moved past it.
        let back = self.read_lead(id).await?;
        if back.incarnation != stored.incarnation || back.lead.version <= stored.version {
            return Err(StoreError::Internal(format!("lead {id} does not show its claim document")));
        }
        if stored.applied_in(&back.lead) {
            self.mirror.observe(&back, Some(actor), now_ms());
            return Ok(back.lead);
        }
        self.mirror.observe(&back, None, now_ms());
        Ok(stored.applied_to(&doc.lead))
    }

    /// Gives back the leads this replica sees with a lease that ran out by `now`. Every replica
    /// runs this pass; each lead is given back once, by whichever gets there first.
    pub(crate) async fn expire_due(&self, now: Millis) -> Result<usize, StoreError> {
        let (_, mut due) = self.mirror.snapshot();
        due.retain(|l| check_expire(l, l.version, now).is_ok());
        due.sort_by_key(|l| l.lease_until);
        let (mut expired, mut failed) = (0, None);
        for lead in due.iter().take(EXPIRY_BATCH) {
            let Some(holder) = &lead.assignee else { continue };
            let rule = |current: &Lead, _| check_expire(current, lead.version, now);
            match self.fenced(&lead.id, holder, rule, Step::Expire).await {
                Ok(_) => expired += 1,
                // Extended, released or given back by another replica first.
                Err(StoreError::Rejected { .. } | StoreError::LeadNotFound(_)) => {}
                // One lead that fails must not keep the others' leases running.
                Err(e) => {
                    tracing::warn!(lead = %lead.id, error = %e, "could not give back a lead whose lease ran out");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) if expired == 0 => Err(e),
            _ => Ok(expired),
        }
    }
}
