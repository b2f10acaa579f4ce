//! Who holds what: leads each employee is working (claimed, not closed), busiest first.

use crate::domain::{LeadStatus, Username};
use crate::ui::sync::board_sync;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// More than this many employees do not fit beside the table; the busiest are shown.
const SHOWN: usize = 12;

#[component]
pub fn Holdings(employees: Vec<Username>) -> impl IntoView {
    let sync = board_sync();
    let counts = move || {
        let mut per: BTreeMap<Username, usize> = employees.iter().map(|e| (e.clone(), 0)).collect();
        sync.board.with(|b| {
            for a in b.leads().filter(|l| l.status() == LeadStatus::Claimed).filter_map(|l| l.assignee.as_ref()) {
                *per.entry(a.clone()).or_default() += 1;
            }
        });
        let mut per: Vec<_> = per.into_iter().collect();
        per.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        per.truncate(SHOWN);
        per
    };
    view! {
        <section class="card" aria-labelledby="holdings-title">
            <h2 id="holdings-title">"Who holds what"</h2>
            <table class="counts">
                <thead><tr><th scope="col">"Employee"</th><th scope="col" class="num">"Leads"</th></tr></thead>
                <tbody>
                    {move || counts().into_iter().map(|(u, n)| view! {
                        <tr data-employee=u.to_string()><td>{u.to_string()}</td><td class="num">{n}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
