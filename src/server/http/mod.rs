//! The HTTP wiring: Leptos pages and server functions, the board websocket, health, readiness
//! and metrics, the boundary that turns every API failure into a 4xx/5xx with a JSON reason, and
//! graceful shutdown.

mod error;
pub mod ws;

use super::config::StoreConfig;
use super::metrics::Gauges;
use super::{security, AppState};
use crate::error::ApiError;
use crate::ui::{shell, App};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Request bodies larger than this are refused.
pub const MAX_BODY: usize = 64 * 1024;
/// How long shutdown waits for in-flight requests and open boards before exiting anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
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
        .route("/ws", get(ws::handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .leptos_routes_with_context(&state, routes, context, page)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(api_boundary))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
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
/// non-JSON requests are refused, and bodies over [`MAX_BODY`]. Errors of the server functions
/// themselves carry their status already (`FromServerFnError::ser` in src/error.rs).
async fn api_boundary(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    if let Err(e) = security::check_same_origin(req.headers()).and_then(|()| security::check_json(req.headers())) {
        return e.into_response();
    }
    let too_large = || ApiError::PayloadTooLarge(format!("request body over {MAX_BODY} bytes")).into_response();
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return too_large();
    }
    // Bodies without a declared length (chunked) are read here, up to the limit: cut off inside
    // the server function, they would only be an undecodable body (400).
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) => {
            return too_large();
        }
        Err(e) => return ApiError::BadRequest(format!("could not read the request body: {e}")).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Liveness: the process answers HTTP. It does not touch the store (an unreachable store is a
/// reason to take the replica out of rotation, see `/readyz`, not to restart it).
async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({"status": "alive", "boards": state.hub.boards()})).into_response()
}

/// Readiness: 200 when this replica can serve (the store answers, and in the Appwrite mode the
/// Realtime bridge is connected), else 503 with the reason. Also 503 while shutting down.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = match state.config.store {
        StoreConfig::Sqlite { .. } => "sqlite",
        StoreConfig::Appwrite(_) => "appwrite",
    };
    let not_ready = |reason: String| {
        let body = serde_json::json!({"status": "unavailable", "store": store, "reason": reason});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    };
    if state.hub.is_closing() {
        return not_ready("shutting down".into());
    }
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
    let gauges = Gauges {
        boards: state.hub.boards(),
        buffered_events: state.hub.buffered(),
        shutting_down: state.hub.is_closing(),
    };
    let text = state.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text)
        .into_response()
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully (see [`serve_on`]) within
/// [`SHUTDOWN_GRACE`]. A second signal while draining ends it at once.
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let addr = state.config.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first = async move {
        shutdown_signal().await;
        let _ = first_tx.send(());
    };
    let second = async move {
        if first_rx.await.is_err() {
            return std::future::pending().await;
        }
        shutdown_signal().await;
        tracing::warn!("second signal: exiting without waiting for the drain");
    };
    tokio::select! {
        drained = serve_on(listener, state, first, SHUTDOWN_GRACE) => drained.map(drop),
        () = second => Ok(()),
    }
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Every request and board finished within the grace period.
    pub clean: bool,
    pub took: Duration,
}

/// Serves on `listener` until `signal` resolves, then drains, all at once:
/// - `/readyz` answers 503 and new boards are refused;
/// - every open board is closed with 1012 "service restart" (the browser reconnects, to
///   another replica or to this one once it is back, and resumes where it was, so the events
///   of claims that finish during the drain reach it then);
/// - the listener closes (no new connections); idle keep-alive connections close;
/// - requests in flight run to the end and are answered: a claim being decided gets its answer.
///
/// After `grace` at the latest, whatever is still open is cut and this returns anyway.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Drained> {
    let hub = state.hub.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The peer address keys the per-IP sign-in limit.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // Board events are small writes that must leave at once, not wait for the previous one's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop_rx.await;
    });
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        () = signal => {}
        result = &mut server => {
            // The server ended by itself (it does not, short of a panic).
            return result.map_err(std::io::Error::other)?.map(|()| Drained { clean: true, took: Duration::ZERO });
        }
    }
    let started = Instant::now();
    tracing::info!(boards = hub.boards(), grace_s = grace.as_secs_f64(), "shutting down: draining requests and boards");
    hub.shut_down();
    let _ = stop_tx.send(());
    // Upgraded connections (boards) are not the HTTP server's any more: wait for them apart.
    let drained = tokio::time::timeout(grace, async {
        let served = (&mut server).await;
        hub.all_boards_gone().await;
        served
    })
    .await;
    let took = started.elapsed();
    match drained {
        Ok(served) => {
            tracing::info!(took_ms = took.as_millis() as u64, "shut down cleanly");
            served.map_err(std::io::Error::other)?.map(|()| Drained { clean: true, took })
        }
        Err(_) => {
            server.abort();
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                boards = hub.boards(),
                "shutdown grace period over: closing what is still open"
            );
            Ok(Drained { clean: false, took })
        }
    }
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
    tracing::info!("shutdown signal received");
}
