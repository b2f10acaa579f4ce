//! Leads in and out (`/manager/data`, managers only): import a CSV file, export the history,
//! and the intake API's tokens.

mod export;
mod import;
mod tokens;
#[cfg(feature = "hydrate")]
mod upload;

use crate::domain::{ApiToken, UserInfo};
use crate::error::ApiError;
use crate::ui::api::list_tokens;
use crate::ui::components::{Header, Loaded, ManagersOnly};
use leptos::prelude::*;

#[component]
pub fn DataPage() -> impl IntoView {
    // Made before the sign-in check, as on the other pages (see `BoardPage`).
    let data: Resource<Result<Vec<ApiToken>, ApiError>> = Resource::new(|| (), |_| list_tokens());
    view! { <ManagersOnly what="Importing and exporting leads" page=move |user: UserInfo| view! { <DataBoard user data/> }/> }
}

#[component]
fn DataBoard(user: UserInfo, data: Resource<Result<Vec<ApiToken>, ApiError>>) -> impl IntoView {
    let body = move |tokens: Vec<ApiToken>| {
        // Effects run only in the browser: the flag tells tests the page's controls are live.
        let hydrated = RwSignal::new(false);
        Effect::new(move || hydrated.set(true));
        view! {
            <Header user=user.clone() data_page=true/>
            <main class="page data" id="main" data-hydrated=move || hydrated.get().to_string()>
                <div class="page-head">
                    <h1>"Leads in and out"</h1>
                </div>
                <div class="data-grid">
                    <import::ImportSection/>
                    <div class="data-side">
                        <export::ExportSection/>
                        <tokens::TokensSection tokens/>
                    </div>
                </div>
            </main>
        }
    };
    view! { <Loaded data loading="Loading…" body/> }
}
