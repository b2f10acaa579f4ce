//! The embedded store: one SQLite file in WAL mode.
//!
//! All writes go through one connection and commit in groups: whoever finds it free runs
//! whatever queued up meanwhile as one transaction (each job in its own savepoint), then
//! publishes the committed events in sequence order. Reads use a small pool of separate
//! connections, which WAL lets run beside the writer; checkpoints run on a thread of their own.
//! The claim itself is still one conditional `UPDATE ... WHERE assignee IS NULL`, so the file
//! stays correct even if another process writes to it.

use super::{passwords, AccountStore, EventSink, LeadStore, StoreError, UserUpdate};
use crate::domain::claim::{check_reassign, check_release, judge_unapplied};
use crate::domain::{
    Account, BoardEvent, Change, ClaimOutcome, ClaimReply, Lead, LeadId, Millis, NewLead, Password, Role, RuleError,
    UserInfo, Username,
};
use crate::protocol::Snapshot;
use crate::server::now_ms;
use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Params, Row};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

const READERS: usize = 4;
/// Jobs committed together at most; bounds one transaction's size and how long it holds up the
/// thread that runs it.
const GROUP_COMMIT: usize = 64;
/// How often committed pages are copied from the WAL into the database file (while there are
/// new commits).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (pages) after which the log is made to start over: about 16 MB.
const WAL_RESTART_FRAMES: i64 = 4096;
/// Statements each connection keeps prepared: every statement the store runs fits.
const STATEMENT_CACHE: usize = 64;
const LEAD_COLS: &str = "id, name, company, value, assignee, version, claimed_at, updated_at";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('employee', 'manager')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leads (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    company    TEXT NOT NULL,
    value      INTEGER NOT NULL CHECK (value >= 0),
    assignee   TEXT REFERENCES users(username),
    version    INTEGER NOT NULL,
    claimed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq     INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claim_attempts (
    id          INTEGER PRIMARY KEY,
    lead_id     TEXT NOT NULL,
    claimant    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    winner      TEXT,
    received_at INTEGER NOT NULL,
    decided_at  INTEGER NOT NULL
);
";

/// A unit of work for the writer: runs inside the group transaction and hands back the
/// events it wrote and how to answer its caller once the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> Staged + Send>;

struct Staged {
    events: Vec<BoardEvent>,
    failed: bool,
    finish: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

pub struct SqliteStore {
    path: PathBuf,
    /// Made once per database file, so boards notice when the file is replaced.
    stream: String,
    writer: Arc<Writer>,
    readers: Arc<Readers>,
}

/// The write connection and the jobs waiting for it: group commit without a writer thread.
/// Whoever finds the connection free runs the queued jobs (its own among them) as one
/// transaction on its own thread; the others only wait for their answers. Handing every write
/// to a thread of its own and back cost two thread wake-ups per claim.
struct Writer {
    conn: Mutex<Connection>,
    queue: Mutex<Vec<Job>>,
    sink: Arc<dyn EventSink>,
    wal: Wal,
}

/// A lock whose holder panicked is still usable: the next group rolls back a transaction it
/// left open.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Readers {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                StoreError::Unavailable("the database is locked".into())
            }
            other => StoreError::Internal(other.to_string()),
        }
    }
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
    /// Opens (creating if needed) the database file and starts the checkpointer thread.
    pub fn open(path: impl AsRef<Path>, sink: Arc<dyn EventSink>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let writer_conn = open_conn(&path, OpenFlags::default())?;
        writer_conn.execute_batch(SCHEMA)?;
        // Files created before accounts could be disabled.
        let has_disabled: bool = writer_conn.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'disabled'",
            [],
            |r| r.get(0),
        )?;
        if !has_disabled {
            writer_conn.execute_batch("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")?;
        }
        let mut fresh = [0u8; 8];
        rand::fill(&mut fresh);
        let fresh: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        writer_conn
            .execute("INSERT INTO meta (key, value) VALUES ('stream', ?1) ON CONFLICT (key) DO NOTHING", [&fresh])?;
        let stream = writer_conn.query_row("SELECT value FROM meta WHERE key = 'stream'", [], |r| r.get(0))?;
        let conns = (0..READERS)
            .map(|_| {
                let c = open_conn(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
                Ok(Mutex::new(c))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // SQLite's own checkpoints run inside a commit and stalled every claim queued behind
        // it for milliseconds; ours run on a thread of their own.
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 33554432;")?;
        let checkpoint_conn = open_conn(&path, OpenFlags::default())?;
        let writer =
            Arc::new(Writer { conn: Mutex::new(writer_conn), queue: Mutex::default(), sink, wal: Wal::default() });
        let watched = Arc::downgrade(&writer);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, watched))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Self { path, stream, writer, readers: Arc::new(Readers { conns, next: AtomicUsize::new(0) }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

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
        lock(&self.writer.queue).push(job);
        self.writer.run();
        rx.await.map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }
}

/// What the writer and the checkpointer tell each other about the WAL.
#[derive(Default)]
struct Wal {
    commits: AtomicU64,
    /// The WAL has grown past [`WAL_RESTART_FRAMES`]: the writer should start it over.
    restart: AtomicBool,
}

/// Copies committed pages from the WAL into the database file every [`CHECKPOINT_INTERVAL`]
/// while there are new commits, without blocking the writer or readers (PASSIVE). The WAL only
/// starts over when a write begins with every frame copied, which a steady stream of commits
/// never allows; past [`WAL_RESTART_FRAMES`] the writer is asked to finish the job itself between
/// two groups (RESTART: the few frames left, then the next commit starts the log over).
/// Ends with the writer.
fn checkpoint_loop(conn: Connection, writer: Weak<Writer>) {
    let mut seen = 0;
    loop {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        let Some(writer) = writer.upgrade() else { return };
        let wal = &writer.wal;
        let commits = wal.commits.load(Ordering::Relaxed);
        if commits == seen {
            continue;
        }
        // Past the restart point, a second pass copies what arrived during the first, so that
        // the writer's RESTART, which holds up the claims behind it, has less left to do (it
        // took 8-15 ms after one pass, 6.5-8 ms after two, at concurrency 16).
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

/// Runs a checkpoint; returns the frames in the WAL.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    // Its row: (busy, frames in the WAL, frames copied).
    query_row(conn, &format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}

impl Writer {
    /// Runs one group if the connection is free. Jobs queued meanwhile found it busy and count on
    /// whoever held it: they go to a new task, so that this caller can answer now.
    fn run(self: &Arc<Self>) {
        let conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let holder = Holder { writer: self, conn: Some(conn) };
        let jobs: Vec<Job> = {
            let mut queue = lock(&self.queue);
            let n = queue.len().min(GROUP_COMMIT);
            queue.drain(..n).collect()
        };
        if !jobs.is_empty() {
            self.commit(holder.conn.as_ref().expect("held until dropped"), jobs);
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
                s.events.iter().for_each(|ev| self.sink.publish(ev));
            }
            (s.finish)(committed.clone().map_err(StoreError::Unavailable));
        }
    }
}

/// The write connection, held for one group. Letting go of it (also when a job panics) hands the
/// jobs queued meanwhile to a new task: their callers count on the holder, and would otherwise
/// wait for an unrelated write.
struct Holder<'a> {
    writer: &'a Arc<Writer>,
    conn: Option<MutexGuard<'a, Connection>>,
}

impl Drop for Holder<'_> {
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
            if s.failed {
                exec(conn, "ROLLBACK TO job", [])?;
            }
            exec(conn, "RELEASE job", [])?;
            staged.push(s);
        }
        exec(conn, "COMMIT", []).map(drop)
    })()
    .map_err(|e: rusqlite::Error| format!("commit failed: {e}"));
    // Jobs that never ran because the transaction broke early are dropped with their reply
    // channels, which their callers see as "not committed".
    drop(jobs);
    result
}

// Every statement goes through the connection's statement cache: the SQL is the same on every
// call, and preparing it afresh cost more than running it (a claim runs ten statements).
fn exec(conn: &Connection, sql: &str, args: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(args)
}

fn query_row<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(args, f)
}

fn lead_from_row(row: &Row<'_>) -> rusqlite::Result<Lead> {
    let bad = |i: usize, e: crate::domain::ParseError| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let value: i64 = row.get(3)?;
    Ok(Lead {
        id: LeadId::parse(row.get::<_, String>(0)?).map_err(|e| bad(0, e))?,
        name: row.get(1)?,
        company: row.get(2)?,
        value: value.max(0) as u64,
        assignee: row.get::<_, Option<String>>(4)?.map(Username::parse).transpose().map_err(|e| bad(4, e))?,
        version: row.get::<_, i64>(5)? as u64,
        claimed_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn get_lead(conn: &Connection, id: &LeadId) -> Result<Lead, StoreError> {
    query_row(conn, &format!("SELECT {LEAD_COLS} FROM leads WHERE id = ?1"), [id.as_str()], lead_from_row)
        .optional()?
        .ok_or_else(|| StoreError::LeadNotFound(id.clone()))
}

/// Appends an event with the next sequence number. Runs inside the writer's transaction, so the
/// sequence has no gaps: a rolled-back job's number is reused by the next one.
fn append_event(
    conn: &Connection,
    at: Millis,
    actor: &Username,
    lead: &Lead,
    change: Change,
) -> Result<BoardEvent, StoreError> {
    let seq = last_seq(conn)? + 1;
    let event = BoardEvent { seq: seq as u64, at, actor: actor.clone(), lead: lead.clone(), change };
    let body = serde_json::to_string(&event).map_err(|e| StoreError::Internal(e.to_string()))?;
    exec(
        conn,
        "INSERT INTO events (seq, at, kind, lead_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![seq, at, event.change.kind(), lead.id.as_str(), body],
    )?;
    Ok(event)
}

/// The sequence of the newest event (0 for none).
fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    query_row(conn, "SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
}

fn events_from(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<BoardEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let bodies = stmt.query_map(args, |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Internal(format!("corrupt event: {e}"))))
        .collect()
}

fn claim_tx(
    conn: &Connection,
    id: &LeadId,
    by: &Username,
    received_at: Millis,
) -> Result<(ClaimReply, Vec<BoardEvent>), StoreError> {
    let now = now_ms();
    let won = query_row(
        conn,
        &format!(
            "UPDATE leads SET assignee = ?1, version = version + 1, claimed_at = ?2, updated_at = ?2
             WHERE id = ?3 AND assignee IS NULL RETURNING {LEAD_COLS}"
        ),
        params![by.as_str(), now, id.as_str()],
        lead_from_row,
    )
    .optional()?;
    let (outcome, lead) = match won {
        Some(lead) => (ClaimOutcome::Won, lead),
        None => {
            let current = get_lead(conn, id)?;
            let outcome = judge_unapplied(&current, by, now)
                .ok_or_else(|| StoreError::Internal(format!("claim on open lead {id} did not apply")))?;
            (outcome, current)
        }
    };
    let winner = match &outcome {
        ClaimOutcome::Lost { winner, .. } => winner,
        _ => by,
    };
    exec(
        conn,
        "INSERT INTO claim_attempts (lead_id, claimant, outcome, winner, received_at, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id.as_str(), by.as_str(), outcome.label(), winner.as_str(), received_at, now],
    )?;
    let change = match &outcome {
        ClaimOutcome::Won => Some(Change::Claimed),
        ClaimOutcome::Lost { winner, margin_ms } => {
            Some(Change::ClaimLost { winner: winner.clone(), margin_ms: *margin_ms })
        }
        ClaimOutcome::AlreadyYours => None,
    };
    let events = change.map(|c| append_event(conn, now, by, &lead, c)).transpose()?.into_iter().collect();
    Ok((ClaimReply { outcome, lead }, events))
}

/// Release and reassign: check the rule against the lead as it stands, then write fenced by the
/// version the caller saw.
fn fenced_update(
    conn: &Connection,
    id: &LeadId,
    seen_version: u64,
    actor: &Username,
    rule: impl FnOnce(&Lead) -> Result<(), RuleError>,
    to: Option<&Username>,
) -> Result<(Lead, Vec<BoardEvent>), StoreError> {
    let current = get_lead(conn, id)?;
    rule(&current).map_err(|rule| StoreError::Rejected { rule, current: Box::new(current.clone()) })?;
    let now = now_ms();
    let lead = query_row(
        conn,
        &format!(
            "UPDATE leads SET assignee = ?1, version = version + 1, claimed_at = ?2, updated_at = ?3
             WHERE id = ?4 AND version = ?5 RETURNING {LEAD_COLS}"
        ),
        params![to.map(Username::as_str), to.map(|_| now), now, id.as_str(), seen_version as i64],
        lead_from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::Rejected {
        rule: RuleError::StaleVersion { current: current.version },
        current: Box::new(current.clone()),
    })?;
    let change = match (to, current.assignee) {
        (None, Some(previous)) => Change::Released { previous },
        (None, None) => return Err(StoreError::Internal("released an open lead".into())),
        (Some(_), previous) => Change::Reassigned { previous },
    };
    let event = append_event(conn, now, actor, &lead, change)?;
    Ok((lead, vec![event]))
}

const ACCOUNT_COLS: &str = "username, role, disabled";

type AccountRow = (String, String, bool);

fn account_row(r: &Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn account((username, role, disabled): AccountRow) -> Result<Account, StoreError> {
    Ok(Account {
        username: Username::parse(username).map_err(|e| StoreError::Internal(e.to_string()))?,
        role: Role::parse(&role).map_err(|e| StoreError::Internal(e.to_string()))?,
        disabled,
    })
}

fn account_named(conn: &Connection, username: &Username) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM users WHERE username = ?1");
    query_row(conn, &sql, [username.as_str()], account_row).optional()?.map(account).transpose()
}

#[async_trait]
impl LeadStore for SqliteStore {
    fn stream(&self) -> &str {
        &self.stream
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let stream = self.stream.clone();
        self.read(move |conn| {
            // One read transaction: WAL gives it a consistent view of leads and events.
            let tx = conn.unchecked_transaction()?;
            let leads = tx
                .prepare_cached(&format!("SELECT {LEAD_COLS} FROM leads ORDER BY id"))?
                .query_map([], lead_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let seq = last_seq(&tx)?;
            tx.finish()?;
            Ok(Snapshot { stream, seq: seq as u64, leads })
        })
        .await
    }

    async fn claim(&self, id: &LeadId, by: &Username, received_at: Millis) -> Result<ClaimReply, StoreError> {
        let (id, by) = (id.clone(), by.clone());
        self.write(move |conn| claim_tx(conn, &id, &by, received_at)).await
    }

    async fn release(&self, id: &LeadId, seen_version: u64, actor: &UserInfo) -> Result<Lead, StoreError> {
        let (id, actor) = (id.clone(), actor.clone());
        self.write(move |conn| {
            fenced_update(conn, &id, seen_version, &actor.username, |l| check_release(l, seen_version, &actor), None)
        })
        .await
    }

    async fn reassign(
        &self,
        id: &LeadId,
        seen_version: u64,
        to: &Username,
        actor: &UserInfo,
    ) -> Result<Lead, StoreError> {
        let (id, to, actor) = (id.clone(), to.clone(), actor.clone());
        self.write(move |conn| {
            let to = account_named(conn, &to)?.ok_or(StoreError::UserNotFound(to))?;
            let rule = |l: &Lead| check_reassign(l, seen_version, &to, &actor);
            fenced_update(conn, &id, seen_version, &actor.username, rule, Some(&to.username))
        })
        .await
    }

    async fn events_after(&self, after_seq: u64, limit: usize) -> Result<Option<Vec<BoardEvent>>, StoreError> {
        // The file keeps every event, so any point can be replayed.
        self.read(move |conn| {
            // A point past any i64 is past every event (it must not wrap to a negative one).
            let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
            events_from(
                conn,
                "SELECT body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                params![after, limit as i64],
            )
        })
        .await
        .map(Some)
    }

    async fn latest_seq(&self) -> Result<u64, StoreError> {
        self.read(|conn| Ok(last_seq(conn)? as u64)).await
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<BoardEvent>, StoreError> {
        self.read(move |conn| {
            let mut events = events_from(conn, "SELECT body FROM events ORDER BY seq DESC LIMIT ?1", [limit as i64])?;
            events.reverse();
            Ok(events)
        })
        .await
    }

    async fn add_leads(&self, leads: Vec<NewLead>, actor: &Username) -> Result<usize, StoreError> {
        let actor = actor.clone();
        self.write(move |conn| {
            let now = now_ms();
            let mut events = Vec::new();
            let mut stmt = conn.prepare_cached(&format!(
                "INSERT INTO leads (id, name, company, value, assignee, version, claimed_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, 1, NULL, ?5) ON CONFLICT (id) DO NOTHING RETURNING {LEAD_COLS}"
            ))?;
            for l in leads {
                let created = stmt
                    .query_row(params![l.id.as_str(), l.name, l.company, l.value as i64, now], lead_from_row)
                    .optional()?;
                if let Some(lead) = created {
                    events.push(append_event(conn, now, &actor, &lead, Change::Created)?);
                }
            }
            Ok((events.len(), events))
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| Ok(query_row(conn, "SELECT 1", [], |_| Ok(()))?)).await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn add_user(&self, username: &Username, role: Role, password: &Password) -> Result<(), StoreError> {
        let password_hash = passwords::hash(password).await?;
        let username = username.clone();
        self.write(move |conn| {
            let n = exec(
                conn,
                "INSERT INTO users (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (username) DO NOTHING",
                params![username.as_str(), role.as_str(), password_hash, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(format!("user {username}")));
            }
            Ok(((), Vec::new()))
        })
        .await
    }

    async fn verify_password(&self, login: &str, password: &str) -> Result<Option<Account>, StoreError> {
        let found = match Username::parse(login) {
            Ok(username) => {
                self.read(move |conn| {
                    let row = query_row(
                        conn,
                        &format!("SELECT {ACCOUNT_COLS}, password_hash FROM users WHERE username = ?1"),
                        [username.as_str()],
                        |r| Ok((account_row(r)?, r.get::<_, String>(3)?)),
                    )
                    .optional()?;
                    row.map(|(a, hash)| Ok((account(a)?, hash))).transpose()
                })
                .await?
            }
            Err(_) => None,
        };
        let (account, hash) = found.unzip();
        let ok = passwords::verify(hash, password).await;
        Ok(account.filter(|_| ok))
    }

    async fn user(&self, username: &Username) -> Result<Option<Account>, StoreError> {
        let username = username.clone();
        self.read(move |conn| account_named(conn, &username)).await
    }

    async fn users(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM users ORDER BY username"))?
                .query_map([], account_row)?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(account)
                .collect()
        })
        .await
    }

    async fn update_user(&self, username: &Username, update: UserUpdate) -> Result<Account, StoreError> {
        let username = username.clone();
        let new_hash = match &update {
            UserUpdate::Password(p) => Some(passwords::hash(p).await?),
            _ => None,
        };
        self.write(move |conn| {
            let ends_sessions = update.ends_sessions();
            let may_remove_a_manager = matches!(update, UserUpdate::Disabled(true) | UserUpdate::Role(Role::Employee));
            let n = match update {
                UserUpdate::Disabled(d) => {
                    exec(conn, "UPDATE users SET disabled = ?2 WHERE username = ?1", params![username.as_str(), d])?
                }
                UserUpdate::Role(r) => exec(
                    conn,
                    "UPDATE users SET role = ?2 WHERE username = ?1",
                    params![username.as_str(), r.as_str()],
                )?,
                UserUpdate::Password(_) => exec(
                    conn,
                    "UPDATE users SET password_hash = ?2 WHERE username = ?1",
                    params![username.as_str(), new_hash],
                )?,
            };
            if n == 0 {
                return Err(StoreError::UserNotFound(username));
            }
            // Managers cannot demote or disable themselves, but two can do it to each other at
            // once; checked inside the write, the second finds itself the last one.
            if may_remove_a_manager {
                let sql = "SELECT COUNT(*) FROM users WHERE role = 'manager' AND disabled = 0";
                if query_row(conn, sql, [], |r| r.get::<_, i64>(0))? == 0 {
                    return Err(StoreError::Conflict("that would leave no manager who can sign in".into()));
                }
            }
            if ends_sessions {
                exec(conn, "DELETE FROM sessions WHERE username = ?1", [username.as_str()])?;
            }
            let account = account_named(conn, &username)?.ok_or(StoreError::UserNotFound(username))?;
            Ok((account, Vec::new()))
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        username: &Username,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        let (token_hash, username) = (token_hash.to_owned(), username.clone());
        self.write(move |conn| {
            exec(conn, "DELETE FROM sessions WHERE expires_at < ?1", [now_ms()])?;
            exec(
                conn,
                "INSERT INTO sessions (token_hash, username, expires_at) VALUES (?1, ?2, ?3)",
                params![token_hash, username.as_str(), expires_at],
            )?;
            Ok(((), Vec::new()))
        })
        .await
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<UserInfo>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            let row = query_row(
                conn,
                "SELECT u.username, u.role, u.disabled FROM sessions s JOIN users u ON u.username = s.username
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
                params![token_hash, now],
                account_row,
            )
            .optional()?;
            row.map(|a| account(a).map(|a| a.info())).transpose()
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            exec(conn, "DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(((), Vec::new()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::fanout::Hub;

    #[tokio::test]
    async fn the_last_manager_cannot_be_demoted_or_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("leadboard.db"), Arc::new(Hub::new())).unwrap();
        let (maria, tom) = (Username::parse("maria").unwrap(), Username::parse("tom").unwrap());
        let password = crate::domain::Password::parse("s3cret-pass").unwrap();
        store.add_user(&maria, Role::Manager, &password).await.unwrap();
        store.add_user(&tom, Role::Manager, &password).await.unwrap();
        store.update_user(&tom, UserUpdate::Role(Role::Employee)).await.unwrap();
        for last in [UserUpdate::Role(Role::Employee), UserUpdate::Disabled(true)] {
            assert!(matches!(store.update_user(&maria, last).await, Err(StoreError::Conflict(_))));
        }
        let maria_now = store.user(&maria).await.unwrap().unwrap();
        assert_eq!((maria_now.role, maria_now.disabled), (Role::Manager, false), "nothing changed");
    }

    /// A steady stream of commits never leaves every WAL frame copied at the start of a write,
    /// so SQLite alone would never start the log over (it grew to 268 MB in a 20 s bench run):
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
