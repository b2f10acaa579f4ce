//! The real binary under a claim storm: SIGKILL in the middle and a restart on the same file
//! (nothing answered is lost, the event log has no gaps and replays to the store, boards
//! reconnect and converge), and SIGTERM (in-flight claims are answered, boards are told to
//! reconnect with close 1012, the process exits 0 within its grace period).

use super::process::{free_port, seed, Server};
use futures::future::join_all;
use futures::StreamExt;
use leadboard::domain::{BoardEvent, BoardState, Change, Lead, LeadId};
use leadboard::protocol::ServerMsg;
use leadboard::server::fanout::Hub;
use leadboard::server::store::sqlite::SqliteStore;
use leadboard::server::store::LeadStore;
use leadboard_testkit::server::{send_msg, Client, Socket};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);
/// The server's shutdown grace period (`http::SHUTDOWN_GRACE`).
const GRACE: Duration = leadboard::server::http::SHUTDOWN_GRACE;

/// POSTs JSON; None when no answer came (the server died or closed the connection).
async fn post(client: &Client, addr: SocketAddr, path: &str, body: Value) -> Option<(u16, Value)> {
    let req = client
        .http
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    let res = tokio::time::timeout(WAIT, req.send()).await.ok()?.ok()?;
    let status = res.status().as_u16();
    let text = tokio::time::timeout(WAIT, res.text()).await.ok()?.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// The board as `/api/leads` shows it.
async fn board_of(client: &Client, addr: SocketAddr) -> BoardState {
    let (status, list) = post(client, addr, "/api/leads", json!({})).await.expect("the lead list");
    assert_eq!(status, 200, "{list}");
    let leads: Vec<Lead> = serde_json::from_value(list["leads"].clone()).unwrap();
    BoardState::new(list["stream"].as_str().unwrap().to_owned(), list["seq"].as_u64().unwrap(), leads)
}

async fn open_board(addr: SocketAddr, client: &Client, stream: &str, after_seq: u64) -> Socket {
    let mut ws = leadboard_testkit::server::connect_board_with(addr, client, &[]).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "stream": stream, "after_seq": after_seq})).await;
    ws
}

/// What a board saw until its socket ended: its state, every event, and its close code.
struct Seen {
    board: BoardState,
    events: Vec<BoardEvent>,
    snapshots: usize,
    close: Option<u16>,
}

/// Reads a board until its socket ends (or `until` is reached), applying what comes.
async fn read_board(mut ws: Socket, mut board: BoardState, until: Option<u64>) -> Seen {
    let mut seen = Seen { board: BoardState::default(), events: Vec::new(), snapshots: 0, close: None };
    while until.is_none_or(|u| board.seq < u) {
        let next = match until {
            Some(_) => tokio::time::timeout(WAIT, ws.next()).await.expect("the board catches up in time"),
            None => ws.next().await,
        };
        match next {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                ServerMsg::Event(ev) => {
                    assert_eq!(ev.seq, board.seq + 1, "a board sees events without gaps or repeats");
                    board.apply(&ev);
                    seen.events.push(ev);
                }
                ServerMsg::Events { events } => {
                    for ev in events {
                        assert_eq!(ev.seq, board.seq + 1, "a board sees events without gaps or repeats");
                        board.apply(&ev);
                        seen.events.push(ev);
                    }
                }
                ServerMsg::Snapshot(leadboard::protocol::Snapshot { stream, seq, leads }) => {
                    seen.snapshots += 1;
                    board = BoardState::new(stream, seq, leads);
                }
                ServerMsg::Heartbeat { .. } | ServerMsg::Presence { .. } => {}
                ServerMsg::Error { message } => panic!("board error: {message}"),
            },
            Some(Ok(Message::Close(frame))) => {
                seen.close = frame.map(|f| u16::from(f.code));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    seen.board = board;
    seen
}

/// One request of the storm and its answer (None: sent, never answered).
#[derive(Debug, Clone)]
struct Sent {
    user: String,
    lead: String,
    release: bool,
    answer: Option<(u16, Value)>,
}

/// A small deterministic generator: each worker's choices are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The full event log of the file and its board, read after the server has stopped.
async fn read_store(db: &Path) -> (Vec<BoardEvent>, BoardState) {
    let store = SqliteStore::open(db, Arc::new(Hub::new())).unwrap();
    let log = store.events_after(0, 10_000_000).await.unwrap().unwrap();
    let snap = store.snapshot().await.unwrap();
    (log, BoardState::new(snap.stream, snap.seq, snap.leads))
}

/// Checks that `log` numbers events 1, 2, 3... and that replaying it from nothing, under the
/// claim rules (a claim only takes an open lead, a lost claim names the holder, versions move
/// by one), yields `store`.
fn replay(log: &[BoardEvent], store: &BoardState) {
    let mut board = BoardState::new(store.stream.clone(), 0, []);
    for (i, ev) in log.iter().enumerate() {
        assert_eq!(ev.seq, i as u64 + 1, "the event log has no gaps");
        let prev = board.get(&ev.lead.id).cloned();
        let bumped = |p: &Lead| ev.lead.version == p.version + 1;
        match (&ev.change, &prev) {
            (Change::Created, None) => {}
            (Change::Claimed, Some(p)) => {
                assert!(p.assignee.is_none() && bumped(p), "a claim took a held lead: {p:?} -> {ev:?}");
                assert_eq!(ev.lead.assignee.as_ref(), Some(&ev.actor));
            }
            (Change::ClaimLost { winner, .. }, Some(p)) => {
                assert_eq!(p.assignee.as_ref(), Some(winner), "a lost claim names the holder: {ev:?}");
                assert_eq!(&ev.lead, p, "a lost claim changes nothing");
            }
            (Change::Released { previous }, Some(p)) => {
                assert_eq!(p.assignee.as_ref(), Some(previous));
                assert!(ev.lead.assignee.is_none() && bumped(p), "{ev:?}");
            }
            other => panic!("event {} does not follow from the lead before it: {other:?}", ev.seq),
        }
        board.apply(ev);
    }
    assert_eq!(&board, store, "replaying the log gives the store's board");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkill_mid_storm_loses_nothing_answered_and_boards_converge_after_restart() {
    const LEADS: usize = 120;
    const WORKERS: usize = 24;
    const KILL_AFTER: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    seed(&db, LEADS, WORKERS);
    let port = free_port();
    let mut server = Server::start(dir.path(), &db, port, 1).await;
    let addr = server.addr;

    let watcher = Client::sign_in(addr, "maria").await;
    let users: Vec<String> = (1..=WORKERS).map(|n| format!("user{n:03}")).collect();
    let clients = join_all(users.iter().map(|u| Client::sign_in(addr, u))).await;
    let before = board_of(&watcher, addr).await;
    let (stream, seq0) = (before.stream.clone(), before.seq);
    let mut boards = Vec::new();
    for _ in 0..3 {
        let ws = open_board(addr, &watcher, &stream, seq0).await;
        boards.push(tokio::spawn(read_board(ws, before.clone(), None)));
    }

    // The storm: each worker claims random leads and releases some of what it holds.
    let answered = Arc::new(AtomicUsize::new(0));
    let workers = clients.iter().zip(&users).enumerate().map(|(i, (client, user))| {
        let answered = answered.clone();
        async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
            let mut held: Vec<(String, u64)> = Vec::new();
            let mut sent = Vec::new();
            loop {
                let (lead, body, release) = if !held.is_empty() && rng.next(10) < 4 {
                    let (lead, version) = held.remove(rng.next(held.len()));
                    (lead.clone(), json!({"lead_id": lead, "version": version}), true)
                } else {
                    let lead = format!("L{:05}", 1 + rng.next(LEADS));
                    (lead.clone(), json!({"lead_id": lead}), false)
                };
                let answer = post(client, addr, if release { "/api/release" } else { "/api/claim" }, body).await;
                let done = answer.is_none();
                if let Some((200, reply)) = &answer {
                    answered.fetch_add(1, Ordering::Relaxed);
                    if !release && reply["outcome"] == "won" {
                        held.push((lead.clone(), reply["lead"]["version"].as_u64().unwrap()));
                    }
                }
                sent.push(Sent { user: user.clone(), lead, release, answer });
                if done {
                    return sent;
                }
            }
        }
    });
    let kill = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while answered.load(Ordering::Relaxed) < KILL_AFTER {
            assert!(Instant::now() < deadline, "the storm stalled:\n{}", server.log_text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
    };
    let (sent, ()) = tokio::join!(join_all(workers), kill);
    let sent: Vec<Sent> = sent.into_iter().flatten().collect();
    let before_crash: Vec<Seen> = join_all(boards).await.into_iter().map(Result::unwrap).collect();

    // Restart on the same file and port; the same sessions still work.
    let mut server = Server::start(dir.path(), &db, port, 2).await;
    let store = board_of(&watcher, addr).await;
    assert_eq!(store.stream, stream, "the same file, the same event stream");

    // Boards reconnect from where they were and catch up by events to the store.
    for seen in &before_crash {
        assert!(seen.board.seq <= store.seq, "a board saw an event the store does not have");
        let ws = open_board(addr, &watcher, &stream, seen.board.seq).await;
        let after = read_board(ws, seen.board.clone(), Some(store.seq)).await;
        assert_eq!(after.snapshots, 0, "caught up by events");
        assert_eq!(after.board, store, "the reconnected board equals the store");
    }
    // A board from nothing gets there too.
    let ws = open_board(addr, &watcher, &stream, 0).await;
    let fresh = read_board(ws, BoardState::new(stream.clone(), 0, []), Some(store.seq)).await;
    assert_eq!(fresh.board, store);

    server.sigterm();
    let (status, _) = server.wait_exit(GRACE + Duration::from_secs(5)).await;
    assert!(status.success(), "{status}");
    let (log, file_board) = read_store(&db).await;
    assert_eq!(file_board, store);
    replay(&log, &store);

    // Every event the boards saw before the crash is in the log, unchanged.
    for seen in &before_crash {
        for ev in &seen.events {
            assert_eq!(&log[ev.seq as usize - 1], ev, "what a board was sent survived the crash");
        }
    }

    // Every answered change is in the log; every other change in the log was asked for by a
    // request that never got its answer (in flight at the kill).
    let mut unmatched: HashMap<(&'static str, String, String, u64), usize> = HashMap::new();
    for ev in log.iter().filter(|e| e.seq > seq0) {
        *unmatched
            .entry((ev.change.kind(), ev.actor.to_string(), ev.lead.id.to_string(), ev.lead.version))
            .or_default() += 1;
    }
    let mut take = |key: (&'static str, String, String, u64)| {
        let n =
            unmatched.get_mut(&key).unwrap_or_else(|| panic!("an answered change is missing from the log: {key:?}"));
        assert!(*n > 0, "answered twice: {key:?}");
        *n -= 1;
    };
    let (mut won, mut lost, mut mine, mut releases) = (0, 0, 0, 0);
    let mut last_won: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for s in sent.iter().filter(|s| s.answer.is_some()) {
        let (status, reply) = s.answer.as_ref().unwrap();
        assert_eq!(*status, 200, "{s:?}");
        if s.release {
            releases += 1;
            take(("released", s.user.clone(), s.lead.clone(), reply["version"].as_u64().unwrap()));
            continue;
        }
        let version = reply["lead"]["version"].as_u64().unwrap();
        match reply["outcome"].as_str().unwrap() {
            "won" => {
                won += 1;
                take(("claimed", s.user.clone(), s.lead.clone(), version));
                let newer = last_won.get(&s.lead).is_none_or(|(_, v)| *v < version);
                if newer {
                    last_won.insert(s.lead.clone(), (s.user.clone(), version));
                }
            }
            "lost" => {
                lost += 1;
                take(("claim_lost", s.user.clone(), s.lead.clone(), version));
            }
            "already_yours" => mine += 1,
            other => panic!("outcome {other}"),
        }
    }
    let unanswered: Vec<&Sent> = sent.iter().filter(|s| s.answer.is_none()).collect();
    assert!(unanswered.len() <= WORKERS);
    let mut committed_unanswered = 0;
    for ((kind, actor, lead, _), n) in unmatched.iter().filter(|(_, n)| **n > 0) {
        for _ in 0..*n {
            let asked = unanswered.iter().any(|s| {
                &s.user == actor && &s.lead == lead && if s.release { *kind == "released" } else { *kind != "released" }
            });
            assert!(asked, "a {kind} of {lead} by {actor} that no request explains");
            committed_unanswered += 1;
        }
    }
    assert!(committed_unanswered <= unanswered.len());

    // Every lead whose last answered claim was won is still held by its winner, unless its
    // winner's own release (in flight at the kill) took it back.
    let mut kept = 0;
    for (lead, (user, version)) in &last_won {
        let now = store.get(&LeadId::parse(lead.as_str()).unwrap()).unwrap();
        if now.version == *version {
            assert_eq!(now.assignee.as_ref().map(|u| u.as_str()), Some(user.as_str()), "{lead}");
            kept += 1;
        } else {
            let next = log.iter().find(|e| e.lead.id.as_str() == lead && e.lead.version == version + 1).unwrap();
            let by_its_holder = matches!(&next.change, Change::Released { previous } if previous.as_str() == user)
                && next.actor.as_str() == user;
            let answered_later = sent.iter().any(|s| {
                s.release && &s.lead == lead && s.answer.as_ref().is_some_and(|(_, r)| r["version"] == version + 1)
            });
            let in_flight = unanswered.iter().any(|s| s.release && &s.lead == lead && &s.user == user);
            assert!(by_its_holder && (answered_later || in_flight), "{lead} left {user} without a release: {next:?}");
        }
    }
    println!(
        "crash storm: {} requests ({won} won, {lost} lost, {mine} already yours, {releases} releases answered; {} in flight at \
         SIGKILL, {committed_unanswered} of them committed); {} events; {kept} leads still held by their last answered winner",
        sent.len(),
        unanswered.len(),
        log.len()
    );
}

/// A storm of claims that each name a different (user, lead) pair, so the event log tells
/// exactly which requests the server decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_claims_in_flight_closes_boards_with_1012_and_exits_0() {
    const LEADS: usize = 300;
    const WORKERS: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    seed(&db, LEADS, WORKERS);
    let mut server = Server::start(dir.path(), &db, free_port(), 1).await;
    let addr = server.addr;
    let watcher = Client::sign_in(addr, "maria").await;
    let users: Vec<String> = (1..=WORKERS).map(|n| format!("user{n:03}")).collect();
    let clients = join_all(users.iter().map(|u| Client::sign_in(addr, u))).await;
    let before = board_of(&watcher, addr).await;
    let seq0 = before.seq;
    let mut boards = Vec::new();
    for _ in 0..3 {
        let ws = open_board(addr, &watcher, &before.stream, seq0).await;
        boards.push(tokio::spawn(read_board(ws, before.clone(), None)));
    }

    let answered = Arc::new(AtomicUsize::new(0));
    let signalled = Arc::new(AtomicBool::new(false));
    let workers = clients.iter().zip(&users).enumerate().map(|(i, (client, user))| {
        let (answered, signalled) = (answered.clone(), signalled.clone());
        async move {
            let mut sent = Vec::new();
            let mut after_signal = 0;
            for k in 0..LEADS {
                let lead = format!("L{:05}", 1 + (i * 10 + k) % LEADS);
                let sent_before_signal = !signalled.load(Ordering::SeqCst);
                let answer = post(client, addr, "/api/claim", json!({"lead_id": lead})).await;
                let done = answer.is_none();
                if answer.is_some() {
                    answered.fetch_add(1, Ordering::Relaxed);
                    if sent_before_signal && signalled.load(Ordering::SeqCst) {
                        after_signal += 1;
                    }
                }
                sent.push(Sent { user: user.clone(), lead, release: false, answer });
                if done {
                    break;
                }
            }
            (sent, after_signal)
        }
    });
    let stop = async {
        let deadline = Instant::now() + Duration::from_secs(120);
        while answered.load(Ordering::Relaxed) < 600 {
            assert!(Instant::now() < deadline, "the storm stalled:\n{}", server.log_text());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.sigterm();
        signalled.store(true, Ordering::SeqCst);
        server.wait_exit(GRACE + Duration::from_secs(5)).await
    };
    let (results, (status, took)) = tokio::join!(join_all(workers), stop);
    assert!(status.success(), "exit status {status}:\n{}", server.log_text());
    assert!(took < GRACE, "nothing was stuck, so no need to wait out the grace period: {took:?}");

    let in_flight_answered: usize = results.iter().map(|(_, n)| n).sum();
    let sent: Vec<Sent> = results.into_iter().flat_map(|(s, _)| s).collect();
    for seen in join_all(boards).await {
        assert_eq!(seen.unwrap().close, Some(1012), "every board is told to reconnect");
    }

    // The server decided exactly the claims it answered.
    let (log, store) = read_store(&db).await;
    replay(&log, &store);
    let decided: BTreeMap<(String, String), &'static str> = log
        .iter()
        .filter(|e| e.seq > seq0)
        .map(|e| ((e.actor.to_string(), e.lead.id.to_string()), e.change.kind()))
        .collect();
    assert_eq!(decided.len(), log.len() - seq0 as usize, "one event per claim");
    let mut answered_claims = BTreeMap::new();
    for s in &sent {
        if let Some((status, reply)) = &s.answer {
            assert_eq!(*status, 200, "{s:?}");
            let kind = if reply["outcome"] == "won" { "claimed" } else { "claim_lost" };
            answered_claims.insert((s.user.clone(), s.lead.clone()), kind);
        }
    }
    let unanswered = sent.iter().filter(|s| s.answer.is_none()).count();
    assert_eq!(decided, answered_claims, "no claim was decided without its answer reaching the claimant");
    println!(
        "sigterm: {} claims answered ({in_flight_answered} of them sent before the signal and answered after it), \
         {unanswered} refused at the door; exit 0 after {took:?}",
        answered_claims.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_0_within_the_grace_period_even_when_a_request_never_ends() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stuck.db");
    seed(&db, 5, 0);
    let mut server = Server::start(dir.path(), &db, free_port(), 1).await;
    let addr = server.addr;
    let alice = Client::sign_in(addr, "alice").await;
    let board = open_board(addr, &alice, "", 0).await;
    let board = tokio::spawn(read_board(board, BoardState::default(), None));
    // Headers, then one byte of a 100-byte body: in flight until the server gives up on it.
    let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "POST /api/claim HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
    );
    stuck.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    server.sigterm();
    let seen = board.await.unwrap();
    let board_closed = started.elapsed();
    assert_eq!(seen.close, Some(1012));
    let (status, took) = server.wait_exit(GRACE + Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status}:\n{}", server.log_text());
    assert!(took <= GRACE + Duration::from_secs(2), "bounded: {took:?}");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, stuck.read_to_end(&mut rest)).await.expect("the stuck connection is closed");
    println!("stuck request: board closed with 1012 after {board_closed:?}; process exited 0 after {took:?}");
}
