//! The whole site: the server's HTTP layer (`server::http`) around the Leptos pages and server
//! functions of `ui`. The one place the two meet, so neither imports the other.

use crate::server::{http, AppState};
use crate::ui::{shell, App};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;

/// The pages' routes, listed once per process. Listing them renders the app with resource loads
/// suppressed by a process-wide flag (leptos_server 0.8), so a page whose resource first polls
/// meanwhile on another router of the same process (tests run many servers in one) would wait
/// forever: leptos-rs/leptos#4773.
fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every route, with the state the handlers and server functions share.
pub fn router(state: AppState) -> Router {
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let page = {
        let options = state.leptos.clone();
        move || shell(options.clone())
    };
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes(), context, page)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));
    http::router(state, pages)
}

/// Serves the site on its configured address until SIGTERM or SIGINT (see `http::serve`), every
/// connection under the configured limits.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let (addr, hub) = (state.config.app.site_addr, state.hub.clone());
    if let Some(metrics_addr) = state.config.app.metrics_addr {
        let listener = tokio::net::TcpListener::bind(metrics_addr).await?;
        tracing::info!("metrics on http://{metrics_addr}/metrics");
        let metrics = http::metrics_router(state.clone());
        tokio::spawn(async move { axum::serve(listener, metrics).await });
    }
    let limits = http::ConnLimits::new(&state.config.security);
    http::serve(addr, hub, router(state), limits).await
}

/// Serves the site on `listener` as [`serve`] does, until `stop` resolves (then drains within
/// `http::SHUTDOWN_GRACE`): for tests and tools that pick their own port.
pub async fn serve_on(
    state: AppState,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<http::Drained> {
    let (hub, limits) = (state.hub.clone(), http::ConnLimits::new(&state.config.security));
    http::serve_on(listener, hub, router(state), limits, stop, http::SHUTDOWN_GRACE).await
}
