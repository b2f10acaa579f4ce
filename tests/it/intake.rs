//! The intake API (`POST /api/v1/leads`) and its tokens: made by managers and kept hashed,
//! last use recorded, revoked at once; retried requests with one `Idempotency-Key` make one lead
//! however many arrive together, and another body under a used key is refused; tokens can add
//! leads and nothing else; rate limits; bad bodies are 4xx with a reason.

use futures::future::join_all;
use futures::StreamExt;
use leadboard::protocol::ServerMsg;
use leadboard::server::config::StoreConfig;
use leadboard_testkit::server::{connect_board, send_msg, Client, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// A fresh token's ID and secret, made by maria.
async fn token(maria: &Client, name: &str) -> (String, String) {
    let (status, body) = maria.post("/api/tokens/create", json!({"name": name})).await;
    assert_eq!(status, 200, "{body}");
    (body["token"]["id"].as_str().unwrap().to_owned(), body["secret"].as_str().unwrap().to_owned())
}

/// POSTs `body` to the intake API with `secret` and extra headers.
async fn intake(server: &TestServer, secret: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(server.url("/api/v1/leads"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {secret}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.body(body.to_owned()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_token_is_shown_once_kept_hashed_records_its_use_and_stops_when_revoked() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let (id, secret) = token(&maria, "Website form").await;
    assert!(secret.starts_with("lbt_") && secret.len() > 40, "{secret}");
    let listed = maria.post("/api/tokens", json!({})).await.1;
    assert_eq!(listed[0]["name"], "Website form");
    assert!(listed[0]["last_used_at"].is_null());
    assert!(!listed.to_string().contains(&secret[4..]), "the list never shows the secret");

    // At rest: the SHA-256 of the secret, never the secret.
    let StoreConfig::Sqlite(sqlite) = &server.state.config.store else { panic!("a SQLite test server") };
    let path = &sqlite.path;
    let db = rusqlite::Connection::open(path).unwrap();
    let stored: String = db.query_row("SELECT token_hash FROM api_tokens WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(stored, leadboard::server::intake::tokens::hash(&secret));
    let file = std::fs::read(path).unwrap();
    assert!(!file.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is not in the file");

    let (status, body) =
        intake(&server, &secret, r#"{"name":"Ada","company":"Acme","email":"ada@example.com"}"#, &[]).await;
    assert_eq!(status, 201, "{body}");
    let lead_id = body["leads"][0]["id"].as_str().unwrap().to_owned();
    let board = server.state.leads.snapshot().await.unwrap().leads;
    let lead = board.iter().find(|l| l.id.as_str() == lead_id).unwrap();
    assert_eq!(lead.details.email.as_ref().unwrap().as_str(), "ada@example.com");
    let listed = maria.post("/api/tokens", json!({})).await.1;
    assert!(listed[0]["last_used_at"].is_i64(), "{listed}");

    assert_eq!(maria.post("/api/tokens/revoke", json!({"id": id})).await.0, 200);
    let (status, body) = intake(&server, &secret, r#"{"name":"Bo","company":"Beta"}"#, &[]).await;
    assert_eq!(status, 401, "a revoked token stops at once: {body}");
    assert_eq!(maria.post("/api/tokens/revoke", json!({"id": id})).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_with_one_idempotency_key_make_one_lead_however_many_arrive_at_once() {
    const RETRIES: usize = 20;
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let (_, secret) = token(&maria, "form").await;
    let body = r#"{"name":"Ada","company":"Acme","phone":"+1 555 0100"}"#;
    let replies =
        join_all((0..RETRIES).map(|_| intake(&server, &secret, body, &[("idempotency-key", "form-123")]))).await;
    let created = replies.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{replies:?}");
    assert!(replies
        .iter()
        .all(|(s, b)| [200, 201].contains(s) && b["leads"][0]["id"] == replies[0].1["leads"][0]["id"]));
    assert_eq!(server.state.leads.snapshot().await.unwrap().leads.len(), 1);
    // Another key is another lead; without a key the same content is the same lead.
    assert_eq!(intake(&server, &secret, body, &[("idempotency-key", "form-124")]).await.0, 201);
    assert_eq!(intake(&server, &secret, body, &[]).await.0, 201);
    assert_eq!(intake(&server, &secret, body, &[]).await.0, 200);
    assert_eq!(server.state.leads.snapshot().await.unwrap().leads.len(), 3);
}

#[tokio::test]
async fn an_idempotency_key_used_again_with_another_body_is_refused_with_a_reason() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let (_, secret) = token(&maria, "form").await;
    let key = [("idempotency-key", "form-9")];
    assert_eq!(intake(&server, &secret, r#"{"name":"Ada","company":"Acme"}"#, &key).await.0, 201);
    let (status, body) = intake(&server, &secret, r#"{"name":"Ada","company":"Acme","value":5}"#, &key).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("was used before with another body"), "{body}");
    let longer = r#"{"leads":[{"name":"Ada","company":"Acme"},{"name":"Bo","company":"Beta"}]}"#;
    assert_eq!(intake(&server, &secret, longer, &key).await.0, 422, "a longer batch is another body too");
    let (status, body) = intake(&server, &secret, r#"{ "company": "Acme", "name": "Ada" }"#, &key).await;
    assert_eq!((status, &body["leads"][0]["created"]), (200, &json!(false)), "the same lead, however spaced: {body}");

    // Only a valid request binds its key; keys are the token's own.
    let fresh = [("idempotency-key", "form-10")];
    assert_eq!(intake(&server, &secret, r#"{"name":"Ada"}"#, &fresh).await.0, 400);
    assert_eq!(intake(&server, &secret, r#"{"name":"Ada","company":"Beta"}"#, &fresh).await.0, 201);
    let (_, other) = token(&maria, "other").await;
    assert_eq!(intake(&server, &other, r#"{"name":"Cy","company":"Cyan"}"#, &key).await.0, 201);
    assert_eq!(server.state.leads.snapshot().await.unwrap().leads.len(), 3);
}

#[tokio::test]
async fn a_batch_is_added_whole_and_shows_up_live_or_refused_whole_naming_the_bad_lead() {
    let server = TestServer::start(0, 0).await;
    let (alice, maria) = (server.client("alice").await, server.client("maria").await);
    let (_, secret) = token(&maria, "crm").await;
    let mut ws = connect_board(&server, &alice).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": server.state.leads.latest_seq().await.unwrap()})).await;

    let bad = json!({"leads": [{"name": "A", "company": "B"}, {"name": "C", "company": "D", "email": "nope"}]});
    let (status, body) = intake(&server, &secret, &bad.to_string(), &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("lead 2: email must be an address"), "{body}");
    assert!(server.state.leads.snapshot().await.unwrap().leads.is_empty());

    let good = json!({"leads": [
        {"id": "W1", "name": "A", "company": "B", "value": 5, "tags": ["web"], "source": "site"},
        {"name": "C", "company": "D", "contact": "Cy", "created_at": 1_700_000_000_000_i64},
    ]});
    let (status, body) = intake(&server, &secret, &good.to_string(), &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["leads"][0], json!({"id": "W1", "created": true}));
    let msg = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = ws.next().await {
                match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                    ServerMsg::Heartbeat { .. } => continue,
                    other => return other,
                }
            }
        }
    })
    .await
    .unwrap();
    let ServerMsg::Events { events } = msg else { panic!("{msg:?}") };
    assert_eq!(events.len(), 2);
    assert!(events[0].actor.as_str().starts_with("api-"));
    assert_eq!(events[1].lead.details.created_at, Some(1_700_000_000_000));
}

#[tokio::test]
async fn tokens_add_leads_and_nothing_else_and_only_managers_make_them() {
    let server = TestServer::start(2, 0).await;
    let (alice, maria, nobody) =
        (server.client("alice").await, server.client("maria").await, Client::anonymous(&server));
    let (_, secret) = token(&maria, "form").await;
    let bearer = format!("Bearer {secret}");
    for (path, body) in [
        ("/api/leads", json!({})),
        ("/api/claim", json!({"lead_id": "L00001"})),
        ("/api/release", json!({"lead_id": "L00001", "version": 1})),
        ("/api/activity", json!({})),
        ("/api/tokens", json!({})),
        ("/api/tokens/create", json!({"name": "x"})),
        ("/api/users", json!({})),
    ] {
        let (status, reply) = nobody.post_with(path, body, &[("authorization", &bearer)]).await;
        assert_eq!(status, 401, "{path} with a token: {reply}");
    }
    let res =
        reqwest::Client::new().get(server.url("/csv/leads")).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(res.status(), 401, "nor export");
    assert_eq!(alice.post("/api/tokens/create", json!({"name": "mine"})).await.0, 403);
    assert_eq!(alice.post("/api/tokens", json!({})).await.0, 403);
    assert_eq!(nobody.post("/api/tokens/create", json!({"name": "mine"})).await.0, 401);
    assert_eq!(maria.post("/api/tokens/create", json!({"name": ""})).await.0, 400);
    for wrong in ["", "Bearer", "Bearer lbt_nope", "Basic bWFyaWE6ZGVtbzEyMzQ=", &format!("Bearer {secret}x")] {
        let (status, _) =
            nobody.post_with("/api/v1/leads", json!({"name": "A", "company": "B"}), &[("authorization", wrong)]).await;
        assert_eq!(status, 401, "{wrong:?}");
    }
    // A session is not a token either.
    assert_eq!(maria.post("/api/v1/leads", json!({"name": "A", "company": "B"})).await.0, 401);
}

#[tokio::test]
async fn each_token_has_its_own_rate_limit() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let ((_, busy), (_, calm)) = (token(&maria, "busy").await, token(&maria, "calm").await);
    let per_minute = leadboard::server::intake::tokens::PER_MINUTE as usize;
    for i in 0..per_minute {
        let (status, body) =
            intake(&server, &busy, &json!({"id": format!("R{i}"), "name": "A", "company": "B"}).to_string(), &[]).await;
        assert_eq!(status, 201, "{i}: {body}");
    }
    let res = reqwest::Client::new()
        .post(server.url("/api/v1/leads"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {busy}"))
        .body(r#"{"name":"A","company":"B"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(
        intake(&server, &calm, r#"{"name":"A","company":"B"}"#, &[]).await.0,
        201,
        "another token is not held up"
    );
}

#[tokio::test]
async fn bad_intake_bodies_are_4xx_with_a_reason_never_a_5xx() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let (_, secret) = token(&maria, "fuzz").await;
    let long = "x".repeat(300);
    let many: Vec<Value> = (0..101).map(|i| json!({"name": format!("n{i}"), "company": "c"})).collect();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "invalid JSON"),
        ("nul".into(), "invalid JSON"),
        ("[]".into(), "invalid lead"),
        ("42".into(), "invalid lead"),
        (r#"{"name":"A"}"#.into(), "company must not be empty"),
        (r#"{"name":"A","company":"B","emial":"a@b.c"}"#.into(), "unknown field `emial`"),
        (r#"{"name":"A","company":"B","value":-1}"#.into(), "invalid lead"),
        (r#"{"name":"A","company":"B","value":"12"}"#.into(), "invalid lead"),
        (format!(r#"{{"name":"{long}","company":"B"}}"#), "name is too long"),
        (r#"{"name":"A\u0000","company":"B"}"#.into(), "control characters"),
        (r#"{"name":"A","company":"B","phone":"call me"}"#.into(), "phone may contain only"),
        (r#"{"name":"A","company":"B","tags":["a,b"]}"#.into(), ""),
        (r#"{"id":"x y","name":"A","company":"B"}"#.into(), "lead_id may contain only"),
        (r#"{"leads":[]}"#.into(), "send 1 to 100 leads, not 0"),
        (json!({"leads": many}).to_string(), "send 1 to 100 leads, not 101"),
        (r#"{"leads":{"name":"A"}}"#.into(), "invalid lead"),
    ];
    for (body, why) in cases {
        let (status, reply) = intake(&server, &secret, &body, &[]).await;
        if why.is_empty() {
            assert!(status < 500, "{body}: {status} {reply}");
            continue;
        }
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply["message"].as_str().unwrap_or("").contains(why), "{body}: {reply}");
    }
    let key = "k".repeat(101);
    let (status, _) = intake(&server, &secret, r#"{"name":"A","company":"B"}"#, &[("idempotency-key", &key)]).await;
    assert_eq!(status, 400);
}
