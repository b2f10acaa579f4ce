//! Thousands of malformed requests and websocket messages, generated deterministically from a
//! seed: every one gets a 4xx (or an error message on the socket) with a reason, nothing panics,
//! and the store is exactly as before.

use futures::SinkExt;
use leadboard::protocol::ServerMsg;
use leadboard_testkit::server::{connect_board, next_msg, send_msg, TestServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const CASES_PER_ENDPOINT: usize = 400;
const SOCKET_MESSAGES: usize = 600;

/// xorshift64*: small, deterministic, good enough to vary inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// A string of `len` characters drawn from a mix of ASCII, markup, control and wide chars.
    fn text(&mut self, len: usize) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', ' ', '<', '>', '"', '\'', '\\', '{', '}', ',', ':', '\u{0}', '\n', 'é', '😀', '\u{202e}',
            '_', '.', '-',
        ];
        (0..len).map(|_| self.pick(CHARS)).collect()
    }

    /// Text that is never valid JSON: an object that ends in a comma.
    fn garbage(&mut self) -> String {
        let len = self.below(60);
        format!("{{{},", self.text(len))
    }
}

/// What a field holds, so that a value of the right JSON type but invalid content can be made.
#[derive(Clone, Copy)]
enum Kind {
    /// Any string (the sign-in form's fields): only a wrong type is a bad request.
    Free,
    LeadId,
    Username,
    Password,
    Role,
    /// A lead's name or company.
    Text,
    Number,
    Change,
    Outcome,
    Note,
}

/// A value of `kind`'s JSON type that fails its validation, or a value of another type.
fn bad_value(rng: &mut Rng, kind: Kind) -> Value {
    let wrong_type = [
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(-1),
        json!(1.5),
        json!("12"),
        json!(u64::MAX as f64 * 4.0),
    ];
    let same_type_but_invalid = match kind {
        Kind::Free | Kind::Number => None,
        // Outside the alphabet, too long, empty or a bad first character.
        Kind::LeadId | Kind::Username => Some(match rng.below(4) {
            0 => json!(format!("a{}<", rng.text(3))),
            1 => json!("a".repeat(37 + rng.below(100))),
            2 => json!(""),
            _ => json!(format!("_{}", rng.below(1000))),
        }),
        Kind::Password => {
            Some(json!(if rng.below(2) == 0 { "abc".to_owned() } else { "p".repeat(129 + rng.below(50)) }))
        }
        Kind::Role => Some(json!(rng.pick(&["admin", "Manager", "", "root", "employee "]))),
        Kind::Text => Some(json!(match rng.below(3) {
            0 => "   ".to_owned(),
            1 => format!("x\u{7}{}", rng.text(5)),
            _ => "n".repeat(201 + rng.below(100)),
        })),
        Kind::Outcome => Some(json!(rng.pick(&["called", "Won", "", "won ", "closed"]))),
        Kind::Note => Some(json!(if rng.below(2) == 0 {
            format!("x\u{7}{}", rng.text(5))
        } else {
            "n".repeat(501 + rng.below(100))
        })),
        Kind::Change => Some(rng.pick(&[
            json!({"set": "disabled", "to": "yes"}),
            json!({"set": "role", "to": "admin"}),
            json!({"set": "password", "to": "abc"}),
            json!({"set": "delete", "to": true}),
            json!({"set": "disabled"}),
            json!({"to": true}),
        ])),
    };
    match (same_type_but_invalid, rng.below(2)) {
        (Some(v), 0) => v,
        (_, _) => {
            // `"12"` is a fine string; only give it to fields that are not strings.
            let mut v = rng.pick(&wrong_type);
            while v.is_string() && !matches!(kind, Kind::Number | Kind::Change) {
                v = rng.pick(&wrong_type);
            }
            v
        }
    }
}

/// One malformed body for an endpoint whose valid body is `fields`.
fn malformed(rng: &mut Rng, fields: &[(&str, Kind, Value)]) -> String {
    let valid: serde_json::Map<String, Value> = fields.iter().map(|(k, _, v)| (k.to_string(), v.clone())).collect();
    match rng.below(5) {
        0 => rng.garbage(),
        1 => rng.pick(&["null", "[]", "42", "\"x\"", "true", ""]).to_owned(),
        2 => {
            let mut body = valid;
            body.remove(fields[rng.below(fields.len())].0);
            Value::Object(body).to_string()
        }
        _ => {
            let mut body = valid;
            let (key, kind, _) = &fields[rng.below(fields.len())];
            body.insert(key.to_string(), bad_value(rng, *kind));
            Value::Object(body).to_string()
        }
    }
}

async fn store_state(server: &TestServer) -> (Value, Value, u64) {
    let snap = server.state.leads.snapshot().await.unwrap();
    let users = server.state.accounts.users().await.unwrap();
    (serde_json::to_value(snap.leads).unwrap(), serde_json::to_value(users).unwrap(), snap.seq)
}

/// An endpoint's body fields: name, kind and a valid value.
type Fields = Vec<(&'static str, Kind, Value)>;

#[tokio::test]
async fn malformed_requests_get_a_4xx_and_change_nothing() {
    let server = TestServer::start(5, 1).await;
    let maria = server.client("maria").await;
    let before = store_state(&server).await;
    let endpoints: Vec<(&str, Fields)> = vec![
        ("/api/login", vec![("username", Kind::Free, json!("maria")), ("password", Kind::Free, json!("nope"))]),
        ("/api/claim", vec![("lead_id", Kind::LeadId, json!("L00001"))]),
        ("/api/release", vec![("lead_id", Kind::LeadId, json!("L00001")), ("version", Kind::Number, json!(1))]),
        ("/api/extend", vec![("lead_id", Kind::LeadId, json!("L00001")), ("version", Kind::Number, json!(1))]),
        (
            "/api/outcome",
            vec![
                ("lead_id", Kind::LeadId, json!("L00001")),
                ("version", Kind::Number, json!(1)),
                ("outcome", Kind::Outcome, json!("won")),
                ("note", Kind::Note, json!("called twice")),
            ],
        ),
        ("/api/leads/history", vec![("lead_id", Kind::LeadId, json!("NOPE1"))]),
        ("/api/outcomes", vec![("days", Kind::Number, json!(0))]),
        (
            "/api/reassign",
            vec![
                ("lead_id", Kind::LeadId, json!("L00001")),
                ("version", Kind::Number, json!(1)),
                ("to", Kind::Username, json!("bob")),
            ],
        ),
        (
            "/api/users/add",
            vec![
                ("username", Kind::Username, json!("zed")),
                ("role", Kind::Role, json!("employee")),
                ("password", Kind::Password, json!("s3cret-pass")),
            ],
        ),
        (
            "/api/users/update",
            vec![
                ("username", Kind::Username, json!("bob")),
                ("change", Kind::Change, json!({"set": "disabled", "to": true})),
            ],
        ),
        (
            "/api/leads/add",
            vec![
                ("id", Kind::LeadId, json!("N1")),
                ("name", Kind::Text, json!("Ada")),
                ("company", Kind::Text, json!("Acme")),
                ("value", Kind::Number, json!(5)),
            ],
        ),
    ];
    let mut rng = Rng(0x5eed_1ead_b0a2_d001);
    let mut answered = 0;
    for (path, fields) in &endpoints {
        for _ in 0..CASES_PER_ENDPOINT {
            let body = malformed(&mut rng, fields);
            let (status, reply) = maria.post_raw(path, body.clone()).await;
            assert!((400..500).contains(&status), "{path} {body:?}: {status} {reply}");
            assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()), "{path} {body:?}: a reason: {reply}");
            answered += 1;
        }
    }
    assert_eq!(answered, endpoints.len() * CASES_PER_ENDPOINT);
    assert_eq!(store_state(&server).await, before, "the store is unchanged");
    assert_eq!(maria.post("/api/me", json!({})).await.1["username"], "maria", "the manager is still signed in");
}

#[tokio::test]
async fn malformed_socket_messages_get_an_error_and_change_nothing() {
    let server = TestServer::start(5, 0).await;
    let alice = server.client("alice").await;
    let before = store_state(&server).await;
    let mut rng = Rng(0xb0a2_d5ee_d000_0042);
    let wait = Duration::from_secs(5);
    let mut sent = 0;
    while sent < SOCKET_MESSAGES {
        // Stay under the per-connection message limit: a fresh connection every 25 messages.
        let mut ws = connect_board(&server, &alice).await.unwrap();
        send_msg(&mut ws, json!({"type": "resume", "after_seq": before.2})).await;
        for _ in 0..25 {
            let msg = match rng.below(6) {
                0 => Message::text(rng.garbage()),
                1 => Message::binary(rng.text(20).into_bytes()),
                2 => Message::text(json!({"type": rng.text(6), "after_seq": 1}).to_string()),
                3 => Message::text(json!({"type": "resume"}).to_string()),
                4 => {
                    Message::text(json!({"type": "resume", "after_seq": bad_value(&mut rng, Kind::Number)}).to_string())
                }
                _ => Message::text(rng.pick(&["null", "[]", "1", "\"resume\""]).to_owned()),
            };
            let shown = format!("{msg:?}");
            ws.send(msg).await.unwrap();
            match next_msg(&mut ws, wait).await {
                Some(ServerMsg::Error { message }) => assert!(!message.is_empty()),
                other => panic!("{shown}: {other:?}"),
            }
            sent += 1;
        }
    }
    assert_eq!(store_state(&server).await, before, "the store is unchanged");
}

#[tokio::test]
async fn a_socket_that_floods_is_closed() {
    let server = TestServer::start(1, 0).await;
    let alice = server.client("alice").await;
    let mut ws = connect_board(&server, &alice).await.unwrap();
    let mut closed = false;
    for _ in 0..200 {
        if ws.send(Message::text(r#"{"type":"resume","after_seq":0}"#)).await.is_err() {
            closed = true;
            break;
        }
    }
    // Whatever was sent before the limit is answered; then the server closes the socket.
    if !closed {
        use futures::StreamExt;
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Close(frame) = msg {
                    return frame.map(|f| u16::from(f.code));
                }
            }
            None
        })
        .await
        .expect("the server closes a flooding socket");
        assert_eq!(end, Some(1008));
    }
    assert_eq!(alice.post("/api/me", json!({})).await.1["username"], "alice", "the account itself is fine");
}
