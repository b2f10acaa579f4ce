//! Who may do what: every endpoint and the websocket as anonymous, employee, other employee,
//! manager and disabled user; cross-site requests; rate limits; sessions ending.

use futures::StreamExt;
use leadboard::protocol::ServerMsg;
use leadboard::server::config::{ClaimsConfig, SecurityConfig};
use leadboard_testkit::server::{connect_board, connect_board_with, next_msg, send_msg, Client, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};

const WAIT: Duration = Duration::from_secs(5);

/// The callers, in the order of the matrix's columns.
const WHO: [&str; 5] = ["anonymous", "alice (employee)", "bob (other employee)", "maria (manager)", "carol (disabled)"];

struct Callers {
    all: Vec<Client>,
}

/// A server where alice holds L00001-L00005 (version 2, on a lease) and carol was signed in, then
/// disabled.
async fn fixture() -> (TestServer, Callers) {
    // Leases (so there is one to extend) but no cap (alice holds six by the claim row).
    let terms = ClaimsConfig { max_held: 0, ..ClaimsConfig::default() };
    let server = TestServer::start_on_terms(12, 1, SecurityConfig::default(), terms).await;
    let (alice, bob, maria, carol) = (
        server.client("alice").await,
        server.client("bob").await,
        server.client("maria").await,
        server.client("carol").await,
    );
    for n in 1..=5 {
        assert_eq!(alice.post("/api/claim", json!({"lead_id": format!("L0000{n}")})).await.1["outcome"], "won");
    }
    let (s, body) =
        maria.post("/api/users/update", json!({"username": "carol", "change": {"set": "disabled", "to": true}})).await;
    assert_eq!((s, &body["disabled"]), (200, &json!(true)), "{body}");
    let anonymous = Client::anonymous(&server);
    (server, Callers { all: vec![anonymous, alice, bob, maria, carol] })
}

/// One row: an endpoint, the body each caller sends (indexed like `WHO`, so that callers never
/// depend on each other's effects), and the status each must get.
struct Row {
    path: &'static str,
    body: fn(usize) -> Value,
    want: [u16; 5],
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_as_the_matrix_says() {
    let rows = [
        Row { path: "/api/me", body: |_| json!({}), want: [200, 200, 200, 200, 200] },
        Row { path: "/api/leads", body: |_| json!({}), want: [401, 200, 200, 200, 401] },
        // Each caller claims an open lead of their own.
        Row {
            path: "/api/claim",
            body: |i| json!({"lead_id": format!("L0000{}", i + 6)}),
            want: [401, 200, 200, 200, 401],
        },
        // Alice holds the lead: she and managers may release it, bob may not.
        Row {
            path: "/api/release",
            body: |i| json!({"lead_id": format!("L0000{}", i + 1), "version": 2}),
            want: [401, 200, 403, 200, 401],
        },
        // Any signed-in, enabled account may ask for the next lead.
        Row { path: "/api/next", body: |_| json!({}), want: [401, 200, 200, 200, 401] },
        // Only the holder extends her lease: not another employee, not a manager.
        Row {
            path: "/api/extend",
            body: |i| json!({"lead_id": format!("L0000{}", i + 1), "version": 2}),
            want: [401, 200, 403, 403, 401],
        },
        // Only the holder records an outcome.
        Row {
            path: "/api/outcome",
            body: |i| json!({"lead_id": format!("L0000{}", i + 1), "version": 2, "outcome": "contacted"}),
            want: [401, 200, 403, 403, 401],
        },
        // Everyone on the team reads a lead's history; only managers the team's outcomes.
        Row { path: "/api/leads/history", body: |_| json!({"lead_id": "L00001"}), want: [401, 200, 200, 200, 401] },
        Row { path: "/api/outcomes", body: |_| json!({"days": 7}), want: [401, 403, 403, 200, 401] },
        Row {
            path: "/api/reassign",
            body: |i| json!({"lead_id": format!("L0000{}", i + 1), "version": 2, "to": "bob"}),
            want: [401, 403, 403, 200, 401],
        },
        Row { path: "/api/activity", body: |_| json!({}), want: [401, 403, 403, 200, 401] },
        Row { path: "/api/users", body: |_| json!({}), want: [401, 403, 403, 200, 401] },
        Row {
            path: "/api/users/add",
            body: |i| json!({"username": format!("new{i}"), "role": "manager", "password": "s3cret-pass"}),
            want: [401, 403, 403, 200, 401],
        },
        Row {
            path: "/api/users/update",
            body: |_| json!({"username": "user001", "change": {"set": "role", "to": "manager"}}),
            want: [401, 403, 403, 200, 401],
        },
        Row {
            path: "/api/leads/add",
            body: |i| json!({"id": format!("N{i}"), "name": "New", "company": "Co", "value": 5}),
            want: [401, 403, 403, 200, 401],
        },
        Row { path: "/api/logout", body: |_| json!({}), want: [200, 200, 200, 200, 200] },
    ];
    let mut failures = Vec::new();
    for row in rows {
        // Signing out ends sessions, so every row starts from the same state.
        let (_server, callers) = fixture().await;
        for (i, client) in callers.all.iter().enumerate() {
            let (status, body) = client.post(row.path, (row.body)(i)).await;
            if status != row.want[i] {
                failures.push(format!("{} as {}: {status} (want {}) {body}", row.path, WHO[i], row.want[i]));
            }
            if status >= 400 {
                assert!(
                    body["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{} as {}: a JSON reason: {body}",
                    row.path,
                    WHO[i]
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn the_websocket_and_the_manager_page_check_the_caller() {
    let (server, callers) = fixture().await;
    for (i, client) in callers.all.iter().enumerate() {
        let signed_in_and_enabled = matches!(i, 1..=3);
        match connect_board(&server, client).await {
            Ok(mut ws) => {
                assert!(signed_in_and_enabled, "{} may not open a board", WHO[i]);
                // The one message a board sends, and one it does not know.
                send_msg(&mut ws, json!({"type": "resume", "after_seq": 0})).await;
                assert!(matches!(next_msg(&mut ws, WAIT).await, Some(ServerMsg::Event(_))), "{} catches up", WHO[i]);
                send_msg(&mut ws, json!({"type": "claim", "lead_id": "L00001"})).await;
                loop {
                    match next_msg(&mut ws, WAIT).await {
                        Some(ServerMsg::Error { message }) => {
                            break assert!(message.contains("unknown variant"), "{message}")
                        }
                        Some(ServerMsg::Event(_)) => continue,
                        other => panic!("{}: {other:?}", WHO[i]),
                    }
                }
            }
            Err(tungstenite::Error::Http(res)) => {
                assert!(!signed_in_and_enabled, "{} may open a board", WHO[i]);
                assert_eq!(res.status(), 401, "{}", WHO[i]);
            }
            Err(e) => panic!("{}: {e}", WHO[i]),
        }
        let page = client.http.get(server.url("/manager")).send().await.unwrap();
        let status = page.status();
        let html = page.text().await.unwrap();
        match i {
            3 => assert!(status == 200 && html.contains("Live feed"), "/manager as {}", WHO[i]),
            1 | 2 => assert_eq!(status, 403, "/manager as {}", WHO[i]),
            // Signed out (or disabled): the page only sends the browser to sign in.
            _ => assert!(!html.contains("Live feed") && !html.contains("L00001"), "/manager as {}: {html}", WHO[i]),
        }
    }
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let server = TestServer::start(3, 0).await;
    let alice = server.client("alice").await;
    let own = format!("http://{}", server.addr);
    let claim = json!({"lead_id": "L00001"});
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let (status, body) = alice.post_with("/api/claim", claim.clone(), &headers).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")), "{headers:?}: {body}");
    }
    // What an HTML form on another site can send, even without Origin.
    for ct in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"] {
        let (status, body) = alice.post_with("/api/claim", claim.clone(), &[("content-type", ct)]).await;
        assert_eq!(status, 415, "{ct}: {body}");
    }
    let list = alice.post("/api/leads", json!({})).await.1;
    assert!(list["leads"].as_array().unwrap().iter().all(|l| l["status"] == "open"), "nothing was claimed");
    // This site's own pages and non-browser clients pass.
    let (status, body) =
        alice.post_with("/api/claim", claim.clone(), &[("origin", &own), ("sec-fetch-site", "same-origin")]).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("won")), "{body}");
    // The websocket too.
    match connect_board_with(server.addr, &alice, &[("origin", "https://evil.example")]).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("a cross-site board connected: {:?}", other.map(|_| ())),
    }
    assert!(connect_board_with(server.addr, &alice, &[("origin", &own)]).await.is_ok());
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_per_address() {
    let security = SecurityConfig { login_failures_per_account: 3, login_failures_per_ip: 5, ..Default::default() };
    let server = TestServer::start_with(3, 0, security).await;
    let anon = Client::anonymous(&server);
    let login = |user: &str, pw: &str| json!({"username": user, "password": pw});
    for _ in 0..3 {
        assert_eq!(anon.post("/api/login", login("alice", "wrong")).await.0, 401);
    }
    // Over the limit of this account from this address even the right password is refused, with
    // when to retry (from another address it gets in: `guessing.rs`).
    let res = anon.http.post(server.url("/api/login")).json(&login("alice", "demo1234")).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["error"].as_str(), body["retry_after_s"].as_u64()), (Some("too_many_requests"), Some(retry)));
    // Another account from the same address still works, until the address's limit.
    assert_eq!(anon.post("/api/login", login("bob", "demo1234")).await.0, 200);
    for _ in 0..2 {
        assert_eq!(anon.post("/api/login", login("nobody", "wrong")).await.0, 401);
    }
    assert_eq!(anon.post("/api/login", login("carol", "demo1234")).await.0, 429, "the address is over its limit");
}

#[tokio::test]
async fn parallel_guesses_cannot_pass_the_limit_together() {
    let security = SecurityConfig { login_failures_per_account: 3, login_failures_per_ip: 100, ..Default::default() };
    let server = TestServer::start_with(3, 0, security).await;
    let anon = Client::anonymous(&server);
    let guesses =
        (0..12).map(|i| anon.post("/api/login", json!({"username": "alice", "password": format!("guess-{i}")})));
    let statuses: Vec<u16> = futures::future::join_all(guesses).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 3, "only the limit's worth are checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 9, "{statuses:?}");
    // Usernames are lower case, so the name as typed is forgiven its capitals.
    let (s, me) =
        Client::anonymous(&server).post("/api/login", json!({"username": " Bob ", "password": "demo1234"})).await;
    assert_eq!((s, me["username"].as_str()), (200, Some("bob")), "{me}");
}

#[tokio::test]
async fn leads_cannot_be_given_to_a_disabled_account() {
    let (_server, callers) = fixture().await;
    let maria = &callers.all[3];
    let (s, body) = maria.post("/api/reassign", json!({"lead_id": "L00001", "version": 2, "to": "carol"})).await;
    assert_eq!((s, body["message"].as_str()), (409, Some("carol's account is disabled")), "{body}");
    assert_eq!(body["lead"]["assignee"], "alice", "the lead stays where it was: {body}");
}

#[tokio::test]
async fn claims_are_limited_per_user() {
    let server = TestServer::start_with(10, 0, SecurityConfig { claims_per_minute: 3, ..Default::default() }).await;
    let (alice, bob) = (server.client("alice").await, server.client("bob").await);
    for n in 1..=3 {
        assert_eq!(alice.post("/api/claim", json!({"lead_id": format!("L0000{n}")})).await.0, 200);
    }
    let res = alice.http.post(server.url("/api/claim")).json(&json!({"lead_id": "L00004"})).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(bob.post("/api/claim", json!({"lead_id": "L00004"})).await.0, 200, "others are not limited");
}

#[tokio::test]
async fn signing_in_again_rotates_the_session() {
    let server = TestServer::start(1, 0).await;
    let alice = server.client("alice").await;
    let first = alice.cookie().unwrap();
    assert_eq!(alice.post("/api/login", json!({"username": "alice", "password": "demo1234"})).await.0, 200);
    assert_ne!(alice.cookie().unwrap(), first, "a new token");
    let old = reqwest::Client::new()
        .post(server.url("/api/me"))
        .header("cookie", &first)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.json::<Value>().await.unwrap(), Value::Null, "the old session has ended");
    assert_eq!(alice.post("/api/me", json!({})).await.1["username"], "alice");
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_boards_at_once() {
    let server = TestServer::start(3, 0).await;
    let (alice, maria) = (server.client("alice").await, server.client("maria").await);
    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 0})).await;
    let disable = |to: bool| json!({"username": "alice", "change": {"set": "disabled", "to": to}});
    assert_eq!(maria.post("/api/users/update", disable(true)).await.0, 200);

    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(frame) = msg {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the board closes at once");
    assert_eq!(closed, Some(leadboard::protocol::Close::SignedOut.code()));
    assert_eq!(alice.post("/api/leads", json!({})).await.0, 401);
    assert!(connect_board(&server, &alice).await.is_err());
    // The right password of a disabled account is answered as a wrong one (`guessing.rs`).
    let (s, body) =
        Client::anonymous(&server).post("/api/login", json!({"username": "alice", "password": "demo1234"})).await;
    assert_eq!((s, body["message"].as_str()), (401, Some("wrong username or password")));
    // Managers cannot lock themselves out.
    let (s, _) =
        maria.post("/api/users/update", json!({"username": "maria", "change": {"set": "disabled", "to": true}})).await;
    assert_eq!(s, 403);

    assert_eq!(maria.post("/api/users/update", disable(false)).await.0, 200);
    let alice = server.client("alice").await;
    assert_eq!(alice.post("/api/leads", json!({})).await.0, 200, "enabled again");
    // A password reset also ends sessions; the new password works.
    let reset = json!({"username": "alice", "change": {"set": "password", "to": "n3w-secret"}});
    assert_eq!(maria.post("/api/users/update", reset).await.0, 200);
    assert_eq!(alice.post("/api/leads", json!({})).await.0, 401);
    let (s, _) =
        Client::anonymous(&server).post("/api/login", json!({"username": "alice", "password": "n3w-secret"})).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start(1, 0).await;
    let maria = server.client("maria").await;
    for path in ["/login", "/manager", "/healthz", "/nowhere"] {
        let res = maria.http.get(server.url(path)).send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        if path == "/manager" {
            // Every inline script of the page carries the nonce the policy names.
            let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce").to_owned();
            let html = res.text().await.unwrap();
            let tags: Vec<&str> =
                html.split("<script").skip(1).map(|rest| rest.split('>').next().unwrap_or_default()).collect();
            assert!(!tags.is_empty());
            for tag in tags {
                assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "a script without the nonce: <script{tag}>");
            }
        }
    }
    let (_, res) = maria.post("/api/users", json!({})).await;
    assert!(res.is_array());
}
