//! The old way: read, then a plain updateDocument, against the Appwrite test server, beside the
//! verified claim on the same server.

use crate::args::Args;
use crate::measure::Pct;
use leadboard_testkit::appwrite::{self as common_appwrite, Version};
use leadboard_testkit::load::{self, Api};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct NaiveRow {
    pub version: Version,
    pub latency_ms: u64,
    pub leads: usize,
    pub claimers: usize,
    pub naive_winners: Vec<usize>,
    pub naive_secs: f64,
    pub verified_winners: Vec<usize>,
    pub verified_errors: usize,
    pub verified_secs: f64,
    pub naive_lat: Pct,
    pub verified_lat: Pct,
}

impl NaiveRow {
    pub fn json(&self) -> Value {
        json!({
            "appwrite_version": self.version.name(), "appwrite_latency_ms": self.latency_ms, "leads": self.leads, "claimers_per_lead": self.claimers,
            "naive_told_they_won_per_lead": self.naive_winners, "naive_seconds": self.naive_secs, "naive_latency": self.naive_lat.json(),
            "verified_winners_per_lead": self.verified_winners, "verified_errors": self.verified_errors,
            "verified_seconds": self.verified_secs, "verified_latency": self.verified_lat.json(),
        })
    }
}

/// The old browser client: GET the lead and, if it is open, write yourself in with a plain
/// `updateDocument` (no precondition). True when the write "succeeded" for `me`.
pub async fn naive_claim(aw: &common_appwrite::Appwrite, lead: &str, me: &str) -> bool {
    let doc = aw.lead_get(lead).await;
    if !doc["assignee"].is_null() {
        return false;
    }
    let (status, after) = aw.plain_update(lead, json!({"assignee": me})).await;
    status == 200 && after["assignee"] == me
}

/// The naive and the verified claim on each profile of the Appwrite test server.
pub async fn naive_section(args: &Args) -> Result<Vec<NaiveRow>, String> {
    let mut rows = Vec::new();
    for &version in &args.naive_versions {
        eprintln!(" Appwrite {version}:");
        rows.extend(naive_on(args, version).await?);
    }
    Ok(rows)
}

async fn naive_on(args: &Args, version: Version) -> Result<Vec<NaiveRow>, String> {
    use leadboard::server::config::SecurityConfig;
    let aw = common_appwrite::Appwrite::start_version(version).await;
    let security = SecurityConfig { claims_per_minute: 1_000_000, ..Default::default() };
    let replica = common_appwrite::Replica::start_with(&aw, security).await;
    let (addr, state) = (replica.addr, &replica.state);
    let leads_total = args.naive_leads * args.naive_latency.len() * 2;
    leadboard::server::seed::seed(state, leads_total, args.naive_claimers).await.map_err(|e| e.to_string())?;
    let users: Vec<String> = (1..=args.naive_claimers).map(|n| format!("user{n:03}")).collect();
    let base = format!("http://{addr}");
    let http = load::http_client(Duration::from_secs(60));
    let mut clients = Vec::new();
    for u in &users {
        clients.push(Api::login(&http, &base, u).await?);
    }
    let mut next_lead = 1;
    let mut rows = Vec::new();
    for &latency in &args.naive_latency {
        if latency > 0 {
            aw.faults(json!({"latency": {"ms": latency, "jitter_ms": latency}})).await;
        }
        let mut row = NaiveRow {
            version,
            latency_ms: latency,
            leads: args.naive_leads,
            claimers: users.len(),
            naive_winners: vec![],
            naive_secs: 0.0,
            verified_winners: vec![],
            verified_errors: 0,
            verified_secs: 0.0,
            naive_lat: Pct::default(),
            verified_lat: Pct::default(),
        };
        let (mut naive_lat, mut verified_lat) = (Vec::new(), Vec::new());
        for _ in 0..args.naive_leads {
            // Everyone at once on one lead, the old way ...
            let lead = format!("L{next_lead:05}");
            next_lead += 1;
            let barrier = Arc::new(tokio::sync::Barrier::new(users.len()));
            let t = Instant::now();
            let naive = futures::future::join_all(users.iter().map(|u| {
                let (aw, barrier, lead) = (&aw, barrier.clone(), lead.clone());
                async move {
                    barrier.wait().await;
                    let t = Instant::now();
                    let won = naive_claim(aw, &lead, u).await;
                    (won, t.elapsed().as_nanos() as u64)
                }
            }))
            .await;
            row.naive_secs += t.elapsed().as_secs_f64();
            row.naive_winners.push(naive.iter().filter(|(w, _)| *w).count());
            naive_lat.extend(naive.iter().map(|(_, l)| *l));

            // ... and through Leadboard's verified protocol.
            let lead = format!("L{next_lead:05}");
            next_lead += 1;
            let barrier = Arc::new(tokio::sync::Barrier::new(users.len()));
            let t = Instant::now();
            let verified = futures::future::join_all(clients.iter().map(|c| {
                let (barrier, lead) = (barrier.clone(), lead.clone());
                async move {
                    barrier.wait().await;
                    let t = Instant::now();
                    let r = c.post("/api/claim", &json!({"lead_id": lead})).await;
                    (r, t.elapsed().as_nanos() as u64)
                }
            }))
            .await;
            row.verified_secs += t.elapsed().as_secs_f64();
            row.verified_winners
                .push(verified.iter().filter(|(r, _)| matches!(r, Ok((200, b)) if b["outcome"] == "won")).count());
            row.verified_errors += verified.iter().filter(|(r, _)| !matches!(r, Ok((200, _)))).count();
            verified_lat.extend(verified.iter().map(|(_, l)| *l));
        }
        aw.clear_faults().await;
        row.naive_lat = Pct::of(naive_lat);
        row.verified_lat = Pct::of(verified_lat);
        eprintln!(
            "  +{latency} ms: naive winners per lead {:?}; verified {:?}",
            row.naive_winners, row.verified_winners
        );
        rows.push(row);
    }
    Ok(rows)
}
