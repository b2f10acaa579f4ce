//! The Leptos app. `api`: the server functions (the browser's only way to change anything);
//! `live`: a board's live state and its websocket; `toast`: short notices; `components`: what
//! the pages share; `pages`: one module per page.

pub mod api;
mod components;
mod pages;
mod sync;
mod toast;

pub use api::*;

use components::CurrentUser;
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
                <meta name="color-scheme" content="light"/>
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
            <Routes fallback=pages::not_found::NotFound>
                // Async: the page (and its status: 302 to sign in, 403 for employees on
                // /manager) is decided before the first byte is sent; streaming would send 200 first.
                <Route path=path!("/") view=pages::board::BoardPage ssr=SsrMode::Async/>
                <Route path=path!("/manager") view=pages::manager::ManagerPage ssr=SsrMode::Async/>
                <Route path=path!("/manager/data") view=pages::data::DataPage ssr=SsrMode::Async/>
                <Route path=path!("/leads/:id") view=pages::lead::LeadPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/account") view=pages::account::AccountPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
        <toast::Toasts/>
    }
}
