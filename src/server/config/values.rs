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

/// An amount of time (minutes, seconds; fractions allowed) that must be finite and not negative.
pub(super) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let n = f64::deserialize(d)?;
    if n.is_finite() && n >= 0.0 {
        Ok(n)
    } else {
        Err(serde::de::Error::custom("must be a number of at least 0"))
    }
}

/// How often something runs (seconds; fractions allowed): finite and above 0.
pub(super) fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let n = f64::deserialize(d)?;
    if n.is_finite() && n > 0.0 {
        Ok(n)
    } else {
        Err(serde::de::Error::custom("must be a number above 0"))
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

/// A list, written as a list in the file or as one text of items separated by commas or spaces
/// (how an environment variable spells it).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => s.split([',', ' ']).map(str::to_owned).collect(),
    };
    Ok(items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

/// Host names (lower case), as the `Host` header carries them without the port.
pub(super) fn host_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list(d)?
        .into_iter()
        .map(|s| {
            let host = s.to_ascii_lowercase();
            let ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if ok {
                Ok(host)
            } else {
                Err(invalid(&s, "host names without scheme or port, e.g. leads.example.com"))
            }
        })
        .collect()
}

/// IP addresses or networks (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`), as networks.
pub(super) fn ip_networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    list(d)?
        .into_iter()
        .map(|s| match (s.parse::<ipnet::IpNet>(), s.parse::<std::net::IpAddr>()) {
            (Ok(net), _) => Ok(net.to_string()),
            (_, Ok(ip)) => Ok(ipnet::IpNet::from(ip).to_string()),
            _ => Err(invalid(&s, "IP addresses or networks, e.g. 10.0.0.1 or 10.0.0.0/8")),
        })
        .collect()
}

/// An IPv6 prefix length: 1 to 128.
pub(super) fn ipv6_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = u8::deserialize(d)?;
    if (1..=128).contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom("must be a prefix length from 1 to 128 (64 groups a household or a host)"))
    }
}
