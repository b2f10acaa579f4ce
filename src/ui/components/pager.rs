//! Paging through a list: which slice a page shows, and the Previous/Next control.

use leptos::prelude::*;

pub const PAGE_SIZE: usize = 50;

/// How many pages `len` items fill (at least one, so an empty list still has page 1).
pub fn page_count(len: usize) -> usize {
    len.div_ceil(PAGE_SIZE).max(1)
}

/// The page actually shown when `wanted` was asked for: a list that shrank under the reader
/// (a filter, leads claimed away from "Open") moves them back to its last page.
pub fn clamp_page(wanted: usize, len: usize) -> usize {
    wanted.min(page_count(len) - 1)
}

/// The items `page` shows, as a range of indices into the list.
pub fn page_range(page: usize, len: usize) -> std::ops::Range<usize> {
    let start = (clamp_page(page, len) * PAGE_SIZE).min(len);
    start..(start + PAGE_SIZE).min(len)
}

/// Previous/Next and where the reader is. `page` is the page asked for; `len` the list's length.
#[component]
pub fn Pager(page: RwSignal<usize>, #[prop(into)] len: Signal<usize>) -> impl IntoView {
    let shown = move || clamp_page(page.get(), len.get());
    let pages = move || page_count(len.get());
    let at_start = move || shown() == 0;
    let at_end = move || shown() + 1 == pages();
    let previous = move |_| page.set(shown().saturating_sub(1));
    let next = move |_| page.set((shown() + 1).min(pages() - 1));
    let range = move || {
        let r = page_range(page.get(), len.get());
        if r.is_empty() {
            "No leads".to_string()
        } else {
            format!("{}–{} of {}", r.start + 1, r.end, len.get())
        }
    };
    view! {
        <nav class="pager" aria-label="Pages">
            <button class="ghost" data-testid="previous-page" aria-keyshortcuts="ArrowLeft" disabled=at_start on:click=previous>
                <span aria-hidden="true">"‹ "</span>"Previous"
            </button>
            <span class="pager-where" data-testid="page-status" aria-live="polite">
                <span>{move || format!("Page {} of {}", shown() + 1, pages())}</span>
                <span class="muted">{range}</span>
            </span>
            <button class="ghost" data-testid="next-page" aria-keyshortcuts="ArrowRight" disabled=at_end on:click=next>
                "Next"<span aria-hidden="true">" ›"</span>
            </button>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_on_exactly_one_page() {
        for len in [0, 1, 49, 50, 51, 240, 250] {
            let mut seen = Vec::new();
            for page in 0..page_count(len) {
                seen.extend(page_range(page, len));
            }
            assert_eq!(seen, (0..len).collect::<Vec<_>>(), "len {len}");
        }
    }

    #[test]
    fn a_page_past_the_end_shows_the_last_page() {
        assert_eq!(page_count(240), 5);
        assert_eq!(clamp_page(9, 240), 4);
        assert_eq!(page_range(9, 240), 200..240);
        assert_eq!((page_count(0), clamp_page(3, 0), page_range(3, 0)), (1, 0, 0..0));
    }
}
