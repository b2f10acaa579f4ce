//! The database file's schema, as numbered migrations. `PRAGMA user_version` holds the number of
//! the last one applied; opening a file applies the missing ones in order, each in its own
//! transaction, so a file is always at exactly one known version. A schema change is one more
//! entry at the end of [`MIGRATIONS`], never an edit of an earlier one.

use super::sql::query_row;
use crate::server::store::StoreError;
use rusqlite::{Connection, Transaction};

struct Migration {
    name: &'static str,
    apply: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

const MIGRATIONS: &[Migration] = &[
    Migration { name: "accounts, sessions, leads, events, claim attempts", apply: initial },
    Migration { name: "lead IDs compared ignoring case", apply: lead_ids_nocase },
    Migration { name: "account credential versions", apply: credential_versions },
    Migration { name: "lead details, intake tokens and requests, events by time", apply: details_and_tokens },
    Migration { name: "leases, per-person caps, leads by holder and by lease", apply: leases_and_caps },
    Migration { name: "outcomes, events by lead", apply: outcomes },
];

/// The schema of the first release. Files from before versioning (version 0) already have these
/// tables, so it is written to apply over them: tables are created if absent, and files from
/// before accounts could be disabled gain that column.
fn initial(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
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
        ",
    )?;
    let has_disabled: bool =
        query_row(tx, "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'disabled'", [], |r| r.get(0))?;
    if !has_disabled {
        tx.execute_batch("ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")?;
    }
    Ok(())
}

/// Lead IDs are unique ignoring case, as in Appwrite; the index finds a case variant of a new ID.
/// Not a unique index: a file may already hold variants from before this rule, and they stay.
fn lead_ids_nocase(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("CREATE INDEX IF NOT EXISTS leads_id_nocase ON leads (id COLLATE NOCASE)")
}

/// Every password change and disable bumps the account's `credentials`; a session is created
/// only if it is still the version the password check read (`accounts::create_session`).
fn credential_versions(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE users ADD COLUMN credentials INTEGER NOT NULL DEFAULT 0")
}

/// Leads gain their contact details and created time (taken from each lead's `created` event
/// where the log has one); intake API tokens are kept as hashes, with the first request of each
/// idempotency key; history exports read events by time. (Lead IDs are compared ignoring case by migration 2's index.)
fn details_and_tokens(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        ALTER TABLE leads ADD COLUMN contact TEXT;
        ALTER TABLE leads ADD COLUMN email TEXT;
        ALTER TABLE leads ADD COLUMN phone TEXT;
        ALTER TABLE leads ADD COLUMN source TEXT;
        ALTER TABLE leads ADD COLUMN tags TEXT NOT NULL DEFAULT '';
        ALTER TABLE leads ADD COLUMN created_at INTEGER;
        UPDATE leads SET created_at = c.at
            FROM (SELECT lead_id, MIN(at) AS at FROM events WHERE kind = 'created' GROUP BY lead_id) AS c
            WHERE c.lead_id = leads.id;
        CREATE INDEX events_by_time ON events (at);
        CREATE TABLE api_tokens (
            id           TEXT PRIMARY KEY,
            name         TEXT NOT NULL,
            token_hash   TEXT NOT NULL UNIQUE,
            created_by   TEXT NOT NULL,
            created_at   INTEGER NOT NULL,
            last_used_at INTEGER,
            revoked_at   INTEGER
        );
        CREATE TABLE api_requests (
            token_id    TEXT NOT NULL,
            key         TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            at          INTEGER NOT NULL,
            PRIMARY KEY (token_id, key)
        );
        CREATE INDEX api_requests_by_time ON api_requests (at);
        ",
    )
}

/// A claim's lease is its deadline (`lease_until`, never a countdown) and how often it was extended;
/// `users.max_held` is a person's own cap (NULL: the configured default). Leads held before this
/// migration have no lease. The claim counts a claimant's leads by `assignee`, and the expiry pass
/// finds the leases that ran out by `lease_until`.
fn leases_and_caps(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        ALTER TABLE leads ADD COLUMN lease_until INTEGER;
        ALTER TABLE leads ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN max_held INTEGER;
        CREATE INDEX leads_by_assignee ON leads (assignee) WHERE assignee IS NOT NULL;
        CREATE INDEX leads_by_lease ON leads (lease_until) WHERE lease_until IS NOT NULL;
        ",
    )
}

/// A lead's outcome (`Outcome`, as text; NULL until its holder records one). A lead page reads
/// its events by `lead_id`.
fn outcomes(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
        ALTER TABLE leads ADD COLUMN outcome TEXT;
        CREATE INDEX events_by_lead ON events (lead_id, seq);
        ",
    )
}

/// The schema version this build writes.
pub(super) const LATEST: usize = MIGRATIONS.len();

/// Brings the file up to [`LATEST`]. A file from a newer build is refused rather than guessed at.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let at: usize = query_row(conn, "PRAGMA user_version", [], |r| r.get(0))?;
    if at > LATEST {
        return Err(StoreError::Unavailable(format!(
            "the database file has schema version {at}, newer than this build's {LATEST}: run a newer Leadboard"
        )));
    }
    for (n, m) in MIGRATIONS.iter().enumerate().skip(at) {
        let tx = conn.transaction()?;
        (m.apply)(&tx)?;
        tx.pragma_update(None, "user_version", n + 1)?;
        tx.commit()?;
        tracing::info!(version = n + 1, migration = m.name, "database migrated");
    }
    Ok(())
}

/// The file's event-stream name, made once per file, so that a board resuming with the numbers
/// of a replaced file gets a snapshot.
pub(super) fn stream_id(conn: &Connection) -> Result<String, StoreError> {
    let mut fresh = [0u8; 8];
    rand::fill(&mut fresh);
    let fresh: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
    conn.execute("INSERT INTO meta (key, value) VALUES ('stream', ?1) ON CONFLICT (key) DO NOTHING", [&fresh])?;
    Ok(conn.query_row("SELECT value FROM meta WHERE key = 'stream'", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_from_before_versioning_is_migrated_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // The schema as the release before versioning wrote it, minus the column that came
            // later, with one account in it.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE users (username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
                                     created_at INTEGER NOT NULL);
                 INSERT INTO users VALUES ('maria', 'manager', 'x', 1);",
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn).unwrap();
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, LATEST);
        let (name, disabled): (String, bool) =
            conn.query_row("SELECT username, disabled FROM users", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((name.as_str(), disabled), ("maria", false));
        migrate(&mut conn).unwrap();
        assert_eq!(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0)).unwrap(), 1, "idempotent");
    }

    #[test]
    fn a_file_at_each_earlier_version_reaches_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        for at in 1..LATEST {
            let mut conn = Connection::open(dir.path().join(format!("v{at}.db"))).unwrap();
            for (n, m) in MIGRATIONS.iter().enumerate().take(at) {
                let tx = conn.transaction().unwrap();
                (m.apply)(&tx).unwrap();
                tx.pragma_update(None, "user_version", n + 1).unwrap();
                tx.commit().unwrap();
            }
            migrate(&mut conn).unwrap();
            let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version, LATEST, "from version {at}");
            let has = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, bool>(0)).unwrap();
            assert!(has("SELECT COUNT(*) FROM pragma_index_list('leads') WHERE name = 'leads_id_nocase'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'credentials'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_table_info('leads') WHERE name = 'created_at'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM sqlite_master WHERE name = 'api_tokens'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_index_list('leads') WHERE name = 'leads_by_lease'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'max_held'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_table_info('leads') WHERE name = 'outcome'"), "from {at}");
            assert!(has("SELECT COUNT(*) FROM pragma_index_list('events') WHERE name = 'events_by_lead'"), "from {at}");
        }
    }

    #[test]
    fn a_file_of_the_first_release_keeps_its_leads_and_gains_created_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let mut v1 = Connection::open(&path).unwrap();
            let tx = v1.transaction().unwrap();
            initial(&tx).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.execute_batch(
                "INSERT INTO leads VALUES ('L1', 'Ada', 'Acme', 5, NULL, 1, NULL, 200);
                 INSERT INTO leads VALUES ('L2', 'Bob', 'Beta', 6, NULL, 1, NULL, 300);
                 INSERT INTO events VALUES (1, 150, 'created', 'L1', '{}');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, Option<i64>, String)> = conn
            .prepare("SELECT id, created_at, tags FROM leads ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("L1".to_string(), Some(150), String::new()), ("L2".to_string(), None, String::new())]);
    }

    #[test]
    fn a_file_from_before_leases_keeps_its_held_leads_without_a_lease() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let mut v4 = Connection::open(&path).unwrap();
            for (n, m) in MIGRATIONS.iter().enumerate().take(4) {
                let tx = v4.transaction().unwrap();
                (m.apply)(&tx).unwrap();
                tx.pragma_update(None, "user_version", n + 1).unwrap();
                tx.commit().unwrap();
            }
            v4.execute_batch(
                "INSERT INTO users (username, role, password_hash, created_at) VALUES ('bob', 'employee', 'x', 1);
                 INSERT INTO leads (id, name, company, value, assignee, version, claimed_at, updated_at)
                     VALUES ('L1', 'Ada', 'Acme', 5, 'bob', 2, 100, 100), ('L2', 'Bo', 'Beta', 6, NULL, 1, NULL, 90);",
            )
            .unwrap();
        }
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn).unwrap();
        type Row = (String, Option<String>, i64, Option<i64>, i64);
        let rows: Vec<Row> = conn
            .prepare("SELECT id, assignee, version, lease_until, extensions FROM leads ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("L1".into(), Some("bob".into()), 2, None, 0), ("L2".into(), None, 1, None, 0)]);
        let cap: Option<i64> = conn.query_row("SELECT max_held FROM users", [], |r| r.get(0)).unwrap();
        assert_eq!(cap, None, "everyone starts on the configured cap");
    }

    #[test]
    fn a_file_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("new.db")).unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1).unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }
}
