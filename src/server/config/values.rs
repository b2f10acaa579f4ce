//! Checks for setting values that plain types do not express, run while the settings are
//! deserialized (so an error names the key and where it came from).

use serde::{Deserialize, Deserializer};

fn invalid<E: serde::de::Error>(value: &str, expected: &str) -> E {
    E::invalid_value(serde::de::Unexpected::Str(value), &expected)
}

/// An `http(s)://` URL, without a trailing `/`.
pub(super) fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let s = s.trim().trim_end_matches('/');
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(s.to_owned())
    } else {
        Err(invalid(
            s,
            "a URL starting with https:// (or http:// for a local test server), e.g. https://cloud.appwrite.io/v1",
        ))
    }
}

/// A `ws(s)://` URL.
pub(super) fn ws_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.starts_with("wss://") || s.starts_with("ws://") {
        Ok(Some(s))
    } else {
        Err(invalid(&s, "a URL starting with wss:// or ws://"))
    }
}

/// An Appwrite ID: the same rules as a lead's ID.
pub(super) fn appwrite_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    crate::domain::LeadId::parse(s.as_str())
        .map(String::from)
        .map_err(|_| invalid(&s, "an Appwrite ID: 1-36 of a-z A-Z 0-9 . - _, starting with a letter or digit"))
}

pub(super) fn opt_appwrite_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    appwrite_id(d).map(Some)
}

/// An attribute key, or `$id` for the document ID.
pub(super) fn id_attribute<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s == "$id" || crate::domain::LeadId::parse(s.as_str()).is_ok() {
        Ok(s)
    } else {
        Err(invalid(&s, "`$id` or an attribute key: 1-36 of a-z A-Z 0-9 . - _"))
    }
}

pub(super) fn email<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<email_address::EmailAddress>().map(|_| s.clone()).map_err(|_| invalid(&s, "an email address"))
}

pub(super) fn domain_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let ok = s.contains('.')
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
    if ok {
        Ok(s)
    } else {
        Err(invalid(&s, "a domain name"))
    }
}

/// A password Appwrite accepts: at least 8 characters.
pub(super) fn password<'de, D: Deserializer<'de>>(d: D) -> Result<secrecy::SecretString, D::Error> {
    let s = String::deserialize(d)?;
    if s.chars().count() >= 8 {
        Ok(s.into())
    } else {
        Err(serde::de::Error::custom("must have at least 8 characters (Appwrite's minimum)"))
    }
}

/// A count or a duration that must not be zero (a limit of 0 would refuse everything).
pub(super) fn positive<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq,
{
    let n = T::deserialize(d)?;
    if n == T::default() {
        Err(serde::de::Error::custom("must be at least 1"))
    } else {
        Ok(n)
    }
}

/// A timeout in milliseconds: at least 100.
pub(super) fn timeout_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = u64::deserialize(d)?;
    if n >= 100 {
        Ok(n)
    } else {
        Err(serde::de::Error::custom("must be at least 100 (milliseconds)"))
    }
}
