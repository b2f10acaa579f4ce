//! Email/password sessions, the current account and JWTs (`app/controllers/api/account.php`),
//! plus the parameter validators the Users API shares.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeDelta;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::created;
use crate::auth::{self, Caller};
use crate::errors::{ApiError, ApiResult};
use crate::params::Body;
use crate::store::{Jwt, Session};
use crate::{ids, time, AppState};

/// `TOKEN_EXPIRATION_LOGIN_LONG`: sessions last a year.
const SESSION_SECONDS: i64 = 365 * 24 * 3600;
/// Default lifetime of `POST /v1/account/jwts`.
const JWT_SECONDS: i64 = 900;
/// `APP_LIMIT_USER_SESSIONS_DEFAULT`, a new project's `auths.maxSessions`.
const MAX_SESSIONS: usize = 10;

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

pub(super) fn check_email(email: &str) -> ApiResult<()> {
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_param("email", "Value must be a valid email address"))
    }
}

/// `Auth\Validator\Password`: 8 to 256 bytes (PHP `strlen`), used to sign in.
fn check_password(password: &str) -> ApiResult<()> {
    if (8..=256).contains(&password.len()) {
        Ok(())
    } else {
        Err(ApiError::invalid_param("password", "Password must be between 8 and 256 characters long."))
    }
}

/// `Auth\Validator\PasswordDictionary` (dictionary check off, as in a new project), which
/// `POST /v1/users` and `PATCH /v1/users/{id}/password` use for new passwords: the same
/// length rule with its own message, typo included (1.5 to 1.9.0).
pub(super) fn check_new_password(password: &str) -> ApiResult<()> {
    check_password(password).map_err(|_| {
        ApiError::invalid_param(
            "password",
            "Password must be between 8 and 265 characters long, and should not be one of the commonly used password.",
        )
    })
}

#[derive(Deserialize)]
pub struct EmailSession {
    email: String,
    password: String,
}

/// `POST /v1/account/sessions/email`: sets the `a_session_<project>` cookies and the
/// `X-Fallback-Cookies` header; the response's `secret` is filled only for API keys (the
/// server-side rendering flow). Wrong credentials (or a user without a password) get
/// `user_invalid_credentials`, a blocked user `user_blocked`. Like the `session` group's
/// shutdown hook in `shared/api.php`, the user's oldest sessions beyond `maxSessions` (10)
/// are deleted afterwards.
pub async fn create_email_session(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<EmailSession>,
) -> ApiResult<Response> {
    caller.require_scope("sessions.write")?;
    if caller.user().is_some() {
        return Err(ApiError::SessionAlreadyExists);
    }
    check_email(&params.email)?;
    check_password(&params.password)?;
    let email = params.email.to_lowercase();
    let mut store = state.store.lock().expect("store lock");
    let user = store
        .users
        .values()
        .find(|u| u.email == email && u.password.as_deref() == Some(params.password.as_str()))
        .ok_or(ApiError::InvalidCredentials)?;
    if !user.status {
        return Err(ApiError::UserBlocked);
    }
    let (user_id, user_email) = (user.id.clone(), user.email.clone());
    let now = time::now();
    let session = Session {
        id: ids::unique(),
        sequence: store.next_sequence(),
        user_id,
        secret: random_hex(32),
        created_at: now,
        expire: now + TimeDelta::seconds(SESSION_SECONDS),
    };
    let encoded = auth::encode_session(&session.user_id, &session.secret);
    let shown_secret = if caller.is_key() { encoded.as_str() } else { "" };
    let body = session.to_json(&user_email, shown_secret);
    let expires = session.expire.format("%a, %d %b %Y %H:%M:%S GMT");
    let user_id = session.user_id.clone();
    store.sessions.insert(session.id.clone(), session);
    store.limit_sessions(&user_id, MAX_SESSIONS);

    let name = auth::cookie_name(&state.config.project);
    let mut response = created(body);
    let headers = response.headers_mut();
    for (cookie, extra) in [(format!("{name}_legacy"), ""), (name.clone(), "; samesite=None")] {
        let value = format!("{cookie}={encoded}; expires={expires}; path=/; httponly{extra}");
        headers.append(SET_COOKIE, HeaderValue::from_str(&value).expect("ascii cookie"));
    }
    let fallback = json!({ name: encoded }).to_string();
    headers.insert("x-fallback-cookies", HeaderValue::from_str(&fallback).expect("ascii json"));
    Ok(response)
}

/// The signed-in user of an `account` route (API keys and guests lack the scope).
fn account_user(caller: &Caller) -> ApiResult<&auth::SignedIn> {
    caller.require_scope("account")?;
    caller.user().ok_or_else(ApiError::user_not_found)
}

pub async fn get_account(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let signed_in = account_user(&caller)?;
    let store = state.store.lock().expect("store lock");
    store.users.get(&signed_in.user_id).map(|u| Json(u.account_json())).ok_or_else(ApiError::user_not_found)
}

pub async fn delete_current_session(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let signed_in = account_user(&caller)?;
    let session_id = signed_in.session_id.as_ref().ok_or(ApiError::SessionNotFound)?;
    state.store.lock().expect("store lock").sessions.remove(session_id);
    let name = auth::cookie_name(&state.config.project);
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in [format!("{name}_legacy"), name] {
        let value = format!("{cookie}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/; httponly");
        response.headers_mut().append(SET_COOKIE, HeaderValue::from_str(&value).expect("ascii cookie"));
    }
    Ok(response)
}

/// A token shaped like Appwrite's HS256 JWT (`{"userId","sessionId","exp"}` payload). It is
/// verified by lookup, not by signature.
pub async fn create_jwt(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let signed_in = account_user(&caller)?;
    let expire = time::now() + TimeDelta::seconds(JWT_SECONDS);
    let segment = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let token = format!(
        "{}.{}.{}",
        segment(json!({"typ": "JWT", "alg": "HS256"})),
        segment(json!({
            "userId": signed_in.user_id,
            "sessionId": signed_in.session_id.clone().unwrap_or_default(),
            "exp": expire.timestamp(),
        })),
        URL_SAFE_NO_PAD.encode(random_hex(32)),
    );
    let jwt = Jwt { user_id: signed_in.user_id.clone(), session_id: signed_in.session_id.clone(), expire };
    state.store.lock().expect("store lock").jwts.insert(token.clone(), jwt);
    Ok(created(json!({ "jwt": token })))
}
