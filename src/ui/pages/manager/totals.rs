//! The manager board's headline figures: leads open, claimed, and conflicts seen.

use crate::domain::Change;
use crate::ui::sync::board_sync;
use leptos::prelude::*;

#[component]
pub fn Totals() -> impl IntoView {
    let sync = board_sync();
    let open = move || sync.board.with(|b| b.leads().filter(|l| l.assignee.is_none()).count());
    let claimed = move || sync.board.with(|b| b.len()) - open();
    let conflicts =
        move || sync.feed.with(|f| f.iter().filter(|i| matches!(i.event.change, Change::ClaimLost { .. })).count());
    view! {
        <section class="totals" aria-label="Totals">
            <p class="tile"><strong data-testid="open-count">{open}</strong><span>"open"</span></p>
            <p class="tile"><strong data-testid="claimed-count">{claimed}</strong><span>"claimed"</span></p>
            <p class="tile tile-bad"><strong data-testid="conflict-count">{conflicts}</strong><span>"conflicts"</span></p>
        </section>
    }
}
