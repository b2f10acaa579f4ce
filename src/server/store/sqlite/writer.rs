//! Group commit without a writer thread. All writes go through one connection; whoever finds it
//! free runs whatever queued up meanwhile (its own job among them) as one transaction on its own
//! thread, each job in its own savepoint, then publishes the committed events in sequence order.
//! The others only wait for their answers: no write is handed to another thread and back.

use super::checkpoint::{checkpoint, Wal};
use super::sql::{exec, lock};
use crate::domain::BoardEvent;
use crate::server::store::{EventSink, StoreError};
use rusqlite::Connection;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use tokio::sync::oneshot;

/// Jobs committed together at most; bounds one transaction's size and how long it holds up the
/// thread that runs it.
const GROUP_COMMIT: usize = 64;

/// A unit of work: runs inside the group transaction and hands back the events it wrote and how
/// to answer its caller once the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> Staged + Send>;

struct Staged {
    events: Vec<BoardEvent>,
    failed: bool,
    finish: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

/// The write connection and the jobs waiting for it.
pub(super) struct Writer {
    conn: Mutex<Connection>,
    queue: Mutex<Vec<Job>>,
    sink: Arc<dyn EventSink>,
    /// Shared with the checkpointer, which stops once the writer is gone.
    wal: Arc<Wal>,
}

impl Writer {
    pub(super) fn new(conn: Connection, sink: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(Self { conn: Mutex::new(conn), queue: Mutex::default(), sink, wal: Arc::default() })
    }

    pub(super) fn wal(&self) -> std::sync::Weak<Wal> {
        Arc::downgrade(&self.wal)
    }

    /// Runs `f` inside a group transaction; answers after the commit. Events `f` returns are
    /// published only if the group commits.
    pub(super) async fn submit<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(T, Vec<BoardEvent>), StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| match f(conn) {
            Ok((value, events)) => Staged {
                events,
                failed: false,
                finish: Box::new(move |committed| {
                    let _ = tx.send(committed.map(|()| value));
                }),
            },
            Err(e) => Staged {
                events: Vec::new(),
                failed: true,
                finish: Box::new(move |_| {
                    let _ = tx.send(Err(e));
                }),
            },
        });
        lock(&self.queue).push(job);
        self.run();
        rx.await.map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }

    /// Runs one group if the connection is free. Jobs queued meanwhile found it busy and count on
    /// whoever held it: they go to a new task, so that this caller can answer now.
    fn run(self: &Arc<Self>) {
        let conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let turn = WriteTurn { writer: self, conn: Some(conn) };
        let jobs: Vec<Job> = {
            let mut queue = lock(&self.queue);
            let n = queue.len().min(GROUP_COMMIT);
            queue.drain(..n).collect()
        };
        if !jobs.is_empty() {
            self.commit(turn.conn.as_ref().expect("held until dropped"), jobs);
        }
    }

    fn commit(&self, conn: &Connection, jobs: Vec<Job>) {
        if self.wal.restart.swap(false, Ordering::Relaxed) {
            if let Err(e) = checkpoint(conn, "RESTART") {
                tracing::warn!(error = %e, "WAL restart failed; retrying later");
            }
        }
        let mut staged = Vec::with_capacity(jobs.len());
        let committed = run_group(conn, jobs, &mut staged);
        if committed.is_ok() {
            self.wal.commits.fetch_add(1, Ordering::Relaxed);
        } else {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for s in staged {
            if committed.is_ok() && !s.failed {
                self.sink.publish_all(&s.events);
            }
            (s.finish)(committed.clone().map_err(StoreError::Unavailable));
        }
    }
}

/// One turn at the write connection. Ending it (also when a job panics) hands the jobs queued
/// meanwhile to a new task: their callers count on whoever had the turn, and would otherwise
/// wait for an unrelated write.
struct WriteTurn<'a> {
    writer: &'a Arc<Writer>,
    conn: Option<MutexGuard<'a, Connection>>,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        drop(self.conn.take());
        if !lock(&self.writer.queue).is_empty() {
            let writer = self.writer.clone();
            tokio::spawn(async move { writer.run() });
        }
    }
}

/// One group transaction. A job that fails is rolled back to its savepoint alone.
fn run_group(conn: &Connection, jobs: Vec<Job>, staged: &mut Vec<Staged>) -> Result<(), String> {
    // A group that panicked left its transaction open; it never committed.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let mut jobs = jobs.into_iter();
    let result = (|| {
        exec(conn, "BEGIN IMMEDIATE", [])?;
        for job in jobs.by_ref() {
            exec(conn, "SAVEPOINT job", [])?;
            let s = job(conn);
            let failed = s.failed;
            // Staged before the rollback: a full disk makes SQLite roll back the whole
            // transaction itself, the savepoint is gone, and the failed job must still be
            // answered with its own error (the reason), not dropped.
            staged.push(s);
            if failed {
                exec(conn, "ROLLBACK TO job", [])?;
            }
            exec(conn, "RELEASE job", [])?;
        }
        exec(conn, "COMMIT", []).map(drop)
    })()
    .map_err(|e: rusqlite::Error| format!("commit failed: {e}"));
    // Jobs that never ran because the transaction broke early are dropped with their reply
    // channels, which their callers see as "not committed".
    drop(jobs);
    result
}
