//! Sessions end when they should: a password reset or disable that commits wins over a sign-in
//! already past its password check; sign-out closes that session's boards at once (and only
//! its own); everyone can change their own password, which ends their other sessions.

use futures::StreamExt;
use leadboard::domain::{AccountChange, Password, Username};
use leadboard::server::store::StoreError;
use leadboard_testkit::server::{connect_board, next_msg, reset_racing_sign_ins, send_msg, Client, Socket, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

/// The close code a board gets within `within`, if any.
async fn closed_within(ws: &mut Socket, within: Duration) -> Option<u16> {
    tokio::time::timeout(within, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Close(frame) = msg {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test]
async fn a_credential_change_that_commits_first_fences_a_sign_in_past_its_check() {
    let server = TestServer::start(1, 0).await;
    let accounts = &server.state.accounts;
    let bob = Username::parse("bob").unwrap();
    for change in [AccountChange::Password(Password::parse("n3w-secret").unwrap()), AccountChange::Disabled(true)] {
        let password = if matches!(change, AccountChange::Disabled(_)) { "n3w-secret" } else { "demo1234" };
        let verified = accounts.verify_password("bob", password).await.unwrap().expect("the right password");
        accounts.update_user(&bob, change).await.unwrap();
        let opened = accounts.create_session("a-token-hash", &verified, i64::MAX).await;
        assert!(matches!(opened, Err(StoreError::Conflict(_))), "{opened:?}");
        assert_eq!(accounts.session_user("a-token-hash", 0).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_reset_racing_a_sign_in_never_leaves_a_session_with_the_old_password() {
    let server = TestServer::start(1, 0).await;
    let maria = server.client("maria").await;
    let (signed_in, survived) = reset_racing_sign_ins(server.addr, &maria, 24, 3).await;
    assert_eq!(survived, 0, "{signed_in} sign-ins got in before their reset; none may outlive it");
}

#[tokio::test]
async fn signing_out_closes_that_sessions_boards_at_once_and_no_others() {
    let server = TestServer::start(3, 0).await;
    let (laptop, phone) = (server.client("alice").await, server.client("alice").await);
    let mut laptop_board = connect_board(&server, &laptop).await.unwrap();
    let mut phone_board = connect_board(&server, &phone).await.unwrap();
    for ws in [&mut laptop_board, &mut phone_board] {
        send_msg(ws, json!({"type": "resume", "after_seq": 0})).await;
        assert!(next_msg(ws, WAIT).await.is_some(), "caught up");
    }
    assert_eq!(laptop.post("/api/logout", json!({})).await.0, 200);
    // Long before the next heartbeat (15 s) would have noticed.
    let code = closed_within(&mut laptop_board, Duration::from_secs(2)).await;
    assert_eq!(code, Some(leadboard::protocol::Close::SignedOut.code()));
    assert_eq!(phone.post("/api/claim", json!({"lead_id": "L00001"})).await.0, 200);
    assert!(
        matches!(next_msg(&mut phone_board, WAIT).await, Some(leadboard::protocol::ServerMsg::Event(_))),
        "the other session's board lives on"
    );
}

#[tokio::test]
async fn changing_your_own_password_needs_the_old_one_and_ends_your_other_sessions() {
    let server = TestServer::start(3, 0).await;
    let (here, elsewhere) = (server.client("carol").await, server.client("carol").await);
    let mut elsewhere_board = connect_board(&server, &elsewhere).await.unwrap();
    send_msg(&mut elsewhere_board, json!({"type": "resume", "after_seq": 0})).await;
    assert!(next_msg(&mut elsewhere_board, WAIT).await.is_some());

    let (s, body) = here.post("/api/password", json!({"current": "not-mine-1", "new": "carols-own-pass"})).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = here.post("/api/password", json!({"current": "demo1234", "new": "short"})).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = here.post("/api/password", json!({"current": "demo1234", "new": "carols-own-pass"})).await;
    assert_eq!(s, 200, "{body}");

    assert_eq!(here.post("/api/me", json!({})).await.1["username"], "carol", "this browser stays signed in");
    assert_eq!(elsewhere.post("/api/me", json!({})).await.1, Value::Null, "the other session ended");
    let code = closed_within(&mut elsewhere_board, Duration::from_secs(2)).await;
    assert_eq!(code, Some(leadboard::protocol::Close::SignedOut.code()));
    let anon = Client::anonymous(&server);
    assert_eq!(anon.post("/api/login", json!({"username": "carol", "password": "demo1234"})).await.0, 401);
    assert_eq!(anon.post("/api/login", json!({"username": "carol", "password": "carols-own-pass"})).await.0, 200);
    assert_eq!(
        Client::anonymous(&server).post("/api/password", json!({"current": "x", "new": "yyyyyyyy"})).await.0,
        401
    );
}
