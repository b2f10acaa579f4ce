//! A page that only says something: not found, not allowed.

use leptos::prelude::*;

#[component]
pub fn MessagePage(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="page narrow" id="main">
            <div class="state">
                <h1>{title}</h1>
                <p>{children()}</p>
            </div>
        </main>
    }
}
