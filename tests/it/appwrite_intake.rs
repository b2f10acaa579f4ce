//! The intake API in the Appwrite mode: tokens are Appwrite documents shared by every replica,
//! kept as hashes; retries with one `Idempotency-Key` through two replicas at once make one
//! lead; another body under a used key is refused; a revoke on one replica stops the token on
//! the other at once.

use futures::future::join_all;
use leadboard_testkit::appwrite::{Appwrite, Replica, Version, DB};
use reqwest::Method;
use serde_json::{json, Value};
use std::net::SocketAddr;

per_version!(tokens_are_shared_by_replicas_hashed_idempotent_and_revoked_everywhere, [V1_5, V1_8, V1_9_6]);

async fn intake(addr: SocketAddr, secret: &str, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/leads"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {secret}"));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let res = req.body(body.to_owned()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn tokens_are_shared_by_replicas_hashed_idempotent_and_revoked_everywhere(v: Version) {
    const RETRIES: usize = 20;
    let aw = Appwrite::start_version(v).await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 0, 0).await;
    let maria = a.client("maria").await;
    let (status, made) = maria.post("/api/tokens/create", json!({"name": "Website form"})).await;
    assert_eq!(status, 200, "{made}");
    let (id, secret) = (made["token"]["id"].as_str().unwrap(), made["secret"].as_str().unwrap());

    // At rest: the SHA-256 of the secret, never the secret.
    let (status, doc) =
        aw.call(Method::GET, &format!("/databases/{DB}/collections/api_tokens/documents/{id}"), None).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["token_hash"], leadboard::server::intake::tokens::hash(secret));
    assert!(!doc.to_string().contains(&secret[4..]), "{doc}");

    // Retries of one form post, half through each replica, all at once: one lead.
    let body = r#"{"name":"Ada","company":"Acme","email":"ada@example.com"}"#;
    let replies =
        join_all((0..RETRIES).map(|i| intake(if i % 2 == 0 { a.addr } else { b.addr }, secret, body, Some("form-1"))))
            .await;
    assert_eq!(replies.iter().filter(|(s, _)| *s == 201).count(), 1, "{replies:?}");
    assert!(
        replies.iter().all(|(s, r)| [200, 201].contains(s) && r["leads"][0]["id"] == replies[0].1["leads"][0]["id"]),
        "{replies:?}"
    );
    let (status, body2) = intake(b.addr, secret, r#"{"name":"Ada","company":"Acme","value":5}"#, Some("form-1")).await;
    assert_eq!(status, 422, "another body under a used key, on the other replica: {body2}");
    let (_, leads) = aw.call(Method::GET, &format!("/databases/{DB}/collections/leads/documents"), None).await;
    assert_eq!(leads["total"], 1, "{leads}");

    let listed = maria.post("/api/tokens", json!({})).await.1;
    assert!(listed[0]["last_used_at"].is_i64(), "{listed}");
    assert!(listed[0]["revoked_at"].is_null(), "{listed}");

    // Revoked on A: B refuses the token at once, and a second revoke finds no live token.
    assert_eq!(maria.post("/api/tokens/revoke", json!({"id": id})).await.0, 200);
    let (status, refused) = intake(b.addr, secret, r#"{"name":"Bo","company":"Beta"}"#, None).await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(maria.post("/api/tokens/revoke", json!({"id": id})).await.0, 404);
    let listed = maria.post("/api/tokens", json!({})).await.1;
    assert!(listed[0]["revoked_at"].is_i64(), "{listed}");
}
