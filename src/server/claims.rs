//! Where claims are decided: the claim service in front of the store. The store's atomic write
//! picks the winner (and applies the team's terms: leases and caps); this layer applies the
//! per-user claim rate limit, times, traces and counts every attempt, and refuses to report a
//! `won` that the returned lead does not confirm. Every claim, "Next lead", release, reassign,
//! extend and outcome runs in its own `tracing` span (`claim`, `next`, `release`, `reassign`,
//! `extend`, `outcome`) that records how it ended and its latency; so does every expiry pass
//! (`expire`), which gives back the leads whose lease ran out.

use super::metrics::{ClaimResult, ConflictOp, Metrics, StoreOp};
use super::now_ms;
use super::security::{too_many, RateLimiter};
use super::store::{ErrorKind, LeadStore, StoreError};
use crate::domain::{
    ClaimOutcome, ClaimReply, ClaimTerms, Lead, LeadId, NextReply, Note, Outcome, RuleError, UserInfo, Username,
};
use crate::error::ApiError;
use std::sync::Arc;
use std::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

pub struct Claims {
    store: Arc<dyn LeadStore>,
    metrics: Arc<Metrics>,
    /// Claim attempts per user.
    limit: RateLimiter,
    terms: ClaimTerms,
}

/// How a release or reassign ended, as its span records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Changed {
    Ok,
    Forbidden,
    Conflict,
    NotFound,
    Error,
}

impl Changed {
    fn of(result: &Result<Lead, StoreError>) -> Self {
        match result.as_ref().map_err(StoreError::kind) {
            Ok(_) => Changed::Ok,
            Err(ErrorKind::Forbidden) => Changed::Forbidden,
            Err(ErrorKind::Conflict) => Changed::Conflict,
            Err(ErrorKind::NotFound) => Changed::NotFound,
            Err(ErrorKind::Invalid | ErrorKind::Unavailable | ErrorKind::Internal) => Changed::Error,
        }
    }
}

impl Claims {
    pub fn new(store: Arc<dyn LeadStore>, metrics: Arc<Metrics>, limit: RateLimiter, terms: ClaimTerms) -> Self {
        Self { store, metrics, limit, terms }
    }

    /// The terms every claim is made on.
    pub fn terms(&self) -> ClaimTerms {
        self.terms
    }

    pub async fn claim(&self, id: &LeadId, user: &UserInfo) -> Result<ClaimReply, ApiError> {
        self.take_attempt(user)?;
        let span = tracing::info_span!("claim", lead = %id, user = %user.username, outcome = Empty, latency_us = Empty);
        self.decide(span, user, self.store.claim(id, &user.username, now_ms(), &self.terms)).await
    }

    /// "Next lead": claims the first open lead in the team's order for `user`.
    pub async fn next(&self, user: &UserInfo) -> Result<NextReply, ApiError> {
        self.take_attempt(user)?;
        let span =
            tracing::info_span!("next", user = %user.username, lead = Empty, outcome = Empty, latency_us = Empty);
        let picked =
            async { self.store.claim_next(&user.username, now_ms(), &self.terms).await?.ok_or(StoreError::NoneOpen) };
        let claim = self.decide(span, user, picked).await?;
        Ok(NextReply { claim, reason: self.terms.next_order.reason().into() })
    }

    /// The per-user claim rate limit, which "Next lead" shares with claims.
    fn take_attempt(&self, user: &UserInfo) -> Result<(), ApiError> {
        self.limit.take(user.username.as_str()).map_err(|wait_s| {
            self.metrics.claim(ClaimResult::RateLimited);
            too_many("claim attempts", wait_s)
        })
    }

    /// Runs a claim in its span: verifies a `won`, counts and times the outcome.
    async fn decide(
        &self,
        span: tracing::Span,
        user: &UserInfo,
        claim: impl std::future::Future<Output = Result<ClaimReply, StoreError>>,
    ) -> Result<ClaimReply, ApiError> {
        async {
            let started = Instant::now();
            let result = match claim.await {
                Ok(reply) => verify(&reply, &user.username)
                    .map(|()| reply)
                    .inspect_err(|_| self.metrics.store_error(StoreOp::ClaimVerify)),
                Err(e) => Err(e),
            };
            let elapsed = started.elapsed();
            let counted = match &result {
                Ok(reply) => match reply.outcome {
                    ClaimOutcome::Won => ClaimResult::Won,
                    ClaimOutcome::Lost { .. } => ClaimResult::Lost,
                    ClaimOutcome::AlreadyYours => ClaimResult::AlreadyYours,
                },
                Err(StoreError::Rejected { rule: RuleError::CapReached { .. }, .. }) => ClaimResult::Capped,
                Err(StoreError::NoneOpen) => ClaimResult::NoneOpen,
                Err(e) if e.kind() == ErrorKind::NotFound => ClaimResult::NotFound,
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
            if let Ok(reply) = &result {
                span.record("lead", reply.lead.id.as_str());
            }
            span.record("outcome", <&str>::from(counted));
            span.record("latency_us", elapsed.as_micros() as u64);
            match &result {
                Ok(reply) => tracing::info!(version = reply.lead.version, "claim decided"),
                Err(StoreError::LeadNotFound(_)) => tracing::info!("claim refused: no such lead"),
                Err(e @ (StoreError::Rejected { .. } | StoreError::NoneOpen)) => {
                    tracing::info!(reason = %e, "claim refused")
                }
                Err(e) => tracing::warn!(error = %e, "claim failed"),
            }
            Ok(result?)
        }
        .instrument(span)
        .await
    }

    pub async fn release(&self, id: &LeadId, seen_version: u64, user: &UserInfo) -> Result<Lead, ApiError> {
        let span = tracing::info_span!(
            "release", lead = %id, user = %user.username, seen_version, outcome = Empty, latency_us = Empty
        );
        self.fenced(ConflictOp::Release, span, self.store.release(id, seen_version, user)).await
    }

    pub async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        user: &UserInfo,
    ) -> Result<Lead, ApiError> {
        let span = tracing::info_span!(
            "reassign", lead = %id, user = %user.username, to = %to, seen_version, outcome = Empty, latency_us = Empty
        );
        self.fenced(ConflictOp::Reassign, span, self.store.reassign(id, seen_version, to, user, &self.terms)).await
    }

    /// The holder starts a fresh lease on a lead they hold, against the version they saw.
    pub async fn extend(&self, id: &LeadId, seen_version: u64, user: &UserInfo) -> Result<Lead, ApiError> {
        let span = tracing::info_span!(
            "extend", lead = %id, user = %user.username, seen_version, outcome = Empty, latency_us = Empty
        );
        self.fenced(ConflictOp::Extend, span, self.store.extend(id, seen_version, &user.username, &self.terms)).await
    }

    /// The holder records what happened with a lead they hold, against the version they saw.
    pub async fn record_outcome(
        &self,
        id: &LeadId,
        seen_version: u64,
        outcome: Outcome,
        note: &Note,
        user: &UserInfo,
    ) -> Result<Lead, ApiError> {
        let span = tracing::info_span!(
            "outcome", lead = %id, user = %user.username, seen_version, recorded = outcome.as_str(),
            outcome = Empty, latency_us = Empty
        );
        let change = self.store.record_outcome(id, seen_version, &user.username, outcome, note);
        self.fenced(ConflictOp::Outcome, span, change).await
    }

    /// Runs a fenced change (release, reassign, extend, outcome) in its span, timed and counted.
    async fn fenced(
        &self,
        op: ConflictOp,
        span: tracing::Span,
        change: impl std::future::Future<Output = Result<Lead, StoreError>>,
    ) -> Result<Lead, ApiError> {
        async {
            let started = Instant::now();
            let result = change.await;
            self.finish(op, &result, started);
            Ok(result?)
        }
        .instrument(span)
        .await
    }

    /// One expiry pass: every lead whose lease ran out by now goes back to the pool.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let span = tracing::info_span!("expire", given_back = Empty, latency_us = Empty);
        async {
            let started = Instant::now();
            let result = self.store.expire_due(now_ms()).await;
            let span = tracing::Span::current();
            span.record("latency_us", started.elapsed().as_micros() as u64);
            match &result {
                Ok(0) => {}
                Ok(n) => {
                    span.record("given_back", n);
                    tracing::info!(given_back = n, "leases ran out");
                }
                Err(e) => tracing::warn!(error = %e, "expiry pass failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Records how a fenced change ended, in its span and the metrics.
    fn finish(&self, op: ConflictOp, result: &Result<Lead, StoreError>, started: Instant) {
        let outcome = Changed::of(result);
        if outcome == Changed::Conflict {
            self.metrics.conflict(op);
        }
        let span = tracing::Span::current();
        span.record("outcome", <&str>::from(outcome));
        span.record("latency_us", started.elapsed().as_micros() as u64);
        match result {
            Ok(lead) => tracing::info!(version = lead.version, "done"),
            Err(e) if outcome == Changed::Error => tracing::warn!(error = %e, "failed"),
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

/// Runs an expiry pass now (leases that ran out while the server was down are given back at
/// start) and then every `every`, until the service is gone. Every replica runs one; each lead's
/// expiry is one fenced transition, so passes that overlap give a lead back once.
pub async fn expiry_loop(claims: std::sync::Weak<Claims>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(claims) = claims.upgrade() else { return };
        // A failed pass is logged by its span and retried at the next tick.
        let _ = claims.expire_due().await;
    }
}
