use crate::common::*;
use appwrite_testserver::Version;
use reqwest::Method;
use serde_json::json;

const SESSION: &str = "X-Appwrite-Session";

#[tokio::test]
async fn document_events_have_appwrite_shape_and_names() {
    let server = Server::start().await;
    server.setup_leads().await;
    let secret = server.user_session("alice").await;
    let mut socket = server
        .socket(&format!("project={PROJECT}&channels[]=documents&channels[]=account"), &[(SESSION, &secret)])
        .await;
    let connected = next_json(&mut socket).await;
    assert_eq!(connected["data"]["channels"], json!(["documents", "account", "account.alice"]));
    assert_eq!(connected["data"]["user"]["$id"], "alice");

    let readable = Some(json!(["read(\"users\")"]));
    server.create_lead(As::Key, "lead-1", json!({"name": "Ada"}), readable).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["type"], "event");
    let data = &event["data"];
    let events: Vec<&str> = data["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(events[0], "databases.main.collections.leads.documents.lead-1.create");
    for name in [
        "databases.*.collections.*.documents.*.create",
        "databases.main.collections.leads.documents.*.create",
        "databases.*.collections.*.documents.*",
        "databases.main.collections.leads",
        "databases.*",
        "databases.main.tables.leads.rows.lead-1.create",
    ] {
        assert!(events.contains(&name), "{name} missing from {events:?}");
    }
    assert_eq!(
        data["channels"],
        json!([
            "rows",
            "databases.main.tables.leads.rows",
            "databases.main.tables.leads.rows.lead-1",
            "documents",
            "databases.main.collections.leads.documents",
            "databases.main.collections.leads.documents.lead-1"
        ])
    );
    let timestamp = data["timestamp"].as_str().unwrap();
    assert!(timestamp.len() == 29 && timestamp.ends_with("+00:00"), "{timestamp}");
    assert_eq!((data["payload"]["$id"].as_str(), data["payload"]["name"].as_str()), (Some("lead-1"), Some("Ada")));

    server.call(As::Key, Method::PATCH, &document_path("lead-1"), Some(json!({"data": {"status": "won"}}))).await;
    let update = next_json(&mut socket).await;
    assert_eq!(update["data"]["events"][0], "databases.main.collections.leads.documents.lead-1.update");
    assert_eq!(update["data"]["payload"]["status"], "won");
    server.call(As::Key, Method::DELETE, &document_path("lead-1"), None).await;
    let delete = next_json(&mut socket).await;
    assert_eq!(delete["data"]["events"][0], "databases.main.collections.leads.documents.lead-1.delete");
}

#[tokio::test]
async fn events_only_reach_subscribers_who_may_read() {
    let server = Server::start().await;
    server.setup_leads().await;
    let alice = server.user_session("alice").await;
    let bob = server.user_session("bob").await;
    let channel = "databases.main.collections.leads.documents";
    let mut alice_socket = server.subscribe(&[channel], &[(SESSION, &alice)]).await;
    let mut bob_socket = server.subscribe(&[channel], &[(SESSION, &bob)]).await;
    let mut guest_socket = server.subscribe(&["documents"], &[]).await;
    // An API key gives no rights on the socket: it is a guest.
    let mut key_socket =
        server.socket(&format!("project={PROJECT}&channels[]=documents"), &[("X-Appwrite-Key", KEY)]).await;
    assert_eq!(next_json(&mut key_socket).await["data"]["user"], serde_json::Value::Null);

    server.create_lead(As::Session(&alice), "private", json!({"name": "P"}), None).await;
    server.create_lead(As::Key, "for-users", json!({"name": "U"}), Some(json!(["read(\"users\")"]))).await;
    server.create_lead(As::Key, "public", json!({"name": "A"}), Some(json!(["read(\"any\")"]))).await;

    assert_eq!(payload_ids(&mut alice_socket, 3).await, ["private", "for-users", "public"]);
    // Events arrive in order, so bob's first event proves he never got "private".
    assert_eq!(payload_ids(&mut bob_socket, 2).await, ["for-users", "public"]);
    assert_eq!(payload_ids(&mut guest_socket, 1).await, ["public"]);
    assert_eq!(payload_ids(&mut key_socket, 1).await, ["public"]);
}

#[tokio::test]
async fn ping_authentication_and_protocol_errors() {
    // 1.9.0: the newest release that still requires channels in the URL.
    let server = Server::start_as(Version::V1_9_0).await;
    server.setup_leads().await;
    let secret = server.user_session("alice").await;
    let mut socket = server.subscribe(&["documents"], &[]).await;

    send_json(&mut socket, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));

    send_json(&mut socket, json!({"type": "nonsense", "data": {}})).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "error", "data": {"code": 1003, "message": "Message type is not valid."}})
    );
    send_json(&mut socket, json!({"type": "authentication", "data": {"session": "bogus"}})).await;
    assert_eq!(next_json(&mut socket).await["data"]["message"], "Session is not valid.");

    send_json(&mut socket, json!({"type": "authentication", "data": {"session": secret}})).await;
    let response = next_json(&mut socket).await;
    assert_eq!(
        (response["type"].as_str(), response["data"]["to"].as_str()),
        (Some("response"), Some("authentication"))
    );
    assert_eq!(
        (response["data"]["success"].as_bool(), response["data"]["user"]["$id"].as_str()),
        (Some(true), Some("alice"))
    );
    server.create_lead(As::Key, "for-users", json!({"name": "U"}), Some(json!(["read(\"users\")"]))).await;
    assert_eq!(next_json(&mut socket).await["data"]["payload"]["$id"], "for-users");

    let mut no_channels = server.socket(&format!("project={PROJECT}"), &[]).await;
    assert_eq!(
        next_json(&mut no_channels).await,
        json!({"type": "error", "data": {"code": 1008, "message": "Missing channels"}})
    );
    assert_eq!(closed(&mut no_channels).await, Some(1008));
    let mut no_project = server.socket("project=other&channels[]=documents", &[]).await;
    assert_eq!(next_json(&mut no_project).await["data"]["message"], "Missing or unknown project ID");
    assert_eq!(closed(&mut no_project).await, Some(1008));
}

#[tokio::test]
async fn subscriptions_are_reported_from_1_9_0() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        server.setup_leads().await;
        let mut socket = server.socket(&format!("project={PROJECT}&channels[]=documents"), &[]).await;
        let connected = next_json(&mut socket).await;
        server.create_lead(As::Key, "lead-1", json!({"name": "A"}), Some(json!(["read(\"any\")"]))).await;
        let event = next_json(&mut socket).await;
        if version >= Version::V1_9_0 {
            let ids = connected["data"]["subscriptions"].as_array().expect("subscription IDs").clone();
            assert_eq!(ids.len(), 1, "{version}: {connected}");
            assert_eq!(event["data"]["subscriptions"], json!(ids), "{version}: {event}");
        } else {
            assert!(connected["data"].get("subscriptions").is_none(), "{version}: {connected}");
            assert!(event["data"].get("subscriptions").is_none(), "{version}: {event}");
        }
    }
}

#[tokio::test]
async fn from_1_9_5_a_socket_connects_without_channels_and_subscribes_by_message() {
    let server = Server::start_as(Version::V1_9_6).await;
    server.setup_leads().await;
    let mut socket = server.socket(&format!("project={PROJECT}"), &[]).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "connected", "data": {"channels": [], "subscriptions": [], "user": null}})
    );
    let leads = format!("databases.{DB}.collections.{LEADS}.documents");
    send_json(&mut socket, json!({"type": "subscribe", "data": [{"subscriptionId": "leads", "channels": [leads]}]}))
        .await;
    let response = next_json(&mut socket).await;
    assert_eq!(
        response,
        json!({"type": "response", "data": {"to": "subscribe", "success": true,
            "subscriptions": [{"subscriptionId": "leads", "channels": [leads], "queries": []}]}})
    );
    let public = Some(json!(["read(\"any\")"]));
    server.create_lead(As::Key, "lead-1", json!({"name": "A"}), public.clone()).await;
    let event = next_json(&mut socket).await;
    assert_eq!(
        (event["data"]["payload"]["$id"].as_str(), &event["data"]["subscriptions"]),
        (Some("lead-1"), &json!(["leads"]))
    );

    send_json(
        &mut socket,
        json!({"type": "unsubscribe", "data": [{"subscriptionId": "leads"}, {"subscriptionId": "x"}]}),
    )
    .await;
    assert_eq!(
        next_json(&mut socket).await["data"]["subscriptions"],
        json!([{"subscriptionId": "leads", "removed": true}, {"subscriptionId": "x", "removed": false}])
    );
    server.create_lead(As::Key, "lead-2", json!({"name": "B"}), public).await;
    send_json(&mut socket, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}), "no event after unsubscribing");

    let old = Server::start_as(Version::V1_9_0).await;
    let mut socket = old.subscribe(&["documents"], &[]).await;
    send_json(&mut socket, json!({"type": "subscribe", "data": [{"channels": ["account"]}]})).await;
    assert_eq!(next_json(&mut socket).await["data"]["message"], "Message type is not valid.", "1.9.0 has no subscribe");
}

#[tokio::test]
async fn abuse_limits_refuse_connections_and_messages_with_1013() {
    let server = Server::start().await;
    server.admin("/__faults", json!({"realtime": {"connections_per_minute": 2, "messages_per_minute": 2}})).await;
    let mut first = server.subscribe(&["documents"], &[]).await;
    server.subscribe(&["documents"], &[]).await;
    let mut third = server.socket(&format!("project={PROJECT}&channels[]=documents"), &[]).await;
    assert_eq!(
        next_json(&mut third).await,
        json!({"type": "error", "data": {"code": 1013, "message": "Too many requests"}})
    );
    assert_eq!(closed(&mut third).await, Some(1013));
    for _ in 0..2 {
        send_json(&mut first, json!({"type": "ping"})).await;
        assert_eq!(next_json(&mut first).await, json!({"type": "pong"}));
    }
    send_json(&mut first, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut first).await,
        json!({"type": "error", "data": {"code": 1013, "message": "Too many messages."}})
    );
    server.setup_leads().await;
    server.create_lead(As::Key, "lead-1", json!({"name": "A"}), Some(json!(["read(\"any\")"]))).await;
    assert_eq!(next_json(&mut first).await["type"], "event", "the socket stays open");
}

#[tokio::test]
async fn delayed_events_arrive_after_the_reply_and_out_of_order() {
    let server = Server::start().await;
    server.setup_leads().await;
    let mut socket = server.subscribe(&["documents"], &[]).await;
    server.admin("/__faults", json!({"realtime": {"delay_ms": 150, "jitter_ms": 300}})).await;
    let public = Some(json!(["read(\"any\")"]));
    let created: Vec<String> = (0..8).map(|n| format!("lead-{n}")).collect();
    for (n, id) in created.iter().enumerate() {
        assert_eq!(server.create_lead(As::Key, id, json!({"name": id}), public.clone()).await.0, 201);
        if n == 0 {
            let early = tokio::time::timeout(std::time::Duration::from_millis(100), next_json(&mut socket)).await;
            assert!(early.is_err(), "the reply comes before the event");
        }
    }
    let mut received = payload_ids(&mut socket, created.len()).await;
    assert_ne!(received, created, "the jitter reorders events across requests");
    received.sort();
    assert_eq!(received, created, "but none is lost");
}
