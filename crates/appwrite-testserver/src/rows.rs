//! Row locks: what `SELECT ... FOR UPDATE` and `UPDATE` hold until their transaction ends.
//! They only matter while a write is paused between its steps (the cache faults); without
//! pauses every write runs its steps under one store lock and never waits here.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::ids;
use crate::AppState;

/// Database, collection and case-folded document ID.
pub type RowKey = (String, String, String);

pub fn key(db: &str, coll: &str, id: &str) -> RowKey {
    (db.to_owned(), coll.to_owned(), ids::fold(id))
}

#[derive(Default)]
pub struct Rows {
    held: Mutex<HashSet<RowKey>>,
    released: Notify,
}

impl Rows {
    /// A future woken by the next release; take it before checking, then await it.
    pub fn released(&self) -> Notified<'_> {
        self.released.notified()
    }

    /// Takes the lock if nobody holds it.
    pub fn try_lock(&self, key: &RowKey) -> bool {
        self.held.lock().expect("row locks").insert(key.clone())
    }

    /// Takes all the locks if nobody holds any of them, else none.
    pub fn try_lock_all(&self, keys: &[RowKey]) -> bool {
        let mut held = self.held.lock().expect("row locks");
        if keys.iter().any(|key| held.contains(key)) {
            return false;
        }
        held.extend(keys.iter().cloned());
        true
    }

    fn unlock(&self, key: &RowKey) {
        self.held.lock().expect("row locks").remove(key);
        self.released.notify_waiters();
    }
}

/// A held row lock, released when dropped (commit, rollback or error).
pub struct RowLock {
    state: AppState,
    key: RowKey,
}

impl RowLock {
    /// Wraps a lock just taken with [`Rows::try_lock`].
    pub fn held(state: &AppState, key: RowKey) -> Self {
        RowLock { state: state.clone(), key }
    }

    /// Waits for the row and takes it.
    pub async fn acquire(state: &AppState, key: RowKey) -> Self {
        loop {
            let released = state.rows.released();
            if state.rows.try_lock(&key) {
                return RowLock::held(state, key);
            }
            released.await;
        }
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        self.state.rows.unlock(&self.key);
    }
}
