//! The words of a CSV import, shared by the server and the import page: the lead fields a
//! column can feed, the mapping guessed from a header, the preview, the running progress and the
//! report (rows added, skipped as already there or duplicate, refused with their reasons).

use serde::{Deserialize, Serialize};

/// A lead field a CSV column can feed.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Field {
    Id,
    Name,
    Company,
    Value,
    Contact,
    Email,
    Phone,
    Source,
    Tags,
    CreatedAt,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Id => "Lead ID",
            Field::Name => "Lead name",
            Field::Company => "Company",
            Field::Value => "Value",
            Field::Contact => "Contact name",
            Field::Email => "Email",
            Field::Phone => "Phone",
            Field::Source => "Source",
            Field::Tags => "Tags",
            Field::CreatedAt => "Created",
        }
    }

    /// The field a column header most likely means (`E-mail address` is `email`), if any.
    pub fn guess(header: &str) -> Option<Field> {
        let h: String = header.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
        Some(match h.as_str() {
            "id" | "leadid" | "lead" | "ref" | "reference" => Field::Id,
            "name" | "leadname" | "title" | "deal" | "dealname" | "opportunity" | "subject" => Field::Name,
            "company" | "companyname" | "organisation" | "organization" | "org" | "account" | "accountname"
            | "business" | "firm" => Field::Company,
            "value" | "amount" | "dealvalue" | "dealsize" | "revenue" | "worth" | "budget" => Field::Value,
            "contact" | "contactname" | "contactperson" | "person" | "fullname" => Field::Contact,
            "email" | "emailaddress" | "mail" | "contactemail" => Field::Email,
            "phone" | "phonenumber" | "telephone" | "tel" | "mobile" | "cell" | "contactphone" => Field::Phone,
            "source" | "leadsource" | "channel" | "origin" | "campaign" => Field::Source,
            "tags" | "tag" | "labels" | "label" | "keywords" => Field::Tags,
            "createdat" | "created" | "createdon" | "datecreated" | "createdtime" | "date" | "received" => {
                Field::CreatedAt
            }
            _ => return None,
        })
    }
}

/// Which field each column feeds (None: ignored), and optionally the column whose value
/// identifies a row across imports (a CRM's record ID) when the file has no lead IDs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub columns: Vec<Option<Field>>,
    #[serde(default)]
    pub key: Option<usize>,
}

impl Mapping {
    /// Each field from the first column whose header names it.
    pub fn guess(headers: &[String]) -> Mapping {
        let mut columns: Vec<Option<Field>> = Vec::with_capacity(headers.len());
        for h in headers {
            let f = Field::guess(h).filter(|f| !columns.contains(&Some(*f)));
            columns.push(f);
        }
        Mapping { columns, key: None }
    }

    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.columns.iter().position(|c| *c == Some(field))
    }

    /// Whether the mapping can make leads at all: name and company must come from somewhere,
    /// no field from two columns, and the key (if any) names a column.
    pub fn check(&self, width: usize) -> Result<(), String> {
        for required in [Field::Name, Field::Company] {
            if self.column_of(required).is_none() {
                return Err(format!("no column is mapped to {}", required.label()));
            }
        }
        for (i, f) in self.columns.iter().enumerate().filter_map(|(i, f)| Some((i, (*f)?))) {
            if self.columns[..i].contains(&Some(f)) {
                return Err(format!("{} is mapped from two columns", f.label()));
            }
        }
        if self.columns.len() > width || self.key.is_some_and(|k| k >= width) {
            return Err(format!("the mapping names more columns than the file's {width}"));
        }
        Ok(())
    }
}

/// The first rows of an uploaded file and the mapping guessed from its header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Data rows in the whole file.
    pub total_rows: usize,
    pub mapping: Mapping,
    /// The separator the file uses (`,`, `;` or a tab).
    pub delimiter: char,
}

/// A row that was not added, and why. `row` counts as a spreadsheet does: the header is row 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    pub row: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reason: String,
}

/// What an import did. Re-running it adds nothing twice: rows already on the board are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    pub added: usize,
    /// Rows not added because the lead is there already (same ID, or the same email or phone as
    /// another row or a lead on the board).
    pub skipped: Vec<RowIssue>,
    /// Rows that did not make a valid lead.
    pub refused: Vec<RowIssue>,
    /// The refused rows as they were, with a `row` and an `error` column in front: fix, upload again.
    #[serde(default)]
    pub refused_csv: String,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        format!(
            "{} rows: {} added, {} skipped, {} refused",
            self.rows,
            self.added,
            self.skipped.len(),
            self.refused.len()
        )
    }
}

/// One line of the import's answer, a stream of JSON lines: progress as the batches commit,
/// then the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImportProgress {
    Progress { done: usize, total: usize },
    Done(ImportReport),
    Failed { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_mapping_is_guessed_from_common_headers_once_per_field() {
        let m = Mapping::guess(&headers(&["Lead ID", "Deal name", "Organisation", "E-mail", "Mobile", "Email", ""]));
        use Field::*;
        assert_eq!(m.columns, [Some(Id), Some(Name), Some(Company), Some(Email), Some(Phone), None, None]);
        assert!(m.check(7).is_ok());
    }

    #[test]
    fn a_mapping_without_name_or_company_or_with_a_field_twice_is_refused() {
        let m = Mapping::guess(&headers(&["name", "email"]));
        assert_eq!(m.check(2).unwrap_err(), "no column is mapped to Company");
        let twice = Mapping { columns: vec![Some(Field::Name), Some(Field::Company), Some(Field::Name)], key: None };
        assert!(twice.check(3).unwrap_err().contains("two columns"));
        let key = Mapping { columns: vec![Some(Field::Name), Some(Field::Company)], key: Some(5) };
        assert!(key.check(2).is_err());
    }

    #[test]
    fn every_field_is_guessed_from_its_own_name() {
        use strum::IntoEnumIterator;
        for f in Field::iter() {
            assert_eq!(Field::guess(f.as_str()), Some(f), "{f:?}");
        }
    }
}
