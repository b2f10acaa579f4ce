//! Leases and caps on the embedded store: the cap under a self-race, a lease running out (live on
//! every board, exactly once), extensions and their limit, an extend racing the expiry, and
//! leases that ran out while the server was down.

use futures::future::join_all;
use leadboard::domain::{Change, LeadId, Username};
use leadboard::protocol::ServerMsg;
use leadboard::server::config::{ClaimsConfig, Config, SecurityConfig, SqliteConfig, StoreConfig};
use leadboard::server::metrics::ClaimResult;
use leadboard::server::seed;
use leadboard_testkit::server::{connect_board, next_msg, open_state, send_msg, serve, test_app, Client, TestServer};
use serde_json::json;
use std::time::Duration;

fn terms(lease_minutes: f64, max_held: u32) -> ClaimsConfig {
    ClaimsConfig { lease_minutes, max_held, expiry_every_secs: 0.1, ..ClaimsConfig::default() }
}

fn lead(n: usize) -> String {
    format!("L{n:05}")
}

#[tokio::test]
async fn twenty_claims_at_once_by_one_employee_end_at_the_cap() {
    let security = SecurityConfig { claims_per_minute: 1_000, ..Default::default() };
    let server = TestServer::start_on_terms(25, 0, security, terms(30.0, 5)).await;
    let alice = server.client("alice").await;
    let replies = join_all((1..=20).map(|n| alice.post("/api/claim", json!({"lead_id": lead(n)})))).await;
    let won = replies.iter().filter(|(s, b)| *s == 200 && b["outcome"] == "won").count();
    let refused: Vec<_> = replies.iter().filter(|(s, _)| *s != 200).collect();
    assert_eq!((won, refused.len()), (5, 15), "{replies:?}");
    for (status, body) in refused {
        assert_eq!((*status, body["message"].as_str()), (409, Some("you already hold 5 of 5")), "{body}");
        assert_eq!(body["lead"]["assignee"], json!(null), "the refused lead stays open: {body}");
    }
    let snap = server.state.leads.snapshot().await.unwrap();
    let held = snap.leads.iter().filter(|l| l.assignee.as_ref().is_some_and(|a| a.as_str() == "alice")).count();
    assert_eq!(held, 5);
    assert_eq!(server.state.metrics.claims(ClaimResult::Capped), 15);
    // A release frees a place under the cap; others' caps are their own.
    let mine = snap.leads.iter().find(|l| l.assignee.is_some()).unwrap();
    let (s, _) = alice.post("/api/release", json!({"lead_id": mine.id, "version": mine.version})).await;
    assert_eq!(s, 200);
    assert_eq!(alice.post("/api/claim", json!({"lead_id": lead(21)})).await.1["outcome"], "won");
    assert_eq!(alice.post("/api/claim", json!({"lead_id": lead(22)})).await.0, 409);
    assert_eq!(server.client("bob").await.post("/api/claim", json!({"lead_id": lead(22)})).await.1["outcome"], "won");
}

#[tokio::test]
async fn a_lease_that_runs_out_gives_the_lead_back_once_and_every_board_sees_it() {
    // 0.01 minutes: 600 ms.
    let server = TestServer::start_on_terms(3, 0, SecurityConfig::default(), terms(0.01, 0)).await;
    let (alice, bob) = (server.client("alice").await, server.client("bob").await);
    let mut board = connect_board(&server, &bob).await.unwrap();
    send_msg(&mut board, json!({"type": "resume", "after_seq": server.state.leads.latest_seq().await.unwrap()})).await;
    let (_, reply) = alice.post("/api/claim", json!({"lead_id": lead(1)})).await;
    assert_eq!(reply["outcome"], "won", "{reply}");
    let claimed_at = reply["lead"]["claimed_at"].as_i64().unwrap();
    assert_eq!(reply["lead"]["lease_until"].as_i64(), Some(claimed_at + 600), "{reply}");
    let mut expired = Vec::new();
    while let Some(msg) = next_msg(&mut board, Duration::from_secs(5)).await {
        if let ServerMsg::Event(ev) = msg {
            if let Change::Expired { previous } = &ev.change {
                expired.push((ev.lead.clone(), previous.clone(), ev.at));
                break;
            }
        }
    }
    let [(open, previous, at)] = expired.as_slice() else { panic!("no expiry reached the board") };
    assert_eq!((previous.as_str(), open.assignee.as_ref(), open.lease_until), ("alice", None, None));
    assert_eq!(open.version, reply["lead"]["version"].as_u64().unwrap() + 1, "one fenced transition");
    assert!(*at >= claimed_at + 600, "not before the deadline: {at} < {claimed_at} + 600");
    // Passes keep running: none gives the lead back a second time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = server.state.leads.recent_events(50).await.unwrap();
    assert_eq!(events.iter().filter(|e| matches!(e.change, Change::Expired { .. })).count(), 1);
    assert_eq!(bob.post("/api/claim", json!({"lead_id": lead(1)})).await.1["outcome"], "won");
}

#[tokio::test]
async fn the_holder_extends_a_limited_number_of_times_and_nobody_else_may() {
    let server = TestServer::start_on_terms(2, 0, SecurityConfig::default(), terms(30.0, 0)).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let (_, reply) = alice.post("/api/claim", json!({"lead_id": lead(1)})).await;
    let (mut version, mut until) = (reply["lead"]["version"].as_u64().unwrap(), reply["lead"]["lease_until"].as_i64());
    for other in [&bob, &maria] {
        let (s, body) = other.post("/api/extend", json!({"lead_id": lead(1), "version": version})).await;
        assert_eq!(s, 403, "{body}");
    }
    for n in 1..=2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (s, lead) = alice.post("/api/extend", json!({"lead_id": lead(1), "version": version})).await;
        assert_eq!(
            (s, lead["extensions"].as_u64(), lead["assignee"].as_str()),
            (200, Some(n), Some("alice")),
            "{lead}"
        );
        assert!(lead["lease_until"].as_i64() > until, "a fresh lease: {lead}");
        (version, until) = (lead["version"].as_u64().unwrap(), lead["lease_until"].as_i64());
    }
    let (s, body) = alice.post("/api/extend", json!({"lead_id": lead(1), "version": version})).await;
    assert_eq!((s, body["message"].as_str()), (409, Some("the lease was extended 2 times already, the most allowed")));
    let (s, body) = alice.post("/api/extend", json!({"lead_id": lead(1), "version": version - 1})).await;
    assert_eq!(s, 409, "a stale version: {body}");
    // A release ends the lease; a manager's reassign starts a fresh one, without extensions.
    let (_, given) = maria.post("/api/reassign", json!({"lead_id": lead(1), "version": version, "to": "bob"})).await;
    assert_eq!((given["assignee"].as_str(), given.get("extensions")), (Some("bob"), None), "{given}");
    assert!(given["lease_until"].as_i64() > until);
    let (_, back) = bob.post("/api/release", json!({"lead_id": lead(1), "version": given["version"]})).await;
    assert_eq!(back.get("lease_until"), None, "{back}");
}

/// The expiry pass and an extend race for the same lease: the store decides one transition at a
/// time, so either the extend wins (and that pass finds nothing due) or the expiry does (and the
/// extend is refused), never both.
#[tokio::test]
async fn an_extend_racing_the_expiry_and_the_expiry_never_both_win() {
    let server = TestServer::start_on_terms(1, 0, SecurityConfig::default(), terms(30.0, 0)).await;
    let (leads, claim_terms) = (&server.state.leads, server.state.claims.terms());
    let (id, alice) = (LeadId::parse(lead(1)).unwrap(), Username::parse("alice").unwrap());
    let mut seen = [0, 0];
    for round in 0..40 {
        let lead = leads.claim(&id, &alice, 0, &claim_terms).await.unwrap().lead;
        let deadline = lead.lease_until.unwrap();
        // An extension in the claim's own millisecond would set the same deadline.
        tokio::time::sleep(Duration::from_millis(2)).await;
        // Sent together, in either order: the writer takes them as they come.
        let extend = leads.extend(&id, lead.version, &alice, &claim_terms);
        let expire = leads.expire_due(deadline);
        let (extended, given_back) = if round % 2 == 0 {
            tokio::join!(extend, expire)
        } else {
            let (given_back, extended) = tokio::join!(expire, extend);
            (extended, given_back)
        };
        let now = leads.snapshot().await.unwrap().leads.remove(0);
        match (extended, given_back.unwrap()) {
            (Ok(ext), 0) => {
                assert_eq!((now.version, now.extensions, now.assignee.as_ref()), (ext.version, 1, Some(&alice)));
                seen[0] += 1;
                leads.expire_due(ext.lease_until.unwrap()).await.unwrap();
            }
            (Err(e), 1) => {
                assert_eq!(e.kind(), leadboard::server::store::ErrorKind::Conflict, "round {round}: {e}");
                assert_eq!((now.version, now.assignee), (lead.version + 1, None));
                seen[1] += 1;
            }
            (extended, given_back) => panic!("round {round}: extend {extended:?} and {given_back} given back"),
        }
    }
    assert!(seen[0] > 0 && seen[1] > 0, "both orders happened: {seen:?}");
}

#[tokio::test]
async fn leases_that_ran_out_while_the_server_was_down_are_given_back_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = |expiry_every_secs| Config {
        app: test_app(),
        store: StoreConfig::Sqlite(SqliteConfig::at(dir.path().join("test.db"))),
        security: SecurityConfig::default(),
        claims: ClaimsConfig { expiry_every_secs, ..terms(0.005, 0) },
    };
    {
        // An hour between passes: this server gives nothing back after its first pass at start.
        let state = open_state(config(3_600.0));
        seed::seed(&state, 2, 0).await.unwrap();
        let (addr, task) = serve(&state).await;
        let alice = Client::sign_in(addr, "alice").await;
        assert_eq!(alice.post("/api/claim", json!({"lead_id": lead(1)})).await.1["outcome"], "won");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(state.leads.snapshot().await.unwrap().leads[0].assignee.is_some(), "no pass ran yet");
        task.abort();
    }
    let state = open_state(config(3_600.0));
    let mut open = false;
    for _ in 0..50 {
        open = state.leads.snapshot().await.unwrap().leads[0].assignee.is_none();
        if open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(open, "the start-up pass gave the lead back");
    let events = state.leads.recent_events(10).await.unwrap();
    let expired: Vec<_> = events.iter().filter(|e| matches!(e.change, Change::Expired { .. })).collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].actor.as_str(), "alice");
}

#[tokio::test]
async fn a_manager_sets_a_persons_own_cap_over_the_teams_and_clears_it_again() {
    let security = SecurityConfig { claims_per_minute: 1_000, ..Default::default() };
    let server = TestServer::start_on_terms(10, 0, security, terms(30.0, 3)).await;
    let (maria, bob) = (server.client("maria").await, server.client("bob").await);
    let set = |to: serde_json::Value| json!({"username": "bob", "change": {"set": "cap", "to": to}});
    let (s, account) = maria.post("/api/users/update", set(json!(1))).await;
    assert_eq!((s, account["cap"].as_u64()), (200, Some(1)), "{account}");
    assert_eq!(bob.post("/api/claim", json!({"lead_id": lead(1)})).await.1["outcome"], "won");
    let (s, body) = bob.post("/api/claim", json!({"lead_id": lead(2)})).await;
    assert_eq!((s, body["message"].as_str()), (409, Some("you already hold 1 of 1")), "{body}");
    // Bad caps are refused with the reason; only managers set them.
    for bad in [json!(0), json!(1001), json!(-2), json!("five")] {
        let (s, body) = maria.post("/api/users/update", set(bad.clone())).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    assert_eq!(bob.post("/api/users/update", set(json!(50))).await.0, 403);
    // Cleared: the team's cap of 3 again.
    let (s, account) = maria.post("/api/users/update", set(json!(null))).await;
    assert_eq!((s, account.get("cap")), (200, None), "{account}");
    for n in 2..=3 {
        assert_eq!(bob.post("/api/claim", json!({"lead_id": lead(n)})).await.1["outcome"], "won");
    }
    let (s, body) = bob.post("/api/claim", json!({"lead_id": lead(4)})).await;
    assert_eq!((s, body["message"].as_str()), (409, Some("you already hold 3 of 3")), "{body}");
    let (_, users) = maria.post("/api/users", json!({})).await;
    assert!(users.as_array().unwrap().iter().all(|u| u.get("cap").is_none()), "{users}");
}
