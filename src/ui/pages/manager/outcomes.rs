//! What the team did with its leads this week: each person's outcomes and their median time from
//! a claim to its first outcome. Fetched again whenever an outcome reaches the board.

use crate::domain::{Change, Outcome, OutcomeReport};
use crate::ui::api::team_outcomes;
use crate::ui::components::duration;
use crate::ui::sync::board_sync;
use leptos::prelude::*;

/// The report's period.
const DAYS: u32 = 7;

#[component]
pub fn Outcomes() -> impl IntoView {
    let sync = board_sync();
    // The newest outcome's sequence on this board: a new one fetches the report again.
    let latest = Memo::new(move |_| {
        sync.feed.with(|f| f.iter().find(|i| matches!(i.event.change, Change::Outcome { .. })).map(|i| i.event.seq))
    });
    let report = LocalResource::new(move || {
        latest.track();
        team_outcomes(DAYS)
    });
    let rows = move |r: OutcomeReport| {
        r.people
            .into_iter()
            .map(|p| {
                let counts = Outcome::ALL.map(|o| view! { <td class="num">{p.count(o)}</td> });
                let median = p.median_to_first_ms.map(duration).unwrap_or_else(|| "–".into());
                view! {
                    <tr data-employee=p.user.to_string()>
                        <th scope="row">{p.user.to_string()}</th>
                        {counts.into_iter().collect_view()}
                        <td class="num">{median}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <section class="card outcomes-card" aria-labelledby="outcomes-title">
            <h2 id="outcomes-title">"Outcomes, last " {DAYS} " days"</h2>
            <div class="scroll-x" tabindex="0" role="region" aria-labelledby="outcomes-title">
                <table class="counts outcomes" data-testid="outcomes">
                    <thead>
                        <tr>
                            <th scope="col">"Employee"</th>
                            {Outcome::ALL.map(|o| view! { <th scope="col" class="num">{o.label()}</th> }).into_iter().collect_view()}
                            <th scope="col" class="num" title="Median time from a claim to its first outcome">"To first"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <Suspense fallback=|| ()>
                            {move || report.get().map(|r| match r {
                                Ok(r) if r.people.is_empty() => view! {
                                    <tr><td colspan="7" class="muted">"No outcomes recorded yet."</td></tr>
                                }.into_any(),
                                Ok(r) => rows(r).into_any(),
                                Err(e) => view! { <tr><td colspan="7" role="alert">{e.to_string()}</td></tr> }.into_any(),
                            })}
                        </Suspense>
                    </tbody>
                </table>
            </div>
        </section>
    }
}
