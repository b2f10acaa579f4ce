//! The live feed: every claim, lost claim, release, reassign, expiry, extension and outcome as it
//! happens, newest first; leads added together (an import) on one line.

use crate::domain::Change;
use crate::ui::components::clock;
use crate::ui::sync::{board_sync, FeedItem};
use leptos::prelude::*;

/// What happened, and for a lost claim by how much (shown apart, as on the lost-claim flag).
fn describe(item: &FeedItem) -> (String, Option<String>) {
    let ev = &item.event;
    let lead = &ev.lead.id;
    let text = match &ev.change {
        Change::Created if item.count > 1 => {
            format!("{} added {} leads ({}–{lead})", ev.actor, item.count, item.first_lead)
        }
        Change::Created => format!("{} added {lead}", ev.actor),
        Change::Claimed => format!("{} claimed {lead}", ev.actor),
        Change::ClaimLost { winner, margin_ms } => {
            return (format!("{} lost {lead} to {winner}", ev.actor), Some(format!("{margin_ms} ms later")));
        }
        Change::Released { previous } if previous == &ev.actor => format!("{} released {lead}", ev.actor),
        Change::Released { previous } => format!("{} released {lead} from {previous}", ev.actor),
        Change::Reassigned { previous } => format!(
            "{} gave {lead} to {}{}",
            ev.actor,
            ev.lead.assignee.as_ref().map(|a| a.as_str()).unwrap_or("nobody"),
            previous.as_ref().map(|p| format!(" (was {p})")).unwrap_or_default()
        ),
        Change::Expired { previous } => format!("{previous}'s claim on {lead} expired"),
        Change::Extended => format!("{} extended {lead}", ev.actor),
        Change::Outcome { outcome, note } if note.is_empty() => {
            format!("{} marked {lead} {}", ev.actor, outcome.label().to_lowercase())
        }
        Change::Outcome { outcome, note } => {
            format!("{} marked {lead} {}: {note}", ev.actor, outcome.label().to_lowercase())
        }
    };
    (text, None)
}

#[component]
pub fn Feed() -> impl IntoView {
    let sync = board_sync();
    view! {
        <section class="card feed-card" aria-labelledby="feed-title">
            <h2 id="feed-title">"Live feed" <span class="muted small">" (UTC)"</span></h2>
            // Scrolls on its own, so it must take keyboard focus to be scrolled without a mouse.
            <ol class="feed" data-testid="feed" aria-live="polite" aria-relevant="additions" tabindex="0"
                aria-label="Events, newest first">
                <For each=move || sync.feed.get() key=|item| (item.first_seq, item.event.seq) let:item>
                    {
                        let (text, detail) = describe(&item);
                        let ev = item.event;
                        view! {
                            <li class=format!("feed-{}", ev.change.kind()) data-kind=ev.change.kind()>
                                <time>{clock(ev.at)}</time>
                                <span>{text}{detail.map(|d| view! { " " <span class="lost-detail">"(" {d} ")"</span> })}</span>
                            </li>
                        }
                    }
                </For>
            </ol>
            <Show when=move || sync.feed.with(|f| f.is_empty())>
                <p class="state state-empty">"Nothing has happened yet."</p>
            </Show>
        </section>
    }
}
