//! One lead in the table: what it is (its name links to its page), who holds it and for how long
//! (the lease, with a reminder to its holder before it runs out) or how it ended (its outcome),
//! the lost-claim flag, and the actions this user may take on it (claim, release, extend, record
//! an outcome on its page, and for managers reassign and reopen).

use super::format::{money, time_left, viewing};
use crate::domain::{Lead, LeadId, LeadStatus, UserInfo, Username};
use crate::error::ApiError;
use crate::ui::api::{claim, extend, reassign, release};
use crate::ui::sync::{board_sync, BoardSync};
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A server function's call that answers the lead as it now stands.
type ChangeCall = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Lead, ApiError>>>>;

/// Reports a failed call and merges the lead it carries, if any (a conflict returns the lead as
/// it stands now).
pub fn report(sync: BoardSync, what: &str, e: ApiError) {
    if let ApiError::Conflict { lead: Some(lead), .. } = &e {
        sync.board.update(|b| {
            b.upsert((**lead).clone());
        });
    }
    toasts().push(Tone::Bad, format!("{what}: {e}"));
}

#[component]
pub fn LeadRow(id: LeadId, user: UserInfo, employees: Vec<Username>) -> impl IntoView {
    let sync = board_sync();
    let lead = {
        let id = id.clone();
        Memo::new(move |_| sync.board.with(|b| b.get(&id).cloned()))
    };
    let flag = {
        let id = id.clone();
        move || sync.flags.with(|f| f.get(&id).cloned())
    };
    let busy = RwSignal::new(false);
    let row = NodeRef::<leptos::html::Tr>::new();
    // A button that had focus may be gone once the call is done (Claim turns into Release): the
    // row takes focus back, so the keyboard user stays where they were.
    let done = move || {
        busy.set(false);
        #[cfg(feature = "hydrate")]
        request_animation_frame(move || {
            let lost = document().active_element().is_none_or(|a| a.tag_name() == "BODY");
            if let (true, Some(row)) = (lost, row.get_untracked()) {
                let _ = row.focus();
            }
        });
    };
    let me = user.username.clone();
    let manager = user.is_manager();
    let reassign_to = RwSignal::new(String::new());

    let do_claim = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            busy.set(true);
            spawn_local(async move {
                match claim(id).await {
                    Ok(reply) => sync.apply_claim(&reply),
                    Err(e) => report(sync, "Claim failed", e),
                }
                done();
            });
        }
    };
    // Release and extend: a call on the lead as this board has it, then the lead as it came back.
    let change = move |call: fn(LeadId, u64) -> ChangeCall, done_text: &'static str, failed: &'static str| {
        move |_| {
            let Some(l) = lead.get_untracked() else { return };
            busy.set(true);
            spawn_local(async move {
                match call(l.id.clone(), l.version).await {
                    Ok(lead) => {
                        toasts().push(Tone::Info, format!("{done_text} {}", lead.id));
                        sync.board.update(|b| {
                            b.upsert(lead);
                        });
                    }
                    Err(e) => report(sync, failed, e),
                }
                done();
            });
        }
    };
    let do_release = change(|id, v| Box::pin(release(id, v)), "Released", "Release failed");
    let do_extend = change(|id, v| Box::pin(extend(id, v)), "Extended", "Extend failed");
    let do_reassign = move |_| {
        let Some(l) = lead.get_untracked() else { return };
        let Ok(to) = Username::parse(reassign_to.get_untracked()) else {
            toasts().push(Tone::Bad, "Choose whom to give the lead to");
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match reassign(l.id.clone(), l.version, to).await {
                Ok(lead) => {
                    let to = lead.assignee.as_ref().map(|a| a.as_str()).unwrap_or("nobody");
                    toasts().push(Tone::Info, format!("{} now with {to}", lead.id));
                    sync.board.update(|b| {
                        b.upsert(lead);
                    });
                }
                Err(e) => report(sync, "Reassign failed", e),
            }
            done();
        });
    };
    let dismiss = {
        let id = id.clone();
        move |_| sync.unflag(&id)
    };
    // Reassigning needs the list of employees, which only the manager's board loads.
    let can_reassign = manager && !employees.is_empty();
    let employees = StoredValue::new(employees);

    let held = Memo::new(move |_| lead.with(|l| l.as_ref().is_some_and(|l| l.assignee.is_some())));
    let closed = Memo::new(move |_| lead.with(|l| l.as_ref().is_some_and(|l| l.status() == LeadStatus::Closed)));
    let outcome = Memo::new(move |_| lead.with(|l| l.as_ref().and_then(|l| l.outcome)));
    let mine = Memo::new(move |_| lead.with(|l| l.as_ref().is_some_and(|l| l.is_held_by(&me))));
    let text = move |f: fn(&Lead) -> String| move || lead.with(|l| l.as_ref().map(f).unwrap_or_default());
    let row_class = move || match (closed.get(), mine.get(), held.get()) {
        (true, _, _) => "closed",
        (false, true, _) => "mine",
        (false, false, true) => "taken",
        _ => "open",
    };
    let page = format!("/leads/{id}");
    let others = {
        let id = id.clone();
        move || viewing(&sync.others_viewing(&id))
    };
    let claim_label = text(|l| format!("Claim {}", l.name));

    let terms = sync.terms.get_value();
    let left = Memo::new(move |_| lead.with(|l| l.as_ref().and_then(|l| l.lease_left(sync.now.get()))));
    // The reminder window: the holder may extend from here on, while extensions remain.
    let soon = Memo::new(move |_| left.get().is_some_and(|ms| ms <= terms.remind_ms));
    let can_extend = Memo::new(move |_| {
        mine.get() && soon.get() && lead.with(|l| l.as_ref().is_some_and(|l| l.extensions < terms.max_extensions))
    });
    {
        let id = id.clone();
        Effect::new(move |was_soon: Option<bool>| {
            let now_soon = mine.get() && soon.get() && left.get().is_some_and(|ms| ms > 0);
            if now_soon && was_soon == Some(false) {
                let left = left.get_untracked().map(time_left).unwrap_or_default();
                toasts().push(Tone::Bad, format!("Your claim on {id} runs out soon: {left}"));
            }
            now_soon
        });
    }

    // The row stays one element while the lead changes under it, so keyboard focus on it (or in
    // it) survives a claim, a release and every live update.
    view! {
        <tr node_ref=row class=row_class data-lead=id.to_string() tabindex="-1"
            data-assignee=text(|l| l.assignee.as_ref().map(|a| a.to_string()).unwrap_or_default())
            data-version=text(|l| l.version.to_string())>
            <td class="lead">
                <a class="lead-name" href=page.clone() rel="external">{text(|l| l.name.clone())}</a>
                <span class="lead-id">{id.to_string()}</span>
                {move || others().map(|who| view! { <span class="viewing" data-testid="viewing">{who}</span> })}
                {move || flag().map(|f| view! {
                    <p class="lost-flag" data-testid="lost-flag">
                        <span class="lost-icon" aria-hidden="true">"!"</span>
                        <span class="lost-text">
                            {f.text}
                            {f.detail.map(|d| view! { ", "<span class="lost-detail">{d}</span> })}
                        </span>
                        <button class="icon" aria-label="Dismiss this notice" on:click=dismiss.clone()>"×"</button>
                    </p>
                })}
            </td>
            <td class="company">{text(|l| l.company.clone())}</td>
            <td class="num value">{text(|l| money(l.value))}</td>
            <td class="assignee">
                {move || match (mine.get(), lead.with(|l| l.as_ref().and_then(|l| l.assignee.clone()))) {
                    (true, _) => view! { <strong class="you">"You"</strong> }.into_any(),
                    (false, Some(a)) => view! { <span class="holder">{a.to_string()}</span> }.into_any(),
                    (false, None) => view! { <span class="pill pill-open">"Open"</span> }.into_any(),
                }}
                {move || outcome.get().map(|o| view! {
                    <span class="pill pill-outcome" data-outcome=o.as_str()>{o.label()}</span>
                })}
                {move || left.get().map(|ms| view! {
                    <span class="lease" class:lease-soon=move || soon.get() data-testid="lease">{time_left(ms)}</span>
                })}
            </td>
            <td class="actions">
                <div class="actions-inner">
                    <Show when=move || !held.get()>
                        <button class="primary" data-action="claim" disabled=move || busy.get() on:click=do_claim.clone()
                            aria-label=claim_label aria-keyshortcuts="c">"Claim"</button>
                    </Show>
                    <Show when=move || can_extend.get()>
                        <button data-action="extend" disabled=move || busy.get() on:click=do_extend
                            aria-keyshortcuts="e">"Extend"</button>
                    </Show>
                    <Show when=move || mine.get() && !closed.get()>
                        <a class="button" data-action="outcome" href=page.clone() rel="external">"Outcome"</a>
                    </Show>
                    <Show when=move || held.get() && !closed.get() && (mine.get() || manager)>
                        <button data-action="release" disabled=move || busy.get() on:click=do_release
                            aria-keyshortcuts="r">"Release"</button>
                    </Show>
                    <Show when=move || closed.get() && manager>
                        <button data-action="reopen" disabled=move || busy.get() on:click=do_release>"Reopen"</button>
                    </Show>
                    {can_reassign.then(|| view! {
                        <span class="reassign">
                            <label>
                                <span class="sr-only">"Reassign to"</span>
                                <select on:change=move |ev| reassign_to.set(event_target_value(&ev))>
                                    <option value="">"Reassign to…"</option>
                                    {employees.get_value().into_iter().map(|u| view! { <option value=u.to_string()>{u.to_string()}</option> }).collect_view()}
                                </select>
                            </label>
                            <button disabled=move || busy.get() on:click=do_reassign>"Reassign"</button>
                        </span>
                    })}
                </div>
            </td>
        </tr>
    }
}
