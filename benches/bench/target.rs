//! The server under test: started by the bench or given by `--url`, its accounts and open leads.

use leadboard_testkit::load::Api;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
pub struct Target {
    pub base: String,
    pub pid: Option<u32>,
    pub _spawned: Option<Spawned>,
}

/// A server this bench started; killed (by its PID, through the handle) when dropped.
pub struct Spawned {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Seeds a fresh SQLite file with `leadboard seed` and serves it with the claim limit raised.
pub async fn start_server(bin: &std::path::Path, employees: usize, leads: usize) -> Result<Target, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("bench.db");
    let env = |cmd: &mut std::process::Command| {
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LEADBOARD_SQLITE_PATH", &db)
            .env("LEADBOARD_STORE", "sqlite")
            .env("LEADBOARD_LOG", "warn")
            .env("LEADBOARD_DEMO_DATA", "false")
            .env("LEADBOARD_CLAIMS_PER_MINUTE", "1000000000")
            // 10,000 boards from one address, 40 per account: the caps must let them in.
            .env("LEADBOARD_MAX_CONNECTIONS", "30000")
            .env("LEADBOARD_MAX_CONNECTIONS_PER_ADDRESS", "30000")
            .env("LEADBOARD_MAX_BOARDS_PER_USER", "30000")
            .env("LEADBOARD_MAX_BOARDS_PER_ADDRESS", "30000")
            .env("LEADBOARD_SNAPSHOTS_PER_MINUTE", "1000000")
            // Plain claims, as the yardstick makes them: no lease to give back, no cap to count.
            .env("LEADBOARD_CLAIMS_LEASE_MINUTES", "0")
            .env("LEADBOARD_CLAIMS_MAX_HELD", "0");
    };
    let t = Instant::now();
    let mut seed = std::process::Command::new(bin);
    seed.args(["seed", "--leads", &leads.to_string(), "--employees", &employees.to_string()]);
    env(&mut seed);
    let out = seed.output().map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("seed failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    eprintln!("seeded {leads} leads and {employees} employees in {:.1} s", t.elapsed().as_secs_f64());
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let mut serve = std::process::Command::new(bin);
    serve
        .arg("serve")
        .env("LEADBOARD_SITE_ADDR", format!("127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    env(&mut serve);
    let child = serve.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    let pid = child.id();
    let spawned = Spawned { child, dir };
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status() == 200) {
            return Ok(Target { base, pid: Some(pid), _spawned: Some(spawned) });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(spawned.dir.path().join("server.log")).unwrap_or_default();
    Err(format!("the server did not start:\n{log}"))
}

pub async fn boards_connected(base: &str) -> Option<u64> {
    let v: Value = reqwest::get(format!("{base}/healthz")).await.ok()?.json().await.ok()?;
    v["boards"].as_u64()
}

/// Open leads, handed out once each.
pub struct Pool {
    pub ids: Vec<String>,
    pub next: AtomicUsize,
}

impl Pool {
    pub fn take(&self, n: usize) -> Result<Vec<String>, String> {
        let from = self.next.fetch_add(n, Ordering::Relaxed);
        if from + n > self.ids.len() {
            return Err(format!("out of open leads ({} available); seed more", self.ids.len()));
        }
        Ok(self.ids[from..from + n].to_vec())
    }
}

pub async fn open_leads(api: &Api) -> Result<(Vec<String>, u64), String> {
    let (s, list) = api.post("/api/leads", &json!({})).await.map_err(|e| e.to_string())?;
    if s != 200 {
        return Err(format!("/api/leads: {s}"));
    }
    let mut ids: Vec<String> = list["leads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["assignee"].is_null())
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok((ids, list["seq"].as_u64().unwrap_or(0)))
}

pub async fn sign_in_all(http: &reqwest::Client, base: &str, n: usize) -> Result<Vec<Api>, String> {
    let names: Vec<String> = (1..=n).map(|i| format!("user{i:03}")).collect();
    let mut apis = Vec::with_capacity(n);
    // Each sign-in is an Argon2 verification: a few at a time.
    for chunk in names.chunks(8) {
        for r in futures::future::join_all(chunk.iter().map(|u| Api::login(http, base, u))).await {
            apis.push(r?);
        }
    }
    Ok(apis)
}
