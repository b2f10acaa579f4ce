//! REST routes under `/v1`, plus the test-only admin API (`/__faults`, `/__reset`).

mod access;
mod account;
mod databases;
mod documents;
mod teams;
mod transactions;
mod users;
mod writes;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use crate::errors::{ApiError, ApiResult};
use crate::faults::{self, FaultUpdate};
use crate::params::Body;
use crate::store::{Collection, Database, Store};
use crate::{realtime, AppState};

pub fn router(state: AppState) -> Router {
    let docs = "/v1/databases/{db}/collections/{coll}/documents";
    let api = Router::new()
        .route("/v1/health/version", get(health_version))
        .route("/v1/databases", post(databases::create_database))
        .route("/v1/databases/{db}", get(databases::get_database))
        .route("/v1/databases/{db}/collections", post(databases::create_collection))
        .route("/v1/databases/{db}/collections/{coll}", get(databases::get_collection))
        .route("/v1/databases/{db}/collections/{coll}/attributes", get(databases::list_attributes))
        .route(
            "/v1/databases/{db}/collections/{coll}/attributes/{kind}",
            post(databases::create_attribute).get(databases::get_attribute),
        )
        .route(
            "/v1/databases/{db}/collections/{coll}/indexes",
            post(databases::create_index).get(databases::list_indexes),
        )
        .route(docs, post(documents::create).get(documents::list))
        .route(&format!("{docs}/{{id}}"), get(documents::get).patch(writes::update).delete(writes::delete))
        .route(&format!("{docs}/{{id}}/{{attribute}}/{{direction}}"), patch(writes::bump_attribute))
        .route("/v1/users", post(users::create_user).get(users::list_users))
        .route("/v1/users/{id}", get(users::get_user))
        .route("/v1/users/{id}/status", patch(users::update_status))
        .route("/v1/users/{id}/password", patch(users::update_password))
        .route("/v1/users/{id}/sessions", get(users::list_sessions).delete(users::delete_sessions))
        .route("/v1/users/{id}/sessions/{session}", delete(users::delete_session))
        .route("/v1/users/{id}/memberships", get(users::list_memberships))
        .route("/v1/account", get(account::get_account))
        .route("/v1/account/sessions/email", post(account::create_email_session))
        .route("/v1/account/sessions/current", delete(account::delete_current_session))
        .route("/v1/account/jwts", post(account::create_jwt))
        .route("/v1/teams", post(teams::create))
        .route("/v1/teams/{id}", get(teams::get))
        .route("/v1/teams/{id}/memberships", post(teams::add_member).get(teams::list_members))
        .route("/v1/teams/{id}/memberships/{membership}", delete(teams::delete_member))
        .merge(transaction_routes("/v1/databases/transactions"))
        .merge(transaction_routes("/v1/tablesdb/transactions"))
        .route_layer(middleware::from_fn_with_state(state.clone(), faults::middleware));
    Router::new()
        .merge(api)
        .route("/v1/realtime", get(realtime::handler))
        .route("/__faults", get(get_faults).post(set_faults).delete(clear_faults))
        .route("/__reset", post(reset))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::RouteNotFound })
        .layer(middleware::from_fn_with_state(state.clone(), crate::errors::versioned))
        .with_state(state)
}

/// The Collections API and TablesDB serve the same transactions.
fn transaction_routes(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, post(transactions::create))
        .route(
            &format!("{base}/{{id}}"),
            get(transactions::get).patch(transactions::finish).delete(transactions::delete),
        )
        .route(&format!("{base}/{{id}}/operations"), post(transactions::stage))
}

/// `GET /v1/health/version`: the release, without auth (`Health/Version/Get.php`).
async fn health_version(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"version": state.version.release()}))
}

/// `201 Created` with a JSON model.
fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// Real Appwrite hides disabled databases and collections from everyone but API keys.
fn visible(enabled: bool, is_key: bool) -> bool {
    enabled || is_key
}

impl Store {
    fn database(&self, id: &str, is_key: bool) -> ApiResult<&Database> {
        self.databases
            .get(id)
            .filter(|db| visible(db.enabled, is_key))
            .ok_or_else(|| ApiError::DatabaseNotFound(id.to_owned()))
    }

    fn collection(&self, db: &str, id: &str, is_key: bool) -> ApiResult<&Collection> {
        self.database(db, is_key)?
            .collections
            .get(id)
            .filter(|c| visible(c.enabled, is_key))
            .ok_or_else(|| ApiError::CollectionNotFound(id.to_owned()))
    }

    fn collection_mut(&mut self, db: &str, id: &str, is_key: bool) -> ApiResult<&mut Collection> {
        self.collection(db, id, is_key)?;
        Ok(self.databases.get_mut(db).and_then(|d| d.collections.get_mut(id)).expect("checked above"))
    }
}

async fn get_faults(State(state): State<AppState>) -> Json<faults::FaultConfig> {
    Json(state.faults.config())
}

async fn set_faults(State(state): State<AppState>, Body(update): Body<FaultUpdate>) -> Response {
    match state.faults.update(update) {
        Ok(closer) => {
            if let Some((epoch, secs)) = closer {
                faults::spawn_closer(state.clone(), epoch, secs);
            }
            Json(state.faults.config()).into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, Json(json!({"message": message}))).into_response(),
    }
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

/// Forgets all data and faults and drops every socket.
async fn reset(State(state): State<AppState>) -> StatusCode {
    *state.store.lock().expect("store lock") = Store::default();
    state.faults.clear();
    state.faults.drop_sockets();
    state.time_limits.clear();
    StatusCode::NO_CONTENT
}
