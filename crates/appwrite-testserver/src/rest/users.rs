//! The Users API, used with an API key (`app/controllers/api/users.php`, 1.8.1; the same
//! routes live in `src/Appwrite/Platform/Modules/Users` from 1.9). Every answer uses the
//! User model (`Model/User.php`); memberships use the Membership model.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account::{check_email, check_new_password};
use super::created;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::params::{self, Body};
use crate::query::{self, Fields};
use crate::schema::{Attribute, AttributeKind};
use crate::store::{MembershipRow, Store, User};
use crate::{ids, time, AppState};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    user_id: String,
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    name: String,
}

/// `POST /v1/users`. A `password` that is present (not null) must pass `PasswordDictionary`,
/// so `""` is rejected too; without one the user cannot sign in with a password.
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<CreateUser>,
) -> ApiResult<Response> {
    caller.require_scope("users.write")?;
    let id = ids::custom("userId", &params.user_id)?;
    let email = params.email.unwrap_or_default().to_lowercase();
    if !email.is_empty() {
        check_email(&email)?;
    }
    if let Some(password) = &params.password {
        check_new_password(password)?;
    }
    let mut store = state.store.lock().expect("store lock");
    let taken = store.users.contains_key(&id) || (!email.is_empty() && store.users.values().any(|u| u.email == email));
    if taken {
        return Err(ApiError::UserAlreadyExists(
            "A user with the same id, email, or phone already exists in this project.".into(),
        ));
    }
    let now = time::now();
    let user = User {
        id: id.clone(),
        sequence: store.next_sequence(),
        name: params.name,
        email,
        password_update: params.password.is_some().then_some(now),
        password: params.password,
        status: true,
        created_at: now,
        updated_at: now,
    };
    let body = user.user_json();
    store.users.insert(id, user);
    Ok(created(body))
}

fn user<'a>(store: &'a Store, id: &str) -> ApiResult<&'a User> {
    store.users.get(id).ok_or_else(ApiError::user_not_found)
}

fn user_mut<'a>(store: &'a mut Store, id: &str) -> ApiResult<&'a mut User> {
    store.users.get_mut(id).ok_or_else(ApiError::user_not_found)
}

pub async fn get_user(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    caller.require_scope("users.read")?;
    let store = state.store.lock().expect("store lock");
    Ok(Json(user(&store, &id)?.user_json()))
}

/// The attributes `Queries\Users` lets queries use (`ALLOWED_ATTRIBUTES`, 1.8.1), typed as
/// in the `users` collection; `$id`, `$sequence`, `$createdAt`, `$updatedAt` come on top.
fn user_attributes() -> Vec<Attribute> {
    let string = AttributeKind::String { size: 256 };
    [
        ("name", string.clone(), false),
        ("email", string.clone(), false),
        ("phone", string.clone(), false),
        ("status", AttributeKind::Boolean, false),
        ("passwordUpdate", AttributeKind::Datetime, false),
        ("registration", AttributeKind::Datetime, false),
        ("emailVerification", AttributeKind::Boolean, false),
        ("phoneVerification", AttributeKind::Boolean, false),
        ("labels", string, true),
    ]
    .into_iter()
    .map(|(key, kind, array)| Attribute::new(key.into(), kind, false, array, Value::Null).expect("valid attribute"))
    .collect()
}

/// The `total` query parameter: `false` skips counting and reports 0.
fn wants_total(raw: Option<&str>) -> bool {
    !matches!(params::single(raw, "total").as_deref(), Some("false" | "0"))
}

/// Words of a full-text value: MariaDB's parser splits on anything but letters and digits.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// `Query::search('search', term)` over the user's `search` attribute
/// (`"<id> <email> <phone> <name>"`), approximated: UDB turns the term into a boolean-mode
/// `MATCH … AGAINST` where any word may match and the last one is a prefix (`term*`).
/// MariaDB's stopwords and minimum word length are not modelled.
fn matches_search(user: &User, term: &str) -> bool {
    let terms: Vec<String> = words(term).collect();
    let haystack: Vec<String> = words(&user.id).chain(words(&user.email)).chain(words(&user.name)).collect();
    terms.iter().enumerate().any(|(i, t)| {
        let prefix = i + 1 == terms.len();
        haystack.iter().any(|w| if prefix { w.starts_with(t.as_str()) } else { w == t })
    })
}

/// `GET /v1/users`: `queries[]` (filters and orders on the allowed attributes, `limit`,
/// `offset`, `cursorAfter`/`cursorBefore` by user ID), `search` and `total`.
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    caller.require_scope("users.read")?;
    let raw = raw.as_deref();
    let query = query::parse(&params::list(raw, "queries"), &user_attributes(), state.version.max_query_values())?;
    let search = params::single(raw, "search").unwrap_or_default();
    if search.chars().count() > 256 {
        return Err(ApiError::invalid_param("search", "Value must be a valid string and at most 256 chars"));
    }
    let store = state.store.lock().expect("store lock");
    let cursor = match &query.cursor {
        Some(query::Cursor::After(id) | query::Cursor::Before(id)) => Some(
            store
                .users
                .get(id)
                .ok_or_else(|| ApiError::CursorNotFound(format!("User '{id}' for the 'cursor' value not found.")))?,
        ),
        None => None,
    };
    let found = store.users.values().filter(|u| search.trim().is_empty() || matches_search(u, &search));
    let page = query.run(found, cursor);
    let users: Vec<Value> = page.documents.iter().map(|u| u.user_json()).collect();
    let total = if wants_total(raw) { page.total } else { 0 };
    Ok(Json(json!({"total": total, "users": users})))
}

/// Utopia's loose `Boolean` validator: booleans, `"true"`/`"false"`, `"1"`/`"0"`, `1`/`0`.
fn loose_bool(param: &str, value: &Value) -> ApiResult<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "1" => Ok(true),
        Value::String(s) if s == "false" || s == "0" => Ok(false),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        _ => Err(ApiError::invalid_param(param, "Value must be a valid boolean")),
    }
}

#[derive(Deserialize)]
pub struct UpdateStatus {
    status: Value,
}

/// `PATCH /v1/users/{id}/status`. A blocked user's sessions and JWTs stay, but every call
/// made with them gets `401 user_blocked` (see `Caller::require_scope`), and signing in
/// gets it too.
pub async fn update_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(params): Body<UpdateStatus>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("users.write")?;
    if params.status.is_null() {
        return Err(ApiError::ArgumentInvalid("Param \"status\" is not optional.".into()));
    }
    let status = loose_bool("status", &params.status)?;
    let mut store = state.store.lock().expect("store lock");
    let user = user_mut(&mut store, &id)?;
    user.status = status;
    user.updated_at = time::now();
    Ok(Json(user.user_json()))
}

#[derive(Deserialize)]
pub struct UpdatePassword {
    password: String,
}

/// `PATCH /v1/users/{id}/password`. `PasswordDictionary` with `allowEmpty`: `""` removes the
/// password. Like a project created by 1.8+ (`auths.invalidateSessions` on), all the user's
/// sessions are deleted; 1.5-1.7 kept them.
pub async fn update_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(params): Body<UpdatePassword>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("users.write")?;
    if !params.password.is_empty() {
        check_new_password(&params.password)?;
    }
    let mut store = state.store.lock().expect("store lock");
    let user = user_mut(&mut store, &id)?;
    let now = time::now();
    user.password = Some(params.password).filter(|p| !p.is_empty());
    user.password_update = Some(now);
    user.updated_at = now;
    let body = user.user_json();
    store.delete_sessions_of(&id);
    Ok(Json(body))
}

/// `DELETE /v1/users/{id}/sessions`: 204, also when there were none.
pub async fn delete_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_scope("users.write")?;
    let mut store = state.store.lock().expect("store lock");
    user(&store, &id)?;
    store.delete_sessions_of(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/users/{id}/sessions`: the user's sessions, oldest first, secrets hidden (the
/// Users API never shows them). `current` is false: no session is the caller's own.
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("users.read")?;
    let store = state.store.lock().expect("store lock");
    let email = user(&store, &id)?.email.clone();
    let mut sessions: Vec<&crate::store::Session> = store.sessions.values().filter(|s| s.user_id == id).collect();
    sessions.sort_by_key(|s| s.sequence);
    let sessions: Vec<Value> = sessions
        .into_iter()
        .map(|s| {
            let mut v = s.to_json(&email, "");
            v["current"] = Value::Bool(false);
            v
        })
        .collect();
    Ok(Json(json!({"total": sessions.len(), "sessions": sessions})))
}

/// `DELETE /v1/users/{id}/sessions/{sessionId}`: 204. A session of another user is
/// `user_session_not_found` (the 1.9 module checks this; 1.8.1 deleted it anyway).
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, session_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_scope("users.write")?;
    let mut store = state.store.lock().expect("store lock");
    user(&store, &id)?;
    match store.sessions.get(&session_id) {
        Some(session) if session.user_id == id => {
            store.sessions.remove(&session_id);
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::SessionNotFound),
    }
}

/// The attributes `Queries\Memberships` allows.
fn membership_attributes() -> Vec<Attribute> {
    let string = AttributeKind::String { size: 256 };
    [
        ("userId", string.clone(), false),
        ("teamId", string.clone(), false),
        ("invited", AttributeKind::Datetime, false),
        ("joined", AttributeKind::Datetime, false),
        ("confirm", AttributeKind::Boolean, false),
        ("roles", string, true),
    ]
    .into_iter()
    .map(|(key, kind, array)| Attribute::new(key.into(), kind, false, array, Value::Null).expect("valid attribute"))
    .collect()
}

/// `GET /v1/users/{id}/memberships`: the user's memberships, invitations included, in
/// creation order; paged from 1.7, all of them before. As in Appwrite, `total` is the size of
/// the returned page.
pub async fn list_memberships(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    caller.require_scope("users.read")?;
    let raw = raw.as_deref();
    let store = state.store.lock().expect("store lock");
    user(&store, &id)?;
    // Before 1.7 the route takes no queries and returns every membership.
    let queries = if state.version.pages_user_memberships() { params::list(raw, "queries") } else { vec![] };
    let mut query = query::parse(&queries, &membership_attributes(), state.version.max_query_values())?;
    if !state.version.pages_user_memberships() {
        query.unlimited();
    }
    let rows: Vec<MembershipRow> = store
        .teams
        .values()
        .flat_map(|team| team.memberships.iter().map(move |membership| MembershipRow { team, membership }))
        .filter(|row| row.membership.user_id == id)
        .collect();
    let cursor = match &query.cursor {
        Some(query::Cursor::After(cursor) | query::Cursor::Before(cursor)) => {
            Some(rows.iter().find(|row| row.field("$id") == cursor.as_str()).ok_or_else(|| {
                ApiError::CursorNotFound(format!("Membership '{cursor}' for the 'cursor' value not found."))
            })?)
        }
        None => None,
    };
    let page = query.run(rows.iter(), cursor);
    let memberships: Vec<Value> =
        page.documents.iter().map(|row| store.membership_json(row.team, row.membership)).collect();
    let total = if wants_total(raw) { memberships.len() } else { 0 };
    Ok(Json(json!({"total": total, "memberships": memberships})))
}
