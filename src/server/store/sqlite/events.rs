//! The event log: every committed change is a row with the next sequence number, written in the
//! same transaction as the change, so the sequence has no gaps (a rolled-back job's number is
//! reused by the next one) and every event's lead is as committed.

use super::sql::{exec, query_row};
use crate::domain::{BoardEvent, Change, Lead, LeadId, Millis, Username};
use crate::server::store::StoreError;
use rusqlite::{params, Connection};

/// Appends an event with the next sequence number. Runs inside the writer's transaction.
pub(super) fn append_event(
    conn: &Connection,
    at: Millis,
    actor: &Username,
    lead: &Lead,
    change: Change,
) -> Result<BoardEvent, StoreError> {
    let seq = last_seq(conn)? + 1;
    let event = BoardEvent { seq: seq as u64, at, actor: actor.clone(), lead: lead.clone(), change };
    let body = serde_json::to_string(&event).map_err(|e| StoreError::Internal(e.to_string()))?;
    exec(
        conn,
        "INSERT INTO events (seq, at, kind, lead_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![seq, at, event.change.kind(), lead.id.as_str(), body],
    )?;
    Ok(event)
}

/// The sequence of the newest event (0 for none).
pub(super) fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    query_row(conn, "SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
}

/// Up to `limit` events after `after_seq`, oldest first; None when some of them were pruned
/// (`prune`), so that the board gets a snapshot instead of a gap.
pub(super) fn events_after(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> Result<Option<Vec<BoardEvent>>, StoreError> {
    // A point past any i64 is past every event (it must not wrap to a negative one).
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    // One read transaction, so that a prune cannot slip in between the horizon and the events.
    let tx = conn.unchecked_transaction()?;
    let oldest: Option<i64> = query_row(&tx, "SELECT MIN(seq) FROM events", [], |r| r.get(0))?;
    if oldest.is_some_and(|oldest| after < oldest - 1) {
        return Ok(None);
    }
    let events =
        decode(&tx, "SELECT body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2", params![after, limit as i64])?;
    Ok(Some(events))
}

/// The newest `limit` events, oldest first.
pub(super) fn recent_events(conn: &Connection, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
    let mut events = decode(conn, "SELECT body FROM events ORDER BY seq DESC LIMIT ?1", [limit as i64])?;
    events.reverse();
    Ok(events)
}

/// The events of `from..to` (milliseconds), oldest first, at most `limit`; only those of `kind`
/// when given.
pub(super) fn history(
    conn: &Connection,
    from: Millis,
    to: Millis,
    kind: Option<&str>,
    limit: usize,
) -> Result<Vec<BoardEvent>, StoreError> {
    let sql = "SELECT body FROM events WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR kind = ?3) ORDER BY seq LIMIT ?4";
    decode(conn, sql, params![from, to, kind, limit as i64])
}

/// The newest `limit` events of one lead, oldest first.
pub(super) fn lead_events(conn: &Connection, id: &LeadId, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
    let sql = "SELECT body FROM events WHERE lead_id = ?1 ORDER BY seq DESC LIMIT ?2";
    let mut events = decode(conn, sql, params![id.as_str(), limit as i64])?;
    events.reverse();
    Ok(events)
}

fn decode(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<BoardEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let bodies = stmt.query_map(args, |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Internal(format!("corrupt event: {e}"))))
        .collect()
}
