//! Transactions (1.8+, `Modules/Databases/Http/Databases/Transactions/*.php`): a staged list
//! of operations, applied together by a commit. The Transaction model is
//! `Response/Model/Transaction.php`.

use serde_json::{json, Map, Value};

use crate::time::{self, Timestamp};

/// `APP_LIMIT_DATABASE_TRANSACTION`: operations one transaction may stage.
pub const MAX_OPERATIONS: usize = 100;
/// `APP_DATABASE_TXN_TTL_MIN/MAX/DEFAULT`, in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=3600;
pub const TTL_DEFAULT: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Committed,
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Committed => "committed",
            Status::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
    Increment,
    Decrement,
}

impl Action {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            "increment" => Action::Increment,
            "decrement" => Action::Decrement,
            _ => return None,
        })
    }
}

/// One staged operation (a `transactionLogs` document).
#[derive(Debug, Clone)]
pub struct Operation {
    pub action: Action,
    pub database_id: String,
    pub collection_id: String,
    /// As the request spelled it.
    pub document_id: String,
    /// Attributes for create/update; `{"attribute","value","max"|"min"}` for increments.
    pub data: Map<String, Value>,
    pub permissions: Option<Vec<String>>,
    /// When it was staged: the commit checks the row was not changed after this.
    pub staged_at: Timestamp,
}

pub struct Transaction {
    pub id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub status: Status,
    pub expires_at: Timestamp,
    pub operations: Vec<Operation>,
    /// The user who created it (read/update/delete permissions); `None` for API keys.
    pub owner: Option<String>,
}

impl Transaction {
    pub fn to_json(&self) -> Value {
        json!({
            "$id": self.id,
            "$createdAt": time::format(&self.created_at),
            "$updatedAt": time::format(&self.updated_at),
            "status": self.status.name(),
            "operations": self.operations.len(),
            "expiresAt": time::format(&self.expires_at),
        })
    }
}
