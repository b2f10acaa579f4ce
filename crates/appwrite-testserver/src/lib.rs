//! An in-memory stand-in for the part of Appwrite that Leadboard uses: the Collections API
//! (databases, collections, attributes, indexes, documents), users, email sessions, JWTs,
//! teams, transactions and Realtime, plus run-time fault injection, as one of several Appwrite
//! releases (`version.rs`), with the document cache of 1.5 to 1.9.0 (`cache.rs`,
//! `rest/writes.rs`). See README.md.

pub mod errors;
pub mod faults;

mod auth;
mod cache;
mod document;
mod events;
mod ids;
mod limits;
mod params;
mod permissions;
mod query;
mod realtime;
mod rest;
mod rows;
mod schema;
mod store;
mod time;
mod txn;
pub mod version;

pub use version::{CacheMode, Version};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 picks a free port. Keep it on loopback.
    pub addr: SocketAddr,
    /// The only project ID accepted in `X-Appwrite-Project` / `?project=`.
    pub project: String,
    /// The API key accepted in `X-Appwrite-Key`; it holds every scope.
    pub api_key: String,
    /// Seed for the randomness of fault injection.
    pub seed: u64,
    /// The Appwrite release whose behaviour to reproduce.
    pub version: Version,
    /// The document cache model; `None` uses the version's default.
    pub document_cache: Option<CacheMode>,
}

impl Default for Config {
    /// Loopback, port 0, seed 0; the version profile and cache model from
    /// `APPWRITE_TESTSERVER_VERSION` / `APPWRITE_TESTSERVER_DOCUMENT_CACHE` when set (so a
    /// whole suite can be run against another profile), else 1.9.6 and its default.
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            project: "leadboard".into(),
            api_key: "test-api-key".into(),
            seed: 0,
            version: from_env("APPWRITE_TESTSERVER_VERSION").unwrap_or(Version::NEWEST),
            document_cache: from_env("APPWRITE_TESTSERVER_DOCUMENT_CACHE"),
        }
    }
}

/// The parsed environment variable, if set. A value that does not parse panics: a suite
/// meant for one profile must not quietly run against another.
fn from_env<T: std::str::FromStr<Err = String>>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(text.parse().unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// State shared by all handlers.
pub struct Shared {
    config: Config,
    version: Version,
    cache: CacheMode,
    rows: rows::Rows,
    /// Realtime connections per IP and messages per socket.
    time_limits: limits::TimeLimit,
    store: Mutex<store::Store>,
    events: broadcast::Sender<Arc<events::Event>>,
    faults: faults::Faults,
}

type AppState = Arc<Shared>;

/// A running server. Dropping it (or calling [`Running::shutdown`]) stops it.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT/v1`, the endpoint to give an SDK.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `ws://127.0.0.1:PORT/v1/realtime`.
    pub fn realtime_endpoint(&self) -> String {
        format!("ws://{}/v1/realtime", self.addr)
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `config.addr` and serves in a background task of the current Tokio runtime.
pub async fn spawn(config: Config) -> std::io::Result<Running> {
    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(Shared {
        version: config.version,
        cache: config.document_cache.unwrap_or(config.version.default_cache()),
        rows: rows::Rows::default(),
        time_limits: limits::TimeLimit::default(),
        faults: faults::Faults::new(config.seed),
        config,
        store: Mutex::new(store::Store::default()),
        events: broadcast::channel(4096).0,
    });
    let app = rest::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = server.await {
            tracing::error!(%error, "server failed");
        }
    });
    Ok(Running { addr, stop: Some(stop), task: Some(task) })
}
