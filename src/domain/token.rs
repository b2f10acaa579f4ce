//! Intake API tokens as managers see them: a name, who made it, when it was last used, and
//! whether it is revoked. The secret itself is shown once, when the token is made, and is kept
//! only as a hash.

use super::{check_len, Millis, ParseError, Username};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Short and public: names the token in lists, logs and rate limits.
    pub id: String,
    pub name: String,
    pub created_by: Username,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl ApiToken {
    pub const MAX_NAME: usize = 60;

    /// A token's name ("Website contact form"): 1-60 characters, no control characters.
    pub fn parse_name(name: &str) -> Result<String, ParseError> {
        let name = name.trim();
        check_len("token name", name, 1, Self::MAX_NAME)?;
        if name.chars().any(char::is_control) {
            return Err(ParseError::Field {
                field: "token name",
                message: "must not contain control characters".into(),
            });
        }
        Ok(name.to_owned())
    }

    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// A token just made: the only time its secret is seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_short_plain_text() {
        assert_eq!(ApiToken::parse_name("  Website form ").unwrap(), "Website form");
        assert!(ApiToken::parse_name("").is_err());
        assert!(ApiToken::parse_name(&"x".repeat(61)).is_err());
        assert!(ApiToken::parse_name("a\nb").is_err());
    }
}
