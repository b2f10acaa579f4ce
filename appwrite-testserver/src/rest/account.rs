//! Users (server API), email/password sessions, the current account and JWTs
//! (`app/controllers/api/users.php`, `app/controllers/api/account.php`).

use axum::extract::{Path, State};
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
use crate::store::{Jwt, Session, User};
use crate::{ids, time, AppState};

/// `TOKEN_EXPIRATION_LOGIN_LONG`: sessions last a year.
const SESSION_SECONDS: i64 = 365 * 24 * 3600;
/// Default lifetime of `POST /v1/account/jwts`.
const JWT_SECONDS: i64 = 900;

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn check_email(email: &str) -> ApiResult<()> {
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'));
    if valid { Ok(()) } else { Err(ApiError::invalid_param("email", "Value must be a valid email address")) }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    user_id: String,
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    name: String,
}

pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<CreateUser>,
) -> ApiResult<Response> {
    caller.require_scope("users.write")?;
    let id = ids::custom("userId", &params.user_id)?;
    let email = params.email.unwrap_or_default().to_lowercase();
    if !email.is_empty() {
        check_email(&email)?;
    }
    if let Some(password) = &params.password {
        if !(8..=256).contains(&password.chars().count()) {
            return Err(ApiError::invalid_param(
                "password",
                "Password must be at least 8 characters and not more than 256 characters.",
            ));
        }
    }
    let mut store = state.store.lock().expect("store lock");
    let taken = store.users.contains_key(&id) || (!email.is_empty() && store.users.values().any(|u| u.email == email));
    if taken {
        return Err(ApiError::UserAlreadyExists(
            "A user with the same id, email, or phone already exists in this project.".into(),
        ));
    }
    let user = User { id: id.clone(), name: params.name, email, password: params.password, created_at: time::now() };
    let body = user.user_json();
    store.users.insert(id, user);
    Ok(created(body))
}

pub async fn get_user(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    caller.require_scope("users.read")?;
    let store = state.store.lock().expect("store lock");
    store
        .users
        .get(&id)
        .map(|u| Json(u.user_json()))
        .ok_or_else(|| ApiError::UserNotFound("User with the requested ID could not be found.".into()))
}

#[derive(Deserialize)]
pub struct EmailSession {
    email: String,
    password: String,
}

/// `POST /v1/account/sessions/email`: sets the `a_session_<project>` cookies and the
/// `X-Fallback-Cookies` header; the response's `secret` is filled only for API keys.
pub async fn create_email_session(
    State(state): State<AppState>,
    caller: Caller,
    Body(params): Body<EmailSession>,
) -> ApiResult<Response> {
    caller.require_scope("sessions.write")?;
    if caller.user().is_some() {
        return Err(ApiError::SessionAlreadyExists);
    }
    let email = params.email.to_lowercase();
    let mut store = state.store.lock().expect("store lock");
    let user = store
        .users
        .values()
        .find(|u| u.email == email && u.password.as_deref() == Some(params.password.as_str()))
        .ok_or(ApiError::InvalidCredentials)?;
    let now = time::now();
    let session = Session {
        id: ids::unique(),
        user_id: user.id.clone(),
        secret: random_hex(32),
        created_at: now,
        expire: now + TimeDelta::seconds(SESSION_SECONDS),
    };
    let encoded = auth::encode_session(&session.user_id, &session.secret);
    let shown_secret = if caller.is_key() { encoded.as_str() } else { "" };
    let body = session.to_json(&user.email, shown_secret);
    let expires = session.expire.format("%a, %d %b %Y %H:%M:%S GMT");
    store.sessions.insert(session.id.clone(), session);

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
    caller.user().ok_or_else(|| ApiError::UserNotFound("User with the requested ID could not be found.".into()))
}

pub async fn get_account(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let signed_in = account_user(&caller)?;
    let store = state.store.lock().expect("store lock");
    store
        .users
        .get(&signed_in.user_id)
        .map(|u| Json(u.account_json()))
        .ok_or_else(|| ApiError::UserNotFound("User with the requested ID could not be found.".into()))
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
    let jwt = Jwt { user_id: signed_in.user_id.clone(), expire };
    state.store.lock().expect("store lock").jwts.insert(token.clone(), jwt);
    Ok(created(json!({ "jwt": token })))
}
