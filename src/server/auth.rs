//! Signing in (the store checks the password), sessions (random tokens, stored hashed) and who
//! is asking.

use super::security::too_many;
use super::{now_ms, AppState};
use crate::domain::{Role, UserInfo};
use crate::error::ApiError;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "lb_session";
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn cookie(state: &AppState, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if state.config.app.secure_cookies { "; Secure" } else { "" };
    let c = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&c).expect("cookie is ASCII")
}

/// The client's IP, the key of the per-IP sign-in limit. Taken from the connection, never from
/// `X-Forwarded-For` (which a client can write); behind a proxy every client shares the proxy's.
fn client_ip(request: &Parts) -> String {
    request
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Checks the credentials and opens a session with a new token, ending the session the request
/// came with. Failed attempts are counted per account and per client IP; over either limit the
/// answer is 429 without checking the password. Returns the user and the `Set-Cookie` value.
pub async fn sign_in(
    state: &AppState,
    request: &Parts,
    username: &str,
    password: &str,
) -> Result<(UserInfo, HeaderValue), ApiError> {
    let limits = &state.limits;
    // Usernames are lower case; "Maria" is maria.
    let login = username.trim().to_lowercase();
    // Bounded, so that long garbage usernames cannot grow the limiter's keys.
    let account_key: String = login.chars().take(64).collect();
    let ip = client_ip(request);
    let turn = limits.sign_ins.acquire().await.map_err(|_| ApiError::Unavailable("sign-ins are closed".into()))?;
    limits.login_ip.check(&ip).map_err(|s| too_many("failed sign-ins from your address", s))?;
    // Counted before the password is checked, and given back if it succeeds: counting only after
    // a failed check let a burst of parallel guesses at one account all pass its limit.
    limits.login_account.take(&account_key).map_err(|s| too_many("failed sign-ins for this account", s))?;

    let account = match state.accounts.verify_password(&login, password).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            limits.login_ip.hit(&ip);
            return Err(ApiError::Unauthorized("wrong username or password".into()));
        }
        Err(e) => {
            // Not the user's failure.
            limits.login_account.refund(&account_key);
            return Err(e.into());
        }
    };
    drop(turn);
    if account.disabled {
        return Err(ApiError::Forbidden("this account is disabled".into()));
    }
    limits.login_account.forget(&account_key);
    if let Some(old) = session_token(&request.headers) {
        state.accounts.delete_session(&token_hash(&old)).await?;
    }
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    state.accounts.create_session(&token_hash(&token), &account.username, now_ms() + SESSION_TTL_MS).await?;
    tracing::info!(user = %account.username, "signed in");
    Ok((account.info(), cookie(state, &token, SESSION_TTL_MS / 1000)))
}

/// Ends the session named by the request's cookie. Returns the `Set-Cookie` value that clears it.
pub async fn sign_out(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(token) = session_token(headers) {
        state.accounts.delete_session(&token_hash(&token)).await?;
    }
    Ok(cookie(state, "", 0))
}

/// The signed-in user of a request, if any.
pub async fn user_from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<UserInfo>, ApiError> {
    match session_token(headers) {
        Some(token) => Ok(state.accounts.session_user(&token_hash(&token), now_ms()).await?),
        None => Ok(None),
    }
}

/// The request inside a server function.
pub fn request() -> Result<Parts, ApiError> {
    leptos::prelude::use_context::<Parts>().ok_or_else(|| ApiError::Internal("request missing".into()))
}

/// The signed-in user inside a server function.
pub async fn current_user() -> Result<UserInfo, ApiError> {
    let state = AppState::current()?;
    user_from_headers(&state, &request()?.headers).await?.ok_or_else(|| ApiError::Unauthorized("sign in first".into()))
}

pub async fn require_manager() -> Result<UserInfo, ApiError> {
    let user = current_user().await?;
    if user.role == Role::Manager {
        Ok(user)
    } else {
        Err(ApiError::Forbidden("only managers can do that".into()))
    }
}
