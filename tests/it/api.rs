//! The HTTP contract, end to end through a real server: claims, release fencing, auth, bad input.

use futures::future::join_all;
use leadboard_testkit::server::{assert_one_winner, claim_race, TestServer};
use serde_json::{json, Value};

fn lead_of(list: &Value, id: &str) -> Value {
    list["leads"].as_array().unwrap().iter().find(|l| l["id"] == id).cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_simultaneous_claims_have_exactly_one_winner() {
    const CLAIMERS: usize = 200;
    let server = TestServer::start(5, CLAIMERS).await;
    let users: Vec<String> = (1..=CLAIMERS).map(|n| format!("user{n:03}")).collect();
    let clients = join_all(users.iter().map(|u| server.client(u))).await;
    let winner = assert_one_winner(&users, &claim_race(&clients, "L00003").await);
    // The store agrees, and the lead moved exactly one version.
    let list = server.client("maria").await.post("/api/leads", json!({})).await.1;
    let lead = lead_of(&list, "L00003");
    assert_eq!(lead["assignee"], winner.as_str());
    assert_eq!(lead["status"], "claimed");
    assert_eq!(lead["version"], 2);
    // Every attempt left an event: one claim, the rest conflicts.
    let events = server.state.leads.events_after(0, 10_000).await.unwrap().unwrap();
    let kinds = |k: &str| events.iter().filter(|e| e.lead.id.as_str() == "L00003" && e.change.kind() == k).count();
    assert_eq!(kinds("claimed"), 1);
    assert_eq!(kinds("claim_lost"), CLAIMERS - 1);
}

#[tokio::test]
async fn claiming_twice_is_already_yours_and_unknown_leads_are_404() {
    let server = TestServer::start(3, 0).await;
    let alice = server.client("alice").await;
    let (s, first) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, first["outcome"].as_str()), (200, Some("won")));
    let (s, again) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!((s, again["outcome"].as_str()), (200, Some("already_yours")));
    assert_eq!(again["lead"]["version"], first["lead"]["version"], "a repeat claim changes nothing");
    let (s, body) = alice.post("/api/claim", json!({"lead_id": "L99999"})).await;
    assert_eq!(s, 404, "{body}");
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn release_is_fenced_by_version_and_holder() {
    let server = TestServer::start(3, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let won = alice.post("/api/claim", json!({"lead_id": "L00002"})).await.1;
    let v = won["lead"]["version"].as_u64().unwrap();

    let (s, body) = bob.post("/api/release", json!({"lead_id": "L00002", "version": v})).await;
    assert_eq!(s, 403, "only the holder releases: {body}");
    let (s, body) = alice.post("/api/release", json!({"lead_id": "L00002", "version": v - 1})).await;
    assert_eq!(s, 409, "a stale version is a conflict: {body}");
    assert_eq!(body["lead"]["version"], v, "the conflict carries the current lead");
    let (s, body) = alice.post("/api/release", json!({"lead_id": "L00002", "version": v})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"], "open");
    assert_eq!(body["version"], v + 1);

    // A manager may release someone else's lead, and reassign it.
    let held = bob.post("/api/claim", json!({"lead_id": "L00002"})).await.1;
    let v = held["lead"]["version"].as_u64().unwrap();
    let (s, body) = maria.post("/api/reassign", json!({"lead_id": "L00002", "version": v, "to": "carol"})).await;
    assert_eq!((s, body["assignee"].as_str()), (200, Some("carol")), "{body}");
    let (s, _) = bob.post("/api/reassign", json!({"lead_id": "L00002", "version": v + 1, "to": "bob"})).await;
    assert_eq!(s, 403, "employees cannot reassign");
    let (s, body) = maria.post("/api/release", json!({"lead_id": "L00002", "version": v + 1})).await;
    assert_eq!((s, body["assignee"].clone()), (200, Value::Null), "{body}");
}

#[tokio::test]
async fn sign_in_and_out() {
    let server = TestServer::start(3, 0).await;
    let anon = leadboard_testkit::server::Client::anonymous(&server);
    let (s, body) = anon.post("/api/leads", json!({})).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("unauthorized")));
    let (s, _) = anon.post("/api/claim", json!({"lead_id": "L00001"})).await;
    assert_eq!(s, 401);
    let (s, _) = anon.post("/api/login", json!({"username": "alice", "password": "wrong"})).await;
    assert_eq!(s, 401);
    let (s, _) = anon.post("/api/login", json!({"username": "nobody", "password": "demo1234"})).await;
    assert_eq!(s, 401);

    let alice = server.client("alice").await;
    let (s, me) = alice.post("/api/me", json!({})).await;
    assert_eq!((s, me["username"].as_str(), me["role"].as_str()), (200, Some("alice"), Some("employee")));
    let (s, list) = alice.post("/api/leads", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(list["leads"].as_array().unwrap().len(), 3);
    assert_eq!(alice.post("/api/logout", json!({})).await.0, 200);
    assert_eq!(alice.post("/api/leads", json!({})).await.0, 401, "the session really ended");
    assert_eq!(alice.post("/api/me", json!({})).await.1, Value::Null);
}

#[tokio::test]
async fn bad_bodies_get_a_4xx_with_a_reason_and_change_nothing() {
    let server = TestServer::start(3, 0).await;
    let alice = server.client("alice").await;
    let cases: Vec<(&str, String, u16)> = vec![
        ("/api/claim", "{not json".into(), 400),
        ("/api/claim", "{}".into(), 400),
        ("/api/claim", r#"{"lead_id":123}"#.into(), 400),
        ("/api/claim", r#"{"lead_id":"<script>"}"#.into(), 400),
        ("/api/claim", String::new(), 400),
        ("/api/release", r#"{"lead_id":"L00001","version":-1}"#.into(), 400),
        ("/api/release", r#"{"lead_id":"L00001"}"#.into(), 400),
        ("/api/claim", format!(r#"{{"lead_id":"{}"}}"#, "x".repeat(70 * 1024)), 413),
        ("/api/login", format!(r#"{{"username":"alice","password":"{}"}}"#, "p".repeat(100 * 1024)), 413),
    ];
    for (path, body, want) in cases {
        let shown: String = body.chars().take(40).collect();
        let (status, reply) = alice.post_raw(path, body).await;
        assert_eq!(status, want, "{path} {shown}: {reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()), "{path} {shown}: a reason: {reply}");
    }
    // Over the limit without a declared length (chunked): 413 all the same.
    let cookie = alice.cookie().unwrap();
    let reply =
        chunked_post(server.addr, "/api/claim", &cookie, format!(r#"{{"lead_id":"{}"}}"#, "x".repeat(70 * 1024))).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{}", reply.lines().next().unwrap_or_default());
    let reply = chunked_post(server.addr, "/api/claim", &cookie, r#"{"lead_id":"L00003"}"#.into()).await;
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.contains(r#""outcome":"won""#),
        "a small chunked body is fine: {reply}"
    );
    assert_eq!(alice.post("/api/release", json!({"lead_id": "L00003", "version": 2})).await.0, 200);
    // Too large for a browser's numbers and the store's integers.
    let maria = server.client("maria").await;
    let (s, body) =
        maria.post("/api/leads/add", json!({"id": "N1", "name": "Ada", "company": "Co", "value": u64::MAX})).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("value must be at most")), "{body}");
    let list = alice.post("/api/leads", json!({})).await.1;
    assert_eq!(list["leads"].as_array().unwrap().len(), 3, "{list}");
    assert!(list["leads"].as_array().unwrap().iter().all(|l| l["status"] == "open"), "nothing changed");
}

#[tokio::test]
async fn a_lead_id_that_differs_only_in_case_is_refused() {
    let server = TestServer::start(3, 0).await;
    let maria = server.client("maria").await;
    let (s, body) =
        maria.post("/api/leads/add", json!({"id": "l00001", "name": "Ada", "company": "Co", "value": 1})).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("differs only in case")), "{body}");
    let list = maria.post("/api/leads", json!({})).await.1;
    assert_eq!(list["leads"].as_array().unwrap().len(), 3, "nothing added: {list}");
}

/// POSTs `body` in 8 KiB chunks (`transfer-encoding: chunked`, no length) over a raw connection;
/// the whole response as text. The server may answer and close before the body is sent.
async fn chunked_post(addr: std::net::SocketAddr, path: &str, cookie: &str, body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncookie: {cookie}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(8192) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if s.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn health_and_pages() {
    let server = TestServer::start(3, 0).await;
    let res = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    // Signed out, the board sends you to sign in; the sign-in page renders.
    let login = reqwest::get(server.url("/login")).await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("Sign in"));
    // An employee cannot open the manager's board.
    let alice = server.client("alice").await;
    let res = alice.http.get(server.url("/manager")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let maria = server.client("maria").await;
    let res = maria.http.get(server.url("/manager")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Live feed") && html.contains("L00001"), "the manager board renders leads");
}
