//! CSV import and export through a real server: idempotent re-import, duplicate and refusal
//! reports, open boards receiving an import in a few messages, exports that re-import to the
//! same leads with formulas neutralised, the history of a period, and who may do any of it.

use futures::StreamExt;
use leadboard::protocol::ServerMsg;
use leadboard_testkit::appwrite::{Appwrite, Replica};
use leadboard_testkit::server::{connect_board, send_msg, Client, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// Posts `csv` to `/csv/import` (with `query`) of the server at `at`; the status and every
/// JSON line of the answer.
async fn import(at: impl Into<Addr>, who: &Client, query: &str, csv: &str) -> (u16, Vec<Value>) {
    let res = who
        .http
        .post(format!("http://{}/csv/import{query}", at.into().0))
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, text.lines().map(|l| serde_json::from_str(l).unwrap_or(Value::String(l.into()))).collect())
}

/// A server's address: a test server's, or an Appwrite replica's.
struct Addr(std::net::SocketAddr);

impl From<&TestServer> for Addr {
    fn from(s: &TestServer) -> Self {
        Addr(s.addr)
    }
}

impl From<&Replica> for Addr {
    fn from(r: &Replica) -> Self {
        Addr(r.addr)
    }
}

/// The report that ends a successful import.
async fn report(at: impl Into<Addr>, who: &Client, csv: &str) -> Value {
    let (status, lines) = import(at, who, "", csv).await;
    assert_eq!(status, 200, "{lines:?}");
    let last = lines.last().cloned().unwrap();
    assert_eq!(last["type"], "done", "{lines:?}");
    last
}

async fn get(server: &TestServer, who: &Client, path: &str) -> (u16, String) {
    let res = who.http.get(server.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn reasons(report: &Value, list: &str) -> Vec<(u64, String)> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["row"].as_u64().unwrap(), i["reason"].as_str().unwrap().to_owned()))
        .collect()
}

const FILE: &str = "\u{feff}Lead ID;Name;Company;Value;E-mail;Phone;Tags;Notes\r\n\
    N1;Ada;Acme;1 200;ada@example.com;+49 30 1234567;vip, eu;\r\n\
    N2;Bob;\"Beta; GmbH\";3;not-an-email;;;\"call\r\nback\"\r\n\
    N3;Cy;Cyan;5;ADA@example.com;;;\r\n\
    L00001;Dup;Dupe;1;;;;\r\n\
    ;Eve;Echo;7;eve@example.com;555-CALL;;\r\n\
    ;Fay;Foxtrot;8;fay@example.com;;;\r\n";

#[tokio::test]
async fn importing_a_file_twice_adds_each_lead_once_and_reports_the_rest() {
    let server = TestServer::start(3, 0).await;
    let maria = server.client("maria").await;
    let first = report(&server, &maria, FILE).await;
    assert_eq!(first["rows"], 6);
    assert_eq!(first["added"], 2, "{first}");
    assert_eq!(
        reasons(&first, "refused"),
        [
            (3, "email must be an address like name@example.com, not \"not-an-email\"".to_string()),
            (6, "phone may contain only digits, spaces, '-', '.', '(' and ')', after an optional leading '+'".into())
        ]
    );
    assert_eq!(
        reasons(&first, "skipped"),
        [(4, "same email as row 2".to_string()), (5, "lead L00001 is on the board already".into())]
    );
    let refused_csv = first["refused_csv"].as_str().unwrap();
    assert!(refused_csv.starts_with("row,error,Lead ID,Name,Company"), "{refused_csv}");
    let expected =
        "3,\"email must be an address like name@example.com, not \"\"not-an-email\"\"\",N2,Bob,Beta; GmbH,3,not-an-email,,,\"call\r\nback\"";
    assert!(refused_csv.contains(expected), "{refused_csv}");

    let board = server.state.leads.snapshot().await.unwrap().leads;
    assert_eq!(board.len(), 5);
    let ada = board.iter().find(|l| l.id.as_str() == "N1").unwrap();
    assert_eq!((ada.value, ada.details.phone.as_ref().unwrap().as_str()), (1200, "+49 30 1234567"));
    assert_eq!(ada.details.tags.len(), 2);
    assert!(ada.details.created_at.is_some());
    let fay = board.iter().find(|l| l.name == "Fay").unwrap();
    assert!(fay.id.as_str().starts_with('r'), "a row without an ID gets one from its content: {}", fay.id);

    let again = report(&server, &maria, FILE).await;
    assert_eq!(again["added"], 0, "nothing twice: {again}");
    assert_eq!(again["skipped"].as_array().unwrap().len(), 4, "{again}");
    assert_eq!(server.state.leads.snapshot().await.unwrap().leads.len(), 5);
}

#[tokio::test]
async fn a_chosen_key_column_makes_rows_without_ids_idempotent() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let file = "crm,name,company\nA-1,Ada,Acme\nA-2,Ada,Acme\n";
    let (_, lines) = import(&server, &maria, "?map=,name,company&key=0", file).await;
    assert_eq!(lines.last().unwrap()["added"], 2, "same content, different keys: {lines:?}");
    let (_, lines) = import(&server, &maria, "?map=,name,company&key=0", file).await;
    assert_eq!(lines.last().unwrap()["added"], 0, "{lines:?}");
    let (status, lines) = import(&server, &maria, "?map=,name", file).await;
    assert_eq!(status, 400, "a mapping without a company is refused: {lines:?}");
    let (status, lines) = import(&server, &maria, "?map=,name,firm", file).await;
    assert_eq!((status, lines[0]["message"].as_str()), (400, Some("unknown field \"firm\"")));
}

#[tokio::test]
async fn an_open_board_receives_ten_thousand_imported_leads_in_a_few_messages() {
    const ROWS: usize = 10_000;
    let server = TestServer::start(1, 0).await;
    let (alice, maria) = (server.client("alice").await, server.client("maria").await);
    let mut ws = connect_board(&server, &alice).await.unwrap();
    let seq = server.state.leads.latest_seq().await.unwrap();
    send_msg(&mut ws, json!({"type": "resume", "after_seq": seq})).await;
    let mut file = String::from("id,name,company,email\n");
    for i in 0..ROWS {
        file.push_str(&format!("B{i:05},Lead {i},Company {i},p{i}@example.com\n"));
    }
    let done = report(&server, &maria, &file).await;
    assert_eq!(done["added"], ROWS as u64);
    let (mut messages, mut events, mut last) = (0, 0, seq);
    while events < ROWS {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("the board hears the import");
        let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = msg else { continue };
        match serde_json::from_str::<ServerMsg>(&t).unwrap() {
            ServerMsg::Events { events: batch } => {
                for ev in &batch {
                    assert_eq!(ev.seq, last + 1, "in order, without gaps");
                    last = ev.seq;
                }
                events += batch.len();
                messages += 1;
            }
            ServerMsg::Heartbeat { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(messages, ROWS.div_ceil(leadboard::server::transfer::import::BATCH), "one message per batch");
}

#[tokio::test]
async fn an_export_is_the_filtered_board_guarded_and_reimports_to_the_same_leads() {
    let server = TestServer::start(0, 0).await;
    let maria = server.client("maria").await;
    let file = "id,name,company,value,phone,tags,source\n\
        X1,=cmd|' /C calc'!A0,Acme,10,+1 555 0100,\"a, b\",@web\n\
        X2,Plain,Beta,20,,,fair\n";
    report(&server, &maria, file).await;
    let (status, all) = get(&server, &maria, "/csv/leads").await;
    assert_eq!(status, 200);
    assert!(all.contains("'=cmd|' /C calc'!A0") && all.contains("'+1 555 0100") && all.contains("'@web"), "{all}");
    assert!(!all.lines().skip(1).any(|l| l.starts_with(['=', '+', '-', '@'])), "{all}");
    let (_, filtered) = get(&server, &maria, "/csv/leads?q=fair&status=open&mine=false").await;
    assert_eq!(filtered.lines().count(), 2, "the header and X2: {filtered}");
    let (_, mine) = get(&server, &maria, "/csv/leads?mine=true").await;
    assert_eq!(mine.lines().count(), 1, "maria holds nothing: {mine}");

    let other = TestServer::start(0, 0).await;
    let maria2 = other.client("maria").await;
    let again = report(&other, &maria2, &all).await;
    assert_eq!(again["added"], 2, "{again}");
    let strip = |mut leads: Vec<leadboard::domain::Lead>| {
        leads.iter_mut().for_each(|l| l.updated_at = 0);
        leads
    };
    assert_eq!(
        strip(other.state.leads.snapshot().await.unwrap().leads),
        strip(server.state.leads.snapshot().await.unwrap().leads),
        "the same leads, formulas and all"
    );
}

#[tokio::test]
async fn the_history_export_lists_claims_lost_claims_and_reassigns_of_the_period() {
    let server = TestServer::start(2, 0).await;
    let (alice, bob, maria) = (server.client("alice").await, server.client("bob").await, server.client("maria").await);
    alice.post("/api/claim", json!({"lead_id": "L00001"})).await;
    bob.post("/api/claim", json!({"lead_id": "L00001"})).await;
    let lead = alice.post("/api/claim", json!({"lead_id": "L00001"})).await.1["lead"].clone();
    maria.post("/api/reassign", json!({"lead_id": "L00001", "version": lead["version"], "to": "bob"})).await;
    let (status, text) = get(&server, &maria, "/csv/history").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert_eq!(kinds, ["claimed", "claim_lost", "reassigned"], "{text}");
    let (_, long_ago) = get(&server, &maria, "/csv/history?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(long_ago.lines().count(), 1, "only the header: {long_ago}");
    let (status, _) = get(&server, &maria, "/csv/history?from=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn only_managers_on_this_site_may_import_and_export_and_bad_uploads_say_why() {
    let server = TestServer::start(1, 0).await;
    let (alice, maria, nobody) =
        (server.client("alice").await, server.client("maria").await, Client::anonymous(&server));
    let csv = "name,company\nAda,Acme\n";
    assert_eq!(import(&server, &nobody, "", csv).await.0, 401);
    assert_eq!(import(&server, &alice, "", csv).await.0, 403);
    assert_eq!(get(&server, &alice, "/csv/leads").await.0, 403);
    assert_eq!(get(&server, &nobody, "/csv/history").await.0, 401);
    let cross = maria
        .http
        .post(server.url("/csv/preview"))
        .header("content-type", "text/csv")
        .header("origin", "http://evil.test")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let form =
        maria.http.post(server.url("/csv/import")).header("content-type", "text/plain").body(csv).send().await.unwrap();
    assert_eq!(form.status(), 415, "a cross-site form cannot send text/csv");
    let huge = format!("name,company\n{}", "Ada,Acme\n".repeat(500_000));
    assert_eq!(import(&server, &maria, "", &huge).await.0, 413);
    let (status, lines) = import(&server, &maria, "", "name,company\n\"Ada,Acme\n").await;
    assert_eq!(status, 200, "an unterminated quote is one odd row: {lines:?}");
    let res = maria
        .http
        .post(server.url("/csv/preview"))
        .header("content-type", "text/csv")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not UTF-8"));

    let res = maria
        .http
        .post(server.url("/csv/preview"))
        .header("content-type", "text/csv")
        .body("Deal;Organisation;Mail\nA;B;c@d.e\n")
        .send()
        .await
        .unwrap();
    let preview: Value = res.json().await.unwrap();
    assert_eq!(preview["mapping"]["columns"], json!(["name", "company", "email"]));
    assert_eq!((preview["delimiter"].as_str(), preview["total_rows"].as_u64()), (Some(";"), Some(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_appwrite_an_import_keeps_the_details_and_adds_nothing_twice() {
    let aw = Appwrite::start().await;
    let (a, b) = (Replica::start(&aw).await, Replica::start(&aw).await);
    aw.seed(&a, 3, 0).await;
    let maria = a.client("maria").await;
    let first = report(&a, &maria, FILE).await;
    assert_eq!((first["added"].as_u64(), first["refused"].as_array().map(Vec::len)), (Some(2), Some(2)), "{first}");
    let doc = aw.lead_doc("N1").await;
    assert_eq!(
        (doc["email"].as_str(), doc["phone"].as_str(), doc["tags"].as_str()),
        (Some("ada@example.com"), Some("+49 30 1234567"), Some("vip, eu"))
    );
    assert!(doc["created_at"].is_null(), "no created time in the file: the document's own stands for it: {doc}");
    let dated = report(&a, &maria, "id,name,company,created\nC1,Cy,Cyan,2026-03-01\n").await;
    assert_eq!(dated["added"], 1, "{dated}");
    assert_eq!(aw.lead_doc("C1").await["created_at"], 1_772_323_200_000_i64);
    // The other replica reads the details back, and re-importing there adds nothing.
    let mut board = b.board("alice").await;
    assert!(board.until(Duration::from_secs(20), |b| b.lead("N1").is_some() && b.lead("C1").is_some()).await);
    let n1 = board.lead("N1").unwrap().details.clone();
    assert_eq!(n1.tags.len(), 2);
    assert!(n1.created_at.is_some_and(|at| at > 1_772_323_200_000), "its document's $createdAt: {n1:?}");
    assert_eq!(board.lead("C1").unwrap().details.created_at, Some(1_772_323_200_000));
    let maria_b = b.client("maria").await;
    let again = report(&b, &maria_b, FILE).await;
    assert_eq!(again["added"], 0, "{again}");
}
