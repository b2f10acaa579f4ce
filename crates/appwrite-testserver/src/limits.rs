//! Abuse limits (utopia-php/abuse `TimeLimit`): at most `limit` hits per key in a 60 s window;
//! the hit over the limit is refused and not counted. Appwrite aligns windows on the clock
//! minute; here a window starts at a key's first hit, so tests do not depend on the time of day.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct TimeLimit {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl TimeLimit {
    /// Counts a hit for `key`; false when it is over `limit` (`None`: no limit).
    pub fn allow(&self, key: &str, limit: Option<u32>) -> bool {
        let Some(limit) = limit else { return true };
        let mut windows = self.windows.lock().expect("time limits");
        let now = Instant::now();
        let (started, hits) = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*started) >= WINDOW {
            (*started, *hits) = (now, 0);
        }
        if *hits >= limit {
            return false;
        }
        *hits += 1;
        true
    }

    pub fn clear(&self) {
        self.windows.lock().expect("time limits").clear();
    }
}
