use super::{check_len, ParseError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An account name: 2-32 of `a-z 0-9 . _ -`, starting with a letter. Lower case only, so that
/// "Bob" and "bob" can never be two people.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        check_len("username", &s, 2, 32)?;
        let ok = s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(ParseError::BadChars {
                field: "username",
                allowed: "lower-case letters, digits, '.', '_' and '-' (starting with a letter)",
            });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed. Never serialised back out, and its Debug output is redacted.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        check_len("password", &s, 4, 128)?;
        Ok(Self(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Employee,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employee => "employee",
            Role::Manager => "manager",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "employee" => Ok(Role::Employee),
            "manager" => Ok(Role::Manager),
            other => Err(ParseError::Invalid(format!("unknown role {other:?} (employee or manager)"))),
        }
    }
}

/// The signed-in user as the browser knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: Username,
    pub role: Role,
}

impl UserInfo {
    pub fn is_manager(&self) -> bool {
        self.role == Role::Manager
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_case_words() {
        assert!(Username::parse("user001").is_ok());
        assert!(Username::parse("Bob").is_err());
        assert!(Username::parse("1bob").is_err());
        assert!(Username::parse("b").is_err());
        assert!(Username::parse("bob smith").is_err());
    }

    #[test]
    fn passwords_do_not_leak_in_debug() {
        let p = Password::parse("hunter22").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert!(Password::parse("abc").is_err());
    }
}
