//! A store port (`dyn LeadStore` or `dyn AccountStore`) wrapped to count its failures, by
//! operation, in `leadboard_store_errors_total{op}`. Rule refusals are answers, not failures.

use super::{AccountStore, LeadStore, StoreError, Verified};
use crate::domain::{
    Account, AccountChange, BoardEvent, ClaimReply, ClaimTerms, Lead, LeadId, Millis, NewLead, Note, Outcome, Password,
    Role, UserInfo, Username,
};
use crate::protocol::Snapshot;
use crate::server::metrics::{Metrics, StoreOp};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Metered<S: ?Sized> {
    inner: Arc<S>,
    metrics: Arc<Metrics>,
}

impl<S: ?Sized> Metered<S> {
    pub fn new(inner: Arc<S>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(&self, op: StoreOp, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.as_ref().is_err_and(StoreError::is_failure) {
            self.metrics.store_error(op);
        }
        r
    }
}

#[async_trait]
impl LeadStore for Metered<dyn LeadStore> {
    fn stream(&self) -> &str {
        self.inner.stream()
    }
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.count(StoreOp::Snapshot, self.inner.snapshot().await)
    }
    async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<ClaimReply, StoreError> {
        self.count(StoreOp::Claim, self.inner.claim(id, by, received_at, terms).await)
    }
    async fn claim_next(
        &self,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<Option<ClaimReply>, StoreError> {
        self.count(StoreOp::ClaimNext, self.inner.claim_next(by, received_at, terms).await)
    }
    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        self.count(StoreOp::Release, self.inner.release(id, seen_version, actor).await)
    }
    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        self.count(StoreOp::Reassign, self.inner.reassign(id, seen_version, to, actor, terms).await)
    }
    async fn extend(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        self.count(StoreOp::Extend, self.inner.extend(id, seen_version, actor, terms).await)
    }
    async fn record_outcome(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        outcome: Outcome,
        note: &Note,
    ) -> Result<Lead, StoreError> {
        self.count(StoreOp::RecordOutcome, self.inner.record_outcome(id, seen_version, actor, outcome, note).await)
    }
    async fn expire_due(&self, now: Millis) -> Result<usize, StoreError> {
        self.count(StoreOp::ExpireDue, self.inner.expire_due(now).await)
    }
    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError> {
        self.count(StoreOp::EventsAfter, self.inner.events_after(after_seq, limit).await)
    }
    async fn latest_seq(&self) -> Result<u64, StoreError> {
        self.count(StoreOp::LatestSeq, self.inner.latest_seq().await)
    }
    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.count(StoreOp::RecentEvents, self.inner.recent_events(limit).await)
    }
    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError> {
        self.count(StoreOp::AddLeads, self.inner.add_leads(leads, actor).await)
    }
    async fn history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.count(StoreOp::History, self.inner.history(from, to, limit).await)
    }
    async fn outcome_history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.count(StoreOp::OutcomeHistory, self.inner.outcome_history(from, to, limit).await)
    }
    async fn lead_events(&self, id: &LeadId, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.count(StoreOp::LeadEvents, self.inner.lead_events(id, limit).await)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.count(StoreOp::Ping, self.inner.ping().await)
    }
}

#[async_trait]
impl AccountStore for Metered<dyn AccountStore> {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError> {
        self.count(StoreOp::AddUser, self.inner.add_user(username, role, password).await)
    }
    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Verified>, StoreError> {
        self.count(StoreOp::VerifyPassword, self.inner.verify_password(login, password).await)
    }
    async fn login_key(&self, login: &str) -> Result<String, StoreError> {
        self.count(StoreOp::LoginKey, self.inner.login_key(login).await)
    }
    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError> {
        self.count(StoreOp::User, self.inner.user(username).await)
    }
    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        self.count(StoreOp::Users, self.inner.users().await)
    }
    async fn update_user(&self, username: &Username, change: AccountChange) -> Result<Account, StoreError> {
        self.count(StoreOp::UpdateUser, self.inner.update_user(username, change).await)
    }
    async fn create_session(
        &self,
        token_hash: &str,
        verified: &Verified,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        self.count(StoreOp::CreateSession, self.inner.create_session(token_hash, verified, expires_at).await)
    }
    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError> {
        self.count(StoreOp::SessionUser, self.inner.session_user(token_hash, now).await)
    }
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.count(StoreOp::DeleteSession, self.inner.delete_session(token_hash).await)
    }
}
