//! The Users API, blocked users, session management and team memberships as Leadboard's
//! Appwrite mode uses them: sign-in through the account API, administration with the key.

use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD_RULE: &str =
    "Invalid `password` param: Password must be between 8 and 265 characters long, and should not be one of the commonly used password.";

async fn create_user(server: &Server, id: &str, name: &str) -> Value {
    let body = json!({"userId": id, "email": format!("{id}@example.com"), "password": "password123", "name": name});
    let (status, user) = server.post(As::Key, "/v1/users", body).await;
    assert_eq!(status, 201, "{user}");
    user
}

/// Signs in as a guest would and returns (session ID, secret), using the key only to read
/// the secret (the SSR flow).
async fn login(server: &Server, id: &str) -> (String, String) {
    let (status, session) = server
        .post(
            As::Key,
            "/v1/account/sessions/email",
            json!({"email": format!("{id}@example.com"), "password": "password123"}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    (session["$id"].as_str().unwrap().to_owned(), session["secret"].as_str().unwrap().to_owned())
}

async fn jwt(server: &Server, secret: &str) -> String {
    let (status, body) = server.post(As::Session(secret), "/v1/account/jwts", json!({})).await;
    assert_eq!(status, 201, "{body}");
    body["jwt"].as_str().unwrap().to_owned()
}

async fn list(server: &Server, path: &str, params: &[(&str, String)]) -> (u16, Value) {
    read(server.request(As::Key, Method::GET, path).query(params).send().await.unwrap()).await
}

async fn add(server: &Server, team: &str, body: Value) -> (u16, Value) {
    server.post(As::Key, &format!("/v1/teams/{team}/memberships"), body).await
}

async fn delete(server: &Server, who: As<'_>, path: &str) -> (u16, Value) {
    server.call(who, Method::DELETE, path, None).await
}

fn ids(body: &Value, key: &str, field: &str) -> Vec<String> {
    body[key].as_array().unwrap().iter().map(|u| u[field].as_str().unwrap().to_owned()).collect()
}

fn q(method: &str, attribute: &str, values: Value) -> String {
    json!({"method": method, "attribute": attribute, "values": values}).to_string()
}

/// Whether the secret still authenticates (a dead session makes the caller a guest).
async fn signed_in(server: &Server, who: As<'_>) -> bool {
    let (status, body) = server.get(who, "/v1/account").await;
    match status {
        200 => true,
        401 if body["type"] == "general_unauthorized_scope" => false,
        _ => panic!("unexpected answer {status}: {body}"),
    }
}

#[tokio::test]
async fn list_users_pages_filters_and_searches() {
    let server = Server::start().await;
    for (id, name) in
        [("ada", "Ada Lovelace"), ("bob", "Bob Builder"), ("cy", "Cy Young"), ("dee", "Dee Dee"), ("eve", "Eve Online")]
    {
        create_user(&server, id, name).await;
    }
    let (status, all) = list(&server, "/v1/users", &[]).await;
    assert_eq!((status, all["total"].as_u64()), (200, Some(5)), "{all}");
    assert_eq!(ids(&all, "users", "$id"), ["ada", "bob", "cy", "dee", "eve"], "creation order");
    let (_, one) = server.get(As::Key, "/v1/users/ada").await;
    assert_eq!(all["users"][0], one, "one User model for list and get");
    let keys: Vec<&str> = one.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "$id",
            "$createdAt",
            "$updatedAt",
            "name",
            "password",
            "hash",
            "hashOptions",
            "registration",
            "status",
            "labels",
            "passwordUpdate",
            "email",
            "phone",
            "emailVerification",
            "phoneVerification",
            "mfa",
            "prefs",
            "targets",
            "accessedAt"
        ]
    );
    assert_eq!((one["status"].as_bool(), one["passwordUpdate"].as_str().map(str::len)), (Some(true), Some(29)));

    let limit = |n: u64| json!({"method": "limit", "values": [n]}).to_string();
    let paged = [("queries[0]", limit(2)), ("queries[1]", json!({"method": "offset", "values": [1]}).to_string())];
    let (_, page) = list(&server, "/v1/users", &paged).await;
    assert_eq!(
        (page["total"].as_u64(), ids(&page, "users", "$id")),
        (Some(5), vec!["bob".to_owned(), "cy".to_owned()])
    );
    let after =
        [("queries[]", limit(2)), ("queries[]", json!({"method": "cursorAfter", "values": ["bob"]}).to_string())];
    assert_eq!(ids(&list(&server, "/v1/users", &after).await.1, "users", "$id"), ["cy", "dee"]);

    let by_email = [("queries[]", q("equal", "email", json!(["dee@example.com"])))];
    assert_eq!(ids(&list(&server, "/v1/users", &by_email).await.1, "users", "$id"), ["dee"]);
    let by_id = [("queries[]", q("equal", "$id", json!(["eve", "ada", "nobody"])))];
    let (_, found) = list(&server, "/v1/users", &by_id).await;
    assert_eq!(
        (found["total"].as_u64(), ids(&found, "users", "$id")),
        (Some(2), vec!["ada".to_owned(), "eve".to_owned()])
    );
    let by_name = [("queries[]", q("orderDesc", "name", json!([]))), ("queries[]", limit(1))];
    assert_eq!(ids(&list(&server, "/v1/users", &by_name).await.1, "users", "$id"), ["eve"]);

    // `search` matches words of ID, email and name; the last word is a prefix.
    assert_eq!(ids(&list(&server, "/v1/users", &[("search", "lovel".into())]).await.1, "users", "$id"), ["ada"]);
    assert_eq!(
        ids(&list(&server, "/v1/users", &[("search", "young builder".into())]).await.1, "users", "$id"),
        ["bob", "cy"]
    );
    assert_eq!(list(&server, "/v1/users", &[("search", "zzz".into())]).await.1["total"], 0);
    assert_eq!(list(&server, "/v1/users", &[("total", "false".into())]).await.1["total"], 0);

    for bad in [q("equal", "password", json!(["x"])), q("equal", "status", json!(["yes"])), "nonsense".into()] {
        assert_error(&list(&server, "/v1/users", &[("queries[]", bad)]).await, 400, "general_query_invalid");
    }
    let gone = [("queries[]", json!({"method": "cursorAfter", "values": ["gone"]}).to_string())];
    assert_error(&list(&server, "/v1/users", &gone).await, 400, "general_cursor_not_found");
    let secret = login(&server, "ada").await.1;
    assert_error(&server.get(As::Session(&secret), "/v1/users").await, 401, "general_unauthorized_scope");
    assert_error(&server.get(As::Guest, "/v1/users").await, 401, "general_unauthorized_scope");
}

#[tokio::test]
async fn blocked_users_cannot_sign_in_or_use_their_sessions() {
    let server = Server::start().await;
    server.setup_leads().await;
    let created = create_user(&server, "ada", "Ada").await;
    let (_, secret) = login(&server, "ada").await;
    let token = jwt(&server, &secret).await;

    let (status, blocked) =
        server.call(As::Key, Method::PATCH, "/v1/users/ada/status", Some(json!({"status": false}))).await;
    assert_eq!((status, blocked["status"].as_bool()), (200, Some(false)), "{blocked}");
    assert!(blocked["$updatedAt"].as_str() >= created["$updatedAt"].as_str());
    assert_eq!(server.get(As::Key, "/v1/users/ada").await.1["status"], false);

    // Every call with the existing session or JWT, once the route's scope is granted.
    assert_error(&server.get(As::Session(&secret), "/v1/account").await, 403, "user_blocked");
    assert_error(&server.get(As::Jwt(&token), "/v1/account").await, 403, "user_blocked");
    assert_error(&server.get(As::Session(&secret), &documents_path()).await, 403, "user_blocked");
    assert_error(&server.post(As::Session(&secret), "/v1/account/jwts", json!({})).await, 403, "user_blocked");
    assert_error(&server.get(As::Session(&secret), "/v1/users").await, 401, "general_unauthorized_scope");
    let (_, body) = server.get(As::Session(&secret), "/v1/account").await;
    assert!(body["message"].as_str().unwrap().starts_with("The current user has been blocked."), "{body}");

    // Signing in: the credentials are checked first.
    let login_as = |password: &str| json!({"email": "ada@example.com", "password": password});
    assert_error(
        &server.post(As::Guest, "/v1/account/sessions/email", login_as("password123")).await,
        403,
        "user_blocked",
    );
    assert_error(
        &server.post(As::Key, "/v1/account/sessions/email", login_as("password123")).await,
        403,
        "user_blocked",
    );
    assert_error(
        &server.post(As::Guest, "/v1/account/sessions/email", login_as("wrong-password")).await,
        401,
        "user_invalid_credentials",
    );

    // Unblocking (the loose boolean accepts "true") restores the same session.
    let (status, unblocked) =
        server.call(As::Key, Method::PATCH, "/v1/users/ada/status", Some(json!({"status": "true"}))).await;
    assert_eq!((status, unblocked["status"].as_bool()), (200, Some(true)));
    assert!(signed_in(&server, As::Session(&secret)).await);
    assert!(signed_in(&server, As::Jwt(&token)).await);

    let status = |body: Value| server.call(As::Key, Method::PATCH, "/v1/users/ada/status", Some(body));
    assert_error(&status(json!({})).await, 400, "general_argument_invalid");
    assert_error(&status(json!({"status": "maybe"})).await, 400, "general_argument_invalid");
    let missing = server.call(As::Key, Method::PATCH, "/v1/users/nobody/status", Some(json!({"status": false}))).await;
    assert_error(&missing, 404, "user_not_found");
    let as_user =
        server.call(As::Session(&secret), Method::PATCH, "/v1/users/ada/status", Some(json!({"status": false}))).await;
    assert_error(&as_user, 401, "general_unauthorized_scope");
}

#[tokio::test]
async fn password_updates_are_validated_and_end_sessions() {
    let server = Server::start().await;
    let created = create_user(&server, "ada", "Ada").await;
    let (_, secret) = login(&server, "ada").await;
    let token = jwt(&server, &secret).await;
    let update = |password: &str| {
        server.call(As::Key, Method::PATCH, "/v1/users/ada/password", Some(json!({"password": password})))
    };

    let short = update("short").await;
    assert_error(&short, 400, "general_argument_invalid");
    assert_eq!(short.1["message"], PASSWORD_RULE);
    assert_error(&update(&"x".repeat(257)).await, 400, "general_argument_invalid");
    // Eight bytes, not characters: "ééé" is 6 bytes.
    assert_error(&update("ééé").await, 400, "general_argument_invalid");
    let absent = server.call(As::Key, Method::PATCH, "/v1/users/ada/password", Some(json!({}))).await;
    assert_error(&absent, 400, "general_argument_invalid");
    assert!(signed_in(&server, As::Session(&secret)).await, "failed updates change nothing");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, user) = update("new-password-1").await;
    assert_eq!(status, 200, "{user}");
    assert!(user["passwordUpdate"].as_str() > created["passwordUpdate"].as_str(), "{user}");
    assert_eq!(user["$id"], "ada");
    assert!(!signed_in(&server, As::Session(&secret)).await, "1.8+ projects invalidate sessions");
    assert!(!signed_in(&server, As::Jwt(&token)).await, "a JWT of a deleted session is a guest");

    let sign_in = |password: &str| {
        server.post(As::Guest, "/v1/account/sessions/email", json!({"email": "ada@example.com", "password": password}))
    };
    assert_error(&sign_in("password123").await, 401, "user_invalid_credentials");
    assert_eq!(sign_in("new-password-1").await.0, 201);
    assert_error(&sign_in("short").await, 400, "general_argument_invalid");

    // An empty password removes it: no password sign-in at all.
    assert_eq!(update("").await.0, 200);
    assert_error(&sign_in("new-password-1").await, 401, "user_invalid_credentials");

    let missing = server
        .call(As::Key, Method::PATCH, "/v1/users/nobody/password", Some(json!({"password": "password123"})))
        .await;
    assert_error(&missing, 404, "user_not_found");

    // POST /v1/users applies the same rule to a password that is given (even "").
    for password in [json!("short"), json!("")] {
        let body = json!({"userId": "bob", "email": "bob@example.com", "password": password});
        let result = server.post(As::Key, "/v1/users", body).await;
        assert_error(&result, 400, "general_argument_invalid");
        assert_eq!(result.1["message"], PASSWORD_RULE);
    }
    let (status, bob) =
        server.post(As::Key, "/v1/users", json!({"userId": "bob", "email": "bob@example.com", "password": null})).await;
    assert_eq!((status, bob["passwordUpdate"].as_str()), (201, Some("")), "{bob}");
}

#[tokio::test]
async fn deleting_user_sessions() {
    let server = Server::start().await;
    create_user(&server, "ada", "Ada").await;
    create_user(&server, "bob", "Bob").await;
    let (first_id, first) = login(&server, "ada").await;
    let (_, second) = login(&server, "ada").await;
    let (bob_id, bob) = login(&server, "bob").await;
    let first_jwt = jwt(&server, &first).await;

    assert_eq!(delete(&server, As::Key, &format!("/v1/users/ada/sessions/{first_id}")).await, (204, Value::Null));
    assert!(!signed_in(&server, As::Session(&first)).await);
    assert!(!signed_in(&server, As::Jwt(&first_jwt)).await);
    assert!(signed_in(&server, As::Session(&second)).await);
    assert_error(
        &delete(&server, As::Key, &format!("/v1/users/ada/sessions/{first_id}")).await,
        404,
        "user_session_not_found",
    );
    assert_error(
        &delete(&server, As::Key, &format!("/v1/users/ada/sessions/{bob_id}")).await,
        404,
        "user_session_not_found",
    );
    assert_error(
        &delete(&server, As::Key, &format!("/v1/users/nobody/sessions/{bob_id}")).await,
        404,
        "user_not_found",
    );
    assert!(signed_in(&server, As::Session(&bob)).await, "another user's session is untouched");

    assert_eq!(delete(&server, As::Key, "/v1/users/ada/sessions").await, (204, Value::Null));
    assert!(!signed_in(&server, As::Session(&second)).await);
    assert!(signed_in(&server, As::Session(&bob)).await);
    assert_eq!(delete(&server, As::Key, "/v1/users/ada/sessions").await.0, 204, "nothing left is fine");
    assert_error(&delete(&server, As::Key, "/v1/users/nobody/sessions").await, 404, "user_not_found");
    let as_user = server.call(As::Session(&bob), Method::DELETE, "/v1/users/bob/sessions", None).await;
    assert_error(&as_user, 401, "general_unauthorized_scope");
}

#[tokio::test]
async fn email_sessions_secret_and_session_limit() {
    let server = Server::start().await;
    create_user(&server, "ada", "Ada").await;
    let body = json!({"email": "ada@example.com", "password": "password123"});

    // The SSR flow: with the key, `secret` is the session value; a guest gets "".
    let (status, session) = server.post(As::Key, "/v1/account/sessions/email", body.clone()).await;
    assert_eq!((status, session["userId"].as_str()), (201, Some("ada")));
    let secret = session["secret"].as_str().unwrap();
    assert!(!secret.is_empty());
    assert!(signed_in(&server, As::Session(secret)).await);
    let (status, guest) = server.post(As::Guest, "/v1/account/sessions/email", body.clone()).await;
    assert_eq!((status, guest["secret"].as_str()), (201, Some("")));

    let wrong = json!({"email": "ada@example.com", "password": "not-the-password"});
    assert_error(&server.post(As::Key, "/v1/account/sessions/email", wrong).await, 401, "user_invalid_credentials");
    let unknown = json!({"email": "nobody@example.com", "password": "password123"});
    assert_error(&server.post(As::Key, "/v1/account/sessions/email", unknown).await, 401, "user_invalid_credentials");
    let bad_email = json!({"email": "not-an-email", "password": "password123"});
    assert_error(&server.post(As::Key, "/v1/account/sessions/email", bad_email).await, 400, "general_argument_invalid");

    // Two sessions so far; nine more make eleven, and the oldest is deleted.
    let mut secrets = vec![secret.to_owned()];
    for _ in 0..9 {
        secrets.push(login(&server, "ada").await.1);
    }
    assert!(!signed_in(&server, As::Session(&secrets[0])).await, "the oldest session is gone");
    for secret in &secrets[1..] {
        assert!(signed_in(&server, As::Session(secret)).await);
    }
    // The next one deletes the guest's session (the oldest now), the one after that ours.
    secrets.push(login(&server, "ada").await.1);
    assert!(signed_in(&server, As::Session(&secrets[1])).await);
    secrets.push(login(&server, "ada").await.1);
    assert!(!signed_in(&server, As::Session(&secrets[1])).await);
    assert!(signed_in(&server, As::Session(&secrets[2])).await);
}

#[tokio::test]
async fn user_memberships_and_membership_deletion() {
    let server = Server::start().await;
    server.setup_leads().await;
    create_user(&server, "ada", "Ada").await;
    create_user(&server, "bob", "Bob").await;
    for (team, name) in [("sales", "Sales"), ("support", "Support")] {
        assert_eq!(server.post(As::Key, "/v1/teams", json!({"teamId": team, "name": name})).await.0, 201);
    }
    let (status, sales) = add(&server, "sales", json!({"userId": "ada", "roles": ["member"]})).await;
    assert_eq!((status, sales["confirm"].as_bool()), (201, Some(true)), "{sales}");
    assert!(!sales["joined"].as_str().unwrap().is_empty(), "a key confirms at once");
    let (_, support) = add(&server, "support", json!({"userId": "ada", "roles": ["owner"]})).await;
    add(&server, "support", json!({"userId": "bob", "roles": ["member"]})).await;

    assert_error(
        &add(&server, "sales", json!({"userId": "ada", "roles": ["member"]})).await,
        409,
        "membership_already_confirmed",
    );
    assert_error(&add(&server, "sales", json!({"userId": "bob"})).await, 400, "general_argument_invalid");
    assert_error(
        &add(&server, "sales", json!({"userId": "bob", "email": "ada@example.com", "roles": []})).await,
        409,
        "user_already_exists",
    );
    assert_error(&add(&server, "sales", json!({"userId": "nobody", "roles": []})).await, 404, "user_not_found");
    assert_error(&add(&server, "nope", json!({"userId": "bob", "roles": []})).await, 404, "team_not_found");

    let (status, listed) = server.get(As::Key, "/v1/users/ada/memberships").await;
    assert_eq!((status, listed["total"].as_u64()), (200, Some(2)), "{listed}");
    assert_eq!(ids(&listed, "memberships", "teamId"), ["sales", "support"]);
    assert_eq!(listed["memberships"][0], sales, "the Membership model of the teams routes");
    assert_eq!(listed["memberships"][1]["teamName"], "Support");
    let one_team = [("queries[]", q("equal", "teamId", json!(["support"])))];
    let (_, filtered) = list(&server, "/v1/users/ada/memberships", &one_team).await;
    assert_eq!(ids(&filtered, "memberships", "$id"), [support["$id"].as_str().unwrap()]);
    assert_error(&server.get(As::Key, "/v1/users/nobody/memberships").await, 404, "user_not_found");
    assert_eq!(server.get(As::Key, "/v1/users/bob/memberships").await.1["total"], 1);

    let path = |team: &str, membership: &Value| {
        format!("/v1/teams/{team}/memberships/{}", membership["$id"].as_str().unwrap())
    };
    assert_error(&delete(&server, As::Key, &path("support", &sales)).await, 404, "team_membership_mismatch");
    assert_error(&delete(&server, As::Key, &path("nope", &sales)).await, 404, "team_not_found");
    assert_error(&delete(&server, As::Key, "/v1/teams/sales/memberships/nope").await, 404, "team_invite_not_found");

    // A team role grants access until the membership is deleted.
    server.create_lead(As::Key, "team-lead", json!({"name": "T"}), Some(json!(["read(\"team:sales\")"]))).await;
    let (_, ada) = login(&server, "ada").await;
    assert_eq!(server.get(As::Session(&ada), &document_path("team-lead")).await.0, 200);
    assert_eq!(delete(&server, As::Key, &path("sales", &sales)).await, (204, Value::Null));
    assert_eq!(server.get(As::Session(&ada), &document_path("team-lead")).await.0, 404);
    assert_error(&delete(&server, As::Key, &path("sales", &sales)).await, 404, "team_invite_not_found");
    assert_eq!(server.get(As::Key, "/v1/teams/sales/memberships").await.1["total"], 0);
    let (_, listed) = server.get(As::Key, "/v1/users/ada/memberships").await;
    assert_eq!(ids(&listed, "memberships", "teamId"), ["support"]);

    // Without a key: only the member themself or a team owner.
    let (_, bob_session) = login(&server, "bob").await;
    let (_, members) = server.get(As::Key, "/v1/teams/support/memberships").await;
    let bob_membership =
        members["memberships"].as_array().unwrap().iter().find(|m| m["userId"] == "bob").unwrap().clone();
    assert_error(
        &delete(&server, As::Session(&bob_session), &path("support", &support)).await,
        401,
        "user_unauthorized",
    );
    assert_eq!(
        delete(&server, As::Session(&ada), &path("support", &bob_membership)).await.0,
        204,
        "the owner removes bob"
    );
    assert_eq!(delete(&server, As::Session(&ada), &path("support", &support)).await.0, 204, "ada leaves");
    assert_eq!(server.get(As::Key, "/v1/users/ada/memberships").await.1["total"], 0);
}

#[tokio::test]
async fn reset_forgets_users_sessions_and_memberships() {
    let server = Server::start().await;
    create_user(&server, "ada", "Ada").await;
    let (_, secret) = login(&server, "ada").await;
    server.post(As::Key, "/v1/teams", json!({"teamId": "sales", "name": "Sales"})).await;
    server.post(As::Key, "/v1/teams/sales/memberships", json!({"userId": "ada", "roles": []})).await;
    assert_eq!(server.admin("/__reset", json!({})).await.0, 204);
    assert_eq!(server.get(As::Key, "/v1/users").await.1["total"], 0);
    assert!(!signed_in(&server, As::Session(&secret)).await);
    assert_error(&server.get(As::Key, "/v1/users/ada/memberships").await, 404, "user_not_found");
    assert_error(&server.get(As::Key, "/v1/teams/sales").await, 404, "team_not_found");
    create_user(&server, "ada", "Ada").await;
}
