//! Password guessing cannot lock anyone out: limits per (account, client) pair and per client,
//! a slow-down (never a refusal) per account, a global ceiling; clients behind a trusted proxy
//! are told apart by `X-Forwarded-For`, and IPv6 clients by /64; a disabled account's right
//! password is answered as a wrong one.

use leadboard::server::config::SecurityConfig;
use leadboard_testkit::server::{Client, TestServer};
use serde_json::{json, Value};

/// Signs in as `user` from `client` (sent as `X-Forwarded-For`); the status and body.
async fn sign_in_from(http: &Client, client: &str, user: &str, password: &str) -> (u16, Value) {
    http.post_with("/api/login", json!({"username": user, "password": password}), &[("x-forwarded-for", client)]).await
}

fn behind_a_proxy() -> SecurityConfig {
    SecurityConfig {
        login_failures_per_account: 3,
        login_failures_per_ip: 6,
        login_max_delay_ms: 300,
        trusted_proxies: vec!["127.0.0.1/32".into()],
        ..SecurityConfig::default()
    }
}

#[tokio::test]
async fn the_victim_signs_in_from_her_own_address_during_a_guessing_run_from_others() {
    let server = TestServer::start_with(1, 0, behind_a_proxy()).await;
    let http = &Client::anonymous(&server);
    // Ten attackers, five guesses each at maria, all at once.
    let guesses = (0..10).flat_map(|a| (0..5).map(move |g| (format!("198.51.100.{a}"), format!("guess-{g}"))));
    let replies = futures::future::join_all(
        guesses.map(|(client, guess)| async move { sign_in_from(http, &client, "maria", &guess).await.0 }),
    )
    .await;
    assert_eq!(replies.iter().filter(|&&s| s == 401).count(), 30, "3 checked per attacker: {replies:?}");
    assert_eq!(replies.iter().filter(|&&s| s == 429).count(), 20, "{replies:?}");
    // An attacker who now has the password is still refused from that address...
    assert_eq!(sign_in_from(http, "198.51.100.1", "maria", "demo1234").await.0, 429);
    // ...while maria, from her own address, signs in (a little slowed down, never locked out).
    let (s, body) = sign_in_from(http, "192.0.2.10", "maria", "demo1234").await;
    assert_eq!((s, body["username"].as_str()), (200, Some("maria")), "{body}");
    assert_eq!(sign_in_from(http, "192.0.2.10", "alice", "demo1234").await.0, 200, "and so do the others");
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_the_proxy_is_trusted() {
    let security = SecurityConfig { trusted_proxies: Vec::new(), ..behind_a_proxy() };
    let server = TestServer::start_with(1, 0, security).await;
    let http = Client::anonymous(&server);
    for n in 0..6 {
        let user = format!("nobody{n}");
        assert_eq!(sign_in_from(&http, &format!("203.0.113.{n}"), &user, "wrong-pass").await.0, 401);
    }
    // Six "different" clients were one: the TCP peer, over its limit.
    assert_eq!(sign_in_from(&http, "203.0.113.99", "alice", "demo1234").await.0, 429);
}

#[tokio::test]
async fn ipv6_clients_of_one_network_share_one_budget() {
    let server = TestServer::start_with(1, 0, behind_a_proxy()).await;
    let http = Client::anonymous(&server);
    for n in 1..=6 {
        let user = format!("nobody{n}");
        assert_eq!(sign_in_from(&http, &format!("2001:db8:0:1::{n:x}"), &user, "wrong-pass").await.0, 401);
    }
    assert_eq!(sign_in_from(&http, "2001:db8:0:1:ffff::1", "alice", "demo1234").await.0, 429, "same /64");
    assert_eq!(sign_in_from(&http, "2001:db8:0:2::1", "alice", "demo1234").await.0, 200, "another /64");
}

#[tokio::test]
async fn a_disabled_accounts_right_password_is_answered_as_a_wrong_one() {
    let server = TestServer::start(1, 0).await;
    let maria = server.client("maria").await;
    let disable = json!({"username": "carol", "change": {"set": "disabled", "to": true}});
    assert_eq!(maria.post("/api/users/update", disable).await.0, 200);
    let anon = Client::anonymous(&server);
    let right = anon.post("/api/login", json!({"username": "carol", "password": "demo1234"})).await;
    let wrong = anon.post("/api/login", json!({"username": "carol", "password": "not-hers-1"})).await;
    let nobody = anon.post("/api/login", json!({"username": "nobody", "password": "demo1234"})).await;
    assert_eq!(right, wrong, "nothing confirms the password");
    assert_eq!(right, nobody);
    assert_eq!(right.0, 401);
}
