//! The lead's history, oldest first: every claim attempt (won, and lost with its margin), lease,
//! extension, expiry, release, reassign and outcome with its note. The page's first load brings
//! what the store has kept; the socket adds what happens while the page is open.

use crate::domain::{BoardEvent, Change, LeadId};
use crate::ui::components::day_time;
use crate::ui::sync::board_sync;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// One line: what happened, and a detail set apart (a margin, a deadline, the note).
fn describe(ev: &BoardEvent) -> (String, Option<String>) {
    let who = &ev.actor;
    let until = || ev.lead.lease_until.map(|t| format!("lease until {}", day_time(t)));
    match &ev.change {
        Change::Created => (format!("Added by {who}"), None),
        Change::Claimed => (format!("{who} claimed it"), until()),
        Change::ClaimLost { winner, margin_ms } => {
            (format!("{who} tried to claim it and lost to {winner}"), Some(format!("{margin_ms} ms later")))
        }
        Change::Released { previous } if previous == who => (format!("{who} released it"), None),
        Change::Released { previous } => (format!("{who} released it from {previous}"), None),
        Change::Reassigned { previous } => {
            let to = ev.lead.assignee.as_ref().map_or("nobody".to_owned(), |a| a.to_string());
            let was = previous.as_ref().map(|p| format!(" (was {p})")).unwrap_or_default();
            (format!("{who} gave it to {to}{was}"), until())
        }
        Change::Expired { previous } => (format!("{previous}'s lease ran out: back in the pool"), None),
        Change::Extended => (format!("{who} extended the lease"), until()),
        Change::Outcome { outcome, note } => (
            format!("{who} recorded: {}", outcome.label().to_lowercase()),
            (!note.is_empty()).then(|| note.to_string()),
        ),
    }
}

#[component]
pub fn History(id: LeadId, events: Vec<BoardEvent>) -> impl IntoView {
    let sync = board_sync();
    let events = RwSignal::new(events.into_iter().map(|e| (e.seq, e)).collect::<BTreeMap<_, _>>());
    // The feed holds the latest events of the whole board; this lead's join the history (by
    // sequence, so an event the first load already had is kept once).
    Effect::new(move || {
        sync.feed.with(|feed| {
            let new: Vec<_> = feed.iter().filter(|i| i.event.lead.id == id).map(|i| i.event.clone()).collect();
            if new.iter().any(|e| events.with_untracked(|have| !have.contains_key(&e.seq))) {
                events.update(|have| have.extend(new.into_iter().map(|e| (e.seq, e))));
            }
        })
    });
    view! {
        <section class="card history-card" aria-labelledby="history-title">
            <h2 id="history-title">"History" <span class="muted small">" (UTC)"</span></h2>
            <ol class="history" data-testid="history">
                {move || events.with(|evs| evs.values().map(|ev| {
                    let (text, detail) = describe(ev);
                    let note = matches!(ev.change, Change::Outcome { .. });
                    view! {
                        <li data-kind=ev.change.kind()>
                            <time>{day_time(ev.at)}</time>
                            <span>
                                {text}
                                {detail.map(|d| if note {
                                    view! { <q class="note">{d}</q> }.into_any()
                                } else {
                                    view! { " " <span class="muted">"(" {d} ")"</span> }.into_any()
                                })}
                            </span>
                        </li>
                    }
                }).collect_view())}
            </ol>
            <Show when=move || events.with(BTreeMap::is_empty)>
                <p class="state state-empty">"Nothing has happened to this lead yet."</p>
            </Show>
        </section>
    }
}
