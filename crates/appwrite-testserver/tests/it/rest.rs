use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

fn is_appwrite_date(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    // 2024-05-01T12:34:56.789+00:00
    text.len() == 29 && text.ends_with("+00:00") && text.as_bytes()[10] == b'T' && text.as_bytes()[19] == b'.'
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_if_absent_race_has_exactly_one_winner() {
    let server = Server::start().await;
    server.setup_leads().await;
    let attempts = (0..24).map(|i| {
        let server = &server;
        async move { server.create_lead(As::Key, "lead-1", json!({"name": format!("attempt {i}")}), None).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter(|(status, _)| *status == 201).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in results.iter().filter(|(status, _)| *status != 201) {
        assert_error(result, 409, "document_already_exists");
    }
    let (_, doc) = winners[0];
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..7],
        ["$id", "$sequence", "$collectionId", "$databaseId", "$createdAt", "$updatedAt", "$permissions"]
    );
    // The default profile (1.9.6) renders `$sequence` as a string.
    assert_eq!((doc["$id"].as_str(), doc["$sequence"].as_str()), (Some("lead-1"), Some("1")));
    assert_eq!((doc["$collectionId"].as_str(), doc["$databaseId"].as_str()), (Some(LEADS), Some(DB)));
    assert!(is_appwrite_date(&doc["$createdAt"]) && is_appwrite_date(&doc["$updatedAt"]), "{doc}");
    assert_eq!(doc["status"], "open", "default applied");
    assert_eq!(doc["value"], Value::Null, "unset optional attributes are null");
    assert_eq!(doc["$permissions"], json!([]), "API keys get no default permissions");
}

#[tokio::test]
async fn timestamp_precondition_rejects_stale_writes() {
    let server = Server::start().await;
    server.setup_leads().await;
    let (_, doc) = server.create_lead(As::Key, "lead-1", json!({"name": "Ada"}), None).await;
    let seen = doc["$updatedAt"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let patch = |timestamp: &str, status: &str| {
        server
            .request(As::Key, Method::PATCH, &document_path("lead-1"))
            .header("X-Appwrite-Timestamp", timestamp)
            .json(&json!({"data": {"status": status}}))
    };
    let (status, updated) = read(patch(&seen, "won").send().await.unwrap()).await;
    assert_eq!(status, 200, "equal timestamp is not stale: {updated}");
    assert_ne!(updated["$updatedAt"], seen.as_str());
    let stale = read(patch(&seen, "lost").send().await.unwrap()).await;
    assert_error(&stale, 409, "document_update_conflict");
    assert_eq!(stale.1["message"], "Remote document is newer than local.");
    let (_, current) = server.get(As::Key, &document_path("lead-1")).await;
    assert_eq!(current["status"], "won", "the stale write was not applied");

    let delete = |timestamp: &str| {
        server.request(As::Key, Method::DELETE, &document_path("lead-1")).header("X-Appwrite-Timestamp", timestamp)
    };
    assert_error(&read(delete(&seen).send().await.unwrap()).await, 409, "document_update_conflict");
    let fresh = updated["$updatedAt"].as_str().unwrap();
    assert_eq!(read(delete(fresh).send().await.unwrap()).await, (204, Value::Null));
    let bad = read(delete("not a date").send().await.unwrap()).await;
    assert_error(&bad, 400, "general_argument_invalid");
}

#[tokio::test]
async fn patch_without_precondition_is_last_write_wins_and_partial() {
    let server = Server::start().await;
    server.setup_leads().await;
    server.create_lead(As::Key, "lead-1", json!({"name": "Ada", "value": 10, "hot": true}), None).await;
    let path = document_path("lead-1");
    for status in ["contacted", "won"] {
        let (code, _) = server.call(As::Key, Method::PATCH, &path, Some(json!({"data": {"status": status}}))).await;
        assert_eq!(code, 200);
    }
    let (_, doc) = server.get(As::Key, &path).await;
    assert_eq!(
        (doc["status"].as_str(), doc["value"].as_i64(), doc["hot"].as_bool()),
        (Some("won"), Some(10), Some(true))
    );
    assert_eq!(doc["name"], "Ada");

    let empty = server.call(As::Key, Method::PATCH, &path, Some(json!({}))).await;
    assert_error(&empty, 400, "document_missing_payload");
    let wrong = server.call(As::Key, Method::PATCH, &path, Some(json!({"data": {"value": "ten"}}))).await;
    assert_error(&wrong, 400, "document_invalid_structure");
    let missing =
        server.call(As::Key, Method::PATCH, &document_path("nope"), Some(json!({"data": {"hot": false}}))).await;
    assert_error(&missing, 404, "document_not_found");
}

async fn list_ids(server: &Server, queries: &[Value]) -> (u64, Vec<String>) {
    let params: Vec<(String, String)> =
        queries.iter().enumerate().map(|(i, q)| (format!("queries[{i}]"), q.to_string())).collect();
    let response = server.request(As::Key, Method::GET, &documents_path()).query(&params).send().await.unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    let ids = body["documents"].as_array().unwrap().iter().map(|d| d["$id"].as_str().unwrap().to_owned()).collect();
    (body["total"].as_u64().unwrap(), ids)
}

#[tokio::test]
async fn list_queries_filter_sort_and_page() {
    let server = Server::start().await;
    server.setup_leads().await;
    for i in 0..30 {
        let status = if i % 3 == 0 { "won" } else { "open" };
        let value = if i % 5 == 0 { Value::Null } else { json!(i) };
        let (code, _) = server
            .create_lead(As::Key, &format!("l{i:02}"), json!({"name": "x", "status": status, "value": value}), None)
            .await;
        assert_eq!(code, 201);
    }
    let q = |method: &str, attribute: &str, values: Value| json!({"method": method, "attribute": attribute, "values": values});

    let (total, ids) = list_ids(&server, &[]).await;
    assert_eq!((total, ids.len(), ids[0].as_str()), (30, 25, "l00"), "default limit 25, insertion order");
    let (total, ids) = list_ids(&server, &[q("equal", "status", json!(["won"]))]).await;
    assert_eq!((total, ids.len()), (10, 10));
    let (total, _) = list_ids(&server, &[q("notEqual", "status", json!(["won"]))]).await;
    assert_eq!(total, 20);
    let (_, ids) = list_ids(&server, &[q("isNull", "value", json!([]))]).await;
    assert_eq!(ids, ["l00", "l05", "l10", "l15", "l20", "l25"]);
    let (total, _) = list_ids(&server, &[q("isNotNull", "value", json!([]))]).await;
    assert_eq!(total, 24);
    let (_, ids) =
        list_ids(&server, &[q("greaterThan", "value", json!([26])), q("orderDesc", "value", json!([]))]).await;
    assert_eq!(ids, ["l29", "l28", "l27"]);
    let (_, ids) = list_ids(&server, &[q("lessThan", "value", json!([3])), q("orderAsc", "$id", json!([]))]).await;
    assert_eq!(ids, ["l01", "l02"]);
    let limit = |n: u64| json!({"method": "limit", "values": [n]});
    let (total, ids) = list_ids(&server, &[limit(2), json!({"method": "offset", "values": [4]})]).await;
    assert_eq!((total, ids), (30, vec!["l04".to_owned(), "l05".to_owned()]));
    let (_, ids) = list_ids(&server, &[limit(3), json!({"method": "cursorAfter", "values": ["l27"]})]).await;
    assert_eq!(ids, ["l28", "l29"]);

    for bad in [q("equal", "nope", json!(["x"])), q("equal", "value", json!(["ten"])), json!({"method": "bogus"})] {
        let params = [("queries[0]", bad.to_string())];
        let response = server.request(As::Key, Method::GET, &documents_path()).query(&params).send().await.unwrap();
        assert_error(&read(response).await, 400, "general_query_invalid");
    }
    let params = [("queries[0]", json!({"method": "cursorAfter", "values": ["gone"]}).to_string())];
    let response = server.request(As::Key, Method::GET, &documents_path()).query(&params).send().await.unwrap();
    assert_error(&read(response).await, 400, "general_cursor_not_found");
}

#[tokio::test]
async fn validation_and_setup_errors_use_appwrite_types() {
    let server = Server::start().await;
    server.setup_leads().await;
    for data in [
        json!({"name": "a", "unknown": 1}),
        json!({"name": 5}),
        json!({"status": "open"}),
        json!({"name": "a", "closedAt": "never"}),
    ] {
        assert_error(&server.create_lead(As::Key, "x", data, None).await, 400, "document_invalid_structure");
    }
    assert_error(
        &server.create_lead(As::Key, "_bad", json!({"name": "a"}), None).await,
        400,
        "general_argument_invalid",
    );
    assert_error(
        &server.create_lead(As::Key, &"a".repeat(37), json!({"name": "a"}), None).await,
        400,
        "general_argument_invalid",
    );
    let (status, generated) = server.create_lead(As::Key, "unique()", json!({"name": "a"}), None).await;
    assert_eq!((status, generated["$id"].as_str().unwrap().len()), (201, 20));

    // A setup command can treat these 409s as "already there".
    assert_error(
        &server.post(As::Key, "/v1/databases", json!({"databaseId": DB, "name": "Main"})).await,
        409,
        "database_already_exists",
    );
    let coll = server
        .post(As::Key, &format!("/v1/databases/{DB}/collections"), json!({"collectionId": LEADS, "name": "Leads"}))
        .await;
    assert_error(&coll, 409, "collection_already_exists");
    let attr = server
        .post(
            As::Key,
            &format!("{}/attributes/string", collection_path()),
            json!({"key": "name", "size": 5, "required": false}),
        )
        .await;
    assert_error(&attr, 409, "attribute_already_exists");
    let index = server
        .post(
            As::Key,
            &format!("{}/indexes", collection_path()),
            json!({"key": "email_unique", "type": "unique", "attributes": ["email"]}),
        )
        .await;
    assert_error(&index, 409, "index_already_exists");
    let (status, attrs) = server.get(As::Key, &format!("{}/attributes", collection_path())).await;
    assert_eq!((status, attrs["total"].as_u64()), (200, Some(6)));
    assert!(attrs["attributes"].as_array().unwrap().iter().all(|a| a["status"] == "available"));

    assert_error(&server.get(As::Key, "/v1/databases/nope").await, 404, "database_not_found");
    assert_error(
        &server.get(As::Key, &format!("/v1/databases/{DB}/collections/nope/documents")).await,
        404,
        "collection_not_found",
    );
    assert_error(&server.get(As::Key, &document_path("nope")).await, 404, "document_not_found");
    let wrong_project =
        server.http.get(server.url(&documents_path())).header("X-Appwrite-Project", "other").send().await.unwrap();
    assert_error(&read(wrong_project).await, 404, "project_not_found");
    let wrong_key = server
        .http
        .get(server.url(&documents_path()))
        .header("X-Appwrite-Project", PROJECT)
        .header("X-Appwrite-Key", "nope")
        .send()
        .await
        .unwrap();
    assert_error(&read(wrong_key).await, 401, "user_unauthorized");
    assert_error(&server.get(As::Guest, "/v1/databases/main").await, 401, "general_unauthorized_scope");
    assert_error(&server.get(As::Key, "/v1/nothing-here").await, 404, "general_route_not_found");
}

#[tokio::test]
async fn unique_index_violations_are_document_already_exists() {
    let server = Server::start().await;
    server.setup_leads().await;
    server.create_lead(As::Key, "a", json!({"name": "A", "email": "x@example.com"}), None).await;
    server.create_lead(As::Key, "b", json!({"name": "B"}), None).await;
    server.create_lead(As::Key, "c", json!({"name": "C"}), None).await; // NULLs never collide
    let dup = server.create_lead(As::Key, "d", json!({"name": "D", "email": "x@example.com"}), None).await;
    assert_error(&dup, 409, "document_already_exists");
    let update = server
        .call(As::Key, Method::PATCH, &document_path("b"), Some(json!({"data": {"email": "x@example.com"}})))
        .await;
    assert_error(&update, 409, "document_already_exists");
}

#[tokio::test]
async fn permissions_are_enforced_for_sessions_and_jwts() {
    let server = Server::start().await;
    server.setup_leads().await;
    let alice = server.user_session("alice").await;
    let bob = server.user_session("bob").await;

    // Without explicit permissions the creator gets read/update/delete.
    let (status, doc) = server.create_lead(As::Session(&alice), "private", json!({"name": "P"}), None).await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(
        doc["$permissions"],
        json!(["read(\"user:alice\")", "update(\"user:alice\")", "delete(\"user:alice\")"])
    );
    server.create_lead(As::Key, "public", json!({"name": "Q"}), Some(json!(["read(\"users\")"]))).await;

    assert_eq!(server.get(As::Session(&alice), &document_path("private")).await.0, 200);
    assert_error(&server.get(As::Session(&bob), &document_path("private")).await, 404, "document_not_found");
    let (_, listed) = server.get(As::Session(&bob), &documents_path()).await;
    assert_eq!((listed["total"].as_u64(), listed["documents"][0]["$id"].as_str()), (Some(1), Some("public")));
    let patch = server
        .call(As::Session(&bob), Method::PATCH, &document_path("private"), Some(json!({"data": {"hot": true}})))
        .await;
    assert_error(&patch, 401, "user_unauthorized");
    assert_error(
        &server.call(As::Session(&bob), Method::DELETE, &document_path("private"), None).await,
        401,
        "user_unauthorized",
    );
    let grant = server
        .create_lead(As::Session(&bob), "sneaky", json!({"name": "S"}), Some(json!(["read(\"user:alice\")"])))
        .await;
    assert_error(&grant, 401, "user_unauthorized");
    assert_error(&server.create_lead(As::Guest, "guest", json!({"name": "G"}), None).await, 401, "user_unauthorized");
    assert_eq!(server.get(As::Guest, &documents_path()).await.1["total"], 0);

    // Team roles: a key adds bob to "sales"; documents readable by the team become visible.
    assert_eq!(server.post(As::Key, "/v1/teams", json!({"teamId": "sales", "name": "Sales"})).await.0, 201);
    let (status, membership) =
        server.post(As::Key, "/v1/teams/sales/memberships", json!({"userId": "bob", "roles": ["member"]})).await;
    assert_eq!((status, membership["confirm"].as_bool()), (201, Some(true)), "{membership}");
    server.create_lead(As::Key, "team", json!({"name": "T"}), Some(json!(["read(\"team:sales\")"]))).await;
    assert_eq!(server.get(As::Session(&bob), &document_path("team")).await.0, 200);
    assert_eq!(server.get(As::Session(&alice), &document_path("team")).await.0, 404);
    let (_, members) = server.get(As::Key, "/v1/teams/sales/memberships").await;
    assert_eq!((members["total"].as_u64(), members["memberships"][0]["userId"].as_str()), (Some(1), Some("bob")));

    // A JWT acts as its user.
    let (status, jwt) = server.post(As::Session(&alice), "/v1/account/jwts", json!({})).await;
    assert_eq!(status, 201);
    let jwt = jwt["jwt"].as_str().unwrap();
    assert_eq!(server.get(As::Jwt(jwt), &document_path("private")).await.0, 200);
    assert_error(&server.get(As::Jwt("garbage"), &document_path("private")).await, 401, "user_jwt_invalid");
}

#[tokio::test]
async fn accounts_sessions_and_cookies() {
    let server = Server::start().await;
    let (status, user) = server
        .post(
            As::Key,
            "/v1/users",
            json!({"userId": "svc", "email": "Svc@Example.com", "password": "password123", "name": "Service"}),
        )
        .await;
    assert_eq!((status, user["email"].as_str()), (201, Some("svc@example.com")));
    assert_error(
        &server.post(As::Key, "/v1/users", json!({"userId": "svc2", "email": "svc@example.com"})).await,
        409,
        "user_already_exists",
    );
    assert_error(
        &server.post(As::Key, "/v1/users", json!({"userId": "x", "password": "short"})).await,
        400,
        "general_argument_invalid",
    );
    assert_eq!(server.get(As::Key, "/v1/users/svc").await.1["name"], "Service");
    assert_error(&server.get(As::Key, "/v1/users/nobody").await, 404, "user_not_found");

    let login = json!({"email": "svc@example.com", "password": "password123"});
    assert_error(
        &server
            .post(
                As::Guest,
                "/v1/account/sessions/email",
                json!({"email": "svc@example.com", "password": "wrong-password"}),
            )
            .await,
        401,
        "user_invalid_credentials",
    );
    // A client login gets the cookie but no secret in the body.
    let response =
        server.request(As::Guest, Method::POST, "/v1/account/sessions/email").json(&login).send().await.unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("a_session_{PROJECT}=")))
        .expect("session cookie");
    let (status, session) = read(response).await;
    assert_eq!((status, session["secret"].as_str(), session["userId"].as_str()), (201, Some(""), Some("svc")));

    let by_cookie =
        server.request(As::Guest, Method::GET, "/v1/account").header("Cookie", &cookie).send().await.unwrap();
    let (status, account) = read(by_cookie).await;
    assert_eq!((status, account["$id"].as_str()), (200, Some("svc")));
    assert!(account.get("password").is_none(), "the Account model has no password");

    let secret = server.post(As::Key, "/v1/account/sessions/email", login.clone()).await.1["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(server.get(As::Session(&secret), "/v1/account").await.1["email"], "svc@example.com");
    assert_error(
        &server.post(As::Session(&secret), "/v1/account/sessions/email", login).await,
        401,
        "user_session_already_exists",
    );
    assert_eq!(server.call(As::Session(&secret), Method::DELETE, "/v1/account/sessions/current", None).await.0, 204);
    // The session is gone, so the caller is a guest again.
    assert_error(&server.get(As::Session(&secret), "/v1/account").await, 401, "general_unauthorized_scope");
}

#[tokio::test]
async fn ids_and_string_equality_ignore_case() {
    let server = Server::start().await;
    server.setup_leads().await;
    let data = json!({"name": "Acme Lead", "email": "Ada@Example.com"});
    assert_eq!(server.create_lead(As::Key, "Lead-A", data, None).await.0, 201);
    let again = server.create_lead(As::Key, "lead-a", json!({"name": "B"}), None).await;
    assert_error(&again, 409, "document_already_exists");
    let (status, doc) = server.get(As::Key, &document_path("LEAD-A")).await;
    assert_eq!((status, doc["$id"].as_str()), (200, Some("Lead-A")), "the stored spelling comes back");
    let by_id = json!({"method": "equal", "attribute": "$id", "values": ["lead-A"]});
    let by_name = json!({"method": "equal", "attribute": "name", "values": ["ACME LEAD"]});
    for query in [by_id, by_name] {
        let (_, page) = server.list(As::Key, &documents_path(), std::slice::from_ref(&query)).await;
        assert_eq!(page["total"], 1, "{query}: {page}");
    }
    let unique = server.create_lead(As::Key, "lead-b", json!({"name": "B", "email": "ada@example.COM"}), None).await;
    assert_error(&unique, 409, "document_already_exists");
    let (status, updated) =
        server.call(As::Key, Method::PATCH, &document_path("lead-a"), Some(json!({"data": {"hot": true}}))).await;
    assert_eq!((status, updated["$id"].as_str(), updated["hot"].as_bool()), (200, Some("Lead-A"), Some(true)));
}
