//! The Appwrite mode end to end, in-process: an `appwrite-testserver` imitating one Appwrite
//! release (a [`Version`] profile), `appwrite setup`, and one or more Leadboard replicas (each
//! its own `AppState` and router on a loopback port) sharing it.

use crate::server::{self, test_app, Client};
use futures::StreamExt;
use leadboard::domain::{BoardEvent, BoardState, Lead, LeadId, Username};
use leadboard::protocol::ServerMsg;
use leadboard::server::config::{AppwriteConfig, ClaimsConfig, Config, SecurityConfig, StoreConfig};
use leadboard::server::store::appwrite::schema;
use leadboard::server::{seed, AppState};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

pub use appwrite_testserver::Version;

pub const PROJECT: &str = "leadboard";
pub const KEY: &str = "test-api-key-0123456789";
pub const DB: &str = "leadboard";

/// The test server plus the settings every replica uses.
pub struct Appwrite {
    pub server: appwrite_testserver::Running,
    pub cfg: AppwriteConfig,
    pub raw: reqwest::Client,
}

pub fn log_init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("LEADBOARD_TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// The profiles every Appwrite suite runs against (the oldest, the first with transactions and
/// the newest); the rest of the profiles run in the suites that loop over [`Version::ALL`].
pub const SUITE_VERSIONS: [Version; 3] = [Version::V1_5, Version::V1_8, Version::V1_9_6];

/// The profile of `APPWRITE_TESTSERVER_VERSION`, else the newest.
pub fn default_version() -> Version {
    std::env::var("APPWRITE_TESTSERVER_VERSION").ok().and_then(|v| v.parse().ok()).unwrap_or(Version::NEWEST)
}

impl Appwrite {
    /// A fresh test server (the default profile) with Leadboard's schema (`appwrite setup`).
    pub async fn start() -> Appwrite {
        Self::start_version(default_version()).await
    }

    /// A fresh test server imitating `version`, with Leadboard's schema.
    pub async fn start_version(version: Version) -> Appwrite {
        let aw = Self::bare(version, 0).await;
        let report = aw.setup().await;
        assert!(!report.created.is_empty());
        aw
    }

    /// A fresh test server imitating `version` (fault randomness from `seed`), nothing set up.
    pub async fn bare(version: Version, seed: u64) -> Appwrite {
        log_init();
        let server = appwrite_testserver::spawn(appwrite_testserver::Config {
            project: PROJECT.into(),
            api_key: KEY.into(),
            version,
            seed,
            ..Default::default()
        })
        .await
        .unwrap();
        let cfg = AppwriteConfig {
            endpoint: server.endpoint(),
            realtime_endpoint: Some(server.realtime_endpoint()),
            project: PROJECT.into(),
            api_key: KEY.into(),
            database: DB.into(),
            service_user_id: "leadboard-bridge".into(),
            service_email: "bridge@example.com".into(),
            service_password: "bridge-password-1".into(),
            managers_team: "leadboard-managers".into(),
            email_domain: "users.leadboard.invalid".into(),
            reconcile_secs: 1,
            retention_days: 90.0,
            prune_every_secs: 3_600,
            timeout_ms: 3_000,
            leads: Default::default(),
        };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-appwrite-project", PROJECT.parse().unwrap());
        headers.insert("x-appwrite-key", KEY.parse().unwrap());
        let raw = reqwest::Client::builder().default_headers(headers).build().unwrap();
        Appwrite { server, cfg, raw }
    }

    /// `appwrite setup` with the current settings.
    pub async fn setup(&self) -> schema::SetupReport {
        schema::setup(&self.cfg).await.expect("appwrite setup")
    }

    fn leads_docs(&self) -> String {
        format!("/databases/{}/collections/{}/documents", self.cfg.leads_database(), self.cfg.leads.collection)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// A REST call with the API key, as the Appwrite console or a server script would make it.
    /// Retries injected 429/5xx answers, so a test can look at the store while faults are on.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        for _ in 0..50 {
            let mut req = self.raw.request(method.clone(), self.url(&format!("/v1{path}")));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            if status == 429 || status >= 500 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            return (status, res.json().await.unwrap_or(Value::Null));
        }
        panic!("the test server keeps failing {path}");
    }

    /// The first document a list with these queries finds, if any.
    pub async fn find(&self, docs_path: &str, queries: &[Value]) -> Option<Value> {
        let query: Vec<String> = queries.iter().map(|q| format!("queries[]={}", urlenc(&q.to_string()))).collect();
        let (s, page) = self.call(reqwest::Method::GET, &format!("{docs_path}?{}", query.join("&")), None).await;
        assert_eq!(s, 200, "{page}");
        page["documents"].get(0).cloned()
    }

    /// The lead document as committed (a list: the test server's document cache may hold an
    /// older copy for a GET, as Appwrite's does up to 1.9.0).
    pub async fn lead_doc(&self, id: &str) -> Value {
        let key = self.cfg.leads.id.clone();
        let doc = self.find(&self.leads_docs(), &[json!({"method": "equal", "attribute": key, "values": [id]})]).await;
        doc.unwrap_or_else(|| panic!("no lead document {id}"))
    }

    /// The lead document by GET, as the old browser client read it: up to 1.9.0 it may come
    /// from the document cache.
    pub async fn lead_get(&self, id: &str) -> Value {
        let (s, doc) = self.call(reqwest::Method::GET, &format!("{}/{id}", self.leads_docs()), None).await;
        assert_eq!(s, 200, "{doc}");
        doc
    }

    /// A plain `updateDocument` with no precondition: last write wins (the old browser client,
    /// the console).
    pub async fn plain_update(&self, id: &str, data: Value) -> (u16, Value) {
        let doc_id = self.lead_doc(id).await["$id"].as_str().unwrap().to_owned();
        self.call(reqwest::Method::PATCH, &format!("{}/{doc_id}", self.leads_docs()), Some(json!({"data": data}))).await
    }

    /// The claim document out of `version` of the lead's current incarnation.
    pub async fn claim_doc(&self, lead: &str, version: u64) -> Option<Value> {
        let doc = self.lead_doc(lead).await;
        let incarnation = doc[&self.cfg.leads.incarnation]
            .as_str()
            .filter(|s| !s.is_empty())
            .or_else(|| doc["$createdAt"].as_str())
            .unwrap()
            .to_owned();
        let id = leadboard::server::store::appwrite::docs::transition_id(
            &LeadId::parse(lead).unwrap(),
            &incarnation,
            version,
        );
        let path = format!("/databases/{DB}/collections/claims/documents");
        self.find(&path, &[json!({"method": "equal", "attribute": "$id", "values": [id]})]).await
    }

    /// `POST /__faults` (test-only, never faulted itself).
    pub async fn faults(&self, body: Value) {
        let res = reqwest::Client::new().post(self.url("/__faults")).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "faults: {}", res.text().await.unwrap());
    }

    pub async fn clear_faults(&self) {
        let res = reqwest::Client::new().delete(self.url("/__faults")).send().await.unwrap();
        assert!(res.status().is_success());
    }

    /// Demo accounts, `employees` generated employees (`user001`...) and `leads` leads, through
    /// the store port (as `leadboard seed` does).
    pub async fn seed(&self, replica: &Replica, leads: usize, employees: usize) {
        seed::seed(&replica.state, leads, employees).await.unwrap();
    }
}

/// One Leadboard app replica serving the real router on a loopback port.
pub struct Replica {
    pub addr: SocketAddr,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replica {
    pub async fn start(aw: &Appwrite) -> Replica {
        Self::start_with(aw, Default::default()).await
    }

    pub async fn start_with(aw: &Appwrite, security: SecurityConfig) -> Replica {
        Self::start_on_terms(aw, security, ClaimsConfig::unlimited()).await
    }

    /// A replica whose claims are held on `claims` (leases, the expiry pass).
    pub async fn start_on_terms(aw: &Appwrite, security: SecurityConfig, claims: ClaimsConfig) -> Replica {
        let config = Config { app: test_app(), store: StoreConfig::Appwrite(aw.cfg.clone()), security, claims };
        let state = server::open_state(config);
        let (addr, task) = server::serve(&state).await;
        Replica { addr, state, task }
    }

    /// A client with its own cookie jar, signed in as `user` (password "demo1234").
    pub async fn client_owned(&self, user: String) -> Client {
        self.client(&user).await
    }

    pub async fn client(&self, user: &str) -> Client {
        Client::sign_in(self.addr, user).await
    }

    /// A board: a websocket signed in as `user`, starting from a snapshot.
    pub async fn board(&self, user: &str) -> Board {
        let client = self.client(user).await;
        let mut ws = server::connect_board_with(self.addr, &client, &[]).await.unwrap();
        server::send_msg(&mut ws, json!({"type": "resume", "stream": "none", "after_seq": 0})).await;
        let mut board = Board { ws, state: BoardState::default(), events: Vec::new(), user: user.into() };
        match board.next(Duration::from_secs(20)).await {
            Some(ServerMsg::Snapshot(_)) => {}
            other => panic!("expected a snapshot, got {other:?}"),
        }
        board
    }
}

use crate::server::Socket;

/// A board as the browser keeps it: events applied to a `BoardState`.
pub struct Board {
    pub ws: Socket,
    pub state: BoardState,
    /// Every event received, in order.
    pub events: Vec<BoardEvent>,
    pub user: String,
}

impl Board {
    /// The next message other than a heartbeat, applied to the board; None after `wait` of
    /// silence.
    pub async fn next(&mut self, wait: Duration) -> Option<ServerMsg> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next()).await.ok()??.ok()?;
            let tokio_tungstenite::tungstenite::Message::Text(t) = msg else { continue };
            let msg: ServerMsg = serde_json::from_str(&t).expect("board messages parse");
            match &msg {
                ServerMsg::Heartbeat { .. } => continue,
                ServerMsg::Snapshot(leadboard::protocol::Snapshot { stream, seq, leads }) => {
                    self.state = BoardState::new(stream.clone(), *seq, leads.clone())
                }
                ServerMsg::Event(ev) => {
                    self.state.apply(ev);
                    self.events.push(ev.clone());
                }
                ServerMsg::Events { events } => {
                    for ev in events {
                        self.state.apply(ev);
                        self.events.push(ev.clone());
                    }
                }
                ServerMsg::Error { .. } | ServerMsg::Presence { .. } => {}
            }
            return Some(msg);
        }
    }

    pub fn lead(&self, id: &str) -> Option<&Lead> {
        self.state.get(&LeadId::parse(id).unwrap())
    }

    pub fn assignee(&self, id: &str) -> Option<String> {
        self.lead(id).and_then(|l| l.assignee.as_ref().map(|a| a.as_str().to_owned()))
    }

    /// Reads messages until `done(self)` holds; false if `within` passes first.
    pub async fn until(&mut self, within: Duration, mut done: impl FnMut(&Board) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            // Silence is fine (a heartbeat comes every 15 s); only the deadline ends the wait.
            if self.next(left.min(Duration::from_secs(1))).await.is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        true
    }

    /// An event on this board whose loser is `user`.
    pub fn lost_by(&self, user: &str) -> Option<&BoardEvent> {
        let user = Username::parse(user).unwrap();
        self.events.iter().find(|e| e.loser() == Some(&user))
    }
}

/// Percent-encodes everything but letters and digits (for query strings).
pub fn urlenc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// The stored assignee of a lead document.
pub fn stored_assignee(doc: &Value) -> Option<String> {
    doc["assignee"].as_str().map(str::to_owned)
}
