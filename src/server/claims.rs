//! Where claims are decided: the claim service in front of the store. The store's atomic write
//! picks the winner; this layer times it, traces it, counts it, and refuses to report a `won`
//! that the returned lead does not confirm. Every claim, release and reassign runs in its own
//! `tracing` span (`claim`, `release`, `reassign`) that records its outcome and latency.

use super::metrics::{ClaimResult, ConflictOp, Metrics};
use super::now_ms;
use super::store::{LeadStore, StoreError};
use crate::domain::{ClaimOutcome, ClaimReply, Lead, LeadId, RuleError, UserInfo, Username};
use std::sync::Arc;
use std::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

pub struct Claims {
    store: Arc<dyn LeadStore>,
    metrics: Arc<Metrics>,
}

impl Claims {
    pub fn new(store: Arc<dyn LeadStore>, metrics: Arc<Metrics>) -> Self {
        Self { store, metrics }
    }

    pub async fn claim(&self, id: &LeadId, user: &UserInfo) -> Result<ClaimReply, StoreError> {
        let span = tracing::info_span!("claim", lead = %id, user = %user.username, outcome = Empty, latency_us = Empty);
        async {
            let started = Instant::now();
            let result = match self.store.claim(id, &user.username, now_ms()).await {
                Ok(reply) => verify(&reply, &user.username)
                    .map(|()| reply)
                    .inspect_err(|_| self.metrics.store_error("claim_verify")),
                Err(e) => Err(e),
            };
            let elapsed = started.elapsed();
            let counted = match &result {
                Ok(reply) => match reply.outcome {
                    ClaimOutcome::Won => ClaimResult::Won,
                    ClaimOutcome::Lost { .. } => ClaimResult::Lost,
                    ClaimOutcome::AlreadyYours => ClaimResult::AlreadyYours,
                },
                Err(StoreError::LeadNotFound(_)) => ClaimResult::NotFound,
                Err(_) => ClaimResult::Error,
            };
            self.metrics.claim(counted);
            if counted == ClaimResult::Lost {
                self.metrics.conflict(ConflictOp::Claim);
            }
            // Refusals of unknown leads never reached a decision: only decided (or failed) claims
            // are timed.
            if counted != ClaimResult::NotFound {
                self.metrics.claim_duration.observe(elapsed);
            }
            let span = tracing::Span::current();
            span.record("outcome", counted.label());
            span.record("latency_us", elapsed.as_micros() as u64);
            match &result {
                Ok(reply) => tracing::info!(version = reply.lead.version, "claim decided"),
                Err(StoreError::LeadNotFound(_)) => tracing::info!("claim refused: no such lead"),
                Err(e) => tracing::warn!(error = %e, "claim failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    pub async fn release(&self, id: &LeadId, seen_version: u64, user: &UserInfo) -> Result<Lead, StoreError> {
        let span = tracing::info_span!("release", lead = %id, user = %user.username, seen_version, outcome = Empty, latency_us = Empty);
        async {
            let started = Instant::now();
            let result = self.store.release(id, seen_version, user).await;
            self.finish(ConflictOp::Release, &result, started);
            result
        }
        .instrument(span)
        .await
    }

    pub async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        user: &UserInfo,
    ) -> Result<Lead, StoreError> {
        let span = tracing::info_span!(
            "reassign", lead = %id, user = %user.username, to = %to, seen_version, outcome = Empty, latency_us = Empty
        );
        async {
            let started = Instant::now();
            let result = self.store.reassign(id, seen_version, to, user).await;
            self.finish(ConflictOp::Reassign, &result, started);
            result
        }
        .instrument(span)
        .await
    }

    /// Records how a release or reassign ended, in its span and the metrics.
    fn finish(&self, op: ConflictOp, result: &Result<Lead, StoreError>, started: Instant) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(StoreError::Rejected { rule: RuleError::NotYours | RuleError::ManagersOnly, .. }) => "forbidden",
            Err(StoreError::Rejected { .. }) => "conflict",
            Err(StoreError::LeadNotFound(_) | StoreError::UserNotFound(_)) => "not_found",
            Err(_) => "error",
        };
        if outcome == "conflict" {
            self.metrics.conflict(op);
        }
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        span.record("latency_us", started.elapsed().as_micros() as u64);
        match result {
            Ok(lead) => tracing::info!(version = lead.version, "done"),
            Err(e) if outcome == "error" => tracing::warn!(error = %e, "failed"),
            Err(e) => tracing::info!(reason = %e, "refused"),
        }
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
