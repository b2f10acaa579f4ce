//! The embedded store: one SQLite file in WAL mode.
//!
//! - `schema`: the numbered migrations (`PRAGMA user_version`);
//! - `writer`: every write goes through one connection, committed in groups;
//! - `checkpoint`: the WAL is copied back on a thread of its own;
//! - `prune`: events and claim attempts past the retention are deleted in the background;
//! - `health`: the readiness probe (can the store still write?);
//! - `claim`: the atomic claim (and "next lead"); `transitions`: release, reassign, extend,
//!   outcome and expiry, fenced by version; `rows`: a lead as a row;
//! - `leads`, `events`, `accounts`, `tokens`: the other statements, and the store port's traits.
//!
//! Reads use a small pool of separate connections, which WAL lets run beside the writer. The
//! claim itself is one conditional `UPDATE ... WHERE assignee IS NULL`, so the file stays correct
//! even if another process writes to it.

mod accounts;
mod checkpoint;
mod claim;
mod events;
mod health;
mod leads;
mod prune;
mod rows;
mod schema;
mod sql;
mod tokens;
mod transitions;
mod writer;

use super::{EventSink, StoreError};
use crate::domain::BoardEvent;
use crate::server::config::SqliteConfig;
use rusqlite::{Connection, OpenFlags};
use sql::{lock, query_row};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use writer::Writer;

const READERS: usize = 4;
/// Statements each connection keeps prepared: every statement the store runs fits.
const STATEMENT_CACHE: usize = 64;

pub struct SqliteStore {
    path: PathBuf,
    /// Made once per database file, so boards notice when the file is replaced.
    stream: String,
    writer: Arc<Writer>,
    readers: Arc<Readers>,
}

struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // NORMAL is durable across application crashes in WAL mode (only an OS crash can lose the
    // last commits), and saves an fsync per commit.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens the database file with the default settings (`SqliteConfig::at`).
    pub fn open(path: impl AsRef<Path>, sink: Arc<dyn EventSink>) -> Result<Self, StoreError> {
        Self::open_with(&SqliteConfig::at(path.as_ref()), sink)
    }

    /// Opens (creating if needed) the database file, brings its schema up to date, starts the
    /// checkpointer thread and (inside a tokio runtime) the pruning.
    pub fn open_with(cfg: &SqliteConfig, sink: Arc<dyn EventSink>) -> Result<Self, StoreError> {
        let path = cfg.path.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer_conn = open_conn(&path, OpenFlags::default())?;
        schema::migrate(&mut writer_conn)?;
        let stream = schema::stream_id(&writer_conn)?;
        let conns = (0..READERS)
            .map(|_| {
                open_conn(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map(Mutex::new)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Checkpoints run on their own thread (`checkpoint`), never inside a commit.
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 33554432;")?;
        if cfg.max_size_mb > 0.0 {
            let page: f64 = query_row(&writer_conn, "PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (cfg.max_size_mb * 1024.0 * 1024.0 / page).ceil() as i64;
            // Never below the file's size (SQLite keeps the larger of the two).
            writer_conn.pragma_update(None, "max_page_count", pages.max(1))?;
        }
        let checkpoint_conn = open_conn(&path, OpenFlags::default())?;
        let writer = Writer::new(writer_conn, sink);
        // Tools that open a file outside a runtime (and tests reading one) do not prune.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let keep = std::time::Duration::from_secs_f64(cfg.retention_days * 86_400.0);
            let every = std::time::Duration::from_secs(cfg.prune_every_secs);
            runtime.spawn(prune::prune_loop(Arc::downgrade(&writer), keep, every));
        }
        let wal = writer.wal();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint::checkpoint_loop(checkpoint_conn, wal))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Self { path, stream, writer, readers: Arc::new(Readers { conns, next: AtomicUsize::new(0) }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on one of the reader connections, on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let i = readers.next.fetch_add(1, Ordering::Relaxed) % readers.conns.len();
            f(&lock(&readers.conns[i]))
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?
    }

    /// Runs `f` inside a group transaction; answers after the commit.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(T, Vec<BoardEvent>), StoreError> + Send + 'static,
    {
        self.writer.submit(f).await
    }
}
#[cfg(test)]
mod tests {
    use super::checkpoint::{CHECKPOINT_INTERVAL, WAL_RESTART_FRAMES};
    use super::*;
    use crate::domain::{NewLead, Username};
    use crate::server::fanout::Hub;
    use crate::server::store::LeadStore;

    /// A steady stream of commits never leaves every WAL frame copied at the start of a write,
    /// so SQLite alone would never start the log over:
    /// the checkpointer and the writer must start it over again and again.
    #[tokio::test]
    async fn the_wal_starts_over_under_a_steady_stream_of_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadboard.db");
        let store = SqliteStore::open(&path, Arc::new(Hub::new())).unwrap();
        let actor = Username::parse("maria").unwrap();
        // Each commit (a lead and its event) writes at least one frame, three in practice: this
        // writes three times the restart point at least, over many checkpoint intervals.
        let started = std::time::Instant::now();
        let mut commits = 0;
        while commits < 3 * WAL_RESTART_FRAMES as usize || started.elapsed() < 10 * CHECKPOINT_INTERVAL {
            let lead = NewLead::parse(&format!("L{commits:05}"), "Ada Byron", "Analytical Engines", 100).unwrap();
            assert_eq!(store.add_leads(vec![lead], &actor).await.unwrap(), 1);
            commits += 1;
        }
        // The WAL header's checkpoint sequence number (bytes 12..16) counts the restarts.
        let mut header = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open(path.with_extension("db-wal")).unwrap(), &mut header)
            .unwrap();
        let restarts = u32::from_be_bytes(header[12..16].try_into().unwrap());
        assert!(restarts >= 2, "after {commits} commits the WAL started over {restarts} times");
        // Nothing was lost on the way.
        assert_eq!(store.snapshot().await.unwrap().leads.len(), commits);
    }
}
