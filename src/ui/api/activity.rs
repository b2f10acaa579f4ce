//! Reading back what happened: the manager's feed, one lead's history, the team's outcomes.

use crate::domain::{BoardEvent, LeadId, OutcomeReport};
use crate::error::ApiError;
use crate::protocol::LeadHistory;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// `POST /api/activity {}` (managers): the latest events, oldest first.
#[server(prefix = "/api", endpoint = "activity", input = Json)]
pub async fn recent_activity() -> Result<Vec<BoardEvent>, ApiError> {
    use crate::server::{auth, AppState};
    const FEED_ON_LOAD: usize = 100;
    auth::require_manager().await?;
    Ok(AppState::current()?.leads.recent_events(FEED_ON_LOAD).await?)
}

/// `POST /api/leads/history {"lead_id"}`: a lead and its history, for everyone on the team (so
/// nobody calls a person a colleague already called).
#[server(prefix = "/api", endpoint = "leads/history", input = Json)]
pub async fn lead_page(lead_id: LeadId) -> Result<LeadHistory, ApiError> {
    use crate::server::{auth, AppState};
    auth::current_user().await?;
    AppState::current()?.activity.lead_history(&lead_id).await
}

/// `POST /api/outcomes {"days"}` (managers): each person's outcomes of the last `days` days and
/// their median time from claim to first outcome.
#[server(prefix = "/api", endpoint = "outcomes", input = Json)]
pub async fn team_outcomes(days: u32) -> Result<OutcomeReport, ApiError> {
    use crate::server::{auth, AppState};
    auth::require_manager().await?;
    AppState::current()?.activity.outcomes(days).await
}
