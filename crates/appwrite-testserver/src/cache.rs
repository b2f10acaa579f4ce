//! The per-document cache of UDB `Database::getDocument` (Redis in Appwrite, 24 h TTL),
//! as the legacy cache model uses it. Entries are keyed by the ID *as requested*
//! (`getCacheKeys` puts `$documentId` verbatim into the key), so `lead-a` and `LEAD-A` are two
//! entries for one row; a purge removes only the spellings it names.

use std::collections::HashMap;

use chrono::TimeDelta;

use crate::document::Document;
use crate::time::{self, Timestamp};

/// `Database::TTL`.
const TTL: TimeDelta = TimeDelta::hours(24);

#[derive(Default)]
pub struct DocumentCache {
    entries: HashMap<String, (Document, Timestamp)>,
}

impl DocumentCache {
    /// The cached copy for this spelling of the ID, if saved less than 24 h ago.
    pub fn load(&self, requested_id: &str) -> Option<&Document> {
        let now = time::now();
        self.entries.get(requested_id).filter(|(_, saved)| now - *saved < TTL).map(|(doc, _)| doc)
    }

    pub fn save(&mut self, requested_id: &str, doc: &Document) {
        self.entries.insert(requested_id.to_owned(), (doc.clone(), time::now()));
    }

    /// `purgeCachedDocument` for each spelling given (UDB purges the requested ID and, when it
    /// differs, the stored `$id`).
    pub fn purge(&mut self, spellings: &[&str]) {
        for id in spellings {
            self.entries.remove(*id);
        }
    }
}
