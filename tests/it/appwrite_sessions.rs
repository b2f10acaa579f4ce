//! Sessions and retention in the Appwrite mode: a reset or block that commits while a sign-in is
//! past its password check wins (Appwrite has no transaction over users and documents, so the
//! session is checked again after it is written), and every replica prunes old claim attempts
//! and expired sessions while claim documents stay.

use leadboard::domain::{AccountChange, Millis, Password, Username};
use leadboard::server::metrics::BridgeMetrics;
use leadboard::server::now_ms;
use leadboard::server::store::appwrite::AppwriteStore;
use leadboard::server::store::StoreError;
use leadboard_testkit::appwrite::{Appwrite, Replica, Version, DB};
use leadboard_testkit::server::reset_racing_sign_ins;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

per_version!(a_reset_or_block_that_commits_first_fences_a_sign_in_past_its_check, [V1_5, V1_8, V1_9_6]);
per_version!(a_reset_racing_a_sign_in_never_leaves_a_session_with_the_old_password, [V1_9_6]);
per_version!(attempts_past_the_retention_and_expired_sessions_are_pruned_and_claims_stay, [V1_5, V1_9_6]);

async fn a_reset_or_block_that_commits_first_fences_a_sign_in_past_its_check(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 1, 0).await;
    let accounts = &a.state.accounts;
    let bob = Username::parse("bob").unwrap();
    let cases = [
        ("demo1234", AccountChange::Password(Password::parse("n3w-secret-1").unwrap())),
        ("n3w-secret-1", AccountChange::Disabled(true)),
    ];
    for (i, (password, change)) in cases.into_iter().enumerate() {
        let verified = accounts.verify_password("bob", password).await.unwrap().expect("the right password");
        assert!(!verified.account.disabled);
        accounts.update_user(&bob, change).await.unwrap();
        let token = format!("{i:064x}");
        let opened = accounts.create_session(&token, &verified, now_ms() + 60_000).await;
        assert!(matches!(opened, Err(StoreError::Conflict(_))), "{opened:?}");
        assert_eq!(accounts.session_user(&token, now_ms()).await.unwrap(), None);
        let (_, left) = aw
            .call(
                Method::GET,
                &format!("/databases/{DB}/collections/sessions/documents?queries[]={}", username_is("bob")),
                None,
            )
            .await;
        assert_eq!(left["total"], 0, "the fenced session document is deleted: {left}");
    }
    // Nothing changed in between: the session opens.
    let verified = accounts.verify_password("alice", "demo1234").await.unwrap().unwrap();
    let token = format!("{:064x}", 7);
    accounts.create_session(&token, &verified, now_ms() + 60_000).await.unwrap();
    assert_eq!(accounts.session_user(&token, now_ms()).await.unwrap().unwrap().username.as_str(), "alice");
}

fn username_is(name: &str) -> String {
    leadboard_testkit::appwrite::urlenc(
        &json!({"method": "equal", "attribute": "username", "values": [name]}).to_string(),
    )
}

async fn a_reset_racing_a_sign_in_never_leaves_a_session_with_the_old_password(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 1, 0).await;
    let maria = a.client("maria").await;
    let (signed_in, survived) = reset_racing_sign_ins(a.addr, &maria, 16, 4).await;
    assert_eq!(survived, 0, "{signed_in} sign-ins got in before their reset; none may outlive it");
}

async fn count(aw: &Appwrite, collection: &str) -> u64 {
    let (status, list) =
        aw.call(Method::GET, &format!("/databases/{DB}/collections/{collection}/documents"), None).await;
    assert_eq!(status, 200, "{list}");
    list["total"].as_u64().unwrap()
}

async fn attempts_past_the_retention_and_expired_sessions_are_pruned_and_claims_stay(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let (alice, bob) = (a.client("alice").await, a.client("bob").await);
    for lead in ["L00001", "L00002", "L00003"] {
        let (x, y) = tokio::join!(
            alice.post("/api/claim", json!({"lead_id": lead})),
            bob.post("/api/claim", json!({"lead_id": lead}))
        );
        assert_eq!((x.0, y.0), (200, 200));
    }
    let (attempts, sessions, claims) =
        (count(&aw, "attempts").await, count(&aw, "sessions").await, count(&aw, "claims").await);
    assert_eq!(attempts, 6, "two attempts per lead");
    assert!(sessions >= 2 && claims >= 3, "{sessions} sessions, {claims} claim documents");

    let store = AppwriteStore::open(&aw.cfg, a.state.hub.clone(), Arc::new(BridgeMetrics::default())).unwrap();
    assert_eq!(store.prune_at(now_ms()).await.unwrap(), 0, "nothing is old yet");
    let year: Millis = 366 * 86_400_000;
    assert_eq!(store.prune_at(now_ms() + year).await.unwrap() as u64, attempts + sessions);
    assert_eq!((count(&aw, "attempts").await, count(&aw, "sessions").await), (0, 0));
    assert_eq!(count(&aw, "claims").await, claims, "claim documents decide claims and are never pruned");
    assert_eq!(alice.post("/api/me", json!({})).await.1, Value::Null, "a pruned session is over");
    // The leads still know who holds them, and the next claim is still decided.
    let carol = a.client("carol").await;
    let (status, reply) = carol.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["outcome"], "lost", "{reply}");
}
