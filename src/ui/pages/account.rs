//! Your account (`/account`): change your own password. The current one is required; every other
//! session of the account ends, and this browser stays signed in.

use crate::domain::UserInfo;
use crate::ui::api::change_password;
use crate::ui::components::{Header, SignedIn};
use leptos::prelude::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! { <SignedIn page=move |user: UserInfo| view! { <Account user/> }/> }
}

#[component]
fn Account(user: UserInfo) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let mismatch = RwSignal::new(false);
    let action = Action::new(|(c, n): &(String, String)| {
        let (c, n) = (c.clone(), n.clone());
        async move {
            let new =
                crate::domain::Password::parse(n).map_err(|e| crate::error::ApiError::BadRequest(e.to_string()))?;
            change_password(c, new).await
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            current.set(String::new());
            new.set(String::new());
            repeat.set(String::new());
        }
    });
    let error = move || {
        if mismatch.get() {
            return Some("the new passwords differ".to_owned());
        }
        action.value().get().and_then(Result::err).map(|e| e.to_string())
    };
    let done = move || {
        matches!(action.value().get(), Some(Ok(()))).then_some("Password changed. Your other sessions have ended.")
    };
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let differ = new.get_untracked() != repeat.get_untracked();
        mismatch.set(differ);
        if !differ {
            action.dispatch((current.get_untracked(), new.get_untracked()));
        }
    };
    view! {
        <Header user=user.clone()/>
        <main class="page narrow" id="main">
            <div class="page-head">
                <h1>"Your account"</h1>
                <p class="muted">{format!("Signed in as {} ({})", user.username, user.role.as_str())}</p>
            </div>
            <form class="account-form" on:submit=submit data-hydrated=move || hydrated.get().to_string()>
                <h2>"Change your password"</h2>
                <label for="current-password">"Current password"</label>
                <input id="current-password" type="password" autocomplete="current-password" required
                    bind:value=current/>
                <label for="new-password">"New password (8 characters or more)"</label>
                <input id="new-password" type="password" autocomplete="new-password" minlength="8" required
                    bind:value=new/>
                <label for="repeat-password">"New password again"</label>
                <input id="repeat-password" type="password" autocomplete="new-password" minlength="8" required
                    bind:value=repeat/>
                <p class="error" role="alert">{error}</p>
                <p class="ok" role="status">{done}</p>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Changing…" } else { "Change password" }}
                </button>
            </form>
        </main>
    }
}
