//! "Next lead": one button (and the `n` key) that claims the best open lead for me, in the order
//! the team chose, and says which lead and why.

use crate::ui::api::next_lead;
use crate::ui::sync::board_sync;
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn NextLead() -> impl IntoView {
    let sync = board_sync();
    let busy = RwSignal::new(false);
    let title = format!("Claims {} for you (key n)", sync.terms.get_value().next_order.reason());
    let press = move |_| {
        busy.set(true);
        spawn_local(async move {
            match next_lead().await {
                Ok(next) => sync.apply_next(&next),
                Err(e) => toasts().push(Tone::Bad, format!("Next lead: {e}")),
            }
            busy.set(false);
        });
    };
    view! {
        <button class="primary next-lead" data-action="next" title=title aria-keyshortcuts="n"
            disabled=move || busy.get() on:click=press>"Next lead"</button>
    }
}
