//! Waiting for what a page needs: data (`Loaded`) and a signed-in user (`SignedIn`), each with a
//! loading state and an error state a person can act on.

use super::MessagePage;
use crate::domain::UserInfo;
use crate::error::ApiError;
use leptos::prelude::*;

/// The signed-in user, loaded once per page (by `App`).
pub type CurrentUser = Resource<Result<Option<UserInfo>, ApiError>>;

/// Shows a loading state until `data` arrives, then `body` with it (or the error).
#[component]
pub fn Loaded<T, F, V>(data: Resource<Result<T, ApiError>>, loading: &'static str, body: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=move || view! { <Loading text=loading/> }>
            {move || {
                let body = body.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => body(value).into_any(),
                        Err(e) => view! { <Failed error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Renders `page` for a signed-in user, or sends the visitor to the sign-in page.
#[component]
pub fn SignedIn<F, V>(page: F) -> impl IntoView
where
    F: Fn(UserInfo) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let user = expect_context::<CurrentUser>();
    view! {
        <Suspense fallback=|| view! { <Loading text="Loading…"/> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match user.await {
                        Ok(Some(u)) => page(u).into_any(),
                        Ok(None) => view! { <leptos_router::components::Redirect path="/login"/> }.into_any(),
                        Err(e) => view! { <Failed error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// Renders `page` for a signed-in manager; anyone else gets a 403 saying `what` is for managers.
#[component]
pub fn ManagersOnly<F, V>(what: &'static str, page: F) -> impl IntoView
where
    F: Fn(UserInfo) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let page = move |user: UserInfo| {
        if user.is_manager() {
            page(user).into_any()
        } else {
            #[cfg(feature = "ssr")]
            expect_context::<leptos_axum::ResponseOptions>().set_status(axum::http::StatusCode::FORBIDDEN);
            view! {
                <MessagePage title="Managers only">
                    {what}" is for managers. "<a href="/" rel="external">"Back to your board"</a>
                </MessagePage>
            }
            .into_any()
        }
    };
    view! { <SignedIn page/> }
}

#[component]
fn Loading(text: &'static str) -> impl IntoView {
    view! {
        <div class="state state-loading" role="status">
            <span class="spinner" aria-hidden="true"></span>
            <p>{text}</p>
        </div>
    }
}

/// A page that could not load: why, and a way to try again.
#[component]
fn Failed(error: ApiError) -> impl IntoView {
    view! {
        <main class="page">
            <div class="state state-error" role="alert">
                <h1>"This page could not load"</h1>
                <p>{error.to_string()}</p>
                <a class="button primary" href="" rel="external">"Try again"</a>
            </div>
        </main>
    }
}
