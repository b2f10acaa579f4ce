//! The Appwrite store through real app replicas against the in-process Appwrite test server:
//! the claim race across two replicas, the naive client-side update it replaces, live events
//! across replicas, foreign writes, fencing, and `appwrite setup`.

use futures::future::join_all;
use leadboard::server::store::appwrite::schema;
use leadboard_testkit::appwrite::{stored_assignee, urlenc, Appwrite, Replica, Version, DB};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

per_version!(two_hundred_claimers_through_two_replicas_have_exactly_one_winner, [V1_5, V1_8, V1_9_6]);
per_version!(the_naive_update_lets_several_win_where_the_verified_protocol_lets_one, [V1_5, V1_9_6]);
per_version!(a_claim_on_one_replica_shows_up_live_on_a_board_of_the_other, [V1_5, V1_6_0, V1_7, V1_8, V1_9_0, V1_9_6]);
per_version!(a_foreign_write_over_a_held_claim_flags_the_holder, [V1_5, V1_8, V1_9_6]);
per_version!(release_and_reassign_are_fenced_by_version_across_replicas, [V1_5, V1_8, V1_9_6]);
per_version!(appwrite_setup_twice_is_fine, [V1_5, V1_6_0, V1_7, V1_8, V1_9_0, V1_9_6]);

const CONVERGE: Duration = Duration::from_secs(20);

async fn two_hundred_claimers_through_two_replicas_have_exactly_one_winner(v: Version) {
    const CLAIMERS: usize = 210;
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 5, CLAIMERS).await;
    let replicas = [&a, &b];
    let users: Vec<String> = (1..=CLAIMERS).map(|n| format!("user{n:03}")).collect();
    let clients = join_all(users.iter().enumerate().map(|(i, u)| replicas[(i + 1) % 2].client(u))).await;
    let winner = leadboard_testkit::server::assert_one_winner(
        &users,
        &leadboard_testkit::server::claim_race(&clients, "L00003").await,
    );
    // The stored lead and the claim document agree, and the lead moved exactly one version.
    let doc = aw.lead_doc("L00003").await;
    assert_eq!(stored_assignee(&doc).as_deref(), Some(winner.as_str()));
    assert_eq!(doc["version"], 2);
    let claim = aw.claim_doc("L00003", 1).await.expect("the claim document of version 1");
    assert_eq!(claim["assignee"], winner.as_str());
    assert_eq!(claim["kind"], "claim");
    assert!(aw.claim_doc("L00003", 2).await.is_none(), "no second transition");
    // Every attempt was recorded.
    let q = json!({"method": "equal", "attribute": "lead_id", "values": ["L00003"]}).to_string();
    let lim = json!({"method": "limit", "values": [5000]}).to_string();
    let (_, attempts) = aw
        .call(
            reqwest::Method::GET,
            &format!(
                "/databases/{DB}/collections/attempts/documents?queries[]={}&queries[]={}",
                urlenc(&q),
                urlenc(&lim)
            ),
            None,
        )
        .await;
    assert_eq!(attempts["total"], CLAIMERS, "{attempts}");
}

/// The old browser client: GET the lead, and if it is open, write the assignee with a plain
/// `updateDocument` (no precondition). Returns whether the write "succeeded" for `me`.
async fn naive_claim(aw: &Appwrite, lead: &str, me: &str) -> bool {
    let doc = aw.lead_get(lead).await;
    if !doc["assignee"].is_null() {
        return false;
    }
    let (status, after) = aw.plain_update(lead, json!({"assignee": me})).await;
    status == 200 && after["assignee"] == me
}

async fn the_naive_update_lets_several_win_where_the_verified_protocol_lets_one(v: Version) {
    const N: usize = 20;
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, N).await;
    let clients = join_all((1..=N).map(|n| a.client_owned(format!("user{n:03}")))).await;
    // A little latency, as over the internet, so the reads happen before the writes land.
    aw.faults(json!({"latency": {"ms": 20, "jitter_ms": 20}})).await;

    let barrier = Arc::new(Barrier::new(N));
    let naive = join_all((1..=N).map(|n| {
        let (aw, barrier) = (&aw, barrier.clone());
        async move {
            barrier.wait().await;
            naive_claim(aw, "L00001", &format!("user{n:03}")).await
        }
    }))
    .await;
    let naive_wins = naive.iter().filter(|w| **w).count();

    let verified = leadboard_testkit::server::claim_race(&clients, "L00002").await;
    aw.clear_faults().await;
    let verified_wins = verified.iter().filter(|(s, b)| *s == 200 && b["outcome"] == "won").count();
    assert!(verified.iter().all(|(s, _)| *s == 200), "{verified:?}");
    println!("naive plain updates: {naive_wins} of {N} told they won; verified protocol: {verified_wins}");
    assert!(naive_wins >= 2, "the naive way should let several think they won (got {naive_wins})");
    assert_eq!(verified_wins, 1, "the verified protocol has exactly one winner");
}

async fn a_claim_on_one_replica_shows_up_live_on_a_board_of_the_other(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 5, 0).await;
    let mut board_b = b.board("carol").await;
    let alice = a.client("alice").await;
    let (s, reply) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, reply["outcome"].as_str()), (200, Some("won")), "{reply}");
    assert!(
        board_b.until(CONVERGE, |bd| bd.assignee("L00001").as_deref() == Some("alice")).await,
        "replica B's board shows alice's claim made on replica A"
    );
    let claimed =
        board_b.events.iter().find(|e| e.lead.id.as_str() == "L00001" && e.change.kind() == "claimed").unwrap();
    assert_eq!(claimed.actor.as_str(), "alice");
    // A lost claim on B reaches the manager's feed on A.
    let mut board_a = a.board("maria").await;
    let bob = b.client("bob").await;
    let (_, lost) = bob.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(lost["outcome"], "lost");
    assert_eq!(lost["winner"], "alice");
    assert!(
        board_a
            .until(CONVERGE, |bd| bd
                .events
                .iter()
                .any(|e| e.change.kind() == "claim_lost" && e.actor.as_str() == "bob"))
            .await,
        "the conflict on B shows up in A's feed"
    );
}

async fn a_foreign_write_over_a_held_claim_flags_the_holder(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 5, 0).await;
    let bob = a.client("bob").await;
    let (_, won) = bob.post("/api/claim", json!({"lead_id": "L00004"})).await;
    assert_eq!(won["outcome"], "won", "{won}");
    let held_version = won["lead"]["version"].as_u64().unwrap();
    let mut board = b.board("bob").await;
    assert!(board.until(CONVERGE, |bd| bd.assignee("L00004").as_deref() == Some("bob")).await);

    // The console (or an old client) overwrites the assignee; it does not touch `version`.
    let (s, _) = aw.plain_update("L00004", json!({"assignee": "carol"})).await;
    assert_eq!(s, 200);

    assert!(board.until(CONVERGE, |bd| bd.lost_by("bob").is_some()).await, "bob's board flags the lost lead");
    let ev = board.lost_by("bob").unwrap().clone();
    assert_eq!(ev.lead.id.as_str(), "L00004");
    assert_eq!(ev.lead.assignee.as_ref().map(|a| a.as_str()), Some("carol"), "the flag names the new assignee");
    assert!(ev.lead.version > held_version, "the change comes with a higher version than bob's board had");
    assert_eq!(board.assignee("L00004").as_deref(), Some("carol"));
    // The store adopted the write: the lead has a new version and a claim document naming carol.
    let doc = aw.lead_doc("L00004").await;
    assert_eq!(doc["version"].as_u64().unwrap(), held_version + 1);
    let adopted = aw.claim_doc("L00004", held_version).await.expect("an adoption claim document");
    assert_eq!((adopted["kind"].as_str(), adopted["assignee"].as_str()), (Some("adopt"), Some("carol")));
    // A foreign release shows up as a release.
    let (s, _) = aw.plain_update("L00004", json!({"assignee": null})).await;
    assert_eq!(s, 200);
    assert!(board.until(CONVERGE, |bd| bd.assignee("L00004").is_none()).await, "the board shows the lead open");
}

async fn release_and_reassign_are_fenced_by_version_across_replicas(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 3, 0).await;
    let (alice, bob, maria) = (a.client("alice").await, b.client("bob").await, b.client("maria").await);
    let won = alice.post("/api/claim", json!({"lead_id": "L00002"})).await.1;
    let v = won["lead"]["version"].as_u64().unwrap();
    let (s, body) = bob.post("/api/release", json!({"lead_id": "L00002", "version": v})).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = alice.post("/api/release", json!({"lead_id": "L00002", "version": v - 1})).await;
    assert_eq!(s, 409, "{body}");
    let (s, body) = maria.post("/api/reassign", json!({"lead_id": "L00002", "version": v, "to": "carol"})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["assignee"], "carol");
    assert_eq!(body["version"], v + 1);
    // Alice's release with the version she saw is now stale.
    let (s, body) = alice.post("/api/release", json!({"lead_id": "L00002", "version": v})).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["lead"]["assignee"], "carol");
    let (s, body) = maria.post("/api/reassign", json!({"lead_id": "L00002", "version": v + 1, "to": "nobody"})).await;
    assert_eq!(s, 404, "{body}");
    let carol = a.client("carol").await;
    let (s, body) = carol.post("/api/release", json!({"lead_id": "L00002", "version": v + 1})).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["assignee"].is_null());
    let doc = aw.lead_doc("L00002").await;
    assert_eq!((doc["version"].as_u64(), doc["assignee"].is_null()), (Some(v + 2), true));
    // And claiming again uses a fresh claim document.
    let (_, again) = bob.post("/api/claim", json!({"lead_id": "L00002"})).await;
    assert_eq!(again["outcome"], "won", "{again}");
    assert_eq!(aw.claim_doc("L00002", v + 2).await.unwrap()["assignee"], "bob");
}

async fn appwrite_setup_twice_is_fine(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let again = schema::setup(&aw.cfg).await.expect("a second setup succeeds");
    assert!(again.created.is_empty(), "nothing new the second time: {:?}", again.created);
    assert!(again.existing.len() > 10);
    // The API key never reaches a browser: not in the page, not in an API answer.
    let a = Replica::start(&aw).await;
    aw.seed(&a, 2, 0).await;
    let alice = a.client("alice").await;
    let page = alice.http.get(format!("http://{}/", a.addr)).send().await.unwrap().text().await.unwrap();
    let (_, leads) = alice.post("/api/leads", json!({})).await;
    for text in [page, leads.to_string(), format!("{:?}", a.state.config)] {
        assert!(!text.contains(leadboard_testkit::appwrite::KEY), "the API key leaked");
        assert!(!text.contains("bridge-password-1"), "the service password leaked");
    }
}
