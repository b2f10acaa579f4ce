//! Writing CSV: the board's leads (every column, readable by the import as it is), the history
//! of claims, lost claims, releases, reassigns, leases and outcomes, and an import's refused rows. Every cell goes
//! through the formula guard.

use super::formula::guard;
use super::time;
use crate::domain::{BoardEvent, Change, Email, Lead, Outcome, Phone, Tag};

/// The leads export's columns; the import guesses its mapping from these names.
pub const LEAD_COLUMNS: [&str; 15] = [
    "id",
    "name",
    "company",
    "value",
    "status",
    "assignee",
    "contact",
    "email",
    "phone",
    "source",
    "tags",
    "created_at",
    "claimed_at",
    "updated_at",
    "outcome",
];

/// Events one history export holds at most.
pub const MAX_HISTORY: usize = 200_000;

pub const HISTORY_COLUMNS: [&str; 12] = [
    "seq",
    "at",
    "kind",
    "lead_id",
    "lead_name",
    "actor",
    "assignee",
    "previous",
    "winner",
    "margin_ms",
    "outcome",
    "note",
];

/// A CSV under construction; writing to memory cannot fail.
struct Sheet(csv::Writer<Vec<u8>>);

impl Sheet {
    fn new<'a>(header: impl IntoIterator<Item = &'a str>) -> Self {
        let mut sheet = Sheet(csv::WriterBuilder::new().flexible(true).from_writer(Vec::new()));
        sheet.row(header);
        sheet
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        self.0.write_record(cells.into_iter().map(|c| guard(c).into_owned())).expect("writing to memory");
    }

    fn finish(self) -> String {
        let bytes = self.0.into_inner().expect("writing to memory");
        String::from_utf8(bytes).expect("the cells were UTF-8")
    }
}

fn opt_time(at: Option<i64>) -> String {
    at.map(time::write).unwrap_or_default()
}

pub fn leads(leads: &[Lead]) -> String {
    let mut sheet = Sheet::new(LEAD_COLUMNS);
    for l in leads {
        let d = &l.details;
        let cells = [
            l.id.to_string(),
            l.name.clone(),
            l.company.clone(),
            l.value.to_string(),
            l.status().as_str().to_owned(),
            l.assignee.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            d.contact.clone().unwrap_or_default(),
            d.email.as_ref().map(Email::to_string).unwrap_or_default(),
            d.phone.as_ref().map(Phone::to_string).unwrap_or_default(),
            d.source.clone().unwrap_or_default(),
            Tag::join(&d.tags),
            opt_time(d.created_at),
            opt_time(l.claimed_at),
            time::write(l.updated_at),
            l.outcome.map(Outcome::as_str).unwrap_or_default().to_owned(),
        ];
        sheet.row(cells.iter().map(String::as_str));
    }
    sheet.finish()
}

/// The events that change who holds a lead (or for how long), or record a claim that lost;
/// `created` is left out.
pub fn history(events: &[BoardEvent]) -> String {
    let mut sheet = Sheet::new(HISTORY_COLUMNS);
    for ev in events {
        let (previous, winner, margin, outcome) = match &ev.change {
            Change::Created => continue,
            Change::Claimed | Change::Extended => (None, None, None, None),
            Change::ClaimLost { winner, margin_ms } => (None, Some(winner), Some(*margin_ms), None),
            Change::Released { previous } | Change::Expired { previous } => (Some(previous), None, None, None),
            Change::Reassigned { previous } => (previous.as_ref(), None, None, None),
            Change::Outcome { outcome, note } => (None, None, None, Some((outcome, note))),
        };
        let cells = [
            ev.seq.to_string(),
            time::write(ev.at),
            ev.change.kind().to_owned(),
            ev.lead.id.to_string(),
            ev.lead.name.clone(),
            ev.actor.to_string(),
            ev.lead.assignee.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            previous.map(|p| p.to_string()).unwrap_or_default(),
            winner.map(|w| w.to_string()).unwrap_or_default(),
            margin.map(|m| m.to_string()).unwrap_or_default(),
            outcome.map(|(o, _)| o.as_str().to_owned()).unwrap_or_default(),
            outcome.map(|(_, n)| n.to_string()).unwrap_or_default(),
        ];
        sheet.row(cells.iter().map(String::as_str));
    }
    sheet.finish()
}

/// Refused rows as they came, after a `row` and an `error` column.
pub fn refused<'a>(headers: &[String], rows: impl IntoIterator<Item = (usize, &'a str, &'a [String])>) -> String {
    let mut sheet = Sheet::new(["row", "error"].into_iter().chain(headers.iter().map(String::as_str)));
    for (row, reason, cells) in rows {
        let row = row.to_string();
        sheet.row([row.as_str(), reason].into_iter().chain(cells.iter().map(String::as_str)));
    }
    sheet.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::Mapping;
    use crate::domain::{LeadInput, NewLead, Note, Username};
    use crate::server::transfer::read::{map_row, read};

    fn lead(input: LeadInput) -> Lead {
        let new = NewLead::from_input(&input).unwrap();
        Lead {
            id: new.id,
            name: new.name,
            company: new.company,
            value: new.value,
            assignee: Some(Username::parse("bob").unwrap()),
            version: 2,
            claimed_at: Some(2_000),
            updated_at: 2_000,
            details: new.details,
            lease_until: None,
            extensions: 0,
            outcome: None,
        }
    }

    #[test]
    fn an_export_reads_back_as_the_same_leads_and_runs_no_formulas() {
        let l = lead(LeadInput {
            id: Some("L1".into()),
            name: Some("=HYPERLINK(\"http://evil\",\"x\")".into()),
            company: Some("@Acme, \"Inc\" Berlin".into()),
            value: Some("1200".into()),
            contact: Some("-Ada".into()),
            email: Some("ada@example.com".into()),
            phone: Some("+49 30 1234567".into()),
            tags: Some("vip, eu".into()),
            created_at: Some(1_000),
            ..LeadInput::default()
        });
        let text = leads(std::slice::from_ref(&l));
        for line in text.lines().skip(1) {
            for cell in line.split(',') {
                assert!(!cell.trim_start_matches('"').starts_with(['=', '+', '-', '@']), "{cell:?} in {text}");
            }
        }
        let table = read(text.as_bytes()).unwrap();
        let mapping = Mapping::guess(&table.headers);
        let row = map_row(&mapping, &table.rows[0].1);
        let mut input = row.input;
        input.created_at = row.created.and_then(time::read);
        let again = NewLead::from_input(&input).unwrap();
        assert_eq!(
            (again.id, again.name, again.company, again.value, again.details),
            (l.id, l.name, l.company, l.value, l.details)
        );
    }

    #[test]
    fn the_history_lists_changes_of_hands_and_outcomes_not_creations() {
        let l = lead(LeadInput {
            id: Some("L1".into()),
            name: Some("n".into()),
            company: Some("c".into()),
            ..LeadInput::default()
        });
        let bob = Username::parse("bob").unwrap();
        let ev = |seq, change| BoardEvent { seq, at: 5_000, actor: bob.clone(), lead: l.clone(), change };
        let text = history(&[
            ev(1, Change::Created),
            ev(2, Change::Claimed),
            ev(3, Change::ClaimLost { winner: bob.clone(), margin_ms: 4 }),
            ev(4, Change::Reassigned { previous: Some(bob.clone()) }),
            ev(5, Change::Outcome { outcome: Outcome::Won, note: Note::parse("=signed").unwrap() }),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HISTORY_COLUMNS.join(","));
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[2], "3,1970-01-01T00:00:05.000Z,claim_lost,L1,n,bob,bob,,bob,4,,");
        assert_eq!(lines[4], "5,1970-01-01T00:00:05.000Z,outcome,L1,n,bob,bob,,,,won,'=signed", "the note is guarded");
    }

    #[test]
    fn refused_rows_keep_their_cells_behind_the_reason() {
        let text = refused(&["name".into()], [(3, "name: bad", &["=x".to_string()][..])]);
        assert_eq!(text, "row,error,name\n3,name: bad,'=x\n");
    }
}
