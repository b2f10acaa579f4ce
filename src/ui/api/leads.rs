//! Reading the board and changing leads: claim, next lead, release, extend, outcome, reassign, add.

use crate::domain::{ClaimReply, Lead, LeadId, NextReply, Note, Outcome, Username};
use crate::error::ApiError;
use crate::protocol::Board;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// `POST /api/leads {}`: every lead, with the event sequence the list reflects (resume the
/// websocket from there), the claim terms and the server's clock.
#[server(prefix = "/api", endpoint = "leads", input = Json)]
pub async fn list_leads() -> Result<Board, ApiError> {
    use crate::server::{auth, now_ms, AppState};
    auth::current_user().await?;
    let state = AppState::current()?;
    let snapshot = state.leads.snapshot().await?;
    Ok(Board { snapshot, terms: state.claims.terms(), now: now_ms() })
}

/// `POST /api/claim {"lead_id"}`: exactly one concurrent claimant of an open lead wins.
#[server(prefix = "/api", endpoint = "claim", input = Json)]
pub async fn claim(lead_id: LeadId) -> Result<ClaimReply, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.claim(&lead_id, &user).await
}

/// `POST /api/next {}`: "Next lead": claims the first open lead in the team's order, and says
/// why that one.
#[server(prefix = "/api", endpoint = "next", input = Json)]
pub async fn next_lead() -> Result<NextReply, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.next(&user).await
}

/// `POST /api/release {"lead_id","version"}`: the holder (or a manager) gives a lead back,
/// against the version they saw.
#[server(prefix = "/api", endpoint = "release", input = Json)]
pub async fn release(lead_id: LeadId, version: u64) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.release(&lead_id, version, &user).await
}

/// `POST /api/extend {"lead_id","version"}`: the holder starts a fresh lease, against the version
/// they saw, a limited number of times.
#[server(prefix = "/api", endpoint = "extend", input = Json)]
pub async fn extend(lead_id: LeadId, version: u64) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.extend(&lead_id, version, &user).await
}

/// `POST /api/outcome {"lead_id","version","outcome","note"}`: the holder records what happened
/// (`note` may be left out), against the version they saw.
#[server(prefix = "/api", endpoint = "outcome", input = Json)]
pub async fn record_outcome(
    lead_id: LeadId,
    version: u64,
    outcome: Outcome,
    #[server(default)] note: Note,
) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.record_outcome(&lead_id, version, outcome, &note, &user).await
}

/// `POST /api/reassign {"lead_id","version","to"}` (managers): gives a lead to `to`, against the
/// version the manager saw.
#[server(prefix = "/api", endpoint = "reassign", input = Json)]
pub async fn reassign(lead_id: LeadId, version: u64, to: Username) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::require_manager().await?;
    AppState::current()?.claims.reassign(&lead_id, version, &to, &user).await
}

/// `POST /api/leads/add {"id","name","company","value"}` (managers): creates a lead.
#[server(prefix = "/api", endpoint = "leads/add", input = Json)]
pub async fn add_lead(id: String, name: String, company: String, value: u64) -> Result<LeadId, ApiError> {
    use crate::domain::NewLead;
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    let lead = NewLead::parse(&id, &name, &company, value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    AppState::current()?.intake.add_one(&manager, lead).await
}
