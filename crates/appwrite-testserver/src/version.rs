//! Version profiles: which Appwrite release the server imitates. Each difference is one
//! method here, so handlers ask "does this version do X" instead of comparing versions.
//! The table, and the Appwrite source each row comes from, is in the README.

use std::fmt;
use std::str::FromStr;

/// A supported Appwrite release, oldest first (so `<` means "older than").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V1_5,
    V1_6_0,
    V1_7,
    V1_8,
    V1_9_0,
    V1_9_6,
}

/// How `$sequence` appears on documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceForm {
    Absent,
    Integer,
    String,
}

/// The document cache model (UDB `Database::getDocument` / `updateDocument`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Up to 1.9.0 (UDB up to 5.3.17): the locking read of an update is served from the
    /// cache, and the cache is purged only inside the write transaction, before the commit.
    Legacy,
    /// No document cache: every read sees the committed row (what 1.9.5+ amounts to for
    /// reads of one ID spelling, after UDB ef47859a and 633b776b).
    Off,
}

impl FromStr for CacheMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "legacy" | "on" => Ok(CacheMode::Legacy),
            "off" => Ok(CacheMode::Off),
            other => Err(format!("unknown document cache mode {other:?} (legacy|on|off)")),
        }
    }
}

impl Version {
    pub const ALL: [Version; 6] =
        [Version::V1_5, Version::V1_6_0, Version::V1_7, Version::V1_8, Version::V1_9_0, Version::V1_9_6];

    /// The profile used when none is given: the newest.
    pub const NEWEST: Version = Version::V1_9_6;

    /// The profile name accepted by `--appwrite-version`.
    pub fn name(self) -> &'static str {
        match self {
            Version::V1_5 => "1.5",
            Version::V1_6_0 => "1.6.0",
            Version::V1_7 => "1.7",
            Version::V1_8 => "1.8",
            Version::V1_9_0 => "1.9.0",
            Version::V1_9_6 => "1.9.6",
        }
    }

    /// The release string reported by `/v1/health/version` and in error bodies: the last
    /// patch release of the line the profile follows.
    pub fn release(self) -> &'static str {
        match self {
            Version::V1_5 => "1.5.11",
            Version::V1_6_0 => "1.6.0",
            Version::V1_7 => "1.7.4",
            Version::V1_8 => "1.8.1",
            Version::V1_9_0 => "1.9.0",
            Version::V1_9_6 => "1.9.6",
        }
    }

    /// Realtime `ping` is answered with `pong` from 1.6.1; before, it is an unknown type.
    pub fn answers_ping(self) -> bool {
        self >= Version::V1_7
    }

    pub fn sequence(self) -> SequenceForm {
        match self {
            v if v < Version::V1_8 => SequenceForm::Absent,
            Version::V1_8 => SequenceForm::Integer,
            _ => SequenceForm::String,
        }
    }

    /// API keys may set `$createdAt`/`$updatedAt` from 1.8 (`withPreserveDates`).
    pub fn key_sets_dates(self) -> bool {
        self >= Version::V1_8
    }

    /// Values one query may carry (`APP_DATABASE_QUERY_MAX_VALUES`).
    pub fn max_query_values(self) -> usize {
        if self >= Version::V1_7 {
            500
        } else {
            100
        }
    }

    /// Adding an existing member with a key: `team_invite_already_exists` until 1.6.1,
    /// `membership_already_confirmed` from 1.6.2.
    pub fn duplicate_membership_is_invite_error(self) -> bool {
        self <= Version::V1_6_0
    }

    /// `user_blocked` is 401 until 1.8, 403 from 1.9.0.
    pub fn user_blocked_status(self) -> u16 {
        if self >= Version::V1_9_0 {
            403
        } else {
            401
        }
    }

    /// `GET /users/{id}/memberships` takes queries and pages (25 by default) from 1.7.
    pub fn pages_user_memberships(self) -> bool {
        self >= Version::V1_7
    }

    /// Transactions and increment/decrement exist from 1.8.
    pub fn has_transactions(self) -> bool {
        self >= Version::V1_8
    }

    /// Realtime `connected` and `event` messages carry `subscriptions` from 1.9.0.
    pub fn realtime_subscriptions(self) -> bool {
        self >= Version::V1_9_0
    }

    /// `subscribe`/`unsubscribe` messages, and connecting without channels, from 1.9.5.
    pub fn realtime_subscribe_messages(self) -> bool {
        self >= Version::V1_9_6
    }

    /// The document cache model a profile runs with unless told otherwise.
    pub fn default_cache(self) -> CacheMode {
        if self <= Version::V1_9_0 {
            CacheMode::Legacy
        } else {
            CacheMode::Off
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Version {
    type Err = String;

    /// Accepts the profile names, and any release of a profile's line (`1.8.0`, `1.5.11`).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_start_matches('v');
        if let Some(v) = Version::ALL.into_iter().find(|v| v.name() == text || v.release() == text) {
            return Ok(v);
        }
        let unknown = || {
            let names: Vec<&str> = Version::ALL.iter().map(|v| v.name()).collect();
            format!("unknown Appwrite version {text:?} (one of {})", names.join(", "))
        };
        let mut parts = text.split('.').map(str::parse::<u32>);
        let (Some(Ok(1)), Some(Ok(minor)), patch) = (parts.next(), parts.next(), parts.next()) else {
            return Err(unknown());
        };
        let patch = match patch {
            None => 0,
            Some(Ok(p)) => p,
            Some(Err(_)) => return Err(unknown()),
        };
        match (minor, patch) {
            (5, _) => Ok(Version::V1_5),
            (6, 0) => Ok(Version::V1_6_0),
            (7, _) => Ok(Version::V1_7),
            (8, _) => Ok(Version::V1_8),
            (9, p) if p < 5 => Ok(Version::V1_9_0),
            (9, _) => Ok(Version::V1_9_6),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profile_names_and_releases_of_their_line() {
        for v in Version::ALL {
            assert_eq!(v.name().parse::<Version>(), Ok(v));
            assert_eq!(v.release().parse::<Version>(), Ok(v));
        }
        assert_eq!("1.8.0".parse::<Version>(), Ok(Version::V1_8));
        assert_eq!("1.9.5".parse::<Version>(), Ok(Version::V1_9_6));
        assert!("1.6.1".parse::<Version>().is_err(), "1.6.1 and 1.6.2 have no profile");
        assert!("2.0".parse::<Version>().is_err());
        assert!("nonsense".parse::<Version>().is_err());
    }
}
