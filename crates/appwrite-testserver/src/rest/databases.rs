//! Databases, collections, attributes and indexes
//! (`src/Appwrite/Platform/Modules/Databases/Http/Databases/...`). Only API keys hold the
//! `databases.*`/`collections.*` scopes these need.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::created;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::params::Body;
use crate::permissions::{self, COLLECTION_ACTIONS};
use crate::schema::{Attribute, AttributeKind, Index, SYSTEM_FIELDS};
use crate::store::{Collection, Database};
use crate::{ids, time, AppState};

fn enabled_by_default() -> bool {
    true
}

/// Attributes and indexes are built by a worker in Appwrite, so creation answers
/// `202 Accepted` with status `processing`; here they are `available` right after.
fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDatabase {
    database_id: String,
    name: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

pub async fn create_database(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<CreateDatabase>,
) -> ApiResult<Response> {
    caller.require_scope("databases.write")?;
    let id = ids::custom("databaseId", &params.database_id)?;
    let mut store = state.store.lock().expect("store lock");
    if store.databases.contains_key(&id) {
        return Err(ApiError::DatabaseAlreadyExists(id));
    }
    let database = Database {
        id: id.clone(),
        name: params.name,
        enabled: params.enabled,
        created_at: time::now(),
        collections: HashMap::new(),
    };
    let body = database.to_json();
    store.databases.insert(id, database);
    Ok(created(body))
}

pub async fn get_database(
    State(state): State<AppState>,
    caller: Caller,
    Path(db): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("databases.read")?;
    let store = state.store.lock().expect("store lock");
    Ok(Json(store.database(&db, caller.is_key())?.to_json()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCollection {
    collection_id: String,
    name: String,
    permissions: Option<Vec<String>>,
    #[serde(default)]
    document_security: bool,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

pub async fn create_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(db): Path<String>,
    Body(params): Body<CreateCollection>,
) -> ApiResult<Response> {
    caller.require_scope("collections.write")?;
    let id = ids::custom("collectionId", &params.collection_id)?;
    let permissions = permissions::normalize(&params.permissions.unwrap_or_default(), COLLECTION_ACTIONS)?;
    let mut store = state.store.lock().expect("store lock");
    store.database(&db, caller.is_key())?;
    let database = store.databases.get_mut(&db).expect("checked above");
    if database.collections.contains_key(&id) {
        return Err(ApiError::CollectionAlreadyExists(id));
    }
    let collection = Collection {
        id: id.clone(),
        database_id: db,
        name: params.name,
        enabled: params.enabled,
        document_security: params.document_security,
        permissions,
        created_at: time::now(),
        attributes: vec![],
        indexes: vec![],
        documents: HashMap::new(),
        cache: Default::default(),
        next_sequence: 1,
    };
    let body = collection.to_json();
    database.collections.insert(id, collection);
    Ok(created(body))
}

pub async fn get_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("collections.read")?;
    let store = state.store.lock().expect("store lock");
    Ok(Json(store.collection(&db, &coll, caller.is_key())?.to_json()))
}

#[derive(Deserialize)]
pub struct CreateAttribute {
    key: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Value,
    #[serde(default)]
    array: bool,
    size: Option<u64>,
    min: Option<i64>,
    max: Option<i64>,
}

pub async fn create_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll, kind)): Path<(String, String, String)>,
    Body(params): Body<CreateAttribute>,
) -> ApiResult<Response> {
    caller.require_scope("collections.write")?;
    let kind = match kind.as_str() {
        "string" => {
            let size =
                params.size.ok_or_else(|| ApiError::ArgumentInvalid("Param \"size\" is not optional.".into()))?;
            if !(1..=1_073_741_824).contains(&size) {
                return Err(ApiError::invalid_param("size", "Value must be a valid range between 1 and 1,073,741,824"));
            }
            AttributeKind::String { size }
        }
        "integer" => {
            AttributeKind::Integer { min: params.min.unwrap_or(i64::MIN), max: params.max.unwrap_or(i64::MAX) }
        }
        "boolean" => AttributeKind::Boolean,
        "datetime" => AttributeKind::Datetime,
        _ => return Err(ApiError::RouteNotFound),
    };
    let attribute = Attribute::new(params.key, kind, params.required, params.array, params.default)?;
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    if collection.attributes.iter().any(|a| a.key == attribute.key) {
        return Err(ApiError::AttributeAlreadyExists(attribute.key));
    }
    // Existing documents get the new attribute's default, as a new SQL column would.
    for doc in collection.documents.values_mut() {
        doc.data.insert(attribute.key.clone(), attribute.default.clone());
    }
    let body = attribute.to_json("processing");
    collection.attributes.push(attribute);
    Ok(accepted(body))
}

pub async fn list_attributes(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("collections.read")?;
    let store = state.store.lock().expect("store lock");
    let collection = store.collection(&db, &coll, caller.is_key())?;
    let attributes: Vec<Value> = collection.attributes.iter().map(|a| a.to_json("available")).collect();
    Ok(Json(json!({"total": attributes.len(), "attributes": attributes})))
}

pub async fn get_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll, key)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("collections.read")?;
    let store = state.store.lock().expect("store lock");
    let collection = store.collection(&db, &coll, caller.is_key())?;
    let attribute = collection.attributes.iter().find(|a| a.key == key);
    attribute.map(|a| Json(a.to_json("available"))).ok_or(ApiError::AttributeNotFound(key))
}

#[derive(Deserialize)]
pub struct CreateIndex {
    key: String,
    #[serde(rename = "type")]
    kind: String,
    attributes: Vec<String>,
    orders: Option<Vec<String>>,
    lengths: Option<Vec<Value>>,
}

pub async fn create_index(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
    Body(params): Body<CreateIndex>,
) -> ApiResult<Response> {
    caller.require_scope("collections.write")?;
    ids::check("key", &params.key)?;
    if !matches!(params.kind.as_str(), "key" | "unique" | "fulltext") {
        return Err(ApiError::invalid_param("type", "Value must be one of (key, fulltext, unique)"));
    }
    if params.attributes.is_empty() {
        return Err(ApiError::invalid_param("attributes", "Value must be a valid array and at least 1 items"));
    }
    let orders = params.orders.unwrap_or_default();
    if orders.iter().any(|o| o != "ASC" && o != "DESC") {
        return Err(ApiError::invalid_param("orders", "Value must be one of (ASC, DESC)"));
    }
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&db, &coll, caller.is_key())?;
    if collection.indexes.iter().any(|i| i.key == params.key) {
        return Err(ApiError::IndexAlreadyExists(params.key));
    }
    let known = |a: &String| SYSTEM_FIELDS.contains(&a.as_str()) || collection.attributes.iter().any(|x| &x.key == a);
    if let Some(unknown) = params.attributes.iter().find(|a| !known(a)) {
        return Err(ApiError::AttributeUnknown(unknown.clone()));
    }
    let mut index = Index {
        key: params.key,
        kind: params.kind,
        attributes: params.attributes,
        orders,
        lengths: params.lengths.unwrap_or_default(),
        status: "available",
        error: String::new(),
        created_at: time::now(),
    };
    // The worker would fail to build a unique index over duplicate rows.
    if index.kind == "unique" && collection.has_duplicates(&index) {
        index.status = "failed";
        index.error = "Duplicate entry for the unique index".into();
    }
    let body = index.to_json("processing");
    collection.indexes.push(index);
    Ok(accepted(body))
}

pub async fn list_indexes(
    State(state): State<AppState>,
    caller: Caller,
    Path((db, coll)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_scope("collections.read")?;
    let store = state.store.lock().expect("store lock");
    let collection = store.collection(&db, &coll, caller.is_key())?;
    let indexes: Vec<Value> = collection.indexes.iter().map(|i| i.to_json(i.status)).collect();
    Ok(Json(json!({"total": indexes.len(), "indexes": indexes})))
}
