//! Updates and deletes, in the steps of UDB `Database::updateDocument`/`deleteDocument`:
//!
//! 1. the locking read (`getDocument(forUpdate: true)`) the `X-Appwrite-Timestamp` guard and
//!    the merge are checked against;
//! 2. the write, under the row lock, which purges the document cache;
//! 3. the commit, after which readers see the new row.
//!
//! With the legacy cache model (1.5 to 1.9.0, UDB up to 5.3.17) step 1 is served from the
//! cache whenever it holds the ID, without a row lock, and a miss caches the row it read;
//! nothing purges after step 3, so a GET between steps 2 and 3 puts the pre-commit row back
//! into the cache, where it stays. With the cache off (1.9.5+, UDB ef47859a and 633b776b)
//! step 1 always reads the row under its lock. The `cache` faults pause between the steps
//! or force the re-cache, so tests can make these races happen on purpose.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{
    bump, check_precondition, lists, locking_read, publish, request_timestamp, take_system_fields, write_and_commit,
    DocPath, Target,
};
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::events::DocumentAction;
use crate::params::{self, Body};
use crate::permissions::{self, Action, DOCUMENT_ACTIONS};
use crate::rows::RowLock;
use crate::{ids, schema, txn, AppState};

#[derive(Deserialize)]
pub struct UpdateDocument {
    #[serde(default)]
    data: Value,
    permissions: Option<Vec<String>>,
    /// 1.8+: stage instead of writing.
    #[serde(rename = "transactionId")]
    transaction_id: Option<String>,
}

#[derive(Deserialize)]
pub struct DeleteDocument {
    #[serde(rename = "transactionId")]
    transaction_id: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: DocPath,
    Body(params): Body<UpdateDocument>,
) -> ApiResult<Response> {
    caller.require_scope("documents.write")?;
    let timestamp = request_timestamp(&headers)?;
    let mut changes = params::json_object("data", params.data)?;
    if changes.is_empty() && params.permissions.is_none() {
        return Err(ApiError::DocumentMissingPayload);
    }
    let permissions = params.permissions.map(|p| permissions::normalize(&p, DOCUMENT_ACTIONS)).transpose()?;
    if let Some(permissions) = &permissions {
        caller.auth.check_grantable(permissions)?;
    }
    let [created_at, updated_at] = take_system_fields(&mut changes, caller.is_key() && state.version.key_sets_dates())?;
    // Stamped by the API node before the locked read.
    let now = state.faults.node_now();
    let (db, coll, id) = path.0;
    let target = Target { db, coll, id, is_key: caller.is_key() };
    if let Some(transaction) = params.transaction_id.filter(|_| state.version.has_transactions()) {
        let action = txn::Action::Update;
        return super::transactions::stage_one(&state, &caller, &transaction, &target, action, changes, permissions);
    }

    let (base, lock) = locking_read(&state, &target).await?;
    let mut doc = base.clone();
    doc.data.extend(changes);
    if let Some(permissions) = permissions {
        doc.permissions = permissions;
    }
    doc.created_at = created_at.unwrap_or(base.created_at);
    // A call that changes nothing needs only read permission and leaves `$updatedAt` alone;
    // a real change needs update permission.
    let changed = doc.data != base.data || doc.permissions != base.permissions;
    {
        let store = state.store.lock().expect("store lock");
        let collection = store.collection(&target.db, &target.coll, target.is_key)?;
        let needed = if changed { Action::Update } else { Action::Read };
        if !caller.auth.allows(&lists(collection, &base), needed) {
            return Err(ApiError::unauthorized());
        }
        check_precondition(&base, timestamp)?;
        schema::validate(&collection.attributes, &mut doc.data)?;
    }
    if changed {
        doc.updated_at = updated_at.unwrap_or(now);
    }
    let (_, new) = write_and_commit(&state, &target, lock, |collection, _| {
        if collection.unique_violation(&doc).is_some() {
            return Err(ApiError::DocumentAlreadyExists(target.id.clone()));
        }
        Ok(Some(doc.clone()))
    })
    .await?;
    Ok(Json(new.expect("an update keeps the row").to_json(state.version)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: DocPath,
    Body(params): Body<DeleteDocument>,
) -> ApiResult<Response> {
    caller.require_scope("documents.write")?;
    let timestamp = request_timestamp(&headers)?;
    let (db, coll, id) = path.0;
    let target = Target { db, coll, id, is_key: caller.is_key() };
    if let Some(transaction) = params.transaction_id.filter(|_| state.version.has_transactions()) {
        let action = txn::Action::Delete;
        return super::transactions::stage_one(
            &state,
            &caller,
            &transaction,
            &target,
            action,
            Default::default(),
            None,
        );
    }
    let (base, lock) = locking_read(&state, &target).await?;
    {
        let store = state.store.lock().expect("store lock");
        let collection = store.collection(&target.db, &target.coll, target.is_key)?;
        if !caller.auth.allows(&lists(collection, &base), Action::Delete) {
            return Err(ApiError::unauthorized());
        }
    }
    check_precondition(&base, timestamp)?;
    write_and_commit(&state, &target, lock, |_, _| Ok(None)).await?;
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Default::default()).expect("static response"))
}

#[derive(Deserialize)]
pub struct Bump {
    #[serde(default = "one")]
    value: f64,
    max: Option<f64>,
    min: Option<f64>,
    #[serde(rename = "transactionId")]
    transaction_id: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// `PATCH .../documents/{id}/{attribute}/increment|decrement` (1.8+): an atomic SQL update
/// of one column under the row lock, so it never merges a stale cached row.
pub async fn bump_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll, id, attribute, direction)): Path<(String, String, String, String, String)>,
    Body(params): Body<Bump>,
) -> ApiResult<Response> {
    caller.require_scope("documents.write")?;
    let up = match direction.as_str() {
        "increment" if state.version.has_transactions() => true,
        "decrement" if state.version.has_transactions() => false,
        _ => return Err(ApiError::RouteNotFound),
    };
    let (delta, bound) = if up { (params.value, params.max) } else { (-params.value, params.min) };
    if let Some(transaction) = params.transaction_id {
        let mut data = serde_json::Map::new();
        data.insert("attribute".into(), json!(attribute));
        data.insert("value".into(), json!(delta));
        data.insert("bound".into(), json!(bound));
        let action = if up { txn::Action::Increment } else { txn::Action::Decrement };
        let target = Target { db, coll, id, is_key: caller.is_key() };
        return super::transactions::stage_one(&state, &caller, &transaction, &target, action, data, None);
    }
    let now = state.faults.node_now();
    let target = Target { db, coll, id, is_key: caller.is_key() };
    let _lock = RowLock::acquire(&state, target.row()).await;
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&target.db, &target.coll, target.is_key)?;
    let mut doc =
        collection.document(&target.id).cloned().ok_or_else(|| ApiError::DocumentNotFound(target.id.clone()))?;
    if !caller.auth.allows(&lists(collection, &doc), Action::Update) {
        return Err(ApiError::unauthorized());
    }
    bump(&mut doc, &attribute, delta, bound)?;
    doc.updated_at = now;
    collection.cache.purge(&[&target.id, &doc.id]);
    collection.documents.insert(ids::fold(&target.id), doc.clone());
    publish(&state, collection, &doc, DocumentAction::Update);
    Ok(Json(doc.to_json(state.version)).into_response())
}
