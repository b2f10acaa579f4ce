//! `scripts/bench`: Leadboard under load, through the real HTTP API and websockets on loopback.
//!
//! - Claims: claims/s and latency percentiles, uncontested (every claim on its own open lead)
//!   and contested (every claimer walks the same leads, so each lead has as many claimants as
//!   there are claimers), at several concurrency levels; the same load against `/api/noop` (the
//!   session check alone) as the yardstick, in interleaved rounds (a claim run is compared with
//!   the no-op run of its round; the median round is reported). Every reply is checked:
//!   uncontested claims must all win, contested leads must have exactly one winner whom every
//!   loser names.
//! - Fan-out: N connected boards; a steady stream of claims; for every board and claim, the time
//!   from the claim's reply to the board receiving its event; deliveries per second; the
//!   server's RSS per board; and the machine's floor for as many connections (`floor.rs`).
//! - The old way: the naive read-then-`updateDocument` claim against the in-process Appwrite
//!   test server, next to Leadboard's verified protocol on the same server.
//! - Import: a 10,000-row CSV imported while employees claim; rows/s and claim latency (`import.rs`).
//! - `--long`: a long mixed load, recorded and checked for linearizability.
//!
//! Run through `scripts/bench` (which builds the server and this binary and passes
//! `--server-bin`), or with `--url` against a running server. `--help` lists the options.
mod args;
mod claims;
mod fanout;
mod floor;
mod import;
mod long;
mod measure;
mod naive;
mod report;
mod target;

use args::{Args, Section};
use claims::{claims_section, RunResult};
use fanout::{fanout, FanoutResult};
use leadboard_testkit::load::{self, Api};
use long::long_section;
use measure::machine;
use naive::{naive_section, NaiveRow};
use report::{print_claims, print_fanout, print_naive};
use serde_json::{json, Value};
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use target::{open_leads, sign_in_all, start_server, Pool, Target};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first() {
        Some(a) if a == floor::WRITER_ARG => floor::writer(&args[1..]),
        _ => run().await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = Args::parse()?;
    let machine = machine();
    println!(
        "Leadboard bench on {} × {} ({} GiB), load average at start {}",
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or("?"),
        machine["mem_gib"],
        machine["loadavg_at_start"].as_str().unwrap_or("?")
    );
    let mut out = json!({"machine": machine, "started_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)});
    let mut claims = Vec::new();
    let mut fanouts = Vec::new();
    let needs_server = args.sections.iter().any(|&s| s != Section::Naive);
    if needs_server {
        let target = match (&args.url, &args.server_bin) {
            (Some(url), _) => Target { base: url.clone(), pid: args.server_pid, _spawned: None },
            (None, Some(bin)) => start_server(bin, args.employees, args.leads_needed()).await?,
            (None, None) => unreachable!("checked by parse_args"),
        };
        out["server"] = json!({"url": target.base, "pid": target.pid, "started_by_bench": target._spawned.is_some()});
        let http = load::http_client(Duration::from_secs(30));
        let t = Instant::now();
        let apis = sign_in_all(&http, &target.base, args.employees).await?;
        let maria = Api::login(&http, &target.base, "maria").await?;
        eprintln!("signed in {} employees in {:.1} s", apis.len(), t.elapsed().as_secs_f64());
        let (ids, _) = open_leads(&maria).await?;
        if ids.len() < args.leads_needed() {
            return Err(format!("the server has {} open leads; this run needs {}", ids.len(), args.leads_needed()));
        }
        let pool = Pool { ids, next: AtomicUsize::new(0) };

        if args.runs(Section::Claims) {
            eprintln!("claims:");
            claims = claims_section(&args, &apis, &pool).await?;
            out["claims"] = claims.iter().map(RunResult::json).collect();
        }
        if args.runs(Section::Fanout) {
            for &b in &args.boards {
                eprintln!("fan-out, {b} boards:");
                fanouts.extend(fanout(&args, &target, &apis, &maria, &pool, b).await?);
            }
            out["fanout"] = fanouts.iter().map(FanoutResult::json).collect();
            out["fanout_stream_seconds"] = json!(args.stream_secs);
        }
        if args.runs(Section::Import) {
            eprintln!("import:");
            out["import"] = import::section(&apis, &maria, &pool).await?;
        }
        if args.runs(Section::Long) {
            eprintln!("long linearizability run, {} s:", args.long_secs);
            out["long"] = long_section(&args, &apis, &maria, &pool).await?;
        }
    }
    let mut naive = Vec::new();
    if args.runs(Section::Naive) {
        eprintln!("naive vs verified on the Appwrite test server:");
        naive = naive_section(&args).await?;
        out["naive_vs_verified"] = naive.iter().map(NaiveRow::json).collect();
    }

    if !claims.is_empty() {
        print_claims(&claims);
    }
    if !fanouts.is_empty() {
        print_fanout(&fanouts);
    }
    if !naive.is_empty() {
        print_naive(&naive);
    }
    if let Some(long) = out.get("long") {
        println!(
            "\nLinearizability, {} s of claims/releases/reassigns on {} leads by {} employees and a manager: {} operations {}; {} (checked in {:.1} s)",
            long["seconds"], long["leads"].as_array().map_or(0, Vec::len), long["employees"], long["operations"], long["by_kind"], long["result"].as_str().unwrap_or("?"), long["check_seconds"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&out).unwrap())
        .map_err(|e| format!("{}: {e}", args.json.display()))?;
    println!("\nwrote {}", args.json.display());
    let failed = correctness_failures(&claims, &fanouts, &naive, out.get("long"));
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "correctness checks failed (targets that were missed are only reported):\n  {}",
            failed.join("\n  ")
        ))
    }
}

/// What went wrong beyond speed: a failed or wrongly answered claim, a contested lead without
/// exactly one winner, a board that missed an event, saw a gap or was closed, the verified
/// Appwrite claim with other than one winner, a long history that is not linearizable or too
/// thin to say. Any of these makes the bench exit non-zero.
fn correctness_failures(
    claims: &[RunResult],
    fanouts: &[FanoutResult],
    naive: &[NaiveRow],
    long: Option<&Value>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for r in claims.iter().filter(|r| !r.errors.is_empty()) {
        failed.push(format!("{} at concurrency {} round {}: {:?}", r.load.name(), r.concurrency, r.round, r.errors));
    }
    for r in claims.iter().filter(|r| r.leads_one_winner < r.leads) {
        failed.push(format!(
            "contested at concurrency {}: {} of {} leads had exactly one winner",
            r.concurrency, r.leads_one_winner, r.leads
        ));
    }
    for f in fanouts {
        let missed = f.expected.saturating_sub(f.deliveries);
        if missed + f.gaps + f.snapshots + f.closed + f.claim_errors as u64 > 0 {
            failed.push(format!(
                "fan-out, {} boards at {}/s: {missed} missed, {} gaps, {} snapshots, {} boards closed, {} claims failed",
                f.boards, f.rate, f.gaps, f.snapshots, f.closed, f.claim_errors
            ));
        }
    }
    for r in naive.iter().filter(|r| r.verified_errors > 0 || r.verified_winners.iter().any(|&w| w != 1)) {
        failed.push(format!(
            "verified claim on Appwrite (+{} ms): winners per lead {:?}, {} errors",
            r.latency_ms, r.verified_winners, r.verified_errors
        ));
    }
    if let Some(long) = long {
        if long["linearizable"] != true {
            failed.push(format!("long run: {}", long["result"].as_str().unwrap_or("?")));
        }
        if long["exercised"] != true {
            failed.push(format!("long run: too few of some kind of operation to prove much: {}", long["by_kind"]));
        }
    }
    failed
}
