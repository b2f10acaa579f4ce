//! The employee board: every lead, filters, and one-click claim and release.

use super::live::{live, Live};
use super::toast::{toasts, Tone};
use super::{Header, Loaded, SignedIn};
use crate::domain::{ClaimReply, Lead, LeadId, LeadStatus, UserInfo, Username};
use crate::error::ApiError;
use crate::protocol::Snapshot;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos::task::spawn_local;

const PAGE_SIZE: usize = 50;

/// `POST /api/leads {}`: every lead, with the event sequence the list reflects (resume the
/// websocket from there).
#[server(prefix = "/api", endpoint = "leads", input = Json)]
pub async fn list_leads() -> Result<Snapshot, ApiError> {
    use crate::server::{auth, AppState};
    auth::current_user().await?;
    Ok(AppState::current()?.leads.snapshot().await?)
}

/// `POST /api/claim {"lead_id"}`: exactly one concurrent claimant of an open lead wins.
#[server(prefix = "/api", endpoint = "claim", input = Json)]
pub async fn claim(lead_id: LeadId) -> Result<ClaimReply, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.claim(&lead_id, &user).await
}

/// `POST /api/release {"lead_id","version"}`: the holder (or a manager) gives a lead back,
/// against the version they saw.
#[server(prefix = "/api", endpoint = "release", input = Json)]
pub async fn release(lead_id: LeadId, version: u64) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::current_user().await?;
    AppState::current()?.claims.release(&lead_id, version, &user).await
}

#[component]
pub fn BoardPage() -> impl IntoView {
    // Made here, not inside the sign-in check's Suspense (which may render its children more than
    // once on the server): hydration pairs resources by creation order, so the server and the
    // browser must create the same ones in the same order.
    let data = Resource::new(|| (), |_| list_leads());
    view! { <SignedIn page=move |user: UserInfo| view! { <EmployeeBoard user data/> }/> }
}

#[component]
fn EmployeeBoard(user: UserInfo, data: Resource<Result<Snapshot, ApiError>>) -> impl IntoView {
    let body = move |list| view! { <EmployeeBody user=user.clone() list/> };
    view! { <Loaded data loading="Loading leads…" body/> }
}

#[component]
fn EmployeeBody(user: UserInfo, list: Snapshot) -> impl IntoView {
    Live::provide(user.username.clone(), list, Vec::new());
    view! {
        <Header user=user.clone()/>
        <main class="page board">
            <LeadTable user title="Leads"/>
        </main>
    }
    .into_any()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    All,
    Open,
    Claimed,
}

/// The filterable, paged table of leads, shared by the employee board and the manager's board.
/// Filtering runs on the local copy: no refetch.
#[component]
pub fn LeadTable(
    user: UserInfo,
    title: &'static str,
    // Accounts a manager can reassign to (empty on the employee board).
    #[prop(optional)] employees: Vec<Username>,
) -> impl IntoView {
    let live = live();
    let search = RwSignal::new(String::new());
    let status = RwSignal::new(StatusFilter::All);
    let mine = RwSignal::new(false);
    let page = RwSignal::new(0usize);
    Effect::new(move || {
        search.track();
        status.track();
        mine.track();
        page.set(0);
    });
    let me = user.username.clone();
    let visible = Memo::new(move |_| {
        let q = search.get().trim().to_lowercase();
        let (status, mine) = (status.get(), mine.get());
        live.board.with(|b| {
            b.leads()
                .filter(|l| match status {
                    StatusFilter::All => true,
                    StatusFilter::Open => l.status() == LeadStatus::Open,
                    StatusFilter::Claimed => l.status() == LeadStatus::Claimed,
                })
                .filter(|l| !mine || l.is_held_by(&me))
                .filter(|l| l.matches(&q))
                .map(|l| l.id.clone())
                .collect::<Vec<_>>()
        })
    });
    let pages = move || visible.with(|v| v.len().div_ceil(PAGE_SIZE).max(1));
    let rows = move || {
        let start = page.get() * PAGE_SIZE;
        visible.with(|v| v.iter().skip(start).take(PAGE_SIZE).cloned().collect::<Vec<_>>())
    };
    let total = move || live.board.with(|b| b.len());
    let employees = StoredValue::new(employees);
    let user = StoredValue::new(user);

    view! {
        <section class="card table-card" aria-labelledby="leads-title">
            <div class="table-head">
                <h2 id="leads-title">{title}</h2>
                <span class="muted" data-testid="count">{move || format!("{} of {}", visible.with(Vec::len), total())}</span>
            </div>
            <div class="filters" role="search">
                <label class="grow">
                    <span class="sr-only">"Search leads"</span>
                    <input type="search" placeholder="Search name, company, ID or assignee" maxlength="100"
                        bind:value=search/>
                </label>
                <label>
                    <span class="sr-only">"Status"</span>
                    <select on:change=move |ev| status.set(match event_target_value(&ev).as_str() {
                        "open" => StatusFilter::Open,
                        "claimed" => StatusFilter::Claimed,
                        _ => StatusFilter::All,
                    })>
                        <option value="all">"All statuses"</option>
                        <option value="open">"Open"</option>
                        <option value="claimed">"Claimed"</option>
                    </select>
                </label>
                <label class="check">
                    <input type="checkbox" bind:checked=mine/>
                    " Mine only"
                </label>
            </div>
            <div class="table-wrap">
                <table class="leads">
                    <thead>
                        <tr>
                            <th scope="col">"Lead"</th>
                            <th scope="col">"Company"</th>
                            <th scope="col" class="num">"Value"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Assignee"</th>
                            <th scope="col" class="actions-col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|id| id.clone() let:id>
                            <LeadRow id user=user.get_value() employees=employees.get_value()/>
                        </For>
                    </tbody>
                </table>
                <Show when=move || visible.with(Vec::is_empty)>
                    <p class="empty">"No leads match."</p>
                </Show>
            </div>
            <nav class="pager" aria-label="Pages">
                <button class="ghost" disabled=move || page.get() == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>
                    "‹ Previous"
                </button>
                <span>{move || format!("Page {} of {}", page.get() + 1, pages())}</span>
                <button class="ghost" disabled=move || page.get() + 1 >= pages() on:click=move |_| page.update(|p| *p += 1)>
                    "Next ›"
                </button>
            </nav>
        </section>
    }
}

fn money(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}

/// Reports a failed call and merges the lead it carries, if any (a conflict returns the lead as
/// it stands now).
fn report(live: Live, what: &str, e: ApiError) {
    if let ApiError::Conflict { lead: Some(lead), .. } = &e {
        live.board.update(|b| {
            b.upsert((**lead).clone());
        });
    }
    toasts().push(Tone::Bad, format!("{what}: {e}"));
}

#[component]
fn LeadRow(id: LeadId, user: UserInfo, employees: Vec<Username>) -> impl IntoView {
    let live = live();
    let lead = {
        let id = id.clone();
        Memo::new(move |_| live.board.with(|b| b.get(&id).cloned()))
    };
    let flag = {
        let id = id.clone();
        move || live.flags.with(|f| f.get(&id).cloned())
    };
    let busy = RwSignal::new(false);
    let me = user.username.clone();
    let manager = user.is_manager();
    let reassign_to = RwSignal::new(String::new());

    let do_claim = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            busy.set(true);
            spawn_local(async move {
                match claim(id).await {
                    Ok(reply) => live.apply_claim(&reply),
                    Err(e) => report(live, "Claim failed", e),
                }
                busy.set(false);
            });
        }
    };
    let do_release = move |_| {
        let Some(l) = lead.get_untracked() else { return };
        busy.set(true);
        spawn_local(async move {
            match release(l.id.clone(), l.version).await {
                Ok(lead) => {
                    toasts().push(Tone::Info, format!("Released {}", lead.id));
                    live.board.update(|b| {
                        b.upsert(lead);
                    });
                }
                Err(e) => report(live, "Release failed", e),
            }
            busy.set(false);
        });
    };
    let do_reassign = move |_| {
        let Some(l) = lead.get_untracked() else { return };
        let Ok(to) = Username::parse(reassign_to.get_untracked()) else {
            toasts().push(Tone::Bad, "Choose whom to give the lead to");
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match super::manager::reassign(l.id.clone(), l.version, to).await {
                Ok(lead) => {
                    toasts().push(
                        Tone::Info,
                        format!(
                            "{} now with {}",
                            lead.id,
                            lead.assignee.as_ref().map(|a| a.as_str()).unwrap_or("nobody")
                        ),
                    );
                    live.board.update(|b| {
                        b.upsert(lead);
                    });
                }
                Err(e) => report(live, "Reassign failed", e),
            }
            busy.set(false);
        });
    };
    let dismiss = {
        let id = id.clone();
        move |_| live.unflag(&id)
    };
    // Reassigning needs the list of employees, which only the manager's board loads.
    let can_reassign = manager && !employees.is_empty();
    let employees = StoredValue::new(employees);

    move || {
        let Some(l) = lead.get() else { return ().into_any() };
        let mine = l.is_held_by(&me);
        let held = l.assignee.is_some();
        let row_class = match (mine, held) {
            (true, _) => "mine",
            (false, true) => "taken",
            _ => "open",
        };
        let assignee = l.assignee.as_ref().map(|a| a.to_string());
        let data_assignee = assignee.clone().unwrap_or_default();
        view! {
            <tr class=row_class data-lead=l.id.to_string() data-assignee=data_assignee data-version=l.version>
                <td><span class="lead-name">{l.name.clone()}</span><span class="lead-id">{l.id.to_string()}</span></td>
                <td>{l.company.clone()}</td>
                <td class="num">{money(l.value)}</td>
                <td><span class=format!("pill pill-{}", l.status().as_str())>{l.status().as_str()}</span></td>
                <td class="assignee">
                    {match (mine, assignee) {
                        (true, _) => view! { <strong class="you">"You"</strong> }.into_any(),
                        (false, Some(a)) => view! { <span>{a}</span> }.into_any(),
                        (false, None) => view! { <span class="muted">"—"</span> }.into_any(),
                    }}
                </td>
                <td class="actions">
                    {(!held).then(|| view! {
                        <button class="primary" disabled=move || busy.get() on:click=do_claim.clone()
                            aria-label=format!("Claim {}", l.name)>"Claim"</button>
                    })}
                    {(held && (mine || manager)).then(|| view! {
                        <button disabled=move || busy.get() on:click=do_release>"Release"</button>
                    })}
                    {can_reassign.then(|| view! {
                        <span class="reassign">
                            <label>
                                <span class="sr-only">"Reassign to"</span>
                                <select on:change=move |ev| reassign_to.set(event_target_value(&ev))>
                                    <option value="">"Reassign to…"</option>
                                    {employees.get_value().into_iter().map(|u| view! { <option value=u.to_string()>{u.to_string()}</option> }).collect_view()}
                                </select>
                            </label>
                            <button disabled=move || busy.get() on:click=do_reassign>"Reassign"</button>
                        </span>
                    })}
                    {flag().map(|f| view! {
                        <p class="lost-flag" role="alert" data-testid="lost-flag">
                            <span>{f.text}</span>
                            <button class="ghost" aria-label="Dismiss" on:click=dismiss.clone()>"×"</button>
                        </p>
                    })}
                </td>
            </tr>
        }
        .into_any()
    }
}
