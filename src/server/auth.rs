//! Signing in (the store checks the password), sessions (random tokens, stored hashed) and who
//! is asking.

use super::{now_ms, AppState};
use crate::domain::{AccountChange, Password, Role, UserInfo};
use crate::error::ApiError;
use crate::server::store::{StoreError, Verified};
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "lb_session";
/// The name when the cookie is `Secure`: browsers only accept a `__Host-` cookie that is
/// `Secure`, has `Path=/` and no `Domain`, so no other host (a sibling subdomain) can set it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-lb_session";
const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.app.cookies_secure() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

fn session_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

fn cookie(state: &AppState, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = if state.config.app.cookies_secure() { "; Secure" } else { "" };
    let name = cookie_name(state);
    let c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&c).expect("cookie is ASCII")
}

/// The TCP peer of a request, from its extensions (the server records it on every connection).
pub fn peer_of(extensions: &axum::http::Extensions) -> std::net::IpAddr {
    extensions.get::<ConnectInfo<std::net::SocketAddr>>().map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// The session a request's cookie names (the hash of its token), signed in or not.
pub fn session_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    session_token(state, headers).map(|t| token_hash(&t))
}

/// The answer to a sign-in that does not get in. The same for an unknown account, a wrong
/// password and a disabled account with the right one: telling the last apart would confirm a
/// password (an ex-employee's, reused elsewhere) to whoever is guessing.
fn wrong_credentials() -> ApiError {
    ApiError::Unauthorized("wrong username or password".into())
}

/// Checks the credentials and opens a session with a new token, ending the session the request
/// came with. Guesses are limited per account and client, per client and per replica, and slow
/// the account down (`security::limits::SignInLimits`). Returns the user and the `Set-Cookie` value.
pub async fn sign_in(
    state: &AppState,
    request: &Parts,
    username: &str,
    password: &str,
) -> Result<(UserInfo, HeaderValue), ApiError> {
    // Usernames are lower case; "Maria" is maria.
    let login = username.trim().to_lowercase();
    let verified = check_password(state, request, &login, password).await?;
    let cookie = open_session(state, request, &verified).await?;
    tracing::info!(user = %verified.account.username, "signed in");
    Ok((verified.account.info(), cookie))
}

/// A password check under the sign-in limits. A disabled account's right password fails as a
/// wrong one.
async fn check_password(state: &AppState, request: &Parts, login: &str, password: &str) -> Result<Verified, ApiError> {
    let client = state.limits.clients.client_key(peer_of(&request.extensions), &request.headers);
    // Bounded, so that long garbage usernames cannot grow the limiter's keys; one account's
    // username and email address are one key.
    let account_key: String = state.accounts.login_key(login).await?.chars().take(64).collect();
    let (attempt, turn) = state.limits.sign_in.attempt(&account_key, &client).await?;
    // On a store failure the attempt is dropped unsettled: not the user's failure.
    let verified = state.accounts.verify_password(login, password).await?;
    drop(turn);
    match verified.filter(|v| !v.account.disabled) {
        Some(verified) => {
            attempt.succeeded();
            Ok(verified)
        }
        None => {
            attempt.failed();
            tracing::info!(%client, "password check failed");
            Err(wrong_credentials())
        }
    }
}

/// Opens a session for `verified` with a new token, ending the one the request came with.
/// Returns the `Set-Cookie` value. A password reset or disable that committed since the check
/// wins: no session, and the answer a wrong password gets.
async fn open_session(state: &AppState, request: &Parts, verified: &Verified) -> Result<HeaderValue, ApiError> {
    if let Some(old) = session_of(state, &request.headers) {
        state.accounts.delete_session(&old).await?;
    }
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    match state.accounts.create_session(&token_hash(&token), verified, now_ms() + SESSION_TTL_MS).await {
        Ok(()) => Ok(cookie(state, &token, SESSION_TTL_MS / 1000)),
        Err(StoreError::Conflict(why)) => {
            tracing::info!(why, "sign-in overtaken by a credential change");
            Err(wrong_credentials())
        }
        Err(e) => Err(e.into()),
    }
}

/// Changes the signed-in `user`'s own password: the current one is checked as a sign-in is
/// (same limits), every session of the account ends (and its boards close), and this browser
/// gets a fresh session. Returns its `Set-Cookie` value.
pub async fn change_own_password(
    state: &AppState,
    request: &Parts,
    user: &UserInfo,
    current: &str,
    new: &Password,
) -> Result<HeaderValue, ApiError> {
    let username = user.username.as_str();
    check_password(state, request, username, current).await.map_err(|e| match e {
        ApiError::Unauthorized(_) => ApiError::Forbidden("your current password is not that".into()),
        other => other,
    })?;
    state.admin.change(user, &user.username, AccountChange::Password(new.clone())).await?;
    // The reset ended this session too; sign this browser in again with the new password.
    let verified = state
        .accounts
        .verify_password(username, new.expose())
        .await?
        .ok_or_else(|| ApiError::Conflict { message: "the password changed again meanwhile".into(), lead: None })?;
    open_session(state, request, &verified).await
}

/// Ends the session named by the request's cookie and closes its open boards on this replica
/// at once (other replicas' at their next heartbeat). Returns the `Set-Cookie` value that clears it.
pub async fn sign_out(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(session) = session_of(state, headers) {
        state.accounts.delete_session(&session).await?;
        state.hub.end_session(&session);
    }
    Ok(cookie(state, "", 0))
}

/// The signed-in user of a request, if any.
pub async fn user_from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<UserInfo>, ApiError> {
    match session_token(state, headers) {
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
