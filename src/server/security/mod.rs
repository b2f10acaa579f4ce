//! Guards around every request: security headers, the same-origin check for state-changing
//! requests and websockets, the `Host` allow-list; request bodies under a limit and a deadline
//! (`body`); in-memory rate limits (`limits`) and who the client is (`client`).

mod body;
pub mod client;
pub mod limits;

pub use body::read_body;
pub use limits::{too_many, Limits, RateLimiter};

use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue};

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

/// Refuses a request for a host this site does not serve. DNS rebinding points a name the
/// attacker owns at this server, so that the attacker's page talks to it as same-origin; the
/// `Host` header still carries that name. IP addresses and `localhost` cannot be rebound and
/// always pass; other names must be in `allowed`.
pub fn check_host(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    let Some(host) = host(headers) else {
        return Err(ApiError::BadRequest("the request has no Host header".into()));
    };
    // Without the port: `[::1]:3000`, `10.0.0.1:3000`, `leads.example.com:443`.
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    }
    .to_ascii_lowercase();
    let ok = name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || allowed.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(ApiError::MisdirectedRequest(format!(
            "this server does not serve {name:?}; add it to app.allowed_hosts (LEADBOARD_ALLOWED_HOSTS)"
        )))
    }
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
    fn only_allowed_names_and_addresses_pass_the_host_check() {
        let allowed = vec!["leads.example.com".to_owned()];
        for ok in ["leads.example.com", "LEADS.example.com:443", "127.0.0.1:3000", "[::1]:3000", "localhost:3000"] {
            assert!(
                check_host(&HeaderMap::from_iter([(header::HOST, HeaderValue::from_static(ok))]), &allowed).is_ok(),
                "{ok}"
            );
        }
        for bad in ["evil.example", "leads.example.com.evil.example", "attacker:3000"] {
            let e = check_host(&HeaderMap::from_iter([(header::HOST, HeaderValue::from_static(bad))]), &allowed);
            assert_eq!(e.map_err(|e| e.status()), Err(421), "{bad}");
        }
        assert_eq!(check_host(&HeaderMap::new(), &allowed).map_err(|e| e.status()), Err(400));
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
}
