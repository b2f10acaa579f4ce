//! "Next lead": fifty reps at once get fifty different leads and nobody is refused while open
//! leads remain; the team's order decides which; the answer says why; the cap and the end of the
//! open leads are refusals with reasons.

use futures::future::join_all;
use leadboard::domain::NextOrder;
use leadboard::server::config::{ClaimsConfig, SecurityConfig};
use leadboard_testkit::server::{Client, TestServer};
use serde_json::{json, Value};
use std::collections::HashSet;

fn terms(max_held: u32, next_order: NextOrder) -> ClaimsConfig {
    ClaimsConfig { max_held, next_order, ..ClaimsConfig::default() }
}

async fn press_all(clients: &[Client]) -> Vec<(u16, Value)> {
    let barrier = tokio::sync::Barrier::new(clients.len());
    join_all(clients.iter().map(|c| async {
        barrier.wait().await;
        c.post("/api/next", json!({})).await
    }))
    .await
}

#[tokio::test]
async fn fifty_reps_at_once_get_fifty_different_leads_until_none_is_open() {
    const REPS: usize = 50;
    let server = TestServer::start_on_terms(70, REPS, SecurityConfig::default(), terms(5, NextOrder::Oldest)).await;
    let clients = join_all((1..=REPS).map(|n| server.client_owned(format!("user{n:03}")))).await;
    let first = press_all(&clients).await;
    let mut got = HashSet::new();
    for (status, body) in &first {
        assert_eq!((*status, body["outcome"].as_str()), (200, Some("won")), "{body}");
        assert_eq!(body["reason"], "the oldest open lead");
        got.insert(body["lead"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(got.len(), REPS, "no lead twice");
    // Seeded leads are created in ID order: the fifty oldest are L00001..L00050.
    assert_eq!(got, (1..=REPS).map(|n| format!("L{n:05}")).collect());
    // Twenty leads are left for fifty presses: twenty win, thirty are told none is open.
    let second = press_all(&clients).await;
    let won = second.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(won, 20, "{second:?}");
    for (status, body) in second.iter().filter(|(s, _)| *s != 200) {
        assert_eq!((*status, body["message"].as_str()), (409, Some("no open lead is left")), "{body}");
    }
    let snap = server.state.leads.snapshot().await.unwrap();
    assert!(snap.leads.iter().all(|l| l.assignee.is_some()));
}

#[tokio::test]
async fn the_team_order_decides_and_the_cap_refuses() {
    let server = TestServer::start_on_terms(30, 0, SecurityConfig::default(), terms(2, NextOrder::HighestValue)).await;
    let alice = server.client("alice").await;
    let snap = server.state.leads.snapshot().await.unwrap();
    let mut by_value = snap.leads.clone();
    by_value.sort_by(|a, b| NextOrder::HighestValue.rank(a, b));
    for want in &by_value[..2] {
        let (s, body) = alice.post("/api/next", json!({})).await;
        assert_eq!((s, body["lead"]["id"].as_str()), (200, Some(want.id.as_str())), "{body}");
        assert_eq!(body["reason"], "the open lead of the highest value");
        assert_eq!(body["lead"]["value"].as_u64(), Some(want.value));
    }
    let (s, body) = alice.post("/api/next", json!({})).await;
    assert_eq!((s, body["message"].as_str()), (409, Some("you already hold 2 of 2")), "{body}");
    assert_eq!(Client::anonymous(&server).post("/api/next", json!({})).await.0, 401);
    let (s, body) = alice.post_raw("/api/next", "{not json".into()).await;
    assert_eq!(s, 400, "{body}");
}
