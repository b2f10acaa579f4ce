//! A lead as a row of `leads`: the columns every statement returns, and how a row becomes a lead.

use super::sql::{parsed, query_row};
use crate::domain::{Email, Lead, LeadDetails, LeadId, Outcome, Phone, Tag, Username};
use crate::server::store::StoreError;
use rusqlite::{Connection, OptionalExtension, Row};

pub(super) const LEAD_COLS: &str = "id, name, company, value, assignee, version, claimed_at, updated_at, \
                                    contact, email, phone, source, tags, created_at, lease_until, extensions, \
                                    outcome";

/// Leads that count toward their holder's cap: held, and not closed by an outcome.
pub(super) fn counted_toward_cap() -> String {
    format!("assignee = ?1 AND (outcome IS NULL OR outcome = '{}')", Outcome::Contacted.as_str())
}

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

pub(super) fn lead_from_row(row: &Row<'_>) -> rusqlite::Result<Lead> {
    let value: i64 = row.get(3)?;
    let outcome = row.get::<_, Option<String>>(16)?.map(|o| {
        o.parse::<Outcome>()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(16, rusqlite::types::Type::Text, e.into()))
    });
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
        outcome: outcome.transpose()?,
    })
}

pub(super) fn get_lead(conn: &Connection, id: &LeadId) -> Result<Lead, StoreError> {
    query_row(conn, &format!("SELECT {LEAD_COLS} FROM leads WHERE id = ?1"), [id.as_str()], lead_from_row)
        .optional()?
        .ok_or_else(|| StoreError::LeadNotFound(id.clone()))
}
