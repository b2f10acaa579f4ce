//! Keyboard-first use of the lead table: which key does what, the listener that acts on it, and
//! the help dialog (`?`) that lists the keys. Keys never fire while the user types in a field,
//! except Escape, which leaves the field.

use leptos::html::Dialog;
use leptos::prelude::*;

/// The search box's id: `/` focuses it, Escape leaves it.
pub const SEARCH_ID: &str = "lead-search";

// Keys are acted on in the browser only; the server just renders the help.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortcut {
    Search,
    Help,
    NextLead,
    PreviousLead,
    Claim,
    Release,
    Extend,
    /// "Next lead", where the page has the button.
    ClaimNext,
    NextPage,
    PreviousPage,
    Leave,
}

/// The keys the help dialog lists, in its order, with what each does.
const KEYS: [(&[&str], &str); 10] = [
    (&["/"], "Search leads"),
    (&["j", "↓"], "Next lead"),
    (&["k", "↑"], "Previous lead"),
    (&["c"], "Claim the selected lead"),
    (&["r"], "Release the selected lead"),
    (&["e"], "Extend the lease on the selected lead"),
    (&["n"], "Claim the next lead for me"),
    (&["→", "←"], "Next or previous page"),
    (&["Esc"], "Leave the search box, close this help"),
    (&["?"], "Show this help"),
];

/// What a key press asks for. `typing`: focus is in a control that takes keys (a text field or
/// a select); `modified`: Ctrl, Alt or Meta is held, so the browser's own shortcut is left alone.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn shortcut(key: &str, typing: bool, modified: bool) -> Option<Shortcut> {
    if modified {
        return None;
    }
    if key == "Escape" {
        return Some(Shortcut::Leave);
    }
    if typing {
        return None;
    }
    Some(match key {
        "/" => Shortcut::Search,
        "?" => Shortcut::Help,
        "j" | "ArrowDown" => Shortcut::NextLead,
        "k" | "ArrowUp" => Shortcut::PreviousLead,
        "c" => Shortcut::Claim,
        "r" => Shortcut::Release,
        "e" => Shortcut::Extend,
        "n" => Shortcut::ClaimNext,
        "ArrowRight" => Shortcut::NextPage,
        "ArrowLeft" => Shortcut::PreviousPage,
        _ => return None,
    })
}

/// Listens for the shortcuts while the table is on screen. `page` is the page asked for and
/// `pages` how many there are; `search` the search box, `help` the help dialog.
pub fn listen(
    page: RwSignal<usize>,
    pages: Signal<usize>,
    search: NodeRef<leptos::html::Input>,
    help: NodeRef<Dialog>,
) {
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            browser::on_key(&ev, page, pages, search, help);
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (page, pages, search, help);
}

/// Opens the help dialog as a modal: the page behind it is inert and Escape closes it; the
/// browser gives focus back to where it was on close.
pub fn open_help(help: NodeRef<Dialog>) {
    if let Some(dialog) = help.get_untracked() {
        let _ = dialog.show_modal();
    }
}

#[component]
pub fn HelpDialog(help: NodeRef<Dialog>) -> impl IntoView {
    let close = move |_| {
        if let Some(dialog) = help.get_untracked() {
            dialog.close();
        }
    };
    view! {
        <dialog class="help" node_ref=help aria-labelledby="help-title">
            <div class="help-head">
                <h2 id="help-title">"Keyboard shortcuts"</h2>
                <button class="icon" aria-label="Close" on:click=close>"×"</button>
            </div>
            <dl class="keys">
                {KEYS.iter().map(|(keys, what)| view! {
                    <div class="key-row">
                        <dt>{keys.iter().map(|k| view! { <kbd>{*k}</kbd> }).collect_view()}</dt>
                        <dd>{*what}</dd>
                    </div>
                }).collect_view()}
            </dl>
            <p class="muted small">"Tab moves between buttons as usual; Enter or Space presses the focused one."</p>
        </dialog>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{open_help, shortcut, Shortcut, SEARCH_ID};
    use leptos::html::{Dialog, Input};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlElement, KeyboardEvent};

    const ROW: &str = "tr[data-lead]";

    pub fn on_key(
        ev: &KeyboardEvent,
        page: RwSignal<usize>,
        pages: Signal<usize>,
        search: NodeRef<Input>,
        help: NodeRef<Dialog>,
    ) {
        // The modal dialog handles its own keys (Escape closes it).
        if help.get_untracked().is_some_and(|d| d.open()) {
            return;
        }
        let active = document().active_element();
        let typing = active.as_ref().is_some_and(takes_keys);
        let modified = ev.ctrl_key() || ev.alt_key() || ev.meta_key();
        let Some(action) = shortcut(&ev.key(), typing, modified) else { return };
        let row = active.as_ref().and_then(|a| a.closest(ROW).ok().flatten());
        match action {
            Shortcut::Search => {
                if let Some(input) = search.get_untracked() {
                    let _ = input.focus();
                    input.select();
                }
            }
            Shortcut::Help => open_help(help),
            Shortcut::NextLead => step(row.as_ref(), 1),
            Shortcut::PreviousLead => step(row.as_ref(), -1),
            Shortcut::Claim => press(row.as_ref(), "claim"),
            Shortcut::Release => press(row.as_ref(), "release"),
            Shortcut::Extend => press(row.as_ref(), "extend"),
            Shortcut::ClaimNext => press(document().body().as_deref(), "next"),
            Shortcut::NextPage | Shortcut::PreviousPage => {
                let now = page.get_untracked().min(pages.get_untracked() - 1);
                let to = if action == Shortcut::NextPage { now + 1 } else { now.saturating_sub(1) };
                if to == now || to >= pages.get_untracked() {
                    return;
                }
                page.set(to);
                // The rows are replaced on the next frame; start the new page at its top.
                request_animation_frame(|| step(None, 1));
            }
            Shortcut::Leave => {
                if active.is_none_or(|a| a.id() != SEARCH_ID) {
                    return;
                }
                step(None, 1);
            }
        }
        ev.prevent_default();
    }

    /// Whether `el` uses letter and arrow keys itself.
    fn takes_keys(el: &Element) -> bool {
        match el.tag_name().as_str() {
            "TEXTAREA" | "SELECT" => true,
            "INPUT" => !matches!(
                el.get_attribute("type").as_deref(),
                Some("checkbox" | "radio" | "button" | "submit" | "reset")
            ),
            _ => el.dyn_ref::<HtmlElement>().is_some_and(HtmlElement::is_content_editable),
        }
    }

    fn rows() -> Vec<HtmlElement> {
        let Ok(list) = document().query_selector_all(ROW) else { return Vec::new() };
        (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok()).collect()
    }

    /// Moves focus `by` rows from `from` (from before the first row when `None`).
    fn step(from: Option<&Element>, by: isize) {
        let rows = rows();
        let at = from.and_then(|f| rows.iter().position(|r| r.is_same_node(Some(f))));
        let to = match at {
            Some(i) => i.saturating_add_signed(by).min(rows.len().saturating_sub(1)),
            None if by < 0 => rows.len().saturating_sub(1),
            None => 0,
        };
        if let Some(row) = rows.get(to) {
            let _ = row.focus();
        }
    }

    /// Presses the row's button for `action`, as a click would.
    fn press(row: Option<&Element>, action: &str) {
        let button = row.and_then(|r| r.query_selector(&format!("button[data-action=\"{action}\"]")).ok().flatten());
        if let Some(button) = button.and_then(|b| b.dyn_into::<HtmlElement>().ok()) {
            button.click();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_act_only_when_the_user_is_not_typing() {
        assert_eq!(shortcut("c", false, false), Some(Shortcut::Claim));
        assert_eq!(shortcut("e", false, false), Some(Shortcut::Extend));
        assert_eq!(shortcut("n", false, false), Some(Shortcut::ClaimNext));
        assert_eq!(shortcut("c", true, false), None);
        assert_eq!(shortcut("/", true, false), None);
        assert_eq!(shortcut("ArrowDown", true, false), None);
    }

    #[test]
    fn escape_always_leaves_and_browser_shortcuts_are_left_alone() {
        assert_eq!(shortcut("Escape", true, false), Some(Shortcut::Leave));
        assert_eq!(shortcut("r", false, true), None);
        assert_eq!(shortcut("/", false, false), Some(Shortcut::Search));
        assert_eq!(shortcut("?", false, false), Some(Shortcut::Help));
        assert_eq!(shortcut("x", false, false), None);
    }
}
