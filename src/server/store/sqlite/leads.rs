//! Leads in SQLite: the claim as one conditional `UPDATE ... WHERE assignee IS NULL` (the cap
//! inside it), release, reassign and extend fenced by version, the expiry pass as fenced releases,
//! each with its attempt and event rows in the same transaction.

use super::accounts::account_named;
use super::events::{append_event, events_after, last_seq, recent_events};
use super::sql::{exec, parsed, query_row};
use super::SqliteStore;
use crate::domain::claim::{check_cap, check_extend, check_reassign, check_release, judge_unapplied};
use crate::domain::{
    BoardEvent, Change, ClaimOutcome, ClaimReply, ClaimTerms, Email, Lead, LeadDetails, LeadId, Millis, NewLead,
    NextOrder, Phone, RuleError, Tag, UserInfo, Username,
};
use crate::protocol::Snapshot;
use crate::server::now_ms;
use crate::server::store::{LeadStore, StoreError};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

const LEAD_COLS: &str = "id, name, company, value, assignee, version, claimed_at, updated_at, \
                         contact, email, phone, source, tags, created_at, lease_until, extensions";

/// The details columns (8 onwards); a value that no longer validates is a corrupt row.
fn details_from_row(row: &Row<'_>) -> rusqlite::Result<LeadDetails> {
    let opt = |i: usize| row.get::<_, Option<String>>(i);
    Ok(LeadDetails {
        contact: opt(8)?,
        email: parsed(9, opt(9)?.map(Email::parse).transpose())?,
        phone: parsed(10, opt(10)?.map(Phone::parse).transpose())?,
        source: opt(11)?,
        tags: parsed(12, Tag::parse_list(&row.get::<_, String>(12)?))?,
        created_at: row.get(13)?,
    })
}

fn lead_from_row(row: &Row<'_>) -> rusqlite::Result<Lead> {
    let value: i64 = row.get(3)?;
    Ok(Lead {
        id: parsed(0, LeadId::parse(row.get::<_, String>(0)?))?,
        name: row.get(1)?,
        company: row.get(2)?,
        value: value.max(0) as u64,
        assignee: parsed(4, row.get::<_, Option<String>>(4)?.map(Username::parse).transpose())?,
        version: row.get::<_, i64>(5)? as u64,
        claimed_at: row.get(6)?,
        updated_at: row.get(7)?,
        details: details_from_row(row)?,
        lease_until: row.get(14)?,
        extensions: row.get::<_, i64>(15)?.clamp(0, u32::MAX.into()) as u32,
    })
}

fn get_lead(conn: &Connection, id: &LeadId) -> Result<Lead, StoreError> {
    query_row(conn, &format!("SELECT {LEAD_COLS} FROM leads WHERE id = ?1"), [id.as_str()], lead_from_row)
        .optional()?
        .ok_or_else(|| StoreError::LeadNotFound(id.clone()))
}

/// A claim's answer: the reply, or the rule that refused it (which the attempt's row records).
type Decided = Result<ClaimReply, StoreError>;

/// The atomic claim: the conditional update decides, the claimant's cap included (the statement
/// counts their leads itself); whoever it did not apply for reads the lead in the same transaction
/// and learns who holds it, or that the cap refused them. Every attempt is recorded, a refusal
/// too, which is why a refusal is this job's answer rather than its error (an error rolls it back).
fn claim(
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
                              lease_until = ?4, extensions = 0
             WHERE id = ?3 AND assignee IS NULL
               AND (?5 IS NULL OR (SELECT COUNT(*) FROM leads WHERE assignee = ?1) < ?5)
             RETURNING {LEAD_COLS}"
        ),
        params![by.as_str(), now, id.as_str(), terms.lease_until(now), cap],
        lead_from_row,
    )
    .optional()?;
    let (outcome, lead) = match won {
        Some(lead) => (ClaimOutcome::Won, lead),
        None => {
            let current = get_lead(conn, id)?;
            match judge_unapplied(&current, by, now) {
                Some(outcome) => (outcome, current),
                None => {
                    let rule = check_cap(held_by(conn, by)?, cap)
                        .err()
                        .ok_or_else(|| StoreError::Internal(format!("claim on open lead {id} did not apply")))?;
                    record_attempt(conn, id, by, CAPPED, None, received_at, now)?;
                    return Ok((Err(StoreError::Rejected { rule, current: Box::new(current) }), Vec::new()));
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
fn claim_next(
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

/// The outcome a claim attempt refused by the cap is recorded with.
const CAPPED: &str = "capped";

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

/// The claimant's cap: their own (`users.max_held`), else the terms' default.
fn cap_of(conn: &Connection, by: &Username, terms: &ClaimTerms) -> Result<Option<u32>, StoreError> {
    let own: Option<u32> =
        query_row(conn, "SELECT max_held FROM users WHERE username = ?1", [by.as_str()], |r| r.get(0))
            .optional()?
            .flatten();
    Ok(own.or(terms.default_cap))
}

fn held_by(conn: &Connection, by: &Username) -> Result<u32, StoreError> {
    Ok(query_row(conn, "SELECT COUNT(*) FROM leads WHERE assignee = ?1", [by.as_str()], |r| r.get(0))?)
}

/// What a fenced write makes of a held lead.
enum Fenced<'a> {
    Release,
    /// To `to`, with a fresh lease.
    Reassign {
        to: &'a Username,
        lease_until: Option<Millis>,
    },
    /// The same holder, with a fresh lease.
    Extend {
        lease_until: Option<Millis>,
    },
}

/// Release, reassign and extend: check the rule against the lead as it stands, then write fenced
/// by the version the caller saw.
fn fenced_update(
    conn: &Connection,
    id: &LeadId,
    seen_version: u64,
    actor: &Username,
    rule: impl FnOnce(&Lead, Millis) -> Result<(), RuleError>,
    write: Fenced<'_>,
) -> Result<(Lead, Vec<BoardEvent>), StoreError> {
    let current = get_lead(conn, id)?;
    let now = now_ms();
    rule(&current, now).map_err(|rule| StoreError::Rejected { rule, current: Box::new(current.clone()) })?;
    let (assignee, claimed_at, lease_until, extensions, change) = match write {
        Fenced::Release => {
            let previous =
                current.assignee.clone().ok_or_else(|| StoreError::Internal("released an open lead".into()))?;
            (None, None, None, 0, Change::Released { previous })
        }
        Fenced::Reassign { to, lease_until } => {
            (Some(to.clone()), Some(now), lease_until, 0, Change::Reassigned { previous: current.assignee.clone() })
        }
        Fenced::Extend { lease_until } => {
            (current.assignee.clone(), current.claimed_at, lease_until, current.extensions + 1, Change::Extended)
        }
    };
    let lead = query_row(
        conn,
        &format!(
            "UPDATE leads SET assignee = ?1, version = version + 1, claimed_at = ?2, updated_at = ?3,
                              lease_until = ?4, extensions = ?5
             WHERE id = ?6 AND version = ?7 RETURNING {LEAD_COLS}"
        ),
        params![
            assignee.as_ref().map(Username::as_str),
            claimed_at,
            now,
            lease_until,
            extensions,
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
const EXPIRY_BATCH: usize = 500;

/// Gives back the leads whose lease ran out by `now`, each fenced by the version it was found at.
fn expire_due(conn: &Connection, now: Millis) -> Result<(usize, Vec<BoardEvent>), StoreError> {
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
                          lease_until = NULL, extensions = 0
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

/// Creates the leads whose IDs are free, each with its `created` event. An ID that differs only
/// in case from an existing one refuses the whole batch (the job rolls back).
fn add_leads(conn: &Connection, leads: Vec<NewLead>, actor: &Username) -> Result<(usize, Vec<BoardEvent>), StoreError> {
    let now = now_ms();
    let mut events = Vec::new();
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO leads (id, name, company, value, assignee, version, claimed_at, updated_at,
                            contact, email, phone, source, tags, created_at)
         VALUES (?1, ?2, ?3, ?4, NULL, 1, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO NOTHING RETURNING {LEAD_COLS}"
    ))?;
    let mut variant = conn.prepare_cached("SELECT id FROM leads WHERE id = ?1 COLLATE NOCASE AND id != ?1 LIMIT 1")?;
    for l in leads {
        if let Some(existing) = variant.query_row([l.id.as_str()], |r| r.get::<_, String>(0)).optional()? {
            let existing = parsed(0, LeadId::parse(existing))?;
            return Err(StoreError::LeadIdTaken { id: l.id, existing });
        }
        let d = &l.details;
        let created = insert
            .query_row(
                params![
                    l.id.as_str(),
                    l.name,
                    l.company,
                    l.value as i64,
                    now,
                    d.contact,
                    d.email.as_ref().map(Email::as_str),
                    d.phone.as_ref().map(Phone::as_str),
                    d.source,
                    Tag::join(&d.tags),
                    d.created_at.unwrap_or(now),
                ],
                lead_from_row,
            )
            .optional()?;
        if let Some(lead) = created {
            events.push(append_event(conn, now, actor, &lead, Change::Created)?);
        }
    }
    Ok((events.len(), events))
}

/// The events of `from..to` (milliseconds), oldest first, at most `limit`.
fn history(conn: &Connection, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT body FROM events WHERE at >= ?1 AND at < ?2 ORDER BY seq LIMIT ?3")?;
    let bodies = stmt.query_map(params![from, to, limit as i64], |r| r.get::<_, String>(0))?;
    bodies.map(|b| serde_json::from_str(&b?).map_err(|e| StoreError::Internal(format!("corrupt event: {e}")))).collect()
}

#[async_trait]
impl LeadStore for SqliteStore {
    fn stream(&self) -> &str {
        &self.stream
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let stream = self.stream.clone();
        self.read(move |conn| {
            // One read transaction: WAL gives it a consistent view of leads and events.
            let tx = conn.unchecked_transaction()?;
            let leads = tx
                .prepare_cached(&format!("SELECT {LEAD_COLS} FROM leads ORDER BY id"))?
                .query_map([], lead_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let seq = last_seq(&tx)?;
            tx.finish()?;
            Ok(Snapshot { stream, seq: seq as u64, leads })
        })
        .await
    }

    async fn claim(
        &self,
        id: &LeadId,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<ClaimReply, StoreError> {
        let (id, by, terms) = (id.clone(), by.clone(), *terms);
        self.write(move |conn| claim(conn, &id, &by, received_at, &terms)).await?
    }

    async fn claim_next(
        &self,
        by: &Username,
        received_at: Millis,
        terms: &ClaimTerms,
    ) -> Result<Option<ClaimReply>, StoreError> {
        let (by, terms) = (by.clone(), *terms);
        self.write(move |conn| claim_next(conn, &by, received_at, &terms)).await?.transpose()
    }
    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        let (id, actor) = (id.clone(), actor.clone());
        self.write(move |conn| {
            let rule = |l: &Lead, _| check_release(l, seen_version, &actor);
            fenced_update(conn, &id, seen_version, &actor.username, rule, Fenced::Release)
        })
        .await
    }

    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        let (id, to, actor, terms) = (id.clone(), to.clone(), actor.clone(), *terms);
        self.write(move |conn| {
            let to = account_named(conn, &to)?.ok_or(StoreError::UserNotFound(to))?;
            let rule = |l: &Lead, _| check_reassign(l, seen_version, &to, &actor);
            let write = Fenced::Reassign { to: &to.username, lease_until: terms.lease_until(now_ms()) };
            fenced_update(conn, &id, seen_version, &actor.username, rule, write)
        })
        .await
    }

    async fn extend(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        terms: &ClaimTerms,
    ) -> Result<Lead, StoreError> {
        let (id, actor, terms) = (id.clone(), actor.clone(), *terms);
        self.write(move |conn| {
            let rule = |l: &Lead, now| check_extend(l, seen_version, &actor, now, terms.max_extensions);
            let write = Fenced::Extend { lease_until: terms.lease_until(now_ms()) };
            fenced_update(conn, &id, seen_version, &actor, rule, write)
        })
        .await
    }

    async fn expire_due(&self, now: Millis) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let given_back = self.write(move |conn| expire_due(conn, now)).await?;
            total += given_back;
            if given_back < EXPIRY_BATCH {
                return Ok(total);
            }
        }
    }

    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError> {
        self.read(move |conn| events_after(conn, after_seq, limit)).await
    }

    async fn latest_seq(&self) -> Result<u64, StoreError> {
        self.read(|conn| Ok(last_seq(conn)? as u64)).await
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.read(move |conn| recent_events(conn, limit)).await
    }

    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| add_leads(conn, leads, &actor)).await
    }

    async fn history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.read(move |conn| history(conn, from, to, limit)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.probe().await
    }
}
