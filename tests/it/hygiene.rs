//! HTTP hygiene: only the site's own host names are served (DNS rebinding), the session cookie
//! is `__Host-` and `Secure` when secure cookies are on (the default off loopback), and
//! `/metrics` can live on an address of its own.

use leadboard::server::config::{AppConfig, ClaimsConfig, Config, SecurityConfig, SqliteConfig, StoreConfig};
use leadboard::server::seed;
use leadboard_testkit::server::{open_state, serve, test_app, TestServer};
use serde_json::json;

async fn server_with(app: AppConfig) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreConfig::Sqlite(SqliteConfig::at(dir.path().join("test.db")));
    let state =
        open_state(Config { app, store, security: SecurityConfig::default(), claims: ClaimsConfig::unlimited() });
    seed::seed(&state, 1, 0).await.unwrap();
    let (addr, _) = serve(&state).await;
    TestServer::from_parts(addr, state, dir)
}

#[tokio::test]
async fn requests_for_unknown_host_names_are_refused_everywhere() {
    let server = server_with(AppConfig { allowed_hosts: vec!["leads.example.com".into()], ..test_app() }).await;
    let http = reqwest::Client::new();
    let login = json!({"username": "maria", "password": "demo1234"});
    for host in ["rebound.attacker.example", "leads.example.com.attacker.example"] {
        for (path, body) in [("/api/login", Some(&login)), ("/metrics", None), ("/", None), ("/healthz", None)] {
            let req = match body {
                Some(b) => http.post(server.url(path)).json(b),
                None => http.get(server.url(path)),
            };
            let res = req.header("host", host).send().await.unwrap();
            assert_eq!(res.status(), 421, "{host}{path}");
        }
    }
    for host in ["leads.example.com", "LEADS.example.com:8443", "localhost:3000"] {
        let res = http.post(server.url("/api/login")).header("host", host).json(&login).send().await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
    assert_eq!(http.get(server.url("/metrics")).send().await.unwrap().status(), 200, "by address");
}

#[tokio::test]
async fn secure_cookies_carry_the_host_prefix_and_are_on_by_default_off_loopback() {
    let server = server_with(AppConfig { secure_cookies: Some(true), ..test_app() }).await;
    let res = reqwest::Client::new()
        .post(server.url("/api/login"))
        .json(&json!({"username": "maria", "password": "demo1234"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-lb_session=") && cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    let token = cookie.split(';').next().unwrap();
    let me = reqwest::Client::new().post(server.url("/api/me")).header("cookie", token).json(&json!({})).send().await;
    assert_eq!(me.unwrap().json::<serde_json::Value>().await.unwrap()["username"], "maria");

    let public = AppConfig { site_addr: "0.0.0.0:3000".parse().unwrap(), ..AppConfig::default() };
    assert!(public.cookies_secure(), "a site on the network gets Secure cookies unless told otherwise");
    assert!(!AppConfig::default().cookies_secure(), "loopback (plain HTTP on your own machine) does not");
}

#[tokio::test]
async fn metrics_can_move_to_an_address_of_their_own() {
    let metrics_port = super::process::free_port();
    let app = AppConfig { metrics_addr: Some(format!("127.0.0.1:{metrics_port}").parse().unwrap()), ..test_app() };
    let server = server_with(app).await;
    assert_eq!(reqwest::get(server.url("/metrics")).await.unwrap().status(), 404, "not on the site");
}
