//! Serving (the accept loop, under the caps of `conn`), and the graceful shutdown on
//! SIGTERM/SIGINT: drain requests, tell boards to reconnect, exit within a bounded grace period.

use super::conn::{is_connection_error, serve_connection, Caps, ConnLimits, Phase};
use crate::server::fanout::Hub;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long shutdown waits for in-flight requests and open boards before exiting anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The pause after an accept fails for a reason of the process's (out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves until SIGINT or SIGTERM, then shuts down gracefully (see [`serve_on`]) within
/// [`SHUTDOWN_GRACE`]. A second signal while draining ends it at once.
pub async fn serve(addr: SocketAddr, hub: Arc<Hub>, app: Router, limits: ConnLimits) -> std::io::Result<()> {
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
        drained = serve_on(listener, hub, app, limits, first, SHUTDOWN_GRACE) => drained.map(drop),
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

/// Serves on `listener` until `signal` resolves, each connection under `limits`
/// (`conn::ConnLimits`), then drains, all at once:
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
    limits: ConnLimits,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<Drained> {
    let (phase, _) = watch::channel(Phase::Serving);
    let caps = Caps::new(limits);
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = caps.slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = signal.as_mut() => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: accepting again at once would spin.
                    tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = signal.as_mut() => break,
        };
        // Over its address's cap, a connection is closed at once: it costs no slot.
        let Some(slot) = caps.admit(permit, peer.ip()) else { continue };
        let header_timeout = caps.limits.header_timeout;
        tokio::spawn(serve_connection(tcp, peer, slot, app.clone(), header_timeout, phase.subscribe()));
    }
    drop(listener);
    let started = Instant::now();
    tracing::info!(boards = hub.boards(), grace_s = grace.as_secs_f64(), "shutting down: draining requests and boards");
    hub.shut_down();
    phase.send_replace(Phase::Draining);
    // Boards hold their connection's slot, so this waits for them too.
    let drained = tokio::time::timeout(grace, async {
        caps.all_closed().await;
        hub.all_boards_gone().await;
    })
    .await;
    let took = started.elapsed();
    if drained.is_ok() {
        tracing::info!(took_ms = took.as_millis() as u64, "shut down cleanly");
        return Ok(Drained { clean: true, took });
    }
    phase.send_replace(Phase::Cut);
    tracing::warn!(
        took_ms = took.as_millis() as u64,
        boards = hub.boards(),
        "shutdown grace period over: closing what is still open"
    );
    Ok(Drained { clean: false, took })
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
