//! Intake API tokens: made by managers (the secret shown once, kept as a SHA-256 hash: it is
//! 32 random bytes, so a slow password hash would add nothing), listed with their last use,
//! revoked at once. A token can only add leads, and each is rate-limited on its own.

use crate::domain::{ApiToken, NewToken, UserInfo};
use crate::error::ApiError;
use crate::server::now_ms;
use crate::server::security::{too_many, RateLimiter};
use crate::server::store::TokenStore;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// What every secret starts with, so a leaked one is easy to recognise (and to search for).
pub const PREFIX: &str = "lbt_";
/// Requests one token may make per minute (a batch is one request).
pub const PER_MINUTE: u32 = 60;

pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::fill(&mut raw[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub struct Tokens {
    store: Arc<dyn TokenStore>,
    limit: RateLimiter,
}

impl Tokens {
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Self { store, limit: RateLimiter::new(PER_MINUTE, Duration::from_secs(60)) }
    }

    pub async fn create(&self, by: &UserInfo, name: &str) -> Result<NewToken, ApiError> {
        let name = ApiToken::parse_name(name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let id: String = random(6).chars().map(|c| if c.is_ascii_alphanumeric() { c } else { 'x' }).collect();
        let secret = format!("{PREFIX}{}", random(32));
        let token = ApiToken {
            id,
            name,
            created_by: by.username.clone(),
            created_at: now_ms(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_token(&token, &hash(&secret)).await?;
        tracing::info!(by = %by.username, token = %token.id, name = %token.name, "intake token created");
        Ok(NewToken { token, secret })
    }

    pub async fn list(&self) -> Result<Vec<ApiToken>, ApiError> {
        Ok(self.store.tokens().await?)
    }

    pub async fn revoke(&self, by: &UserInfo, id: &str) -> Result<(), ApiError> {
        if !self.store.revoke_token(id, now_ms()).await? {
            return Err(ApiError::NotFound(format!("no live token {id}")));
        }
        tracing::info!(by = %by.username, token = %id, "intake token revoked");
        Ok(())
    }

    /// The live token a `Authorization: Bearer` secret names, within its rate limit.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<ApiToken, ApiError> {
        let unauthorized =
            || ApiError::Unauthorized("send a live intake token as Authorization: Bearer lbt_...".into());
        let secret = secret.filter(|s| s.starts_with(PREFIX) && s.len() < 100).ok_or_else(unauthorized)?;
        let token = self.store.use_token(&hash(secret), now_ms()).await?.ok_or_else(unauthorized)?;
        self.limit.take(&token.id).map_err(|wait| too_many("requests for this token", wait))?;
        Ok(token)
    }
}
