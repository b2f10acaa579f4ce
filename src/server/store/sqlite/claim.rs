//! The claim in SQLite: one conditional `UPDATE ... WHERE assignee IS NULL` with the claimant's
//! cap inside it, and "next lead" as that claim on the first open lead, each attempt recorded in
//! the same transaction.

use super::events::append_event;
use super::rows::{counted_toward_cap, get_lead, lead_from_row, LEAD_COLS};
use super::sql::{exec, parsed, query_row};
use crate::domain::claim::{check_cap, check_claimable, judge_unapplied};
use crate::domain::{
    BoardEvent, Cap, Change, ClaimOutcome, ClaimReply, ClaimTerms, Lead, LeadId, Millis, NextOrder, RuleError, Username,
};
use crate::server::now_ms;
use crate::server::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

/// A claim's answer: the reply, or the rule that refused it (which the attempt's row records).
pub(super) type Decided = Result<ClaimReply, StoreError>;

/// The atomic claim: the conditional update decides, the claimant's cap included (the statement
/// counts their leads itself); whoever it did not apply for reads the lead in the same transaction
/// and learns who holds it, or that the cap refused them. Every attempt is recorded, a refusal
/// too, which is why a refusal is this job's answer rather than its error (an error rolls it back).
pub(super) fn claim(
    conn: &Connection,
    id: &LeadId,
    by: &Username,
    received_at: Millis,
    terms: &ClaimTerms,
) -> Result<(Decided, Vec<BoardEvent>), StoreError> {
    let now = now_ms();
    let cap = cap_of(conn, by, terms)?;
    let won = query_row(
        conn,
        &format!(
            "UPDATE leads SET assignee = ?1, version = version + 1, claimed_at = ?2, updated_at = ?2,
                              lease_until = ?4, extensions = 0, outcome = NULL
             WHERE id = ?3 AND assignee IS NULL
               AND (?5 IS NULL OR (SELECT COUNT(*) FROM leads WHERE {counted}) < ?5)
             RETURNING {LEAD_COLS}",
            counted = counted_toward_cap()
        ),
        params![by.as_str(), now, id.as_str(), terms.lease_until(now), cap],
        lead_from_row,
    )
    .optional()?;
    // A refused attempt is recorded (as `label`) and its refusal is the answer.
    let refuse = |label: &str, rule: RuleError, current: Lead| {
        record_attempt(conn, id, by, label, None, received_at, now)?;
        Ok((Err(StoreError::Rejected { rule, current: Box::new(current) }), Vec::new()))
    };
    let (outcome, lead) = match won {
        Some(lead) => (ClaimOutcome::Won, lead),
        None => {
            let current = get_lead(conn, id)?;
            if let Err(rule) = check_claimable(&current) {
                return refuse(CLOSED, rule, current);
            }
            match judge_unapplied(&current, by, now) {
                Some(outcome) => (outcome, current),
                None => {
                    let rule = check_cap(held_by(conn, by)?, cap)
                        .err()
                        .ok_or_else(|| StoreError::Internal(format!("claim on open lead {id} did not apply")))?;
                    return refuse(CAPPED, rule, current);
                }
            }
        }
    };
    let winner = match &outcome {
        ClaimOutcome::Lost { winner, .. } => winner,
        _ => by,
    };
    record_attempt(conn, id, by, outcome.label(), Some(winner), received_at, now)?;
    let change = match &outcome {
        ClaimOutcome::Won => Some(Change::Claimed),
        ClaimOutcome::Lost { winner, margin_ms } => {
            Some(Change::ClaimLost { winner: winner.clone(), margin_ms: *margin_ms })
        }
        ClaimOutcome::AlreadyYours => None,
    };
    let events = change.map(|c| append_event(conn, now, by, &lead, c)).transpose()?.into_iter().collect();
    Ok((Ok(ClaimReply { outcome, lead }), events))
}

/// "Next lead": the first open lead in the terms' order, claimed in the same transaction (so it
/// is still open: the writer runs one job at a time).
pub(super) fn claim_next(
    conn: &Connection,
    by: &Username,
    received_at: Millis,
    terms: &ClaimTerms,
) -> Result<(Option<Decided>, Vec<BoardEvent>), StoreError> {
    let order = match terms.next_order {
        NextOrder::Oldest => "created_at, id",
        NextOrder::HighestValue => "value DESC, created_at, id",
    };
    let first =
        query_row(conn, &format!("SELECT id FROM leads WHERE assignee IS NULL ORDER BY {order} LIMIT 1"), [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?;
    let Some(id) = first else { return Ok((None, Vec::new())) };
    let (reply, events) = claim(conn, &parsed(0, LeadId::parse(id))?, by, received_at, terms)?;
    Ok((Some(reply), events))
}

/// The outcomes claim attempts refused by the cap, and on a closed lead, are recorded with.
const CAPPED: &str = "capped";
const CLOSED: &str = "closed";

fn record_attempt(
    conn: &Connection,
    id: &LeadId,
    by: &Username,
    outcome: &str,
    winner: Option<&Username>,
    received_at: Millis,
    decided_at: Millis,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO claim_attempts (lead_id, claimant, outcome, winner, received_at, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id.as_str(), by.as_str(), outcome, winner.map(Username::as_str), received_at, decided_at],
    )?;
    Ok(())
}

/// The claimant's cap: their own (`users.max_held`, when it is one a manager could set), else the
/// terms' default.
fn cap_of(conn: &Connection, by: &Username, terms: &ClaimTerms) -> Result<Option<u32>, StoreError> {
    let own: Option<i64> =
        query_row(conn, "SELECT max_held FROM users WHERE username = ?1", [by.as_str()], |r| r.get(0))
            .optional()?
            .flatten();
    let own = own.and_then(|held| Cap::new(u32::try_from(held).ok()?).ok());
    Ok(own.map(Cap::get).or(terms.default_cap))
}

fn held_by(conn: &Connection, by: &Username) -> Result<u32, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM leads WHERE {}", counted_toward_cap());
    Ok(query_row(conn, &sql, [by.as_str()], |r| r.get(0))?)
}
