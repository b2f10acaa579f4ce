//! Intake API tokens in Appwrite, shared by every replica. Appwrite's `updateDocument` writes the
//! whole document as its (possibly cached) copy has it, so nothing that must not be lost is a
//! patch of a document that others patch too:
//! - `api_tokens`: one document per token (ID = token ID) with the secret's hash, never the
//!   secret; only `last_used_at` is ever patched, by the token's own uses.
//! - `api_revocations`: a token is revoked by creating the document with its ID; Appwrite's
//!   insert-if-absent makes exactly one revoke win, and no use's patch can undo it.
//! - `api_requests`: the first request per token and idempotency key, as a document whose ID is
//!   derived from both, so concurrent retries on any replica agree on one.
//!
//! Reads that decide something are lists, which Appwrite never answers from its cache.

use super::client::Call;
use super::docs::{doc_path, docs_path};
use super::AppwriteStore;
use crate::domain::{ApiToken, Millis, Username};
use crate::server::store::{StoreError, TokenStore};
use async_trait::async_trait;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const API_TOKENS: &str = "api_tokens";
pub const API_REVOCATIONS: &str = "api_revocations";
pub const API_REQUESTS: &str = "api_requests";

/// The `api_requests` document of a token's idempotency key (IDs hold 36 characters).
fn request_id(token_id: &str, key: &str) -> String {
    let digest = Sha256::new().chain_update(token_id).chain_update([0]).chain_update(key).finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("r{}", &hex[..35])
}

fn token_of(doc: &Value, revoked_at: Option<Millis>) -> Result<ApiToken, StoreError> {
    let bad = || StoreError::Internal(format!("unreadable token document {}", doc["$id"]));
    Ok(ApiToken {
        id: doc["$id"].as_str().ok_or_else(bad)?.to_owned(),
        name: doc["name"].as_str().ok_or_else(bad)?.to_owned(),
        created_by: Username::parse(doc["created_by"].as_str().unwrap_or_default()).map_err(|_| bad())?,
        created_at: doc["created_at"].as_i64().ok_or_else(bad)?,
        last_used_at: doc["last_used_at"].as_i64(),
        revoked_at,
    })
}

impl AppwriteStore {
    /// When the token `id` was revoked, if it was.
    async fn revoked_at(&self, id: &str) -> Result<Option<Millis>, StoreError> {
        Ok(self.find_doc(API_REVOCATIONS, id).await?.and_then(|d| d["revoked_at"].as_i64()))
    }

    /// Creates a document; false if one with its ID exists already.
    async fn create_doc(&self, collection: &str, id: &str, data: Value) -> Result<bool, StoreError> {
        let body = json!({"documentId": id, "data": data});
        match self.core.api.send(Call::post(docs_path(&self.core.db, collection), body)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is("document_already_exists") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl TokenStore for AppwriteStore {
    async fn create_token(&self, token: &ApiToken, secret_hash: &str) -> Result<(), StoreError> {
        let data = json!({
            "name": token.name, "token_hash": secret_hash,
            "created_by": token.created_by.as_str(), "created_at": token.created_at,
        });
        if self.create_doc(API_TOKENS, &token.id, data).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(format!("token {}", token.id)))
        }
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let path = |c| docs_path(&self.core.db, c);
        let (docs, revocations) = tokio::try_join!(
            self.all_pages(path(API_TOKENS), "documents"),
            self.all_pages(path(API_REVOCATIONS), "documents")
        )?;
        let revoked: HashMap<&str, Millis> =
            revocations.iter().filter_map(|r| Some((r["$id"].as_str()?, r["revoked_at"].as_i64()?))).collect();
        let mut out = docs
            .iter()
            .map(|d| token_of(d, d["$id"].as_str().and_then(|id| revoked.get(id).copied())))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn revoke_token(&self, id: &str, at: Millis) -> Result<bool, StoreError> {
        if self.find_doc(API_TOKENS, id).await?.is_none() {
            return Ok(false);
        }
        self.create_doc(API_REVOCATIONS, id, json!({"revoked_at": at})).await
    }

    async fn use_token(&self, secret_hash: &str, now: Millis) -> Result<Option<ApiToken>, StoreError> {
        let call = Call::get(docs_path(&self.core.db, API_TOKENS))
            .query(json!({"method": "equal", "attribute": "token_hash", "values": [secret_hash]}))
            .query(json!({"method": "limit", "values": [1]}));
        let page = self.core.api.send(call).await?;
        let Some(doc) = page["documents"].as_array().and_then(|d| d.iter().find(|d| d["token_hash"] == secret_hash))
        else {
            return Ok(None);
        };
        let id = doc["$id"].as_str().unwrap_or_default();
        if self.revoked_at(id).await?.is_some() {
            return Ok(None);
        }
        // The last use is shown to managers, not decided on: a failed write is only logged.
        let patch = Call::patch(doc_path(&self.core.db, API_TOKENS, id)?, json!({"data": {"last_used_at": now}}));
        if let Err(e) = self.core.api.send(patch).await {
            tracing::warn!(error = %e, token = id, "could not record a token's last use");
        }
        let mut token = token_of(doc, None)?;
        token.last_used_at = Some(now);
        Ok(Some(token))
    }

    async fn first_request(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
    ) -> Result<String, StoreError> {
        let id = request_id(token_id, key);
        let data = json!({"token_id": token_id, "fingerprint": fingerprint, "at": now});
        if self.create_doc(API_REQUESTS, &id, data).await? {
            return Ok(fingerprint.to_owned());
        }
        let first = self.find_doc(API_REQUESTS, &id).await?;
        first.and_then(|d| d["fingerprint"].as_str().map(str::to_owned)).ok_or_else(|| {
            StoreError::Unavailable("the first request with this Idempotency-Key is not readable yet; retry".into())
        })
    }
}
