//! Which Appwrite the project runs (`GET /v1/health/version`, asked once, before the first
//! Realtime connection or account call that depends on it), and what Leadboard does
//! differently for it. The claim protocol is the same on every version (see `verified_claim`);
//! what differs is the Realtime handshake, `ping`, and how memberships are listed.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AppwriteVersion(u32, u32, u32);

impl AppwriteVersion {
    pub const OLDEST_TESTED: AppwriteVersion = AppwriteVersion(1, 5, 0);
    pub const NEWEST_TESTED: AppwriteVersion = AppwriteVersion(1, 9, 6);

    /// `1.8.1`, `v1.5.11`, `1.9.0-rc1`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().trim_start_matches('v').split(['.', '-']).map(str::parse::<u32>);
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let patch = parts.next().and_then(Result::ok).unwrap_or(0);
        Some(AppwriteVersion(major, minor, patch))
    }

    /// Realtime answers `ping` with `pong` from 1.6.1; before, with error 1003 (which still
    /// proves the socket alive).
    pub fn answers_ping(self) -> bool {
        self >= AppwriteVersion(1, 6, 1)
    }

    /// From 1.9.5 a socket connects with the project only and subscribes by message; earlier
    /// ones take the channels in the URL.
    pub fn subscribes_by_message(self) -> bool {
        self >= AppwriteVersion(1, 9, 5)
    }

    /// `GET /users/{id}/memberships` takes queries and pages (25 a page) from 1.7.
    pub fn pages_user_memberships(self) -> bool {
        self >= AppwriteVersion(1, 7, 0)
    }

    /// Up to 1.9.0 a GET and the locking read behind `X-Appwrite-Timestamp` may be served from
    /// a stale document cache, so no update is truly conditional.
    pub fn cached_locking_read(self) -> bool {
        self < AppwriteVersion(1, 9, 5)
    }

    /// What the adapter does on this version, for the start-up log.
    pub fn protocol(self) -> String {
        let guard = if self.cached_locking_read() {
            "the timestamp guard may be checked against a cached row, so the lead document may lag its claim documents and is repaired"
        } else {
            "the timestamp guard reads the row itself"
        };
        let realtime = if self.subscribes_by_message() { "subscribe messages" } else { "channels in the URL" };
        let ping = if self.answers_ping() { "pong" } else { "error 1003 as the answer to ping" };
        format!(
            "claim documents decided and verified by list reads ({guard}); transactions unused; Realtime: {realtime}, {ping}"
        )
    }
}

impl fmt::Display for AppwriteVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_pick_each_difference() {
        let v = |s| AppwriteVersion::parse(s).unwrap();
        assert_eq!(v("v1.5.11"), AppwriteVersion(1, 5, 11));
        assert_eq!(v("1.9.0-rc1"), AppwriteVersion(1, 9, 0));
        assert_eq!(v("1.8"), AppwriteVersion(1, 8, 0));
        assert!(AppwriteVersion::parse("nonsense").is_none());
        assert!(!v("1.6.0").answers_ping() && v("1.6.1").answers_ping());
        assert!(!v("1.9.0").subscribes_by_message() && v("1.9.5").subscribes_by_message());
        assert!(!v("1.6.2").pages_user_memberships() && v("1.7.0").pages_user_memberships());
        assert!(v("1.9.0").cached_locking_read() && !v("1.9.6").cached_locking_read());
        assert_eq!(v("1.8.1").to_string(), "1.8.1");
    }
}
