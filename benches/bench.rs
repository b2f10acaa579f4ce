//! `scripts/bench`: Leadboard under load, through the real HTTP API and websockets on loopback.
//!
//! - Claims: claims/s and latency percentiles, uncontested (every claim on its own open lead)
//!   and contested (every claimer walks the same leads, so each lead has as many claimants as
//!   there are claimers), at several concurrency levels; the same load against `/api/noop` (the
//!   session check alone) as the yardstick, in interleaved rounds (a claim run is compared with
//!   the no-op run of its round; the median round is reported). Every reply is checked:
//!   uncontested claims must all win, contested leads must have exactly one winner whom every
//!   loser names.
//! - Fan-out: N connected boards; a steady stream of claims; for every board and claim, the time
//!   from the claim's reply to the board receiving its event; deliveries per second; the
//!   server's RSS per board; and the machine's floor for as many connections (`floor.rs`).
//! - The old way: the naive read-then-`updateDocument` claim against the in-process Appwrite
//!   test server, next to Leadboard's verified protocol on the same server.
//! - Import: a 10,000-row CSV imported while employees claim; rows/s and claim latency (`import.rs`).
//! - `--long`: a long mixed load, recorded and checked for linearizability.
//!
//! Run through `scripts/bench` (which builds the server and this binary and passes
//! `--server-bin`), or with `--url` against a running server. `--help` lists the options.

#[path = "bench/floor.rs"]
mod floor;
#[path = "bench/import.rs"]
mod import;

use leadboard_testkit::appwrite as common_appwrite;
use leadboard_testkit::load;

use futures::StreamExt;
use linearizability::{self as history, Recorder};
use load::{Api, Until};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HELP: &str = "\
scripts/bench [options]   (or: cargo bench --features bench --bench bench -- [options])

  --url URL              benchmark a running server instead of starting one (it needs the accounts
                         of `leadboard seed --employees N` (the demo password), enough open leads, and a
                         high LEADBOARD_CLAIMS_PER_MINUTE)
  --server-pid PID       with --url: the server's process, for RSS figures
  --server-bin PATH      the leadboard binary to start (scripts/bench passes it)
  --json PATH            where to write the results (default: $CARGO_TARGET_DIR/bench/bench.json)
  --only LIST            sections to run, of: claims,fanout,import,naive,long (default: all but long)
  --levels LIST          concurrency levels (default 1,16,64,256)
  --requests N           requests per run (default 5000; at least 20 per claimer)
  --rounds N             rounds of no-op, uncontested and contested runs per level (default 3)
  --employees N          accounts signed in (default 256; sessions are shared by boards)
  --boards LIST          board counts for the fan-out (default 1000,10000)
  --stream-rates LIST    claims per second of the fan-out's streams, one phase each (default 2,20)
  --stream-secs N        length of the fan-out's claim stream (default 10)
  --naive-leads N        leads raced for in the naive/verified comparison (default 20)
  --naive-claimers N     claimants per lead there (default 32)
  --naive-latency LIST   added Appwrite latency in ms, one run each (default 0,20)
  --long                 also run the linearizability check over a long load
  --long-secs N          its length (default 60)
  --quick                a small run: levels 1,16, 1000 requests, 500 boards, 5 s stream
";

#[derive(Clone, Debug)]
struct Args {
    url: Option<String>,
    server_pid: Option<u32>,
    server_bin: Option<PathBuf>,
    json: PathBuf,
    sections: Vec<String>,
    levels: Vec<usize>,
    requests: usize,
    rounds: usize,
    employees: usize,
    boards: Vec<usize>,
    stream_rates: Vec<f64>,
    stream_secs: u64,
    naive_leads: usize,
    naive_claimers: usize,
    naive_latency: Vec<u64>,
    long_secs: u64,
}

fn list<T: std::str::FromStr>(s: &str) -> Result<Vec<T>, String> {
    s.split(',').map(|x| x.trim().parse::<T>().map_err(|_| format!("bad list {s:?}"))).collect()
}

fn parse_args() -> Result<Args, String> {
    let target =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let mut a = Args {
        url: None,
        server_pid: None,
        server_bin: None,
        json: PathBuf::from(target).join("bench/bench.json"),
        sections: vec!["claims".into(), "fanout".into(), "import".into(), "naive".into()],
        levels: vec![1, 16, 64, 256],
        requests: 5000,
        rounds: 3,
        employees: 256,
        boards: vec![1000, 10_000],
        stream_rates: vec![2.0, 20.0],
        stream_secs: 10,
        naive_leads: 20,
        naive_claimers: 32,
        naive_latency: vec![0, 20],
        long_secs: 60,
    };
    let mut it = std::env::args().skip(1).peekable();
    let mut long = false;
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{key} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("{key}: not a number: {v}"));
        match key.as_str() {
            "--bench" => {} // cargo bench passes it
            "--help" | "-h" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            "--url" => a.url = Some(value()?.trim_end_matches('/').to_owned()),
            "--server-pid" => a.server_pid = Some(num(value()?)? as u32),
            "--server-bin" => a.server_bin = Some(value()?.into()),
            "--json" => a.json = value()?.into(),
            "--only" => a.sections = list(&value()?)?,
            "--levels" => a.levels = list(&value()?)?,
            "--requests" => a.requests = num(value()?)? as usize,
            "--rounds" => a.rounds = num(value()?)? as usize,
            "--employees" => a.employees = num(value()?)? as usize,
            "--boards" => a.boards = list(&value()?)?,
            "--stream-rates" => a.stream_rates = list(&value()?)?,
            "--stream-secs" => a.stream_secs = num(value()?)?,
            "--naive-leads" => a.naive_leads = num(value()?)? as usize,
            "--naive-claimers" => a.naive_claimers = num(value()?)? as usize,
            "--naive-latency" => a.naive_latency = list(&value()?)?,
            "--long" => long = true,
            "--long-secs" => a.long_secs = num(value()?)?,
            "--quick" => {
                a.levels = vec![1, 16];
                a.requests = 1000;
                a.boards = vec![500];
                a.stream_secs = 5;
                a.naive_leads = 5;
                a.naive_latency = vec![0];
                a.long_secs = 10;
                a.employees = a.employees.min(32);
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if long && !a.sections.iter().any(|s| s == "long") {
        a.sections.push("long".into());
    }
    if let Some(bad) =
        a.sections.iter().find(|s| !["claims", "fanout", "import", "naive", "long"].contains(&s.as_str()))
    {
        return Err(format!("unknown section {bad:?}"));
    }
    if a.url.is_none() && a.server_bin.is_none() && a.sections.iter().any(|s| s != "naive") {
        return Err("give --url of a running server, or --server-bin to start one (scripts/bench does)".into());
    }
    if a.employees == 0 || a.rounds == 0 || a.levels.contains(&0) {
        return Err("--employees, --rounds and --levels must be positive".into());
    }
    if let Some(c) = a.levels.iter().find(|&&c| c > a.employees) {
        return Err(format!("concurrency {c} needs as many accounts: raise --employees to {c}"));
    }
    Ok(a)
}

impl Args {
    fn runs(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    /// Requests per claimer at concurrency `c`.
    fn per_worker(&self, c: usize) -> usize {
        self.requests.div_ceil(c).max(20)
    }

    /// Open leads the server needs for everything asked of it.
    fn leads_needed(&self) -> usize {
        let mut n = 100;
        if self.runs("claims") {
            for &c in &self.levels {
                // Uncontested leads, and contested ones (not run at concurrency 1).
                let contested = if c > 1 { self.per_worker(c) } else { 0 };
                n += self.rounds * (c * self.per_worker(c) + contested);
            }
        }
        if self.runs("import") {
            n += import::LEADS_NEEDED;
        }
        if self.runs("fanout") {
            let per_board_count: f64 = self.stream_rates.iter().map(|r| r * self.stream_secs as f64 + 2.0).sum();
            n += self.boards.len() * per_board_count as usize;
        }
        if self.runs("long") {
            n += 4;
        }
        n
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Pct {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Pct {
    fn of(mut ns: Vec<u64>) -> Pct {
        ns.sort_unstable();
        // Nearest rank, in integers: (99.9 / 100) * n in floats lands a hair above whole ranks.
        let at = |per_mille: usize| -> f64 {
            if ns.is_empty() {
                return f64::NAN;
            }
            let rank = (per_mille * ns.len()).div_ceil(1000);
            ns[rank.clamp(1, ns.len()) - 1] as f64 / 1e6
        };
        Pct { n: ns.len(), p50: at(500), p99: at(990), p999: at(999), max: at(1000) }
    }

    fn json(&self) -> Value {
        json!({"n": self.n, "p50_ms": self.p50, "p99_ms": self.p99, "p99_9_ms": self.p999, "max_ms": self.max})
    }
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "mem_gib": (mem_kb as f64 / 1048576.0 * 10.0).round() / 10.0,
        "loadavg_at_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

// ---------------------------------------------------------------------------------------------
// The server under test.

struct Target {
    base: String,
    pid: Option<u32>,
    _spawned: Option<Spawned>,
}

/// A server this bench started; killed (by its PID, through the handle) when dropped.
struct Spawned {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Seeds a fresh SQLite file with `leadboard seed` and serves it with the claim limit raised.
async fn start_server(bin: &std::path::Path, employees: usize, leads: usize) -> Result<Target, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("bench.db");
    let env = |cmd: &mut std::process::Command| {
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LEADBOARD_SQLITE_PATH", &db)
            .env("LEADBOARD_STORE", "sqlite")
            .env("LEADBOARD_LOG", "warn")
            .env("LEADBOARD_DEMO_DATA", "false")
            .env("LEADBOARD_CLAIMS_PER_MINUTE", "1000000000");
    };
    let t = Instant::now();
    let mut seed = std::process::Command::new(bin);
    seed.args(["seed", "--leads", &leads.to_string(), "--employees", &employees.to_string()]);
    env(&mut seed);
    let out = seed.output().map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("seed failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    eprintln!("seeded {leads} leads and {employees} employees in {:.1} s", t.elapsed().as_secs_f64());
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let mut serve = std::process::Command::new(bin);
    serve
        .arg("serve")
        .env("LEADBOARD_SITE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    env(&mut serve);
    let child = serve.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    let spawned = Spawned { child, dir };
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status() == 200) {
            return Ok(Target { base, pid: Some(pid), _spawned: Some(spawned) });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(spawned.dir.path().join("server.log")).unwrap_or_default();
    Err(format!("the server did not start:\n{log}"))
}

async fn boards_connected(base: &str) -> Option<u64> {
    let v: Value = reqwest::get(format!("{base}/healthz")).await.ok()?.json().await.ok()?;
    v["boards"].as_u64()
}

/// Open leads, handed out once each.
struct Pool {
    ids: Vec<String>,
    next: AtomicUsize,
}

impl Pool {
    fn take(&self, n: usize) -> Result<Vec<String>, String> {
        let from = self.next.fetch_add(n, Ordering::Relaxed);
        if from + n > self.ids.len() {
            return Err(format!("out of open leads ({} available); seed more", self.ids.len()));
        }
        Ok(self.ids[from..from + n].to_vec())
    }
}

async fn open_leads(api: &Api) -> Result<(Vec<String>, u64), String> {
    let (s, list) = api.post("/api/leads", &json!({})).await.map_err(|e| e.to_string())?;
    if s != 200 {
        return Err(format!("/api/leads: {s}"));
    }
    let mut ids: Vec<String> = list["leads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["assignee"].is_null())
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok((ids, list["seq"].as_u64().unwrap_or(0)))
}

async fn sign_in_all(http: &reqwest::Client, base: &str, n: usize) -> Result<Vec<Api>, String> {
    let names: Vec<String> = (1..=n).map(|i| format!("user{i:03}")).collect();
    let mut apis = Vec::with_capacity(n);
    // Each sign-in is an Argon2 verification: a few at a time.
    for chunk in names.chunks(8) {
        for r in futures::future::join_all(chunk.iter().map(|u| Api::login(http, base, u))).await {
            apis.push(r?);
        }
    }
    Ok(apis)
}

// ---------------------------------------------------------------------------------------------
// Claims and the no-op yardstick.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Load {
    Noop,
    Uncontested,
    Contested,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::Noop => "noop",
            Load::Uncontested => "claim, uncontested",
            Load::Contested => "claim, contested",
        }
    }
}

struct RunResult {
    load: Load,
    concurrency: usize,
    round: usize,
    requests: usize,
    secs: f64,
    lat: Pct,
    /// Failures by kind (status, transport error, wrong outcome).
    errors: BTreeMap<String, usize>,
    /// Contested: leads, and leads with exactly one winner named by every loser.
    leads: usize,
    leads_one_winner: usize,
}

impl RunResult {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    fn json(&self) -> Value {
        json!({
            "load": self.load.name(), "concurrency": self.concurrency, "round": self.round, "requests": self.requests,
            "seconds": self.secs, "per_second": self.rate(), "latency": self.lat.json(), "errors": self.errors,
            "leads": self.leads, "leads_with_exactly_one_winner": self.leads_one_winner,
        })
    }
}

/// `c` workers, each making `per_worker` requests back to back (closed loop), released together.
async fn run_load(
    load: Load,
    c: usize,
    per_worker: usize,
    round: usize,
    apis: &[Api],
    pool: &Pool,
) -> Result<RunResult, String> {
    let leads: Arc<Vec<String>> = Arc::new(match load {
        Load::Noop => Vec::new(),
        Load::Uncontested => pool.take(c * per_worker)?,
        Load::Contested => pool.take(per_worker)?,
    });
    let barrier = Arc::new(tokio::sync::Barrier::new(c + 1));
    let mut tasks = Vec::with_capacity(c);
    for w in 0..c {
        let (api, leads, barrier) = (apis[w % apis.len()].clone(), leads.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            let mut errors: BTreeMap<String, usize> = BTreeMap::new();
            let mut outcomes: Vec<(usize, String, Option<String>)> = Vec::new();
            barrier.wait().await;
            for j in 0..per_worker {
                let (path, body) = match load {
                    Load::Noop => ("/api/noop", json!({})),
                    Load::Uncontested => ("/api/claim", json!({"lead_id": leads[w * per_worker + j]})),
                    Load::Contested => ("/api/claim", json!({"lead_id": leads[j]})),
                };
                let t = Instant::now();
                let res = api.post(path, &body).await;
                lat.push(t.elapsed().as_nanos() as u64);
                match res {
                    Ok((200, reply)) => match load {
                        Load::Noop => {}
                        Load::Uncontested if reply["outcome"] == "won" => {}
                        Load::Uncontested => *errors.entry(format!("outcome {}", reply["outcome"])).or_default() += 1,
                        Load::Contested => outcomes.push((
                            j,
                            reply["outcome"].as_str().unwrap_or("?").to_owned(),
                            reply["winner"].as_str().map(str::to_owned),
                        )),
                    },
                    Ok((status, _)) => *errors.entry(format!("HTTP {status}")).or_default() += 1,
                    Err(e) => {
                        *errors
                            .entry(if e.is_timeout() { "timeout".into() } else { "transport".into() })
                            .or_default() += 1
                    }
                }
            }
            (lat, errors, outcomes, api.user.clone())
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = BTreeMap::new();
    let mut per_lead: HashMap<usize, (Vec<String>, Vec<Option<String>>)> = HashMap::new();
    for t in tasks {
        let (l, e, o, user) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        for (k, v) in e {
            *errors.entry(k).or_insert(0) += v;
        }
        for (j, outcome, winner) in o {
            let entry = per_lead.entry(j).or_default();
            if outcome == "won" {
                entry.0.push(user.clone());
            } else if outcome == "lost" {
                entry.1.push(winner);
            } else {
                *errors.entry(format!("outcome {outcome}")).or_default() += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let leads_one_winner = per_lead
        .values()
        .filter(|(won, lost)| won.len() == 1 && lost.iter().all(|w| w.as_deref() == Some(won[0].as_str())))
        .count();
    Ok(RunResult {
        load,
        concurrency: c,
        round,
        requests: c * per_worker,
        secs,
        lat: Pct::of(lat),
        errors,
        leads: if load == Load::Contested { leads.len() } else { 0 },
        leads_one_winner,
    })
}

async fn claims_section(args: &Args, apis: &[Api], pool: &Pool) -> Result<Vec<RunResult>, String> {
    let mut results = Vec::new();
    for &c in &args.levels {
        let n = args.per_worker(c);
        // Open the connections first, so the runs measure requests, not handshakes.
        run_load(Load::Noop, c, 2, 0, apis, pool).await?;
        let mut loads = vec![Load::Noop, Load::Uncontested];
        if c > 1 {
            loads.push(Load::Contested);
        }
        // One run of a few seconds on a shared machine is at the mercy of whatever else ran in
        // it: rounds, each claim run right after its yardstick.
        for round in 0..args.rounds {
            for &load in &loads {
                let r = run_load(load, c, n, round, apis, pool).await?;
                eprintln!(
                    "  {:<20} c={c:<4} round {round} {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms  errors {:?}",
                    load.name(),
                    r.rate(),
                    r.lat.p50,
                    r.lat.p99,
                    r.errors
                );
                results.push(r);
            }
        }
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------------------
// Fan-out.

#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind_of_msg: &'a str,
    seq: Option<u64>,
    #[serde(borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    lead: Option<FrameLead<'a>>,
}

#[derive(serde::Deserialize)]
struct FrameLead<'a> {
    #[serde(borrow)]
    id: &'a str,
}

#[derive(Default)]
struct BoardLog {
    /// (lead, when) for every `claimed` event of this phase's leads.
    claimed: Vec<(u32, Instant)>,
    events: u64,
    gaps: u64,
    snapshots: u64,
    closed: bool,
    /// The largest `claimed` event seen, as sent (websocket header included).
    event_bytes: usize,
}

fn lead_no(id: &str) -> u32 {
    id.trim_start_matches('L').parse().unwrap_or(u32::MAX)
}

/// A connected board and the last event sequence it saw.
struct Board {
    ws: load::Socket,
    last: u64,
}

/// When the boards of a stream phase are done: once they have the `claimed` events of
/// `expected` leads (known once the stream is over), or at `stop`. `changed` wakes boards that
/// wait for a message.
struct Goal {
    expected: AtomicUsize,
    stop: AtomicBool,
    changed: tokio::sync::Notify,
}

impl Goal {
    fn set(&self, f: impl FnOnce(&Self)) {
        f(self);
        self.changed.notify_waiters();
    }
}

/// Reads one board until it reaches its `goal`, counting the `claimed` events of leads in `leads`
/// (the phase's, known up front). No timer or wake-up future per message: with 10,000 boards those
/// cost the bench more CPU than reading.
async fn board_task(mut board: Board, leads: Arc<HashSet<u32>>, goal: Arc<Goal>) -> (Board, BoardLog) {
    use tokio_tungstenite::tungstenite::Message;
    let mut log = BoardLog::default();
    // Created before the goal is read, so a change in between still wakes it.
    let mut changed = std::pin::pin!(goal.changed.notified());
    loop {
        if goal.stop.load(Ordering::Acquire) || log.claimed.len() >= goal.expected.load(Ordering::Acquire) {
            break;
        }
        let msg = tokio::select! {
            biased;
            msg = board.ws.next() => msg,
            () = changed.as_mut() => {
                changed.set(goal.changed.notified());
                continue;
            }
        };
        let msg = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            _ => {
                log.closed = true;
                break;
            }
        };
        let now = Instant::now();
        let Ok(f) = serde_json::from_str::<Frame>(msg.as_str()) else { continue };
        match f.kind_of_msg {
            "event" => {
                let seq = f.seq.unwrap_or(0);
                if seq != board.last + 1 {
                    log.gaps += 1;
                }
                board.last = seq;
                log.events += 1;
                if let (Some("claimed"), Some(l)) = (f.kind, f.lead) {
                    let n = lead_no(l.id);
                    if leads.contains(&n) {
                        log.claimed.push((n, now));
                        let header = if msg.len() < 126 { 2 } else { 4 };
                        log.event_bytes = log.event_bytes.max(msg.len() + header);
                    }
                }
            }
            "snapshot" => {
                log.snapshots += 1;
                board.last = f.seq.unwrap_or(board.last);
            }
            _ => {}
        }
    }
    (board, log)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ
}

struct FanoutResult {
    boards: usize,
    connected: usize,
    connect_secs: f64,
    rate: f64,
    claims: usize,
    claim_errors: usize,
    stream_secs: f64,
    deliveries: u64,
    expected: u64,
    deliveries_per_sec: f64,
    lat: Pct,
    /// From sending the claim (an upper bound that includes deciding it).
    lat_from_send: Pct,
    before_reply: u64,
    gaps: u64,
    snapshots: u64,
    closed: u64,
    rss_before_kb: Option<u64>,
    rss_boards_kb: Option<u64>,
    rss_peak_kb: Option<u64>,
    /// CPU seconds used during the phase (stream and drain) by the server and by this bench.
    server_cpu: Option<f64>,
    bench_cpu: Option<f64>,
    phase_secs: f64,
    event_bytes: usize,
    floor: Option<Floor>,
}

/// The loopback floor for as many connections (`floor.rs`), with messages of `bytes`.
#[derive(Clone, Copy)]
struct Floor {
    bytes: usize,
    lat: Pct,
}

impl FanoutResult {
    fn kb_per_board(&self) -> Option<f64> {
        Some((self.rss_boards_kb? as f64 - self.rss_before_kb? as f64) / self.connected.max(1) as f64)
    }

    fn json(&self) -> Value {
        json!({
            "boards": self.boards, "connected": self.connected, "connect_seconds": self.connect_secs,
            "claims_per_second": self.rate, "claims": self.claims, "claim_errors": self.claim_errors,
            "stream_seconds": self.stream_secs, "deliveries": self.deliveries, "expected_deliveries": self.expected,
            "deliveries_per_second": self.deliveries_per_sec, "reply_to_board": self.lat.json(),
            "request_to_board": self.lat_from_send.json(),
            "arrived_before_the_reply": self.before_reply, "gaps": self.gaps, "snapshots": self.snapshots,
            "closed_early": self.closed, "rss_before_kb": self.rss_before_kb, "rss_with_boards_kb": self.rss_boards_kb,
            "rss_peak_kb": self.rss_peak_kb, "rss_per_board_kb": self.kb_per_board(),
            "server_cpu_seconds": self.server_cpu, "bench_cpu_seconds": self.bench_cpu, "phase_seconds": self.phase_secs,
            "event_bytes": self.event_bytes, "loopback_floor": self.floor.map(|f| json!({"bytes": f.bytes, "per_second": floor::PER_SECOND, "latency": f.lat.json()})),
        })
    }
}

/// Connects `boards` boards, then runs one claim stream per rate of `--stream-rates` over them;
/// then, with the boards gone, the loopback floor for as many connections.
async fn fanout(
    args: &Args,
    target: &Target,
    apis: &[Api],
    claimer: &Api,
    pool: &Pool,
    boards: usize,
) -> Result<Vec<FanoutResult>, String> {
    let host = load::host_of(&target.base).to_owned();
    let (_, seq) = open_leads(claimer).await?;
    let base_boards = boards_connected(&target.base).await.unwrap_or(0);
    let rss_before_kb = target.pid.and_then(rss_kb);

    // Connect, a hundred or so at a time.
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(128));
    let conns = futures::future::join_all((0..boards).map(|i| {
        let (api, host, sem) = (apis[i % apis.len()].clone(), host.clone(), sem.clone());
        async move {
            let _permit = sem.acquire().await;
            load::open_board(&host, &api, seq).await
        }
    }))
    .await;
    let mut sockets = Vec::new();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    for c in conns {
        match c {
            Ok(ws) => sockets.push(Board { ws, last: seq }),
            Err(e) => *failed.entry(e).or_default() += 1,
        }
    }
    if !failed.is_empty() {
        eprintln!("  {} boards could not connect: {failed:?}", boards - sockets.len());
    }
    let connected = sockets.len();
    for _ in 0..100 {
        if boards_connected(&target.base).await.unwrap_or(0) >= base_boards + connected as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_boards_kb = target.pid.and_then(rss_kb);

    let mut results = Vec::new();
    for &rate in &args.stream_rates {
        let (boards_back, r) = stream_phase(args, target, claimer, pool, sockets, rate).await?;
        sockets = boards_back;
        eprintln!(
            "  {rate}/s: reply→board p50 {:.2} ms p99 {:.2} ms max {:.2} ms; {:.0} deliveries/s; CPU s server {:?} bench {:?} in {:.1} s",
            r.lat.p50, r.lat.p99, r.lat.max, r.deliveries_per_sec, r.server_cpu, r.bench_cpu, r.phase_secs
        );
        results.push(FanoutResult { boards, connected, connect_secs, rss_before_kb, rss_boards_kb, ..r });
    }
    drop(sockets);
    // Let the server see the boards go before the next round.
    for _ in 0..200 {
        if boards_connected(&target.base).await.unwrap_or(0) <= base_boards {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bytes = results.iter().map(|r| r.event_bytes).max().unwrap_or(0);
    let rounds = floor::PER_SECOND as usize * args.stream_secs as usize;
    // A reference only: without it the fan-out's own figures still stand.
    match tokio::task::spawn_blocking(move || floor::measure(connected, bytes, rounds)).await.map_err(|e| e.to_string())
    {
        Ok(Ok(lat)) => {
            let lat = Pct::of(lat);
            eprintln!(
                "  loopback floor, {connected} connections, {bytes} bytes: p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
                lat.p50, lat.p99, lat.max
            );
            for r in &mut results {
                r.floor = Some(Floor { bytes, lat });
            }
        }
        Ok(Err(e)) | Err(e) => eprintln!("  loopback floor not measured: {e}"),
    }
    Ok(results)
}

/// One steady claim stream at `rate` per second over the connected boards.
async fn stream_phase(
    args: &Args,
    target: &Target,
    claimer: &Api,
    pool: &Pool,
    sockets: Vec<Board>,
    rate: f64,
) -> Result<(Vec<Board>, FanoutResult), String> {
    let n = ((rate * args.stream_secs as f64).round() as usize).max(1);
    let leads = pool.take(n)?;
    let wanted: Arc<HashSet<u32>> = Arc::new(leads.iter().map(|l| lead_no(l)).collect());
    let goal = Arc::new(Goal {
        expected: AtomicUsize::new(usize::MAX),
        stop: AtomicBool::new(false),
        changed: Default::default(),
    });
    let readers: Vec<_> =
        sockets.into_iter().map(|b| tokio::spawn(board_task(b, wanted.clone(), goal.clone()))).collect();

    // Per lead: when the claim was sent, and when its reply arrived.
    let replies: Arc<Mutex<HashMap<u32, (Instant, Instant)>>> = Arc::default();
    let errors = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), target.pid);
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kb) = pid.and_then(rss_kb) {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let server_pid = target.pid.map(|p| p.to_string());
    let cpu0 = (server_pid.as_deref().and_then(cpu_secs), cpu_secs("self"));
    // One claim every 1/rate s on a fresh lead, each from its own task so that a slow reply does
    // not delay the next.
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut claims = Vec::with_capacity(n);
    for lead in leads {
        tick.tick().await;
        let (api, replies, errors) = (claimer.clone(), replies.clone(), errors.clone());
        claims.push(tokio::spawn(async move {
            let sent = Instant::now();
            match api.post("/api/claim", &json!({"lead_id": lead})).await {
                Ok((200, r)) if r["outcome"] == "won" => {
                    replies.lock().unwrap().insert(lead_no(&lead), (sent, Instant::now()));
                }
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for c in claims {
        let _ = c.await;
    }
    let stream_secs = started.elapsed().as_secs_f64();
    let won = replies.lock().unwrap().len();
    goal.set(|g| g.expected.store(won, Ordering::Release));
    // Boards finish when they have every claim; stragglers get up to 30 s.
    let stopper = {
        let goal = goal.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            goal.set(|g| g.stop.store(true, Ordering::Release));
        })
    };
    let mut boards = Vec::with_capacity(readers.len());
    let mut logs = Vec::with_capacity(readers.len());
    for r in readers {
        let (b, log) = r.await.map_err(|e| e.to_string())?;
        boards.push(b);
        logs.push(log);
    }
    stopper.abort();
    let phase_secs = started.elapsed().as_secs_f64();
    let cpu1 = (server_pid.as_deref().and_then(cpu_secs), cpu_secs("self"));
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;

    let replies = replies.lock().unwrap().clone();
    let mut lat = Vec::with_capacity(logs.len() * won);
    let mut lat_from_send = Vec::with_capacity(logs.len() * won);
    let (mut before_reply, mut deliveries, mut last_delivery) = (0u64, 0u64, started);
    for log in &logs {
        for (lead, at) in &log.claimed {
            let Some((sent, reply)) = replies.get(lead) else { continue };
            deliveries += 1;
            lat_from_send.push(at.saturating_duration_since(*sent).as_nanos() as u64);
            last_delivery = last_delivery.max(*at);
            match at.checked_duration_since(*reply) {
                Some(d) => lat.push(d.as_nanos() as u64),
                None => {
                    before_reply += 1;
                    lat.push(0);
                }
            }
        }
    }
    let connected = boards.len();
    let result = FanoutResult {
        boards: connected,
        connected,
        connect_secs: 0.0,
        rate,
        claims: won,
        claim_errors: errors.load(Ordering::Relaxed),
        stream_secs,
        deliveries,
        expected: (won * connected) as u64,
        deliveries_per_sec: deliveries as f64 / last_delivery.duration_since(started).as_secs_f64().max(1e-9),
        lat: Pct::of(lat),
        lat_from_send: Pct::of(lat_from_send),
        before_reply,
        gaps: logs.iter().map(|l| l.gaps).sum(),
        snapshots: logs.iter().map(|l| l.snapshots).sum(),
        closed: logs.iter().filter(|l| l.closed).count() as u64,
        rss_before_kb: None,
        rss_boards_kb: None,
        rss_peak_kb: target.pid.map(|_| peak.load(Ordering::Relaxed)),
        server_cpu: cpu1.0.zip(cpu0.0).map(|(a, b)| a - b),
        bench_cpu: cpu1.1.zip(cpu0.1).map(|(a, b)| a - b),
        phase_secs,
        event_bytes: logs.iter().map(|l| l.event_bytes).max().unwrap_or(0),
        floor: None,
    };
    // Boards that closed are gone; the rest go on to the next phase.
    let alive = boards.into_iter().zip(&logs).filter(|(_, l)| !l.closed).map(|(b, _)| b).collect();
    Ok((alive, result))
}

// ---------------------------------------------------------------------------------------------
// The old way: read, then a plain updateDocument, against the Appwrite test server.

struct NaiveRow {
    latency_ms: u64,
    leads: usize,
    claimers: usize,
    naive_winners: Vec<usize>,
    naive_secs: f64,
    verified_winners: Vec<usize>,
    verified_errors: usize,
    verified_secs: f64,
    naive_lat: Pct,
    verified_lat: Pct,
}

impl NaiveRow {
    fn json(&self) -> Value {
        json!({
            "appwrite_latency_ms": self.latency_ms, "leads": self.leads, "claimers_per_lead": self.claimers,
            "naive_told_they_won_per_lead": self.naive_winners, "naive_seconds": self.naive_secs, "naive_latency": self.naive_lat.json(),
            "verified_winners_per_lead": self.verified_winners, "verified_errors": self.verified_errors,
            "verified_seconds": self.verified_secs, "verified_latency": self.verified_lat.json(),
        })
    }
}

/// The old browser client: read the lead and, if it is open, write yourself in with a plain
/// `updateDocument` (no precondition). True when the write "succeeded" for `me`.
async fn naive_claim(aw: &common_appwrite::Appwrite, lead: &str, me: &str) -> bool {
    let doc = aw.lead_doc(lead).await;
    if !doc["assignee"].is_null() {
        return false;
    }
    let (status, after) = aw.plain_update(lead, json!({"assignee": me})).await;
    status == 200 && after["assignee"] == me
}

async fn naive_section(args: &Args) -> Result<Vec<NaiveRow>, String> {
    use leadboard::server::config::SecurityConfig;
    let aw = common_appwrite::Appwrite::start().await;
    let security = SecurityConfig { claims_per_minute: 1_000_000, ..Default::default() };
    let replica = common_appwrite::Replica::start_with(&aw, security).await;
    let (addr, state) = (replica.addr, &replica.state);
    let leads_total = args.naive_leads * args.naive_latency.len() * 2;
    leadboard::server::seed::seed(state, leads_total, args.naive_claimers).await.map_err(|e| e.to_string())?;
    let users: Vec<String> = (1..=args.naive_claimers).map(|n| format!("user{n:03}")).collect();
    let base = format!("http://{addr}");
    let http = load::http_client(Duration::from_secs(60));
    let mut clients = Vec::new();
    for u in &users {
        clients.push(Api::login(&http, &base, u).await?);
    }
    let mut next_lead = 1;
    let mut rows = Vec::new();
    for &latency in &args.naive_latency {
        if latency > 0 {
            aw.faults(json!({"latency": {"ms": latency, "jitter_ms": latency}})).await;
        }
        let mut row = NaiveRow {
            latency_ms: latency,
            leads: args.naive_leads,
            claimers: users.len(),
            naive_winners: vec![],
            naive_secs: 0.0,
            verified_winners: vec![],
            verified_errors: 0,
            verified_secs: 0.0,
            naive_lat: Pct::default(),
            verified_lat: Pct::default(),
        };
        let (mut naive_lat, mut verified_lat) = (Vec::new(), Vec::new());
        for _ in 0..args.naive_leads {
            // Everyone at once on one lead, the old way ...
            let lead = format!("L{next_lead:05}");
            next_lead += 1;
            let barrier = Arc::new(tokio::sync::Barrier::new(users.len()));
            let t = Instant::now();
            let naive = futures::future::join_all(users.iter().map(|u| {
                let (aw, barrier, lead) = (&aw, barrier.clone(), lead.clone());
                async move {
                    barrier.wait().await;
                    let t = Instant::now();
                    let won = naive_claim(aw, &lead, u).await;
                    (won, t.elapsed().as_nanos() as u64)
                }
            }))
            .await;
            row.naive_secs += t.elapsed().as_secs_f64();
            row.naive_winners.push(naive.iter().filter(|(w, _)| *w).count());
            naive_lat.extend(naive.iter().map(|(_, l)| *l));

            // ... and through Leadboard's verified protocol.
            let lead = format!("L{next_lead:05}");
            next_lead += 1;
            let barrier = Arc::new(tokio::sync::Barrier::new(users.len()));
            let t = Instant::now();
            let verified = futures::future::join_all(clients.iter().map(|c| {
                let (barrier, lead) = (barrier.clone(), lead.clone());
                async move {
                    barrier.wait().await;
                    let t = Instant::now();
                    let r = c.post("/api/claim", &json!({"lead_id": lead})).await;
                    (r, t.elapsed().as_nanos() as u64)
                }
            }))
            .await;
            row.verified_secs += t.elapsed().as_secs_f64();
            row.verified_winners
                .push(verified.iter().filter(|(r, _)| matches!(r, Ok((200, b)) if b["outcome"] == "won")).count());
            row.verified_errors += verified.iter().filter(|(r, _)| !matches!(r, Ok((200, _)))).count();
            verified_lat.extend(verified.iter().map(|(_, l)| *l));
        }
        aw.clear_faults().await;
        row.naive_lat = Pct::of(naive_lat);
        row.verified_lat = Pct::of(verified_lat);
        eprintln!(
            "  +{latency} ms: naive winners per lead {:?}; verified {:?}",
            row.naive_winners, row.verified_winners
        );
        rows.push(row);
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// The long linearizability run.

async fn long_section(args: &Args, apis: &[Api], maria: &Api, pool: &Pool) -> Result<Value, String> {
    let leads = pool.take(4)?;
    let rec = Arc::new(Recorder::new());
    load::record_initial(maria, &rec, &leads).await?;
    let employees: Vec<Api> = apis.iter().take(32).cloned().collect();
    let n_emp = employees.len();
    let secs = Duration::from_secs(args.long_secs);
    load::mixed_load(
        employees,
        Some(maria.clone()),
        leads.clone(),
        Until { min: secs, max: secs, enough: None },
        rec.clone(),
    )
    .await;
    let h = rec.history();
    let t = Instant::now();
    let result = history::check(&h);
    let check_secs = t.elapsed().as_secs_f64();
    let tally: BTreeMap<_, _> = history::tally(&h).into_iter().collect();
    let (ok, message, states) = match &result {
        Ok(r) => (true, "linearizable".to_owned(), r.states),
        Err(v) => (false, v.to_string(), 0),
    };
    Ok(json!({
        "seconds": args.long_secs, "leads": leads, "employees": n_emp, "managers": 1,
        "operations": h.ops.len(), "by_kind": tally, "linearizable": ok, "inconclusive": result.as_ref().err().is_some_and(|v| v.inconclusive),
        "exercised": load::exercised(&h),
        "result": message, "states_searched": states, "check_seconds": check_secs,
    }))
}

// ---------------------------------------------------------------------------------------------
// Output.

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// A load's runs at one level: the run of median rate, and for claims their share of the no-op
/// run of the same round (the median share, and the lowest and highest), from rounds without
/// errors. With an even number of rounds, the lower of the two middle ones.
struct Summary<'a> {
    median: &'a RunResult,
    shares: Vec<f64>,
}

fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[(sorted.len() - 1) / 2]
}

fn summarise(results: &[RunResult]) -> Vec<Summary<'_>> {
    let mut groups: Vec<(Load, usize)> = Vec::new();
    for r in results {
        if !groups.contains(&(r.load, r.concurrency)) {
            groups.push((r.load, r.concurrency));
        }
    }
    groups
        .into_iter()
        .map(|(load, c)| {
            let mut runs: Vec<&RunResult> = results.iter().filter(|r| r.load == load && r.concurrency == c).collect();
            runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let mut shares: Vec<f64> = runs
                .iter()
                .filter(|r| r.load != Load::Noop)
                .filter_map(|r| {
                    let noop =
                        results.iter().find(|n| n.load == Load::Noop && n.concurrency == c && n.round == r.round)?;
                    // A failed request is often a fast one: a round with any counts for nothing.
                    (r.errors.is_empty() && noop.errors.is_empty()).then(|| r.rate() / noop.rate())
                })
                .collect();
            shares.sort_by(f64::total_cmp);
            Summary { median: median(&runs), shares }
        })
        .collect()
}

fn print_claims(results: &[RunResult]) {
    let rounds = results.iter().map(|r| r.round + 1).max().unwrap_or(0);
    println!(
        "\nClaims and the no-op yardstick (closed loop; each claimer its own account; the median of {rounds} rounds)"
    );
    println!(
        "{:<20} {:>5} {:>8} {:>10} {:>8} {:>8} {:>9} {:>7} {:>26}",
        "load", "conc", "requests", "per s", "p50 ms", "p99 ms", "p99.9 ms", "errors*", "vs noop (>=50%) [range]"
    );
    for Summary { median: r, shares } in summarise(results) {
        let ratio = if r.load == Load::Noop {
            String::new()
        } else if shares.is_empty() {
            "no round without errors".into()
        } else {
            let x = median(&shares);
            format!(
                "{:.1}% {} [{:.0}-{:.0}%]",
                x * 100.0,
                pass(x >= 0.5),
                shares[0] * 100.0,
                shares[shares.len() - 1] * 100.0
            )
        };
        let errors: usize = results
            .iter()
            .filter(|x| x.load == r.load && x.concurrency == r.concurrency)
            .flat_map(|x| x.errors.values())
            .sum();
        println!(
            "{:<20} {:>5} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>26}",
            r.load.name(),
            r.concurrency,
            r.requests,
            r.rate(),
            r.lat.p50,
            r.lat.p99,
            r.lat.p999,
            errors,
            ratio
        );
    }
    let contested: Vec<_> = results.iter().filter(|r| r.load == Load::Contested).collect();
    if !contested.is_empty() {
        let leads: usize = contested.iter().map(|r| r.leads).sum();
        let one: usize = contested.iter().map(|r| r.leads_one_winner).sum();
        println!("contested leads with exactly one winner, named by every loser: {one} of {leads}");
    }
    println!("* errors: over all rounds; the other columns are the run of median rate");
}

fn print_fanout(results: &[FanoutResult]) {
    println!("\nFan-out: steady claim streams; latency from the claim's reply (and from sending it) to each board receiving its event");
    println!(
        "{:>7} {:>8} {:>7} {:>10} {:>8} {:>8} {:>8} {:>13} {:>7} {:>5} {:>11} {:>8} {:>9} {:>13}",
        "boards",
        "claims/s",
        "claims",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "send p50/p99",
        "missed",
        "gaps",
        "RSS MB",
        "+MB",
        "KB/board",
        "CPU srv/bench"
    );
    let mb = |kb: Option<u64>| kb.map(|k| format!("{:.0}", k as f64 / 1024.0)).unwrap_or_else(|| "?".into());
    for f in results {
        let grown = f.rss_boards_kb.zip(f.rss_before_kb).map(|(a, b)| a.saturating_sub(b));
        let cpu = |c: Option<f64>| c.map(|c| format!("{:.0}%", 100.0 * c / f.phase_secs)).unwrap_or_else(|| "?".into());
        println!(
            "{:>7} {:>8} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>13} {:>7} {:>5} {:>11} {:>8} {:>9} {:>13}",
            f.connected,
            f.rate,
            f.claims,
            f.deliveries_per_sec,
            f.lat.p50,
            f.lat.p99,
            f.lat.max,
            format!("{:.1}/{:.1}", f.lat_from_send.p50, f.lat_from_send.p99),
            f.expected - f.deliveries.min(f.expected),
            f.gaps + f.snapshots,
            format!("{}→{}", mb(f.rss_before_kb), mb(f.rss_boards_kb)),
            mb(grown),
            f.kb_per_board().map(|k| format!("{k:.1}")).unwrap_or_else(|| "?".into()),
            format!("{}/{}", cpu(f.server_cpu), cpu(f.bench_cpu)),
        );
    }
    for f in results {
        let target = if f.boards <= 1000 { 25.0 } else { 100.0 };
        println!(
            "  {} boards (connected in {:.1} s), {} claims/s: reply→board p99 {:.1} ms < {target} ms {}; \
             request→board p99 {:.1} ms < {target} ms {}; {} of {} deliveries arrived before the claimer had its reply \
             (counted as 0 ms)",
            f.boards,
            f.connect_secs,
            f.rate,
            f.lat.p99,
            pass(f.lat.p99 < target),
            f.lat_from_send.p99,
            pass(f.lat_from_send.p99 < target),
            f.before_reply,
            f.deliveries
        );
    }
    // Per board count: the machine's floor, and for 10,000 boards the memory target.
    let mut seen = HashSet::new();
    for f in results.iter().filter(|f| seen.insert(f.boards)) {
        if let Some(Floor { bytes, lat }) = f.floor {
            println!(
                "  the machine's floor for {} boards (loopback TCP between two processes, one {bytes}-byte write per \
                 connection, {} per second, no server): p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                f.boards,
                floor::PER_SECOND,
                lat.p50,
                lat.p99,
                lat.max
            );
        }
        if f.boards < 10_000 {
            continue;
        }
        if let (Some(kb), Some(per)) = (f.rss_boards_kb, f.kb_per_board()) {
            let boards_mb = per * f.connected as f64 / 1024.0;
            let total_mb = kb as f64 / 1024.0;
            // Under the streams events queue per board: the peak is what the machine must have.
            let peak_kb = results.iter().filter(|r| r.boards == f.boards).filter_map(|r| r.rss_peak_kb).max();
            let peak = peak_kb.map(|kb| {
                let mb = kb as f64 / 1024.0;
                format!("; its peak during the streams {mb:.0} MB < 300 MB {}", pass(mb < 300.0))
            });
            println!(
                "  {} boards' memory: {boards_mb:.0} MB < 300 MB {}; the whole server's RSS {total_mb:.0} MB < 300 MB {}{}",
                f.boards,
                pass(boards_mb < 300.0),
                pass(total_mb < 300.0),
                peak.unwrap_or_default()
            );
        }
    }
}

fn print_naive(rows: &[NaiveRow]) {
    println!(
        "\nThe old way (read, then a plain updateDocument) vs Leadboard's verified claim, on the Appwrite test server"
    );
    println!(
        "{:>10} {:>6} {:>9} {:>26} {:>12} {:>26} {:>8}",
        "+latency",
        "leads",
        "claimers",
        "naive 'won' per lead min/avg/max",
        "leads >1",
        "verified won per lead",
        "errors"
    );
    for r in rows {
        let stats = |v: &[usize]| {
            let (min, max) = (v.iter().min().copied().unwrap_or(0), v.iter().max().copied().unwrap_or(0));
            format!("{min}/{:.1}/{max}", v.iter().sum::<usize>() as f64 / v.len().max(1) as f64)
        };
        println!(
            "{:>8} ms {:>6} {:>9} {:>26} {:>12} {:>26} {:>8}",
            r.latency_ms,
            r.leads,
            r.claimers,
            stats(&r.naive_winners),
            r.naive_winners.iter().filter(|&&w| w > 1).count(),
            stats(&r.verified_winners),
            r.verified_errors
        );
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first() {
        Some(a) if a == floor::WRITER_ARG => floor::writer(&args[1..]),
        _ => run().await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let machine = machine();
    println!(
        "Leadboard bench on {} × {} ({} GiB), load average at start {}",
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        machine["mem_gib"],
        machine["loadavg_at_start"].as_str().unwrap_or("?")
    );
    let mut out = json!({"machine": machine, "started_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)});
    let mut claims = Vec::new();
    let mut fanouts = Vec::new();
    let needs_server = args.sections.iter().any(|s| s != "naive");
    if needs_server {
        let target = match (&args.url, &args.server_bin) {
            (Some(url), _) => Target { base: url.clone(), pid: args.server_pid, _spawned: None },
            (None, Some(bin)) => start_server(bin, args.employees, args.leads_needed()).await?,
            (None, None) => unreachable!("checked by parse_args"),
        };
        out["server"] = json!({"url": target.base, "pid": target.pid, "started_by_bench": target._spawned.is_some()});
        let http = load::http_client(Duration::from_secs(30));
        let t = Instant::now();
        let apis = sign_in_all(&http, &target.base, args.employees).await?;
        let maria = Api::login(&http, &target.base, "maria").await?;
        eprintln!("signed in {} employees in {:.1} s", apis.len(), t.elapsed().as_secs_f64());
        let (ids, _) = open_leads(&maria).await?;
        if ids.len() < args.leads_needed() {
            return Err(format!("the server has {} open leads; this run needs {}", ids.len(), args.leads_needed()));
        }
        let pool = Pool { ids, next: AtomicUsize::new(0) };

        if args.runs("claims") {
            eprintln!("claims:");
            claims = claims_section(&args, &apis, &pool).await?;
            out["claims"] = claims.iter().map(RunResult::json).collect();
        }
        if args.runs("fanout") {
            for &b in &args.boards {
                eprintln!("fan-out, {b} boards:");
                fanouts.extend(fanout(&args, &target, &apis, &maria, &pool, b).await?);
            }
            out["fanout"] = fanouts.iter().map(FanoutResult::json).collect();
            out["fanout_stream_seconds"] = json!(args.stream_secs);
        }
        if args.runs("import") {
            eprintln!("import:");
            out["import"] = import::section(&apis, &maria, &pool).await?;
        }
        if args.runs("long") {
            eprintln!("long linearizability run, {} s:", args.long_secs);
            out["long"] = long_section(&args, &apis, &maria, &pool).await?;
        }
    }
    let mut naive = Vec::new();
    if args.runs("naive") {
        eprintln!("naive vs verified on the Appwrite test server:");
        naive = naive_section(&args).await?;
        out["naive_vs_verified"] = naive.iter().map(NaiveRow::json).collect();
    }

    if !claims.is_empty() {
        print_claims(&claims);
    }
    if !fanouts.is_empty() {
        print_fanout(&fanouts);
    }
    if !naive.is_empty() {
        print_naive(&naive);
    }
    if let Some(long) = out.get("long") {
        println!(
            "\nLinearizability, {} s of claims/releases/reassigns on {} leads by {} employees and a manager: {} operations {}; {} (checked in {:.1} s)",
            long["seconds"], long["leads"].as_array().map_or(0, Vec::len), long["employees"], long["operations"], long["by_kind"], long["result"].as_str().unwrap_or("?"), long["check_seconds"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&out).unwrap())
        .map_err(|e| format!("{}: {e}", args.json.display()))?;
    println!("\nwrote {}", args.json.display());
    let failed = correctness_failures(&claims, &fanouts, &naive, out.get("long"));
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "correctness checks failed (targets that were missed are only reported):\n  {}",
            failed.join("\n  ")
        ))
    }
}

/// What went wrong beyond speed: a failed or wrongly answered claim, a contested lead without
/// exactly one winner, a board that missed an event, saw a gap or was closed, the verified
/// Appwrite claim with other than one winner, a long history that is not linearizable or too
/// thin to say. Any of these makes the bench exit non-zero.
fn correctness_failures(
    claims: &[RunResult],
    fanouts: &[FanoutResult],
    naive: &[NaiveRow],
    long: Option<&Value>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for r in claims.iter().filter(|r| !r.errors.is_empty()) {
        failed.push(format!("{} at concurrency {} round {}: {:?}", r.load.name(), r.concurrency, r.round, r.errors));
    }
    for r in claims.iter().filter(|r| r.leads_one_winner < r.leads) {
        failed.push(format!(
            "contested at concurrency {}: {} of {} leads had exactly one winner",
            r.concurrency, r.leads_one_winner, r.leads
        ));
    }
    for f in fanouts {
        let missed = f.expected.saturating_sub(f.deliveries);
        if missed + f.gaps + f.snapshots + f.closed + f.claim_errors as u64 > 0 {
            failed.push(format!(
                "fan-out, {} boards at {}/s: {missed} missed, {} gaps, {} snapshots, {} boards closed, {} claims failed",
                f.boards, f.rate, f.gaps, f.snapshots, f.closed, f.claim_errors
            ));
        }
    }
    for r in naive.iter().filter(|r| r.verified_errors > 0 || r.verified_winners.iter().any(|&w| w != 1)) {
        failed.push(format!(
            "verified claim on Appwrite (+{} ms): winners per lead {:?}, {} errors",
            r.latency_ms, r.verified_winners, r.verified_errors
        ));
    }
    if let Some(long) = long {
        if long["linearizable"] != true {
            failed.push(format!("long run: {}", long["result"].as_str().unwrap_or("?")));
        }
        if long["exercised"] != true {
            failed.push(format!("long run: too few of some kind of operation to prove much: {}", long["by_kind"]));
        }
    }
    failed
}
