//! A fresh install: the binary with its defaults on an empty store creates no account with a
//! known password and prints none; the first manager comes from `users add`; demo data only when
//! asked for by name, and the start-up line names only accounts that this start created.

use super::process::{free_port, leadboard, Server};
use leadboard_testkit::server::Client;
use serde_json::json;

async fn sign_in(server: &Server, user: &str, password: &str) -> u16 {
    Client::new(server.addr).post("/api/login", json!({"username": user, "password": password})).await.0
}

#[tokio::test]
async fn an_empty_store_gets_no_known_account_unless_the_demo_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let port = free_port();
    let server = Server::start(dir.path(), &db, port, 1).await;
    let log = server.log_text();
    assert!(!log.contains("demo1234") && !log.contains("maria"), "names no account:\n{log}");
    assert!(log.contains("users add"), "says how to make the first manager:\n{log}");
    assert_eq!(sign_in(&server, "maria", "demo1234").await, 401, "no demo manager");
    drop(server);

    // The first manager, made while the server is stopped.
    let out = leadboard(&db, 1)
        .args(["users", "add", "erin", "--role", "manager"])
        .env("LEADBOARD_PASSWORD", "a-long-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut cmd = leadboard(&db, port);
    cmd.args(["serve", "--demo"]);
    let server = Server::spawn(cmd, dir.path(), port, 2).await;
    let log = server.log_text();
    assert!(log.contains("Demo data not added") && !log.contains("demo1234"), "a store with accounts:\n{log}");
    assert_eq!(sign_in(&server, "erin", "a-long-secret").await, 200);
    assert_eq!(sign_in(&server, "maria", "demo1234").await, 401, "still no demo account");
}

#[tokio::test]
async fn the_demo_flag_seeds_an_empty_store_and_says_its_passwords_are_public() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = leadboard(&dir.path().join("demo.db"), port);
    cmd.args(["serve", "--demo"]);
    let server = Server::spawn(cmd, dir.path(), port, 1).await;
    let log = server.log_text();
    assert!(log.contains("DEMO MODE") && log.contains("demo1234") && log.contains("maria"), "{log}");
    assert_eq!(sign_in(&server, "maria", "demo1234").await, 200);
    let (status, leads) = Client::sign_in(server.addr, "alice").await.post("/api/leads", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(leads["leads"].as_array().unwrap().len(), 240, "a board with data at once");
}
