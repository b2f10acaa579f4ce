//! Transactions and increment/decrement, from 1.8; and on 1.8-1.9.0 a commit checked through
//! the cached locking read.

use std::time::Duration;

use crate::common::*;
use appwrite_testserver::Version;
use reqwest::Method;
use serde_json::{json, Value};

const TRANSACTIONS: &str = "/v1/tablesdb/transactions";

async fn begin(server: &Server) -> String {
    let (status, txn) = server.post(As::Key, TRANSACTIONS, json!({"ttl": 300})).await;
    assert_eq!((status, txn["status"].as_str()), (201, Some("pending")), "{txn}");
    txn["$id"].as_str().unwrap().to_owned()
}

async fn commit(server: &Server, txn: &str) -> (u16, Value) {
    server.call(As::Key, Method::PATCH, &format!("{TRANSACTIONS}/{txn}"), Some(json!({"commit": true}))).await
}

async fn patch(server: &Server, id: &str, body: Value) -> (u16, Value) {
    server.call(As::Key, Method::PATCH, &document_path(id), Some(body)).await
}

async fn with_lead(version: Version) -> Server {
    let server = Server::start_as(version).await;
    server.setup_leads().await;
    assert_eq!(server.create_lead(As::Key, "lead-1", json!({"name": "A", "value": 0}), None).await.0, 201);
    server
}

async fn row(server: &Server, id: &str) -> Value {
    let query = json!({"method": "equal", "attribute": "$id", "values": [id]});
    server.list(As::Key, &documents_path(), &[query]).await.1["documents"][0].clone()
}

#[tokio::test]
async fn transactions_and_increments_exist_from_1_8() {
    for version in Version::ALL {
        let server = with_lead(version).await;
        let txn = server.post(As::Key, TRANSACTIONS, json!({})).await;
        let bump =
            server.call(As::Key, Method::PATCH, &format!("{}/value/increment", document_path("lead-1")), None).await;
        if version >= Version::V1_8 {
            assert_eq!((txn.0, bump.0), (201, 200), "{version}");
        } else {
            assert_error(&txn, 404, "general_route_not_found");
            assert_error(&bump, 404, "general_route_not_found");
        }
    }
}

#[tokio::test]
async fn staged_operations_apply_together_on_commit() {
    let server = with_lead(Version::V1_8).await;
    let txn = begin(&server).await;
    let (status, staged) = patch(&server, "lead-1", json!({"data": {"status": "won"}, "transactionId": txn})).await;
    assert_eq!((status, staged["status"].as_str()), (200, Some("won")), "the answer shows the staged change");
    let create = json!({"documentId": "lead-2", "data": {"name": "B"}, "transactionId": txn});
    assert_eq!(server.post(As::Key, &documents_path(), create).await.0, 201);
    assert_eq!(row(&server, "lead-1").await["status"], "open", "nothing is written before the commit");
    assert_eq!(server.get(As::Key, &document_path("lead-2")).await.0, 404);

    let (status, done) = commit(&server, &txn).await;
    assert_eq!((status, done["status"].as_str(), done["operations"].as_u64()), (200, Some("committed"), Some(2)));
    assert_eq!(row(&server, "lead-1").await["status"], "won");
    assert_eq!(row(&server, "lead-2").await["name"], "B");
    assert_error(&commit(&server, &txn).await, 400, "transaction_not_ready");
    let bad_ttl = server.post(As::Key, TRANSACTIONS, json!({"ttl": 30})).await;
    assert_error(&bad_ttl, 400, "general_argument_invalid");
}

#[tokio::test]
async fn a_row_changed_after_staging_fails_the_whole_commit() {
    for version in [Version::V1_8, Version::V1_9_6] {
        let server = with_lead(version).await;
        let txn = begin(&server).await;
        let ops = json!({"operations": [
            {"action": "create", "databaseId": DB, "tableId": LEADS, "rowId": "lead-2", "data": {"name": "B"}},
            {"action": "update", "databaseId": DB, "tableId": LEADS, "rowId": "lead-1", "data": {"status": "won"}},
        ]});
        let (status, staged) = server.post(As::Key, &format!("{TRANSACTIONS}/{txn}/operations"), ops).await;
        assert_eq!((status, staged["operations"].as_u64()), (201, Some(2)), "{staged}");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(patch(&server, "lead-1", json!({"data": {"status": "lost"}})).await.0, 200);
        assert_error(&commit(&server, &txn).await, 409, "transaction_conflict");
        assert_eq!(row(&server, "lead-1").await["status"], "lost", "{version}");
        assert_eq!(row(&server, "lead-2").await, Value::Null, "{version}: all or nothing");
        assert_error(&commit(&server, &txn).await, 400, "transaction_not_ready");
    }
}

#[tokio::test]
async fn on_1_9_0_a_commit_checked_against_a_stale_cache_passes_and_reverts() {
    for (version, stale) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        server.get(As::Key, &document_path("lead-1")).await;
        let txn = begin(&server).await;
        let staged = json!({"data": {"value": 7}, "transactionId": txn});
        assert_eq!(patch(&server, "lead-1", staged).await.0, 200);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // A write after staging, raced by a GET that re-caches the old row.
        server.admin("/__faults", json!({"cache": {"recache_count": 1}})).await;
        assert_eq!(patch(&server, "lead-1", json!({"data": {"status": "won"}})).await.0, 200);
        let result = commit(&server, &txn).await;
        if stale {
            assert_eq!(result.0, 200, "{version}: the conflict went unseen");
            let row = row(&server, "lead-1").await;
            assert_eq!((row["status"].as_str(), row["value"].as_i64()), (Some("open"), Some(7)), "reverted: {row}");
        } else {
            assert_error(&result, 409, "transaction_conflict");
        }
    }
}

#[tokio::test]
async fn increments_stop_at_their_bound() {
    let server = with_lead(Version::V1_9_6).await;
    let path = format!("{}/value/increment", document_path("lead-1"));
    for expected in [1, 2] {
        let (status, doc) = server.call(As::Key, Method::PATCH, &path, Some(json!({"value": 1, "max": 2}))).await;
        assert_eq!((status, doc["value"].as_i64()), (200, Some(expected)), "{doc}");
    }
    let over = server.call(As::Key, Method::PATCH, &path, Some(json!({"value": 1, "max": 2}))).await;
    assert_error(&over, 400, "attribute_limit_exceeded");
    let down = format!("{}/value/decrement", document_path("lead-1"));
    let under = server.call(As::Key, Method::PATCH, &down, Some(json!({"value": 5, "min": 0}))).await;
    assert_error(&under, 400, "attribute_limit_exceeded");
    assert_eq!(row(&server, "lead-1").await["value"], 2);
}
