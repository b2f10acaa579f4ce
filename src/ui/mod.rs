//! The Leptos app: pages, and beside each page the server functions it calls.

mod accounts;
mod board;
mod live;
mod manager;
mod session;
mod toast;

pub use accounts::{add_user, update_user};
pub use board::{claim, list_leads, release};
pub use manager::{add_lead, list_users, reassign, recent_activity};
pub use session::{login, logout, me};

use crate::domain::UserInfo;
use crate::error::ApiError;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The signed-in user, loaded once per page.
pub type CurrentUser = Resource<Result<Option<UserInfo>, crate::error::ApiError>>;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user: CurrentUser = Resource::new(|| (), |_| me());
    provide_context(user);
    toast::provide();

    view! {
        <Stylesheet id="leptos" href="/pkg/leadboard.css"/>
        <Title text="Leadboard"/>
        <Router>
            <Routes fallback=|| view! { <main class="page"><h1>"Page not found"</h1><a href="/">"Back to the board"</a></main> }>
                // Async: the page (and its status: 302 to sign in, 403 for employees on
                // /manager) is decided before the first byte is sent; streaming would send 200 first.
                <Route path=path!("/") view=board::BoardPage ssr=SsrMode::Async/>
                <Route path=path!("/manager") view=manager::ManagerPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=session::LoginPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
        <toast::Toasts/>
    }
}

/// Page chrome: the app name, who is signed in, navigation and sign-out.
#[component]
fn Header(user: UserInfo) -> impl IntoView {
    let manager = user.is_manager();
    view! {
        <header class="topbar">
            <a class="brand" href="/" rel="external">"Leadboard"</a>
            <nav aria-label="Main">
                <a href="/" rel="external">"Board"</a>
                <Show when=move || manager><a href="/manager" rel="external">"Live board"</a></Show>
            </nav>
            <live::ConnectionBadge/>
            <span class="who">
                <span class="who-name" data-testid="me">{user.username.to_string()}</span>
                <span class="role">{user.role.as_str()}</span>
            </span>
            <session::SignOut/>
        </header>
    }
}

/// Shows `loading` until `data` arrives, then `body` with it (or the error).
#[component]
fn Loaded<T, F, V>(data: Resource<Result<T, ApiError>>, loading: &'static str, body: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=move || view! { <p class="loading">{loading}</p> }>
            {move || {
                let body = body.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => body(value).into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Renders `page` for a signed-in user, or sends the visitor to the sign-in page.
#[component]
fn SignedIn<F, V>(page: F) -> impl IntoView
where
    F: Fn(UserInfo) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let user = expect_context::<CurrentUser>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match user.await {
                        Ok(Some(u)) => page(u).into_any(),
                        Ok(None) => view! { <leptos_router::components::Redirect path="/login"/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
