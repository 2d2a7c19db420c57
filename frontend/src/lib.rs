//! Wharf's web portal: Leptos pages rendered on the server and hydrated in the browser.
//!
//! The server implements [`portal::Portal`] and provides it as context; the pages reach it only
//! through the server functions in [`api`]. Forms are `ActionForm`s, so everything works before
//! (or without) the wasm.

pub mod api;
pub mod app;
pub mod charts;
pub mod components;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod portal;
pub mod types;

/// Starts hydration in the browser.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
