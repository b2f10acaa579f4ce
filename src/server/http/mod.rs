//! The HTTP layer: the routes the server answers itself (the board websocket in `ws`, health,
//! readiness and metrics in `health`) around the site's pages and server functions, the API
//! boundary and the security headers on every response, and serving with graceful shutdown
//! (`shutdown`). The pages are the `ui`'s, put together with these routes in `crate::site`.

mod conn;
mod deadline;
mod error;
mod health;
mod shutdown;
pub mod ws;

pub use conn::{ConnLimits, ConnSlot};
pub use shutdown::{serve, serve_on, Drained, SHUTDOWN_GRACE};

use super::{security, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Duration;

/// Request bodies larger than this are refused.
pub const MAX_BODY: usize = 64 * 1024;

/// Everything the server answers: its own routes, then `pages` (the site's pages, server
/// functions and static files), all behind the API boundary and the security headers.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let mut own = Router::new()
        .route("/ws", get(ws::handler))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(super::transfer::routes::routes())
        .merge(super::intake::api::routes());
    if state.config.app.metrics_addr.is_none() {
        own = own.route("/metrics", get(health::metrics));
    }
    own.merge(pages)
        .layer(middleware::from_fn_with_state(state.clone(), api_boundary))
        .layer(middleware::from_fn_with_state(state.clone(), known_host))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// `/metrics` alone, for `metrics_addr`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(health::metrics)).with_state(state)
}

/// Every request must name a host this site serves (`security::check_host`).
async fn known_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match security::check_host(req.headers(), &state.config.app.allowed_hosts) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Security headers on every response. A page's policy names the nonce on its inline scripts,
/// read from the page itself (pages render whole before sending, see the routes in `ui`).
async fn security_headers(req: Request, next: Next) -> Response {
    let request_headers = req.headers().clone();
    let res = next.run(req).await;
    let is_page = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let (mut parts, body) = res.into_parts();
    let (body, nonce) = if is_page {
        let html = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let nonce = security::page_nonce(&html);
        (Body::from(html), nonce)
    } else {
        (body, None)
    };
    security::add_headers(&request_headers, &mut parts.headers, nonce.as_deref());
    Response::from_parts(parts, body)
}

/// Around every `/api/` call, what must be checked before a body is decoded: cross-site and
/// non-JSON requests are refused, and bodies over [`MAX_BODY`] or that take longer than
/// `body_timeout_secs` to arrive. Errors of the server functions themselves carry their status
/// already (`FromServerFnError::ser` in src/error.rs).
async fn api_boundary(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    if let Err(e) = security::check_same_origin(req.headers()).and_then(|()| security::check_json(req.headers())) {
        return e.into_response();
    }
    let deadline = Duration::from_secs(state.config.security.body_timeout_secs);
    let (parts, body) = req.into_parts();
    match security::read_body(&parts.headers, body, MAX_BODY, deadline).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(e) => e.into_response(),
    }
}
