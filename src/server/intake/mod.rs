//! How single leads get onto the board: a manager's form, or a website's form through the
//! intake API (`POST /api/v1/leads` with a token, `api`). Each lead is validated (`NewLead`) and
//! created through the store port with its `created` event, so every open board receives it.
//!
//! A retried post must not make a second lead: a lead without an `id` gets one derived from the
//! token and the request's `Idempotency-Key` (or, without a key, from its name, company, email
//! and phone), so the retry names the same lead and the store keeps the first. A key is bound to
//! the first valid request made with it: another body under the same key is refused (422).

pub mod api;
pub mod tokens;

use super::now_ms;
use super::store::{LeadStore, TokenStore};
use super::transfer::import::derived_id;
use crate::domain::{ApiToken, LeadId, LeadInput, NewLead, UserInfo, Username};
use crate::error::ApiError;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;

/// Leads one API request may carry.
pub const MAX_BATCH: usize = 100;

pub struct LeadIntake {
    store: Arc<dyn LeadStore>,
    /// Where each idempotency key's first request is recorded.
    requests: Arc<dyn TokenStore>,
}

/// What became of one lead of an API request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Added {
    pub id: LeadId,
    /// False when the lead was there already (a retried request).
    pub created: bool,
}

impl LeadIntake {
    pub fn new(store: Arc<dyn LeadStore>, requests: Arc<dyn TokenStore>) -> Self {
        Self { store, requests }
    }

    /// Adds one lead; an ID that is taken is a conflict (nothing is overwritten).
    pub async fn add_one(&self, by: &UserInfo, lead: NewLead) -> Result<LeadId, ApiError> {
        let id = lead.id.clone();
        match self.store.add_leads(vec![lead], &by.username).await? {
            0 => Err(ApiError::Conflict { message: format!("lead {id} already exists"), lead: None }),
            _ => Ok(id),
        }
    }

    /// Adds the leads of one API request, all or none: any invalid lead refuses the request,
    /// naming it and its fields. Leads that exist already are reported as not created.
    pub async fn add_from_api(
        &self,
        token: &ApiToken,
        idempotency_key: Option<&str>,
        inputs: Vec<LeadInput>,
    ) -> Result<Vec<Added>, ApiError> {
        if inputs.is_empty() || inputs.len() > MAX_BATCH {
            return Err(ApiError::BadRequest(format!("send 1 to {MAX_BATCH} leads, not {}", inputs.len())));
        }
        let many = inputs.len() > 1;
        let fingerprint = tokens::hash(&serde_json::to_string(&inputs).map_err(|e| ApiError::Internal(e.to_string()))?);
        let mut leads = Vec::with_capacity(inputs.len());
        let mut problems = Vec::new();
        for (i, mut input) in inputs.into_iter().enumerate() {
            if input.id.as_deref().is_none_or(|id| id.trim().is_empty()) {
                input.id = Some(api_lead_id(token, idempotency_key, i, &input).to_string());
            }
            match NewLead::from_input(&input) {
                Ok(lead) => leads.push(lead),
                Err(errors) if many => problems.push(format!("lead {}: {errors}", i + 1)),
                Err(errors) => problems.push(errors.to_string()),
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::BadRequest(problems.join("; ")));
        }
        if let Some(key) = idempotency_key {
            let first = self.requests.first_request(&token.id, key, &fingerprint, now_ms()).await?;
            if first != fingerprint {
                return Err(ApiError::UnprocessableEntity(format!(
                    "Idempotency-Key {key:?} was used before with another body: send that body again, or use a new key"
                )));
            }
        }
        let ids: Vec<LeadId> = leads.iter().map(|l| l.id.clone()).collect();
        // Which of a batch are there already; one lead is told exactly by the store's count.
        let existed: HashSet<String> = match many {
            true => self.store.snapshot().await?.leads.iter().map(|l| l.id.folded()).collect(),
            false => HashSet::new(),
        };
        let added = self.store.add_leads(leads, &api_actor(token)?).await?;
        tracing::info!(token = %token.id, leads = ids.len(), added, "intake API leads");
        Ok(ids
            .into_iter()
            .map(|id| Added { created: if many { !existed.contains(&id.folded()) } else { added == 1 }, id })
            .collect())
    }
}

/// Who the board's feed names for a token's leads: `api-` and the token's ID.
fn api_actor(token: &ApiToken) -> Result<Username, ApiError> {
    Username::parse(format!("api-{}", token.id.to_ascii_lowercase())).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The ID of an API lead sent without one: the same for the same retried request.
fn api_lead_id(token: &ApiToken, key: Option<&str>, index: usize, input: &LeadInput) -> LeadId {
    match key {
        Some(key) => derived_id('a', &[&token.id, key, &index.to_string()]),
        None => {
            let folded = |s: &Option<String>| s.as_deref().unwrap_or("").trim().to_lowercase();
            let parts = [&input.name, &input.company, &input.email, &input.phone].map(folded);
            derived_id('a', &parts.each_ref().map(String::as_str))
        }
    }
}
