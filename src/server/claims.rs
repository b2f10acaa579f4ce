//! Where claims are decided: the claim service in front of the store. The store's atomic write
//! picks the winner; this layer times it, traces it, and refuses to report a `won` that the
//! returned lead does not confirm.

use super::now_ms;
use super::store::{LeadStore, StoreError};
use crate::domain::{ClaimOutcome, ClaimReply, Lead, LeadId, UserInfo, Username};
use std::sync::Arc;
use tracing::Instrument;

pub struct Claims {
    store: Arc<dyn LeadStore>,
}

impl Claims {
    pub fn new(store: Arc<dyn LeadStore>) -> Self {
        Self { store }
    }

    pub async fn claim(&self, id: &LeadId, user: &UserInfo) -> Result<ClaimReply, StoreError> {
        let span = tracing::info_span!("claim", lead = %id, user = %user.username, outcome = tracing::field::Empty);
        async {
            let started = std::time::Instant::now();
            let reply = self.store.claim(id, &user.username, now_ms()).await?;
            verify(&reply, &user.username)?;
            tracing::Span::current().record("outcome", reply.outcome.label());
            tracing::info!(latency_us = started.elapsed().as_micros() as u64, version = reply.lead.version, "claim decided");
            Ok(reply)
        }
        .instrument(span)
        .await
    }

    pub async fn release(&self, id: &LeadId, seen_version: u64, user: &UserInfo) -> Result<Lead, StoreError> {
        let span = tracing::info_span!("release", lead = %id, user = %user.username, seen_version);
        async {
            let lead = self.store.release(id, seen_version, user).await?;
            tracing::info!(version = lead.version, "released");
            Ok(lead)
        }
        .instrument(span)
        .await
    }

    pub async fn reassign(&self, id: &LeadId, seen_version: u64, to: &Username, user: &UserInfo) -> Result<Lead, StoreError> {
        let span = tracing::info_span!("reassign", lead = %id, user = %user.username, to = %to, seen_version);
        async {
            let lead = self.store.reassign(id, seen_version, to, user).await?;
            tracing::info!(version = lead.version, "reassigned");
            Ok(lead)
        }
        .instrument(span)
        .await
    }
}

/// The store's answer must agree with itself: a win is only a win if the lead names the winner.
fn verify(reply: &ClaimReply, claimant: &Username) -> Result<(), StoreError> {
    let consistent = match &reply.outcome {
        ClaimOutcome::Won | ClaimOutcome::AlreadyYours => reply.lead.is_held_by(claimant),
        ClaimOutcome::Lost { winner, .. } => reply.lead.is_held_by(winner) && winner != claimant,
    };
    if consistent {
        Ok(())
    } else {
        tracing::error!(?reply, "store returned an inconsistent claim result");
        Err(StoreError::Internal("the claim could not be verified".into()))
    }
}
