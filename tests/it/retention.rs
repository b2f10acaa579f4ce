//! Data that only grew: old events and claim attempts are pruned under a claim stream while
//! every resume stays exact (events after the point, or a snapshot once it was pruned, never a
//! gap); a full store (its size limit) answers 503 with a reason on writes and on `/readyz`,
//! and loses nothing it acknowledged.

use leadboard::protocol::ServerMsg;
use leadboard::server::config::{ClaimsConfig, Config, SecurityConfig, SqliteConfig, StoreConfig};
use leadboard::server::seed;
use leadboard_testkit::server::{connect_board, next_msg, open_state, send_msg, serve, test_app, Client, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

async fn server_with(store: SqliteConfig, leads: usize) -> (TestServer, Client) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteConfig { path: dir.path().join("test.db"), ..store };
    let security = SecurityConfig { claims_per_minute: 100_000, ..Default::default() };
    let claims = ClaimsConfig::unlimited();
    let state = open_state(Config { app: test_app(), store: StoreConfig::Sqlite(store), security, claims });
    seed::seed(&state, leads, 0).await.unwrap();
    let (addr, _) = serve(&state).await;
    let server = TestServer::from_parts(addr, state, dir);
    let maria = server.client("maria").await;
    (server, maria)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_under_a_claim_stream_keeps_every_resume_exact() {
    // Events older than about a second are pruned every second.
    let store = SqliteConfig { retention_days: 1.0 / 86_400.0, prune_every_secs: 1, ..SqliteConfig::default() };
    let (server, maria) = server_with(store, 200).await;
    let mut watcher = connect_board(&server, &maria).await.unwrap();
    send_msg(&mut watcher, json!({"type": "resume", "after_seq": 200})).await;

    // A paced stream, long enough for several prunes to run during it.
    let started = Instant::now();
    let mut n = 0;
    let (mut resumed_exactly, mut snapshots) = (0, 0);
    while started.elapsed() < Duration::from_millis(3500) && n < 200 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        n += 1;
        assert_eq!(maria.post("/api/claim", json!({"lead_id": format!("L{n:05}")})).await.0, 200);
        if n % 20 == 0 {
            // A board that was away since event `from` comes back.
            let from = 200 + n as u64 - 10;
            for after in [from, 1] {
                let mut ws = connect_board(&server, &maria).await.unwrap();
                send_msg(&mut ws, json!({"type": "resume", "after_seq": after})).await;
                match next_msg(&mut ws, WAIT).await {
                    Some(ServerMsg::Event(ev)) => {
                        assert_eq!(ev.seq, after + 1, "resumed exactly after {after}");
                        resumed_exactly += 1;
                    }
                    Some(ServerMsg::Snapshot(s)) => {
                        assert!(s.seq >= after, "a snapshot at {} for a board at {after}", s.seq);
                        snapshots += 1;
                    }
                    other => panic!("resume after {after}: {other:?}"),
                }
            }
        }
    }
    // The board that stayed saw every event once, in order, pruning or not.
    for seq in 201..=200 + n as u64 {
        match next_msg(&mut watcher, WAIT).await {
            Some(ServerMsg::Event(ev)) => assert_eq!(ev.seq, seq),
            other => panic!("event {seq}: {other:?}"),
        }
    }
    assert!(resumed_exactly >= 1 && snapshots >= 1, "{resumed_exactly} exact resumes, {snapshots} snapshots");
    assert!(server.state.leads.events_after(0, 10).await.unwrap().is_none(), "the oldest events are gone");
    let latest = server.state.leads.latest_seq().await.unwrap();
    assert_eq!(latest, 200 + n as u64, "the sequence goes on past the pruned ones");
}

#[tokio::test]
async fn a_full_store_answers_503_with_a_reason_and_loses_nothing_it_acknowledged() {
    let (server, maria) = server_with(SqliteConfig { max_size_mb: 0.25, ..SqliteConfig::default() }, 3).await;
    let mut added = Vec::new();
    let mut refusal = None;
    for n in 0..5_000 {
        let id = format!("X{n:05}");
        let lead = json!({"id": id, "name": "A lead with a long name to fill pages", "company": "Acme", "value": 1});
        let (s, body) = maria.post("/api/leads/add", lead).await;
        match s {
            200 => added.push(id),
            _ => {
                refusal = Some((s, body));
                break;
            }
        }
    }
    let (status, body) = refusal.expect("the store filled up");
    assert_eq!(status, 503, "{body}");
    assert!(body["message"].as_str().unwrap().contains("full"), "{body}");
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let why: serde_json::Value = ready.json().await.unwrap();
    assert!(why["reason"].as_str().unwrap().contains("full"), "{why}");
    // Claims are refused the same way (or fit in what is left), never a 500.
    for n in 1..=3 {
        let (s, body) = maria.post("/api/claim", json!({"lead_id": format!("L{n:05}")})).await;
        assert!(s == 200 || s == 503, "{s}: {body}");
    }
    let (_, leads) = maria.post("/api/leads", json!({})).await;
    let ids: std::collections::HashSet<&str> =
        leads["leads"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert!(added.iter().all(|id| ids.contains(id.as_str())), "every acknowledged lead is there");
}
