//! What every connection is held to: a cap on open connections (in all, and per address), a
//! deadline for a request's head that is also the idle keep-alive timeout, and the peer address
//! recorded for the limits. A slow or silent client costs one slot until its deadline, never the
//! server's ability to answer others.

use crate::server::config::SecurityConfig;
use crate::server::security::client::ClientRule;
use crate::server::security::limits::{Open, OpenGuard};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// The connection limits, from `[security]`.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// How long a client may take to send a request's head, and how long a kept-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
    /// Connections open at once (boards included); past it, new ones wait in the listen queue.
    pub max_connections: usize,
    /// Connections open at once from one address (a trusted proxy has no cap); past it, a new
    /// connection is closed at once.
    pub max_per_address: usize,
    pub clients: ClientRule,
}

impl ConnLimits {
    pub fn new(cfg: &SecurityConfig) -> Self {
        Self {
            header_timeout: Duration::from_secs(cfg.header_timeout_secs),
            max_connections: cfg.max_connections,
            max_per_address: cfg.max_connections_per_address,
            clients: ClientRule::new(cfg),
        }
    }
}

/// Where the server is in its life, as its connections see it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Phase {
    Serving,
    /// Finish the request in flight, then close.
    Draining,
    /// The grace period is over: close now.
    Cut,
}

/// A connection's place under the caps, held for as long as the connection lives, or the board
/// it was upgraded to (the websocket handler keeps a clone, see `http::ws`).
#[derive(Clone)]
pub struct ConnSlot {
    _held: Arc<(OwnedSemaphorePermit, Option<OpenGuard<IpAddr>>)>,
}

/// The caps, shared by the accept loop and the connections.
pub(super) struct Caps {
    pub(super) limits: ConnLimits,
    pub(super) slots: Arc<Semaphore>,
    addresses: Open<IpAddr>,
}

impl Caps {
    pub(super) fn new(limits: ConnLimits) -> Self {
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        Self { limits, slots, addresses: Open::default() }
    }

    /// A slot for a connection from `peer` that holds `permit`, unless its address is at its cap.
    pub(super) fn admit(&self, permit: OwnedSemaphorePermit, peer: IpAddr) -> Option<ConnSlot> {
        let guard = if self.limits.clients.is_trusted(peer) {
            None
        } else {
            Some(self.addresses.enter(peer, self.limits.max_per_address)?)
        };
        Some(ConnSlot { _held: Arc::new((permit, guard)) })
    }

    /// Resolves once every connection (and board) has given its slot back.
    pub(super) async fn all_closed(&self) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(all).await;
    }
}

/// Serves one connection (HTTP/1.1, upgradable to a board's websocket) until it closes, the
/// server drains (the request in flight is answered first), or the grace period ends.
pub(super) async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: ConnSlot,
    app: Router,
    header_timeout: Duration,
    mut phase: watch::Receiver<Phase>,
) {
    // Board events are small writes that must leave at once, not wait for the previous one's ACK.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let service = tower::ServiceExt::map_request(app, move |mut req: axum::extract::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        req
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(tcp), hyper_util::service::TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = phase.wait_for(|p| *p >= Phase::Draining) => {}
    }
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = phase.wait_for(|p| *p == Phase::Cut) => {}
    }
}

/// Accept errors that concern one connection (it was reset before it was accepted), as opposed
/// to the process (out of file descriptors), after which accepting again at once would spin.
pub(super) fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}
