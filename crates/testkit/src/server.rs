//! A real server on a loopback port with a fresh SQLite file, and HTTP/websocket clients for it.

use leadboard::server::config::{AppConfig, ClaimsConfig, Config, SecurityConfig, SqliteConfig, StoreConfig};
use leadboard::server::{seed, AppState};
use leptos::prelude::LeptosOptions;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a client keeps an idle connection for reuse: under the server's idle keep-alive
/// timeout (`header_timeout_secs`, 10 s by default), so that a request is never sent on a
/// connection the server is closing at that moment (reqwest does not resend a POST that met a
/// closing connection; browsers do).
pub const POOL_IDLE: Duration = Duration::from_secs(5);
/// No request of a test takes this long: one that does fails the test instead of hanging the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with the demo accounts, `employees` generated employees and `leads` leads.
    pub async fn start(leads: usize, employees: usize) -> TestServer {
        Self::start_with(leads, employees, SecurityConfig::default()).await
    }

    /// Starts a server with the given rate limits, and claims without leases or caps.
    pub async fn start_with(leads: usize, employees: usize, security: SecurityConfig) -> TestServer {
        Self::start_on_terms(leads, employees, security, ClaimsConfig::unlimited()).await
    }

    /// Starts a server with the given rate limits and claim terms (leases, caps).
    pub async fn start_on_terms(
        leads: usize,
        employees: usize,
        security: SecurityConfig,
        claims: ClaimsConfig,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            app: test_app(),
            store: StoreConfig::Sqlite(SqliteConfig::at(dir.path().join("test.db"))),
            security,
            claims,
        };
        let state = open_state(config);
        seed::seed(&state, leads, employees).await.unwrap();
        let (addr, _) = serve(&state).await;
        TestServer { addr, state, _dir: dir }
    }

    /// A server of a test's own making (its settings, its seed), served at `addr` from `dir`.
    pub fn from_parts(addr: SocketAddr, state: AppState, dir: tempfile::TempDir) -> TestServer {
        TestServer { addr, state, _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client with its own cookie jar, signed in as `user` (password "demo1234").
    pub async fn client(&self, user: &str) -> Client {
        self.client_owned(user.to_owned()).await
    }

    pub async fn client_owned(&self, user: String) -> Client {
        Client::sign_in(self.addr, &user).await
    }
}

/// The site settings of every test server: a free loopback port, quiet logs, no demo data.
pub fn test_app() -> AppConfig {
    AppConfig { site_addr: "127.0.0.1:0".parse().unwrap(), log: "warn".into(), ..AppConfig::default() }
}

pub fn open_state(config: Config) -> AppState {
    let leptos = LeptosOptions::builder().output_name("leadboard").build();
    AppState::open(config, leptos).unwrap()
}

/// Serves `state` on a free loopback port as the binary does (its connection limits, and the
/// peer addresses the rate limits count by).
pub async fn serve(state: &AppState) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = leadboard::site::serve_on(state.clone(), listener, std::future::pending());
    (addr, tokio::spawn(async move { serving.await.map(drop).unwrap() }))
}

/// Checks a claim race's replies (`users[i]` sent `replies[i]`): all answered 200, exactly one
/// `won`, and every other reply `lost`, naming that winner. Returns the winner.
pub fn assert_one_winner(users: &[String], replies: &[(u16, Value)]) -> String {
    for (user, (status, body)) in users.iter().zip(replies) {
        assert_eq!(*status, 200, "{user}: {body}");
    }
    let winners: Vec<&String> =
        users.iter().zip(replies).filter(|(_, (_, b))| b["outcome"] == "won").map(|(u, _)| u).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let winner = winners[0];
    for (user, (_, body)) in users.iter().zip(replies).filter(|(u, _)| *u != winner) {
        assert_eq!(body["outcome"], "lost", "{user}: {body}");
        assert_eq!(body["winner"], winner.as_str(), "{user} is told who won");
        assert_eq!(body["lead"]["assignee"], winner.as_str());
    }
    winner.clone()
}

/// Every client claims `lead` at the same instant (a barrier releases them together). Returns
/// each reply's status and body, in the clients' order.
pub async fn claim_race(clients: &[Client], lead: &str) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    futures::future::join_all(clients.iter().map(|c| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            c.post("/api/claim", json!({"lead_id": lead})).await
        }
    }))
    .await
}

pub struct Client {
    pub http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Client {
    pub fn anonymous(server: &TestServer) -> Client {
        Client::new(server.addr)
    }

    /// A client of the server at `addr`, with its own cookie jar.
    pub fn new(addr: SocketAddr) -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .pool_idle_timeout(POOL_IDLE)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        Client { http, jar, base: format!("http://{addr}") }
    }

    /// A client signed in as `user` (password "demo1234").
    pub async fn sign_in(addr: SocketAddr, user: &str) -> Client {
        let client = Client::new(addr);
        let res = client.post("/api/login", json!({"username": user, "password": "demo1234"})).await;
        assert_eq!(res.0, 200, "login as {user}: {}", res.1);
        client
    }

    /// POSTs JSON; returns the status and the JSON body (or the text as a JSON string).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body))
            .await
    }

    /// POSTs JSON with extra headers (Origin, Sec-Fetch-Site, another content type...).
    pub async fn post_with(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(body.to_string())).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The `Cookie` header this client sends, for opening a websocket as the same user.
    pub fn cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = self.base.parse().unwrap();
        self.jar.cookies(&url).map(|v| v.to_str().unwrap().to_owned())
    }
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` with the client's cookie (none for an anonymous client).
pub async fn connect_board(
    server: &TestServer,
    client: &Client,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    connect_board_with(server.addr, client, &[]).await
}

/// Opens `/ws` with the client's cookie and extra headers (such as `Origin`).
pub async fn connect_board_with(
    addr: SocketAddr,
    client: &Client,
    headers: &[(&'static str, &str)],
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(cookie) = client.cookie() {
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

pub async fn send_msg(ws: &mut Socket, msg: Value) {
    use futures::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(msg.to_string())).await.unwrap();
}

/// The next board message other than a heartbeat, or None if nothing comes within `wait`.
pub async fn next_msg(ws: &mut Socket, wait: Duration) -> Option<leadboard::protocol::ServerMsg> {
    use futures::StreamExt;
    use leadboard::protocol::ServerMsg;
    loop {
        let msg = tokio::time::timeout(wait, ws.next()).await.ok()??.ok()?;
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            match serde_json::from_str::<ServerMsg>(&t).expect("board messages parse") {
                ServerMsg::Heartbeat { .. } => continue,
                other => return Some(other),
            }
        }
    }
}

/// Bob signs in with his password while maria (a signed-in manager's client) resets it, `rounds`
/// times, the reset starting `round % 8 * step_ms` after the sign-in so that it often commits
/// while the sign-in is between its password check and its session. Returns how many sign-ins
/// got in and how many of those sessions outlived their reset (none may).
pub async fn reset_racing_sign_ins(addr: SocketAddr, maria: &Client, rounds: u64, step_ms: u64) -> (u32, u32) {
    let mut old = "demo1234".to_owned();
    let (mut signed_in, mut survived) = (0, 0);
    for round in 0..rounds {
        let new = format!("round-{round}-secret");
        let bob = Client::new(addr);
        let reset = json!({"username": "bob", "change": {"set": "password", "to": new}});
        let (login, _) = tokio::join!(bob.post("/api/login", json!({"username": "bob", "password": old})), async {
            tokio::time::sleep(Duration::from_millis(round % 8 * step_ms)).await;
            assert_eq!(maria.post("/api/users/update", reset).await.0, 200);
        });
        if login.0 == 200 {
            signed_in += 1;
            if bob.post("/api/me", json!({})).await.1 != Value::Null {
                survived += 1;
            }
        } else {
            assert_eq!(login.0, 401, "{}", login.1);
        }
        old = new;
    }
    (signed_in, survived)
}
