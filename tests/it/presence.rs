//! Presence: a board that says it looks at a lead's page is named to every other board of the
//! replica at once, and is gone as soon as it looks elsewhere or closes; a board that connects
//! later is told who looks now; nothing is sent while nobody looks; bad lead IDs are refused.

use futures::SinkExt;
use leadboard::protocol::{ServerMsg, Viewers};
use leadboard_testkit::server::{connect_board, next_msg, send_msg, Socket, TestServer};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// The board's next presence message, as (lead, viewers) pairs, and whether it is the whole picture.
async fn presence(ws: &mut Socket) -> (Vec<(String, Vec<String>)>, bool) {
    loop {
        match next_msg(ws, WAIT).await {
            Some(ServerMsg::Presence { viewing, whole }) => {
                let pairs = viewing
                    .into_iter()
                    .map(|Viewers { lead, users }| (lead.to_string(), users.iter().map(|u| u.to_string()).collect()))
                    .collect();
                return (pairs, whole);
            }
            Some(_) => continue,
            None => panic!("no presence message within {WAIT:?}"),
        }
    }
}

async fn board(server: &TestServer, user: &str) -> Socket {
    let client = server.client(user).await;
    let mut ws = connect_board(server, &client).await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": server.state.leads.latest_seq().await.unwrap()})).await;
    ws
}

fn pair(lead: &str, users: &[&str]) -> (String, Vec<String>) {
    (lead.into(), users.iter().map(|u| u.to_string()).collect())
}

#[tokio::test]
async fn a_board_looking_at_a_lead_is_named_to_every_board_and_gone_when_it_closes() {
    let server = TestServer::start(3, 0).await;
    let mut bob = board(&server, "bob").await;
    let mut alice = board(&server, "alice").await;
    send_msg(&mut alice, json!({"type": "viewing", "lead": "L00002"})).await;
    assert_eq!(presence(&mut bob).await, (vec![pair("L00002", &["alice"])], false));
    assert_eq!(presence(&mut alice).await, (vec![pair("L00002", &["alice"])], false), "her own board hears it too");

    // A board that connects now is told who looks, as the whole picture.
    let mut carol = board(&server, "carol").await;
    assert_eq!(presence(&mut carol).await, (vec![pair("L00002", &["alice"])], true));

    // Looking elsewhere changes both leads; closing the board ends the look.
    send_msg(&mut alice, json!({"type": "viewing", "lead": "L00003"})).await;
    assert_eq!(presence(&mut bob).await, (vec![pair("L00002", &[]), pair("L00003", &["alice"])], false));
    alice.close(None).await.unwrap();
    drop(alice);
    assert_eq!(presence(&mut bob).await, (vec![pair("L00003", &[])], false));
    assert_eq!(presence(&mut carol).await.0[0], pair("L00002", &[]));
}

#[tokio::test]
async fn nothing_is_sent_while_nobody_looks_and_bad_looks_are_refused() {
    let server = TestServer::start(3, 0).await;
    let mut bob = board(&server, "bob").await;
    let mut alice = board(&server, "alice").await;
    // Nobody looks: a new board gets no presence message at all.
    let mut quiet = board(&server, "carol").await;
    assert!(
        !matches!(next_msg(&mut quiet, Duration::from_millis(500)).await, Some(ServerMsg::Presence { .. })),
        "no presence while nobody looks"
    );
    send_msg(&mut alice, json!({"type": "viewing", "lead": "not a lead id"})).await;
    match next_msg(&mut alice, WAIT).await {
        Some(ServerMsg::Error { message }) => assert!(message.starts_with("bad message"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Looking at nothing when looking at nothing is no change: nobody hears of it.
    send_msg(&mut alice, json!({"type": "viewing", "lead": null})).await;
    assert!(next_msg(&mut bob, Duration::from_millis(500)).await.is_none());
    alice.send(tokio_tungstenite::tungstenite::Message::Close(None)).await.unwrap();
}
