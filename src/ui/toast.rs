//! Short-lived notices of outcomes ("You got L00012", "Lost L00012 to bob"): a queue any part of
//! the app can push to, and the region that shows it.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Info,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "toast good",
            Tone::Bad => "toast bad",
            Tone::Info => "toast info",
        }
    }
}

#[derive(Clone, Debug)]
struct Toast {
    id: u64,
    tone: Tone,
    text: String,
}

#[derive(Clone, Copy)]
pub struct ToastQueue {
    items: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

/// Long enough to read a sentence twice; a lost claim also stays flagged on its row.
const SHOWN_FOR: std::time::Duration = std::time::Duration::from_secs(6);
const MAX_SHOWN: usize = 4;

impl ToastQueue {
    pub fn push(&self, tone: Tone, text: impl Into<String>) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.items.update(|items| {
            items.push(Toast { id, tone, text: text.into() });
            let excess = items.len().saturating_sub(MAX_SHOWN);
            items.drain(..excess);
        });
        let items = self.items;
        set_timeout(move || items.update(|v| v.retain(|t| t.id != id)), SHOWN_FOR);
    }

    fn dismiss(&self, id: u64) {
        self.items.update(|v| v.retain(|t| t.id != id));
    }
}

pub fn provide() {
    provide_context(ToastQueue { items: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
}

pub fn toasts() -> ToastQueue {
    expect_context::<ToastQueue>()
}

#[component]
pub fn Toasts() -> impl IntoView {
    let queue = toasts();
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || queue.items.get() key=|t| t.id let:toast>
                <div class=toast.tone.class()>
                    <span class="toast-text">{toast.text.clone()}</span>
                    <button class="icon" aria-label="Dismiss" on:click=move |_| queue.dismiss(toast.id)>"×"</button>
                </div>
            </For>
        </div>
    }
}
