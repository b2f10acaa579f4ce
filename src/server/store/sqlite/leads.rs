//! Leads in SQLite: the store port's lead side, over the claim (`claim`), the fenced transitions
//! (`transitions`) and the event log (`events`); and the creation of leads.

use super::accounts::account_named;
use super::claim::{claim, claim_next};
use super::events::{append_event, events_after, history, last_seq, lead_events, recent_events};
use super::rows::{lead_from_row, LEAD_COLS};
use super::sql::parsed;
use super::transitions::{expire_due, fenced_update, EXPIRY_BATCH};
use super::SqliteStore;
use crate::domain::claim::{check_extend, check_outcome, check_reassign, check_release};
use crate::domain::{
    BoardEvent, Change, ClaimReply, ClaimTerms, Email, Lead, LeadId, Millis, NewLead, Note, Outcome, Phone, Step, Tag,
    UserInfo, Username,
};
use crate::protocol::Snapshot;
use crate::server::now_ms;
use crate::server::store::{LeadStore, StoreError};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

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
            fenced_update(conn, &id, seen_version, &actor.username, rule, Step::Release)
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
            let write = Step::Reassign { to: &to.username, lease_until: terms.lease_until(now_ms()) };
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
            let write = Step::Extend { lease_until: terms.lease_until(now_ms()) };
            fenced_update(conn, &id, seen_version, &actor, rule, write)
        })
        .await
    }

    async fn record_outcome(
        &self,
        id: &LeadId,
        seen_version: u64,
        actor: &Username,
        outcome: Outcome,
        note: &Note,
    ) -> Result<Lead, StoreError> {
        let (id, actor, note) = (id.clone(), actor.clone(), note.clone());
        self.write(move |conn| {
            let rule = |l: &Lead, _| check_outcome(l, seen_version, &actor);
            fenced_update(conn, &id, seen_version, &actor, rule, Step::Outcome { outcome, note })
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
        self.read(move |conn| history(conn, from, to, None, limit)).await
    }

    async fn outcome_history(&self, from: Millis, to: Millis, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.read(move |conn| history(conn, from, to, Some(Change::OUTCOME), limit)).await
    }

    async fn lead_events(&self, id: &LeadId, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        let id = id.clone();
        self.read(move |conn| lead_events(conn, &id, limit)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.probe().await
    }
}
