//! One request's way to one document, shared by reads, writes and transactions: the path and
//! the target row, the system fields a client may not write, the permission lists, the
//! `X-Appwrite-Timestamp` precondition, the locking read, the write and its commit (see
//! `writes.rs` for the steps and the cache model), and the Realtime event that follows.

use axum::extract::Path;
use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

use crate::errors::{ApiError, ApiResult};
use crate::events::{DocumentAction, Event};
use crate::rows::{self, RowLock};
use crate::store::{Collection, Document};
use crate::time::{self, Timestamp};
use crate::version::CacheMode;
use crate::{ids, AppState};
use std::sync::Arc;

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

/// The row one write is about, with the ID as the request spells it.
pub(super) struct Target {
    pub db: String,
    pub coll: String,
    pub id: String,
    pub is_key: bool,
}

impl Target {
    pub(super) fn row(&self) -> rows::RowKey {
        rows::key(&self.db, &self.coll, &self.id)
    }
}

async fn pause(duration: std::time::Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}

/// The row as a locking read of `id` sees it once the row lock is held: on the legacy model
/// the row it reads is also cached (under the ID as spelled).
pub(super) fn read_locked(collection: &mut Collection, id: &str, legacy: bool) -> Option<Document> {
    let row = collection.document(id).cloned()?;
    if legacy {
        collection.cache.save(id, &row);
    }
    Some(row)
}

/// Step 1. Returns what the write will be checked against and merged into, and the row lock
/// if the read took one (a cache hit takes none).
pub(super) async fn locking_read(state: &AppState, target: &Target) -> ApiResult<(Document, Option<RowLock>)> {
    let legacy = state.cache == CacheMode::Legacy;
    loop {
        let released = state.rows.released();
        {
            let mut store = state.store.lock().expect("store lock");
            let collection = store.collection_mut(&target.db, &target.coll, target.is_key)?;
            if let Some(cached) = collection.cache.load(&target.id).filter(|_| legacy) {
                return Ok((cached.clone(), None));
            }
            if state.rows.try_lock(&target.row()) {
                let lock = RowLock::held(state, target.row());
                let row = read_locked(collection, &target.id, legacy);
                return Ok((row.ok_or_else(|| ApiError::DocumentNotFound(target.id.clone()))?, Some(lock)));
            }
        }
        released.await;
    }
}

/// Steps 2 and 3 for a write whose checks passed: `change` computes the new row (`None`
/// deletes it) from the committed one, under the row lock. Returns the committed row from
/// before the write and the new one.
pub(super) async fn write_and_commit(
    state: &AppState,
    target: &Target,
    lock: Option<RowLock>,
    change: impl FnOnce(&Collection, &Document) -> ApiResult<Option<Document>>,
) -> ApiResult<(Document, Option<Document>)> {
    let (gap, window) = state.faults.cache_pauses();
    pause(gap).await;
    let _lock = match lock {
        Some(lock) => lock,
        None => RowLock::acquire(state, target.row()).await,
    };
    let (old, new, recache) = {
        let mut store = state.store.lock().expect("store lock");
        let collection = store.collection_mut(&target.db, &target.coll, target.is_key)?;
        let old = collection.document(&target.id).cloned();
        let old = old.ok_or_else(|| ApiError::DocumentNotFound(target.id.clone()))?;
        let new = change(collection, &old)?;
        collection.cache.purge(&[&target.id, &old.id]);
        (old, new, state.cache == CacheMode::Legacy && state.faults.recache())
    };
    pause(window).await;
    let mut store = state.store.lock().expect("store lock");
    let collection = store.collection_mut(&target.db, &target.coll, target.is_key)?;
    let key = ids::fold(&target.id);
    match &new {
        Some(doc) => {
            collection.documents.insert(key, doc.clone());
            publish(state, collection, doc, DocumentAction::Update);
        }
        None => {
            collection.documents.remove(&key);
            publish(state, collection, &old, DocumentAction::Delete);
        }
    }
    // The forced race: a GET read the old row between the purge and the commit.
    if recache {
        collection.cache.save(&target.id, &old);
    }
    Ok((old, new))
}

/// Adds `delta` to an integer or float attribute, refusing to pass `bound` (the `max` of an
/// increment, the `min` of a decrement), like UDB `increaseDocumentAttribute`.
pub(super) fn bump(doc: &mut Document, attribute: &str, delta: f64, bound: Option<f64>) -> ApiResult<()> {
    let current = match doc.data.get(attribute) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::Null) | None if doc.data.contains_key(attribute) => 0.0,
        _ => return Err(ApiError::AttributeTypeInvalid(format!("Attribute \"{attribute}\" is not a number"))),
    };
    let next = current + delta;
    match bound {
        Some(max) if delta >= 0.0 && next > max => Err(ApiError::AttributeLimitExceeded(format!(
            "Attribute \"{attribute}\" has reached the maximum value of {max}"
        ))),
        Some(min) if delta < 0.0 && next < min => Err(ApiError::AttributeLimitExceeded(format!(
            "Attribute \"{attribute}\" has reached the minimum value of {min}"
        ))),
        _ => {
            let was_integer = matches!(doc.data.get(attribute), Some(Value::Number(n)) if n.is_i64())
                || doc.data.get(attribute).is_some_and(Value::is_null);
            let value = if was_integer && next.fract() == 0.0 { json!(next as i64) } else { json!(next) };
            doc.data.insert(attribute.to_owned(), value);
            Ok(())
        }
    }
}
