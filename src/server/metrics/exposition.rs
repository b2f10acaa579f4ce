//! `GET /metrics`: every metric in the Prometheus text format (version 0.0.4), each family with
//! its `# HELP` and `# TYPE`, every labelled series present from zero.

use super::{Counter, Metrics};
use enum_map::{EnumArray, EnumMap};
use std::fmt::Write as _;

/// Gauges read from elsewhere at scrape time.
pub struct Gauges {
    pub boards: usize,
    pub buffered_events: usize,
    pub shutting_down: bool,
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A counter family with one series per value of its label `key`.
fn family<K>(out: &mut String, name: &str, help: &str, key: &str, counters: &EnumMap<K, Counter>)
where
    K: EnumArray<Counter> + Into<&'static str>,
{
    head(out, name, "counter", help);
    for (label, n) in counters {
        let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {}", label.into(), n.get());
    }
}

impl Metrics {
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        family(o, "leadboard_claims_total", "Claim attempts by outcome.", "outcome", &self.claims);
        head(
            o,
            "leadboard_claim_duration_seconds",
            "histogram",
            "Time to decide a claim in the store and verify the answer.",
        );
        self.claim_duration.render(o, "leadboard_claim_duration_seconds");
        family(
            o,
            "leadboard_conflicts_total",
            "Lost claims, and releases or reassigns refused because the lead had changed.",
            "op",
            &self.conflicts,
        );
        family(
            o,
            "leadboard_store_errors_total",
            "Store operations that failed (unavailable or internal error; not rule refusals).",
            "op",
            &self.store_errors,
        );
        sample(o, "leadboard_boards_connected", "gauge", "Board websockets open now.", gauges.boards);
        sample(
            o,
            "leadboard_board_connections_total",
            "counter",
            "Board websockets accepted.",
            self.board_connections.get(),
        );
        let published = self.events_published.get();
        sample(o, "leadboard_events_published_total", "counter", "Committed events handed to the fan-out.", published);
        sample(
            o,
            "leadboard_event_deliveries_total",
            "counter",
            "Event messages handed to board sockets (live and catch-up).",
            self.event_deliveries.get(),
        );
        family(
            o,
            "leadboard_board_snapshots_total",
            "Snapshots sent to boards: on resume, or because the board lagged behind the fan-out buffer.",
            "reason",
            &self.snapshots,
        );
        sample(
            o,
            "leadboard_events_dropped_total",
            "counter",
            "Events slow boards missed because they fell behind the fan-out buffer (each such board got a snapshot).",
            self.events_dropped.get(),
        );
        sample(
            o,
            "leadboard_fanout_buffered_events",
            "gauge",
            "Events held in the fan-out buffer for the slowest board.",
            gauges.buffered_events,
        );
        sample(
            o,
            "leadboard_boards_restarted_total",
            "counter",
            "Boards told to reconnect (close 1012) because the server was shutting down.",
            self.boards_restarted.get(),
        );
        let draining = u8::from(gauges.shutting_down);
        sample(o, "leadboard_shutting_down", "gauge", "1 while the server drains before exiting.", draining);
        if let Some(b) = &self.bridge {
            sample(
                o,
                "leadboard_realtime_bridge_connected",
                "gauge",
                "1 while the Appwrite Realtime bridge is connected and caught up.",
                u8::from(b.is_connected()),
            );
            sample(
                o,
                "leadboard_realtime_bridge_reconnects_total",
                "counter",
                "Times the Realtime bridge lost its socket (or failed to open one) and started over.",
                b.reconnects.get(),
            );
            let events = b.events.get();
            sample(
                o,
                "leadboard_realtime_bridge_events_total",
                "counter",
                "Realtime events the bridge received.",
                events,
            );
            head(
                o,
                "leadboard_realtime_bridge_lag_seconds",
                "histogram",
                "From Appwrite's timestamp of a change to the bridge receiving it.",
            );
            b.lag.render(o, "leadboard_realtime_bridge_lag_seconds");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ClaimResult, ConflictOp, Metrics, SnapshotReason, StoreOp};
    use super::Gauges;
    use std::time::Duration;

    /// The value of the sample `series` (name and labels exactly as rendered).
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    }

    fn gauges() -> Gauges {
        Gauges { boards: 3, buffered_events: 7, shutting_down: false }
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = Metrics::new(false);
        m.claim_duration.observe(Duration::from_micros(300)); // <= 0.5 ms
        m.claim_duration.observe(Duration::from_micros(700)); // <= 1 ms
        m.claim_duration.observe(Duration::from_millis(30)); // <= 50 ms
        m.claim_duration.observe(Duration::from_secs(9)); // +Inf
        let text = m.render(&gauges());
        let name = "leadboard_claim_duration_seconds";
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.0005\"}}")), 1.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.001\"}}")), 2.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.025\"}}")), 2.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"0.05\"}}")), 3.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"5\"}}")), 3.0);
        assert_eq!(sample(&text, &format!("{name}_bucket{{le=\"+Inf\"}}")), 4.0);
        assert_eq!(sample(&text, &format!("{name}_count")), 4.0);
        assert!((sample(&text, &format!("{name}_sum")) - 9.031).abs() < 1e-9);
    }

    #[test]
    fn every_series_is_exposed_from_zero_with_help_and_type() {
        let m = Metrics::new(false);
        m.claim(ClaimResult::Won);
        m.claim(ClaimResult::Won);
        m.conflict(ConflictOp::Release);
        m.store_error(StoreOp::Ping);
        m.snapshot_sent(SnapshotReason::Lagged);
        let text = m.render(&gauges());
        assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"won\"}"), 2.0);
        assert_eq!(sample(&text, "leadboard_claims_total{outcome=\"rate_limited\"}"), 0.0);
        assert_eq!(sample(&text, "leadboard_conflicts_total{op=\"release\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_store_errors_total{op=\"ping\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_board_snapshots_total{reason=\"lagged\"}"), 1.0);
        assert_eq!(sample(&text, "leadboard_boards_connected"), 3.0);
        assert_eq!(sample(&text, "leadboard_fanout_buffered_events"), 7.0);
        assert!(!text.contains("realtime_bridge"), "no bridge metrics without the Appwrite store");
        // Every sample line belongs to a family announced by # TYPE.
        let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
            assert!(families.contains(&name) || families.contains(&family), "{line}");
        }
        assert!(Metrics::new(true).render(&gauges()).contains("leadboard_realtime_bridge_connected 0"));
    }
}
