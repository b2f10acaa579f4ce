//! The CSV endpoints, for managers signed in on this site. Uploads are `text/csv` bodies of up
//! to [`MAX_UPLOAD`] (their own limit: the JSON API keeps its 64 KiB), outside `/api/` so that
//! limit does not apply, under the same body deadline as the API; like the API they refuse
//! cross-site requests, and a form on another site cannot send `text/csv`.
//!
//! - `POST /csv/preview`: the header, the first rows and the mapping guessed from the header;
//! - `POST /csv/import?map=id,name,,email&key=3`: imports with that mapping (one field name or
//!   nothing per column; `key`, a column index, identifies rows without lead IDs), answering a
//!   stream of JSON lines (`domain::import::ImportProgress`): progress after every batch, then
//!   the report;
//! - `GET /csv/leads?q=&status=&mine=`: the board as the manager's filters show it;
//! - `GET /csv/history?from=2026-03-01&to=2026-03-31`: claims, lost claims, releases and
//!   reassigns in that period (dates in UTC, `to` included; the last 7 days by default).

use super::read::{read, Table, MAX_UPLOAD};
use super::{time, write};
use crate::domain::import::{Field, ImportProgress, Mapping};
use crate::domain::{LeadFilter, LeadStatus, Role, UserInfo};
use crate::error::ApiError;
use crate::server::{auth, security, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::str::FromStr;
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/csv/preview", post(preview))
        .route("/csv/import", post(import))
        .route("/csv/leads", get(export_leads))
        .route("/csv/history", get(export_history))
}

async fn manager(state: &AppState, headers: &HeaderMap) -> Result<UserInfo, ApiError> {
    security::check_same_origin(headers)?;
    match auth::user_from_headers(state, headers).await? {
        Some(user) if user.role == Role::Manager => Ok(user),
        Some(_) => Err(ApiError::Forbidden("only managers can import and export".into())),
        None => Err(ApiError::Unauthorized("sign in first".into())),
    }
}

/// The uploaded file, read: `text/csv` only, at most [`MAX_UPLOAD`] bytes, arriving within
/// `body_timeout_secs` as any request body must.
async fn upload(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Table, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv")) {
        return Err(ApiError::UnsupportedMediaType("send the file as content-type: text/csv".into()));
    }
    let deadline = Duration::from_secs(state.config.security.body_timeout_secs);
    let bytes = security::read_body(headers, body, MAX_UPLOAD, deadline).await?;
    read(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))
}

async fn preview(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        manager(&state, &headers).await?;
        Ok::<_, ApiError>(upload(&state, &headers, body).await?.preview())
    };
    result.await.map(Json).into_response()
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ImportQuery {
    map: Option<String>,
    key: Option<usize>,
}

impl ImportQuery {
    /// The mapping asked for, or the one guessed from the header.
    fn mapping(&self, table: &Table) -> Result<Mapping, ApiError> {
        let Some(map) = &self.map else { return Ok(Mapping { key: self.key, ..Mapping::guess(&table.headers) }) };
        let columns = map
            .split(',')
            .map(|f| match f.trim() {
                "" => Ok(None),
                f => Field::from_str(f).map(Some).map_err(|_| ApiError::BadRequest(format!("unknown field {f:?}"))),
            })
            .collect::<Result<_, _>>()?;
        Ok(Mapping { columns, key: self.key })
    }
}

fn line(msg: &ImportProgress) -> Bytes {
    let mut json = serde_json::to_vec(msg).expect("progress serialises");
    json.push(b'\n');
    json.into()
}

async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Response {
    let planned = async {
        let user = manager(&state, &headers).await?;
        let table = upload(&state, &headers, body).await?;
        let plan = state.importer.plan(&table, &q.mapping(&table)?).await?;
        Ok::<_, ApiError>((user, plan))
    };
    let (user, plan) = match planned.await {
        Ok(ok) => ok,
        Err(e) => return e.into_response(),
    };
    // The import runs to its end even if the page goes away; the page reads its progress.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::convert::Infallible>>();
    let importer = state.importer.clone();
    tokio::spawn(async move {
        let _ = tx.unbounded_send(Ok(line(&ImportProgress::Progress { done: 0, total: plan.to_add() })));
        let report = importer
            .run(plan, &user.username, |done, total| {
                let _ = tx.unbounded_send(Ok(line(&ImportProgress::Progress { done, total })));
            })
            .await;
        let _ = tx.unbounded_send(Ok(line(&ImportProgress::Done(report))));
    });
    let content_type = HeaderValue::from_static("application/x-ndjson");
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(rx)).into_response()
}

fn csv_file(name: String, text: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (headers, text).into_response()
}

fn today() -> String {
    time::write(crate::server::now_ms())[..10].to_owned()
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct LeadsQuery {
    q: String,
    status: Option<String>,
    mine: Option<bool>,
}

async fn export_leads(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LeadsQuery>) -> Response {
    let result = async {
        let user = manager(&state, &headers).await?;
        let status = match q.status.as_deref() {
            None | Some("" | "all") => None,
            Some(other) => Some(
                other.parse::<LeadStatus>().map_err(|_| ApiError::BadRequest(format!("unknown status {other:?}")))?,
            ),
        };
        let filter = LeadFilter::new(&q.q, status, q.mine.unwrap_or(false).then_some(user.username));
        let board = state.leads.snapshot().await?;
        let leads: Vec<_> = board.leads.into_iter().filter(|l| filter.admits(l)).collect();
        Ok::<_, ApiError>(csv_file(format!("leads-{}.csv", today()), write::leads(&leads)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn export_history(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HistoryQuery>) -> Response {
    let result = async {
        manager(&state, &headers).await?;
        let (from, to) =
            time::period(q.from.as_deref(), q.to.as_deref(), crate::server::now_ms()).map_err(ApiError::BadRequest)?;
        let events = state.leads.history(from, to, write::MAX_HISTORY).await?;
        let name = format!("history-{}-to-{}.csv", &time::write(from)[..10], &time::write(to - 1)[..10]);
        Ok::<_, ApiError>(csv_file(name, write::history(&events)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
