//! Serving, and the graceful shutdown on SIGTERM/SIGINT: drain requests, tell boards to reconnect,
//! exit within a bounded grace period.

use crate::server::fanout::Hub;
use axum::serve::ListenerExt;
use axum::Router;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long shutdown waits for in-flight requests and open boards before exiting anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until SIGINT or SIGTERM, then shuts down gracefully (see [`serve_on`]) within
/// [`SHUTDOWN_GRACE`]. A second signal while draining ends it at once.
pub async fn serve(addr: SocketAddr, hub: Arc<Hub>, app: Router) -> std::io::Result<()> {
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
        drained = serve_on(listener, hub, app, first, SHUTDOWN_GRACE) => drained.map(drop),
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
    hub: Arc<Hub>,
    app: Router,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Drained> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The peer address keys the per-IP sign-in limit.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
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
