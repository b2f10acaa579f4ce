//! The business vocabulary, shared by the server and the browser: types that are valid by
//! construction, and the pure rules that decide claims and apply events. No I/O lives here.

pub mod board;
pub mod claim;
pub mod contact;
pub mod event;
pub mod import;
pub mod lead;
pub mod outcome;
pub mod report;
pub mod step;
pub mod token;
pub mod user;

pub use board::{Applied, BoardState};
pub use claim::{ClaimOutcome, ClaimReply, ClaimTerms, NextOrder, NextReply, RuleError};
pub use contact::{Email, FieldErrors, LeadDetails, LeadInput, Phone, Tag};
pub use event::{BoardEvent, Change};
pub use lead::{Lead, LeadFilter, LeadId, LeadStatus, NewLead};
pub use outcome::{Note, Outcome};
pub use report::{OutcomeReport, PersonOutcomes};
pub use step::{Holding, Step};
pub use token::{ApiToken, NewToken};
pub use user::{Account, AccountChange, Cap, Password, Role, UserInfo, Username};

/// Why a value from outside could not become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} is too short (at least {min} characters)")]
    TooShort { field: &'static str, min: usize },
    #[error("{field} may contain only {allowed}")]
    BadChars { field: &'static str, allowed: &'static str },
    /// A field's value that breaks a rule other than length or alphabet.
    #[error("{field} {message}")]
    Field { field: &'static str, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The conversions every validated string type shares: serde parses it through `TryFrom<String>`
/// (so invalid input never becomes a value) and writes it out as the plain string.
macro_rules! validated_string {
    ($t:ident) => {
        impl TryFrom<String> for $t {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> Self {
                v.0
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use validated_string;

/// Checks length bounds counted in characters, not bytes.
pub(crate) fn check_len(field: &'static str, s: &str, min: usize, max: usize) -> Result<(), ParseError> {
    let n = s.chars().count();
    if n == 0 {
        Err(ParseError::Empty { field })
    } else if n < min {
        Err(ParseError::TooShort { field, min })
    } else if n > max {
        Err(ParseError::TooLong { field, max })
    } else {
        Ok(())
    }
}

/// Milliseconds since the Unix epoch: the one clock unit on the wire.
pub type Millis = i64;
