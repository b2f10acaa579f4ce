//! Transactions (1.8+) under `/v1/databases/transactions` and `/v1/tablesdb/transactions`:
//! create, get, stage operations (here or with `transactionId` on document calls), commit or
//! roll back (`PATCH {"commit"|"rollback": true}`), delete.
//!
//! A commit applies its operations together or not at all. Each update, delete or increment
//! of a row not touched earlier in the transaction goes through the locking read and fails
//! with `409 transaction_conflict` when the row's `$updatedAt` is later than the time the
//! operation was staged (`withRequestTimestamp` in `Transactions/Update.php`). On the legacy
//! cache model (1.8 to 1.9.0) that read is served from the document cache, so a stale cached
//! row can let a conflicting commit through. Reads made before staging are never validated.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::access::{bump, lists, publish, read_locked, Target};
use super::created;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::events::DocumentAction;
use crate::params::Body;
use crate::permissions::Action as Permission;
use crate::rows::{self, RowKey, RowLock};
use crate::store::{Document, Store};
use crate::txn::{self, Action, Operation, Status, Transaction};
use crate::version::CacheMode;
use crate::{ids, schema, AppState};

fn available(state: &AppState) -> ApiResult<()> {
    if state.version.has_transactions() {
        Ok(())
    } else {
        Err(ApiError::RouteNotFound)
    }
}

/// The transaction, if the caller may use it (its creator, or any API key).
fn transaction<'a>(store: &'a mut Store, caller: &Caller, id: &str) -> ApiResult<&'a mut Transaction> {
    let user = caller.user().map(|u| u.user_id.as_str());
    store
        .transactions
        .get_mut(id)
        .filter(|t| caller.is_key() || t.owner.as_deref() == user)
        .ok_or_else(|| ApiError::TransactionNotFound(id.to_owned()))
}

#[derive(Deserialize)]
pub struct CreateTransaction {
    #[serde(default = "ttl_default")]
    ttl: i64,
}

fn ttl_default() -> i64 {
    txn::TTL_DEFAULT
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<CreateTransaction>,
) -> ApiResult<Response> {
    available(&state)?;
    caller.require_scope("documents.write")?;
    if !txn::TTL_RANGE.contains(&params.ttl) {
        return Err(ApiError::invalid_param("ttl", "Value must be a valid range between 60 and 3,600"));
    }
    let now = state.faults.node_now();
    let transaction = Transaction {
        id: ids::unique(),
        created_at: now,
        updated_at: now,
        status: Status::Pending,
        expires_at: now + TimeDelta::seconds(params.ttl),
        operations: vec![],
        owner: caller.user().map(|u| u.user_id.clone()),
    };
    let body = transaction.to_json();
    state.store.lock().expect("store lock").transactions.insert(transaction.id.clone(), transaction);
    Ok(created(body))
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    available(&state)?;
    caller.require_scope("documents.read")?;
    let mut store = state.store.lock().expect("store lock");
    Ok(Json(transaction(&mut store, &caller, &id)?.to_json()))
}

pub async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    available(&state)?;
    caller.require_scope("documents.write")?;
    let mut store = state.store.lock().expect("store lock");
    transaction(&mut store, &caller, &id)?;
    store.transactions.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Checks that `id` can take `more` operations now. `not_pending` is the error the route
/// gives for a transaction that is no longer pending.
fn open_for_staging(
    store: &mut Store,
    caller: &Caller,
    id: &str,
    more: usize,
    not_pending: fn() -> ApiError,
) -> ApiResult<()> {
    let transaction = transaction(store, caller, id)?;
    if transaction.status != Status::Pending {
        return Err(not_pending());
    }
    if crate::time::now() > transaction.expires_at {
        return Err(ApiError::TransactionExpired);
    }
    let existing = transaction.operations.len();
    if existing + more > txn::MAX_OPERATIONS {
        return Err(ApiError::TransactionLimitExceeded(format!(
            "Transaction already has {existing} operations, adding {more} would exceed the maximum of {}",
            txn::MAX_OPERATIONS
        )));
    }
    Ok(())
}

/// The row as the transaction sees it: the committed row, or one created by an earlier
/// operation of the same transaction.
fn staged_row(store: &Store, transaction: &str, target: &Target) -> Option<Document> {
    let created_here = store.transactions[transaction].operations.iter().any(|op| {
        op.action == Action::Create
            && op.database_id == target.db
            && op.collection_id == target.coll
            && op.document_id.eq_ignore_ascii_case(&target.id)
    });
    let committed = store.databases.get(&target.db)?.collections.get(&target.coll)?.document(&target.id).cloned();
    committed.or_else(|| created_here.then(|| placeholder(target, Map::new())))
}

/// A document as a staged call answers it: nothing is written yet.
fn placeholder(target: &Target, data: Map<String, Value>) -> Document {
    let now = crate::time::now();
    Document {
        id: target.id.clone(),
        sequence: 0,
        database_id: target.db.clone(),
        collection_id: target.coll.clone(),
        created_at: now,
        updated_at: now,
        permissions: vec![],
        data,
    }
}

/// Stages one operation given to a document route with `transactionId`, checked like the
/// route itself would check the call (permissions, existence), and answers as that route
/// does: the document as it would be, or 204 for a delete.
pub(super) fn stage_one(
    state: &AppState,
    caller: &Caller,
    transaction: &str,
    target: &Target,
    action: Action,
    data: Map<String, Value>,
    permissions: Option<Vec<String>>,
) -> ApiResult<Response> {
    available(state)?;
    let mut store = state.store.lock().expect("store lock");
    open_for_staging(&mut store, caller, transaction, 1, || ApiError::TransactionNotReady)?;
    let answer = check_operation(&store, caller, transaction, target, action, &data)?;
    let operation = Operation {
        action,
        database_id: target.db.clone(),
        collection_id: target.coll.clone(),
        document_id: target.id.clone(),
        data,
        permissions,
        staged_at: state.faults.node_now(),
    };
    store.transactions.get_mut(transaction).expect("checked above").operations.push(operation);
    Ok(match (action, answer) {
        (Action::Delete, _) => StatusCode::NO_CONTENT.into_response(),
        (Action::Create, Some(doc)) => created(doc.to_json(state.version)),
        (_, Some(doc)) => Json(doc.to_json(state.version)).into_response(),
        (_, None) => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Staging checks (`Operations/Create.php`): the collection exists, the row exists for
/// anything but a create, and a non-key caller holds the needed permission. Returns the
/// document as the operation would leave it.
fn check_operation(
    store: &Store,
    caller: &Caller,
    transaction: &str,
    target: &Target,
    action: Action,
    data: &Map<String, Value>,
) -> ApiResult<Option<Document>> {
    let collection = store.collection(&target.db, &target.coll, caller.is_key())?;
    let existing = staged_row(store, transaction, target);
    let (needed, doc) = match action {
        Action::Create => (Permission::Create, placeholder(target, data.clone())),
        _ => {
            let mut doc = existing.clone().ok_or_else(|| ApiError::DocumentNotFound(target.id.clone()))?;
            if action == Action::Update {
                doc.data.extend(data.clone());
            }
            (if action == Action::Delete { Permission::Delete } else { Permission::Update }, doc)
        }
    };
    let allowed = match (&existing, action) {
        (Some(row), Action::Update | Action::Delete | Action::Increment | Action::Decrement) => {
            caller.auth.allows(&lists(collection, row), needed)
        }
        _ => caller.auth.allows(&[&collection.permissions], needed),
    };
    if !allowed {
        return Err(ApiError::unauthorized());
    }
    Ok(Some(doc))
}

#[derive(Deserialize)]
pub struct StageOperations {
    #[serde(default)]
    operations: Vec<Value>,
}

/// One entry of `operations`: Collections or TablesDB names for the same fields.
fn parse_operation(value: &Value) -> ApiResult<(Action, Target, Map<String, Value>)> {
    let text = |keys: &[&str]| keys.iter().find_map(|k| value.get(*k).and_then(Value::as_str)).map(str::to_owned);
    let invalid = |what: &str| ApiError::invalid_param("operations", format!("Invalid operation: {what}"));
    let action = text(&["action"]).and_then(|a| Action::parse(&a)).ok_or_else(|| invalid("action"))?;
    let db = text(&["databaseId"]).ok_or_else(|| invalid("databaseId is required"))?;
    let coll = text(&["collectionId", "tableId"]).ok_or_else(|| invalid("collectionId is required"))?;
    let id = match text(&["documentId", "rowId"]) {
        Some(id) if action == Action::Create => ids::custom("documentId", &id)?,
        Some(id) => id,
        None if action == Action::Create => ids::unique(),
        None => return Err(ApiError::BadRequest(format!("Document ID is required for {action:?} operations"))),
    };
    let data = match value.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => data.clone(),
        Some(_) => return Err(invalid("data must be an object")),
    };
    Ok((action, Target { db, coll, id, is_key: false }, data))
}

pub async fn stage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(params): Body<StageOperations>,
) -> ApiResult<Response> {
    available(&state)?;
    caller.require_scope("documents.write")?;
    if params.operations.is_empty() {
        return Err(ApiError::BadRequest("Operations array cannot be empty".into()));
    }
    let parsed = params.operations.iter().map(parse_operation).collect::<ApiResult<Vec<_>>>()?;
    let mut store = state.store.lock().expect("store lock");
    let not_pending = || ApiError::BadRequest("Invalid or non\u{2011}pending transaction".into());
    open_for_staging(&mut store, &caller, &id, parsed.len(), not_pending)?;
    let staged_at = state.faults.node_now();
    for (action, mut target, mut data) in parsed {
        target.is_key = caller.is_key();
        check_operation(&store, &caller, &id, &target, action, &data)?;
        let permissions = match data.remove("$permissions") {
            Some(Value::Array(list)) => Some(list.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect()),
            _ => None,
        };
        let operation = Operation {
            action,
            database_id: target.db,
            collection_id: target.coll,
            document_id: target.id,
            data,
            permissions,
            staged_at,
        };
        store.transactions.get_mut(&id).expect("checked above").operations.push(operation);
    }
    Ok(created(store.transactions[&id].to_json()))
}

#[derive(Deserialize)]
pub struct Finish {
    #[serde(default)]
    commit: bool,
    #[serde(default)]
    rollback: bool,
}

pub async fn finish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(params): Body<Finish>,
) -> ApiResult<Json<Value>> {
    available(&state)?;
    caller.require_scope("documents.write")?;
    match (params.commit, params.rollback) {
        (false, false) => return Err(ApiError::BadRequest("Either commit or rollback must be true".into())),
        (true, true) => return Err(ApiError::BadRequest("Cannot commit and rollback at the same time".into())),
        _ => {}
    }
    if params.rollback {
        let mut store = state.store.lock().expect("store lock");
        let transaction = pending(&mut store, &caller, &id)?;
        transaction.status = Status::Failed;
        return Ok(Json(transaction.to_json()));
    }
    commit(&state, &caller, &id).await
}

fn pending<'a>(store: &'a mut Store, caller: &Caller, id: &str) -> ApiResult<&'a mut Transaction> {
    let transaction = transaction(store, caller, id)?;
    if transaction.status != Status::Pending {
        return Err(ApiError::TransactionNotReady);
    }
    if crate::time::now() > transaction.expires_at {
        return Err(ApiError::TransactionExpired);
    }
    Ok(transaction)
}

/// Takes the row locks of every row the transaction touches (waiting for writes in flight),
/// then applies it under the store lock.
async fn commit(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Json<Value>> {
    loop {
        let released = state.rows.released();
        {
            let mut store = state.store.lock().expect("store lock");
            let operations = pending(&mut store, caller, id)?.operations.clone();
            let keys = row_keys(&operations);
            if state.rows.try_lock_all(&keys) {
                let _locks: Vec<RowLock> = keys.into_iter().map(|key| RowLock::held(state, key)).collect();
                let result = apply(state, &mut store, &operations);
                let transaction = store.transactions.get_mut(id).expect("checked above");
                transaction.status = if result.is_ok() { Status::Committed } else { Status::Failed };
                transaction.updated_at = state.faults.node_now();
                let body = transaction.to_json();
                return result.map(|()| Json(body));
            }
        }
        released.await;
    }
}

/// Every row the operations touch, once each, in a fixed order.
fn row_keys(operations: &[Operation]) -> Vec<RowKey> {
    let mut keys: Vec<RowKey> =
        operations.iter().map(|op| rows::key(&op.database_id, &op.collection_id, &op.document_id)).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Runs the operations in order on a working copy of their rows; only if all succeed does
/// the copy replace the rows, purge their cache entries and publish their events.
fn apply(state: &AppState, store: &mut Store, operations: &[Operation]) -> ApiResult<()> {
    let legacy = state.cache == CacheMode::Legacy;
    let now = state.faults.node_now();
    let mut working: HashMap<RowKey, Option<Document>> = HashMap::new();
    let mut order: Vec<(RowKey, &Operation)> = Vec::new();
    for op in operations {
        let key = rows::key(&op.database_id, &op.collection_id, &op.document_id);
        let collection = store.collection_mut(&op.database_id, &op.collection_id, true)?;
        let dependent = working.contains_key(&key);
        let current = match working.get(&key) {
            Some(row) => row.clone(),
            // The locking read of `updateDocument`: the cached copy first on the legacy model.
            None => match collection.cache.load(&op.document_id).filter(|_| legacy) {
                Some(cached) => Some(cached.clone()),
                None => read_locked(collection, &op.document_id, legacy),
            },
        };
        let conflict = |row: &Document| !dependent && row.updated_at > op.staged_at;
        let next = match op.action {
            Action::Create => {
                if current.is_some() {
                    return Err(ApiError::TransactionConflict);
                }
                let mut data = op.data.clone();
                schema::validate(&collection.attributes, &mut data)?;
                let sequence = collection.next_sequence;
                collection.next_sequence += 1;
                Some(Document {
                    id: op.document_id.clone(),
                    sequence,
                    database_id: op.database_id.clone(),
                    collection_id: op.collection_id.clone(),
                    created_at: now,
                    updated_at: now,
                    permissions: op.permissions.clone().unwrap_or_default(),
                    data,
                })
            }
            Action::Delete => {
                let row = current.ok_or_else(|| ApiError::DocumentNotFound(op.document_id.clone()))?;
                if conflict(&row) {
                    return Err(ApiError::TransactionConflict);
                }
                None
            }
            Action::Update | Action::Increment | Action::Decrement => {
                let mut row = current.ok_or_else(|| ApiError::DocumentNotFound(op.document_id.clone()))?;
                if conflict(&row) {
                    return Err(ApiError::TransactionConflict);
                }
                if op.action == Action::Update {
                    row.data.extend(op.data.clone());
                    if let Some(permissions) = &op.permissions {
                        row.permissions = permissions.clone();
                    }
                    schema::validate(&collection.attributes, &mut row.data)?;
                } else {
                    let attribute = op.data.get("attribute").and_then(Value::as_str).unwrap_or_default();
                    let delta = op.data.get("value").and_then(Value::as_f64).unwrap_or(1.0);
                    bump(&mut row, attribute, delta, op.data.get("bound").and_then(Value::as_f64))?;
                }
                row.updated_at = now;
                Some(row)
            }
        };
        working.insert(key.clone(), next);
        order.push((key, op));
    }
    for (key, op) in order {
        let collection = store.collection_mut(&op.database_id, &op.collection_id, true)?;
        let previous = collection.documents.get(&key.2).cloned();
        let stored_id = previous.as_ref().map_or(op.document_id.clone(), |d| d.id.clone());
        collection.cache.purge(&[&op.document_id, &stored_id]);
        match working.get(&key).cloned().flatten() {
            Some(doc) => {
                let action = if previous.is_some() { DocumentAction::Update } else { DocumentAction::Create };
                collection.documents.insert(key.2.clone(), doc.clone());
                publish(state, collection, &doc, action);
            }
            None => {
                if let Some(doc) = collection.documents.remove(&key.2) {
                    publish(state, collection, &doc, DocumentAction::Delete);
                }
            }
        }
    }
    Ok(())
}
