//! The sign-in page (`/login`).

use crate::ui::api::login;
use crate::ui::components::go;
use leptos::prelude::*;

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
        <main class="login" id="main">
            <form class="login-card" method="post" action="/api/login" on:submit=submit
                data-hydrated=move || hydrated.get().to_string()>
                <div class="login-brand">
                    <img src="/favicon.svg" alt="" width="40" height="40"/>
                    <h1>"Leadboard"</h1>
                </div>
                <p class="muted">"Sign in to claim leads. One claim wins; everyone sees it at once."</p>
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false"
                    required autofocus bind:value=username/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    bind:value=password/>
                <p class="error" role="alert">{error}</p>
                <button type="submit" class="primary big" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
