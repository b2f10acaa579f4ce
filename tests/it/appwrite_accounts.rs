//! Accounts in the Appwrite mode: employees are Appwrite users, Appwrite checks their passwords,
//! managers are the members of the configured team, and Leadboard stores no password.

use leadboard::server::config::SecurityConfig;
use leadboard_testkit::appwrite::{Appwrite, Replica, Version, DB};
use leadboard_testkit::server::Client;
use reqwest::Method;
use serde_json::{json, Value};

per_version!(
    demo_accounts_are_appwrite_users_and_the_manager_is_a_team_member,
    [V1_5, V1_6_0, V1_7, V1_8, V1_9_0, V1_9_6]
);
per_version!(sign_in_goes_through_appwrite_by_username_or_email, [V1_5, V1_8, V1_9_6]);
per_version!(team_membership_is_the_manager_role_and_it_is_read_live, [V1_5, V1_8, V1_9_6]);
per_version!(disabling_blocks_the_appwrite_user_and_ends_every_session, [V1_5, V1_8, V1_9_6]);
per_version!(a_password_reset_goes_to_appwrite_and_appwrite_rules_come_back_as_400, [V1_5, V1_8, V1_9_6]);
per_version!(your_own_password_changes_in_appwrite_and_your_other_sessions_end, [V1_5, V1_8, V1_9_6]);
per_version!(a_username_and_its_email_share_one_sign_in_budget, [V1_5, V1_9_6]);

const TEAM: &str = "leadboard-managers";

async fn login(replica: &Replica, login: &str, password: &str) -> (u16, Value, Client) {
    let client = Client::new(replica.addr);
    let (status, body) = client.post("/api/login", json!({"username": login, "password": password})).await;
    (status, body, client)
}

async fn me(client: &Client) -> Value {
    let (status, body) = client.post("/api/me", json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn members(aw: &Appwrite) -> Vec<String> {
    let (status, list) = aw.call(Method::GET, &format!("/teams/{TEAM}/memberships"), None).await;
    assert_eq!(status, 200, "{list}");
    let mut ids: Vec<String> =
        list["memberships"].as_array().unwrap().iter().map(|m| m["userId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

async fn demo_accounts_are_appwrite_users_and_the_manager_is_a_team_member(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let (status, user) = aw.call(Method::GET, "/users/alice", None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "alice@users.leadboard.invalid");
    assert_eq!(members(&aw).await, ["maria"]);
    // No collection of Leadboard's holds a password.
    let (status, _) = aw.call(Method::GET, &format!("/databases/{DB}/collections/users"), None).await;
    assert_eq!(status, 404, "the Appwrite mode has no users collection");
    let (_, sessions) = aw.call(Method::GET, &format!("/databases/{DB}/collections/sessions/attributes"), None).await;
    assert!(!sessions.to_string().contains("password"), "{sessions}");

    let (status, body, maria) = login(&a, "maria", "demo1234").await;
    assert_eq!((status, &body["role"]), (200, &json!("manager")), "{body}");
    let (status, list) = maria.post("/api/users", json!({})).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "carol", "maria"], "the bridge's service user is not an account");
    // The session made to check the password is gone again.
    let (_, sessions) = aw.call(Method::GET, "/users/maria/sessions", None).await;
    assert_eq!(sessions["total"], 0, "{sessions}");
}

async fn sign_in_goes_through_appwrite_by_username_or_email(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    // A user made in the Appwrite console, with an ID Appwrite generated and a real address.
    let body = json!({"userId": "65f1a2b3c4d5e6f7a8b9", "email": "Dana@Example.com", "password": "console-pass", "name": "Dana"});
    assert_eq!(aw.call(Method::POST, "/users", Some(body)).await.0, 201);

    let (status, user, dana) = login(&a, "dana@example.com", "console-pass").await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user, json!({"username": "65f1a2b3c4d5e6f7a8b9", "role": "employee"}));
    assert_eq!(me(&dana).await["username"], "65f1a2b3c4d5e6f7a8b9");
    assert_eq!(login(&a, "65f1a2b3c4d5e6f7a8b9", "console-pass").await.0, 200, "by user ID too");
    assert_eq!(login(&a, "bob", "demo1234").await.0, 200);

    for (who, password) in
        [("bob", "wrong-password"), ("nobody", "demo1234"), ("dana@example.com", "demo1234"), ("Not A Name", "x")]
    {
        let (status, body, _) = login(&a, who, password).await;
        assert_eq!(status, 401, "{who}: {body}");
        assert_eq!(body["message"], "wrong username or password");
    }
    assert_eq!(login(&a, "bridge@example.com", "bridge-password-1").await.0, 401, "the service user is not an account");
    assert_eq!(login(&a, "leadboard-bridge", "bridge-password-1").await.0, 401);
}

async fn team_membership_is_the_manager_role_and_it_is_read_live(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let maria = a.client("maria").await;
    let bob = a.client("bob").await;
    assert_eq!(bob.post("/api/users", json!({})).await.0, 403);
    // Caps are not kept on this store: setting one is refused with the reason.
    let cap = json!({"username": "bob", "change": {"set": "cap", "to": 3}});
    let (status, body) = maria.post("/api/users/update", cap).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some(leadboard::server::store::appwrite::CAPS_UNKEPT)),
        "{body}"
    );

    let (status, body) =
        maria.post("/api/users/update", json!({"username": "bob", "change": {"set": "role", "to": "manager"}})).await;
    assert_eq!((status, &body["role"]), (200, &json!("manager")), "{body}");
    assert_eq!(members(&aw).await, ["bob", "maria"]);
    assert_eq!(bob.post("/api/users", json!({})).await.0, 200, "bob's open session is a manager's now");

    // Demoted in the Appwrite console: the next request knows.
    let (_, list) = aw.call(Method::GET, &format!("/teams/{TEAM}/memberships"), None).await;
    let membership = list["memberships"].as_array().unwrap().iter().find(|m| m["userId"] == "bob").unwrap()["$id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(aw.call(Method::DELETE, &format!("/teams/{TEAM}/memberships/{membership}"), None).await.0, 204);
    assert_eq!(bob.post("/api/users", json!({})).await.0, 403);
    assert_eq!(me(&bob).await["role"], "employee");

    // Created from the manager board as a manager: an Appwrite user in the team.
    let (status, body) =
        maria.post("/api/users/add", json!({"username": "zoe", "role": "manager", "password": "zoe-password"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(members(&aw).await, ["maria", "zoe"]);
    let (status, _, zoe) = login(&a, "zoe@users.leadboard.invalid", "zoe-password").await;
    assert_eq!(status, 200);
    assert_eq!(me(&zoe).await["role"], "manager");
    let (status, body) =
        maria.post("/api/users/add", json!({"username": "zoe", "role": "employee", "password": "zoe-password"})).await;
    assert_eq!(status, 409, "{body}");
}

async fn disabling_blocks_the_appwrite_user_and_ends_every_session(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let maria = a.client("maria").await;
    let carol = a.client("carol").await;
    assert_eq!(me(&carol).await["username"], "carol");

    let (status, body) =
        maria.post("/api/users/update", json!({"username": "carol", "change": {"set": "disabled", "to": true}})).await;
    assert_eq!((status, &body["disabled"]), (200, &json!(true)), "{body}");
    let (_, user) = aw.call(Method::GET, "/users/carol", None).await;
    assert_eq!(user["status"], false, "blocked in Appwrite");
    assert_eq!(me(&carol).await, Value::Null, "the open session ended");
    // The right password of a disabled account is answered as a wrong one (README, Security).
    let (status, body, _) = login(&a, "carol", "demo1234").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(login(&a, "Carol@users.leadboard.invalid", "demo1234").await.0, 401, "by email too");
    assert_eq!(
        login(&a, "carol", "wrong-password").await.0,
        401,
        "a wrong password does not learn the account is disabled"
    );

    assert_eq!(
        maria
            .post("/api/users/update", json!({"username": "carol", "change": {"set": "disabled", "to": false}}))
            .await
            .0,
        200
    );
    assert_eq!(login(&a, "carol", "demo1234").await.0, 200);

    // Blocked in the Appwrite console: refused at the next request.
    let alice = a.client("alice").await;
    assert_eq!(aw.call(Method::PATCH, "/users/alice/status", Some(json!({"status": false}))).await.0, 200);
    assert_eq!(me(&alice).await, Value::Null);
}

async fn a_password_reset_goes_to_appwrite_and_appwrite_rules_come_back_as_400(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let maria = a.client("maria").await;
    let bob = a.client("bob").await;
    let change = json!({"username": "bob", "change": {"set": "password", "to": "a-new-password"}});
    assert_eq!(maria.post("/api/users/update", change).await.0, 200);
    assert_eq!(me(&bob).await, Value::Null, "a reset ends the sessions");
    assert_eq!(login(&a, "bob", "demo1234").await.0, 401);
    assert_eq!(login(&a, "bob", "a-new-password").await.0, 200);

    let change = json!({"username": "nobody", "change": {"set": "password", "to": "a-new-password"}});
    assert_eq!(maria.post("/api/users/update", change).await.0, 404);
    // Appwrite refuses what Leadboard's own rules allow: 100 characters are 300 bytes, over
    // Appwrite's 256.
    let long = "€".repeat(100);
    let (status, body) =
        maria.post("/api/users/add", json!({"username": "yuri", "role": "employee", "password": long})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Appwrite refused it"), "{body}");
}

async fn your_own_password_changes_in_appwrite_and_your_other_sessions_end(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let a = Replica::start(&aw).await;
    aw.seed(&a, 3, 0).await;
    let here = a.client("carol").await;
    let (status, body, elsewhere) = login(&a, "carol@users.leadboard.invalid", "demo1234").await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = here.post("/api/password", json!({"current": "not-mine-1", "new": "carols-own-pass"})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = here.post("/api/password", json!({"current": "demo1234", "new": "carols-own-pass"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(me(&here).await["username"], "carol", "this browser stays signed in");
    assert_eq!(me(&elsewhere).await, Value::Null, "the session signed in by email ended");
    assert_eq!(login(&a, "carol", "demo1234").await.0, 401);
    assert_eq!(login(&a, "carol@users.leadboard.invalid", "carols-own-pass").await.0, 200, "checked by Appwrite");
}

async fn a_username_and_its_email_share_one_sign_in_budget(v: Version) {
    let aw = Appwrite::start_version(v).await;
    let security = SecurityConfig { login_failures_per_account: 2, login_max_delay_ms: 0, ..SecurityConfig::default() };
    let a = Replica::start_with(&aw, security).await;
    aw.seed(&a, 3, 0).await;
    assert_eq!(login(&a, "Carol@users.leadboard.invalid", "wrong-password").await.0, 401);
    assert_eq!(login(&a, "carol@users.leadboard.invalid", "wrong-password").await.0, 401);
    let (status, body, _) = login(&a, "carol", "demo1234").await;
    assert_eq!(status, 429, "the email's failures count against the username: {body}");
    assert_eq!(login(&a, "alice", "demo1234").await.0, 200, "other accounts are not held up");
}
