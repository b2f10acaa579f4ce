//! Appwrite's REST API over reqwest: the project and API-key headers, Appwrite's error body
//! parsed into [`AwError`], a per-request timeout, and bounded retries with exponential backoff
//! and full jitter on 429, 5xx, timeouts and connection errors.
//!
//! Retrying is safe for every call Leadboard makes: creates use fixed document IDs (a repeated
//! create answers 409 `document_already_exists`, which the caller resolves by reading the
//! document), updates carry `X-Appwrite-Timestamp` (a repeated update answers 409
//! `document_update_conflict`, which the caller resolves by re-reading), reads are reads.

use crate::server::config::AppwriteConfig;
use crate::server::store::StoreError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

/// Attempts per call, the first included.
const ATTEMPTS: u32 = 6;
const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// What went wrong talking to Appwrite. Never contains the API key: messages come from
/// Appwrite's error body or from the transport (which names the URL, not the headers).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwError {
    /// Appwrite answered with an error body `{"message","code","type"}`.
    #[error("Appwrite answered {code} {kind}: {message}")]
    Api { code: u16, kind: String, message: String },
    /// No answer: connection refused or reset, timeout.
    #[error("Appwrite is unreachable: {0}")]
    Transport(String),
    /// An answer Leadboard cannot use (not JSON, a missing attribute...).
    #[error("unexpected answer from Appwrite: {0}")]
    Decode(String),
}

impl AwError {
    pub fn is(&self, kind: &str) -> bool {
        matches!(self, AwError::Api { kind: k, .. } if k == kind)
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            AwError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth another try: rate limited, a server error, or no answer at all.
    pub fn retryable(&self) -> bool {
        match self {
            AwError::Api { code, .. } => *code == 429 || *code >= 500,
            AwError::Transport(_) => true,
            AwError::Decode(_) => false,
        }
    }
}

impl From<AwError> for StoreError {
    fn from(e: AwError) -> Self {
        if e.retryable() {
            StoreError::Unavailable(format!("the lead store (Appwrite) is not answering; try again shortly ({e})"))
        } else {
            StoreError::Internal(e.to_string())
        }
    }
}

/// One request: method, path under the endpoint, query pairs, JSON body, optional precondition.
pub struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<Value>,
    /// `X-Appwrite-Timestamp`: the `$updatedAt` the caller read; a newer stored document makes
    /// the update fail with 409 `document_update_conflict` instead of overwriting it.
    pub timestamp: Option<String>,
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), query: Vec::new(), body: None, timestamp: None }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::POST, path).body(body)
    }
    pub fn patch(path: impl Into<String>, body: Value) -> Self {
        Self::new(Method::PATCH, path).body(body)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub fn query(mut self, q: Value) -> Self {
        self.query.push(("queries[]", q.to_string()));
        self
    }
    pub fn timestamp(mut self, ts: &str) -> Self {
        self.timestamp = Some(ts.to_owned());
        self
    }
}

/// A REST client for one project, authenticated with the server API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    project: String,
}

impl Client {
    pub fn new(cfg: &AppwriteConfig) -> Result<Self, StoreError> {
        Self::with_key(&cfg.endpoint, &cfg.project, &cfg.api_key, Duration::from_millis(cfg.timeout_ms))
    }

    pub fn with_key(endpoint: &str, project: &str, key: &SecretString, timeout: Duration) -> Result<Self, StoreError> {
        let bad = |what: &str| StoreError::Internal(format!("the Appwrite {what} is not a valid header value"));
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-appwrite-project"),
            HeaderValue::from_str(project).map_err(|_| bad("project"))?,
        );
        let mut key = HeaderValue::from_str(key.expose_secret()).map_err(|_| bad("API key"))?;
        key.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-appwrite-key"), key);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, endpoint: endpoint.trim_end_matches('/').to_owned(), project: project.to_owned() })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    /// Sends `call` once.
    pub async fn once(&self, call: &Call<'_>) -> Result<Value, AwError> {
        let url = format!("{}{}", self.endpoint, call.path);
        let mut req = self.http.request(call.method.clone(), &url).query(&call.query);
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        if let Some(ts) = &call.timestamp {
            req = req.header("x-appwrite-timestamp", ts);
        }
        // Drop the URL from transport errors' text: it is harmless, but keeps logs short.
        let res = req.send().await.map_err(|e| AwError::Transport(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| AwError::Transport(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| AwError::Decode(format!("{} {}: {e}", call.method, call.path)));
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Err(AwError::Api {
            code: status,
            kind: body["type"].as_str().unwrap_or("unknown").to_owned(),
            message: body["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    /// Sends `call`, retrying what is worth retrying, at most [`ATTEMPTS`] times.
    pub async fn send(&self, call: Call<'_>) -> Result<Value, AwError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(&call).await {
                Err(e) if e.retryable() && attempt < ATTEMPTS => {
                    let wait = backoff(attempt);
                    tracing::debug!(method = %call.method, path = %call.path, attempt, wait_ms = wait.as_millis() as u64, error = %e, "retrying an Appwrite call");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    if e.retryable() {
                        tracing::warn!(method = %call.method, path = %call.path, attempts = attempt, error = %e, "Appwrite call failed after retries");
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }
}

/// Exponential backoff with full jitter: uniform in `0..=min(cap, base * 2^(attempt-1))`.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(BACKOFF_CAP);
    let ms = rand::random_range(0..=ceiling.as_millis() as u64);
    Duration::from_millis(ms.max(5))
}

/// Percent-free path segment check: every ID Leadboard puts into a path is an Appwrite ID
/// (letters, digits, `.`, `-`, `_`), so no escaping is needed; anything else is a bug.
pub fn id_segment(id: &str) -> Result<&str, StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 36
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(id)
    } else {
        Err(StoreError::Internal(format!("{id:?} is not an Appwrite ID")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let ceiling = BACKOFF_BASE.saturating_mul(1 << (attempt - 1).min(16)).min(BACKOFF_CAP);
            assert!(backoff(attempt) <= ceiling.max(Duration::from_millis(5)));
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let api = |code: u16, kind: &str| AwError::Api { code, kind: kind.into(), message: String::new() };
        assert!(api(503, "general_unknown").retryable());
        assert!(api(429, "general_rate_limit_exceeded").retryable());
        assert!(AwError::Transport("reset".into()).retryable());
        assert!(!api(409, "document_already_exists").retryable());
        assert!(!api(404, "document_not_found").retryable());
        assert!(matches!(StoreError::from(api(503, "x")), StoreError::Unavailable(_)));
    }
}
