//! The Appwrite store under faults injected into the test server (`POST /__faults`): 5xx bursts
//! before and after the write applies, timeouts, latency, dropped Realtime sockets and lost
//! Realtime events. Still one winner, never a false `won`, and every board (of both replicas)
//! converges on the stored assignee once the fault heals.

use futures::future::join_all;
use leadboard_testkit::appwrite::{stored_assignee, Appwrite, Board, Replica, Version};
use serde_json::json;
use std::time::Duration;

per_version!(claims_stay_single_and_verified_through_5xx_bursts_timeouts_and_latency, [V1_5, V1_8, V1_9_6]);
per_version!(a_claim_whose_answers_are_lost_after_applying_is_still_won, [V1_5, V1_8, V1_9_6]);
per_version!(boards_converge_after_dropped_sockets_and_lost_realtime_events, [V1_5, V1_8, V1_9_6]);

const CONVERGE: Duration = Duration::from_secs(30);

/// Every board shows every lead with the stored assignee and version (re-reading the store
/// while the reconciler may still be adopting a foreign write).
async fn converge(aw: &Appwrite, boards: &mut [Board], leads: &[&str]) {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let mut stored = Vec::new();
        for id in leads {
            let doc = aw.lead_doc(id).await;
            stored.push((stored_assignee(&doc), doc["version"].as_u64().unwrap()));
        }
        let matches = |bd: &Board| {
            leads
                .iter()
                .zip(&stored)
                .all(|(id, (who, v))| bd.assignee(id) == *who && bd.lead(id).map(|l| l.version) == Some(*v))
        };
        let mut all = true;
        for board in boards.iter_mut() {
            all &= board.until(Duration::from_millis(300), matches).await;
        }
        if all {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let shown: Vec<Vec<_>> = boards
                .iter()
                .map(|bd| leads.iter().map(|id| (bd.assignee(id), bd.lead(id).map(|l| l.version))).collect())
                .collect();
            panic!("boards did not converge on the store: stored {stored:?}, boards {shown:?}");
        }
    }
}

/// A claim race on `lead`; checks the invariants that hold under any fault and returns the
/// winner told so, if any.
async fn race(aw: &Appwrite, clients: &[leadboard_testkit::server::Client], lead: &str) -> Option<String> {
    let replies = leadboard_testkit::server::claim_race(clients, lead).await;
    let doc = aw.lead_doc(lead).await;
    let stored = stored_assignee(&doc).expect("someone holds the lead");
    let won: Vec<_> = replies.iter().filter(|(s, b)| *s == 200 && b["outcome"] == "won").collect();
    assert!(won.len() <= 1, "at most one winner: {won:?}");
    for (status, body) in &replies {
        match (*status, body["outcome"].as_str()) {
            (200, Some("won")) => assert_eq!(body["lead"]["assignee"].as_str(), Some(stored.as_str()), "no false won"),
            (200, Some("lost")) => assert_eq!(body["winner"].as_str(), Some(stored.as_str()), "losers name the holder"),
            (200, other) => panic!("unexpected outcome {other:?}: {body}"),
            (503, _) => {} // Appwrite stayed down for this request: a clear error, not a guess
            (s, _) => panic!("unexpected status {s}: {body}"),
        }
    }
    let version = doc["version"].as_u64().unwrap();
    let claim = aw.claim_doc(lead, version - 1).await.expect("the claim document behind the lead");
    assert_eq!(claim["assignee"].as_str(), Some(stored.as_str()), "the lead and its claim document agree");
    won.first().map(|(_, b)| b["lead"]["assignee"].as_str().unwrap().to_owned())
}

async fn claims_stay_single_and_verified_through_5xx_bursts_timeouts_and_latency(v: Version) {
    const N: usize = 40;
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 6, N).await;
    let replicas = [&a, &b];
    let clients = join_all((1..=N).map(|n| replicas[n % 2].client_owned(format!("user{n:03}")))).await;
    let mut boards = vec![a.board("maria").await, b.board("alice").await];

    // 5xx before the call applies, and after it applied (the answer is lost), with latency.
    aw.faults(json!({
        "latency": {"ms": 2, "jitter_ms": 10},
        "errors": [
            {"status": 503, "fraction": 0.2},
            {"status": 500, "fraction": 0.15, "phase": "after"},
            {"status": 429, "fraction": 0.05},
        ]
    }))
    .await;
    race(&aw, &clients, "L00001").await;
    // A burst: every claim document create and lead update applies but answers 5xx, twice.
    aw.faults(json!({"errors": [
        {"status": 502, "count": 6, "phase": "after", "method": "POST", "path_prefix": "/v1/databases/leadboard/collections/claims"},
        {"status": 500, "count": 6, "phase": "after", "method": "PATCH", "path_prefix": "/v1/databases/leadboard/collections/leads"},
    ]}))
    .await;
    race(&aw, &clients, "L00002").await;
    // Timeouts: the answer hangs longer than the client's 3 s timeout after applying.
    aw.faults(json!({"errors": [
        {"status": 500, "count": 2, "phase": "after", "hang_ms": 4000, "method": "POST", "path_prefix": "/v1/databases/leadboard/collections/claims"},
    ]}))
    .await;
    race(&aw, &clients[..10], "L00003").await;
    aw.clear_faults().await;
    converge(&aw, &mut boards, &["L00001", "L00002", "L00003"]).await;
}

async fn a_claim_whose_answers_are_lost_after_applying_is_still_won(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 2, 0).await;
    let alice = a.client("alice").await;
    // The claim document is created and the lead updated, but both answers are lost: the retry
    // must recognise its own claim document (by request ID), not call it a loss.
    aw.faults(json!({"errors": [
        {"status": 503, "count": 1, "phase": "after", "method": "POST", "path_prefix": "/v1/databases/leadboard/collections/claims"},
        {"status": 503, "count": 1, "phase": "after", "method": "PATCH", "path_prefix": "/v1/databases/leadboard/collections/leads"},
    ]}))
    .await;
    let (s, reply) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, reply["outcome"].as_str()), (200, Some("won")), "{reply}");
    assert_eq!(aw.lead_doc("L00001").await["version"], 2, "applied exactly once");
    // Appwrite down for good: a clear 503, never a won.
    aw.faults(json!({"errors": [{"status": 503, "fraction": 1.0}]})).await;
    let (s, reply) = alice.post("/api/claim", json!({"lead_id": "L00002"})).await;
    assert_eq!(s, 503, "{reply}");
    aw.clear_faults().await;
    assert!(aw.lead_doc("L00002").await["assignee"].is_null());
}

async fn boards_converge_after_dropped_sockets_and_lost_realtime_events(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 8, 0).await;
    let mut boards = vec![a.board("alice").await, b.board("bob").await, b.board("maria").await];
    let users = ["alice", "bob", "carol"];
    let mut clients = Vec::new();
    for (i, u) in users.iter().enumerate() {
        clients.push(if i % 2 == 0 { a.client(u).await } else { b.client(u).await });
    }
    // Half of all Realtime deliveries vanish, and the sockets drop now and then.
    aw.faults(json!({"realtime": {"drop_event_fraction": 0.5}})).await;
    let leads: Vec<String> = (1..=8).map(|n| format!("L{n:05}")).collect();
    for (i, lead) in leads.iter().enumerate() {
        let c = &clients[i % clients.len()];
        let (_, r) = c.post("/api/claim", json!({"lead_id": lead})).await;
        assert_eq!(r["outcome"], "won", "{r}");
        if i % 3 == 0 {
            let v = r["lead"]["version"].as_u64().unwrap();
            let (s, _) = c.post("/api/release", json!({"lead_id": lead, "version": v})).await;
            assert_eq!(s, 200);
        }
        if i == 4 {
            aw.faults(json!({"drop_sockets": true})).await;
        }
    }
    // A write from outside while events are being lost, then a dropped socket.
    aw.plain_update("L00002", json!({"assignee": "carol"})).await;
    aw.faults(json!({"drop_sockets": true})).await;
    aw.clear_faults().await;
    let ids: Vec<&str> = leads.iter().map(String::as_str).collect();
    converge(&aw, &mut boards, &ids).await;
}
