//! The tables printed at the end of a run: per section, the median round and its share of the
//! yardstick, the targets met or missed.

use crate::claims::{Load, RunResult};
use crate::fanout::{FanoutResult, Floor};
use crate::floor;
use crate::measure::pass;
use crate::naive::NaiveRow;
use std::collections::HashSet;

/// A load's runs at one level: the run of median rate, and for claims their share of the no-op
/// run of the same round (the median share, and the lowest and highest), from rounds without
/// errors. With an even number of rounds, the lower of the two middle ones.
pub struct Summary<'a> {
    pub median: &'a RunResult,
    pub shares: Vec<f64>,
}

pub fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[(sorted.len() - 1) / 2]
}

pub fn summarise(results: &[RunResult]) -> Vec<Summary<'_>> {
    let mut groups: Vec<(Load, usize)> = Vec::new();
    for r in results {
        if !groups.contains(&(r.load, r.concurrency)) {
            groups.push((r.load, r.concurrency));
        }
    }
    groups
        .into_iter()
        .map(|(load, c)| {
            let mut runs: Vec<&RunResult> = results.iter().filter(|r| r.load == load && r.concurrency == c).collect();
            runs.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
            let mut shares: Vec<f64> = runs
                .iter()
                .filter(|r| r.load != Load::Noop)
                .filter_map(|r| {
                    let noop =
                        results.iter().find(|n| n.load == Load::Noop && n.concurrency == c && n.round == r.round)?;
                    // A failed request is often a fast one: a round with any counts for nothing.
                    (r.errors.is_empty() && noop.errors.is_empty()).then(|| r.rate() / noop.rate())
                })
                .collect();
            shares.sort_by(f64::total_cmp);
            Summary { median: median(&runs), shares }
        })
        .collect()
}

pub fn print_claims(results: &[RunResult]) {
    let rounds = results.iter().map(|r| r.round + 1).max().unwrap_or(0);
    println!(
        "\nClaims and the no-op yardstick (closed loop; each claimer its own account; the median of {rounds} rounds)"
    );
    println!(
        "{:<20} {:>5} {:>8} {:>10} {:>8} {:>8} {:>9} {:>7} {:>26}",
        "load", "conc", "requests", "per s", "p50 ms", "p99 ms", "p99.9 ms", "errors*", "vs noop (>=50%) [range]"
    );
    for Summary { median: r, shares } in summarise(results) {
        let ratio = if r.load == Load::Noop {
            String::new()
        } else if shares.is_empty() {
            "no round without errors".into()
        } else {
            let x = median(&shares);
            format!(
                "{:.1}% {} [{:.0}-{:.0}%]",
                x * 100.0,
                pass(x >= 0.5),
                shares[0] * 100.0,
                shares[shares.len() - 1] * 100.0
            )
        };
        let errors: usize = results
            .iter()
            .filter(|x| x.load == r.load && x.concurrency == r.concurrency)
            .flat_map(|x| x.errors.values())
            .sum();
        println!(
            "{:<20} {:>5} {:>8} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>7} {:>26}",
            r.load.name(),
            r.concurrency,
            r.requests,
            r.rate(),
            r.lat.p50,
            r.lat.p99,
            r.lat.p999,
            errors,
            ratio
        );
    }
    let contested: Vec<_> = results.iter().filter(|r| r.load == Load::Contested).collect();
    if !contested.is_empty() {
        let leads: usize = contested.iter().map(|r| r.leads).sum();
        let one: usize = contested.iter().map(|r| r.leads_one_winner).sum();
        println!("contested leads with exactly one winner, named by every loser: {one} of {leads}");
    }
    println!("* errors: over all rounds; the other columns are the run of median rate");
}

pub fn print_fanout(results: &[FanoutResult]) {
    println!("\nFan-out: steady claim streams; latency from the claim's reply (and from sending it) to each board receiving its event");
    println!(
        "{:>7} {:>8} {:>7} {:>10} {:>8} {:>8} {:>8} {:>13} {:>7} {:>5} {:>11} {:>8} {:>9} {:>13}",
        "boards",
        "claims/s",
        "claims",
        "deliv/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "send p50/p99",
        "missed",
        "gaps",
        "RSS MB",
        "+MB",
        "KB/board",
        "CPU srv/bench"
    );
    let mb = |kb: Option<u64>| kb.map(|k| format!("{:.0}", k as f64 / 1024.0)).unwrap_or_else(|| "?".into());
    for f in results {
        let grown = f.rss_boards_kb.zip(f.rss_before_kb).map(|(a, b)| a.saturating_sub(b));
        let cpu = |c: Option<f64>| c.map(|c| format!("{:.0}%", 100.0 * c / f.phase_secs)).unwrap_or_else(|| "?".into());
        println!(
            "{:>7} {:>8} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>13} {:>7} {:>5} {:>11} {:>8} {:>9} {:>13}",
            f.connected,
            f.rate,
            f.claims,
            f.deliveries_per_sec,
            f.lat.p50,
            f.lat.p99,
            f.lat.max,
            format!("{:.1}/{:.1}", f.lat_from_send.p50, f.lat_from_send.p99),
            f.expected - f.deliveries.min(f.expected),
            f.gaps + f.snapshots,
            format!("{}→{}", mb(f.rss_before_kb), mb(f.rss_boards_kb)),
            mb(grown),
            f.kb_per_board().map(|k| format!("{k:.1}")).unwrap_or_else(|| "?".into()),
            format!("{}/{}", cpu(f.server_cpu), cpu(f.bench_cpu)),
        );
    }
    for f in results {
        let target = if f.boards <= 1000 { 25.0 } else { 100.0 };
        println!(
            "  {} boards (connected in {:.1} s), {} claims/s: reply→board p99 {:.1} ms < {target} ms {}; \
             request→board p99 {:.1} ms < {target} ms {}; {} of {} deliveries arrived before the claimer had its reply \
             (counted as 0 ms)",
            f.boards,
            f.connect_secs,
            f.rate,
            f.lat.p99,
            pass(f.lat.p99 < target),
            f.lat_from_send.p99,
            pass(f.lat_from_send.p99 < target),
            f.before_reply,
            f.deliveries
        );
    }
    // Per board count: the machine's floor, and for 10,000 boards the memory target.
    let mut seen = HashSet::new();
    for f in results.iter().filter(|f| seen.insert(f.boards)) {
        if let Some(Floor { bytes, lat }) = f.floor {
            println!(
                "  the machine's floor for {} boards (loopback TCP between two processes, one {bytes}-byte write per \
                 connection, {} per second, no server): p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                f.boards,
                floor::PER_SECOND,
                lat.p50,
                lat.p99,
                lat.max
            );
        }
        if f.boards < 10_000 {
            continue;
        }
        if let (Some(kb), Some(per)) = (f.rss_boards_kb, f.kb_per_board()) {
            let boards_mb = per * f.connected as f64 / 1024.0;
            let total_mb = kb as f64 / 1024.0;
            // Under the streams events queue per board: the peak is what the machine must have.
            let peak_kb = results.iter().filter(|r| r.boards == f.boards).filter_map(|r| r.rss_peak_kb).max();
            let peak = peak_kb.map(|kb| {
                let mb = kb as f64 / 1024.0;
                format!("; its peak during the streams {mb:.0} MB < 300 MB {}", pass(mb < 300.0))
            });
            println!(
                "  {} boards' memory: {boards_mb:.0} MB < 300 MB {}; the whole server's RSS {total_mb:.0} MB < 300 MB {}{}",
                f.boards,
                pass(boards_mb < 300.0),
                pass(total_mb < 300.0),
                peak.unwrap_or_default()
            );
        }
    }
}

pub fn print_naive(rows: &[NaiveRow]) {
    println!(
        "\nThe old way (read, then a plain updateDocument) vs Leadboard's verified claim, on the Appwrite test server's profiles"
    );
    println!(
        "{:>8} {:>10} {:>6} {:>9} {:>26} {:>12} {:>26} {:>8}",
        "Appwrite",
        "+latency",
        "leads",
        "claimers",
        "naive 'won' per lead min/avg/max",
        "leads >1",
        "verified won per lead",
        "errors"
    );
    for r in rows {
        let stats = |v: &[usize]| {
            let (min, max) = (v.iter().min().copied().unwrap_or(0), v.iter().max().copied().unwrap_or(0));
            format!("{min}/{:.1}/{max}", v.iter().sum::<usize>() as f64 / v.len().max(1) as f64)
        };
        println!(
            "{:>8} {:>7} ms {:>6} {:>9} {:>26} {:>12} {:>26} {:>8}",
            r.version.name(),
            r.latency_ms,
            r.leads,
            r.claimers,
            stats(&r.naive_winners),
            r.naive_winners.iter().filter(|&&w| w > 1).count(),
            stats(&r.verified_winners),
            r.verified_errors
        );
    }
}
