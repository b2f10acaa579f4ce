//! The bench's options (`--help`). `--quick` chooses small defaults; options given beside it win.

use clap::{Parser, ValueEnum};
use leadboard_testkit::appwrite::Version;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Section {
    Claims,
    Fanout,
    Import,
    Naive,
    Long,
}

#[derive(Parser, Debug)]
#[command(
    name = "scripts/bench",
    about = "Leadboard under load, through the real HTTP API and websockets on loopback",
    override_usage = "scripts/bench [options]   (or: cargo bench --features bench --bench bench -- [options])"
)]
struct Cli {
    /// Benchmark a running server instead of starting one (it needs the accounts of `leadboard seed
    /// --employees N` (the demo password), enough open leads, a high LEADBOARD_CLAIMS_PER_MINUTE,
    /// and connection, board and snapshot caps above the boards asked for; README, Benchmarks)
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// With --url: the server's process, for RSS figures
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// The leadboard binary to start (scripts/bench passes it)
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Where to write the results [default: $CARGO_TARGET_DIR/bench/bench.json]
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Sections to run [default: all but long]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    only: Option<Vec<Section>>,
    /// Concurrency levels [default: 1,16,64,256]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    levels: Option<Vec<usize>>,
    /// Requests per run, at least 20 per claimer [default: 5000]
    #[arg(long, value_name = "N")]
    requests: Option<usize>,
    /// Rounds of no-op, uncontested and contested runs per level
    #[arg(long, value_name = "N", default_value_t = 3)]
    rounds: usize,
    /// Accounts signed in; sessions are shared by boards [default: 256]
    #[arg(long, value_name = "N")]
    employees: Option<usize>,
    /// Board counts for the fan-out [default: 1000,10000]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    boards: Option<Vec<usize>>,
    /// Claims per second of the fan-out's streams, one phase each
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_values_t = [2.0, 20.0])]
    stream_rates: Vec<f64>,
    /// Length in seconds of the fan-out's claim stream [default: 10]
    #[arg(long, value_name = "N")]
    stream_secs: Option<u64>,
    /// Leads raced for in the naive/verified comparison [default: 20]
    #[arg(long, value_name = "N")]
    naive_leads: Option<usize>,
    /// Claimants per lead there
    #[arg(long, value_name = "N", default_value_t = 32)]
    naive_claimers: usize,
    /// Added Appwrite latency in ms, one run each [default: 0]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    naive_latency: Option<Vec<u64>>,
    /// Appwrite test server profiles, one row each per latency [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    naive_versions: Option<Vec<Version>>,
    /// Also run the linearizability check over a long load
    #[arg(long)]
    long: bool,
    /// Its length in seconds [default: 60]
    #[arg(long, value_name = "N")]
    long_secs: Option<u64>,
    /// A small run: levels 1,16, 1000 requests, 500 boards, 5 s stream
    #[arg(long)]
    quick: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The options, resolved.
#[derive(Clone, Debug)]
pub struct Args {
    pub url: Option<String>,
    pub server_pid: Option<u32>,
    pub server_bin: Option<PathBuf>,
    pub json: PathBuf,
    pub sections: Vec<Section>,
    pub levels: Vec<usize>,
    pub requests: usize,
    pub rounds: usize,
    pub employees: usize,
    pub boards: Vec<usize>,
    pub stream_rates: Vec<f64>,
    pub stream_secs: u64,
    pub naive_leads: usize,
    pub naive_claimers: usize,
    pub naive_latency: Vec<u64>,
    pub naive_versions: Vec<Version>,
    pub long_secs: u64,
}

impl Args {
    /// Parses the command line; `Err` for combinations clap cannot check.
    pub fn parse() -> Result<Args, String> {
        let c = Cli::parse();
        let q = c.quick;
        let target =
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
        let mut sections =
            c.only.unwrap_or_else(|| vec![Section::Claims, Section::Fanout, Section::Import, Section::Naive]);
        if c.long && !sections.contains(&Section::Long) {
            sections.push(Section::Long);
        }
        let a = Args {
            url: c.url.map(|u| u.trim_end_matches('/').to_owned()),
            server_pid: c.server_pid,
            server_bin: c.server_bin,
            json: c.json.unwrap_or_else(|| PathBuf::from(target).join("bench/bench.json")),
            sections,
            levels: pick(q, c.levels, vec![1, 16, 64, 256], vec![1, 16]),
            requests: pick(q, c.requests, 5000, 1000),
            rounds: c.rounds,
            employees: pick(q, c.employees, 256, 32),
            boards: pick(q, c.boards, vec![1000, 10_000], vec![500]),
            stream_rates: c.stream_rates,
            stream_secs: pick(q, c.stream_secs, 10, 5),
            naive_leads: pick(q, c.naive_leads, 20, 5),
            naive_claimers: c.naive_claimers,
            naive_latency: pick(q, c.naive_latency, vec![0], vec![0]),
            naive_versions: c.naive_versions.unwrap_or_else(|| Version::ALL.to_vec()),
            long_secs: pick(q, c.long_secs, 60, 10),
        };
        if a.url.is_none() && a.server_bin.is_none() && a.sections.iter().any(|&s| s != Section::Naive) {
            return Err("give --url of a running server, or --server-bin to start one (scripts/bench does)".into());
        }
        if a.employees == 0 || a.rounds == 0 || a.levels.contains(&0) {
            return Err("--employees, --rounds and --levels must be positive".into());
        }
        if let Some(c) = a.levels.iter().find(|&&c| c > a.employees) {
            return Err(format!("concurrency {c} needs as many accounts: raise --employees to {c}"));
        }
        Ok(a)
    }

    pub fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// Requests per claimer at concurrency `c`.
    pub fn per_worker(&self, c: usize) -> usize {
        self.requests.div_ceil(c).max(20)
    }

    /// Open leads the server needs for everything asked of it.
    pub fn leads_needed(&self) -> usize {
        let mut n = 100;
        if self.runs(Section::Claims) {
            for &c in &self.levels {
                // Uncontested leads, and contested ones (not run at concurrency 1).
                let contested = if c > 1 { self.per_worker(c) } else { 0 };
                n += self.rounds * (c * self.per_worker(c) + contested);
            }
        }
        if self.runs(Section::Fanout) {
            let per_board_count: f64 = self.stream_rates.iter().map(|r| r * self.stream_secs as f64 + 2.0).sum();
            n += self.boards.len() * per_board_count as usize;
        }
        if self.runs(Section::Import) {
            n += crate::import::LEADS_NEEDED;
        }
        if self.runs(Section::Long) {
            n += 4;
        }
        n
    }
}

/// An option's value: as given, else its `--quick` or its normal default.
fn pick<T>(quick: bool, given: Option<T>, normal: T, small: T) -> T {
    given.unwrap_or(if quick { small } else { normal })
}
