//! The page chrome: the app name, navigation for managers, the connection badge (and a notice
//! while the link is down), who is signed in (a link to their account page), and sign-out.

use crate::domain::UserInfo;
use crate::ui::api::logout;
use crate::ui::sync::{BoardSync, Conn};
use leptos::prelude::*;

/// A full page load: after signing in or out the server renders the next page with the new
/// session, and no state of the previous user lingers in memory.
pub fn go(path: &str) {
    let _ = window().location().assign(path);
}

#[component]
pub fn Header(
    user: UserInfo,
    #[prop(optional)] manager_page: bool,
    /// On "Leads in and out" (`/manager/data`).
    #[prop(optional)]
    data_page: bool,
) -> impl IntoView {
    let manager = user.is_manager();
    let current = |on: bool| if on { Some("page") } else { None };
    view! {
        <a class="skip" href="#main">"Skip to the leads"</a>
        <header class="topbar">
            <a class="brand" href="/" rel="external" aria-label="Leadboard home">
                <img src="/favicon.svg" alt="" width="24" height="24"/>
                <span class="brand-name">"Leadboard"</span>
            </a>
            <Show when=move || manager>
                <nav aria-label="Main">
                    <a class="nav-board" href="/" rel="external" aria-current=current(!manager_page && !data_page)>"Board"</a>
                    <a href="/manager" rel="external" aria-current=current(manager_page)>"Live board"</a>
                    <a href="/manager/data" rel="external" aria-current=current(data_page)>"In & out"</a>
                </nav>
            </Show>
            <span class="spacer"></span>
            <ConnectionBadge/>
            <span class="who">
                <a class="who-name" href="/account" rel="external" data-testid="me"
                    title="Your account: change your password">{user.username.to_string()}</a>
                <span class="role">{user.role.as_str()}</span>
            </span>
            <SignOut/>
        </header>
        <ReconnectNotice/>
    }
}

/// The board's link. Pages without a board (the account page, Leads in and out) have none to show.
#[component]
fn ConnectionBadge() -> impl IntoView {
    use_context::<BoardSync>().map(|sync| {
        let state = move || sync.conn.get();
        view! {
            <span class=move || format!("conn conn-{}", state().as_str()) data-conn=move || state().as_str() role="status">
                <span class="conn-dot" aria-hidden="true"></span>
                <span class="conn-label">{move || state().label()}</span>
            </span>
        }
    })
}

/// Says what a dropped link means for the person looking at the board.
#[component]
fn ReconnectNotice() -> impl IntoView {
    let sync = use_context::<BoardSync>();
    let down = move || sync.is_some_and(|l| l.conn.get() == Conn::Reconnecting);
    view! {
        <Show when=down>
            <p class="notice notice-warn" data-testid="reconnect-notice">
                <strong>"Connection lost. "</strong>
                "Reconnecting… the board catches up by itself once it is back."
            </p>
        </Show>
    }
}

#[component]
fn SignOut() -> impl IntoView {
    let action = Action::new(|_: &()| logout());
    Effect::new(move || {
        if action.value().get().is_some() {
            go("/login");
        }
    });
    view! {
        <button class="ghost sign-out" on:click=move |_| { action.dispatch(()); }>"Sign out"</button>
    }
}
