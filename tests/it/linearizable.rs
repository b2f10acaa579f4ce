//! A short claim storm against a real server, recorded and checked for linearizability; boards
//! watching it must see every event once, in order, and end equal to the store.

use futures::StreamExt;
use leadboard::domain::{BoardState, Lead};
use leadboard::protocol::ServerMsg;
use leadboard::server::config::SecurityConfig;
use leadboard_testkit::load::{mixed_load, Api, Until, ENOUGH};
use leadboard_testkit::server::TestServer;
use linearizability::{Op, Outcome, Recorder};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EMPLOYEES: usize = 12;

/// A board reading its socket until it has applied event `target` (set once the load is over).
/// Fails on a gap, a repeat or a snapshot (which a board only gets when it fell behind).
async fn watch(
    mut ws: leadboard_testkit::load::Socket,
    mut board: BoardState,
    target: Arc<AtomicU64>,
) -> Result<(BoardState, usize), String> {
    let mut events = 0;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(30);
    while board.seq < target.load(Ordering::Acquire) {
        if tokio::time::Instant::now() > give_up {
            return Err(format!("stuck at event {} of {}", board.seq, target.load(Ordering::Acquire)));
        }
        let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await else { continue };
        let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = msg else {
            return Err(format!("the socket ended: {msg:?}"));
        };
        match serde_json::from_str::<ServerMsg>(&t).map_err(|e| e.to_string())? {
            ServerMsg::Event(ev) => {
                if ev.seq != board.seq + 1 {
                    return Err(format!("event {} after {}: a gap or a repeat", ev.seq, board.seq));
                }
                board.apply(&ev);
                events += 1;
            }
            ServerMsg::Heartbeat { .. } => {}
            other => return Err(format!("unexpected message {other:?}")),
        }
    }
    Ok((board, events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_storm_is_linearizable_and_every_board_ends_equal_to_the_store() {
    let security = SecurityConfig { claims_per_minute: 1_000_000, ..Default::default() };
    let server = TestServer::start_with(4, EMPLOYEES, security).await;
    let base = server.url("");
    let http = leadboard_testkit::load::http_client(Duration::from_secs(10));
    let mut employees = Vec::new();
    for n in 1..=EMPLOYEES {
        employees.push(Api::login(&http, &base, &format!("user{n:03}")).await.unwrap());
    }
    let maria = Api::login(&http, &base, "maria").await.unwrap();
    let leads: Vec<String> = (1..=4).map(|n| format!("L{n:05}")).collect();

    let rec = Arc::new(Recorder::new());
    let seq0 = leadboard_testkit::load::record_initial(&maria, &rec, &leads).await.unwrap();
    let start = server.state.leads.snapshot().await.unwrap();
    assert_eq!(start.seq, seq0, "nothing happened in between");
    let target = Arc::new(AtomicU64::new(u64::MAX));
    let boards: Vec<_> = futures::future::join_all((0..3).map(|i| {
        let api = if i == 0 { &maria } else { &employees[i] };
        leadboard_testkit::load::open_board(leadboard_testkit::load::host_of(&base), api, seq0)
    }))
    .await
    .into_iter()
    .map(|ws| {
        let board = BoardState::new(start.stream.clone(), start.seq, start.leads.clone());
        tokio::spawn(watch(ws.unwrap(), board, target.clone()))
    })
    .collect();

    // Two seconds, longer (up to ten) if some kind of operation is still missing.
    let until = Until {
        min: Duration::from_secs(2),
        max: Duration::from_secs(10),
        enough: Some(Box::new(leadboard_testkit::load::exercised)),
    };
    mixed_load(employees, Some(maria), leads.clone(), until, rec.clone()).await;

    // The history is linearizable, and it was not a trivial one.
    let h = rec.history();
    let report = linearizability::check(&h).unwrap_or_else(|v| panic!("{v}"));
    let tally = linearizability::tally(&h);
    println!("{report:?} {tally:?}");
    for (kind, at_least) in ENOUGH {
        let n = tally.get(kind).copied().unwrap_or(0);
        assert!(n >= at_least, "only {n} × {kind} in {tally:?}: the load did not exercise the register");
    }

    // The store ends where the history says each lead ended.
    let end = server.state.leads.snapshot().await.unwrap();
    for id in &leads {
        let last = h
            .ops
            .iter()
            .filter(|o| &o.lead == id)
            .filter_map(|o| match o.outcome {
                Outcome::Won { version } => Some(version),
                _ => None,
            })
            .max();
        let stored = end.leads.iter().find(|l| l.id.as_str() == id).unwrap();
        let initial = start.leads.iter().find(|l| l.id.as_str() == id).unwrap();
        assert_eq!(stored.version, last.unwrap_or(initial.version), "{id}: the store's version is the last one won");
    }

    // Every change in the history is an event with the same version, kind and actor, and there
    // are no others.
    let events = server.state.leads.events_after(seq0, 1_000_000).await.unwrap().unwrap();
    let mut from_events: BTreeMap<(String, u64), (String, String)> = BTreeMap::new();
    for ev in events.iter().filter(|e| e.change.kind() != "claim_lost") {
        from_events
            .insert((ev.lead.id.to_string(), ev.lead.version), (ev.change.kind().to_owned(), ev.actor.to_string()));
    }
    let mut from_history = BTreeMap::new();
    for o in &h.ops {
        if let Outcome::Won { version } = o.outcome {
            let (kind, by) = match &o.op {
                Op::Claim { by } => ("claimed", by),
                Op::Release { by, .. } => ("released", by),
                Op::Reassign { by, .. } => ("reassigned", by),
                Op::Outcome { by, .. } => ("outcome", by),
            };
            from_history.insert((o.lead.clone(), version), (kind.to_owned(), by.clone()));
        }
    }
    assert_eq!(from_events, from_history, "the event log and the clients agree on every change");

    // Every board saw each event once, in order, and ends equal to the store.
    target.store(end.seq, Ordering::Release);
    let want = BoardState::new(end.stream.clone(), end.seq, end.leads.clone());
    for b in boards {
        let (board, n) = b.await.unwrap().unwrap_or_else(|e| panic!("a board: {e}"));
        assert_eq!(n as u64, end.seq - seq0, "every event, once");
        assert_eq!(board, want, "the board equals the store");
    }

    // The checker is not a rubber stamp: this very history with one lost claim turned into a win
    // is rejected.
    let mut forged = h.clone();
    let i = forged
        .ops
        .iter()
        .position(|o| matches!((&o.op, &o.outcome), (Op::Claim { by }, Outcome::Lost { holder, version: Some(_) }) if by != holder))
        .expect("a lost claim");
    let Outcome::Lost { version: Some(v), .. } = forged.ops[i].outcome else { unreachable!() };
    forged.ops[i].outcome = Outcome::Won { version: v };
    let v = linearizability::check(&forged).expect_err("a forged second winner must be caught");
    println!("forged history: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_at_one_instant_on_one_lead_are_linearizable() {
    // Rounds of 16 claimants released together on one lead; the winner releases between rounds.
    let security = SecurityConfig { claims_per_minute: 1_000_000, ..Default::default() };
    let server = TestServer::start_with(1, 16, security).await;
    let base = server.url("");
    let http = leadboard_testkit::load::http_client(Duration::from_secs(10));
    let mut apis = Vec::new();
    for n in 1..=16 {
        apis.push(Api::login(&http, &base, &format!("user{n:03}")).await.unwrap());
    }
    let rec = Arc::new(Recorder::new());
    let lead = "L00001".to_owned();
    leadboard_testkit::load::record_initial(&apis[0], &rec, std::slice::from_ref(&lead)).await.unwrap();
    for _round in 0..10 {
        let barrier = Arc::new(tokio::sync::Barrier::new(apis.len()));
        let replies = futures::future::join_all(apis.iter().map(|a| {
            let (barrier, rec, lead) = (barrier.clone(), rec.clone(), lead.clone());
            async move {
                barrier.wait().await;
                a.claim(&rec, &lead).await
            }
        }))
        .await;
        let (winner, reply) = apis
            .iter()
            .zip(&replies)
            .find(|(_, r)| r.as_ref().is_some_and(|r| r["outcome"] == "won"))
            .expect("a winner each round");
        let lead_now: Lead = serde_json::from_value(reply.as_ref().unwrap()["lead"].clone()).unwrap();
        winner.release(&rec, &lead, lead_now.version, false).await;
    }
    let h = rec.history();
    assert_eq!(linearizability::tally(&h).get("claim won"), Some(&10));
    linearizability::check(&h).unwrap_or_else(|v| panic!("{v}"));
}

#[cfg(feature = "bench")]
/// The benchmark's yardstick (`POST /api/noop`) checks the session like a claim and changes
/// nothing.
#[tokio::test]
async fn the_noop_yardstick_checks_the_session_and_nothing_else() {
    let server = TestServer::start(2, 0).await;
    let anon = leadboard_testkit::server::Client::anonymous(&server);
    let (s, body) = anon.post("/api/noop", serde_json::json!({})).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("unauthorized")), "{body}");
    let alice = server.client("alice").await;
    let before = server.state.leads.latest_seq().await.unwrap();
    for _ in 0..3 {
        let (s, body) = alice.post("/api/noop", serde_json::json!({})).await;
        assert_eq!((s, body), (200, serde_json::Value::Null));
    }
    assert_eq!(server.state.leads.latest_seq().await.unwrap(), before, "no events, no writes");
}
