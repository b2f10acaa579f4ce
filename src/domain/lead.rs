use super::{check_len, validated_string, FieldErrors, LeadDetails, LeadInput, Millis, Outcome, ParseError, Username};
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

/// Whether a lead is free to claim. Derived from the assignee and the outcome, never stored on
/// its own, so they cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LeadStatus {
    Open,
    Claimed,
    /// Its holder recorded an outcome that takes it out of the pool (`Outcome::closes`).
    Closed,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A lead as every board sees it. `version` increases with every change and is the fencing token
/// for release, reassign and extend.
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
    /// Contact, source, tags and created time: nothing the claim rules look at.
    pub details: LeadDetails,
    /// When the holder's lease runs out and the lead goes back to the pool: a deadline, never a
    /// countdown, so restarts and clock jumps cannot stretch it. None while open, and for claims
    /// made without a lease.
    pub lease_until: Option<Millis>,
    /// Times the current lease was extended (0 while open).
    pub extensions: u32,
    /// The outcome last recorded on the current claim (None while open, and until the holder
    /// records one).
    pub outcome: Option<Outcome>,
}

impl Lead {
    pub fn status(&self) -> LeadStatus {
        match (&self.assignee, self.outcome) {
            (None, _) => LeadStatus::Open,
            (Some(_), Some(outcome)) if outcome.closes() => LeadStatus::Closed,
            (Some(_), _) => LeadStatus::Claimed,
        }
    }

    pub fn is_held_by(&self, user: &Username) -> bool {
        self.assignee.as_ref() == Some(user)
    }

    /// What is left of the lease at `now` (0 once it ran out), if the lead has one.
    pub fn lease_left(&self, now: Millis) -> Option<Millis> {
        self.lease_until.map(|until| (until - now).max(0))
    }

    /// Whether `query` (already lower-cased) occurs in the lead's searchable text.
    pub fn matches(&self, query: &str) -> bool {
        query.is_empty()
            || self.name.to_lowercase().contains(query)
            || self.company.to_lowercase().contains(query)
            || self.id.as_str().to_lowercase().contains(query)
            || self.assignee.as_ref().is_some_and(|a| a.as_str().contains(query))
            || self.details.matches(query)
    }
}

/// What a board shows of its leads: those matching the search text, of one status, held by one
/// person ("Mine only"). The manager's export applies the same filter as the board.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadFilter {
    query: String,
    status: Option<LeadStatus>,
    holder: Option<Username>,
}

impl LeadFilter {
    pub fn new(query: &str, status: Option<LeadStatus>, holder: Option<Username>) -> Self {
        Self { query: query.trim().to_lowercase(), status, holder }
    }

    pub fn admits(&self, lead: &Lead) -> bool {
        self.status.is_none_or(|s| lead.status() == s)
            && self.holder.as_ref().is_none_or(|h| lead.is_held_by(h))
            && lead.matches(&self.query)
    }
}

/// The JSON shape of a lead: the struct plus its derived `status`, which is checked on the way in,
/// with the details beside the other fields (absent ones left out, so events written before leads
/// had details still read), and the lease and the outcome left out when there is none (so events
/// written before them still read).
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
    #[serde(flatten)]
    details: LeadDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<Millis>,
    #[serde(default, skip_serializing_if = "is_zero")]
    extensions: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
            details: l.details,
            lease_until: l.lease_until,
            extensions: l.extensions,
            outcome: l.outcome,
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
            details: w.details,
            lease_until: w.lease_until,
            extensions: w.extensions,
            outcome: w.outcome,
        };
        if lead.status() != w.status {
            return Err(ParseError::Invalid(format!(
                "lead {} has status {} but assignee {:?} and outcome {:?}",
                lead.id,
                w.status.as_str(),
                lead.assignee,
                lead.outcome
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
    pub details: LeadDetails,
}

impl NewLead {
    pub const MAX_TEXT: usize = 200;
    /// 2^53 - 1: the largest integer a browser's JSON keeps exactly (larger ones would also
    /// overflow SQLite's signed integers before long).
    pub const MAX_VALUE: u64 = (1 << 53) - 1;

    /// A lead without details.
    pub fn parse(id: &str, name: &str, company: &str, value: u64) -> Result<Self, ParseError> {
        let (name, company) = (Self::text("name", name)?, Self::text("company", company)?);
        Ok(NewLead {
            id: LeadId::parse(id)?,
            name,
            company,
            value: Self::check_value(value)?,
            details: Default::default(),
        })
    }

    /// A lead from outside, every field checked: all the reasons it is refused, by field. `id`,
    /// `name` and `company` are required; `value` is a whole number (`1,200` and `1200.00` read as
    /// 1200), 0 when absent.
    pub fn from_input(input: &LeadInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let required = |s: &Option<String>| s.clone().unwrap_or_default();
        let id = errors.note("id", LeadId::parse(required(&input.id).trim()));
        let name = errors.note("name", Self::text("name", &required(&input.name)));
        let company = errors.note("company", Self::text("company", &required(&input.company)));
        let value = errors.note("value", parse_value(input.value.as_deref().unwrap_or("")));
        let details = input.details(&mut errors);
        match (id, name, company, value) {
            (Some(id), Some(name), Some(company), Some(value)) if errors.is_empty() => {
                Ok(NewLead { id, name, company, value, details })
            }
            _ => Err(errors),
        }
    }

    fn text(field: &'static str, s: &str) -> Result<String, ParseError> {
        let s = s.trim();
        check_len(field, s, 1, Self::MAX_TEXT)?;
        if s.chars().any(char::is_control) {
            return Err(ParseError::Field { field, message: "must not contain control characters".into() });
        }
        Ok(s.to_owned())
    }

    fn check_value(value: u64) -> Result<u64, ParseError> {
        if value > Self::MAX_VALUE {
            return Err(ParseError::Field { field: "value", message: format!("must be at most {}", Self::MAX_VALUE) });
        }
        Ok(value)
    }
}

/// A deal value as written in a spreadsheet: digits with `,`, `_` or space grouping and an
/// optional fraction (rounded to the nearest whole unit); empty is 0.
fn parse_value(s: &str) -> Result<u64, ParseError> {
    let bad = || ParseError::Field { field: "value", message: format!("must be a whole number like 1200, not {s:?}") };
    let cleaned: String = s.trim().chars().filter(|c| !matches!(c, ',' | '_' | ' ')).collect();
    if cleaned.is_empty() {
        return Ok(0);
    }
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| NewLead::check_value(u64::MAX).unwrap_err())?;
    let round_up = fraction.starts_with(['5', '6', '7', '8', '9']);
    NewLead::check_value(whole.saturating_add(u64::from(round_up)))
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
            details: LeadDetails::default(),
            lease_until: None,
            extensions: 0,
            outcome: None,
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
    fn a_closing_outcome_closes_the_lead_and_contacted_keeps_it_claimed() {
        let mut lead = Lead::sample(Some("bob"), 3);
        lead.outcome = Some(Outcome::Contacted);
        assert_eq!(lead.status(), LeadStatus::Claimed);
        lead.outcome = Some(Outcome::Won);
        assert_eq!(lead.status(), LeadStatus::Closed);
        let json = serde_json::to_value(&lead).unwrap();
        assert_eq!((json["status"].as_str(), json["outcome"].as_str()), (Some("closed"), Some("won")));
        assert_eq!(serde_json::from_value::<Lead>(json).unwrap(), lead);
        assert!(serde_json::to_value(Lead::sample(None, 1)).unwrap().get("outcome").is_none());
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

    fn input(pairs: &[(&str, &str)]) -> LeadInput {
        let get = |k: &str| pairs.iter().find(|(f, _)| *f == k).map(|(_, v)| v.to_string());
        LeadInput {
            id: get("id"),
            name: get("name"),
            company: get("company"),
            value: get("value"),
            email: get("email"),
            phone: get("phone"),
            ..LeadInput::default()
        }
    }

    #[test]
    fn a_lead_from_outside_reports_every_bad_field() {
        let ok =
            NewLead::from_input(&input(&[("id", "L1"), ("name", "Ada"), ("company", "Acme"), ("value", "1,200.50")]));
        assert_eq!(ok.unwrap().value, 1201);
        let bad =
            NewLead::from_input(&input(&[("id", "x y"), ("company", "Acme"), ("value", "12k"), ("email", "ada@")]))
                .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["id", "name", "value", "email"]);
        assert!(bad.to_string().contains("name must not be empty"), "{bad}");
        assert!(bad.to_string().contains("value must be a whole number like 1200, not \"12k\""), "{bad}");
    }

    #[test]
    fn values_read_as_spreadsheets_write_them() {
        assert_eq!(parse_value(""), Ok(0));
        assert_eq!(parse_value("1 200"), Ok(1200));
        assert_eq!(parse_value("1200.49"), Ok(1200));
        assert!(parse_value("-5").is_err());
        assert!(parse_value(".5").is_err());
        assert!(parse_value("99999999999999999999999").is_err());
        assert!(parse_value(&NewLead::MAX_VALUE.to_string()).is_ok());
    }

    #[test]
    fn leads_without_details_still_decode() {
        let mut json = serde_json::to_value(Lead::sample(None, 1)).unwrap();
        assert!(json.get("email").is_none(), "absent details are left out: {json}");
        json["email"] = "ada@example.com".into();
        json["tags"] = serde_json::json!(["vip"]);
        let lead: Lead = serde_json::from_value(json).unwrap();
        assert_eq!(lead.details.email.unwrap().as_str(), "ada@example.com");
        assert_eq!(lead.details.tags.len(), 1);
    }

    #[test]
    fn a_lease_is_left_out_when_there_is_none_and_read_when_there_is() {
        let open = serde_json::to_value(Lead::sample(None, 1)).unwrap();
        assert!(open.get("lease_until").is_none() && open.get("extensions").is_none(), "{open}");
        let mut held = Lead::sample(Some("bob"), 2);
        held.lease_until = Some(61_000);
        held.extensions = 1;
        let json = serde_json::to_value(&held).unwrap();
        assert_eq!((json["lease_until"].as_i64(), json["extensions"].as_u64()), (Some(61_000), Some(1)));
        assert_eq!(serde_json::from_value::<Lead>(json).unwrap(), held);
        assert_eq!((held.lease_left(1_000), held.lease_left(70_000)), (Some(60_000), Some(0)));
        assert_eq!(Lead::sample(Some("bob"), 2).lease_left(1_000), None);
    }
}
