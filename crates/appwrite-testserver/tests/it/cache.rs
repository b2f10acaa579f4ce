//! The document cache model: on 1.9.0 (legacy cache) a GET and the timestamp guard can be
//! served a stale row; on 1.9.6 (cache off) they cannot; a list is never stale. The races are
//! made to happen with the `cache` faults, not left to luck.

use std::time::Duration;

use crate::common::*;
use appwrite_testserver::Version;
use reqwest::Method;
use serde_json::{json, Value};

async fn patch(server: &Server, id: &str, data: Value, timestamp: Option<&str>) -> (u16, Value) {
    let mut request = server.request(As::Key, Method::PATCH, &document_path(id)).json(&json!({"data": data}));
    if let Some(timestamp) = timestamp {
        request = request.header("X-Appwrite-Timestamp", timestamp);
    }
    read(request.send().await.unwrap()).await
}

/// The lead as a list with `equal("$id")` sees it: never through the cache.
async fn listed(server: &Server, id: &str) -> Value {
    let query = json!({"method": "equal", "attribute": "$id", "values": [id]});
    let (status, page) = server.list(As::Key, &documents_path(), &[query]).await;
    assert_eq!(status, 200, "{page}");
    page["documents"][0].clone()
}

async fn with_lead(version: Version) -> Server {
    let server = Server::start_as(version).await;
    server.setup_leads().await;
    assert_eq!(server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await.0, 201);
    server
}

/// A GET-then-decide client: it reads the lead by GET and decides from that.
async fn status_by_get(server: &Server) -> Value {
    server.get(As::Key, &document_path("lead-1")).await.1["status"].clone()
}

#[tokio::test]
async fn a_raced_get_leaves_a_stale_row_on_1_9_0_but_not_on_1_9_6() {
    for (version, stale) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        assert_eq!(status_by_get(&server).await, "open");
        server.admin("/__faults", json!({"cache": {"recache_count": 1}})).await;
        assert_eq!(patch(&server, "lead-1", json!({"status": "won"}), None).await.0, 200);
        for _ in 0..3 {
            let expected = if stale { "open" } else { "won" };
            assert_eq!(status_by_get(&server).await, expected, "{version}: the GET stays stale");
            assert_eq!(listed(&server, "lead-1").await["status"], "won", "{version}: a list is never stale");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_inside_the_commit_window_recaches_the_old_row_on_1_9_0() {
    for (version, stale) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        server.admin("/__faults", json!({"cache": {"commit_window_ms": 400}})).await;
        let (written, during) = tokio::join!(patch(&server, "lead-1", json!({"status": "won"}), None), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            status_by_get(&server).await
        });
        assert_eq!(written.0, 200);
        assert_eq!(during, "open", "{version}: the write is not committed yet");
        let expected = if stale { "open" } else { "won" };
        assert_eq!(status_by_get(&server).await, expected, "{version}");
    }
}

#[tokio::test]
async fn a_guarded_update_checked_against_a_stale_cache_passes_and_reverts_on_1_9_0() {
    for (version, stale) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        let (_, before) = server.get(As::Key, &document_path("lead-1")).await;
        let seen = before["$updatedAt"].as_str().unwrap().to_owned();
        server.admin("/__faults", json!({"cache": {"recache_count": 1}})).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(patch(&server, "lead-1", json!({"status": "won"}), None).await.0, 200);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // A second writer guards with the `$updatedAt` it saw before the first write.
        let guarded = patch(&server, "lead-1", json!({"value": 5}), Some(&seen)).await;
        if stale {
            assert_eq!(guarded.0, 200, "{version}: the guard compared against the cached row");
            let row = listed(&server, "lead-1").await;
            assert_eq!((row["status"].as_str(), row["value"].as_i64()), (Some("open"), Some(5)), "reverted: {row}");
        } else {
            assert_error(&guarded, 409, "document_update_conflict");
            assert_eq!(listed(&server, "lead-1").await["status"], "won");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_guarded_writers_both_pass_on_1_9_0_when_their_locking_reads_overlap() {
    for (version, both) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        let (_, before) = server.get(As::Key, &document_path("lead-1")).await;
        let seen = before["$updatedAt"].as_str().unwrap().to_owned();
        server.admin("/__faults", json!({"cache": {"lock_gap_ms": 300}})).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (a, b) = tokio::join!(patch(&server, "lead-1", json!({"status": "won"}), Some(&seen)), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            patch(&server, "lead-1", json!({"status": "lost"}), Some(&seen)).await
        });
        let passed = [a.0, b.0].iter().filter(|s| **s == 200).count();
        assert_eq!(passed, if both { 2 } else { 1 }, "{version}: {a:?} {b:?}");
    }
}

#[tokio::test]
async fn a_deleted_document_can_stay_cached_on_1_9_0() {
    for (version, stale) in [(Version::V1_9_0, true), (Version::V1_9_6, false)] {
        let server = with_lead(version).await;
        server.admin("/__faults", json!({"cache": {"recache_count": 1}})).await;
        let (status, _) = server.call(As::Key, Method::DELETE, &document_path("lead-1"), None).await;
        assert_eq!(status, 204);
        let expected = if stale { 200 } else { 404 };
        assert_eq!(server.get(As::Key, &document_path("lead-1")).await.0, expected, "{version}");
        assert_eq!(listed(&server, "lead-1").await, Value::Null, "{version}: the list knows it is gone");
    }
}

#[tokio::test]
async fn the_cache_model_can_be_switched_per_server() {
    use appwrite_testserver::CacheMode;
    for (version, mode, stale) in [(Version::V1_9_0, CacheMode::Off, false), (Version::V1_9_6, CacheMode::Legacy, true)]
    {
        let server = Server::start_with(version, Some(mode)).await;
        server.setup_leads().await;
        server.create_lead(As::Key, "lead-1", json!({"name": "A"}), None).await;
        server.admin("/__faults", json!({"cache": {"recache_count": 1}})).await;
        patch(&server, "lead-1", json!({"status": "won"}), None).await;
        assert_eq!(status_by_get(&server).await, if stale { "open" } else { "won" }, "{version} {mode:?}");
    }
}
