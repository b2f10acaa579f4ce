//! Exports: the history of claims, lost claims, releases and reassigns for a period (the board
//! itself is exported from the live board, as its filters show it).

use leptos::prelude::*;

#[component]
pub fn ExportSection() -> impl IntoView {
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let href = move || format!("/csv/history?from={}&to={}", from.get(), to.get());
    view! {
        <section class="card data-card" aria-labelledby="export-title">
            <h2 id="export-title">"Export"</h2>
            <p class="muted">
                "The board as CSV, every column: use "<strong>"Export CSV"</strong>" on the "
                <a href="/manager" rel="external">"live board"</a>", which exports what its filters show."
            </p>
            <div class="export-history">
                <label><span>"From"</span><input type="date" bind:value=from data-testid="history-from"/></label>
                <label><span>"To"</span><input type="date" bind:value=to data-testid="history-to"/></label>
                <a class="button" href=href download rel="external" data-testid="export-history">"Download history (CSV)"</a>
            </div>
            <p class="muted small">"Claims, lost claims, releases and reassigns; dates in UTC; the last 7 days when left empty."</p>
        </section>
    }
}
