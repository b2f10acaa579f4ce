//! The store port: what the app needs from wherever leads live. Adapters: `sqlite` (the embedded
//! default) and `appwrite` (an Appwrite project shared by several app replicas). Every adapter
//! must make `claim` atomic in the store itself (a conditional write, or an insert-if-absent that
//! only one caller can win), never a read followed by a blind write.

pub mod appwrite;
mod metered;
mod passwords;
pub mod sqlite;

use crate::domain::{
    Account, AccountChange, ApiToken, BoardEvent, Change, ClaimReply, ClaimTerms, Lead, LeadId, Millis, NewLead, Note,
    Outcome, Password, Role, RuleError, UserInfo, Username,
};
pub use metered::Metered;

use crate::protocol::Snapshot;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no lead {0}")]
    LeadNotFound(LeadId),
    #[error("no user {0}")]
    UserNotFound(Username),
    #[error("{rule}")]
    Rejected { rule: RuleError, current: Box<Lead> },
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A new lead whose ID differs only in case from an existing one (`LeadId::folded`).
    #[error("lead ID {id} differs only in case from the existing lead {existing}; lead IDs ignore case")]
    LeadIdTaken { id: LeadId, existing: LeadId },
    /// "Next lead" found no open lead.
    #[error("no open lead is left")]
    NoneOpen,
    /// The change would break a rule about the accounts as a whole.
    #[error("{0}")]
    Conflict(String),
    /// The store refused a value the domain accepts (Appwrite's password rules, say).
    #[error("{0}")]
    Invalid(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("store failure: {0}")]
    Internal(String),
}

/// What a store error means for whoever asked: the one classification that the HTTP status, the
/// spans' outcomes and the failure metrics all follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    /// A rule says the caller may not (not theirs, managers only).
    Forbidden,
    /// The lead or the accounts are not in the state the change needs (stale version, exists).
    Conflict,
    /// A value the store refused.
    Invalid,
    /// The store did not answer; the caller may retry.
    Unavailable,
    /// The store failed.
    Internal,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::LeadNotFound(_) | StoreError::UserNotFound(_) => ErrorKind::NotFound,
            StoreError::Rejected { rule: RuleError::NotYours | RuleError::ManagersOnly, .. } => ErrorKind::Forbidden,
            StoreError::Rejected { .. }
            | StoreError::AlreadyExists(_)
            | StoreError::LeadIdTaken { .. }
            | StoreError::NoneOpen
            | StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Invalid(_) => ErrorKind::Invalid,
            StoreError::Unavailable(_) => ErrorKind::Unavailable,
            StoreError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The store failed to answer, as opposed to answering with a refusal.
    pub fn is_failure(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable | ErrorKind::Internal)
    }
}

/// A password check that passed: the account, and its credentials as the check saw them.
#[derive(Debug, Clone)]
pub struct Verified {
    pub account: Account,
    /// The account's credential version when its password was read (bumped by every password
    /// change and disable). A session is only created while it still holds, so a reset or
    /// disable that commits during a sign-in wins. `None` where the store keeps no version.
    pub credentials: Option<u64>,
}

/// Receives every committed event, in sequence order, after it commits.
pub trait EventSink: Send + Sync {
    fn publish(&self, event: &BoardEvent);
    /// Events committed together, in sequence order; a sink may pass them on as one.
    fn publish_all(&self, events: &[BoardEvent]) {
        events.iter().for_each(|ev| self.publish(ev));
    }
}

#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Names the event stream this store's sequence numbers belong to. A board that resumes with
    /// another stream's numbers gets a snapshot.
    fn stream(&self) -> &str;
    /// All leads and the sequence number they reflect, read consistently.
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// The atomic claim: exactly one concurrent caller on an open lead gets `won`, on `terms`: a
    /// lease from the decision on, and the claimant's cap checked in the same atomic decision
    /// (`RuleError::CapReached`). Records the attempt whatever its outcome.
    async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<ClaimReply, StoreError>;
    /// "Next lead": claims the first open lead in `terms.next_order` for `by`, skipping leads
    /// others win meanwhile, on the same terms as `claim`. None when no open lead is left.
    async fn claim_next(
        &self,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<Option<ClaimReply>, StoreError>;
    /// Releases a held lead, fenced by the version the caller saw (`domain::claim::check_release`).
    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError>;
    /// Gives a lead to `to` with a fresh lease, fenced by version (`domain::claim::check_reassign`).
    /// A manager's reassign is not held to `to`'s cap.
    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError>;
    /// Starts a fresh lease for the holder, fenced by version (`domain::claim::check_extend`).
    async fn extend(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError>;
    /// Records what happened with a held lead, fenced by version (`domain::claim::check_outcome`):
    /// with an `outcome` event carrying the note; the lease ends, and a closing outcome takes the
    /// lead out of the pool.
    async fn record_outcome(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        outcome: Outcome,
        note: &Note,
    ) -> Result<Lead, StoreError>;
    /// Gives every lead whose lease ran out by `now` back to the pool, each as one transition
    /// fenced by its version (so a late extend and the expiry cannot both win), with an `expired`
    /// event. Returns how many it gave back.
    async fn expire_due(&self, now: Millis) -> Result<usize, StoreError>;
    /// Up to `limit` events with sequence above `after_seq`, oldest first; None when the store no
    /// longer has them all (the board then needs a snapshot).
    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError>;
    /// The sequence number of the newest event (0 when there is none).
    async fn latest_seq(&self) -> Result<u64, StoreError>;
    /// The newest `limit` events, oldest first.
    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError>;
    /// Creates leads (skipping IDs that exist); returns how many were created. An ID that
    /// differs only in case from an existing lead's is refused (`StoreError::LeadIdTaken`).
    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError>;
    /// Up to `limit` events that happened in `from..to` (milliseconds), oldest first: the history
    /// an export hands on. Stores that keep only recent events answer from those.
    async fn history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        let recent = self.recent_events(limit).await?;
        Ok(recent.into_iter().filter(|e| (from..to).contains(&e.at)).collect())
    }
    /// The `outcome` events of `from..to`, oldest first, at most `limit`.
    async fn outcome_history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        let events = self.history(from, to, usize::MAX).await?;
        Ok(events.into_iter().filter(|e| e.change.kind() == Change::OUTCOME).take(limit).collect())
    }
    /// The newest `limit` events of lead `id`, oldest first: its history. Stores that keep only
    /// recent events answer from those.
    async fn lead_events(&self, id: &LeadId, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        let mut events: Vec<BoardEvent> =
            self.recent_events(usize::MAX).await?.into_iter().rev().filter(|e| &e.lead.id == id).take(limit).collect();
        events.reverse();
        Ok(events)
    }
    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Accounts and sessions. Whoever keeps the accounts checks the passwords: the SQLite adapter
/// keeps Argon2id hashes, the Appwrite adapter asks Appwrite's account API and keeps none.
#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError>;
    /// The account `login` names, if `password` is its password; disabled accounts included, so
    /// that the caller can say why they cannot sign in. `login` is a username (or, where the
    /// store has them, an email address). An unknown login takes as long as a wrong password.
    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Verified>, StoreError>;
    /// What the sign-in limits count `login` under: the same for every login of one account (its
    /// username and its email address, where the store has them).
    async fn login_key(&self, login: &str) -> Result<String, StoreError> {
        Ok(login.to_owned())
    }
    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError>;
    async fn users(&self) -> Result<Vec<Account>, StoreError>;
    /// Changes an account; disabling it or setting a password also deletes its sessions.
    async fn update_user(&self, username: &Username, change: AccountChange) -> Result<Account, StoreError>;
    /// Opens a session for the account a password check passed for, unless its credentials
    /// changed since (`StoreError::Conflict`), checked in the same write where the store has
    /// transactions.
    async fn create_session(&self, token_hash: &str, verified: &Verified, expires_at: Millis)
        -> Result<(), StoreError>;
    /// The user of an unexpired session of an enabled account.
    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// Intake API tokens, kept as hashes of their secrets.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: &ApiToken, secret_hash: &str) -> Result<(), StoreError>;
    /// Every token, revoked ones included, newest first.
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes a live token; false when there is no live token `id`.
    async fn revoke_token(&self, id: &str, at: Millis) -> Result<bool, StoreError>;
    /// The live token whose secret hashes to `secret_hash`, recorded as used at `now`.
    async fn use_token(&self, secret_hash: &str, now: Millis) -> Result<Option<ApiToken>, StoreError>;
    /// Records `fingerprint` as the request token `token_id` made with idempotency key `key`,
    /// unless one is recorded already; returns the recorded one (the first request's). Records
    /// are kept for the retention of the event log.
    async fn first_request(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
    ) -> Result<String, StoreError>;
}
