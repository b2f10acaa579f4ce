//! What became of a claimed lead: the outcomes its holder records, and which of them take it out
//! of the pool.

use super::{validated_string, ParseError};
use serde::{Deserialize, Serialize};

/// What the holder recorded. Every outcome but `Contacted` closes the lead: it leaves the open
/// pool for good (only a manager can reopen it) and no longer counts toward its holder's cap.
/// `Contacted` keeps the lead held (and counted) but ends its lease: the rep is working it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Contacted,
    Qualified,
    Disqualified,
    Won,
    Lost,
}

impl Outcome {
    pub const ALL: [Outcome; 5] =
        [Outcome::Contacted, Outcome::Qualified, Outcome::Disqualified, Outcome::Won, Outcome::Lost];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether it takes the lead out of the pool.
    pub fn closes(self) -> bool {
        self != Outcome::Contacted
    }

    /// The word a board shows.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Contacted => "Contacted",
            Outcome::Qualified => "Qualified",
            Outcome::Disqualified => "Disqualified",
            Outcome::Won => "Won",
            Outcome::Lost => "Lost",
        }
    }
}

/// The short note that goes with an outcome: trimmed, at most `MAX` characters, line breaks
/// allowed but no other control characters. May be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Note(String);

impl Note {
    pub const MAX: usize = 500;

    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into().trim().replace("\r\n", "\n");
        if s.chars().count() > Self::MAX {
            return Err(ParseError::TooLong { field: "note", max: Self::MAX });
        }
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ParseError::Field { field: "note", message: "must not contain control characters".into() });
        }
        Ok(Self(s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

validated_string!(Note);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contacted_keeps_the_lead_in_play() {
        assert_eq!(Outcome::ALL.iter().filter(|o| !o.closes()).collect::<Vec<_>>(), [&Outcome::Contacted]);
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
        }
        assert!("called".parse::<Outcome>().is_err());
    }

    #[test]
    fn notes_are_short_trimmed_text() {
        assert_eq!(
            Note::parse("  left a voicemail\r\ncall back Monday ").unwrap().as_str(),
            "left a voicemail\ncall back Monday"
        );
        assert!(Note::parse("").unwrap().is_empty());
        assert!(Note::parse("x".repeat(Note::MAX + 1)).is_err());
        assert!(Note::parse("bell\u{7}").is_err());
        assert!(serde_json::from_value::<Note>("a\u{0}b".into()).is_err());
    }
}
