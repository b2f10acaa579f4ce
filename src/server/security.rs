//! Guards around every request: security headers, the same-origin check for state-changing
//! requests and websockets, and in-memory rate limits.

use super::config::SecurityConfig;
use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The Content-Security-Policy of every response. Scripts come only from this site; the inline
/// scripts Leptos writes into pages (hydration, streamed resources) carry the page's `nonce`.
/// The wasm is compiled with `WebAssembly.instantiate*`, which needs `'wasm-unsafe-eval'`.
/// `connect-src 'self'` covers the websocket in current browsers; older ones need the explicit
/// `ws:`/`wss:` origin, named when the `Host` is a plain host name.
pub fn content_security_policy(host: Option<&str>, nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let sockets = host
        .filter(|h| {
            !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

/// The nonce Leptos put on a page's scripts: the first `nonce="..."` in the HTML. It stands in
/// the head, before any user content, and user text is escaped (`"` becomes `&quot;`), so a lead
/// name cannot forge one.
pub fn page_nonce(html: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"nonce=\"";
    let start = html.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let len = html[start..].iter().position(|&b| b == b'"')?;
    let nonce = std::str::from_utf8(&html[start..start + len]).ok()?;
    nonce
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
        .then(|| nonce.to_owned())
}

/// Adds the headers every response carries; `nonce` is the page's (see [`page_nonce`]).
pub fn add_headers(request_headers: &HeaderMap, headers: &mut HeaderMap, nonce: Option<&str>) {
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(host(request_headers), nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Refuses a request that a browser sent on behalf of another site. The rule:
/// - with an `Origin` header, its host must be this request's `Host` (`null` never matches);
/// - without one, a browser's `Sec-Fetch-Site` must be `same-origin` or `none` (typed by the user);
/// - with neither, the caller is not a browser (curl, scripts, tests) and cannot be carrying a
///   victim's cookies, so it passes.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: &str| Err(ApiError::Forbidden(format!("cross-site request refused: {why}")));
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
        return match (origin_host, host(headers)) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
            _ => refuse("its Origin is not this site"),
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(_) => refuse("it comes from another site"),
    }
}

/// API calls must be JSON. Besides being the only format the API reads, this stops cross-site
/// HTML forms, which can only send form or text bodies, even in browsers that omit `Origin`.
pub fn check_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType("send a JSON body with content-type: application/json".into()))
    }
}

/// Keys tracked before expired windows are swept out, so a flood of new keys costs bounded memory.
const SWEEP_AT: usize = 10_000;

/// Counts events per key in fixed windows: at most `limit` per `window`. In memory, so each
/// replica counts on its own.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, hits: Mutex::new(HashMap::new()) }
    }

    fn hits(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds to wait)` when `key` has used up its allowance.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.hits().get(key).map_or(Ok(()), |&(start, n)| self.allows(start, n))
    }

    fn allows(&self, start: Instant, n: u32) -> Result<(), u64> {
        let elapsed = start.elapsed();
        if n >= self.limit && elapsed < self.window {
            Err(self.window.saturating_sub(elapsed).as_secs() + 1)
        } else {
            Ok(())
        }
    }

    /// Counts one event against `key`.
    pub fn hit(&self, key: &str) {
        let _ = self.count(key, false);
    }

    /// Counts one event against `key` unless it has used up its allowance (then `Err(seconds to
    /// wait)`). Checked and counted under one lock, so that concurrent callers cannot all pass
    /// the check before any of them is counted.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.count(key, true)
    }

    fn count(&self, key: &str, within_allowance: bool) -> Result<(), u64> {
        let mut hits = self.hits();
        if hits.len() >= SWEEP_AT {
            hits.retain(|_, (start, _)| start.elapsed() < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        if within_allowance {
            self.allows(entry.0, entry.1)?;
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back one event taken in the current window (one that turned out not to count).
    pub fn refund(&self, key: &str) {
        if let Some((start, n)) = self.hits().get_mut(key) {
            if start.elapsed() < self.window {
                *n = n.saturating_sub(1);
            }
        }
    }

    pub fn forget(&self, key: &str) {
        self.hits().remove(key);
    }
}

/// The limits a replica enforces, from `[security]`.
pub struct Limits {
    /// Sign-ins, keyed by the username as typed (lower case): each is counted before its
    /// password is checked and given back if it succeeds.
    pub login_account: RateLimiter,
    /// Failed sign-ins, keyed by client IP.
    pub login_ip: RateLimiter,
    /// Sign-ins being checked at once: a password check holds 19 MiB (Argon2) and the blocking
    /// pool has hundreds of threads; and between its check and its count, the per-IP limit can
    /// be passed by no more sign-ins than this.
    pub sign_ins: tokio::sync::Semaphore,
}

impl Limits {
    pub fn new(cfg: &SecurityConfig) -> Self {
        let window = Duration::from_secs(cfg.login_window_secs);
        Self {
            login_account: RateLimiter::new(cfg.login_failures_per_account, window),
            login_ip: RateLimiter::new(cfg.login_failures_per_ip, window),
            sign_ins: tokio::sync::Semaphore::new(2 * std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }
}

pub fn too_many(what: &str, retry_after_s: u64) -> ApiError {
    ApiError::TooManyRequests { message: format!("too many {what}; try again in {retry_after_s} s"), retry_after_s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn only_this_sites_pages_and_non_browsers_pass_the_origin_check() {
        assert!(check_same_origin(&headers(&[("host", "a.test:3000"), ("origin", "http://a.test:3000")])).is_ok());
        assert!(check_same_origin(&headers(&[("host", "a.test:3000"), ("origin", "http://evil.test")])).is_err());
        assert!(check_same_origin(&headers(&[("host", "a.test:3000"), ("origin", "null")])).is_err());
        assert!(check_same_origin(&headers(&[("host", "a.test"), ("sec-fetch-site", "cross-site")])).is_err());
        assert!(check_same_origin(&headers(&[("host", "a.test"), ("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check_same_origin(&headers(&[("host", "a.test")])).is_ok());
    }

    #[test]
    fn the_policy_names_the_nonce_and_skips_odd_hosts() {
        let csp = content_security_policy(Some("a.test:3000"), Some("abc"));
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"), "{csp}");
        assert!(csp.contains("ws://a.test:3000 wss://a.test:3000") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!content_security_policy(Some("x; script-src *"), None).contains("script-src *"));
    }

    #[test]
    fn a_page_nonce_is_read_from_its_first_script_and_cannot_be_forged_by_escaped_text() {
        let page = br#"<head><script type="module" nonce="Ab+9/="></script></head><td>nonce=&quot;x&quot;</td>"#;
        assert_eq!(page_nonce(page).as_deref(), Some("Ab+9/="));
        assert_eq!(page_nonce(b"<td>nonce=&quot;evil&quot;</td>"), None);
        assert_eq!(page_nonce(br#"<script nonce="a b"></script>"#), None);
    }

    #[test]
    fn a_limiter_allows_the_limit_then_names_the_wait() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.take("k").is_ok() && l.take("k").is_ok());
        let wait = l.take("k").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(l.check("other").is_ok());
        l.refund("k");
        assert!(l.take("k").is_ok(), "a refunded event frees its place");
        assert!(l.check("k").is_err());
        l.forget("k");
        assert!(l.check("k").is_ok());
        l.hit("k");
        l.hit("k");
        assert!(l.take("k").is_err());
    }
}
