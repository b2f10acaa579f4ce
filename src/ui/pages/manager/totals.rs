//! The manager board's headline figures: leads open, claimed and closed, and conflicts seen.

use crate::domain::{Change, LeadStatus};
use crate::ui::sync::board_sync;
use leptos::prelude::*;

#[component]
pub fn Totals() -> impl IntoView {
    let sync = board_sync();
    let count =
        move |status: LeadStatus| move || sync.board.with(|b| b.leads().filter(|l| l.status() == status).count());
    let conflicts =
        move || sync.feed.with(|f| f.iter().filter(|i| matches!(i.event.change, Change::ClaimLost { .. })).count());
    view! {
        <section class="totals" aria-label="Totals">
            <p class="tile"><strong data-testid="open-count">{count(LeadStatus::Open)}</strong><span>"open"</span></p>
            <p class="tile"><strong data-testid="claimed-count">{count(LeadStatus::Claimed)}</strong><span>"claimed"</span></p>
            <p class="tile"><strong data-testid="closed-count">{count(LeadStatus::Closed)}</strong><span>"closed"</span></p>
            <p class="tile tile-bad"><strong data-testid="conflict-count">{conflicts}</strong><span>"conflicts"</span></p>
        </section>
    }
}
