//! A document as stored, and its Document model in each version's form
//! (`src/Appwrite/Utopia/Response/Model/Document.php`).

use serde_json::{json, Map, Value};

use crate::time::{self, Timestamp};
use crate::version::{SequenceForm, Version};

#[derive(Debug, Clone)]
pub struct Document {
    pub id: String,
    pub sequence: u64,
    pub database_id: String,
    pub collection_id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub permissions: Vec<String>,
    pub data: Map<String, Value>,
}

impl Document {
    /// The Document model of `version`: system fields first, then the attributes.
    pub fn to_json(&self, version: Version) -> Value {
        let mut out = Map::new();
        out.insert("$id".into(), json!(self.id));
        match version.sequence() {
            SequenceForm::Absent => {}
            SequenceForm::Integer => {
                out.insert("$sequence".into(), json!(self.sequence));
            }
            SequenceForm::String => {
                out.insert("$sequence".into(), json!(self.sequence.to_string()));
            }
        }
        out.insert("$collectionId".into(), json!(self.collection_id));
        out.insert("$databaseId".into(), json!(self.database_id));
        out.insert("$createdAt".into(), json!(time::format(&self.created_at)));
        out.insert("$updatedAt".into(), json!(time::format(&self.updated_at)));
        out.insert("$permissions".into(), json!(self.permissions));
        out.extend(self.data.clone());
        Value::Object(out)
    }
}
