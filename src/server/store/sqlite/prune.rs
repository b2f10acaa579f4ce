//! Retention: the event log, the claim attempts and the intake API's idempotency keys only grow,
//! so rows older than the retention are deleted in the background, in small batches, each its own
//! write between the claims (a batch holds the writer no longer than a group of claims does). The
//! newest event is always kept: the next sequence number follows it. What decides a claim (the
//! leads) is never pruned.

use super::sql::exec;
use super::writer::Writer;
use crate::domain::Millis;
use crate::server::now_ms;
use crate::server::store::StoreError;
use rusqlite::Connection;
use std::sync::Weak;
use std::time::Duration;

/// Rows looked at (and at most deleted) per table in one batch.
const BATCH: i64 = 500;

/// Prunes every `every` what is older than `keep`, until the store (the owner of the writer)
/// is gone.
pub(super) async fn prune_loop(writer: Weak<Writer>, keep: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(writer) = writer.upgrade() else { return };
        let cutoff = now_ms() - Millis::try_from(keep.as_millis()).unwrap_or(Millis::MAX);
        let mut pruned = 0;
        loop {
            match writer.submit(move |conn| Ok((prune_batch(conn, cutoff)?, Vec::new()))).await {
                Ok(0) => break,
                Ok(n) => pruned += n,
                Err(e) => {
                    tracing::warn!(error = %e, "pruning failed; retrying at the next round");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "pruned events, claim attempts and idempotency keys past the retention");
        }
    }
}

/// Deletes up to a batch of the oldest events, attempts and idempotency keys from before `cutoff`.
/// Looks only at the oldest [`BATCH`] rows of each (times grow with the sequence), so that a
/// round with nothing to prune costs no scan of the table. Returns the rows deleted.
pub(super) fn prune_batch(conn: &Connection, cutoff: Millis) -> Result<usize, StoreError> {
    let events = exec(
        conn,
        "DELETE FROM events WHERE seq IN (SELECT seq FROM (SELECT seq, at FROM events ORDER BY seq LIMIT ?2) WHERE at < ?1)
         AND seq < (SELECT MAX(seq) FROM events)",
        rusqlite::params![cutoff, BATCH],
    )?;
    let attempts = exec(
        conn,
        "DELETE FROM claim_attempts WHERE id IN
           (SELECT id FROM (SELECT id, decided_at FROM claim_attempts ORDER BY id LIMIT ?2) WHERE decided_at < ?1)",
        rusqlite::params![cutoff, BATCH],
    )?;
    let requests = exec(
        conn,
        "DELETE FROM api_requests WHERE rowid IN (SELECT rowid FROM api_requests WHERE at < ?1 LIMIT ?2)",
        rusqlite::params![cutoff, BATCH],
    )?;
    Ok(events + attempts + requests)
}
