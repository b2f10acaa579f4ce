//! Health, readiness and metrics endpoints, for load balancers, supervisors and Prometheus.

use crate::server::metrics::Gauges;
use crate::server::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// How long `/readyz` waits for the store to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process answers HTTP. It does not touch the store (an unreachable store is a
/// reason to take the replica out of rotation, see `/readyz`, not to restart it).
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({"status": "alive", "boards": state.hub.boards()})).into_response()
}

/// Readiness: 200 when this replica can serve (the store answers, and in the Appwrite mode the
/// Realtime bridge is connected), else 503 with the reason. Also 503 while shutting down.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let store: &str = state.config.store.kind().into();
    let not_ready = |reason: String| {
        let body = serde_json::json!({"status": "unavailable", "store": store, "reason": reason});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    };
    if state.hub.is_closing() {
        return not_ready("shutting down".into());
    }
    match tokio::time::timeout(READY_TIMEOUT, state.leads.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return not_ready(format!("the store is unreachable or cannot write: {e}")),
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
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = Gauges {
        boards: state.hub.boards(),
        buffered_events: state.hub.buffered(),
        shutting_down: state.hub.is_closing(),
    };
    let text = state.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text)
        .into_response()
}
