//! What happened to the leads, read back: one lead's history (its page) and the team's outcomes
//! over a period (the manager's board). Reads only; every change goes through `claims`.

use super::now_ms;
use super::store::LeadStore;
use crate::domain::{LeadId, Millis, OutcomeReport};
use crate::error::ApiError;
use crate::protocol::LeadHistory;
use std::sync::Arc;

/// Events one lead page shows at most (the newest).
const LEAD_EVENTS: usize = 500;
/// Outcome events one report tallies at most (the oldest of the period first).
const REPORT_EVENTS: usize = 100_000;
/// The longest period a report covers.
pub const MAX_REPORT_DAYS: u32 = 90;

pub struct Activity {
    store: Arc<dyn LeadStore>,
}

impl Activity {
    pub fn new(store: Arc<dyn LeadStore>) -> Self {
        Self { store }
    }

    /// The lead as it stands and its events, oldest first.
    pub async fn lead_history(&self, id: &LeadId) -> Result<LeadHistory, ApiError> {
        let snapshot = self.store.snapshot().await?;
        let lead = snapshot
            .leads
            .into_iter()
            .find(|l| &l.id == id)
            .ok_or_else(|| ApiError::NotFound(format!("no lead {id}")))?;
        let events = self.store.lead_events(id, LEAD_EVENTS).await?;
        Ok(LeadHistory { lead, events })
    }

    /// The outcomes of the last `days` days, per person.
    pub async fn outcomes(&self, days: u32) -> Result<OutcomeReport, ApiError> {
        if !(1..=MAX_REPORT_DAYS).contains(&days) {
            return Err(ApiError::BadRequest(format!("days must be 1 to {MAX_REPORT_DAYS}")));
        }
        const DAY_MS: Millis = 24 * 3600 * 1000;
        let to = now_ms() + 1;
        let from = to - Millis::from(days) * DAY_MS;
        let events = self.store.outcome_history(from, to, REPORT_EVENTS).await?;
        Ok(OutcomeReport::from_events(from, to, &events))
    }
}
