//! Who is calling: project check, session (cookie `a_session_<project>`, `X-Appwrite-Session`
//! or `X-Fallback-Cookies`), JWT and API key, resolved like the `project` and `user` resources
//! in `app/init/resources.php` and the auth part of `app/controllers/shared/api.php`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::errors::{ApiError, ApiResult};
use crate::permissions::Authorization;
use crate::store::Store;
use crate::{time, AppState};

/// Scopes of the `guests` and `users` roles (`app/config/roles.php`) that this server uses.
/// API keys here hold every scope.
const GUEST_SCOPES: &[&str] = &["sessions.write", "documents.read", "documents.write"];
const USER_SCOPES: &[&str] =
    &["sessions.write", "account", "teams.read", "teams.write", "documents.read", "documents.write"];

/// A signed-in user as resolved from a session or JWT.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
    pub email: String,
    /// The session the secret belongs to (absent for JWT-only callers).
    pub session_id: Option<String>,
    /// The user's `status` is `false`.
    pub blocked: bool,
}

#[derive(Debug, Clone)]
pub enum Identity {
    Key,
    User(SignedIn),
    Guest,
}

/// The authenticated caller of one REST request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub auth: Authorization,
}

impl Caller {
    pub fn is_key(&self) -> bool {
        matches!(self.identity, Identity::Key)
    }

    pub fn user(&self) -> Option<&SignedIn> {
        match &self.identity {
            Identity::User(user) => Some(user),
            _ => None,
        }
    }

    /// Steps 9 and 10 of `shared/api.php` (every route in the `api` group): the route's
    /// scope must be among the caller's scopes, then a blocked user (by session or JWT) gets
    /// `401 user_blocked`.
    pub fn require_scope(&self, scope: &str) -> ApiResult<()> {
        let (label, who, scopes) = match &self.identity {
            Identity::Key => return Ok(()),
            Identity::User(user) => ("users", user.email.as_str(), USER_SCOPES),
            Identity::Guest => ("guests", "User", GUEST_SCOPES),
        };
        if !scopes.contains(&scope) {
            return Err(ApiError::UnauthorizedScope(format!("{who} (role: {label}) missing scopes ([\"{scope}\"])")));
        }
        if self.user().is_some_and(|user| user.blocked) {
            return Err(ApiError::UserBlocked);
        }
        Ok(())
    }
}

/// The cookie value Appwrite's `Store` produces: base64 of `{"id":<user>,"secret":<secret>}`.
pub fn encode_session(user_id: &str, secret: &str) -> String {
    STANDARD.encode(json!({"id": user_id, "secret": secret}).to_string())
}

fn decode_session(value: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(value.trim()).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some((json.get("id")?.as_str()?.to_owned(), json.get("secret")?.as_str()?.to_owned()))
}

pub fn cookie_name(project: &str) -> String {
    format!("a_session_{project}")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
}

/// The session the request carries, in the resource's order of precedence.
fn session_value(headers: &HeaderMap, project: &str) -> Option<String> {
    let name = cookie_name(project);
    cookie(headers, &name)
        .or_else(|| cookie(headers, &format!("{name}_legacy")))
        .or_else(|| header(headers, "x-appwrite-session"))
        .map(str::to_owned)
        .or_else(|| {
            let fallback: serde_json::Value = serde_json::from_str(header(headers, "x-fallback-cookies")?).ok()?;
            fallback.get(&name)?.as_str().map(str::to_owned)
        })
}

/// Resolves the signed-in user from a session value (`{"id","secret"}` encoded). An invalid
/// or expired session silently means "guest", as in Appwrite.
pub fn user_from_session(store: &Store, value: &str) -> Option<SignedIn> {
    let (user_id, secret) = decode_session(value)?;
    let now = time::now();
    let session = store.sessions.values().find(|s| s.secret == secret && s.user_id == user_id && s.expire > now)?;
    let user = store.users.get(&user_id)?;
    Some(SignedIn { user_id, email: user.email.clone(), session_id: Some(session.id.clone()), blocked: !user.status })
}

/// The user behind the request's session or JWT (a JWT wins). Used by REST and Realtime.
/// A JWT whose session has been deleted makes the caller a guest, as in the `user` resource.
pub fn resolve_user(store: &Store, project: &str, headers: &HeaderMap) -> ApiResult<Option<SignedIn>> {
    let mut user = session_value(headers, project).and_then(|v| user_from_session(store, &v));
    if let Some(token) = header(headers, "x-appwrite-jwt") {
        let jwt =
            store.jwts.get(token).ok_or_else(|| ApiError::JwtInvalid("Failed to verify JWT. Invalid token".into()))?;
        if jwt.expire <= time::now() {
            return Err(ApiError::JwtInvalid("Failed to verify JWT. Expired token".into()));
        }
        let session_alive =
            jwt.session_id.as_ref().is_none_or(|id| store.sessions.get(id).is_some_and(|s| s.user_id == jwt.user_id));
        user = store.users.get(&jwt.user_id).filter(|_| session_alive).map(|u| SignedIn {
            user_id: u.id.clone(),
            email: u.email.clone(),
            session_id: None,
            blocked: !u.status,
        });
    }
    Ok(user)
}

/// The roles a signed-in user (or a guest) holds.
pub fn roles(store: &Store, user: Option<&SignedIn>) -> Vec<String> {
    match user {
        Some(user) => store.roles_of(&user.user_id),
        None => vec!["any".to_owned(), "guests".to_owned()],
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let project = header(headers, "x-appwrite-project").unwrap_or_default();
        if project != state.config.project {
            return Err(ApiError::ProjectNotFound);
        }
        let store = state.store.lock().expect("store lock");
        let user = resolve_user(&store, project, headers)?;
        if let Some(key) = header(headers, "x-appwrite-key") {
            if user.is_some() {
                return Err(ApiError::ApiKeyAndSessionSet);
            }
            if key != state.config.api_key {
                return Err(ApiError::unauthorized());
            }
            return Ok(Caller { identity: Identity::Key, auth: Authorization::Skip });
        }
        let auth = Authorization::Roles(roles(&store, user.as_ref()));
        let identity = user.map_or(Identity::Guest, Identity::User);
        Ok(Caller { identity, auth })
    }
}
