//! Realtime events for document writes: the event names (`Event::generateEvents` and
//! `Event::mirrorCollectionEvents` in `src/Appwrite/Event/Event.php`), channels and reader
//! roles (`Realtime::fromPayload` in `src/Appwrite/Messaging/Adapter/Realtime.php`), 1.8.1.

use serde_json::{json, Value};

use crate::store::{Collection, Document};
use crate::time;
use crate::version::Version;

#[derive(Debug, Clone, Copy)]
pub enum DocumentAction {
    Create,
    Update,
    Delete,
}

impl DocumentAction {
    fn name(self) -> &'static str {
        match self {
            DocumentAction::Create => "create",
            DocumentAction::Update => "update",
            DocumentAction::Delete => "delete",
        }
    }
}

/// One published event, as the Realtime workers receive it from pub/sub.
#[derive(Debug)]
pub struct Event {
    pub events: Vec<String>,
    pub channels: Vec<String>,
    /// Roles allowed to receive it; `any` means everybody.
    pub roles: Vec<String>,
    pub timestamp: String,
    pub payload: Value,
}

impl Event {
    pub fn for_document(collection: &Collection, doc: &Document, action: DocumentAction, version: Version) -> Self {
        let (db, coll, id) = (doc.database_id.as_str(), collection.id.as_str(), doc.id.as_str());
        let channels = vec![
            "rows".to_owned(),
            format!("databases.{db}.tables.{coll}.rows"),
            format!("databases.{db}.tables.{coll}.rows.{id}"),
            "documents".to_owned(),
            format!("databases.{db}.collections.{coll}.documents"),
            format!("databases.{db}.collections.{coll}.documents.{id}"),
        ];
        let read = |perms: &[String]| -> Vec<String> {
            crate::permissions::roles_for(perms, crate::permissions::Action::Read).map(str::to_owned).collect()
        };
        let mut roles = read(&collection.permissions);
        if collection.document_security {
            roles.extend(read(&doc.permissions));
        }
        Event {
            events: document_event_names(db, coll, id, action),
            channels,
            roles,
            timestamp: time::format(&time::now()),
            payload: doc.to_json(version),
        }
    }

    /// The message sent to a subscriber (`app/realtime.php`: `{"type":"event","data":...}`);
    /// from 1.9.0 with the IDs of the subscriptions it matched.
    pub fn message(&self, subscriptions: Option<&[String]>) -> String {
        let mut data = json!({
            "events": self.events,
            "channels": self.channels,
            "timestamp": self.timestamp,
            "payload": self.payload,
        });
        if let Some(ids) = subscriptions {
            data["subscriptions"] = json!(ids);
        }
        json!({"type": "event", "data": data}).to_string()
    }
}

/// All names of a document event: for each pattern, from the most to the least specific,
/// every combination of IDs replaced by `*`, in the order `generateEvents` produces them,
/// each followed by its `tables`/`rows` mirror.
pub fn document_event_names(db: &str, coll: &str, id: &str, action: DocumentAction) -> Vec<String> {
    const KEYS: [&str; 3] = ["databaseId", "collectionId", "documentId"];
    let values = [db, coll, id];
    let base = "databases.[databaseId].collections.[collectionId].documents.[documentId]";
    let patterns = [
        format!("{base}.{}", action.name()),
        base.to_owned(),
        "databases.[databaseId].collections.[collectionId]".to_owned(),
        "databases.[databaseId]".to_owned(),
    ];
    let fill = |pattern: &str, wildcards: &[&str]| -> String {
        KEYS.iter().zip(values).fold(pattern.to_owned(), |acc, (key, value)| {
            let replacement = if wildcards.contains(key) { "*" } else { value };
            acc.replace(&format!("[{key}]"), replacement)
        })
    };
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    for pattern in &patterns {
        push(fill(pattern, &[]));
        push(fill(pattern, &KEYS));
        for key in KEYS {
            for current in KEYS {
                for sub in KEYS.into_iter().filter(|s| *s != current && *s != key) {
                    push(fill(pattern, &[sub]));
                    push(fill(pattern, &[sub, current]));
                    push(fill(pattern, &[current]));
                }
            }
        }
    }
    // Like PHP's str_replace, the mirror rewrites the whole name, IDs included.
    names
        .into_iter()
        .flat_map(|name| {
            let mirror = name.contains("collections").then(|| {
                name.replace("documents", "rows").replace("collections", "tables").replace("attributes", "columns")
            });
            std::iter::once(name).chain(mirror)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_wildcard_form() {
        let names = document_event_names("db", "leads", "l1", DocumentAction::Update);
        assert_eq!(names[0], "databases.db.collections.leads.documents.l1.update");
        assert_eq!(names[1], "databases.db.tables.leads.rows.l1.update");
        for expected in [
            "databases.*.collections.*.documents.*.update",
            "databases.db.collections.*.documents.*.update",
            "databases.*.collections.leads.documents.l1.update",
            "databases.db.collections.leads.documents.*.update",
            "databases.*.tables.*.rows.*.update",
            "databases.db.collections.leads.documents.l1",
            "databases.*.collections.*.documents.*",
            "databases.db.collections.leads",
            "databases.*.collections.*",
            "databases.db",
            "databases.*",
        ] {
            assert!(names.contains(&expected.to_owned()), "{expected}");
        }
        // 8 wildcard combinations for each document pattern, 4 for the collection one, 2 for
        // the database one; all but the database ones are mirrored.
        assert_eq!(names.len(), (8 + 8 + 4) * 2 + 2);
    }
}
