//! The HTTP wiring: Leptos pages and server functions, the board websocket, health, readiness
//! and metrics, and the boundary that turns every API failure into a 4xx/5xx with a JSON reason.

use super::config::StoreConfig;
use super::metrics::{ClaimResult, Gauges};
use super::{fanout, security, AppState};
use crate::error::ApiError;
use crate::ui::{shell, App};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::time::Duration;

/// Request bodies larger than this are refused.
pub const MAX_BODY: usize = 64 * 1024;
/// How long `/readyz` waits for the store to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let page = {
        let options = state.leptos.clone();
        move || shell(options.clone())
    };
    Router::new()
        .route("/ws", get(fanout::ws::handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .leptos_routes_with_context(&state, routes, context, page)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), api_boundary))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

pub fn error_response(e: ApiError) -> Response {
    let res = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], serde_json::to_string(&e).unwrap_or_default())
        .into_response();
    let (mut parts, body) = res.into_parts();
    set_status(&mut parts, &e);
    Response::from_parts(parts, body)
}

/// The status an error names, and the `Retry-After` of a rate limit.
fn set_status(parts: &mut axum::http::response::Parts, e: &ApiError) {
    parts.status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let ApiError::TooManyRequests { retry_after_s, .. } = e {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
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

/// Around every `/api/` call: refuses cross-site and non-JSON requests and bodies over
/// [`MAX_BODY`], and gives errors the status their `ApiError` names (server functions answer
/// every error with 500, including a body they could not decode).
async fn api_boundary(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let is_claim = req.uri().path() == "/api/claim";
    if let Err(e) = security::check_same_origin(req.headers()).and_then(|()| security::check_json(req.headers())) {
        return error_response(e);
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return error_response(ApiError::PayloadTooLarge(format!("request body over {MAX_BODY} bytes")));
    }
    // Bodies without a length are cut off at the limit while being read.
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, MAX_BODY)));
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR || !res.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(err) => {
            // Refused before the claim service saw it; everything else is counted there.
            if is_claim && matches!(err, ApiError::TooManyRequests { .. }) {
                state.metrics.claim(ClaimResult::RateLimited);
            }
            set_status(&mut parts, &err);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(_) => error_response(ApiError::Internal("internal error".into())),
    }
}

/// Liveness: the process answers HTTP. It does not touch the store (an unreachable store is a
/// reason to take the replica out of rotation, see `/readyz`, not to restart it).
async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({"status": "alive", "boards": state.hub.boards()})).into_response()
}

/// Readiness: 200 when this replica can serve (the store answers, and in the Appwrite mode the
/// Realtime bridge is connected), else 503 with the reason.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = match state.config.store {
        StoreConfig::Sqlite { .. } => "sqlite",
        StoreConfig::Appwrite(_) => "appwrite",
    };
    let not_ready = |reason: String| {
        let body = serde_json::json!({"status": "unavailable", "store": store, "reason": reason});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    };
    match tokio::time::timeout(READY_TIMEOUT, state.leads.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return not_ready(format!("the store is unreachable: {e}")),
        Err(_) => return not_ready(format!("the store did not answer within {} ms", READY_TIMEOUT.as_millis())),
    }
    if let Some(bridge) = &state.metrics.bridge {
        if !bridge.is_connected() {
            return not_ready("the Appwrite Realtime bridge is not connected (boards would miss changes)".into());
        }
    }
    axum::Json(serde_json::json!({"status": "ready", "store": store, "boards": state.hub.boards()})).into_response()
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = Gauges { boards: state.hub.boards(), buffered_events: state.hub.buffered() };
    let text = state.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text).into_response()
}

/// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let addr = state.config.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    // The peer address keys the per-IP sign-in limit.
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
