//! Documents: create, get, list, update, delete
//! (`src/Appwrite/Platform/Modules/Databases/Http/Databases/Collections/Documents/*.php` and
//! UDB `Database::createDocument/updateDocument/deleteDocument/find`). Every write checks,
//! writes and publishes its Realtime event under the store lock, so checks are atomic with
//! the write and events leave in commit order.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::created;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::events::{DocumentAction, Event};
use crate::params::{self, Body};
use crate::permissions::{self, Action, DOCUMENT_ACTIONS};
use crate::store::{Collection, Document};
use crate::time::{self, Timestamp};
use crate::{ids, query, schema, AppState};

type DocPath = Path<(String, String, String)>;

/// System fields a client may not write (`removableAttributes` of the documents actions);
/// `$createdAt`/`$updatedAt` are only honoured for API keys.
const READ_ONLY: &[&str] =
    &["$id", "$sequence", "$collectionId", "$databaseId", "$permissions", "$collection", "$tenant"];

/// Removes system fields from `data`, returning the dates an API key asked for.
fn take_system_fields(data: &mut Map<String, Value>, is_key: bool) -> ApiResult<[Option<Timestamp>; 2]> {
    data.retain(|key, _| !READ_ONLY.contains(&key.as_str()));
    let mut date = |key: &str| -> ApiResult<Option<Timestamp>> {
        match data.remove(key) {
            Some(Value::String(text)) if is_key => time::parse_stored(&text).map(Some).ok_or_else(|| {
                ApiError::DocumentInvalidStructure(format!(
                    "Invalid document structure: Attribute \"{key}\" has invalid type. Value must be valid date"
                ))
            }),
            _ => Ok(None),
        }
    };
    Ok([date("$createdAt")?, date("$updatedAt")?])
}

/// The permission lists that decide `action` on `doc` (collection, plus the document's own
/// when `documentSecurity` is on).
fn lists<'a>(collection: &'a Collection, doc: &'a Document) -> Vec<&'a [String]> {
    let mut lists = vec![collection.permissions.as_slice()];
    if collection.document_security {
        lists.push(doc.permissions.as_slice());
    }
    lists
}

/// `X-Appwrite-Timestamp`: the client's view of `$updatedAt` (`app/init/resources/request.php`).
fn request_timestamp(headers: &HeaderMap) -> ApiResult<Option<Timestamp>> {
    let Some(value) = headers.get("x-appwrite-timestamp") else { return Ok(None) };
    let invalid = || ApiError::ArgumentInvalid("Invalid X-Appwrite-Timestamp header value".into());
    value.to_str().ok().and_then(time::parse).map(Some).ok_or_else(invalid)
}

/// UDB: "Document was updated after the request timestamp" — strictly later fails.
fn check_precondition(doc: &Document, timestamp: Option<Timestamp>) -> ApiResult<()> {
    match timestamp {
        Some(ts) if doc.updated_at > ts => Err(ApiError::DocumentUpdateConflict),
        _ => Ok(()),
    }
}

fn publish(state: &AppState, collection: &Collection, doc: &Document, action: DocumentAction) {
    // No receivers is fine: nobody is subscribed.
    let _ = state.events.send(Arc::new(Event::for_document(collection, doc, action, state.version)));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDocument {
    #[serde(default)]
    document_id: String,
    #[serde(default)]
    data: Value,
    permissions: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
    Body(params): Body<CreateDocument>,
) -> ApiResult<Response> {
    caller.require_scope("documents.write")?;
    let mut data = params::json_object("data", params.data)?;
    if data.is_empty() {
        return Err(ApiError::DocumentMissingData(
            "The document data is missing. Try again with document data populated".into(),
        ));
    }
    if params.document_id.is_empty() {
        return Err(ApiError::DocumentMissingData("Document ID is required when creating a single document.".into()));
    }
    let id = ids::custom("documentId", &params.document_id)?;
    let permissions = match params.permissions {
        Some(given) => permissions::normalize(&given, DOCUMENT_ACTIONS)?,
        None => caller.user().map(|u| permissions::owner_defaults(&u.user_id)).unwrap_or_default(),
    };
    caller.auth.check_grantable(&permissions)?;
    let [created_at, updated_at] = take_system_fields(&mut data, caller.is_key() && state.version.key_sets_dates())?;

    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    if !caller.auth.allows(&[&collection.permissions], Action::Create) {
        return Err(ApiError::unauthorized());
    }
    schema::validate(&collection.attributes, &mut data)?;
    if collection.documents.contains_key(&id) {
        return Err(ApiError::DocumentAlreadyExists(id));
    }
    let now = time::now();
    let doc = Document {
        id: id.clone(),
        sequence: collection.next_sequence,
        database_id: db,
        collection_id: coll,
        created_at: created_at.unwrap_or(now),
        updated_at: updated_at.unwrap_or(now),
        permissions,
        data,
    };
    // Through 1.9 a unique-index violation is reported like a duplicate ID.
    if collection.unique_violation(&doc).is_some() {
        return Err(ApiError::DocumentAlreadyExists(id));
    }
    collection.next_sequence += 1;
    let body = doc.to_json(state.version);
    publish(&state, collection, &doc, DocumentAction::Create);
    collection.documents.insert(id, doc);
    Ok(created(body))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll, id)): DocPath,
) -> ApiResult<Json<Value>> {
    caller.require_scope("documents.read")?;
    let store = state.store.lock().expect("store lock");
    let collection = store.collection(&db, &coll, caller.is_key())?;
    // An unreadable document looks exactly like a missing one (UDB `getDocument`).
    collection
        .documents
        .get(&id)
        .filter(|doc| caller.auth.allows(&lists(collection, doc), Action::Read))
        .map(|doc| Json(doc.to_json(state.version)))
        .ok_or(ApiError::DocumentNotFound(id))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    caller.require_scope("documents.read")?;
    let store = state.store.lock().expect("store lock");
    let collection = store.collection(&db, &coll, caller.is_key())?;
    let query = query::parse(
        &params::list(raw.as_deref(), "queries"),
        &collection.attributes,
        state.version.max_query_values(),
    )?;
    // UDB `find`: without collection-level read, only documentSecurity can grant access.
    let collection_read = caller.auth.allows(&[&collection.permissions], Action::Read);
    if !collection_read && !collection.document_security {
        return Err(ApiError::unauthorized());
    }
    let cursor_doc = match &query.cursor {
        Some(query::Cursor::After(id) | query::Cursor::Before(id)) => {
            Some(collection.documents.get(id).ok_or_else(|| {
                ApiError::CursorNotFound(format!("Document '{id}' for the 'cursor' value not found."))
            })?)
        }
        None => None,
    };
    let readable = collection
        .documents
        .values()
        .filter(|doc| collection_read || caller.auth.allows(&[&doc.permissions], Action::Read));
    let page = query.run(readable, cursor_doc);
    let documents: Vec<Value> = page.documents.iter().map(|d| d.to_json(state.version)).collect();
    Ok(Json(json!({"total": page.total, "documents": documents})))
}

#[derive(Deserialize)]
pub struct UpdateDocument {
    #[serde(default)]
    data: Value,
    permissions: Option<Vec<String>>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((db, coll, id)): DocPath,
    Body(params): Body<UpdateDocument>,
) -> ApiResult<Json<Value>> {
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

    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    let old = collection.documents.get(&id).ok_or_else(|| ApiError::DocumentNotFound(id.clone()))?;
    let mut doc = old.clone();
    doc.data.extend(changes);
    if let Some(permissions) = permissions {
        doc.permissions = permissions;
    }
    doc.created_at = created_at.unwrap_or(old.created_at);
    // UDB `updateDocument`: a call that changes nothing needs only read permission and
    // leaves `$updatedAt` alone; a real change needs update permission.
    let changed = doc.data != old.data || doc.permissions != old.permissions;
    let needed = if changed { Action::Update } else { Action::Read };
    if !caller.auth.allows(&lists(collection, old), needed) {
        return Err(ApiError::unauthorized());
    }
    check_precondition(old, timestamp)?;
    schema::validate(&collection.attributes, &mut doc.data)?;
    if changed {
        doc.updated_at = updated_at.unwrap_or_else(time::now);
    }
    if collection.unique_violation(&doc).is_some() {
        return Err(ApiError::DocumentAlreadyExists(id));
    }
    let body = doc.to_json(state.version);
    publish(&state, collection, &doc, DocumentAction::Update);
    collection.documents.insert(id, doc);
    Ok(Json(body))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((db, coll, id)): DocPath,
) -> ApiResult<Response> {
    caller.require_scope("documents.write")?;
    let timestamp = request_timestamp(&headers)?;
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    let doc = collection.documents.get(&id).ok_or_else(|| ApiError::DocumentNotFound(id.clone()))?;
    if !caller.auth.allows(&lists(collection, doc), Action::Delete) {
        return Err(ApiError::unauthorized());
    }
    check_precondition(doc, timestamp)?;
    let doc = collection.documents.remove(&id).expect("checked above");
    publish(&state, collection, &doc, DocumentAction::Delete);
    Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Default::default()).expect("static response"))
}
