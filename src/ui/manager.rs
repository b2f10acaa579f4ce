//! The manager's live board: who holds what, a feed of claims and conflicts as they happen, and
//! release or reassign of any lead.

use super::accounts::Accounts;
use super::board::{list_leads, LeadTable};
use super::live::{live, Live};
use super::{Header, Loaded, SignedIn};
use crate::domain::{Account, BoardEvent, Change, Lead, LeadId, Role, UserInfo, Username};
use crate::error::ApiError;
use crate::protocol::Snapshot;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use std::collections::BTreeMap;

/// `POST /api/reassign {"lead_id","version","to"}` (managers): gives a lead to `to`, against the
/// version the manager saw.
#[server(prefix = "/api", endpoint = "reassign", input = Json)]
pub async fn reassign(lead_id: LeadId, version: u64, to: Username) -> Result<Lead, ApiError> {
    use crate::server::{auth, AppState};
    let user = auth::require_manager().await?;
    AppState::current()?.claims.reassign(&lead_id, version, &to, &user).await
}

/// `POST /api/activity {}` (managers): the latest events, oldest first.
#[server(prefix = "/api", endpoint = "activity", input = Json)]
pub async fn recent_activity() -> Result<Vec<BoardEvent>, ApiError> {
    use crate::server::{auth, AppState};
    const FEED_ON_LOAD: usize = 100;
    auth::require_manager().await?;
    Ok(AppState::current()?.leads.recent_events(FEED_ON_LOAD).await?)
}

/// `POST /api/leads/add {"id","name","company","value"}` (managers): creates a lead.
#[server(prefix = "/api", endpoint = "leads/add", input = Json)]
pub async fn add_lead(id: String, name: String, company: String, value: u64) -> Result<LeadId, ApiError> {
    use crate::domain::NewLead;
    use crate::server::{auth, AppState};
    let manager = auth::require_manager().await?;
    let lead = NewLead::parse(&id, &name, &company, value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    AppState::current()?.intake.add_one(&manager, lead).await
}

/// `POST /api/users {}` (managers): every account.
#[server(prefix = "/api", endpoint = "users", input = Json)]
pub async fn list_users() -> Result<Vec<Account>, ApiError> {
    use crate::server::{auth, AppState};
    auth::require_manager().await?;
    AppState::current()?.admin.list().await
}

#[component]
pub fn ManagerPage() -> impl IntoView {
    // Made before the sign-in check, as on the employee board (see `BoardPage`); for anyone but a
    // manager it just answers 403 and is never shown.
    let data: ManagerData =
        Resource::new(|| (), |_| async { Ok((list_leads().await?, recent_activity().await?, list_users().await?)) });
    view! {
        <SignedIn page=move |user: UserInfo| {
            if user.is_manager() {
                view! { <ManagerBoard user data/> }.into_any()
            } else {
                #[cfg(feature = "ssr")]
                expect_context::<leptos_axum::ResponseOptions>().set_status(axum::http::StatusCode::FORBIDDEN);
                view! {
                    <main class="page">
                        <h1>"Managers only"</h1>
                        <p>"The live board is for managers. "<a href="/" rel="external">"Back to your board"</a></p>
                    </main>
                }
                .into_any()
            }
        }/>
    }
}

type ManagerData = Resource<Result<(Snapshot, Vec<BoardEvent>, Vec<Account>), ApiError>>;

#[component]
fn ManagerBoard(user: UserInfo, data: ManagerData) -> impl IntoView {
    let body = move |(list, feed, users)| view! { <ManagerBody user=user.clone() list feed users/> };
    view! { <Loaded data loading="Loading the live board…" body/> }
}

#[component]
fn ManagerBody(user: UserInfo, list: Snapshot, feed: Vec<BoardEvent>, users: Vec<Account>) -> impl IntoView {
    Live::provide(user.username.clone(), list, feed);
    let employees: Vec<Username> =
        users.iter().filter(|u| u.role == Role::Employee && !u.disabled).map(|u| u.username.clone()).collect();
    view! {
        <Header user=user.clone()/>
        <main class="page manager">
            <aside class="side">
                <Stats employees=employees.clone()/>
                <Feed/>
                <Accounts accounts=users/>
            </aside>
            <LeadTable user title="All leads" employees/>
        </main>
    }
    .into_any()
}

#[component]
fn Stats(employees: Vec<Username>) -> impl IntoView {
    let live = live();
    let counts = move || {
        let mut per: BTreeMap<Username, usize> = employees.iter().map(|e| (e.clone(), 0)).collect();
        let mut open = 0;
        live.board.with(|b| {
            for l in b.leads() {
                match &l.assignee {
                    Some(a) => *per.entry(a.clone()).or_default() += 1,
                    None => open += 1,
                }
            }
        });
        let mut per: Vec<_> = per.into_iter().collect();
        per.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (open, per)
    };
    let conflicts =
        move || live.feed.with(|f| f.iter().filter(|e| matches!(e.change, Change::ClaimLost { .. })).count());
    view! {
        <section class="card" aria-labelledby="stats-title">
            <h2 id="stats-title">"Who holds what"</h2>
            {move || {
                let (open, per) = counts();
                view! {
                    <p class="totals">
                        <span><strong data-testid="open-count">{open}</strong>" open"</span>
                        <span><strong data-testid="conflict-count">{conflicts()}</strong>" conflicts"</span>
                    </p>
                    <table class="counts">
                        <thead><tr><th scope="col">"Employee"</th><th scope="col" class="num">"Leads"</th></tr></thead>
                        <tbody>
                            {per.into_iter().take(12).map(|(u, n)| view! {
                                <tr data-employee=u.to_string()><td>{u.to_string()}</td><td class="num">{n}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
            }}
        </section>
    }
}

/// `HH:MM:SS.mmm` UTC of a millisecond timestamp.
fn clock(ms: i64) -> String {
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (h, m, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

fn describe(ev: &BoardEvent) -> String {
    let lead = &ev.lead.id;
    match &ev.change {
        Change::Created => format!("{} added {lead}", ev.actor),
        Change::Claimed => format!("{} claimed {lead}", ev.actor),
        Change::ClaimLost { winner, margin_ms } => {
            format!("{} lost {lead} to {winner} ({margin_ms} ms later)", ev.actor)
        }
        Change::Released { previous } if previous == &ev.actor => format!("{} released {lead}", ev.actor),
        Change::Released { previous } => format!("{} released {lead} from {previous}", ev.actor),
        Change::Reassigned { previous } => format!(
            "{} gave {lead} to {}{}",
            ev.actor,
            ev.lead.assignee.as_ref().map(|a| a.as_str()).unwrap_or("nobody"),
            previous.as_ref().map(|p| format!(" (was {p})")).unwrap_or_default()
        ),
    }
}

#[component]
fn Feed() -> impl IntoView {
    let live = live();
    view! {
        <section class="card feed-card" aria-labelledby="feed-title">
            <h2 id="feed-title">"Live feed" <span class="muted small">" (UTC)"</span></h2>
            <ol class="feed" data-testid="feed" aria-live="polite">
                <For each=move || live.feed.get() key=|ev| ev.seq let:ev>
                    <li class=format!("feed-{}", ev.change.kind()) data-kind=ev.change.kind()>
                        <time>{clock(ev.at)}</time>
                        <span>{describe(&ev)}</span>
                    </li>
                </For>
            </ol>
            <Show when=move || live.feed.with(|f| f.is_empty())>
                <p class="empty">"Nothing has happened yet."</p>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_utc_milliseconds() {
        assert_eq!(clock(0), "00:00:00.000");
        assert_eq!(clock(86_400_000 + 3_723_004), "01:02:03.004");
    }
}
