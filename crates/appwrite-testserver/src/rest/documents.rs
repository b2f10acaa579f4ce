//! Documents: create, get, list
//! (`src/Appwrite/Platform/Modules/Databases/Http/Databases/Collections/Documents/*.php` and
//! UDB `Database::createDocument/getDocument/find`); updates and deletes are in `writes.rs`.
//! IDs and string comparisons ignore case. A GET goes through the legacy document cache when
//! that model is on; a list never does.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{lists, publish, take_system_fields, DocPath, Target};
use super::created;
use super::transactions::stage_one;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::events::DocumentAction;
use crate::params::{self, Body};
use crate::permissions::{self, Action, DOCUMENT_ACTIONS};
use crate::store::Document;
use crate::version::CacheMode;
use crate::{ids, query, schema, txn, AppState};

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
