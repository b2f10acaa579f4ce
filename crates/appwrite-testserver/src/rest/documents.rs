//! Documents: create, get, list
//! (`src/Appwrite/Platform/Modules/Databases/Http/Databases/Collections/Documents/*.php` and
//! UDB `Database::createDocument/getDocument/find`); updates and deletes are in `writes.rs`.
//! IDs and string comparisons ignore case. A GET goes through the legacy document cache when
//! that model is on; a list never does.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::created;
use super::transactions::stage_one;
use super::writes::Target;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::events::{DocumentAction, Event};
use crate::params::{self, Body};
use crate::permissions::{self, Action, DOCUMENT_ACTIONS};
use crate::store::{Collection, Document};
use crate::time::{self, Timestamp};
use crate::version::CacheMode;
use crate::{ids, query, schema, txn, AppState};

pub(super) type DocPath = Path<(String, String, String)>;

/// System fields a client may not write (`removableAttributes` of the documents actions);
/// `$createdAt`/`$updatedAt` are only honoured for API keys.
const READ_ONLY: &[&str] =
    &["$id", "$sequence", "$collectionId", "$databaseId", "$permissions", "$collection", "$tenant"];

/// Removes system fields from `data`, returning the dates an API key asked for.
pub(super) fn take_system_fields(data: &mut Map<String, Value>, is_key: bool) -> ApiResult<[Option<Timestamp>; 2]> {
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
pub(super) fn lists<'a>(collection: &'a Collection, doc: &'a Document) -> Vec<&'a [String]> {
    let mut lists = vec![collection.permissions.as_slice()];
    if collection.document_security {
        lists.push(doc.permissions.as_slice());
    }
    lists
}

/// `X-Appwrite-Timestamp`: the client's view of `$updatedAt` (`app/init/resources/request.php`).
pub(super) fn request_timestamp(headers: &HeaderMap) -> ApiResult<Option<Timestamp>> {
    let Some(value) = headers.get("x-appwrite-timestamp") else { return Ok(None) };
    let invalid = || ApiError::ArgumentInvalid("Invalid X-Appwrite-Timestamp header value".into());
    value.to_str().ok().and_then(time::parse).map(Some).ok_or_else(invalid)
}

/// UDB: "Document was updated after the request timestamp" — strictly later fails.
pub(super) fn check_precondition(doc: &Document, timestamp: Option<Timestamp>) -> ApiResult<()> {
    match timestamp {
        Some(ts) if doc.updated_at > ts => Err(ApiError::DocumentUpdateConflict),
        _ => Ok(()),
    }
}

/// Hands the event to Realtime: at once, in commit order, unless the delay fault holds it
/// back (then after the reply, in no order across requests, as Appwrite's queue delivers).
pub(super) fn publish(state: &AppState, collection: &Collection, doc: &Document, action: DocumentAction) {
    let event = Arc::new(Event::for_document(collection, doc, action, state.version));
    let delay = state.faults.event_delay();
    // No receivers is fine: nobody is subscribed.
    if delay.is_zero() {
        let _ = state.events.send(event);
        return;
    }
    let events = state.events.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = events.send(event);
    });
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDocument {
    #[serde(default)]
    document_id: String,
    #[serde(default)]
    data: Value,
    permissions: Option<Vec<String>>,
    /// 1.8+: stage instead of writing.
    transaction_id: Option<String>,
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
    if let Some(transaction) = params.transaction_id.filter(|_| state.version.has_transactions()) {
        let target = Target { db, coll, id, is_key: caller.is_key() };
        return stage_one(&state, &caller, &transaction, &target, txn::Action::Create, data, Some(permissions));
    }

    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    if !caller.auth.allows(&[&collection.permissions], Action::Create) {
        return Err(ApiError::unauthorized());
    }
    schema::validate(&collection.attributes, &mut data)?;
    if collection.document(&id).is_some() {
        return Err(ApiError::DocumentAlreadyExists(id));
    }
    let now = state.faults.node_now();
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
    collection.documents.insert(ids::fold(&id), doc);
    Ok(created(body))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll, id)): DocPath,
) -> ApiResult<Json<Value>> {
    caller.require_scope("documents.read")?;
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    let legacy = state.cache == CacheMode::Legacy;
    // UDB `getDocument`: a cached copy wins whenever there is one; else the row is read and,
    // if the caller may read it, cached under the ID as spelled in the request.
    let (doc, cached) = match collection.cache.load(&id).filter(|_| legacy) {
        Some(cached) => (cached.clone(), true),
        None => (collection.document(&id).cloned().ok_or_else(|| ApiError::DocumentNotFound(id.clone()))?, false),
    };
    // An unreadable document looks exactly like a missing one.
    if !caller.auth.allows(&lists(collection, &doc), Action::Read) {
        return Err(ApiError::DocumentNotFound(id));
    }
    if legacy && !cached {
        collection.cache.save(&id, &doc);
    }
    Ok(Json(doc.to_json(state.version)))
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
            Some(collection.document(id).ok_or_else(|| {
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
