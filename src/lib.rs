//! Leadboard: a live lead board where exactly one claimant wins.
//!
//! - `domain`: the business types and rules, shared by server and browser.
//! - `protocol`: the wire protocol of the board's websocket, shared by server and browser.
//! - `ui`: the Leptos pages, with the server functions they call beside them.
//! - `server` (ssr only): the store port and adapters, claims and the other services, event
//!   fan-out, sign-in, configuration and the HTTP layer.
//! - `site` (ssr only): the HTTP layer and the pages put together; `cli`: the binary's commands.

// Leptos views are deeply nested types; debug builds need more room to compute their layout.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod cli;
pub mod domain;
pub mod error;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod site;
pub mod ui;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
}
