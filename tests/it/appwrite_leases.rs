//! Leases and outcomes on the Appwrite store, through two app replicas against one Appwrite test
//! server: a lease running out is given back exactly once whichever replicas run the expiry pass,
//! live on both; an extend racing the expiry out of one version lets exactly one win; leases that
//! ran out while no replica ran are given back when one starts; outcomes keep or close the lead,
//! fenced like release, with the note on every board and in the lead's history.

use leadboard::domain::{Change, LeadId, Role, UserInfo, Username};
use leadboard::server::config::{ClaimsConfig, SecurityConfig};
use leadboard::server::store::ErrorKind;
use leadboard_testkit::appwrite::{Appwrite, Replica, Version};
use serde_json::json;
use std::time::Duration;

per_version!(a_lease_that_runs_out_is_given_back_once_across_replicas_and_both_boards_see_it, [V1_5, V1_8, V1_9_6]);
per_version!(an_extend_racing_the_expiry_of_another_replica_never_both_win, [V1_5, V1_9_6]);
per_version!(leases_that_ran_out_while_no_replica_ran_are_given_back_when_one_starts, [V1_5, V1_9_6]);
per_version!(outcomes_keep_or_close_the_lead_fenced_by_version_and_reach_the_other_replica, [V1_5, V1_8, V1_9_6]);

const CONVERGE: Duration = Duration::from_secs(20);

fn terms(lease_minutes: f64, expiry_every_secs: f64) -> ClaimsConfig {
    ClaimsConfig { lease_minutes, max_held: 0, expiry_every_secs, ..ClaimsConfig::default() }
}

async fn replica(aw: &Appwrite, claims: ClaimsConfig) -> Replica {
    Replica::start_on_terms(aw, SecurityConfig::default(), claims).await
}

async fn a_lease_that_runs_out_is_given_back_once_across_replicas_and_both_boards_see_it(v: Version) {
    let aw = Appwrite::start_version(v).await;
    // 0.01 minutes: 600 ms; both replicas run the expiry pass every 100 ms.
    let (a, b) = (replica(&aw, terms(0.01, 0.1)).await, replica(&aw, terms(0.01, 0.1)).await);
    aw.seed(&a, 3, 0).await;
    let (mut board_a, mut board_b) = (a.board("maria").await, b.board("bob").await);
    let (_, reply) = a.client("alice").await.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(reply["outcome"], "won", "{reply}");
    let claimed_at = reply["lead"]["claimed_at"].as_i64().unwrap();
    assert_eq!(reply["lead"]["lease_until"].as_i64(), Some(claimed_at + 600), "{reply}");

    for board in [&mut board_a, &mut board_b] {
        let expired = |b: &leadboard_testkit::appwrite::Board| {
            b.events.iter().any(|e| matches!(&e.change, Change::Expired { previous } if previous.as_str() == "alice"))
        };
        assert!(board.until(CONVERGE, expired).await, "{}'s board saw no expiry: {:?}", board.user, board.events);
        let lead = board.lead("L00001").unwrap();
        assert_eq!((lead.assignee.as_ref(), lead.lease_until, lead.version), (None, None, 3), "{lead:?}");
    }
    // Both replicas keep running passes: the lead was given back by one transition, once.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let expire = aw.claim_doc("L00001", 2).await.expect("the claim document of version 2");
    assert_eq!((expire["kind"].as_str(), expire["assignee"].as_str()), (Some("expire"), None), "{expire}");
    assert!(expire["at"].as_i64().unwrap() >= claimed_at + 600, "not before the deadline: {expire}");
    assert!(aw.claim_doc("L00001", 3).await.is_none(), "no second transition");
    let doc = aw.lead_doc("L00001").await;
    assert_eq!((doc["version"].as_i64(), doc["last_change"].as_str()), (Some(3), Some("expire")), "{doc}");
    for r in [&a, &b] {
        let events = r.state.leads.recent_events(50).await.unwrap();
        assert_eq!(events.iter().filter(|e| matches!(e.change, Change::Expired { .. })).count(), 1);
    }
    let (_, again) = b.client("bob").await.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(again["outcome"], "won", "{again}");
}

/// An extend on one replica and the expiry pass of the other, out of the same version: the claim
/// document of that version is created once, so either the extend wins (and the pass gives
/// nothing back) or the expiry does (and the extend is refused).
async fn an_extend_racing_the_expiry_of_another_replica_never_both_win(v: Version) {
    let aw = Appwrite::start_version(v).await;
    // An hour between passes: only the passes this test runs give anything back.
    let (a, b) = (replica(&aw, terms(30.0, 3_600.0)).await, replica(&aw, terms(30.0, 3_600.0)).await);
    aw.seed(&a, 1, 0).await;
    let (id, alice) = (LeadId::parse("L00001").unwrap(), Username::parse("alice").unwrap());
    let claim_terms = a.state.claims.terms();
    let holder = UserInfo { username: alice.clone(), role: Role::Employee };
    let mut seen = [0, 0];
    for round in 0..12 {
        let lead = a.state.leads.claim(&id, &alice, 0, &claim_terms).await.unwrap().lead;
        assert_eq!(lead.assignee.as_ref(), Some(&alice), "round {round}");
        // B must know the lease to find it due.
        for _ in 0..200 {
            if b.state.leads.snapshot().await.unwrap().leads.iter().any(|l| l.version == lead.version) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let deadline = lead.lease_until.unwrap();
        let extend = a.state.leads.extend(&id, lead.version, &alice, &claim_terms);
        let expire = b.state.leads.expire_due(deadline);
        let (extended, given_back) = tokio::join!(extend, expire);
        let now = aw.lead_doc("L00001").await;
        let stored = (now["version"].as_u64().unwrap(), now["extensions"].as_u64(), now["assignee"].as_str());
        match (extended, given_back.unwrap()) {
            (Ok(ext), 0) => {
                assert_eq!(stored, (ext.version, Some(1), Some("alice")), "round {round}");
                seen[0] += 1;
                a.state.leads.release(&id, ext.version, &holder).await.unwrap();
            }
            (Err(e), 1) => {
                assert_eq!(e.kind(), ErrorKind::Conflict, "round {round}: {e}");
                assert_eq!((stored.0, stored.2), (lead.version + 1, None), "round {round}");
                seen[1] += 1;
            }
            (extended, given_back) => panic!("round {round}: extend {extended:?} and {given_back} given back"),
        }
    }
    println!("extend won {}, expiry won {}", seen[0], seen[1]);
}

async fn leases_that_ran_out_while_no_replica_ran_are_given_back_when_one_starts(v: Version) {
    let aw = Appwrite::start_version(v).await;
    {
        // An hour between passes: after its pass at start, this replica gives nothing back.
        let a = replica(&aw, terms(0.005, 3_600.0)).await;
        aw.seed(&a, 2, 0).await;
        let (_, reply) = a.client("alice").await.post("/api/claim", json!({"lead_id": "L00001"})).await;
        assert_eq!(reply["outcome"], "won", "{reply}");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(aw.lead_doc("L00001").await["assignee"].is_string(), "no pass ran yet");
    }
    let b = replica(&aw, terms(0.005, 3_600.0)).await;
    let mut open = false;
    for _ in 0..200 {
        open = aw.lead_doc("L00001").await["assignee"].is_null();
        if open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(open, "the start-up pass gave the lead back");
    let expire = aw.claim_doc("L00001", 2).await.expect("the expiry's claim document");
    assert_eq!((expire["kind"].as_str(), expire["actor"].as_str()), (Some("expire"), Some("alice")), "{expire}");
    assert_eq!(
        b.state.leads.snapshot().await.unwrap().leads.iter().find(|l| l.id.as_str() == "L00001").unwrap().version,
        3
    );
}

async fn outcomes_keep_or_close_the_lead_fenced_by_version_and_reach_the_other_replica(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (replica(&aw, terms(30.0, 3_600.0)).await, replica(&aw, terms(30.0, 3_600.0)).await);
    aw.seed(&a, 2, 0).await;
    let mut board = b.board("bob").await;
    let (alice, bob) = (a.client("alice").await, b.client("bob").await);
    let (_, reply) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    let version = reply["lead"]["version"].as_u64().unwrap();
    assert!(reply["lead"]["lease_until"].is_i64(), "{reply}");

    // Only the holder, only at the version seen.
    let record = |version: u64, outcome: &str, note: &str| json!({"lead_id": "L00001", "version": version, "outcome": outcome, "note": note});
    assert_eq!(bob.post("/api/outcome", record(version, "won", "")).await.0, 403);
    assert_eq!(alice.post("/api/outcome", record(version - 1, "won", "")).await.0, 409);

    // Contacted keeps the lead, ends the lease; on the other replica's board with its note.
    let (s, lead) = alice.post("/api/outcome", record(version, "contacted", "Left a voicemail")).await;
    assert_eq!(
        (s, lead["outcome"].as_str(), lead["assignee"].as_str()),
        (200, Some("contacted"), Some("alice")),
        "{lead}"
    );
    assert_eq!(lead.get("lease_until"), None, "the lease ended: {lead}");
    let contacted = |b: &leadboard_testkit::appwrite::Board| {
        b.events
            .iter()
            .any(|e| matches!(&e.change, Change::Outcome { note, .. } if note.as_str() == "Left a voicemail"))
    };
    assert!(board.until(CONVERGE, contacted).await, "{:?}", board.events);

    // Won closes it: a claim is refused with the reason, a holder's release too; a manager reopens.
    let (s, lead) = alice.post("/api/outcome", record(lead["version"].as_u64().unwrap(), "won", "Signed")).await;
    assert_eq!((s, lead["outcome"].as_str(), lead["assignee"].as_str()), (200, Some("won"), Some("alice")), "{lead}");
    let (s, refused) = bob.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, refused["message"].as_str()), (409, Some("the lead is closed (won)")), "{refused}");
    let closed_at = lead["version"].as_u64().unwrap();
    let (s, _) = alice.post("/api/release", json!({"lead_id": "L00001", "version": closed_at})).await;
    assert_eq!(s, 409, "the holder cannot reopen a closed lead");
    assert!(board.until(CONVERGE, |b| b.lead("L00001").is_some_and(|l| l.outcome.is_some_and(|o| o.closes()))).await);

    // The lead's history on the other replica has both outcomes with their notes, in order.
    let (s, history) = bob.post("/api/leads/history", json!({"lead_id": "L00001"})).await;
    assert_eq!(s, 200, "{history}");
    let kinds: Vec<&str> = history["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.ends_with(&["claimed", "outcome", "outcome"]), "{kinds:?}");

    let maria = a.client("maria").await;
    let (s, reopened) = maria.post("/api/release", json!({"lead_id": "L00001", "version": closed_at})).await;
    assert_eq!((s, reopened.get("outcome")), (200, None), "{reopened}");
    assert_eq!(bob.post("/api/claim", json!({"lead_id": "L00001"})).await.1["outcome"], "won");
}
