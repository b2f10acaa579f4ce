use super::{check_len, validated_string, ParseError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An account name: 2-32 of `a-z 0-9 . _ -`, starting with a letter or digit. Lower case only, so
/// that "Bob" and "bob" can never be two people. Every username is also a valid Appwrite user ID
/// (the Appwrite mode names users by their ID), and so are Appwrite's generated IDs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        check_len("username", &s, 2, 32)?;
        let ok = s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(ParseError::BadChars {
                field: "username",
                allowed: "lower-case letters, digits, '.', '_' and '-' (starting with a letter or digit)",
            });
        }
        Ok(Self(s))
    }
}

validated_string!(Username);

/// A password as typed. Serialised only on its way from the browser to the server (no answer
/// carries one), and its Debug output is redacted.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Password(String);

impl Password {
    pub fn parse(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        // NIST's minimum, and Appwrite's.
        check_len("password", &s, 8, 128)?;
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

impl From<Password> for String {
    fn from(p: Password) -> Self {
        p.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    Employee,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        s.parse().map_err(|_| ParseError::Invalid(format!("unknown role {s:?} (employee or manager)")))
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

/// A person's own cap on leads held at once, which a manager sets over the team's default
/// (`claims.max_held`): 1 to 1,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Cap(u32);

impl Cap {
    pub const MAX: u32 = 1_000;

    pub fn new(held: u32) -> Result<Self, ParseError> {
        if (1..=Self::MAX).contains(&held) {
            Ok(Self(held))
        } else {
            Err(ParseError::Field { field: "cap", message: format!("must be 1 to {}", Self::MAX) })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Cap {
    type Error = ParseError;
    fn try_from(held: u32) -> Result<Self, ParseError> {
        Self::new(held)
    }
}

impl From<Cap> for u32 {
    fn from(cap: Cap) -> u32 {
        cap.0
    }
}

/// An account as managers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: Username,
    pub role: Role,
    /// A disabled account cannot sign in and has no sessions.
    pub disabled: bool,
    /// The person's own cap; None: the team's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Cap>,
}

impl Account {
    pub fn info(&self) -> UserInfo {
        UserInfo { username: self.username.clone(), role: self.role }
    }
}

/// What a manager changes about an account: `{"set": "disabled", "to": true}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "set", content = "to", rename_all = "snake_case")]
pub enum AccountChange {
    Disabled(bool),
    Role(Role),
    Password(Password),
    /// A cap of the person's own, or None: back to the team's default.
    Cap(Option<Cap>),
}

impl AccountChange {
    /// Whether the change ends the account's sessions (and closes its boards): a disabled
    /// account or a new password must not stay signed in anywhere.
    pub fn ends_sessions(&self) -> bool {
        matches!(self, AccountChange::Disabled(true) | AccountChange::Password(_))
    }

    /// Whether the change can leave the team without an enabled manager.
    pub fn may_remove_a_manager(&self) -> bool {
        matches!(self, AccountChange::Disabled(true) | AccountChange::Role(Role::Employee))
    }

    /// Managers may not lock themselves out: no disabling or demoting their own account.
    pub fn check(&self, actor: &UserInfo, target: &Username) -> Result<(), ParseError> {
        let locks_out = matches!(self, AccountChange::Disabled(true) | AccountChange::Role(Role::Employee));
        if locks_out && &actor.username == target {
            return Err(ParseError::Invalid("you cannot disable or demote your own account".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_case_words() {
        assert!(Username::parse("user001").is_ok());
        assert!(Username::parse("Bob").is_err());
        assert!(Username::parse("65f1a2b3c4d5e6f7a8b9").is_ok(), "Appwrite's generated IDs");
        assert!(Username::parse("-bob").is_err());
        assert!(Username::parse("b").is_err());
        assert!(Username::parse("bob smith").is_err());
    }

    #[test]
    fn passwords_do_not_leak_in_debug() {
        let p = Password::parse("hunter22").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert!(Password::parse("abcdefg").is_err(), "under 8 characters");
    }

    #[test]
    fn account_changes_decode_and_managers_cannot_lock_themselves_out() {
        let change: AccountChange = serde_json::from_str(r#"{"set":"disabled","to":true}"#).unwrap();
        assert!(serde_json::from_str::<AccountChange>(r#"{"set":"password","to":"abc"}"#).is_err());
        assert!(serde_json::from_str::<AccountChange>(r#"{"set":"role","to":"admin"}"#).is_err());
        let maria = UserInfo { username: Username::parse("maria").unwrap(), role: Role::Manager };
        assert!(change.check(&maria, &maria.username).is_err());
        assert!(change.check(&maria, &Username::parse("bob").unwrap()).is_ok());
        assert!(AccountChange::Role(Role::Manager).check(&maria, &maria.username).is_ok());
        let cap: AccountChange = serde_json::from_str(r#"{"set":"cap","to":7}"#).unwrap();
        assert!(matches!(cap, AccountChange::Cap(Some(c)) if c.get() == 7));
        assert!(matches!(serde_json::from_str(r#"{"set":"cap","to":null}"#).unwrap(), AccountChange::Cap(None)));
        for bad in [r#"{"set":"cap","to":0}"#, r#"{"set":"cap","to":1001}"#, r#"{"set":"cap","to":-1}"#] {
            assert!(serde_json::from_str::<AccountChange>(bad).is_err(), "{bad}");
        }
        for role in [Role::Employee, Role::Manager] {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
    }
}
