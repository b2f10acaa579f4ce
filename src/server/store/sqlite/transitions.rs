//! The fenced transitions of a held lead in SQLite: release, reassign, extend and outcome, each
//! checked against the lead as it stands and written only at the version the caller saw; and the
//! expiry pass, the same release fenced by the version each due lead was found at.

use super::events::append_event;
use super::rows::{get_lead, lead_from_row, LEAD_COLS};
use super::sql::{parsed, query_row};
use crate::domain::{BoardEvent, Change, Holding, Lead, LeadId, Millis, Outcome, RuleError, Step, Username};
use crate::server::now_ms;
use crate::server::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

/// Release, reassign, extend and outcome: check the rule against the lead as it stands, then write fenced
/// by the version the caller saw.
pub(super) fn fenced_update(
    conn: &Connection,
    id: &LeadId,
    seen_version: u64,
    actor: &Username,
    rule: impl FnOnce(&Lead, Millis) -> Result<(), RuleError>,
    write: Step<'_>,
) -> Result<(Lead, Vec<BoardEvent>), StoreError> {
    let current = get_lead(conn, id)?;
    let now = now_ms();
    rule(&current, now).map_err(|rule| StoreError::Rejected { rule, current: Box::new(current.clone()) })?;
    let Holding { assignee, claimed_at, lease_until, extensions, outcome } = write.after(&current, actor, now);
    let holder = current.assignee.clone();
    let change = match write {
        Step::Release => {
            Change::Released { previous: holder.ok_or_else(|| StoreError::Internal("released an open lead".into()))? }
        }
        Step::Reassign { .. } => Change::Reassigned { previous: holder },
        Step::Extend { .. } => Change::Extended,
        Step::Outcome { outcome, note } => Change::Outcome { outcome, note },
        // Claims and expiries are conditional writes of their own (claim.rs, expire_due).
        Step::Claim { .. } | Step::Expire | Step::Adopt => {
            return Err(StoreError::Internal("not a fenced transition".into()));
        }
    };
    let lead = query_row(
        conn,
        &format!(
            "UPDATE leads SET assignee = ?1, version = version + 1, claimed_at = ?2, updated_at = ?3,
                              lease_until = ?4, extensions = ?5, outcome = ?6
             WHERE id = ?7 AND version = ?8 RETURNING {LEAD_COLS}"
        ),
        params![
            assignee.as_ref().map(Username::as_str),
            claimed_at,
            now,
            lease_until,
            extensions,
            outcome.map(Outcome::as_str),
            id.as_str(),
            seen_version as i64
        ],
        lead_from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::Rejected {
        rule: RuleError::StaleVersion { current: current.version },
        current: Box::new(current.clone()),
    })?;
    let event = append_event(conn, now, actor, &lead, change)?;
    Ok((lead, vec![event]))
}

/// Leads given back by one expiry pass at most; the pass runs again while it finds more.
pub(super) const EXPIRY_BATCH: usize = 500;

/// Gives back the leads whose lease ran out by `now`, each fenced by the version it was found at.
pub(super) fn expire_due(conn: &Connection, now: Millis) -> Result<(usize, Vec<BoardEvent>), StoreError> {
    let due = conn
        .prepare_cached(
            "SELECT id, assignee, version FROM leads WHERE lease_until <= ?1 AND assignee IS NOT NULL
             ORDER BY lease_until LIMIT ?2",
        )?
        .query_map(params![now, EXPIRY_BATCH as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let at = now_ms();
    let mut expire = conn.prepare_cached(&format!(
        "UPDATE leads SET assignee = NULL, version = version + 1, claimed_at = NULL, updated_at = ?1,
                          lease_until = NULL, extensions = 0, outcome = NULL
         WHERE id = ?2 AND version = ?3 RETURNING {LEAD_COLS}"
    ))?;
    let mut events = Vec::with_capacity(due.len());
    for (id, holder, version) in due {
        let previous = parsed(1, Username::parse(holder))?;
        if let Some(lead) = expire.query_row(params![at, id, version], lead_from_row).optional()? {
            events.push(append_event(conn, at, &previous, &lead, Change::Expired { previous: previous.clone() })?);
        }
    }
    Ok((events.len(), events))
}
