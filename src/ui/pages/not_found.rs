//! Any path the app does not know.

use crate::ui::components::MessagePage;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    expect_context::<leptos_axum::ResponseOptions>().set_status(axum::http::StatusCode::NOT_FOUND);
    view! {
        <MessagePage title="Page not found"><a href="/" rel="external">"Back to the board"</a></MessagePage>
    }
}
