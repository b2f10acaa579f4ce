//! Load shared by `tests/linearizable.rs` and `benches/bench.rs`: a lean API client (a session
//! cookie over a shared connection pool) and a mixed claim / outcome / release / reassign load on
//! a few leads that records every operation into a [`Recorder`] for the linearizability checker.

use linearizability::{LeadState, Op, Operation, Outcome, Recorder};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A signed-in user of a server: its session cookie, sent over a shared `reqwest::Client`.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub user: String,
    cookie: String,
}

/// A client for load: keeps connections alive, no cookie store (each `Api` sends its own).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(crate::server::POOL_IDLE)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client")
}

impl Api {
    /// Signs in as `user` with the demo password (`leadboard seed`'s accounts).
    pub async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<Api, String> {
        let res = http
            .post(format!("{base}/api/login"))
            .header("content-type", "application/json")
            .body(json!({"username": user, "password": leadboard::server::seed::DEMO_PASSWORD}).to_string())
            .send()
            .await
            .map_err(|e| format!("login {user}: {e}"))?;
        if res.status() != 200 {
            return Err(format!("login {user}: {} {}", res.status(), res.text().await.unwrap_or_default()));
        }
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|kv| kv.starts_with("lb_session=")))
            .ok_or_else(|| format!("login {user}: no session cookie"))?
            .to_owned();
        Ok(Api { http: http.clone(), base: base.to_owned(), user: user.to_owned(), cookie })
    }

    /// The `Cookie` header value, for opening a board's websocket as this user.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// POSTs JSON; the status and the JSON body (or the text as a JSON string).
    pub async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("cookie", &self.cookie)
            .body(body.to_string())
            .send()
            .await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok((status, body))
    }

    /// Claims `lead`, recording the operation. Returns the reply when it answered 200, and the
    /// 409's body when the lead is closed (it holds the lead).
    pub async fn claim(&self, rec: &Recorder, lead: &str) -> Option<Value> {
        let start = rec.now();
        let res = self.post("/api/claim", &json!({"lead_id": lead})).await;
        let end = rec.now();
        let (outcome, reply) = claim_outcome(&self.user, res);
        rec.push(Operation { lead: lead.into(), op: Op::Claim { by: self.user.clone() }, outcome, start, end });
        reply
    }

    /// Releases `lead` fenced at `version`, recording it. `manager`: whether this user is one.
    pub async fn release(&self, rec: &Recorder, lead: &str, version: u64, manager: bool) -> Outcome {
        let start = rec.now();
        let res = self.post("/api/release", &json!({"lead_id": lead, "version": version})).await;
        let end = rec.now();
        let outcome = change_outcome(res);
        let op = Op::Release { by: self.user.clone(), seen_version: version, manager };
        rec.push(Operation { lead: lead.into(), op, outcome: outcome.clone(), start, end });
        outcome
    }

    /// The holder records `outcome` on `lead` fenced at `version`, recording it.
    pub async fn record_outcome(&self, rec: &Recorder, lead: &str, version: u64, outcome: &str) -> Outcome {
        let start = rec.now();
        let body = json!({"lead_id": lead, "version": version, "outcome": outcome});
        let res = self.post("/api/outcome", &body).await;
        let end = rec.now();
        let answer = change_outcome(res);
        let op = Op::Outcome { by: self.user.clone(), seen_version: version, closes: outcome != "contacted" };
        rec.push(Operation { lead: lead.into(), op, outcome: answer.clone(), start, end });
        answer
    }

    /// A manager gives `lead` to `to`, fenced at `version`, recording it.
    pub async fn reassign(&self, rec: &Recorder, lead: &str, version: u64, to: &str) -> Outcome {
        let start = rec.now();
        let res = self.post("/api/reassign", &json!({"lead_id": lead, "version": version, "to": to})).await;
        let end = rec.now();
        let outcome = change_outcome(res);
        let op = Op::Reassign { by: self.user.clone(), seen_version: version, to: to.into() };
        rec.push(Operation { lead: lead.into(), op, outcome: outcome.clone(), start, end });
        outcome
    }
}

/// The lead in a JSON reply as the checker's state.
pub fn lead_state(lead: &Value) -> Option<LeadState> {
    Some(LeadState {
        holder: lead["assignee"].as_str().map(str::to_owned),
        version: lead["version"].as_u64()?,
        closed: lead["status"] == "closed",
    })
}

/// A claim's answer as the checker sees it: 200 won / lost / already yours; a 409 on a closed
/// lead did not take effect and says the lead; other 4xx did not take effect (a cap refusal's
/// lead says nothing of the register); anything else (5xx, timeouts, garbage) is unknown.
pub fn claim_outcome(me: &str, res: Result<(u16, Value), reqwest::Error>) -> (Outcome, Option<Value>) {
    match res {
        Ok((200, body)) => {
            let version = body["lead"]["version"].as_u64();
            let outcome = match (body["outcome"].as_str(), version) {
                (Some("won"), Some(version)) => Outcome::Won { version },
                (Some("lost"), _) if body["winner"].is_string() => {
                    Outcome::Lost { holder: body["winner"].as_str().unwrap_or_default().into(), version }
                }
                (Some("already_yours"), _) => Outcome::Lost { holder: me.into(), version },
                _ => Outcome::Unknown,
            };
            (outcome, Some(body))
        }
        Ok((409, body)) if body["lead"]["status"] == "closed" => {
            (Outcome::Rejected { observed: lead_state(&body["lead"]) }, Some(body))
        }
        Ok((status, _)) if (400..500).contains(&status) => (Outcome::Rejected { observed: None }, None),
        _ => (Outcome::Unknown, None),
    }
}

/// A release's, reassign's or outcome's answer: 200 applied (the lead after it), 409 refused with the
/// current lead, other 4xx refused, the rest unknown.
pub fn change_outcome(res: Result<(u16, Value), reqwest::Error>) -> Outcome {
    match res {
        Ok((200, lead)) => match lead["version"].as_u64() {
            Some(version) => Outcome::Won { version },
            None => Outcome::Unknown,
        },
        Ok((409, body)) => Outcome::Rejected { observed: lead_state(&body["lead"]) },
        Ok((status, _)) if (400..500).contains(&status) => Outcome::Rejected { observed: None },
        _ => Outcome::Unknown,
    }
}

/// A small, fast, seeded random source (xorshift64*), so runs are reproducible per seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Reads the leads' current states (as `user` sees them) into the recorder's initial states.
pub async fn record_initial(api: &Api, rec: &Recorder, leads: &[String]) -> Result<u64, String> {
    let (status, list) = api.post("/api/leads", &json!({})).await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("/api/leads: {status} {list}"));
    }
    for lead in list["leads"].as_array().into_iter().flatten() {
        let id = lead["id"].as_str().unwrap_or_default();
        if leads.iter().any(|l| l == id) {
            rec.initial(id, lead_state(lead).ok_or("a lead without a version")?);
        }
    }
    list["seq"].as_u64().ok_or_else(|| "no seq in /api/leads".into())
}

/// A test of the history recorded so far.
pub type Enough = Box<dyn Fn(&linearizability::History) -> bool + Send + Sync>;

/// A load's kinds of operation and how many of each make it a real test.
pub const ENOUGH: [(&str, usize); 7] = [
    ("claim won", 10),
    ("claim lost", 10),
    ("release applied", 5),
    ("reassign applied", 2),
    ("outcome applied", 2),
    ("closing outcome applied", 2),
    ("rejected", 1),
];

/// Whether `h` has at least [`ENOUGH`] of every kind of operation: a history without them proves
/// little about the register.
pub fn exercised(h: &linearizability::History) -> bool {
    let t = linearizability::tally(h);
    ENOUGH.iter().all(|(kind, n)| t.get(kind).is_some_and(|got| got >= n))
}

/// When a [`mixed_load`] stops: after `min`, once `enough` holds for the history so far (checked
/// every 100 ms; None: at once), and after `max` in any case.
pub struct Until {
    pub min: Duration,
    pub max: Duration,
    pub enough: Option<Enough>,
}

/// Employees claim random leads among `leads`, record outcomes on some they won (contacted, or
/// one that closes the lead) and release the others (sometimes at once, sometimes with a stale
/// version, which must be refused); a manager looks at leads (by claiming them) and releases or
/// reassigns them to random employees, and reopens closed ones. Every operation goes into `rec`.
pub async fn mixed_load(
    employees: Vec<Api>,
    manager: Option<Api>,
    leads: Vec<String>,
    until: Until,
    rec: Arc<Recorder>,
) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let monitor = {
        let (stop, rec) = (stop.clone(), rec.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let t = started.elapsed();
                if t >= until.max || (t >= until.min && until.enough.as_ref().is_none_or(|f| f(&rec.history()))) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            }
        })
    };
    let running = move || !stop.load(std::sync::atomic::Ordering::Relaxed);
    let names: Arc<Vec<String>> = Arc::new(employees.iter().map(|a| a.user.clone()).collect());
    let leads = Arc::new(leads);
    let mut tasks = Vec::new();
    for (i, api) in employees.into_iter().enumerate() {
        let (rec, leads, running) = (rec.clone(), leads.clone(), running.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(i as u64 + 1);
            while running() {
                let lead = &leads[rng.below(leads.len())];
                let Some(reply) = api.claim(&rec, lead).await else { continue };
                let mine = reply["lead"]["assignee"] == api.user.as_str() && reply["lead"]["status"] != "closed";
                let mut version = reply["lead"]["version"].as_u64().unwrap_or(0);
                if mine && rng.chance(20) {
                    if let Outcome::Won { version: v } = api.record_outcome(&rec, lead, version, "contacted").await {
                        version = v;
                    }
                }
                if mine && rng.chance(10) {
                    // Closed: only the manager's reopening puts it back in play.
                    api.record_outcome(&rec, lead, version, if rng.chance(50) { "won" } else { "lost" }).await;
                } else if mine && rng.chance(70) {
                    if rng.chance(10) {
                        // A stale fence: must be refused with 409 and the current lead.
                        api.release(&rec, lead, version.saturating_sub(1), false).await;
                    }
                    if rng.chance(50) {
                        tokio::time::sleep(Duration::from_millis(rng.below(3) as u64)).await;
                    }
                    api.release(&rec, lead, version, false).await;
                }
            }
        }));
    }
    if let Some(api) = manager {
        let (rec, leads, names, running) = (rec.clone(), leads.clone(), names.clone(), running.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(7_777);
            while running() {
                let lead = &leads[rng.below(leads.len())];
                let Some(reply) = api.claim(&rec, lead).await else { continue };
                let version = reply["lead"]["version"].as_u64().unwrap_or(0);
                // Leads it won it hands on more often (nobody else can change them meanwhile);
                // the others it races their holders for; closed ones it reopens.
                let won = reply["outcome"] == "won";
                if reply["lead"]["status"] == "closed" {
                    api.release(&rec, lead, version, true).await;
                } else if rng.chance(if won { 100 } else { 50 }) {
                    let to = &names[rng.below(names.len())];
                    api.reassign(&rec, lead, version, to).await;
                } else {
                    api.release(&rec, lead, version, true).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("a load task panicked");
    }
    monitor.await.expect("the load's monitor panicked");
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a board (`/ws` on `host`, i.e. `127.0.0.1:PORT`) as `api`'s user and asks for the
/// events after `after_seq`.
pub async fn open_board(host: &str, api: &Api, after_seq: u64) -> Result<Socket, String> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let mut req = format!("ws://{host}/ws").into_client_request().map_err(|e| e.to_string())?;
    req.headers_mut().insert("cookie", api.cookie().parse().map_err(|_| "a bad cookie")?);
    // A small read buffer: tungstenite zero-fills its whole read buffer (128 KiB by default)
    // before every read, which for thousands of boards in one client costs more CPU than
    // everything else it does. Events are a few hundred bytes; a snapshot takes more reads.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), false)
        .await
        .map_err(|e| format!("connect /ws: {e}"))?;
    ws.send(Message::text(json!({"type": "resume", "after_seq": after_seq}).to_string()))
        .await
        .map_err(|e| format!("resume: {e}"))?;
    Ok(ws)
}

/// `http://127.0.0.1:PORT` → `127.0.0.1:PORT`.
pub fn host_of(base: &str) -> &str {
    base.trim_start_matches("http://").trim_end_matches('/')
}
