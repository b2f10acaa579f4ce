//! `POST /api/v1/leads`: the intake API for websites' forms and other systems. Authorised by an
//! intake token (`Authorization: Bearer lbt_...`), which can do nothing else. The body is one
//! lead or `{"leads": [...]}` (up to 100); an `Idempotency-Key` header makes a retried request
//! name the same leads, so it creates nothing twice. Answers 201 with the leads' IDs when any
//! was created, 200 when all were there already.

use super::Added;
use crate::domain::{LeadInput, Millis};
use crate::error::ApiError;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/leads", post(add_leads))
}

/// One lead as the API takes it: only `name` and `company` are required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiLead {
    id: Option<String>,
    name: Option<String>,
    company: Option<String>,
    value: Option<u64>,
    contact: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// Unix milliseconds; the time of the request when absent.
    created_at: Option<Millis>,
}

impl From<ApiLead> for LeadInput {
    fn from(l: ApiLead) -> Self {
        LeadInput {
            id: l.id,
            name: l.name,
            company: l.company,
            value: l.value.map(|v| v.to_string()),
            contact: l.contact,
            email: l.email,
            phone: l.phone,
            source: l.source,
            tags: Some(l.tags.join(",")),
            created_at: l.created_at,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    leads: Vec<ApiLead>,
}

#[derive(Serialize)]
struct Answer {
    leads: Vec<Added>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(secret.trim())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    let key = v.to_str().ok().map(str::trim).filter(|k| (1..=100).contains(&k.len()));
    key.map(Some)
        .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 100 visible ASCII characters".into()))
}

/// The body as one lead or a batch, with serde's reason when it is neither.
fn leads_of(body: &[u8]) -> Result<Vec<LeadInput>, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let bad = |e: serde_json::Error| ApiError::BadRequest(format!("invalid lead: {e}"));
    if value.get("leads").is_some() {
        let batch: Batch = serde_json::from_value(value).map_err(bad)?;
        Ok(batch.leads.into_iter().map(LeadInput::from).collect())
    } else {
        Ok(vec![serde_json::from_value::<ApiLead>(value).map_err(bad)?.into()])
    }
}

async fn add_leads(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let result = async {
        let token = state.tokens.authenticate(bearer(&headers)).await?;
        let key = idempotency_key(&headers)?;
        let added = state.intake.add_from_api(&token, key, leads_of(&body)?).await?;
        Ok::<_, ApiError>(added)
    }
    .await;
    match result {
        Ok(leads) => {
            let status = if leads.iter().any(|a| a.created) { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(Answer { leads })).into_response()
        }
        Err(e) => e.into_response(),
    }
}
