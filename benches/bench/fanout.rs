//! Fan-out: connected boards, a steady claim stream, and every board's delivery of every event.

use crate::args::Args;
use crate::floor;
use crate::measure::{rss_kb, Pct};
use crate::target::{boards_connected, open_leads, Pool, Target};
use futures::StreamExt;
use leadboard_testkit::load::{self, Api};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
#[derive(serde::Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind_of_msg: &'a str,
    pub seq: Option<u64>,
    #[serde(borrow)]
    pub kind: Option<&'a str>,
    #[serde(borrow)]
    pub lead: Option<FrameLead<'a>>,
}

#[derive(serde::Deserialize)]
pub struct FrameLead<'a> {
    #[serde(borrow)]
    pub id: &'a str,
}

#[derive(Default)]
pub struct BoardLog {
    /// (lead, when) for every `claimed` event of this phase's leads.
    pub claimed: Vec<(u32, Instant)>,
    pub events: u64,
    pub gaps: u64,
    pub snapshots: u64,
    pub closed: bool,
    /// The largest `claimed` event seen, as sent (websocket header included).
    pub event_bytes: usize,
}

pub fn lead_no(id: &str) -> u32 {
    id.trim_start_matches('L').parse().unwrap_or(u32::MAX)
}

/// A connected board and the last event sequence it saw.
pub struct Board {
    pub ws: load::Socket,
    pub last: u64,
}

/// When the boards of a stream phase are done: once they have the `claimed` events of
/// `expected` leads (known once the stream is over), or at `stop`. `changed` wakes boards that
/// wait for a message.
pub struct Goal {
    pub expected: AtomicUsize,
    pub stop: AtomicBool,
    pub changed: tokio::sync::Notify,
}

impl Goal {
    pub fn set(&self, f: impl FnOnce(&Self)) {
        f(self);
        self.changed.notify_waiters();
    }
}

/// Reads one board until it reaches its `goal`, counting the `claimed` events of leads in `leads`
/// (the phase's, known up front). No timer or wake-up future per message: with 10,000 boards those
/// cost the bench more CPU than reading.
pub async fn board_task(mut board: Board, leads: Arc<HashSet<u32>>, goal: Arc<Goal>) -> (Board, BoardLog) {
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
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ
}

pub struct FanoutResult {
    pub boards: usize,
    pub connected: usize,
    pub connect_secs: f64,
    pub rate: f64,
    pub claims: usize,
    pub claim_errors: usize,
    pub stream_secs: f64,
    pub deliveries: u64,
    pub expected: u64,
    pub deliveries_per_sec: f64,
    pub lat: Pct,
    /// From sending the claim (an upper bound that includes deciding it).
    pub lat_from_send: Pct,
    pub before_reply: u64,
    pub gaps: u64,
    pub snapshots: u64,
    pub closed: u64,
    pub rss_before_kb: Option<u64>,
    pub rss_boards_kb: Option<u64>,
    pub rss_peak_kb: Option<u64>,
    /// CPU seconds used during the phase (stream and drain) by the server and by this bench.
    pub server_cpu: Option<f64>,
    pub bench_cpu: Option<f64>,
    pub phase_secs: f64,
    pub event_bytes: usize,
    pub floor: Option<Floor>,
}

/// The loopback floor for as many connections (`floor.rs`), with messages of `bytes`.
#[derive(Clone, Copy)]
pub struct Floor {
    pub bytes: usize,
    pub lat: Pct,
}

impl FanoutResult {
    pub fn kb_per_board(&self) -> Option<f64> {
        Some((self.rss_boards_kb? as f64 - self.rss_before_kb? as f64) / self.connected.max(1) as f64)
    }

    pub fn json(&self) -> Value {
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
pub async fn fanout(
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
pub async fn stream_phase(
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
