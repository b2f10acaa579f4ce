//! The lead table shared by the employee board and the manager's board: search and filters in a
//! sticky bar, one page of rows, the pager, and keyboard shortcuts. Filtering runs on the board's
//! local copy, so typing never refetches.

use super::lead_row::LeadRow;
use super::pager::{clamp_page, page_count, page_range, Pager};
use super::shortcuts::{self, HelpDialog, SEARCH_ID};
use crate::domain::{LeadFilter, LeadStatus, UserInfo, Username};
use crate::ui::sync::board_sync;
use leptos::prelude::*;

/// The status filter: a status, or every lead (`all`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct StatusFilter(Option<LeadStatus>);

impl StatusFilter {
    const ALL: StatusFilter = StatusFilter(None);

    fn parse(s: &str) -> Self {
        StatusFilter(s.parse().ok())
    }

    fn status(self) -> Option<LeadStatus> {
        self.0
    }

    fn as_str(self) -> &'static str {
        self.0.map_or("all", LeadStatus::as_str)
    }
}

/// What a lead table shows: its search text, status and "Mine only". A page that also shows
/// something of them elsewhere (the manager's export link) makes them and hands them to the table.
#[derive(Clone, Copy)]
pub struct LeadFilters {
    search: RwSignal<String>,
    status: RwSignal<StatusFilter>,
    mine: RwSignal<bool>,
}

impl Default for LeadFilters {
    fn default() -> Self {
        Self {
            search: RwSignal::new(String::new()),
            status: RwSignal::new(StatusFilter::ALL),
            mine: RwSignal::new(false),
        }
    }
}

/// "Export CSV" of the leads `filters` let through: the server applies them to the whole board
/// (`/csv/leads`).
#[component]
pub fn ExportLink(filters: LeadFilters) -> impl IntoView {
    let LeadFilters { search, status, mine } = filters;
    let href = move || {
        let (q, mine) = (search.get(), if mine.get() { "true" } else { "false" });
        let query = [("q", q.as_str()), ("status", status.get().as_str()), ("mine", mine)];
        format!("/csv/leads?{}", serde_urlencoded::to_string(query).unwrap_or_default())
    };
    view! { <a class="button" href=href download rel="external" data-testid="export-leads">"Export CSV"</a> }
}

#[component]
pub fn LeadTable(
    user: UserInfo,
    /// The table's heading; without one the table is named by the page's `h1`.
    #[prop(optional)]
    title: Option<&'static str>,
    /// Accounts a manager can reassign to (empty on the employee board).
    #[prop(optional)]
    employees: Vec<Username>,
    /// The filters, when the page shares them (else the table's own).
    #[prop(optional)]
    filters: Option<LeadFilters>,
) -> impl IntoView {
    let sync = board_sync();
    let LeadFilters { search, status, mine } = filters.unwrap_or_default();
    let page = RwSignal::new(0usize);
    // A new filter starts at the first page.
    Effect::watch(move || (search.get(), status.get(), mine.get()), move |_, _, _| page.set(0), false);
    let me = user.username.clone();
    let visible = Memo::new(move |_| {
        let filter = LeadFilter::new(&search.get(), status.get().status(), mine.get().then(|| me.clone()));
        sync.board.with(|b| b.leads().filter(|l| filter.admits(l)).map(|l| l.id.clone()).collect::<Vec<_>>())
    });
    let len = Signal::derive(move || visible.with(Vec::len));
    let rows = move || visible.with(|v| v[page_range(page.get(), v.len())].to_vec());
    let total = move || sync.board.with(|b| b.len());
    let filtered = move || !search.with(String::is_empty) || status.get() != StatusFilter::ALL || mine.get();
    let clear = move |_| {
        search.set(String::new());
        status.set(StatusFilter::ALL);
        mine.set(false);
    };

    let search_box = NodeRef::<leptos::html::Input>::new();
    let help = NodeRef::<leptos::html::Dialog>::new();
    shortcuts::listen(page, Signal::derive(move || page_count(len.get())), search_box, help);
    // Keep the page asked for within range as the list changes under the reader.
    Effect::new(move || {
        let shown = clamp_page(page.get(), len.get());
        if shown != page.get_untracked() {
            page.set(shown);
        }
    });

    let employees = StoredValue::new(employees);
    let user = StoredValue::new(user);
    let (heading, label) = match title {
        Some(t) => (Some(view! { <h2 id="leads-title">{t}</h2> }), None),
        None => (None, Some("Leads")),
    };

    view! {
        <section class="leads-card" aria-labelledby=title.map(|_| "leads-title") aria-label=label>
            <div class="toolbar" role="search" aria-label="Find leads">
                {heading}
                <label class="search">
                    <span class="sr-only">"Search leads"</span>
                    <input id=SEARCH_ID type="search" node_ref=search_box maxlength="100" aria-keyshortcuts="/"
                        placeholder="Search name, company, ID or assignee" bind:value=search/>
                    <kbd class="hint" aria-hidden="true">"/"</kbd>
                </label>
                <label class="status-filter">
                    <span class="sr-only">"Status"</span>
                    <select prop:value=move || status.get().as_str() on:change=move |ev| status.set(StatusFilter::parse(&event_target_value(&ev)))>
                        <option value="all">"All statuses"</option>
                        <option value="open">"Open"</option>
                        <option value="claimed">"Claimed"</option>
                        <option value="closed">"Closed"</option>
                    </select>
                </label>
                <label class="check">
                    <input type="checkbox" bind:checked=mine/>
                    "Mine only"
                </label>
                <span class="count" data-testid="count">{move || format!("{} of {}", len.get(), total())}</span>
                <button class="ghost help-button" aria-haspopup="dialog" aria-keyshortcuts="?"
                    on:click=move |_| shortcuts::open_help(help)>
                    <kbd aria-hidden="true">"?"</kbd>" Shortcuts"
                </button>
            </div>
            <div class="table-wrap">
                <table class="leads">
                    <thead>
                        <tr>
                            <th scope="col">"Lead"</th>
                            <th scope="col">"Company"</th>
                            <th scope="col" class="num">"Value"</th>
                            <th scope="col">"Assignee"</th>
                            <th scope="col" class="actions-col"><span class="sr-only">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|id| id.clone() let:id>
                            <LeadRow id user=user.get_value() employees=employees.get_value()/>
                        </For>
                    </tbody>
                </table>
                <Show when=move || len.get() == 0>
                    <div class="state state-empty">
                        {move || if filtered() {
                            view! {
                                <p>"No leads match these filters."</p>
                                <button on:click=clear>"Clear filters"</button>
                            }.into_any()
                        } else {
                            view! { <p>"No leads yet. New leads appear here the moment a manager adds them."</p> }.into_any()
                        }}
                    </div>
                </Show>
            </div>
            <Pager page len/>
            <HelpDialog help/>
        </section>
    }
}
