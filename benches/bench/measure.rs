//! What the bench measures with: latency percentiles, process RSS and CPU, the machine.

use serde_json::{json, Value};
/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pct {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Pct {
    pub fn of(mut ns: Vec<u64>) -> Pct {
        ns.sort_unstable();
        // Nearest rank, in integers: (99.9 / 100) * n in floats lands a hair above whole ranks.
        let at = |per_mille: usize| -> f64 {
            if ns.is_empty() {
                return f64::NAN;
            }
            let rank = (per_mille * ns.len()).div_ceil(1000);
            ns[rank.clamp(1, ns.len()) - 1] as f64 / 1e6
        };
        Pct { n: ns.len(), p50: at(500), p99: at(990), p999: at(999), max: at(1000) }
    }

    pub fn json(&self) -> Value {
        json!({"n": self.n, "p50_ms": self.p50, "p99_ms": self.p99, "p99_9_ms": self.p999, "max_ms": self.max})
    }
}

pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "mem_gib": (mem_kb as f64 / 1048576.0 * 10.0).round() / 10.0,
        "loadavg_at_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

pub fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}
