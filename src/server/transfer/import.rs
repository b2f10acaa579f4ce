//! The CSV import: every row becomes a valid lead or a reason, checked against the board as it
//! stands, then the new leads go through the store port in batches.
//!
//! Idempotent: a row's lead ID is its `id` cell, else derived from the chosen key column, else
//! from its name, company, email and phone; so importing the same file again finds every lead
//! there already and adds nothing. A row with the email or phone of an earlier row or of a lead
//! on the board is skipped as a duplicate, and says which.

use super::read::{map_row, Table};
use super::{time, write};
use crate::domain::import::{ImportReport, Mapping, RowIssue};
use crate::domain::{Lead, LeadId, NewLead, Username};
use crate::error::ApiError;
use crate::server::store::{LeadStore, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// Leads per store write. Each batch is one job of the writer's group commit, so claims queued
/// behind it wait for at most one batch; and one event frame, so boards redraw once per batch.
pub const BATCH: usize = 100;

/// An ID made from `parts`: `prefix` and 16 hex digits of their SHA-256 (a valid `LeadId`).
pub fn derived_id(prefix: char, parts: &[&str]) -> LeadId {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    LeadId::parse(format!("{prefix}{hex}")).expect("a letter and hex digits are a lead ID")
}

/// Where a lead already is, by the keys a new row could clash on.
#[derive(Default)]
struct Seen {
    ids: HashMap<String, String>,
    emails: HashMap<String, String>,
    phones: HashMap<String, String>,
}

impl Seen {
    fn of_board(leads: &[Lead]) -> Self {
        let mut seen = Seen::default();
        for l in leads {
            let at = format!("lead {} on the board", l.id);
            seen.ids.insert(l.id.folded(), l.id.to_string());
            if let Some(e) = &l.details.email {
                seen.emails.entry(e.key()).or_insert_with(|| at.clone());
            }
            if let Some(p) = &l.details.phone {
                seen.phones.entry(p.key()).or_insert(at);
            }
        }
        seen
    }

    /// Why `lead` (from spreadsheet row `row`) must not be added, if it must not; otherwise it
    /// is remembered, so later rows clash with it.
    fn clash(&mut self, lead: &NewLead, row: usize) -> Option<String> {
        if let Some(existing) = self.ids.get(&lead.id.folded()) {
            return Some(match existing.strip_prefix("row ") {
                Some(_) => format!("same lead ID as {existing}"),
                None if existing == lead.id.as_str() => format!("lead {} is on the board already", lead.id),
                None => format!("lead ID {} differs only in case from the lead {existing} on the board", lead.id),
            });
        }
        let email = lead.details.email.as_ref().map(|e| e.key());
        let phone = lead.details.phone.as_ref().map(|p| p.key());
        if let Some(at) = email.as_ref().and_then(|e| self.emails.get(e)) {
            return Some(format!("same email as {at}"));
        }
        if let Some(at) = phone.as_ref().and_then(|p| self.phones.get(p)) {
            return Some(format!("same phone as {at}"));
        }
        let here = format!("row {row}");
        self.ids.insert(lead.id.folded(), here.clone());
        if let Some(e) = email {
            self.emails.insert(e, here.clone());
        }
        if let Some(p) = phone {
            self.phones.insert(p, here);
        }
        None
    }
}

/// What an import will do: the leads to add (with their rows) and the report so far.
pub struct Plan {
    leads: Vec<(usize, NewLead)>,
    report: ImportReport,
}

impl Plan {
    /// Leads that will be offered to the store.
    pub fn to_add(&self) -> usize {
        self.leads.len()
    }
}

pub struct Importer {
    store: Arc<dyn LeadStore>,
}

impl Importer {
    pub fn new(store: Arc<dyn LeadStore>) -> Self {
        Self { store }
    }

    /// Reads every row of `table` through `mapping` and checks it against the board.
    pub async fn plan(&self, table: &Table, mapping: &Mapping) -> Result<Plan, ApiError> {
        mapping.check(table.width()).map_err(ApiError::BadRequest)?;
        let board = self.store.snapshot().await?;
        let mut seen = Seen::of_board(&board.leads);
        let mut report = ImportReport { rows: table.rows.len(), ..ImportReport::default() };
        let mut refused_rows = Vec::new();
        let mut leads = Vec::new();
        for (row, cells) in &table.rows {
            let mapped = map_row(mapping, cells);
            let mut input = mapped.input;
            let created = mapped.created.map(|c| time::read(c).ok_or(c));
            input.created_at = created.and_then(Result::ok);
            if input.id.is_none() {
                let id = match mapped.key {
                    Some(key) => derived_id('k', &[key.trim()]),
                    None => {
                        let folded = |s: &Option<String>| s.as_deref().unwrap_or("").trim().to_lowercase();
                        let parts = [&input.name, &input.company, &input.email, &input.phone].map(folded);
                        derived_id('r', &parts.each_ref().map(String::as_str))
                    }
                };
                input.id = Some(id.to_string());
            }
            let mut parsed = NewLead::from_input(&input);
            if let Some(Err(text)) = created {
                let why = format!("created_at must be a date like 2026-03-01 or 2026-03-01T09:30:00Z, not {text:?}");
                match &mut parsed {
                    Err(errors) => errors.0.push(("created_at".into(), why)),
                    Ok(_) => parsed = Err(crate::domain::FieldErrors(vec![("created_at".into(), why)])),
                }
            }
            match parsed {
                Err(errors) => {
                    let reason = errors.to_string();
                    refused_rows.push((*row, reason.clone(), cells.as_slice()));
                    report.refused.push(RowIssue { row: *row, id: input.id, reason });
                }
                Ok(lead) => match seen.clash(&lead, *row) {
                    Some(reason) => report.skipped.push(RowIssue { row: *row, id: Some(lead.id.to_string()), reason }),
                    None => leads.push((*row, lead)),
                },
            }
        }
        report.refused_csv =
            write::refused(&table.headers, refused_rows.iter().map(|(row, why, cells)| (*row, why.as_str(), *cells)));
        Ok(Plan { leads, report })
    }

    /// Adds the planned leads in batches of [`BATCH`], calling `progress(done, total)` after
    /// each. A batch the store refuses is reported row by row, and the import goes on; when the
    /// store is unavailable the rest is reported as not added (importing again adds just those).
    pub async fn run(&self, plan: Plan, actor: &Username, mut progress: impl FnMut(usize, usize)) -> ImportReport {
        let Plan { leads, mut report } = plan;
        let total = leads.len();
        let mut done = 0;
        let mut batches = leads.chunks(BATCH);
        while let Some(batch) = batches.next() {
            let new: Vec<NewLead> = batch.iter().map(|(_, l)| l.clone()).collect();
            match self.store.add_leads(new, actor).await {
                Ok(added) => {
                    report.added += added;
                    if added < batch.len() {
                        let (first, last) = (batch[0].0, batch[batch.len() - 1].0);
                        report.skipped.push(RowIssue {
                            row: first,
                            id: None,
                            reason: format!(
                                "{} of rows {first}-{last} were added by someone else meanwhile",
                                batch.len() - added
                            ),
                        });
                    }
                }
                Err(e) if !e.is_failure() => report.refused.extend(batch.iter().map(|(row, l)| RowIssue {
                    row: *row,
                    id: Some(l.id.to_string()),
                    reason: format!("not added (the batch was refused: {e})"),
                })),
                Err(e) => {
                    tracing::warn!(error = %e, "import stopped: the store failed");
                    let rest = batch.iter().chain(batches.by_ref().flatten());
                    report.refused.extend(rest.map(|(row, l)| not_added(*row, l, &e)));
                    break;
                }
            }
            done += batch.len();
            progress(done, total);
        }
        tracing::info!(by = %actor, rows = report.rows, added = report.added, skipped = report.skipped.len(),
            refused = report.refused.len(), "import done");
        report
    }
}

fn not_added(row: usize, lead: &NewLead, e: &StoreError) -> RowIssue {
    RowIssue { row, id: Some(lead.id.to_string()), reason: format!("not added ({e}); import the file again to add it") }
}
