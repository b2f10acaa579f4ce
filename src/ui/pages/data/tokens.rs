//! Intake API tokens: name one for each website form or system that adds leads, copy its
//! secret (shown only now), see when each was last used, revoke any at once.

use crate::domain::{ApiToken, NewToken};
use crate::ui::api::{create_token, list_tokens, revoke_token};
use crate::ui::components::day_time;
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn TokensSection(tokens: Vec<ApiToken>) -> impl IntoView {
    let tokens = RwSignal::new(tokens);
    let name = RwSignal::new(String::new());
    let fresh = RwSignal::new(None::<NewToken>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        spawn_local(async move {
            match create_token(name.get_untracked()).await {
                Ok(new) => {
                    name.set(String::new());
                    tokens.update(|t| t.insert(0, new.token.clone()));
                    fresh.set(Some(new));
                }
                Err(e) => toasts().push(Tone::Bad, e.to_string()),
            }
        });
    };
    let revoke = move |id: String| {
        spawn_local(async move {
            match revoke_token(id.clone()).await {
                Ok(()) => {
                    toasts().push(Tone::Info, format!("Token {id} revoked"));
                    match list_tokens().await {
                        Ok(list) => tokens.set(list),
                        Err(e) => toasts().push(Tone::Bad, e.to_string()),
                    }
                }
                Err(e) => toasts().push(Tone::Bad, e.to_string()),
            }
        });
    };
    view! {
        <section class="card data-card" aria-labelledby="tokens-title">
            <h2 id="tokens-title">"Intake API tokens"</h2>
            <p class="muted">
                "A token lets a website form or another system add leads with "<code>"POST /api/v1/leads"</code>
                ". It can do nothing else. See the README for a form handler and a curl example."
            </p>
            {move || fresh.get().map(|new| view! {
                <div class="notice-secret" role="status" data-testid="new-token">
                    <p><strong>{format!("Token \u{201c}{}\u{201d} created.", new.token.name)}</strong>" Copy it now: it is not shown again."</p>
                    <code class="secret" data-testid="token-secret">{new.secret}</code>
                </div>
            })}
            <form class="new-token" on:submit=create>
                <label><span class="sr-only">"Token name"</span>
                    <input placeholder="e.g. Website contact form" maxlength="60" required bind:value=name data-testid="token-name"/></label>
                <button type="submit" class="primary">"Create token"</button>
            </form>
            <Show when=move || tokens.with(|t| t.is_empty())>
                <p class="muted">"No tokens yet."</p>
            </Show>
            <div class="table-wrap" hidden=move || tokens.with(|t| t.is_empty())>
                <table class="tokens">
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"ID"</th><th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr></thead>
                    <tbody>
                        <For each=move || tokens.get() key=|t| (t.id.clone(), t.revoked_at) let:t>
                            {
                                let id = t.id.clone();
                                let live = t.is_live();
                                view! {
                                    <tr data-token=t.id.clone()>
                                        <td>{t.name.clone()}{(!live).then(|| view! { <span class="pill pill-off">"revoked"</span> })}</td>
                                        <td class="lead-id">{t.id.clone()}</td>
                                        <td>{format!("{} by {}", day_time(t.created_at), t.created_by)}</td>
                                        <td>{t.last_used_at.map_or_else(|| "never".to_string(), day_time)}</td>
                                        <td class="actions">{live.then(|| view! {
                                            <button aria-label=format!("Revoke {}", t.name) on:click=move |_| revoke(id.clone())>"Revoke"</button>
                                        })}</td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                </table>
            </div>
        </section>
    }
}
