//! Operability, in-process: `/metrics`, `/healthz` and `/readyz`, a stalled board that must not
//! slow the others, and the drain at shutdown (boards told to reconnect, bounded wait).

use futures::future::join_all;
use futures::StreamExt;
use leadboard::domain::{BoardState, LeadId, UserInfo, Username};
use leadboard::protocol::ServerMsg;
use leadboard::server::config::SecurityConfig;
use leadboard::server::fanout::BUFFER;
use leadboard::server::http;
use leadboard_testkit::server::{connect_board, next_msg, send_msg, Client, TestServer};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// The value of one sample line (`name{labels}` exactly as rendered) in a scrape.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
        .parse()
        .unwrap()
}

async fn scrape(server: &TestServer) -> String {
    let res = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    res.text().await.unwrap()
}

async fn get_json(url: String) -> (u16, Value) {
    let res = reqwest::get(url).await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Waits until `cond` holds on fresh scrapes (gauges change when a socket task notices).
async fn scrape_until(server: &TestServer, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = scrape(server).await;
        if cond(&text) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} never held:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_claims_conflicts_boards_and_events_per_server() {
    let limits = SecurityConfig { claims_per_minute: 3, ..SecurityConfig::default() };
    let server = TestServer::start_with(5, 0, limits).await;
    let other = TestServer::start(5, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    let seeded = server.state.leads.latest_seq().await.unwrap();

    let mut ws = connect_board(&server, &maria).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": seeded})).await;
    let mut ws2 = connect_board(&server, &bob).await.unwrap();
    send_msg(&mut ws2, json!({"type": "resume", "after_seq": seeded})).await;
    scrape_until(&server, "two boards", |t| sample(t, "leadboard_boards_connected") == 2.0).await;

    let won = alice.post("/api/claim", json!({"lead_id": "L00001"})).await.1;
    assert_eq!(won["outcome"], "won");
    assert_eq!(bob.post("/api/claim", json!({"lead_id": "L00001"})).await.1["outcome"], "lost");
    assert_eq!(alice.post("/api/claim", json!({"lead_id": "L00001"})).await.1["outcome"], "already_yours");
    assert_eq!(alice.post("/api/claim", json!({"lead_id": "L99999"})).await.0, 404);
    // alice has used her 3 claims this minute.
    assert_eq!(alice.post("/api/claim", json!({"lead_id": "L00002"})).await.0, 429);
    // A stale release and a stale reassign are conflicts; a release by a non-holder is not.
    let v = won["lead"]["version"].as_u64().unwrap();
    assert_eq!(alice.post("/api/release", json!({"lead_id": "L00001", "version": v - 1})).await.0, 409);
    assert_eq!(bob.post("/api/release", json!({"lead_id": "L00001", "version": v})).await.0, 403);
    assert_eq!(maria.post("/api/reassign", json!({"lead_id": "L00001", "version": v - 1, "to": "bob"})).await.0, 409);
    assert_eq!(alice.post("/api/release", json!({"lead_id": "L00001", "version": v})).await.0, 200);

    // Both boards get the three events (claimed, claim_lost, released) live.
    for ws in [&mut ws, &mut ws2] {
        for _ in 0..3 {
            assert!(matches!(next_msg(ws, WAIT).await, Some(ServerMsg::Event(_))));
        }
    }
    let text = scrape(&server).await;
    for (outcome, n) in
        [("won", 1.0), ("lost", 1.0), ("already_yours", 1.0), ("not_found", 1.0), ("rate_limited", 1.0), ("error", 0.0)]
    {
        assert_eq!(sample(&text, &format!("leadboard_claims_total{{outcome=\"{outcome}\"}}")), n, "{outcome}");
    }
    // Decided claims are timed: won, lost, already_yours.
    assert_eq!(sample(&text, "leadboard_claim_duration_seconds_count"), 3.0);
    assert_eq!(sample(&text, "leadboard_claim_duration_seconds_bucket{le=\"+Inf\"}"), 3.0);
    assert!(sample(&text, "leadboard_claim_duration_seconds_sum") > 0.0);
    assert_eq!(sample(&text, "leadboard_conflicts_total{op=\"claim\"}"), 1.0);
    assert_eq!(sample(&text, "leadboard_conflicts_total{op=\"release\"}"), 1.0);
    assert_eq!(sample(&text, "leadboard_conflicts_total{op=\"reassign\"}"), 1.0);
    // Seeding published one event per lead; then claimed, claim_lost, released.
    assert_eq!(sample(&text, "leadboard_events_published_total"), (seeded + 3) as f64);
    assert_eq!(sample(&text, "leadboard_event_deliveries_total"), 6.0, "3 events to each of 2 boards");
    assert_eq!(sample(&text, "leadboard_board_connections_total"), 2.0);
    assert_eq!(sample(&text, "leadboard_store_errors_total{op=\"claim\"}"), 0.0);

    drop(ws2);
    scrape_until(&server, "one board left", |t| sample(t, "leadboard_boards_connected") == 1.0).await;

    // Another server in the same process counts on its own.
    let text = scrape(&other).await;
    assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"won\"}"), 0.0);
    assert_eq!(sample(&text, "leadboard_boards_connected"), 0.0);
}

#[tokio::test]
async fn healthz_is_liveness_and_readyz_reports_why_not_ready() {
    let server = TestServer::start(3, 0).await;
    let (s, body) = get_json(server.url("/healthz")).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("alive")));
    let (s, body) = get_json(server.url("/readyz")).await;
    assert_eq!((s, body["status"].as_str(), body["store"].as_str()), (200, Some("ready"), Some("sqlite")), "{body}");

    // Draining: not ready (the load balancer moves traffic away), still alive, no new boards.
    server.state.hub.shut_down();
    let (s, body) = get_json(server.url("/readyz")).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["reason"], "shutting down");
    assert_eq!(get_json(server.url("/healthz")).await.0, 200);
    let alice = server.client("alice").await;
    assert!(connect_board(&server, &alice).await.is_err(), "no new boards while draining");
}

/// A board socket whose reader keeps a tiny receive buffer, so that when it stops reading the
/// server's writes back up quickly.
async fn stalled_board(server: &TestServer, client: &Client) -> leadboard_testkit::server::Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut req = format!("ws://{}/ws", server.addr).into_client_request().unwrap();
    req.headers_mut().insert("cookie", client.cookie().unwrap().parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    ws
}

/// Reads a board until the socket ends; checks that it sees every event in order, no snapshot.
fn keep_up(
    mut ws: leadboard_testkit::server::Socket,
    from: u64,
    seen: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<(u64, usize)> {
    tokio::spawn(async move {
        let (mut last, mut snapshots) = (from, 0);
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(t) = msg else { continue };
            match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                ServerMsg::Event(ev) => {
                    assert_eq!(ev.seq, last + 1, "a board that keeps up sees every event once, in order");
                    last = ev.seq;
                    seen.store(last, Ordering::Relaxed);
                }
                ServerMsg::Snapshot(_) => snapshots += 1,
                _ => {}
            }
        }
        (last, snapshots)
    })
}

type Reader = (tokio::task::JoinHandle<(u64, usize)>, Arc<AtomicU64>);

/// Waits until every reading board has seen event `seq`.
async fn catch_up(boards: &[Reader], seq: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    for (task, seen) in boards {
        while seen.load(Ordering::Relaxed) < seq {
            assert!(!task.is_finished(), "a reading board ended early");
            assert!(tokio::time::Instant::now() < deadline, "a reading board is stuck at {seen:?}, want {seq}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_board_gets_a_snapshot_and_never_holds_up_the_others() {
    // The claim service limits claims per user; this stream is far faster than any person.
    let unlimited = SecurityConfig { claims_per_minute: u32::MAX, ..SecurityConfig::default() };
    let server = TestServer::start_with(40, 20, unlimited).await;
    let watcher = server.client("maria").await;
    let start = server.state.leads.latest_seq().await.unwrap();

    let mut stalled = stalled_board(&server, &watcher).await;
    send_msg(&mut stalled, json!({"type": "resume", "after_seq": start})).await;
    let mut fast = Vec::new();
    for _ in 0..2 {
        let mut ws = connect_board(&server, &watcher).await.unwrap();
        send_msg(&mut ws, json!({"type": "resume", "after_seq": start})).await;
        let seen = Arc::new(AtomicU64::new(start));
        fast.push((keep_up(ws, start, seen.clone()), seen));
    }

    // A steady stream of claims (every lead is taken at once; later claims are lost and still
    // each make an event), paced so the boards that read are never more than a batch behind.
    // It runs until the stalled board has fallen a whole buffer behind, then a bit more.
    let users: Vec<UserInfo> = (1..=20)
        .map(|n| UserInfo {
            username: Username::parse(format!("user{n:03}")).unwrap(),
            role: leadboard::domain::Role::Employee,
        })
        .collect();
    let leads: Vec<LeadId> = (1..=40).map(|n| LeadId::parse(format!("L{n:05}")).unwrap()).collect();
    let mut round = 0usize;
    let mut extra = None;
    loop {
        let claims = &server.state.claims;
        join_all((0..100).map(|k| {
            let (user, lead) = (&users[(round + k) % users.len()], &leads[(round * 7 + k) % leads.len()]);
            async move { claims.claim(lead, user).await.unwrap() }
        }))
        .await;
        round += 1;
        let latest = server.state.leads.latest_seq().await.unwrap();
        assert!(server.state.hub.buffered() <= BUFFER, "the fan-out holds at most its buffer");
        catch_up(&fast, latest.saturating_sub(200)).await;
        // Once the buffer is full the stalled board's oldest unread event is being overwritten.
        if server.state.hub.buffered() == BUFFER && extra.is_none() {
            extra = Some(round + 3);
        }
        if extra == Some(round) {
            break;
        }
        assert!(round < 1000, "the stalled board never filled the buffer");
    }
    let latest = server.state.leads.latest_seq().await.unwrap();
    let produced = latest - start;
    assert!(produced > BUFFER as u64, "{produced} events");

    // The stalled board wakes up: whatever the socket still held, then a snapshot, then live.
    let mut board = BoardState::default();
    let (mut events_before, mut snapshot_seq) = (0, None);
    let mut last = start;
    while snapshot_seq.is_none() {
        match next_msg(&mut stalled, WAIT).await.expect("the stalled board is still served") {
            ServerMsg::Event(ev) => {
                assert_eq!(ev.seq, last + 1, "before the snapshot, events in order");
                last = ev.seq;
                events_before += 1;
            }
            ServerMsg::Snapshot(leadboard::protocol::Snapshot { stream, seq, leads }) => {
                assert!(seq >= last, "the snapshot is not older than what the board had");
                board = BoardState::new(stream, seq, leads);
                snapshot_seq = Some(seq);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(events_before < produced, "the stalled board did not get every event: it got a snapshot");
    // Nothing changes any more, so the snapshot is the store.
    let store = server.state.leads.snapshot().await.unwrap();
    assert_eq!(
        board,
        BoardState::new(store.stream, store.seq, store.leads),
        "after the snapshot the board equals the store"
    );

    let text = scrape(&server).await;
    assert_eq!(
        sample(&text, "leadboard_board_snapshots_total{reason=\"lagged\"}"),
        1.0,
        "exactly the stalled board lagged"
    );
    let dropped = sample(&text, "leadboard_events_dropped_total");
    assert!(dropped >= 1.0 && dropped <= produced as f64, "{dropped} of {produced}");
    assert!(sample(&text, "leadboard_fanout_buffered_events") <= BUFFER as f64);

    // The boards that read kept up: every event, in order, and no snapshot.
    catch_up(&fast, latest).await;
    server.state.hub.shut_down();
    for (task, _) in fast {
        let (last, snapshots) = task.await.unwrap();
        assert_eq!((last, snapshots), (latest, 0), "a reading board missed nothing");
    }
    println!(
        "stalled board: {produced} events produced, {events_before} reached it before its snapshot, {dropped} dropped"
    );
}

/// Waits for a board's close frame; returns its code.
async fn close_code(ws: &mut leadboard_testkit::server::Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.ok()?? {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_boards_to_reconnect_and_is_bounded_by_the_grace_period() {
    let server = TestServer::start(3, 0).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let grace = Duration::from_millis(1500);
    let serving = tokio::spawn(http::serve_on(
        listener,
        server.state.hub.clone(),
        leadboard::site::router(server.state.clone()),
        http::ConnLimits::new(&server.state.config.security),
        async move { stopped.await.unwrap() },
        grace,
    ));

    let alice = Client::sign_in(addr, "alice").await;
    let mut boards = Vec::new();
    for _ in 0..3 {
        let mut ws = leadboard_testkit::server::connect_board_with(addr, &alice, &[]).await.unwrap();
        send_msg(&mut ws, json!({"type": "resume", "after_seq": 3})).await;
        boards.push(ws);
    }
    // A request that never finishes sending its body: in flight for ever.
    let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    stuck
        .write_all(format!("POST /api/claim HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    for ws in &mut boards {
        assert_eq!(close_code(ws).await, Some(1012), "service restart");
    }
    let boards_closed = started.elapsed();
    let drained = serving.await.unwrap().unwrap();
    assert!(!drained.clean, "the stuck request was cut");
    assert!(drained.took >= grace && drained.took < grace + Duration::from_secs(1), "{drained:?}");
    assert!(boards_closed < grace, "boards are told at once, not at the end: {boards_closed:?}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
    assert_eq!(server.state.metrics.boards_restarted.get(), 3);

    // Nothing stuck: the drain ends as soon as the boards are gone.
    let server = TestServer::start(3, 0).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(http::serve_on(
        listener,
        server.state.hub.clone(),
        leadboard::site::router(server.state.clone()),
        http::ConnLimits::new(&server.state.config.security),
        async move { stopped.await.unwrap() },
        grace,
    ));
    let alice = Client::sign_in(addr, "alice").await;
    let mut ws = leadboard_testkit::server::connect_board_with(addr, &alice, &[]).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": 3})).await;
    assert!(next_msg(&mut ws, Duration::from_millis(300)).await.is_none());
    stop.send(()).unwrap();
    let mut got = None;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Close(Some(f)) = msg {
            got = Some((f.code, f.reason.to_string()));
        }
    }
    assert_eq!(got, Some((CloseCode::Restart, "service restart".to_owned())));
    let drained = serving.await.unwrap().unwrap();
    assert!(drained.clean && drained.took < grace, "{drained:?}");
    let _ = ws.close(None).await;
}

/// Runs `probe` until it gives an answer, at most `within`.
async fn poll<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_appwrite_readiness_follows_the_realtime_bridge_and_the_store() {
    use leadboard_testkit::appwrite::{Appwrite, Replica};
    let aw = Appwrite::start().await;
    // The bridge cannot sign in as the service user: the store answers, the bridge is down.
    aw.faults(json!({"errors": [{"status": 503, "fraction": 1.0, "path_prefix": "/v1/account/sessions"}]})).await;
    let replica = Replica::start(&aw).await;
    let base = format!("http://{}", replica.addr);
    let scrape_aw = || async { reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap() };
    let (s, body) = get_json(format!("{base}/readyz")).await;
    assert_eq!((s, body["store"].as_str()), (503, Some("appwrite")), "{body}");
    assert!(body["reason"].as_str().unwrap().contains("Realtime bridge"), "{body}");
    assert_eq!(get_json(format!("{base}/healthz")).await.0, 200, "alive all the same");
    poll("a failed sign-in counts as a reconnect", WAIT, async || {
        let text = scrape_aw().await;
        (sample(&text, "leadboard_realtime_bridge_reconnects_total") >= 1.0).then_some(())
    })
    .await;
    assert_eq!(sample(&scrape_aw().await, "leadboard_realtime_bridge_connected"), 0.0);

    aw.clear_faults().await;
    poll("ready once the bridge is connected", Duration::from_secs(30), async || {
        (get_json(format!("{base}/readyz")).await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(sample(&scrape_aw().await, "leadboard_realtime_bridge_connected"), 1.0);

    // Changes arrive through Realtime, each timed from Appwrite's timestamp.
    aw.seed(&replica, 3, 0).await;
    let alice = replica.client("alice").await;
    assert_eq!(alice.post("/api/claim", json!({"lead_id": "L00001"})).await.1["outcome"], "won");
    let text = poll("events through the bridge", WAIT, async || {
        let text = scrape_aw().await;
        (sample(&text, "leadboard_realtime_bridge_lag_seconds_count") >= 1.0).then_some(text)
    })
    .await;
    assert!(sample(&text, "leadboard_realtime_bridge_events_total") >= 1.0);
    assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"won\"}"), 1.0);

    // A dropped socket: not connected until the bridge is back, then ready again.
    let reconnects = sample(&text, "leadboard_realtime_bridge_reconnects_total");
    aw.faults(json!({"drop_sockets": true})).await;
    poll("the bridge reconnects", Duration::from_secs(30), async || {
        let text = scrape_aw().await;
        let back = sample(&text, "leadboard_realtime_bridge_reconnects_total") > reconnects
            && sample(&text, "leadboard_realtime_bridge_connected") == 1.0;
        back.then_some(())
    })
    .await;
    assert_eq!(get_json(format!("{base}/readyz")).await.0, 200);

    // Appwrite itself failing: not ready, and the failed pings are store errors.
    aw.faults(json!({"errors": [{"status": 503, "fraction": 1.0}]})).await;
    let (s, body) = get_json(format!("{base}/readyz")).await;
    assert_eq!(s, 503, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("store is unreachable"), "{body}");
    assert!(sample(&scrape_aw().await, "leadboard_store_errors_total{op=\"ping\"}") >= 1.0);
    aw.clear_faults().await;
}
