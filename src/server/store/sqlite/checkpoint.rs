//! Checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside a commit and
//! holds up every write queued behind it; here the WAL is copied into the database file beside
//! the writer (PASSIVE: never blocking it or the readers), and the writer only finishes the job
//! (RESTART) between two groups when the log has grown past [`WAL_RESTART_FRAMES`].

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

/// How often committed pages are copied from the WAL into the database file (while there are
/// new commits).
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (pages) after which the log is made to start over.
pub(super) const WAL_RESTART_FRAMES: i64 = 4096;

/// What the writer and the checkpointer tell each other about the WAL.
#[derive(Default)]
pub(super) struct Wal {
    /// Groups committed so far; the checkpointer skips a round when nothing was committed.
    pub(super) commits: AtomicU64,
    /// The WAL has grown past [`WAL_RESTART_FRAMES`]: the writer should start it over.
    pub(super) restart: AtomicBool,
}

/// Runs a checkpoint; returns the frames in the WAL.
pub(super) fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    // Its row: (busy, frames in the WAL, frames copied).
    super::sql::query_row(conn, &format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}

/// Copies committed pages every [`CHECKPOINT_INTERVAL`] while there are new commits. The WAL
/// only starts over when a write begins with every frame copied, which a steady stream of
/// commits never allows; past the restart point the writer is asked to finish the job itself.
/// Ends when the writer (the owner of `wal`) is gone.
pub(super) fn checkpoint_loop(conn: Connection, wal: Weak<Wal>) {
    let mut seen = 0;
    loop {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        let Some(wal) = wal.upgrade() else { return };
        let commits = wal.commits.load(Ordering::Relaxed);
        if commits == seen {
            continue;
        }
        // Past the restart point, a second pass copies what arrived during the first, so that the
        // writer's RESTART, which holds up the writes behind it, has less left to do.
        let copied = checkpoint(&conn, "PASSIVE").and_then(|frames| {
            if frames > WAL_RESTART_FRAMES {
                checkpoint(&conn, "PASSIVE")
            } else {
                Ok(frames)
            }
        });
        match copied {
            Ok(frames) => {
                seen = commits;
                wal.restart.store(frames > WAL_RESTART_FRAMES, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
    }
}
