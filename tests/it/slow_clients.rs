//! Slow and greedy clients: half-sent requests beyond the server's open-file limit do not stop it
//! answering others; request bodies have a deadline; boards that never read cost only their own
//! socket; boards per user and address are capped, a board closed for misbehaving must wait to
//! reconnect, and snapshots per user are rate-limited.

use super::process::{free_port, leadboard, seed, under_open_file_limit, Server};
use leadboard::protocol::{Close, ServerMsg};
use leadboard::server::config::SecurityConfig;
use leadboard_testkit::server::{connect_board, next_msg, send_msg, Client, Socket, TestServer};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;

const GENEROUS: Duration = Duration::from_secs(60);

/// A connection from `from` (any 127.x address) that sends half a request head and stops.
async fn half_sent(from: std::net::Ipv4Addr, to: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::from((from, 0))).ok()?;
    let mut tcp = tokio::time::timeout(Duration::from_secs(3), socket.connect(to)).await.ok()?.ok()?;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ").await.ok()?;
    Some(tcp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_past_the_open_file_limit_do_not_stop_the_server_answering() {
    const LIMIT: u32 = 1024;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("slow.db");
    seed(&db, 5, 0);
    let port = free_port();
    let mut cmd = leadboard(&db, port);
    cmd.arg("serve")
        .env("LEADBOARD_HEADER_TIMEOUT_SECS", "2")
        .env("LEADBOARD_MAX_CONNECTIONS", "600")
        .env("LEADBOARD_MAX_CONNECTIONS_PER_ADDRESS", "40");
    let server = Server::spawn(under_open_file_limit(&cmd, LIMIT), dir.path(), port, 1).await;

    // More half-sent requests than the server may open files, from 30 addresses.
    let attackers = (0..30u8).flat_map(|a| (0..40).map(move |_| std::net::Ipv4Addr::new(127, 0, 1, a + 2)));
    let held: Vec<TcpStream> = futures::future::join_all(attackers.map(|from| half_sent(from, server.addr)))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(held.len() > LIMIT as usize, "only {} connections opened", held.len());

    // A normal client still gets its answers (once the head deadline frees slots at the latest).
    let started = Instant::now();
    let answered = tokio::time::timeout(GENEROUS, async {
        assert_eq!(reqwest::get(format!("http://{}/healthz", server.addr)).await.unwrap().status(), 200);
        let alice = Client::sign_in(server.addr, "alice").await;
        let (s, body) = alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
        assert_eq!((s, body["outcome"].as_str()), (200, Some("won")), "{body}");
    })
    .await;
    assert!(answered.is_ok(), "no answer within {GENEROUS:?}:\n{}", server.log_text());
    eprintln!("{} half-sent requests held; healthz, sign-in and claim answered in {:?}", held.len(), started.elapsed());

    // The server closed the half-sent ones itself: their reads end.
    let mut closed = 0;
    for mut tcp in held.into_iter().take(50) {
        let mut buf = [0u8; 256];
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 50, "half-sent requests are cut at the head deadline");
}

/// Sends `head` and `body` on a raw connection; returns what comes back (until the server closes).
async fn raw_exchange(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_lowercase()
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_and_a_refused_one_closes_the_connection() {
    let server = TestServer::start_with(1, 0, SecurityConfig { body_timeout_secs: 1, ..Default::default() }).await;
    let head = |len: usize| {
        format!(
            "POST /api/login HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n",
            server.addr
        )
    };
    let started = Instant::now();
    let slow = raw_exchange(server.addr, &head(100), b"{\"user").await;
    assert!(slow.starts_with("http/1.1 408"), "{slow}");
    assert!(slow.contains("connection: close"), "{slow}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let big = raw_exchange(server.addr, &head(10_000_000), b"{").await;
    assert!(big.starts_with("http/1.1 413") && big.contains("connection: close"), "{big}");
}

#[tokio::test]
async fn a_csv_upload_has_its_own_size_limit_and_the_same_body_deadline() {
    let server = TestServer::start_with(0, 0, SecurityConfig { body_timeout_secs: 1, ..Default::default() }).await;
    let cookie = server.client("maria").await.cookie().unwrap();
    let head = |path: &str, kind: &str, len: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncookie: {cookie}\r\ncontent-type: {kind}\r\n\
             content-length: {len}\r\nconnection: close\r\n\r\n",
            server.addr
        )
    };
    // About 100 KiB: over the JSON API's 64 KiB, well inside the upload's 4 MiB.
    let file = format!("name,company\n{}", "Ada,Acme\n".repeat(12_000));
    let preview = raw_exchange(server.addr, &head("/csv/preview", "text/csv", file.len()), file.as_bytes()).await;
    assert!(preview.starts_with("http/1.1 200"), "{}", &preview[..200.min(preview.len())]);
    let json = raw_exchange(server.addr, &head("/api/leads", "application/json", file.len()), b"{").await;
    assert!(json.starts_with("http/1.1 413") && json.contains("over 64 kib"), "{json}");
    let huge = raw_exchange(server.addr, &head("/csv/import", "text/csv", 5 << 20), b"name").await;
    assert!(huge.starts_with("http/1.1 413") && huge.contains("over 4 mib"), "{huge}");
    let started = Instant::now();
    let slow = raw_exchange(server.addr, &head("/csv/import", "text/csv", 1000), b"name,company\n").await;
    assert!(slow.starts_with("http/1.1 408") && slow.contains("connection: close"), "{slow}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(server.state.leads.snapshot().await.unwrap().leads.is_empty());
}

fn board_limits() -> SecurityConfig {
    SecurityConfig {
        max_boards_per_user: 300,
        max_boards_per_address: 400,
        snapshots_per_minute: 1000,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_that_never_read_cost_only_their_own_sockets() {
    let server = TestServer::start_with(40, 0, board_limits()).await;
    let (alice, bob) = (server.client("alice").await, server.client("bob").await);
    let mut stalled: Vec<Socket> = Vec::new();
    for _ in 0..200 {
        let mut ws = connect_board(&server, &alice).await.unwrap();
        // From another stream: a full snapshot each, which they never read.
        send_msg(&mut ws, json!({"type": "resume", "after_seq": 0, "stream": "elsewhere"})).await;
        stalled.push(ws);
    }
    let mut watching = Vec::new();
    for _ in 0..3 {
        let mut ws = connect_board(&server, &bob).await.unwrap();
        send_msg(&mut ws, json!({"type": "resume", "after_seq": 40})).await;
        watching.push(ws);
    }
    for n in 1..=40 {
        assert_eq!(bob.post("/api/claim", json!({"lead_id": format!("L{n:05}")})).await.0, 200);
    }
    for ws in &mut watching {
        for n in 1..=40u64 {
            match next_msg(ws, Duration::from_secs(10)).await {
                Some(ServerMsg::Event(ev)) => assert_eq!(ev.seq, 40 + n, "every event, in order"),
                other => panic!("event {n}: {other:?}"),
            }
        }
    }
    assert_eq!(server.state.hub.boards(), 203);
    drop(stalled);
}

async fn refused_status(server: &TestServer, client: &Client) -> Option<u16> {
    match connect_board(server, client).await {
        Err(tungstenite::Error::Http(res)) => Some(res.status().as_u16()),
        _ => None,
    }
}

async fn close_of(ws: &mut Socket) -> Option<(u16, String)> {
    use futures::StreamExt;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let tungstenite::Message::Close(Some(f)) = msg {
            return Some((u16::from(f.code), f.reason.to_string()));
        }
    }
    None
}

#[tokio::test]
async fn boards_are_capped_per_user_and_a_board_closed_for_misbehaving_waits_to_reconnect() {
    let security = SecurityConfig { max_boards_per_user: 2, snapshots_per_minute: 3, ..Default::default() };
    let server = TestServer::start_with(3, 0, security).await;
    let alice = server.client("alice").await;
    let first = connect_board(&server, &alice).await.unwrap();
    let _second = connect_board(&server, &alice).await.unwrap();
    assert_eq!(refused_status(&server, &alice).await, Some(429), "a third board for one user");
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A resume naming a foreign stream asks for a full snapshot: three a minute, then 1008.
    let mut ws = connect_board(&server, &alice).await.unwrap();
    for n in 0..3 {
        send_msg(&mut ws, json!({"type": "resume", "after_seq": 0, "stream": "elsewhere"})).await;
        assert!(
            matches!(next_msg(&mut ws, Duration::from_secs(5)).await, Some(ServerMsg::Snapshot(_))),
            "snapshot {n}"
        );
    }
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 0, "stream": "elsewhere"})).await;
    let (code, reason) = close_of(&mut ws).await.expect("closed");
    assert_eq!(code, Close::Policy.code());
    assert!(reason.contains("snapshots"), "{reason}");
    // Reconnecting at once is refused for a while.
    tokio::time::sleep(Duration::from_millis(200)).await;
    match connect_board(&server, &alice).await {
        Err(tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 429);
            assert!(res.headers().contains_key("retry-after"));
        }
        other => panic!("reconnected at once: {:?}", other.map(|_| ())),
    }
    let bob = server.client("bob").await;
    assert!(connect_board(&server, &bob).await.is_ok(), "others are not held back");
}
