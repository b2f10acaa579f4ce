//! Whether the store can take writes: a full disk (or the configured size limit) answers reads
//! and refuses every write, so a read alone would call it ready while every claim fails.

use super::sql::{exec, query_row};
use super::SqliteStore;
use crate::server::store::StoreError;

/// Bytes the probe writes: more than a page, so that it needs room the way a claim does.
const PROBE_BYTES: i64 = 8192;

impl SqliteStore {
    /// Reads, then commits a small write that needs new pages (and takes it back in the same
    /// transaction, so the file does not grow). Errs (503) when either fails.
    pub(super) async fn probe(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(query_row(conn, "SELECT 1", [], |_| Ok(()))?)).await?;
        self.write(|conn| {
            exec(
                conn,
                "INSERT INTO meta (key, value) VALUES ('write-probe', hex(randomblob(?1)))
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [PROBE_BYTES / 2],
            )?;
            exec(conn, "DELETE FROM meta WHERE key = 'write-probe'", [])?;
            Ok(((), Vec::new()))
        })
        .await
    }
}
