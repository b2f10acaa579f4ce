//! The manager's live board (`/manager`): totals, every lead with release and reassign, who
//! holds what, a feed of claims and conflicts as they happen, the team's outcomes, and the
//! accounts.

mod accounts;
mod feed;
mod holdings;
mod outcomes;
mod totals;

use crate::domain::{Account, BoardEvent, Role, UserInfo, Username};
use crate::error::ApiError;
use crate::protocol::Board;
use crate::ui::api::{list_leads, list_users, recent_activity};
use crate::ui::components::{ExportLink, Header, LeadFilters, LeadTable, Loaded, ManagersOnly};
use crate::ui::sync::BoardSync;
use leptos::prelude::*;

type ManagerData = Resource<Result<(Board, Vec<BoardEvent>, Vec<Account>), ApiError>>;

#[component]
pub fn ManagerPage() -> impl IntoView {
    // Made before the sign-in check, as on the employee board (see `BoardPage`); for anyone but a
    // manager it just answers 403 and is never shown.
    let data: ManagerData =
        Resource::new(|| (), |_| async { Ok((list_leads().await?, recent_activity().await?, list_users().await?)) });
    view! { <ManagersOnly what="The live board" page=move |user: UserInfo| view! { <ManagerBoard user data/> }/> }
}

#[component]
fn ManagerBoard(user: UserInfo, data: ManagerData) -> impl IntoView {
    let body = move |(list, feed, users)| view! { <ManagerBody user=user.clone() list feed users/> };
    view! { <Loaded data loading="Loading the live board…" body/> }
}

#[component]
fn ManagerBody(user: UserInfo, list: Board, feed: Vec<BoardEvent>, users: Vec<Account>) -> impl IntoView {
    BoardSync::provide(user.username.clone(), list, feed);
    let filters = LeadFilters::default();
    let employees: Vec<Username> =
        users.iter().filter(|u| u.role == Role::Employee && !u.disabled).map(|u| u.username.clone()).collect();
    view! {
        <Header user=user.clone() manager_page=true/>
        <main class="page manager" id="main">
            <div class="page-head">
                <h1>"Live board"</h1>
                <div class="page-actions">
                    <a class="button" href="/manager/data" rel="external">"Import leads"</a>
                    <ExportLink filters/>
                </div>
            </div>
            <totals::Totals/>
            <div class="manager-grid">
                <div class="manager-main">
                    <LeadTable user title="All leads" employees=employees.clone() filters/>
                </div>
                <aside class="side" aria-label="Team activity">
                    <holdings::Holdings employees/>
                    <feed::Feed/>
                </aside>
            </div>
            <outcomes::Outcomes/>
            <accounts::Accounts accounts=users/>
        </main>
    }
    .into_any()
}
