use std::time::{Duration, Instant};

use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn next_n_calls_fail_before_applying() {
    let server = Server::start().await;
    server.setup_leads().await;
    let (status, config) = server.admin("/__faults", json!({"errors": [{"status": 503, "count": 2}]})).await;
    assert_eq!((status, config["errors"][0]["count"].as_u64()), (200, Some(2)));
    for _ in 0..2 {
        let failed = server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
        assert_error(&failed, 503, "general_unknown");
    }
    assert_eq!(
        server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await.0,
        201,
        "nothing was written before"
    );
    let (_, config) = read(server.http.get(server.url("/__faults")).send().await.unwrap()).await;
    assert_eq!(config["errors"], json!([]), "the rule expired");
}

#[tokio::test]
async fn errors_after_applying_make_retries_see_the_write() {
    let server = Server::start().await;
    server.setup_leads().await;
    let rule = json!({"status": 500, "count": 1, "phase": "after", "method": "POST", "path_prefix": documents_path()});
    server.admin("/__faults", json!({"errors": [rule]})).await;
    let failed = server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
    assert_error(&failed, 500, "general_unknown");
    assert_eq!(failed.1["message"], "Server Error");
    assert_eq!(server.get(As::Key, &document_path("lead-1")).await.0, 200, "the write happened");
    let retry = server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
    assert_error(&retry, 409, "document_already_exists");
}

#[tokio::test]
async fn fractions_filter_by_method_and_latency_delays() {
    let server = Server::start().await;
    server.setup_leads().await;
    server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
    server.admin("/__faults", json!({"errors": [{"status": 429, "fraction": 1.0, "method": "PATCH"}], "latency": {"ms": 120, "jitter_ms": 30}})).await;
    let started = Instant::now();
    let limited =
        server.call(As::Key, Method::PATCH, &document_path("lead-1"), Some(json!({"data": {"hot": true}}))).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_error(&limited, 429, "general_rate_limit_exceeded");
    assert_eq!(server.get(As::Key, &document_path("lead-1")).await.0, 200, "GET is not affected");
    assert_eq!(server.http.delete(server.url("/__faults")).send().await.unwrap().status(), 204);
    let started = Instant::now();
    let ok = server.call(As::Key, Method::PATCH, &document_path("lead-1"), Some(json!({"data": {"hot": true}}))).await;
    assert_eq!(ok.0, 200);
    assert!(started.elapsed() < Duration::from_millis(120));
    let rejected = server.admin("/__faults", json!({"errors": [{"status": 404, "count": 1}]})).await;
    assert_eq!(rejected.0, 400, "only 429 and 5xx can be injected");
}

#[tokio::test]
async fn sockets_can_be_dropped_now_or_periodically() {
    let server = Server::start().await;
    let mut first = server.subscribe(&["documents"], &[]).await;
    let mut second = server.subscribe(&["documents"], &[]).await;
    server.admin("/__faults", json!({"drop_sockets": true})).await;
    assert_eq!(closed(&mut first).await, None, "dropped without a close frame");
    assert_eq!(closed(&mut second).await, None);

    server.admin("/__faults", json!({"realtime": {"close_every_secs": 1}})).await;
    let mut socket = server.subscribe(&["documents"], &[]).await;
    let started = Instant::now();
    assert_eq!(closed(&mut socket).await, None);
    assert!(started.elapsed() <= Duration::from_millis(1500));
    server.admin("/__faults", json!({"realtime": {}})).await;
}

#[tokio::test]
async fn lost_events_and_reset() {
    let server = Server::start().await;
    server.setup_leads().await;
    let public = Some(json!(["read(\"any\")"]));
    let mut socket = server.subscribe(&["documents"], &[]).await;
    server.admin("/__faults", json!({"realtime": {"drop_event_fraction": 1.0}})).await;
    server.create_lead(As::Key, "lost", json!({"name": "L"}), public.clone()).await;
    server.admin("/__faults", json!({"realtime": {"drop_event_fraction": 0.0}})).await;
    server.create_lead(As::Key, "kept", json!({"name": "K"}), public).await;
    assert_eq!(next_json(&mut socket).await["data"]["payload"]["$id"], "kept", "the first event was lost");

    assert_eq!(server.admin("/__reset", json!({})).await.0, 204);
    assert_error(&server.get(As::Key, "/v1/databases/main").await, 404, "database_not_found");
    assert_eq!(closed(&mut socket).await, None, "reset drops sockets");
}

#[tokio::test]
async fn skewed_api_nodes_make_updated_at_go_backwards() {
    let server = Server::start().await;
    server.setup_leads().await;
    server.admin("/__faults", json!({"clock": {"node_offsets_ms": [0, -5000]}})).await;
    server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
    let mut stamps = Vec::new();
    for n in 0..12 {
        let body = json!({"data": {"value": n}});
        let (status, doc) = server.call(As::Key, Method::PATCH, &document_path("lead-1"), Some(body)).await;
        assert_eq!(status, 200);
        stamps.push(doc["$updatedAt"].as_str().unwrap().to_owned());
    }
    assert!(stamps.windows(2).any(|w| w[1] < w[0]), "a later write got an earlier stamp: {stamps:?}");
}
