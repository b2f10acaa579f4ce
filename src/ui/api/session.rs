//! Signing in and out, and who is signed in.

use crate::domain::{Password, UserInfo};
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// `POST /api/login {"username","password"}`: 200 with the user and a session cookie, or 401.
#[server(prefix = "/api", endpoint = "login", input = Json)]
pub async fn login(username: String, password: String) -> Result<UserInfo, ApiError> {
    use crate::server::{auth, AppState};
    let state = AppState::current()?;
    let (user, cookie) = auth::sign_in(&state, &auth::request()?, &username, &password).await?;
    expect_context::<leptos_axum::ResponseOptions>().insert_header(axum::http::header::SET_COOKIE, cookie);
    Ok(user)
}

/// `POST /api/logout {}`: ends the session and clears the cookie.
#[server(prefix = "/api", endpoint = "logout", input = Json)]
pub async fn logout() -> Result<(), ApiError> {
    use crate::server::{auth, AppState};
    let state = AppState::current()?;
    let cookie = auth::sign_out(&state, &auth::request()?.headers).await?;
    expect_context::<leptos_axum::ResponseOptions>().insert_header(axum::http::header::SET_COOKIE, cookie);
    Ok(())
}

/// `POST /api/password {"current","new"}`: changes the signed-in user's own password. 403 when
/// `current` is wrong; every other session of the account ends, this one is renewed.
#[server(prefix = "/api", endpoint = "password", input = Json)]
pub async fn change_password(current: String, new: Password) -> Result<(), ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    let state = AppState::current()?;
    let cookie = auth::change_own_password(&state, &auth::request()?, &user, &current, &new).await?;
    expect_context::<leptos_axum::ResponseOptions>().insert_header(axum::http::header::SET_COOKIE, cookie);
    Ok(())
}

/// `POST /api/me {}`: the signed-in user, or null.
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<UserInfo>, ApiError> {
    match crate::server::auth::current_user().await {
        Ok(user) => Ok(Some(user)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
