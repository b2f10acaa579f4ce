//! The employee board (`/`): every lead, search and filters, one-key claim and release, and
//! "Next lead".

use crate::domain::{LeadStatus, UserInfo};
use crate::error::ApiError;
use crate::protocol::Board;
use crate::ui::api::list_leads;
use crate::ui::components::{Header, LeadTable, Loaded, NextLead, SignedIn};
use crate::ui::sync::{board_sync, BoardSync};
use leptos::prelude::*;

#[component]
pub fn BoardPage() -> impl IntoView {
    // Made here, not inside the sign-in check's Suspense (which may render its children more than
    // once on the server): hydration pairs resources by creation order, so the server and the
    // browser must create the same ones in the same order.
    let data = Resource::new(|| (), |_| list_leads());
    view! { <SignedIn page=move |user: UserInfo| view! { <EmployeeBoard user data/> }/> }
}

#[component]
fn EmployeeBoard(user: UserInfo, data: Resource<Result<Board, ApiError>>) -> impl IntoView {
    let body = move |list| view! { <EmployeeBody user=user.clone() list/> };
    view! { <Loaded data loading="Loading leads…" body/> }
}

#[component]
fn EmployeeBody(user: UserInfo, list: Board) -> impl IntoView {
    BoardSync::provide(user.username.clone(), list, Vec::new());
    view! {
        <Header user=user.clone()/>
        <main class="page board" id="main">
            <div class="page-head">
                <h1>"Leads"</h1>
                <Summary user=user.clone()/>
                <div class="page-actions"><NextLead/></div>
            </div>
            <LeadTable user/>
        </main>
    }
    .into_any()
}

/// How many leads are open and how many are this user's, at a glance.
#[component]
fn Summary(user: UserInfo) -> impl IntoView {
    let sync = board_sync();
    let counts = Memo::new(move |_| {
        sync.board.with(|b| {
            let open = b.leads().filter(|l| l.assignee.is_none()).count();
            let mine = b.leads().filter(|l| l.is_held_by(&user.username) && l.status() == LeadStatus::Claimed).count();
            (open, mine)
        })
    });
    view! {
        <p class="summary">
            <span><strong data-testid="open-leads">{move || counts.get().0}</strong>" open"</span>
            <span><strong data-testid="my-leads">{move || counts.get().1}</strong>" yours"</span>
        </p>
    }
}
