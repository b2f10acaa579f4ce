//! Resource IDs: validation (`CustomId`/`UID`, backed by UDB `Validator\Key`) and `ID::unique()`.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::errors::ApiError;

const MAX_LENGTH: usize = 36;

/// The description UDB's `Validator\Key` gives for a rejected ID or key.
pub fn rule() -> String {
    format!("Parameter must contain at most {MAX_LENGTH} chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
}

/// Up to 36 chars of `a-zA-Z0-9._-`, not starting with `.`, `-` or `_`.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LENGTH
        && !id.starts_with(['.', '-', '_'])
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Validates an ID path/body parameter with Appwrite's error.
pub fn check(param: &str, id: &str) -> Result<(), ApiError> {
    if is_valid(id) {
        Ok(())
    } else {
        Err(ApiError::invalid_param(param, rule()))
    }
}

/// The key two IDs collide on: MariaDB compares `_uid` case-insensitively (utf8mb4 without
/// a binary collation), and valid IDs are ASCII.
pub fn fold(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// Resolves a custom ID parameter, where `unique()` asks the server to generate one.
pub fn custom(param: &str, id: &str) -> Result<String, ApiError> {
    if id == "unique()" {
        return Ok(unique());
    }
    check(param, id)?;
    Ok(id.to_owned())
}

/// Like `ID::unique()`: 13 hex digits of the clock in microseconds (PHP `uniqid()`) plus
/// 7 more; here a process-wide counter so IDs never collide.
pub fn unique() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = chrono::Utc::now().timestamp_micros();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x0fff_ffff;
    format!("{micros:013x}{n:07x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_appwrite() {
        assert!(is_valid("lead-1.a_b"));
        assert!(is_valid(&"a".repeat(36)));
        assert!(!is_valid(&"a".repeat(37)));
        assert!(!is_valid("_lead"));
        assert!(!is_valid("lead/1"));
        assert!(!is_valid(""));
        assert_eq!(unique().len(), 20);
        assert_ne!(unique(), unique());
    }
}
