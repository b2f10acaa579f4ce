//! Outcomes on the embedded store: what each one does to the lead and the cap, who may record
//! them, their race with a manager's release, the lead page's history and the team's report.

use futures::future::join;
use leadboard::domain::{Change, Outcome};
use leadboard::protocol::ServerMsg;
use leadboard::server::config::{ClaimsConfig, SecurityConfig};
use leadboard_testkit::server::{connect_board, next_msg, send_msg, Client, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

fn lead(n: usize) -> String {
    format!("L{n:05}")
}

async fn claim(client: &Client, n: usize) -> Value {
    let (status, reply) = client.post("/api/claim", json!({"lead_id": lead(n)})).await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("won")), "{reply}");
    reply["lead"].clone()
}

async fn record(client: &Client, l: &Value, outcome: &str, note: &str) -> (u16, Value) {
    let body = json!({"lead_id": l["id"], "version": l["version"], "outcome": outcome, "note": note});
    client.post("/api/outcome", body).await
}

#[tokio::test]
async fn contacted_keeps_the_lead_and_its_place_under_the_cap_and_a_closing_outcome_frees_both() {
    let terms = ClaimsConfig { lease_minutes: 30.0, max_held: 1, ..ClaimsConfig::default() };
    let server = TestServer::start_on_terms(5, 0, SecurityConfig::default(), terms).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let held = claim(&alice, 1).await;
    assert!(held["lease_until"].is_i64(), "{held}");

    let (status, contacted) = record(&alice, &held, "contacted", "voicemail").await;
    assert_eq!(status, 200, "{contacted}");
    assert_eq!((contacted["status"].as_str(), contacted["outcome"].as_str()), (Some("claimed"), Some("contacted")));
    assert_eq!((contacted["assignee"].as_str(), contacted.get("lease_until")), (Some("alice"), None), "lease ended");
    assert_eq!(alice.post("/api/claim", json!({"lead_id": lead(2)})).await.0, 409, "still counted in the cap");
    let (status, extend) =
        alice.post("/api/extend", json!({"lead_id": lead(1), "version": contacted["version"]})).await;
    assert_eq!((status, extend["message"].as_str()), (409, Some("the lead has no lease to extend")));

    let (status, won) = record(&alice, &contacted, "won", "signed for 12 seats").await;
    assert_eq!((status, won["status"].as_str(), won["outcome"].as_str()), (200, Some("closed"), Some("won")), "{won}");
    // Closed: out of the pool and out of the cap; only a manager reopens it.
    let (status, refused) = bob.post("/api/claim", json!({"lead_id": lead(1)})).await;
    assert_eq!((status, refused["message"].as_str()), (409, Some("the lead is closed (won)")), "{refused}");
    assert_eq!(record(&alice, &won, "lost", "").await.0, 409, "a closed lead takes no more outcomes");
    let (status, _) = alice.post("/api/release", json!({"lead_id": lead(1), "version": won["version"]})).await;
    assert_eq!(status, 409, "the holder cannot reopen it");
    claim(&alice, 2).await;
    let (status, reopened) = maria.post("/api/release", json!({"lead_id": lead(1), "version": won["version"]})).await;
    assert_eq!((status, reopened["status"].as_str(), reopened.get("outcome")), (200, Some("open"), None), "{reopened}");
    claim(&bob, 1).await;
}

#[tokio::test]
async fn only_the_holder_records_an_outcome_on_the_version_they_saw_and_bad_input_is_a_400() {
    let server = TestServer::start(3, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let held = claim(&alice, 1).await;
    let (status, body) = record(&bob, &held, "won", "").await;
    assert_eq!((status, body["message"].as_str()), (403, Some("you don't hold this lead")), "{body}");
    assert_eq!(record(&maria, &held, "won", "").await.0, 403, "managers record nothing for others");
    let stale = json!({"id": lead(1), "version": held["version"].as_u64().unwrap() - 1});
    assert_eq!(record(&alice, &stale, "won", "").await.0, 409);
    let open = json!({"id": lead(2), "version": 1});
    assert_eq!(record(&alice, &open, "contacted", "").await.1["message"], "the lead is not claimed");
    for (outcome, note) in [("called", ""), ("won", &"x".repeat(501)[..]), ("won", "bell\u{7}")] {
        let (status, body) = record(&alice, &held, outcome, note).await;
        assert_eq!(status, 400, "{outcome} {note:?}: {body}");
    }
    let (status, body) = alice
        .post("/api/outcome", json!({"lead_id": lead(1), "version": held["version"], "outcome": "qualified"}))
        .await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("qualified")), "the note may be left out: {body}");
    let anonymous = Client::anonymous(&server);
    assert_eq!(record(&anonymous, &held, "won", "").await.0, 401);
}

#[tokio::test]
async fn an_outcome_racing_a_managers_release_of_the_same_version_lets_exactly_one_win() {
    let server = TestServer::start(40, 0).await;
    let (alice, maria) = (server.client("alice").await, server.client("maria").await);
    for n in 1..=40 {
        let held = claim(&alice, n).await;
        let release = maria.post("/api/release", json!({"lead_id": lead(n), "version": held["version"]}));
        let ((a, outcome), (m, _)) = join(record(&alice, &held, "won", ""), release).await;
        assert_eq!([a, m].iter().filter(|s| **s == 200).count(), 1, "round {n}: {a} {m} {outcome}");
        let snap = server.state.leads.snapshot().await.unwrap();
        let now = snap.leads.iter().find(|l| l.id.as_str() == lead(n)).unwrap();
        assert_eq!(now.version, held["version"].as_u64().unwrap() + 1, "one transition, round {n}");
        assert_eq!(now.outcome.is_some(), a == 200, "round {n}");
    }
}

#[tokio::test]
async fn the_lead_page_shows_every_attempt_lease_and_outcome_in_order_and_boards_get_the_outcome_live() {
    let terms = ClaimsConfig { lease_minutes: 30.0, max_held: 0, ..ClaimsConfig::default() };
    let server = TestServer::start_on_terms(3, 0, SecurityConfig::default(), terms).await;
    let (alice, bob) = (server.client("alice").await, server.client("bob").await);
    let mut board = connect_board(&server, &bob).await.unwrap();
    send_msg(&mut board, json!({"type": "resume", "after_seq": server.state.leads.latest_seq().await.unwrap()})).await;
    let held = claim(&alice, 1).await;
    assert_eq!(bob.post("/api/claim", json!({"lead_id": lead(1)})).await.1["outcome"], "lost");
    let (_, extended) = alice.post("/api/extend", json!({"lead_id": lead(1), "version": held["version"]})).await;
    assert_eq!(record(&alice, &extended, "contacted", "call back Monday").await.0, 200);
    claim(&alice, 2).await;

    let mut seen = None;
    while let Some(msg) = next_msg(&mut board, Duration::from_secs(5)).await {
        if let ServerMsg::Event(ev) = msg {
            if let Change::Outcome { outcome, note } = ev.change {
                seen = Some((outcome, note.to_string(), ev.actor.to_string()));
                break;
            }
        }
    }
    assert_eq!(seen, Some((Outcome::Contacted, "call back Monday".into(), "alice".into())));

    // Anyone on the team reads a lead's history; it holds this lead's events only, oldest first.
    let (status, page) = bob.post("/api/leads/history", json!({"lead_id": lead(1)})).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["lead"]["outcome"].as_str(), page["lead"]["assignee"].as_str()),
        (Some("contacted"), Some("alice"))
    );
    let kinds: Vec<_> = page["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "claimed", "claim_lost", "extended", "outcome"], "{page}");
    let events = page["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["lead"]["id"] == lead(1)));
    assert!(events.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert_eq!((events[2]["actor"].as_str(), events[2]["winner"].as_str()), (Some("bob"), Some("alice")));
    assert!(events[2]["margin_ms"].as_i64().is_some_and(|m| m >= 0));
    assert!(events[1]["lead"]["lease_until"].is_i64(), "the claim's lease is in its event");
    assert_eq!(events[4]["note"], "call back Monday");
    assert_eq!(bob.post("/api/leads/history", json!({"lead_id": "NOPE1"})).await.0, 404);
    assert_eq!(bob.post("/api/leads/history", json!({"lead_id": "no such id"})).await.0, 400);
    assert_eq!(Client::anonymous(&server).post("/api/leads/history", json!({"lead_id": lead(1)})).await.0, 401);
}

#[tokio::test]
async fn the_report_counts_each_persons_outcomes_and_times_the_first_one_of_each_claim() {
    let server = TestServer::start(6, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let one = claim(&alice, 1).await;
    let (_, one) = record(&alice, &one, "contacted", "").await;
    record(&alice, &one, "won", "").await;
    let two = claim(&alice, 2).await;
    record(&alice, &two, "disqualified", "wrong number").await;
    let three = claim(&bob, 3).await;
    record(&bob, &three, "lost", "").await;
    claim(&bob, 4).await;

    let (status, report) = maria.post("/api/outcomes", json!({"days": 7})).await;
    assert_eq!(status, 200, "{report}");
    let people = report["people"].as_array().unwrap();
    let who: Vec<_> = people.iter().map(|p| p["user"].as_str().unwrap()).collect();
    assert_eq!(who, ["alice", "bob"], "only people who recorded outcomes: {report}");
    // In Outcome::ALL's order: contacted, qualified, disqualified, won, lost.
    assert_eq!(people[0]["counts"], json!([1, 0, 1, 1, 0]));
    assert_eq!(people[1]["counts"], json!([0, 0, 0, 0, 1]));
    assert_eq!((people[0]["first_outcomes"].as_u64(), people[1]["first_outcomes"].as_u64()), (Some(2), Some(1)));
    assert!(people[0]["median_to_first_ms"].as_i64().is_some_and(|ms| (0..60_000).contains(&ms)), "{report}");

    assert_eq!(alice.post("/api/outcomes", json!({"days": 7})).await.0, 403);
    for days in [0, 91] {
        assert_eq!(maria.post("/api/outcomes", json!({"days": days})).await.0, 400, "{days} days");
    }
}
