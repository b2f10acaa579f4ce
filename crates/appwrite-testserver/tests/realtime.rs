mod common;

use common::*;
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
    let server = Server::start().await;
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
