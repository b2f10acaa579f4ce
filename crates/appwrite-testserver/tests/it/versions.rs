//! What differs between the version profiles (the table in the README), one test per row,
//! each run against every profile.

use crate::common::*;
use appwrite_testserver::Version;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_error_bodies_report_the_profile_release() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        let (status, body) = read(server.http.get(server.url("/v1/health/version")).send().await.unwrap()).await;
        assert_eq!((status, body), (200, json!({"version": version.release()})), "{version}");
        let (_, error) = server.get(As::Key, "/v1/databases/nope").await;
        assert_eq!(error["version"], version.release(), "{version}");
    }
}

#[tokio::test]
async fn sequence_is_absent_then_an_integer_then_a_string() {
    for (version, expected) in [
        (Version::V1_5, Value::Null),
        (Version::V1_7, Value::Null),
        (Version::V1_8, json!(1)),
        (Version::V1_9_0, json!("1")),
        (Version::V1_9_6, json!("1")),
    ] {
        let server = Server::start_as(version).await;
        server.setup_leads().await;
        let (_, doc) = server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
        assert_eq!(doc.get("$sequence").cloned().unwrap_or(Value::Null), expected, "{version}: {doc}");
        let (_, page) = server.get(As::Key, &documents_path()).await;
        assert_eq!(page["documents"][0].get("$sequence").cloned().unwrap_or(Value::Null), expected, "{version}");
    }
}

#[tokio::test]
async fn api_keys_set_dates_only_from_1_8() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        server.setup_leads().await;
        let data = json!({"name": "A", "$createdAt": "2020-01-01T00:00:00.000+00:00"});
        let (_, doc) = server.create_lead(As::Key, "lead-1", data, None).await;
        let honoured = doc["$createdAt"] == "2020-01-01T00:00:00.000+00:00";
        assert_eq!(honoured, version >= Version::V1_8, "{version}: {doc}");
    }
}

#[tokio::test]
async fn user_blocked_is_401_until_1_8_and_403_from_1_9() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        let secret = server.user_session("ada").await;
        let (status, _) =
            server.call(As::Key, Method::PATCH, "/v1/users/ada/status", Some(json!({"status": false}))).await;
        assert_eq!(status, 200);
        let expected = if version >= Version::V1_9_0 { 403 } else { 401 };
        assert_error(&server.get(As::Session(&secret), "/v1/account").await, expected, "user_blocked");
    }
}

#[tokio::test]
async fn a_duplicate_membership_is_an_invite_error_before_1_6_2() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        server.user_session("ada").await;
        server.post(As::Key, "/v1/teams", json!({"teamId": "sales", "name": "Sales"})).await;
        let add = json!({"userId": "ada", "roles": ["member"]});
        assert_eq!(server.post(As::Key, "/v1/teams/sales/memberships", add.clone()).await.0, 201);
        let expected =
            if version <= Version::V1_6_0 { "team_invite_already_exists" } else { "membership_already_confirmed" };
        assert_error(&server.post(As::Key, "/v1/teams/sales/memberships", add).await, 409, expected);
    }
}

#[tokio::test]
async fn user_memberships_are_paged_from_1_7() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        server.user_session("ada").await;
        for n in 0..30 {
            let team = format!("team-{n}");
            server.post(As::Key, "/v1/teams", json!({"teamId": team, "name": team})).await;
            let add = json!({"userId": "ada", "roles": ["member"]});
            assert_eq!(server.post(As::Key, &format!("/v1/teams/{team}/memberships"), add).await.0, 201);
        }
        let (_, page) = server.get(As::Key, "/v1/users/ada/memberships").await;
        let expected = if version >= Version::V1_7 { 25 } else { 30 };
        assert_eq!(page["memberships"].as_array().unwrap().len(), expected, "{version}");
    }
}

#[tokio::test]
async fn a_query_takes_100_values_before_1_7_and_500_after() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        server.setup_leads().await;
        let values: Vec<String> = (0..101).map(|n| format!("lead-{n}")).collect();
        let query = json!({"method": "equal", "attribute": "$id", "values": values});
        let result = server.list(As::Key, &documents_path(), &[query]).await;
        if version >= Version::V1_7 {
            assert_eq!(result.0, 200, "{version}: {}", result.1);
        } else {
            assert_error(&result, 400, "general_query_invalid");
        }
    }
}

#[tokio::test]
async fn realtime_ping_is_an_error_before_1_6_1() {
    for version in Version::ALL {
        let server = Server::start_as(version).await;
        let mut socket = server.subscribe(&["documents"], &[]).await;
        send_json(&mut socket, json!({"type": "ping"})).await;
        let reply = next_json(&mut socket).await;
        if version >= Version::V1_7 {
            assert_eq!(reply, json!({"type": "pong"}), "{version}");
        } else {
            assert_eq!(reply["data"]["code"], 1003, "{version}: {reply}");
            assert_eq!(reply["data"]["message"], "Message type is not valid.");
        }
    }
}
