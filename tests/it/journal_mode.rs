//! Journal modes. `PRAGMA journal_mode = WAL` in the connection setup, from
//! many threads at once, on a new file: SQLite answers the switch with
//! SQLITE_BUSY at once, without waiting for the busy timeout, when other
//! connections hold shared locks on the file. The `journal_mode` setting
//! retries it within the busy timeout, so nobody sees "database is locked".
//! And a migration that fails on a connection whose journal is OFF (which
//! cannot roll back) still leaves the database as it was.

use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Error, JournalMode, Migrations, SharedDb, TestDb};
use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::{count, crate_migrations, pragma};

const THREADS: usize = 16;
const ROUNDS: usize = 40;

fn journal_mode_of(path: &Path) -> String {
    pragma(&Connection::open(path).unwrap(), "journal_mode")
}

/// One round: a new file; `THREADS` threads released together open it with
/// `SharedDb` and `journal_mode(Wal)`, connect and write a row. Returns the
/// errors.
fn round(dir: &Path, round: usize) -> Vec<String> {
    let path = dir.join(format!("wal-{round}.sqlite"));
    let barrier = Barrier::new(THREADS);
    let errors: Vec<String> = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || -> Result<(), Error> {
                    let builder = SharedDb::builder(path).journal_mode(JournalMode::Wal);
                    barrier.wait();
                    let db = builder.open(crate_migrations())?;
                    let conn = db.connect()?;
                    conn.execute(
                        "INSERT INTO users (email, display_name) VALUES (?1, 'W')",
                        [format!("{round}-{i}@example.com")],
                    )
                    .map_err(|e| Error::Database {
                        context: "insert",
                        database: None,
                        source: std::sync::Arc::new(e),
                    })?;
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().unwrap().err().map(|e| e.to_string()))
            .collect()
    });
    if errors.is_empty() {
        assert_eq!(journal_mode_of(&path), "wal", "round {round}");
        let conn = Connection::open(&path).unwrap();
        assert_eq!(
            count(&conn, "users"),
            2 + THREADS as i64,
            "round {round}: seed rows + one per thread"
        );
        let ledger = migrate_once::ledger(&conn).unwrap();
        assert_eq!(
            ledger.len(),
            crate_migrations().len(),
            "round {round}: migrated once, fully"
        );
    }
    errors
}

#[test]
fn wal_from_sixteen_threads_at_once_never_reports_a_locked_database() {
    let dir = TempDir::new().unwrap();
    let mut errors = Vec::new();
    for r in 0..ROUNDS {
        errors.extend(
            round(dir.path(), r)
                .into_iter()
                .map(|e| format!("round {r}: {e}")),
        );
    }
    assert!(
        errors.is_empty(),
        "{} errors in {ROUNDS} rounds x {THREADS} threads:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn a_wal_switch_blocked_past_the_busy_timeout_is_a_transient_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("held.sqlite");
    SharedDb::open(&path, crate_migrations()).unwrap();
    // Another connection holds the write lock and does not let go.
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let err = SharedDb::builder(&path)
        .busy_timeout(Duration::from_millis(300))
        .journal_mode(JournalMode::Wal)
        .open(crate_migrations())
        .unwrap_err();
    let waited = started.elapsed();
    assert!(err.is_transient(), "{err:?}");
    assert!(format!("{err:?}").contains("database is locked"), "{err:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(10),
        "gave up after {waited:?}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(journal_mode_of(&path), "delete", "nothing was switched");
    let db = SharedDb::builder(&path)
        .journal_mode(JournalMode::Wal)
        .open(crate_migrations())
        .unwrap();
    drop(db.connect().unwrap());
    assert_eq!(journal_mode_of(&path), "wal");
}

#[test]
fn test_dbs_take_the_journal_mode_files_only() {
    let dir = TempDir::new().unwrap();
    let file = TestDb::builder(crate_migrations())
        .dir(dir.path())
        .journal_mode(JournalMode::Wal)
        .file()
        .unwrap();
    let memory = TestDb::builder(crate_migrations())
        .journal_mode(JournalMode::Wal)
        .in_memory()
        .unwrap();
    // Written in WAL mode: header bytes 18 and 19 (file format versions) are
    // 2 before any connection opened it; 1 without the setting.
    let header = std::fs::read(file.path().unwrap()).unwrap();
    assert_eq!(header[18..20], [2, 2]);
    let plain = TestDb::builder(crate_migrations())
        .dir(dir.path())
        .file()
        .unwrap();
    assert_eq!(
        std::fs::read(plain.path().unwrap()).unwrap()[18..20],
        [1, 1]
    );
    drop(plain);
    let mode = |db: &TestDb| -> String { pragma(&db.connect().unwrap(), "journal_mode") };
    assert_eq!(mode(&file), "wal");
    assert_eq!(
        mode(&memory),
        "memory",
        "an in-memory database keeps its journal"
    );
    let pooled: String = pragma(&file.pool().unwrap().get().unwrap(), "journal_mode");
    assert_eq!(pooled, "wal");
    drop((file, memory));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the file, its -wal and -shm are gone"
    );
}

/// A set whose first migration writes far more than the page cache holds
/// (so pages reach the file before the commit) and whose second fails.
fn spilling_then_failing() -> Migrations {
    Migrations::new(vec![
        migrate_once::Migration::new(
            1,
            "bulk",
            "CREATE TABLE bulk(pad BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
             INSERT INTO bulk SELECT randomblob(200) FROM n;",
        ),
        migrate_once::Migration::new(
            2,
            "broken",
            "CREATE TABLE t(x); INSERT INTO nowhere VALUES (1);",
        ),
    ])
    .unwrap()
}

/// A database holding the user's own table with 1,000 rows.
fn database_with_user_data(path: &Path) -> Vec<u8> {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE mine(id INTEGER PRIMARY KEY, note TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
         INSERT INTO mine(note) SELECT 'row ' || i FROM n;",
    )
    .unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}

fn assert_untouched(path: &Path, before: &[u8], what: &str) {
    let conn = Connection::open(path).unwrap();
    let check: String = pragma(&conn, "integrity_check");
    assert_eq!(check, "ok", "{what}");
    assert_eq!(count(&conn, "mine"), 1000, "{what}: the user's rows");
    drop(conn);
    assert!(
        std::fs::read(path).unwrap() == before,
        "{what}: file changed"
    );
}

#[test]
fn a_failed_migration_with_the_journal_off_leaves_the_database_as_it_was() {
    let dir = TempDir::new().unwrap();
    let set = spilling_then_failing();

    // Through SharedDb, with a hook that turns the journal off.
    let path = dir.path().join("shared.sqlite");
    let before = database_with_user_data(&path);
    let err = SharedDb::builder(&path)
        .on_connect(|c| c.pragma_update(None, "journal_mode", "off"))
        .open(&set)
        .unwrap_err();
    assert!(matches!(err, Error::Sql { version: 2, .. }), "{err}");
    assert_untouched(&path, &before, "SharedDb");

    // Through migrate, on a connection of the caller's with the journal off;
    // the connection gets its journal mode back.
    let path = dir.path().join("own.sqlite");
    let before = database_with_user_data(&path);
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "off").unwrap();
    let err = migrate_once::migrate(&mut conn, &set).unwrap_err();
    assert!(matches!(err, Error::Sql { version: 2, .. }), "{err}");
    let mode: String = pragma(&conn, "journal_mode");
    assert_eq!(mode, "off", "the caller's journal mode is restored");
    drop(conn);
    assert_untouched(&path, &before, "migrate");
}
