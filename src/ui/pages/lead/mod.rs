//! A lead's page (`/leads/:id`): what the lead is and how to reach the person, who holds it and
//! until when (or how it ended), the holder's outcome form, and the lead's whole history, kept live
//! by the same socket as the boards.

mod history;
mod outcome_form;

use crate::domain::{Lead, LeadId, LeadStatus, UserInfo};
use crate::error::ApiError;
use crate::protocol::{Board, LeadHistory};
use crate::ui::api::{claim, lead_page, list_leads};
use crate::ui::components::{day_time, money, report_failure, time_left, viewing, Header, Loaded, SignedIn};
use crate::ui::sync::{board_sync, BoardSync};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

type LeadData = Resource<Result<(Board, LeadHistory), ApiError>>;

#[component]
pub fn LeadPage() -> impl IntoView {
    let params = use_params_map();
    // Made before the sign-in check, as on the boards (see `BoardPage`).
    let data: LeadData = Resource::new(
        move || params.with(|p| p.get("id").unwrap_or_default()),
        |id| async move {
            let id = LeadId::parse(id).map_err(|e| ApiError::NotFound(format!("no such lead: {e}")))?;
            Ok((list_leads().await?, lead_page(id).await?))
        },
    );
    view! { <SignedIn page=move |user: UserInfo| view! { <LeadLoaded user data/> }/> }
}

#[component]
fn LeadLoaded(user: UserInfo, data: LeadData) -> impl IntoView {
    let body = move |(board, history)| view! { <LeadBody user=user.clone() board history/> };
    view! { <Loaded data loading="Loading the lead…" body/> }
}

#[component]
fn LeadBody(user: UserInfo, board: Board, history: LeadHistory) -> impl IntoView {
    let sync = BoardSync::provide(user.username.clone(), board, Vec::new());
    let LeadHistory { lead: first, events } = history;
    let id = first.id.clone();
    sync.board.update(|b| {
        b.upsert(first.clone());
    });
    // Others see that this page is open, for as long as it is.
    sync.looking_at.set(Some(id.clone()));
    let lead = {
        let id = id.clone();
        Memo::new(move |_| sync.board.with(|b| b.get(&id).cloned()).unwrap_or_else(|| first.clone()))
    };
    let me = user.username.clone();
    let working = Memo::new(move |_| lead.with(|l| l.is_held_by(&me) && l.status() == LeadStatus::Claimed));
    let back = if user.is_manager() { "/manager" } else { "/" };
    view! {
        <Header user=user.clone()/>
        <main class="page lead-page" id="main">
            <p class="back"><a href=back rel="external">"← All leads"</a></p>
            <Summary lead user/>
            <Show when=move || working.get()>
                <outcome_form::OutcomeForm lead/>
            </Show>
            <history::History id=id.clone() events/>
        </main>
    }
    .into_any()
}

/// The lead's name, company and value, where it stands, and its contact details.
#[component]
fn Summary(lead: Memo<Lead>, user: UserInfo) -> impl IntoView {
    let sync = board_sync();
    let busy = RwSignal::new(false);
    let me = user.username.clone();
    let standing = move || {
        lead.with(|l| match (l.status(), &l.assignee, l.outcome) {
            (LeadStatus::Open, _, _) => "Open: anyone may claim it".to_owned(),
            (LeadStatus::Closed, Some(by), Some(o)) => format!("Closed: {} by {by}", o.label().to_lowercase()),
            (_, Some(by), outcome) => {
                let who = if by == &me { "Yours".to_owned() } else { format!("Held by {by}") };
                match outcome {
                    Some(o) => format!("{who}: {}", o.label().to_lowercase()),
                    None => who,
                }
            }
            (_, None, _) => String::new(),
        })
    };
    let lease = move || lead.with(|l| l.lease_left(sync.now.get())).map(time_left);
    let others = move || lead.with(|l| viewing(&sync.others_viewing(&l.id)));
    let do_claim = move |_| {
        let id = lead.get_untracked().id;
        busy.set(true);
        spawn_local(async move {
            match claim(id).await {
                Ok(reply) => sync.apply_claim(&reply),
                Err(e) => report_failure(sync, "Claim failed", e),
            }
            busy.set(false);
        });
    };
    let details = move || {
        lead.with(|l| {
            let d = &l.details;
            let mut rows: Vec<(&'static str, AnyView)> = vec![("Value", money(l.value).into_any())];
            if let Some(c) = &d.contact {
                rows.push(("Contact", c.clone().into_any()));
            }
            if let Some(e) = &d.email {
                rows.push(("Email", view! { <a href=format!("mailto:{e}")>{e.to_string()}</a> }.into_any()));
            }
            if let Some(p) = &d.phone {
                rows.push(("Phone", view! { <a href=format!("tel:{p}")>{p.to_string()}</a> }.into_any()));
            }
            if let Some(s) = &d.source {
                rows.push(("Source", s.clone().into_any()));
            }
            if !d.tags.is_empty() {
                let tags = d.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
                rows.push(("Tags", tags.into_any()));
            }
            if let Some(at) = d.created_at {
                rows.push(("Created", day_time(at).into_any()));
            }
            rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()
        })
    };
    view! {
        <section class="card lead-summary" aria-labelledby="lead-title">
            <div class="lead-head">
                <div>
                    <h1 id="lead-title">{move || lead.with(|l| l.name.clone())}</h1>
                    <p class="muted">{move || lead.with(|l| format!("{} · {}", l.company, l.id))}</p>
                </div>
                <Show when=move || lead.with(|l| l.status() == LeadStatus::Open)>
                    <button class="primary" data-action="claim" disabled=move || busy.get() on:click=do_claim>
                        "Claim"
                    </button>
                </Show>
            </div>
            <p class="standing" data-testid="standing" data-status=move || lead.with(|l| l.status().as_str())>
                {standing}
                {move || lease().map(|left| view! { " · " <span class="lease" data-testid="lease">{left}</span> })}
            </p>
            {move || others().map(|who| view! { <p class="viewing" data-testid="viewing">{who}</p> })}
            <dl class="details">{details}</dl>
        </section>
    }
}
