//! Signing in and out.

use crate::domain::UserInfo;
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

/// `POST /api/me {}`: the signed-in user, or null.
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<UserInfo>, ApiError> {
    match crate::server::auth::current_user().await {
        Ok(user) => Ok(Some(user)),
        Err(ApiError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Full page loads after signing in or out, so the server renders the next page with the new
/// session (and no state of the previous user lingers in memory).
fn go(path: &str) {
    let _ = window().location().assign(path);
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new(|(u, p): &(String, String)| login(u.clone(), p.clone()));
    Effect::new(move || {
        if let Some(Ok(user)) = action.value().get() {
            go(if user.is_manager() { "/manager" } else { "/" });
        }
    });
    let error = move || action.value().get().and_then(Result::err).map(|e| e.to_string());
    // Effects run only in the browser: the flag tells tests (and styles) that the form is live.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch((username.get_untracked(), password.get_untracked()));
    };

    view! {
        <main class="login">
            <form class="card login-card" method="post" action="/api/login" on:submit=submit
                data-hydrated=move || hydrated.get().to_string()>
                <h1>"Leadboard"</h1>
                <p class="muted">"Sign in to claim leads."</p>
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required
                    bind:value=username/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    bind:value=password/>
                <p class="error" role="alert">{error}</p>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}

#[component]
pub fn SignOut() -> impl IntoView {
    let action = Action::new(|_: &()| logout());
    Effect::new(move || {
        if action.value().get().is_some() {
            go("/login");
        }
    });
    view! {
        <button class="ghost" on:click=move |_| { action.dispatch(()); }>"Sign out"</button>
    }
}
