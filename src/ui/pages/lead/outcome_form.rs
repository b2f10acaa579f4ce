//! The holder's outcome form: what happened (contacted keeps the lead; the others close it) and a
//! short note.

use crate::domain::{Lead, Note, Outcome};
use crate::ui::api::record_outcome;
use crate::ui::sync::board_sync;
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn OutcomeForm(lead: Memo<Lead>) -> impl IntoView {
    let sync = board_sync();
    let chosen = RwSignal::new(None::<Outcome>);
    let note_text = RwSignal::new(String::new());
    let error = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(outcome) = chosen.get_untracked() else {
            error.set("Choose what happened".into());
            return;
        };
        let note = match Note::parse(note_text.get_untracked()) {
            Ok(n) => n,
            Err(e) => {
                error.set(e.to_string());
                return;
            }
        };
        let l = lead.get_untracked();
        busy.set(true);
        error.set(String::new());
        spawn_local(async move {
            match record_outcome(l.id.clone(), l.version, outcome, note).await {
                Ok(lead) => {
                    toasts().push(Tone::Good, format!("Recorded {} on {}", outcome.label().to_lowercase(), lead.id));
                    sync.board.update(|b| {
                        b.upsert(lead);
                    });
                    chosen.set(None);
                    note_text.set(String::new());
                }
                Err(e) => error.set(e.to_string()),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="card outcome-form" aria-labelledby="outcome-title" on:submit=submit>
            <h2 id="outcome-title">"What happened?"</h2>
            <fieldset class="choices">
                <legend class="sr-only">"Outcome"</legend>
                {Outcome::ALL.into_iter().map(|o| view! {
                    <label class="choice">
                        <input type="radio" name="outcome" value=o.as_str()
                            prop:checked=move || chosen.get() == Some(o) on:change=move |_| chosen.set(Some(o))/>
                        {o.label()}
                    </label>
                }).collect_view()}
            </fieldset>
            <p class="hint muted small">"Contacted keeps the lead yours and ends its lease; the others close it."</p>
            <label class="note-field">
                "Note (optional)"
                <textarea rows="3" maxlength=Note::MAX.to_string() bind:value=note_text></textarea>
            </label>
            <div class="form-actions">
                <button class="primary" type="submit" disabled=move || busy.get()>"Record outcome"</button>
            </div>
            <p class="form-error" role="alert">{move || error.get()}</p>
        </form>
    }
}
