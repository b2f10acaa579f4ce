//! The real `leadboard` binary as a test's child process: its command with a test's settings,
//! seeding, and a running server that is killed if the test ends without stopping it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `leadboard` binary with a test's settings, run from the package root.
pub fn leadboard(db: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadboard"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("LEADBOARD_CONFIG")
        .env_remove("LEADBOARD_DEMO_DATA")
        .env("LEADBOARD_STORE", "sqlite")
        .env("LEADBOARD_SQLITE_PATH", db)
        .env("LEADBOARD_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEADBOARD_CLAIMS_PER_MINUTE", "1000000")
        // Claims held until released, however many (leases and caps have tests of their own).
        .env("LEADBOARD_CLAIMS_LEASE_MINUTES", "0")
        .env("LEADBOARD_CLAIMS_MAX_HELD", "0")
        .env("LEADBOARD_LOG", "warn");
    cmd
}

/// `leadboard seed` into `db`: the demo accounts, `employees` employees, `leads` leads.
pub fn seed(db: &Path, leads: usize, employees: usize) {
    let out = leadboard(db, 1)
        .args(["seed", "--leads", &leads.to_string(), "--employees", &employees.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "seed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A running `leadboard serve`; killed if the test ends without stopping it.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// `leadboard serve` on `db` (run number `run` names its log in `dir`), once it is ready.
    pub async fn start(dir: &Path, db: &Path, port: u16, run: usize) -> Server {
        let mut cmd = leadboard(db, port);
        cmd.arg("serve");
        Self::spawn(cmd, dir, port, run).await
    }

    /// Runs `cmd` (a `serve` on `port`), its output in a log in `dir`; returns once it is ready.
    pub async fn spawn(mut cmd: Command, dir: &Path, port: u16, run: usize) -> Server {
        let log = dir.join(format!("server-{run}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd.stdout(Stdio::from(file.try_clone().unwrap())).stderr(Stdio::from(file)).spawn().unwrap();
        let mut server = Server { child, addr: format!("127.0.0.1:{port}").parse().unwrap(), log };
        let deadline = Instant::now() + START;
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited ({status}) before it was ready:\n{}", server.log_text());
            }
            if let Ok(res) = reqwest::get(format!("http://{}/readyz", server.addr)).await {
                if res.status() == 200 {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "not ready within {START:?}:\n{}", server.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap().success();
        assert!(ok, "kill -TERM");
    }

    /// Waits for the process to exit; returns its status and how long that took.
    pub async fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < within, "still running after {within:?}:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cmd` run with its open-file limit lowered to `limit` (through `sh -c 'ulimit -n'`), with
/// the same arguments, environment and directory.
pub fn under_open_file_limit(cmd: &Command, limit: u32) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh
}
