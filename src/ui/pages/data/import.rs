//! Importing a CSV file: choose it, check the preview and the column mapping guessed from its
//! header (each column's field can be changed), import with a progress bar, then the report:
//! rows added, skipped (already there, duplicates) and refused, with the refused rows as a file
//! to fix and upload again.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use crate::domain::import::{Field, ImportReport, Mapping, Preview, RowIssue};
#[cfg(feature = "hydrate")]
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use strum::IntoEnumIterator;

/// Issues a report lists on the page; the rest are counted.
const LISTED: usize = 100;

/// The import's query string: one field name (or nothing) per column, and the key column.
fn query(m: &Mapping) -> String {
    let map: Vec<&str> = m.columns.iter().map(|c| c.map_or("", Field::as_str)).collect();
    let key = m.key.map(|k| format!("&key={k}")).unwrap_or_default();
    format!("map={}{key}", map.join(","))
}

#[derive(Clone, Debug, PartialEq)]
enum Stage {
    Idle,
    Previewing,
    Ready,
    Importing { done: usize, total: usize },
    Done(Box<ImportReport>),
}

#[component]
pub fn ImportSection() -> impl IntoView {
    let file_name = RwSignal::new(None::<String>);
    let preview = RwSignal::new(None::<Preview>);
    let mapping = RwSignal::new(Mapping::default());
    let stage = RwSignal::new(Stage::Idle);
    let error = RwSignal::new(None::<String>);

    let on_file = move |_ev: leptos::ev::Event| {
        error.set(None);
        preview.set(None);
        #[cfg(feature = "hydrate")]
        {
            file_name.set(super::upload::choose(&_ev));
            stage.set(Stage::Previewing);
            leptos::task::spawn_local(async move {
                match super::upload::preview().await {
                    Ok(p) => {
                        mapping.set(p.mapping.clone());
                        preview.set(Some(p));
                        stage.set(Stage::Ready);
                    }
                    Err(e) => {
                        error.set(Some(e.to_string()));
                        stage.set(Stage::Idle);
                    }
                }
            });
        }
    };

    let start = move |_| {
        let _q = query(&mapping.get_untracked());
        if let Err(e) =
            mapping.get_untracked().check(preview.with_untracked(|p| p.as_ref().map_or(0, |p| p.headers.len())))
        {
            error.set(Some(e));
            return;
        }
        error.set(None);
        stage.set(Stage::Importing { done: 0, total: 0 });
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use crate::domain::import::ImportProgress;
            let result = super::upload::import(&_q, |line| match line {
                ImportProgress::Progress { done, total } => stage.set(Stage::Importing { done, total }),
                ImportProgress::Done(report) => {
                    toasts().push(Tone::Good, format!("Import done: {}", report.summary()));
                    stage.set(Stage::Done(Box::new(report)));
                }
                ImportProgress::Failed { message } => error.set(Some(message)),
            })
            .await;
            if let Err(e) = result {
                error.set(Some(e.to_string()));
                stage.set(Stage::Ready);
            }
        });
    };

    view! {
        <section class="card data-card" aria-labelledby="import-title">
            <h2 id="import-title">"Import leads from CSV"</h2>
            <p class="muted">
                "A header row names the columns; separated by commas, semicolons or tabs; up to 20,000 rows (4 MiB). "
                "Importing the same file again adds nothing twice."
            </p>
            <label class="file-pick">
                <span>"CSV file"</span>
                <input type="file" accept=".csv,text/csv" data-testid="csv-file" on:change=on_file/>
            </label>
            <Show when=move || stage.get() == Stage::Previewing>
                <p class="muted" role="status">"Reading "{move || file_name.get().unwrap_or_default()}"…"</p>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || preview.get().map(|p| view! { <MappingTable preview=p mapping/> })}
            <Show when=move || matches!(stage.get(), Stage::Ready | Stage::Done(_))>
                <div class="import-actions">
                    <button class="primary" data-testid="start-import" on:click=start>
                        {move || format!("Import {} rows", preview.with(|p| p.as_ref().map_or(0, |p| p.total_rows)))}
                    </button>
                </div>
            </Show>
            {move || match stage.get() {
                Stage::Importing { done, total } => Some(view! {
                    <div class="import-progress" role="status">
                        <progress max=total.max(1) value=done aria-label="Import progress"></progress>
                        <span>{format!("{done} of {total} leads written")}</span>
                    </div>
                }.into_any()),
                Stage::Done(report) => Some(view! { <Report report=*report/> }.into_any()),
                _ => None,
            }}
        </section>
    }
}

/// The preview: each column's header, the field it feeds (a select), and the first rows.
#[component]
fn MappingTable(preview: Preview, mapping: RwSignal<Mapping>) -> impl IntoView {
    let headers = preview.headers.clone();
    let set_field = move |col: usize, value: String| {
        mapping.update(|m| {
            if m.columns.len() <= col {
                m.columns.resize(col + 1, None);
            }
            m.columns[col] = value.parse::<Field>().ok();
        })
    };
    let key_options = headers.clone();
    view! {
        <div class="preview">
            <p class="muted">
                {format!("{} rows, separated by ", preview.total_rows)}
                <code>{match preview.delimiter { '\t' => "tab".to_string(), d => d.to_string() }}</code>
                ". Check which field each column feeds:"
            </p>
            <div class="table-wrap scroll-x">
                <table class="preview-table">
                    <thead>
                        <tr>
                            {headers.iter().enumerate().map(|(i, h)| {
                                let label = if h.is_empty() { format!("Column {}", i + 1) } else { h.clone() };
                                view! {
                                    <th scope="col">
                                        <span class="col-name">{label.clone()}</span>
                                        <select aria-label=format!("Field for column {label}") data-testid=format!("map-{i}")
                                            prop:value=move || mapping.with(|m| m.columns.get(i).copied().flatten().map_or("", Field::as_str).to_string())
                                            on:change=move |ev| set_field(i, event_target_value(&ev))>
                                            <option value="">"— ignore —"</option>
                                            {Field::iter().map(|f| view! { <option value=f.as_str()>{f.label()}</option> }).collect_view()}
                                        </select>
                                    </th>
                                }
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {preview.rows.iter().map(|row| view! {
                            <tr>{(0..headers.len()).map(|i| view! { <td>{row.get(i).cloned().unwrap_or_default()}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <label class="key-pick">
                <span>"Rows without a lead ID are recognised on re-import by"</span>
                <select data-testid="key-column" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    mapping.update(|m| m.key = v.parse().ok());
                }>
                    <option value="">"their name, company, email and phone"</option>
                    {key_options.iter().enumerate().map(|(i, h)| view! {
                        <option value=i.to_string()>{format!("the column {h}")}</option>
                    }).collect_view()}
                </select>
            </label>
        </div>
    }
}

#[component]
fn Issues(title: &'static str, issues: Vec<RowIssue>, testid: &'static str) -> impl IntoView {
    let more = issues.len().saturating_sub(LISTED);
    view! {
        <div class="issues" data-testid=testid>
            <h3>{title}</h3>
            <div class="table-wrap">
                <table>
                    <thead><tr><th scope="col" class="num">"Row"</th><th scope="col">"Lead"</th><th scope="col">"Reason"</th></tr></thead>
                    <tbody>
                        {issues.into_iter().take(LISTED).map(|i| view! {
                            <tr><td class="num">{i.row}</td><td class="lead-id">{i.id.unwrap_or_default()}</td><td>{i.reason}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {(more > 0).then(|| view! { <p class="muted">{format!("and {more} more")}</p> })}
        </div>
    }
}

#[component]
fn Report(report: ImportReport) -> impl IntoView {
    let link = RwSignal::new(None::<String>);
    let _refused_csv = report.refused_csv.clone();
    // The link is made in the browser, after hydration.
    Effect::new(move || {
        #[cfg(feature = "hydrate")]
        link.set(super::upload::csv_link(&_refused_csv));
    });
    let ImportReport { rows, added, skipped, refused, .. } = report;
    let (n_skipped, n_refused) = (skipped.len(), refused.len());
    view! {
        <div class="report" data-testid="import-report">
            <p class="report-summary" role="status">
                <span><strong data-testid="added">{added}</strong>" added"</span>
                <span><strong data-testid="skipped">{n_skipped}</strong>" skipped"</span>
                <span><strong data-testid="refused">{n_refused}</strong>" refused"</span>
                <span class="muted">{format!("of {rows} rows")}</span>
            </p>
            {(n_refused > 0).then(|| view! {
                <Issues title="Refused rows" issues=refused testid="refused-rows"/>
                <a class="button" download="refused-rows.csv" rel="external" data-testid="download-refused"
                    href=move || link.get().unwrap_or_default()>"Download refused rows (CSV)"</a>
            })}
            {(n_skipped > 0).then(|| view! {
                <details>
                    <summary>{format!("{n_skipped} rows skipped")}</summary>
                    <Issues title="Skipped rows" issues=skipped testid="skipped-rows"/>
                </details>
            })}
        </div>
    }
}
