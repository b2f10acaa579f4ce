//! The event stream: gap-free sequences, resume after a disconnect, snapshots, convergence.

use futures::future::join_all;
use leadboard::domain::BoardState;
use leadboard::protocol::ServerMsg;
use leadboard_testkit::server::{connect_board, next_msg, send_msg, TestServer};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

fn event_seq_kind(msg: ServerMsg) -> (u64, String) {
    match msg {
        ServerMsg::Event(ev) => (ev.seq, ev.change.kind().to_owned()),
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn a_board_that_reconnects_gets_exactly_the_events_it_missed() {
    let server = TestServer::start(10, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let start = alice.post("/api/leads", json!({})).await.1["seq"].as_u64().unwrap();

    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": start})).await;
    alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    bob.post("/api/claim", json!({"lead_id": "L00001"})).await;
    bob.post("/api/claim", json!({"lead_id": "L00002"})).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(event_seq_kind(next_msg(&mut ws, WAIT).await.expect("a live event")));
    }
    assert_eq!(
        got,
        vec![(start + 1, "claimed".into()), (start + 2, "claim_lost".into()), (start + 3, "claimed".into())]
    );
    drop(ws);

    // Changes while the board is away.
    let lead = alice.post("/api/leads", json!({})).await.1["leads"][0].clone();
    assert_eq!(lead["id"], "L00001");
    alice.post("/api/release", json!({"lead_id": "L00001", "version": lead["version"]})).await;
    let won = maria.post("/api/claim", json!({"lead_id": "L00001"})).await.1;
    maria.post("/api/reassign", json!({"lead_id": "L00001", "version": won["lead"]["version"], "to": "carol"})).await;

    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": start + 3})).await;
    let mut missed = Vec::new();
    for _ in 0..3 {
        missed.push(event_seq_kind(next_msg(&mut ws, WAIT).await.expect("a missed event")));
    }
    assert_eq!(
        missed,
        vec![(start + 4, "released".into()), (start + 5, "claimed".into()), (start + 6, "reassigned".into())]
    );
    assert!(next_msg(&mut ws, QUIET).await.is_none(), "nothing beyond what was missed");

    // And the board goes on live after catching up.
    bob.post("/api/claim", json!({"lead_id": "L00005"})).await;
    assert_eq!(event_seq_kind(next_msg(&mut ws, WAIT).await.unwrap()), (start + 7, "claimed".into()));
}

#[tokio::test]
async fn a_board_too_far_behind_gets_a_snapshot() {
    // Seeding 1,200 leads writes 1,200 events: more than a board is caught up by one at a time.
    let server = TestServer::start(1200, 0).await;
    let alice = server.client("alice").await;
    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 0})).await;
    match next_msg(&mut ws, WAIT).await {
        Some(ServerMsg::Snapshot(leadboard::protocol::Snapshot { seq, leads, .. })) => {
            assert_eq!(seq, 1200);
            assert_eq!(leads.len(), 1200);
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    // A board that claims to be ahead of the store starts over too, and so does one resuming from
    // another stream (a replaced database).
    for ahead in [999_999, u64::MAX] {
        send_msg(&mut ws, json!({"type": "resume", "after_seq": ahead})).await;
        assert!(
            matches!(
                next_msg(&mut ws, WAIT).await,
                Some(ServerMsg::Snapshot(leadboard::protocol::Snapshot { seq: 1200, .. }))
            ),
            "after {ahead}"
        );
    }
    send_msg(&mut ws, json!({"type": "resume", "stream": "elsewhere", "after_seq": 1199})).await;
    assert!(matches!(
        next_msg(&mut ws, WAIT).await,
        Some(ServerMsg::Snapshot(leadboard::protocol::Snapshot { seq: 1200, .. }))
    ));
    let stream = server.state.leads.stream().to_owned();
    send_msg(&mut ws, json!({"type": "resume", "stream": stream, "after_seq": 1199})).await;
    assert!(matches!(next_msg(&mut ws, WAIT).await, Some(ServerMsg::Event(ev)) if ev.seq == 1200));
}

#[tokio::test]
async fn sockets_need_a_session_and_survive_garbage() {
    let server = TestServer::start(3, 0).await;
    let anon = leadboard_testkit::server::Client::anonymous(&server);
    assert!(connect_board(&server, &anon).await.is_err(), "no session, no socket");

    let alice = server.client("alice").await;
    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 3})).await;
    for garbage in [json!({"type": "launch_missiles"}), json!("hello"), json!({"type": "resume", "after_seq": "x"})] {
        send_msg(&mut ws, garbage).await;
        assert!(matches!(next_msg(&mut ws, WAIT).await, Some(ServerMsg::Error { .. })));
    }
    alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(event_seq_kind(next_msg(&mut ws, WAIT).await.unwrap()), (4, "claimed".into()));

    // A message over the 4 KiB limit closes the board with a reason.
    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 4})).await;
    send_msg(&mut ws, json!("x".repeat(5000))).await;
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(msg)) = futures::StreamExt::next(&mut ws).await {
            if let tokio_tungstenite::tungstenite::Message::Close(frame) = msg {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
        }
        None
    })
    .await
    .expect("the board is closed");
    let (code, reason) = closed.expect("with a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("oversized"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_board_converges_on_the_store_after_a_claim_storm() {
    let server = TestServer::start(10, 30).await;
    let watcher = server.client("maria").await;
    let start = watcher.post("/api/leads", json!({})).await.1;
    let seq0 = start["seq"].as_u64().unwrap();
    let leads0: Vec<leadboard::domain::Lead> = serde_json::from_value(start["leads"].clone()).unwrap();
    let stream = start["stream"].as_str().unwrap().to_owned();

    let mut boards = Vec::new();
    for _ in 0..5 {
        let mut ws = connect_board(&server, &watcher).await.unwrap();
        send_msg(&mut ws, json!({"type": "resume", "after_seq": seq0})).await;
        boards.push(ws);
    }
    let clients = join_all((1..=30).map(|n| server.client_owned(format!("user{n:03}")))).await;
    join_all(clients.iter().enumerate().map(|(i, c)| async move {
        for k in 0..4 {
            let lead = format!("L{:05}", 1 + (i + k) % 10);
            let reply = c.post("/api/claim", json!({"lead_id": lead})).await.1;
            if reply["outcome"] == "won" && k % 2 == 0 {
                c.post("/api/release", json!({"lead_id": lead, "version": reply["lead"]["version"]})).await;
            }
        }
    }))
    .await;

    let store = server.state.leads.snapshot().await.unwrap();
    for mut ws in boards {
        let mut board = BoardState::new(stream.clone(), seq0, leads0.clone());
        while board.seq < store.seq {
            match next_msg(&mut ws, WAIT).await.expect("events until the board is current") {
                ServerMsg::Event(ev) => {
                    assert_eq!(ev.seq, board.seq + 1, "no gaps, no repeats");
                    board.apply(&ev);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let want = BoardState::new(store.stream.clone(), store.seq, store.leads.clone());
        assert_eq!(board, want, "the board equals the store");
    }
}
