//! How to reach the person behind a lead, and where the lead came from: contact name, email,
//! phone, source, tags and created time. Every part is optional; each one that is given is
//! validated on construction, and [`LeadInput`] collects the errors of all fields at once.

use super::{check_len, validated_string, Millis, ParseError};
use serde::{Deserialize, Serialize};

/// An email address in RFC 5322 syntax (checked by `email_address`), as typed less surrounding
/// space.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into().trim().to_owned();
        check_len("email", &s, 3, Self::MAX_LEN)?;
        if !email_address::EmailAddress::is_valid(&s) {
            return Err(ParseError::Field {
                field: "email",
                message: format!("must be an address like name@example.com, not {s:?}"),
            });
        }
        Ok(Self(s))
    }

    /// What two addresses of one person share: the address in lower case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

validated_string!(Email);

/// A phone number as typed: digits with the usual separators (space, `-`, `.`, parentheses), an
/// optional leading `+`, and 5 to 15 digits (E.164's most).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into().trim().to_owned();
        check_len("phone", &s, 1, 32)?;
        let body = s.strip_prefix('+').unwrap_or(&s);
        if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')')) {
            return Err(ParseError::BadChars {
                field: "phone",
                allowed: "digits, spaces, '-', '.', '(' and ')', after an optional leading '+'",
            });
        }
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if !(5..=15).contains(&digits) {
            return Err(ParseError::Field {
                field: "phone",
                message: format!("must have 5 to 15 digits, not {digits}"),
            });
        }
        Ok(Self(s))
    }

    /// What two spellings of one number share: its digits (`+1 (555) 010-2030` is `15550102030`).
    pub fn key(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }
}

validated_string!(Phone);

/// A label on a lead ("webinar", "eu"): 1-32 characters, no commas (they separate tags in a CSV
/// cell), no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 32;
    /// Tags one lead may carry.
    pub const MAX_PER_LEAD: usize = 20;

    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into().trim().to_owned();
        check_len("tags", &s, 1, Self::MAX_LEN)?;
        if s.chars().any(|c| c == ',' || c.is_control()) {
            return Err(ParseError::Field {
                field: "tags",
                message: "must not contain ',' or control characters".into(),
            });
        }
        Ok(Self(s))
    }

    /// Tags from one cell: separated by `,` (or `;`), blanks ignored, repeats (ignoring case) once.
    pub fn parse_list(s: &str) -> Result<Vec<Tag>, ParseError> {
        let mut tags: Vec<Tag> = Vec::new();
        for part in s.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
            let tag = Tag::parse(part)?;
            if !tags.iter().any(|t| t.0.eq_ignore_ascii_case(&tag.0)) {
                tags.push(tag);
            }
        }
        if tags.len() > Self::MAX_PER_LEAD {
            return Err(ParseError::Field {
                field: "tags",
                message: format!("must be at most {}", Self::MAX_PER_LEAD),
            });
        }
        Ok(tags)
    }

    /// The cell form of a list of tags, which [`Tag::parse_list`] reads back.
    pub fn join(tags: &[Tag]) -> String {
        tags.iter().map(Tag::as_str).collect::<Vec<_>>().join(", ")
    }
}

validated_string!(Tag);

/// The optional facts about a lead beyond what the board needs to show and claim it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadDetails {
    /// The person to talk to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// Where the lead came from ("website", "fair 2026", the CRM's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// When the lead came into being (set by the intake when not given). None only on leads from
    /// before leads had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Millis>,
}

impl LeadDetails {
    pub const MAX_TEXT: usize = 200;

    /// Whether `query` (already lower-cased) occurs in any of the details.
    pub fn matches(&self, query: &str) -> bool {
        let texts = [self.contact.as_deref(), self.email.as_ref().map(Email::as_str), self.source.as_deref()];
        texts.into_iter().flatten().any(|t| t.to_lowercase().contains(query))
            || self.phone.as_ref().is_some_and(|p| {
                let digits: String = query.chars().filter(char::is_ascii_digit).collect();
                p.as_str().contains(query) || (digits.len() >= 3 && p.key().contains(&digits))
            })
            || self.tags.iter().any(|t| t.as_str().to_lowercase().contains(query))
    }
}

/// A free-text detail: trimmed, empty is absent, at most [`LeadDetails::MAX_TEXT`] characters,
/// no control characters.
fn opt_text(field: &'static str, s: Option<&str>) -> Result<Option<String>, ParseError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    check_len(field, s, 1, LeadDetails::MAX_TEXT)?;
    if s.chars().any(char::is_control) {
        return Err(ParseError::Field { field, message: "must not contain control characters".into() });
    }
    Ok(Some(s.to_owned()))
}

/// A lead as it comes from outside (a CSV row, the intake API, the manager's form): every field
/// as text, absent or empty when not given. [`LeadInput::details`] and `NewLead::from_input`
/// validate it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub value: Option<String>,
    pub contact: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub source: Option<String>,
    pub tags: Option<String>,
    /// Already converted to milliseconds by whoever read the text (CSV dates, API numbers).
    pub created_at: Option<Millis>,
}

/// Every field that failed, in field order: `(field, reason)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub(crate) fn note<T>(&mut self, field: &'static str, r: Result<T, ParseError>) -> Option<T> {
        r.map_err(|e| self.0.push((field.to_owned(), e.to_string()))).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = self.0.iter().map(|(_, why)| why.as_str()).collect();
        f.write_str(&parts.join("; "))
    }
}

impl LeadInput {
    /// The details, each field checked; errors are added to `errors`.
    pub(crate) fn details(&self, errors: &mut FieldErrors) -> LeadDetails {
        let email = self.email.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let phone = self.phone.as_deref().map(str::trim).filter(|s| !s.is_empty());
        LeadDetails {
            contact: errors.note("contact", opt_text("contact", self.contact.as_deref())).flatten(),
            email: errors.note("email", email.map(Email::parse).transpose()).flatten(),
            phone: errors.note("phone", phone.map(Phone::parse).transpose()).flatten(),
            source: errors.note("source", opt_text("source", self.source.as_deref())).flatten(),
            tags: errors.note("tags", Tag::parse_list(self.tags.as_deref().unwrap_or(""))).unwrap_or_default(),
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_keyed_in_lower_case() {
        assert_eq!(Email::parse(" Ada@Example.com ").unwrap().as_str(), "Ada@Example.com");
        assert_eq!(Email::parse("Ada@Example.com").unwrap().key(), "ada@example.com");
        for bad in ["ada", "ada@", "@example.com", "a b@example.com"] {
            let e = Email::parse(bad).unwrap_err().to_string();
            assert!(e.contains("email"), "{bad}: {e}");
        }
    }

    #[test]
    fn phones_take_separators_but_not_letters() {
        let p = Phone::parse("+1 (555) 010-2030").unwrap();
        assert_eq!(p.key(), "15550102030");
        assert!(Phone::parse("030 1234.567").is_ok());
        assert!(Phone::parse("555-CALL-NOW").unwrap_err().to_string().contains("phone may contain only digits"));
        assert!(Phone::parse("12+34567").is_err(), "+ only at the start");
        assert!(Phone::parse("1234").unwrap_err().to_string().contains("5 to 15 digits"));
        assert!(Phone::parse("1234567890123456").is_err());
    }

    #[test]
    fn tags_split_on_commas_once_each() {
        let tags = Tag::parse_list("webinar, EU;eu , ,vip").unwrap();
        assert_eq!(Tag::join(&tags), "webinar, EU, vip");
        assert_eq!(Tag::parse_list(&Tag::join(&tags)).unwrap(), tags);
        assert!(Tag::parse_list(&"x".repeat(33)).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tag::parse_list(&many.join(",")).is_err());
    }

    #[test]
    fn every_bad_detail_is_reported_by_field() {
        let input = LeadInput {
            email: Some("not-an-email".into()),
            phone: Some("call me".into()),
            contact: Some("Ada\u{7}".into()),
            source: Some("  ".into()),
            ..LeadInput::default()
        };
        let mut errors = FieldErrors::default();
        let details = input.details(&mut errors);
        let fields: Vec<&str> = errors.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["contact", "email", "phone"]);
        assert_eq!(details.source, None, "blank is absent");
    }

    #[test]
    fn search_finds_contacts_tags_and_phone_digits() {
        let mut errors = FieldErrors::default();
        let d = LeadInput {
            contact: Some("Grace Hopper".into()),
            email: Some("grace@navy.mil".into()),
            phone: Some("+1 (555) 010-2030".into()),
            tags: Some("cobol".into()),
            source: Some("Fair".into()),
            ..LeadInput::default()
        }
        .details(&mut errors);
        assert!(errors.is_empty());
        for q in ["grace", "navy.mil", "555-010", "5550102", "cobol", "fair"] {
            assert!(d.matches(q), "{q}");
        }
        assert!(!d.matches("lovelace"));
    }
}
