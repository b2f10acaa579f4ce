//! Claims and the no-op yardstick: closed-loop runs per concurrency level, in interleaved rounds.

use crate::args::Args;
use crate::measure::Pct;
use crate::target::Pool;
use leadboard_testkit::load::Api;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Load {
    Noop,
    Uncontested,
    Contested,
}

impl Load {
    pub fn name(self) -> &'static str {
        match self {
            Load::Noop => "noop",
            Load::Uncontested => "claim, uncontested",
            Load::Contested => "claim, contested",
        }
    }
}

pub struct RunResult {
    pub load: Load,
    pub concurrency: usize,
    pub round: usize,
    pub requests: usize,
    pub secs: f64,
    pub lat: Pct,
    /// Failures by kind (status, transport error, wrong outcome).
    pub errors: BTreeMap<String, usize>,
    /// Contested: leads, and leads with exactly one winner named by every loser.
    pub leads: usize,
    pub leads_one_winner: usize,
}

impl RunResult {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    pub fn json(&self) -> Value {
        json!({
            "load": self.load.name(), "concurrency": self.concurrency, "round": self.round, "requests": self.requests,
            "seconds": self.secs, "per_second": self.rate(), "latency": self.lat.json(), "errors": self.errors,
            "leads": self.leads, "leads_with_exactly_one_winner": self.leads_one_winner,
        })
    }
}

/// `c` workers, each making `per_worker` requests back to back (closed loop), released together.
pub async fn run_load(
    load: Load,
    c: usize,
    per_worker: usize,
    round: usize,
    apis: &[Api],
    pool: &Pool,
) -> Result<RunResult, String> {
    let leads: Arc<Vec<String>> = Arc::new(match load {
        Load::Noop => Vec::new(),
        Load::Uncontested => pool.take(c * per_worker)?,
        Load::Contested => pool.take(per_worker)?,
    });
    let barrier = Arc::new(tokio::sync::Barrier::new(c + 1));
    let mut tasks = Vec::with_capacity(c);
    for w in 0..c {
        let (api, leads, barrier) = (apis[w % apis.len()].clone(), leads.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_worker);
            let mut errors: BTreeMap<String, usize> = BTreeMap::new();
            let mut outcomes: Vec<(usize, String, Option<String>)> = Vec::new();
            barrier.wait().await;
            for j in 0..per_worker {
                let (path, body) = match load {
                    Load::Noop => ("/api/noop", json!({})),
                    Load::Uncontested => ("/api/claim", json!({"lead_id": leads[w * per_worker + j]})),
                    Load::Contested => ("/api/claim", json!({"lead_id": leads[j]})),
                };
                let t = Instant::now();
                let res = api.post(path, &body).await;
                lat.push(t.elapsed().as_nanos() as u64);
                match res {
                    Ok((200, reply)) => match load {
                        Load::Noop => {}
                        Load::Uncontested if reply["outcome"] == "won" => {}
                        Load::Uncontested => *errors.entry(format!("outcome {}", reply["outcome"])).or_default() += 1,
                        Load::Contested => outcomes.push((
                            j,
                            reply["outcome"].as_str().unwrap_or("?").to_owned(),
                            reply["winner"].as_str().map(str::to_owned),
                        )),
                    },
                    Ok((status, _)) => *errors.entry(format!("HTTP {status}")).or_default() += 1,
                    Err(e) => {
                        *errors
                            .entry(if e.is_timeout() { "timeout".into() } else { "transport".into() })
                            .or_default() += 1
                    }
                }
            }
            (lat, errors, outcomes, api.user.clone())
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut errors = BTreeMap::new();
    let mut per_lead: HashMap<usize, (Vec<String>, Vec<Option<String>>)> = HashMap::new();
    for t in tasks {
        let (l, e, o, user) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        for (k, v) in e {
            *errors.entry(k).or_insert(0) += v;
        }
        for (j, outcome, winner) in o {
            let entry = per_lead.entry(j).or_default();
            if outcome == "won" {
                entry.0.push(user.clone());
            } else if outcome == "lost" {
                entry.1.push(winner);
            } else {
                *errors.entry(format!("outcome {outcome}")).or_default() += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let leads_one_winner = per_lead
        .values()
        .filter(|(won, lost)| won.len() == 1 && lost.iter().all(|w| w.as_deref() == Some(won[0].as_str())))
        .count();
    Ok(RunResult {
        load,
        concurrency: c,
        round,
        requests: c * per_worker,
        secs,
        lat: Pct::of(lat),
        errors,
        leads: if load == Load::Contested { leads.len() } else { 0 },
        leads_one_winner,
    })
}

pub async fn claims_section(args: &Args, apis: &[Api], pool: &Pool) -> Result<Vec<RunResult>, String> {
    let mut results = Vec::new();
    for &c in &args.levels {
        let n = args.per_worker(c);
        // Open the connections first, so the runs measure requests, not handshakes.
        run_load(Load::Noop, c, 2, 0, apis, pool).await?;
        let mut loads = vec![Load::Noop, Load::Uncontested];
        if c > 1 {
            loads.push(Load::Contested);
        }
        // One run of a few seconds on a shared machine is at the mercy of whatever else ran in
        // it: rounds, each claim run right after its yardstick.
        for round in 0..args.rounds {
            for &load in &loads {
                let r = run_load(load, c, n, round, apis, pool).await?;
                eprintln!(
                    "  {:<20} c={c:<4} round {round} {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms  errors {:?}",
                    load.name(),
                    r.rate(),
                    r.lat.p50,
                    r.lat.p99,
                    r.errors
                );
                results.push(r);
            }
        }
    }
    Ok(results)
}
