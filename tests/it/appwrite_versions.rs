//! What differs between Appwrite releases, and the rules that hold on all of them: lead IDs that
//! Appwrite would call the same, a lead added again under an old ID, sign-in timing, and
//! memberships that are paged from 1.7.

use leadboard_testkit::appwrite::{Appwrite, Replica, Version, DB};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

per_version!(a_lead_id_that_differs_only_in_case_is_refused, [V1_5, V1_6_0, V1_7, V1_8, V1_9_0, V1_9_6]);
per_version!(a_lead_added_again_under_an_old_id_does_not_go_back_to_its_old_holder, [V1_5, V1_8, V1_9_0, V1_9_6]);
per_version!(an_unknown_login_takes_as_long_as_a_wrong_password, [V1_5, V1_9_6]);
per_version!(a_manager_in_many_teams_is_still_a_manager, [V1_6_0, V1_7, V1_9_6]);

async fn a_lead_id_that_differs_only_in_case_is_refused(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 2, 0).await;
    let maria = a.client("maria").await;
    let lead = |id: &str| json!({"id": id, "name": "Case", "company": "Co", "value": 5});
    let (s, body) = maria.post("/api/leads/add", lead("l00001")).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("L00001"), "the reason names the existing lead: {body}");
    let (s, body) = maria.post("/api/leads/add", lead("L00001")).await;
    assert_eq!(s, 409, "an exact duplicate is refused too: {body}");
    // Appwrite finds `L00001` for `l00001`; Leadboard does not, like the SQLite store.
    let alice = a.client("alice").await;
    let (s, body) = alice.post("/api/claim", json!({"lead_id": "l00001"})).await;
    assert_eq!(s, 404, "{body}");
    let (s, body) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, body["outcome"].as_str()), (200, Some("won")), "{body}");
}

async fn a_lead_added_again_under_an_old_id_does_not_go_back_to_its_old_holder(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 2, 0).await;
    let (alice, bob, maria) = (a.client("alice").await, a.client("bob").await, a.client("maria").await);
    let (_, won) = alice.post("/api/claim", json!({"lead_id": "L00002"})).await;
    assert_eq!(won["outcome"], "won", "{won}");
    let old_version = won["lead"]["version"].as_u64().unwrap();
    let mut board = a.board("carol").await;
    // The lead is deleted in Appwrite (the console, a cleanup script) and added again.
    let (s, _) = aw.call(Method::DELETE, &format!("/databases/{DB}/collections/leads/documents/L00002"), None).await;
    assert_eq!(s, 204);
    let (s, body) =
        maria.post("/api/leads/add", json!({"id": "L00002", "name": "Again", "company": "Co", "value": 1})).await;
    assert_eq!(s, 200, "{body}");
    // Several reconcile passes: the old claim document must not be handed to the new lead.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let doc = aw.lead_doc("L00002").await;
    assert!(doc["assignee"].is_null(), "the new lead is open: {doc}");
    assert!(doc["version"].as_u64().unwrap() > old_version, "it continues above the old versions: {doc}");
    assert!(
        board.until(Duration::from_secs(10), |bd| bd.lead("L00002").is_some_and(|l| l.name == "Again")).await,
        "boards take the new lead"
    );
    assert_eq!(board.assignee("L00002"), None);
    let (_, r) = bob.post("/api/claim", json!({"lead_id": "L00002"})).await;
    assert_eq!(r["outcome"], "won", "{r}");
}

async fn an_unknown_login_takes_as_long_as_a_wrong_password(v: Version) {
    const HOLD_MS: u64 = 400;
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 1, 0).await;
    let timed = |login: &'static str| {
        let aw = &aw;
        let a = &a;
        async move {
            // Appwrite's password check, made slow: whoever skips it answers at once.
            aw.faults(json!({"errors": [{"status": 503, "count": 1, "hang_ms": HOLD_MS, "method": "POST", "path_prefix": "/v1/account/sessions/email"}]})).await;
            let client = leadboard_testkit::server::Client::new(a.addr);
            let started = Instant::now();
            let (s, body) = client.post("/api/login", json!({"username": login, "password": "wrong-password"})).await;
            assert_eq!(s, 401, "{body}");
            started.elapsed()
        }
    };
    let wrong = timed("alice").await;
    let unknown = timed("nobody").await;
    let unknown_email = timed("nobody@example.com").await;
    for (what, took) in
        [("a wrong password", wrong), ("an unknown login", unknown), ("an unknown email", unknown_email)]
    {
        assert!(took >= Duration::from_millis(HOLD_MS), "{what} skipped the password check ({took:?})");
    }
}

async fn a_manager_in_many_teams_is_still_a_manager(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 1, 0).await;
    // More teams than a page of memberships (25 from 1.7), joined before the managers team.
    let (_, list) = aw.call(Method::GET, "/teams/leadboard-managers/memberships", None).await;
    let membership = list["memberships"][0]["$id"].as_str().unwrap().to_owned();
    let (s, _) = aw.call(Method::DELETE, &format!("/teams/leadboard-managers/memberships/{membership}"), None).await;
    assert_eq!(s, 204);
    for n in 0..30 {
        let team = format!("team{n:02}");
        let (s, body) = aw.call(Method::POST, "/teams", Some(json!({"teamId": team, "name": team}))).await;
        assert_eq!(s, 201, "{body}");
        let member = json!({"userId": "maria", "roles": ["member"]});
        let (s, body) = aw.call(Method::POST, &format!("/teams/{team}/memberships"), Some(member)).await;
        assert_eq!(s, 201, "{body}");
    }
    let member = json!({"userId": "maria", "roles": ["manager"]});
    let (s, body) = aw.call(Method::POST, "/teams/leadboard-managers/memberships", Some(member)).await;
    assert_eq!(s, 201, "{body}");
    let client = leadboard_testkit::server::Client::new(a.addr);
    let (s, body) = client.post("/api/login", json!({"username": "maria", "password": "demo1234"})).await;
    assert_eq!((s, body["role"].as_str()), (200, Some("manager")), "{body}");
}
