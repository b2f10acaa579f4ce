//! The manager board's Accounts section: create accounts, disable or enable them, reset
//! passwords, change roles and set a person's own cap on leads held at once. Every call checks
//! the manager role on the server.

use crate::domain::{Account, AccountChange, Cap, Password, Role, Username};
use crate::error::ApiError;
use crate::ui::api::{add_user, update_user};
use crate::ui::sync::board_sync;
use crate::ui::toast::{toasts, Tone};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Puts a changed or new account into the list, or reports why the call failed.
fn merge(accounts: RwSignal<Vec<Account>>, result: Result<Account, ApiError>, done: impl FnOnce(&Account) -> String) {
    match result {
        Ok(a) => {
            toasts().push(Tone::Info, done(&a));
            accounts.update(|list| match list.iter_mut().find(|x| x.username == a.username) {
                Some(x) => *x = a,
                None => {
                    list.push(a);
                    list.sort_by(|x, y| x.username.cmp(&y.username));
                }
            });
        }
        Err(e) => toasts().push(Tone::Bad, e.to_string()),
    }
}

fn change(accounts: RwSignal<Vec<Account>>, username: Username, change: AccountChange) {
    spawn_local(async move {
        let result = update_user(username, change).await;
        merge(accounts, result, |a| format!("Updated {}", a.username));
    });
}

/// The cap typed into a person's cap field: empty is the team's default.
fn typed_cap(text: &str) -> Result<Option<Cap>, String> {
    match text.trim() {
        "" => Ok(None),
        n => n
            .parse::<u32>()
            .map_err(|_| format!("{n:?} is not a whole number"))
            .and_then(|n| Cap::new(n).map(Some).map_err(|e| e.to_string())),
    }
}

#[component]
pub fn Accounts(accounts: Vec<Account>) -> impl IntoView {
    let accounts = RwSignal::new(accounts);
    let default_cap = match board_sync().terms.get_value().default_cap {
        Some(cap) => format!("Cap: team's {cap}"),
        None => "Cap: none".to_owned(),
    };
    let (name, role, password) =
        (RwSignal::new(String::new()), RwSignal::new(Role::Employee), RwSignal::new(String::new()));
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Checked here for a quick answer; the server checks again.
        let parsed =
            Username::parse(name.get_untracked()).and_then(|u| Ok((u, Password::parse(password.get_untracked())?)));
        let (username, pw) = match parsed {
            Ok(p) => p,
            Err(e) => return toasts().push(Tone::Bad, e.to_string()),
        };
        spawn_local(async move {
            let result = add_user(username, role.get_untracked(), pw).await;
            if result.is_ok() {
                name.set(String::new());
                password.set(String::new());
            }
            merge(accounts, result, |a| format!("Created {}", a.username));
        });
    };
    let reset = move |username: Username| {
        let typed = window().prompt_with_message(&format!("New password for {username}")).ok().flatten();
        match typed.map(Password::parse) {
            Some(Ok(p)) => change(accounts, username, AccountChange::Password(p)),
            Some(Err(e)) => toasts().push(Tone::Bad, e.to_string()),
            None => {}
        }
    };

    view! {
        <section class="card accounts-card" aria-labelledby="accounts-title">
            <h2 id="accounts-title">"Accounts"</h2>
            <div class="table-wrap">
            <table class="accounts">
                <thead><tr>
                    <th scope="col">"User"</th><th scope="col">"Role"</th>
                    <th scope="col" title="Leads the person may hold at once; empty: the team's default">"Cap"</th>
                    <th scope="col">"Actions"</th>
                </tr></thead>
                <tbody>
                    <For each=move || accounts.get() key=|a| (a.username.clone(), a.role, a.disabled, a.cap) let:a>
                        {
                            let u = a.username.clone();
                            let (u1, u2, u3, u4) = (u.clone(), u.clone(), u.clone(), u.clone());
                            let set_cap = move |ev: leptos::ev::Event| match typed_cap(&event_target_value(&ev)) {
                                Ok(cap) => change(accounts, u4.clone(), AccountChange::Cap(cap)),
                                Err(e) => toasts().push(Tone::Bad, e),
                            };
                            let toggle = if a.disabled { "Enable" } else { "Disable" };
                            view! {
                                <tr data-account=u.to_string() data-disabled=a.disabled.to_string()>
                                    <td class="account-name">{u.to_string()}{a.disabled.then(|| view! { <span class="pill pill-off">"disabled"</span> })}</td>
                                    <td>
                                        <select aria-label=format!("Role of {u}") on:change=move |ev| {
                                            if let Ok(r) = Role::parse(&event_target_value(&ev)) {
                                                change(accounts, u1.clone(), AccountChange::Role(r));
                                            }
                                        }>
                                            <option value="employee" selected=a.role == Role::Employee>"employee"</option>
                                            <option value="manager" selected=a.role == Role::Manager>"manager"</option>
                                        </select>
                                    </td>
                                    <td class="cap">
                                        // Text, not a number input: that one reads a typo as empty, which would clear the cap.
                                        <input type="text" inputmode="numeric" pattern="[0-9]*" maxlength="4"
                                            aria-label=format!("Cap of {u}") placeholder=default_cap.clone()
                                            value=a.cap.map(|c| c.get().to_string()) on:change=set_cap/>
                                    </td>
                                    <td class="actions"><div class="actions-inner">
                                        <button aria-label=format!("{toggle} {u}")
                                            on:click=move |_| change(accounts, u2.clone(), AccountChange::Disabled(!a.disabled))>{toggle}</button>
                                        <button class="ghost" aria-label=format!("Reset password of {u}")
                                            on:click=move |_| reset(u3.clone())>"Reset password"</button>
                                    </div></td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            </div>
            <form class="new-account" on:submit=create aria-labelledby="new-account-title">
                <h3 id="new-account-title">"Add an account"</h3>
                <label><span class="sr-only">"New username"</span>
                    <input placeholder="username" maxlength="32" required bind:value=name/></label>
                <label><span class="sr-only">"Role"</span>
                    <select on:change=move |ev| role.set(Role::parse(&event_target_value(&ev)).unwrap_or(Role::Employee))>
                        <option value="employee">"employee"</option>
                        <option value="manager">"manager"</option>
                    </select></label>
                <label><span class="sr-only">"Password"</span>
                    <input type="password" placeholder="password" maxlength="128" required autocomplete="new-password" bind:value=password/></label>
                <button type="submit" class="primary">"Create account"</button>
            </form>
        </section>
    }
}
