use super::{check_len, validated_string, Millis, ParseError, Username};
use serde::{Deserialize, Serialize};

/// A lead's identifier. The alphabet and length are Appwrite's document-ID rules, so the same
/// IDs work in every store: 1-36 of `a-z A-Z 0-9 . - _`, not starting with `.`, `-` or `_`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LeadId(String);

impl LeadId {
    pub const MAX_LEN: usize = 36;

    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        check_len("lead_id", &s, 1, Self::MAX_LEN)?;
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if !s.chars().all(ok_char) || !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ParseError::BadChars {
                field: "lead_id",
                allowed: "letters, digits, '.', '-' and '_' (starting with a letter or digit)",
            });
        }
        Ok(Self(s))
    }

    /// The key lead IDs are unique by: two IDs that differ only in case name one lead, as they
    /// do in Appwrite (whose document IDs ignore case), so both stores refuse the second.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

validated_string!(LeadId);

/// Whether a lead is free to claim. Derived from the assignee, never stored on its own, so the
/// two cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LeadStatus {
    Open,
    Claimed,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A lead as every board sees it. `version` increases with every change and is the fencing token
/// for release and reassign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LeadWire", into = "LeadWire")]
pub struct Lead {
    pub id: LeadId,
    pub name: String,
    pub company: String,
    /// Deal value in whole currency units.
    pub value: u64,
    pub assignee: Option<Username>,
    pub version: u64,
    /// When the current assignee got the lead (None while open).
    pub claimed_at: Option<Millis>,
    pub updated_at: Millis,
}

impl Lead {
    pub fn status(&self) -> LeadStatus {
        if self.assignee.is_some() {
            LeadStatus::Claimed
        } else {
            LeadStatus::Open
        }
    }

    pub fn is_held_by(&self, user: &Username) -> bool {
        self.assignee.as_ref() == Some(user)
    }

    /// Whether `query` (already lower-cased) occurs in the lead's searchable text.
    pub fn matches(&self, query: &str) -> bool {
        query.is_empty()
            || self.name.to_lowercase().contains(query)
            || self.company.to_lowercase().contains(query)
            || self.id.as_str().to_lowercase().contains(query)
            || self.assignee.as_ref().is_some_and(|a| a.as_str().contains(query))
    }
}

/// The JSON shape of a lead: the struct plus its derived `status`, which is checked on the way in.
#[derive(Serialize, Deserialize)]
struct LeadWire {
    id: LeadId,
    name: String,
    company: String,
    value: u64,
    status: LeadStatus,
    assignee: Option<Username>,
    version: u64,
    claimed_at: Option<Millis>,
    updated_at: Millis,
}

impl From<Lead> for LeadWire {
    fn from(l: Lead) -> Self {
        LeadWire {
            status: l.status(),
            id: l.id,
            name: l.name,
            company: l.company,
            value: l.value,
            assignee: l.assignee,
            version: l.version,
            claimed_at: l.claimed_at,
            updated_at: l.updated_at,
        }
    }
}

impl TryFrom<LeadWire> for Lead {
    type Error = ParseError;
    fn try_from(w: LeadWire) -> Result<Self, Self::Error> {
        let lead = Lead {
            id: w.id,
            name: w.name,
            company: w.company,
            value: w.value,
            assignee: w.assignee,
            version: w.version,
            claimed_at: w.claimed_at,
            updated_at: w.updated_at,
        };
        if lead.status() != w.status {
            return Err(ParseError::Invalid(format!(
                "lead {} has status {} but assignee {:?}",
                lead.id,
                w.status.as_str(),
                lead.assignee
            )));
        }
        Ok(lead)
    }
}

/// A lead about to be created: validated text fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLead {
    pub id: LeadId,
    pub name: String,
    pub company: String,
    pub value: u64,
}

impl NewLead {
    pub const MAX_TEXT: usize = 200;
    /// 2^53 - 1: the largest integer a browser's JSON keeps exactly (larger ones would also
    /// overflow SQLite's signed integers before long).
    pub const MAX_VALUE: u64 = (1 << 53) - 1;

    pub fn parse(id: &str, name: &str, company: &str, value: u64) -> Result<Self, ParseError> {
        let name = name.trim();
        let company = company.trim();
        check_len("name", name, 1, Self::MAX_TEXT)?;
        check_len("company", company, 1, Self::MAX_TEXT)?;
        if name.chars().chain(company.chars()).any(char::is_control) {
            return Err(ParseError::Invalid("name and company must not contain control characters".into()));
        }
        if value > Self::MAX_VALUE {
            return Err(ParseError::Invalid(format!("value must be at most {}", Self::MAX_VALUE)));
        }
        Ok(NewLead { id: LeadId::parse(id)?, name: name.into(), company: company.into(), value })
    }
}

#[cfg(test)]
impl Lead {
    /// Lead `L1` for tests, at `version`, held by `assignee` since t = 1000 ms.
    pub(crate) fn sample(assignee: Option<&str>, version: u64) -> Lead {
        Lead {
            id: LeadId::parse("L1").unwrap(),
            name: "n".into(),
            company: "c".into(),
            value: 1,
            assignee: assignee.map(|a| Username::parse(a).unwrap()),
            version,
            claimed_at: assignee.map(|_| 1_000),
            updated_at: 1_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_ids_follow_appwrite_rules() {
        assert!(LeadId::parse("L00042").is_ok());
        assert!(LeadId::parse("a.b-c_d").is_ok());
        assert!(LeadId::parse("").is_err());
        assert!(LeadId::parse("_x").is_err());
        assert!(LeadId::parse("x y").is_err());
        assert!(LeadId::parse("x".repeat(37)).is_err());
        assert!(serde_json::from_str::<LeadId>("\"<script>\"").is_err());
        assert_eq!(LeadId::parse("Lead-A").unwrap().folded(), LeadId::parse("lead-a").unwrap().folded());
    }

    #[test]
    fn status_is_derived_and_checked_on_decode() {
        let lead = Lead::sample(Some("bob"), 2);
        let json = serde_json::to_value(&lead).unwrap();
        assert_eq!(json["status"], "claimed");
        assert_eq!(serde_json::from_value::<Lead>(json.clone()).unwrap(), lead);
        let mut bad = json;
        bad["status"] = "open".into();
        assert!(serde_json::from_value::<Lead>(bad).is_err());
    }

    #[test]
    fn new_leads_reject_empty_and_control_text() {
        assert!(NewLead::parse("L1", " Ada ", "Acme", 1).is_ok());
        assert!(NewLead::parse("L1", "  ", "Acme", 1).is_err());
        assert!(NewLead::parse("L1", "A\u{0}", "Acme", 1).is_err());
        assert!(NewLead::parse("L1", &"x".repeat(201), "Acme", 1).is_err());
        assert!(NewLead::parse("L1", "Ada", "Acme", NewLead::MAX_VALUE).is_ok());
        assert!(NewLead::parse("L1", "Ada", "Acme", u64::MAX).is_err());
    }
}
