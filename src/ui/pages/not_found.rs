//! Any path the app does not know.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    expect_context::<leptos_axum::ResponseOptions>().set_status(axum::http::StatusCode::NOT_FOUND);
    view! {
        <main class="page narrow" id="main">
            <div class="state">
                <h1>"Page not found"</h1>
                <p><a href="/" rel="external">"Back to the board"</a></p>
            </div>
        </main>
    }
}
