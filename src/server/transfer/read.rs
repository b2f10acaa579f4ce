//! Reading an uploaded CSV file as spreadsheets write them: UTF-8 with or without a BOM, `,`
//! `;` or tab separated (guessed from the header line), quoted cells with newlines inside,
//! Windows line ends, rows shorter or longer than the header.

use super::formula::unguard;
use crate::domain::import::Preview;
use crate::domain::import::{Field, Mapping};
use crate::domain::LeadInput;

/// The largest upload: a 10,000-row file is about 1 MB.
pub const MAX_UPLOAD: usize = 4 * 1024 * 1024;
/// Data rows one import takes at most.
pub const MAX_ROWS: usize = 20_000;
const MAX_COLUMNS: usize = 100;
/// Rows a preview shows.
pub const PREVIEW_ROWS: usize = 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not UTF-8 text: save it as \"CSV UTF-8\"")]
    NotUtf8,
    #[error("the file has more than {MAX_ROWS} rows: split it")]
    TooManyRows,
    #[error("the file has more than {MAX_COLUMNS} columns")]
    TooManyColumns,
    #[error("row {row}: {message}")]
    Malformed { row: usize, message: String },
}

/// A whole file: its header and data rows, each cell with the export's formula guard undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    /// (spreadsheet row number, cells); blank rows are left out but keep their numbers.
    pub rows: Vec<(usize, Vec<String>)>,
    pub delimiter: u8,
}

/// The separator the header line uses most, outside quotes.
fn sniff(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in text.bytes() {
        if !quoted && (b == b'\n' || b == b'\r') {
            break;
        }
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
                c.1 += 1;
            }
        }
    }
    counts.iter().max_by_key(|(_, n)| *n).filter(|(_, n)| *n > 0).map_or(b',', |(d, _)| *d)
}

pub fn read(bytes: &[u8]) -> Result<Table, CsvError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| CsvError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    let delimiter = sniff(text);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut records = reader.records();
    let malformed = |row: usize, e: csv::Error| CsvError::Malformed { row, message: e.to_string() };
    let headers: Vec<String> = match records.next() {
        Some(r) => r.map_err(|e| malformed(1, e))?.iter().map(|h| unguard(h.trim()).to_owned()).collect(),
        None => return Err(CsvError::Empty),
    };
    if headers.len() > MAX_COLUMNS {
        return Err(CsvError::TooManyColumns);
    }
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| malformed(row, e))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(CsvError::TooManyRows);
        }
        if record.len() > MAX_COLUMNS {
            return Err(CsvError::TooManyColumns);
        }
        rows.push((row, record.iter().map(|c| unguard(c).to_owned()).collect()));
    }
    Ok(Table { headers, rows, delimiter })
}

impl Table {
    /// The widest row (or the header): how many columns a mapping may name.
    pub fn width(&self) -> usize {
        self.rows.iter().map(|(_, r)| r.len()).chain([self.headers.len()]).max().unwrap_or(0)
    }

    pub fn preview(&self) -> Preview {
        Preview {
            headers: self.headers.clone(),
            rows: self.rows.iter().take(PREVIEW_ROWS).map(|(_, r)| r.clone()).collect(),
            total_rows: self.rows.len(),
            mapping: Mapping::guess(&self.headers),
            delimiter: char::from(self.delimiter),
        }
    }
}

/// A row's cells as the lead fields `mapping` names; `created_at` must already be read by
/// the caller (`created` holds its text).
pub struct MappedRow<'a> {
    pub input: LeadInput,
    pub created: Option<&'a str>,
    pub key: Option<&'a str>,
}

pub fn map_row<'a>(mapping: &Mapping, cells: &'a [String]) -> MappedRow<'a> {
    let cell = |i: usize| cells.get(i).map(|c| c.trim()).filter(|c| !c.is_empty());
    let field = |f: Field| mapping.column_of(f).and_then(cell);
    let own = |f: Field| field(f).map(str::to_owned);
    MappedRow {
        input: LeadInput {
            id: own(Field::Id),
            name: own(Field::Name),
            company: own(Field::Company),
            value: own(Field::Value),
            contact: own(Field::Contact),
            email: own(Field::Email),
            phone: own(Field::Phone),
            source: own(Field::Source),
            tags: own(Field::Tags),
            created_at: None,
        },
        created: field(Field::CreatedAt),
        key: mapping.key.and_then(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(t: &Table) -> Vec<Vec<&str>> {
        t.rows.iter().map(|(_, r)| r.iter().map(String::as_str).collect()).collect()
    }

    #[test]
    fn a_semicolon_file_with_a_bom_and_windows_line_ends_reads() {
        let t = read(b"\xEF\xBB\xBFName;Company;Value\r\nAda;\"Acme; Inc\";12\r\nBo;Beta;3\r\n").unwrap();
        assert_eq!(t.delimiter, b';');
        assert_eq!(t.headers, ["Name", "Company", "Value"]);
        assert_eq!(cells(&t), [vec!["Ada", "Acme; Inc", "12"], vec!["Bo", "Beta", "3"]]);
    }

    #[test]
    fn quoted_newlines_utf8_names_and_ragged_rows_read() {
        let t = read(
            "name,company,notes,,\nJürgen Größe,\"Zürich\nAG\",x,,\nŁucja,Kraków\n\n,,,,\nRenée,Café,,,extra\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(t.headers, ["name", "company", "notes", "", ""]);
        assert_eq!(t.rows[0].1[..2], ["Jürgen Größe".to_string(), "Zürich\nAG".to_string()]);
        assert_eq!(t.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 3, 5], "blank rows skipped, numbers kept");
        assert_eq!(t.width(), 5);
        let m = Mapping::guess(&t.headers);
        let short = map_row(&m, &t.rows[1].1);
        assert_eq!((short.input.name.as_deref(), short.input.value), (Some("Łucja"), None));
    }

    #[test]
    fn tabs_are_sniffed_and_separators_inside_quotes_ignored() {
        assert_eq!(sniff("\"a,b,c\"\tx\ty\n1,2,3"), b'\t');
        assert_eq!(sniff("just one column"), b',');
    }

    #[test]
    fn unreadable_files_say_why() {
        assert_eq!(read(b"").unwrap_err(), CsvError::Empty);
        assert_eq!(read(b"\xEF\xBB\xBF \r\n").unwrap_err(), CsvError::Empty);
        assert_eq!(read(b"name\n\xff\xfe").unwrap_err(), CsvError::NotUtf8);
        let wide = vec!["c"; 101].join(",");
        assert_eq!(read(wide.as_bytes()).unwrap_err(), CsvError::TooManyColumns);
    }

    #[test]
    fn ten_thousand_rows_read_and_more_than_the_limit_do_not() {
        let mut text = String::from("id,name,company,value,email\n");
        for i in 0..10_000 {
            text.push_str(&format!("L{i:05},Lead {i},Company {i},{i},p{i}@example.com\n"));
        }
        assert!(text.len() < MAX_UPLOAD / 3, "a 10,000-row file is well inside the upload limit");
        let t = read(text.as_bytes()).unwrap();
        assert_eq!((t.rows.len(), t.rows[9_999].0), (10_000, 10_001));
        for i in 10_000..=MAX_ROWS {
            text.push_str(&format!("L{i:05},Lead {i},Company {i},{i},\n"));
        }
        assert_eq!(read(text.as_bytes()).unwrap_err(), CsvError::TooManyRows);
    }

    #[test]
    fn guarded_cells_read_back_as_written() {
        let t = read(b"name,company,phone\n'=SUM(A1),Acme,'+1 555 0100\n").unwrap();
        assert_eq!(cells(&t), [vec!["=SUM(A1)", "Acme", "+1 555 0100"]]);
    }
}
