//! The migrator on real database files: what it applies and records, that a
//! failure anywhere leaves the database exactly as it was, that user data
//! survives, that edited or unknown migrations are refused, how it waits for
//! (or refuses to wait for) another connection's write lock, and that the
//! connection's own settings are given back.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Error, LedgerRow, Migration, Migrations, Migrator, Origin, ledger, migrate};
use rusqlite::Connection;

use crate::support::{TempDb, count, crate_migrations, pragma, query_one, rows_of, snapshot};

fn versions(rows: &[LedgerRow]) -> Vec<i64> {
    rows.iter().map(|r| r.version).collect()
}

fn table_names(path: &Path) -> Vec<String> {
    snapshot(path)
        .schema
        .into_iter()
        .filter(|(kind, ..)| kind == "table")
        .map(|(_, name, ..)| name)
        .collect()
}

fn set(migrations: Vec<Migration>) -> Migrations {
    Migrations::new(migrations).expect("a valid migration set")
}

/// A user table that exists before any migration runs, with rows in it.
fn with_user_table(db: &TempDb) {
    db.open()
        .execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             INSERT INTO notes (body) VALUES ('first'), ('second'), ('third');",
        )
        .unwrap();
}

// ---------------------------------------------------------------------------
// Applying a set
// ---------------------------------------------------------------------------

#[test]
fn the_crates_own_migrations_apply_once_and_are_recorded_in_the_ledger() {
    let set = crate_migrations();
    let all: Vec<i64> = set.iter().map(Migration::version).collect();
    assert!(all.len() >= 4, "{all:?}");
    let db = TempDb::new();
    let mut conn = db.open();
    conn.execute_batch("PRAGMA user_version = 42").unwrap();

    let report = migrate(&mut conn, set).unwrap();
    assert_eq!(report.applied_versions(), all);
    assert_eq!(report.already_applied, 0);
    assert_eq!(
        report
            .applied
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        set.iter().map(Migration::name).collect::<Vec<_>>()
    );
    assert!(report.apply_time > Duration::ZERO);

    let rows = ledger(&conn).unwrap();
    assert_eq!(rows.len(), set.len());
    for (row, m) in rows.iter().zip(set) {
        assert_eq!(row.version, m.version());
        assert_eq!(row.name, m.name());
        assert_eq!(row.checksum, m.checksum());
        // `YYYY-MM-DDTHH:MM:SS.SSSZ`
        let at = row.applied_at.as_bytes();
        assert_eq!(at.len(), 24, "{}", row.applied_at);
        assert_eq!(
            (at[4], at[10], at[13], at[19], at[23]),
            (b'-', b'T', b':', b'.', b'Z')
        );
        assert!(row.execution_time < Duration::from_secs(10));
    }
    // `user_version` belongs to the application: neither reset nor bumped.
    assert_eq!(pragma::<i64>(&conn, "user_version"), 42);

    let tables = table_names(&db.path);
    for t in ["_migrate_once_ledger", "comments", "posts", "users"] {
        assert!(tables.iter().any(|n| n == t), "{t} missing from {tables:?}");
    }

    let before = snapshot(&db.path);
    let again = migrate(&mut conn, set).unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.already_applied, set.len());
    assert_eq!(again.lock_wait, Duration::ZERO);
    assert_eq!(again.apply_time, Duration::ZERO);
    assert_eq!(snapshot(&db.path), before);
}

#[test]
fn user_version_stays_zero_on_a_fresh_database() {
    let db = TempDb::new();
    migrate(&mut db.open(), crate_migrations()).unwrap();
    assert_eq!(snapshot(&db.path).user_version, 0);
}

#[test]
fn a_set_grown_by_new_migrations_applies_only_the_new_ones() {
    let db = TempDb::new();
    let mut conn = db.open();
    let all = ten_good();
    let first_three = set(all.iter().take(3).cloned().collect());
    migrate(&mut conn, &first_three).unwrap();

    let report = migrate(&mut conn, &all).unwrap();
    assert_eq!(report.applied_versions(), (4..=10).collect::<Vec<_>>());
    assert_eq!(report.already_applied, 3);
    assert_eq!(
        versions(&ledger(&conn).unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    for v in 1..=10 {
        let n: i64 = query_one(&conn, &format!("SELECT v FROM t{v}"));
        assert_eq!(n, v);
    }
}

// ---------------------------------------------------------------------------
// Atomicity: a failure anywhere leaves the database exactly as it was
// ---------------------------------------------------------------------------

fn good(v: i64) -> Migration {
    Migration::new(
        v,
        format!("create_t{v}"),
        format!(
            "CREATE TABLE t{v} (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);\nINSERT INTO t{v} (v) VALUES ({v});\n"
        ),
    )
}

fn ten_good() -> Migrations {
    set((1..=10).map(good).collect())
}

const FAILING_FIFTH: &str =
    "-- Migration five: its second statement names a table that does not exist.
CREATE TABLE t5 (
    id INTEGER PRIMARY KEY,
    v INTEGER NOT NULL
);
INSERT INTO missing_table (v) VALUES (5);
INSERT INTO t5 (v) VALUES (5);
";

/// Ten migrations, each creating a table and inserting a row; the fifth fails
/// at its second statement (line 6).
fn ten_with_failing_fifth() -> Migrations {
    set((1..=10)
        .map(|v| {
            if v == 5 {
                Migration::new(5, "create_t5", FAILING_FIFTH)
            } else {
                good(v)
            }
        })
        .collect())
}

fn assert_fifth_failed(err: &Error) {
    let Error::Sql {
        version,
        name,
        origin,
        index,
        line,
        statement,
        source,
        ..
    } = err
    else {
        panic!("expected Error::Sql, got {err:?}");
    };
    assert_eq!(*version, 5);
    assert_eq!(name, "create_t5");
    assert_eq!(*origin, Origin::Code);
    assert_eq!(*index, 2);
    assert_eq!(*line, 6);
    assert_eq!(statement, "INSERT INTO missing_table (v) VALUES (5);");
    assert!(
        source.to_string().contains("no such table: missing_table"),
        "{source}"
    );
    assert!(!err.is_transient());
    assert!(
        err.to_string().starts_with(
            "migration 5 (create_t5) in <built in code> failed at statement 2 (line 6) of database "
        ),
        "{err}"
    );
    assert!(
        format!("{err:?}").ends_with("\n\nCaused by:\n    no such table: missing_table"),
        "{err:?}"
    );
}

#[test]
fn a_failing_fifth_migration_leaves_a_fresh_database_exactly_as_it_was() {
    let db = TempDb::new();
    with_user_table(&db);
    let before = snapshot(&db.path);
    assert_eq!(table_names(&db.path), ["notes"]);

    let mut conn = db.open();
    let err = migrate(&mut conn, &ten_with_failing_fifth()).unwrap_err();
    assert_fifth_failed(&err);

    // Migrations 1 to 4 ran inside the transaction; none of them, and no
    // ledger table, is left.
    assert_eq!(snapshot(&db.path), before);
    assert!(ledger(&conn).unwrap().is_empty());
    assert!(conn.is_autocommit(), "the migrator left a transaction open");

    // Nothing half-done blocks the next run: with migration 5 fixed, all ten apply.
    let report = migrate(&mut conn, &ten_good()).unwrap();
    assert_eq!(report.applied_versions(), (1..=10).collect::<Vec<_>>());
}

#[test]
fn a_failing_fifth_migration_leaves_a_database_at_version_three_at_version_three() {
    let db = TempDb::new();
    with_user_table(&db);
    let mut conn = db.open();
    let first_three = set((1..=3).map(good).collect());
    migrate(&mut conn, &first_three).unwrap();
    conn.execute("INSERT INTO t2 (v) VALUES (22)", []).unwrap();
    let before = snapshot(&db.path);
    assert_eq!(versions(&before.ledger), [1, 2, 3]);

    let err = migrate(&mut conn, &ten_with_failing_fifth()).unwrap_err();
    assert_fifth_failed(&err);

    let after = snapshot(&db.path);
    assert_eq!(after, before);
    assert_eq!(versions(&after.ledger), [1, 2, 3]);
    assert!(!table_names(&db.path).contains(&"t4".to_string()));

    let report = migrate(&mut conn, &ten_good()).unwrap();
    assert_eq!(report.applied_versions(), (4..=10).collect::<Vec<_>>());
    assert_eq!(report.already_applied, 3);
}

#[test]
fn a_foreign_key_violation_left_by_the_migrations_is_refused_and_rolled_back() {
    let db = TempDb::new();
    let mut conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let bad = set(vec![
        Migration::new(1, "parent", "CREATE TABLE parent (id INTEGER PRIMARY KEY);"),
        Migration::new(
            2,
            "child",
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
             INSERT INTO parent (id) VALUES (1);
             INSERT INTO child (id, parent_id) VALUES (7, 1), (8, 99), (9, 98);",
        ),
    ]);
    let before = snapshot(&db.path);

    let err = migrate(&mut conn, &bad).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ForeignKeyViolation { table, rowid: Some(8), parent, count: 2, .. }
                if table == "child" && parent == "parent"
        ),
        "{err:?}"
    );
    assert_eq!(snapshot(&db.path), before);
    assert_eq!(pragma::<i64>(&conn, "foreign_keys"), 1);
}

// ---------------------------------------------------------------------------
// Nothing lost
// ---------------------------------------------------------------------------

/// Version 3 rebuilds `users` the way SQLite's docs prescribe (create, copy,
/// drop, rename) while `posts` references it with ON DELETE CASCADE.
fn users_and_posts() -> Migrations {
    set(vec![
        Migration::new(
            1,
            "create_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        ),
        Migration::new(
            2,
            "create_posts",
            "CREATE TABLE posts (
                 id INTEGER PRIMARY KEY,
                 user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                 title TEXT NOT NULL
             );",
        ),
        Migration::new(
            3,
            "rebuild_users_with_email",
            "CREATE TABLE users_new (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 email TEXT NOT NULL DEFAULT ''
             );
             INSERT INTO users_new (id, name) SELECT id, name FROM users;
             DROP TABLE users;
             ALTER TABLE users_new RENAME TO users;",
        ),
        Migration::new(
            4,
            "index_users",
            "CREATE INDEX users_by_name ON users(name);",
        ),
    ])
}

#[test]
fn every_user_row_survives_migrating_to_the_full_set() {
    let db = TempDb::new();
    let mut conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let full = users_and_posts();
    let first_two = set(full.iter().take(2).cloned().collect());
    migrate(&mut conn, &first_two).unwrap();

    let tx = conn.transaction().unwrap();
    for i in 1..=1000_i64 {
        tx.execute(
            "INSERT INTO users (id, name) VALUES (?1, ?2)",
            (i, format!("user {i}")),
        )
        .unwrap();
        tx.execute(
            "INSERT INTO posts (user_id, title) VALUES (?1, ?2)",
            (i, format!("post by {i}")),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let users_before = rows_of(&conn, "SELECT id, name FROM users ORDER BY id");
    let posts_before = rows_of(&conn, "SELECT * FROM posts ORDER BY id");
    assert_eq!((users_before.len(), posts_before.len()), (1000, 1000));

    let report = migrate(&mut conn, &full).unwrap();
    assert_eq!(report.applied_versions(), [3, 4]);
    assert_eq!(report.already_applied, 2);

    assert_eq!(
        rows_of(&conn, "SELECT id, name FROM users ORDER BY id"),
        users_before
    );
    // Dropping the old `users` must not have cascaded into `posts`.
    assert_eq!(
        rows_of(&conn, "SELECT * FROM posts ORDER BY id"),
        posts_before
    );
    let empty_emails: i64 = query_one(&conn, "SELECT count(*) FROM users WHERE email = ''");
    assert_eq!(empty_emails, 1000);
    assert!(rows_of(&conn, "PRAGMA foreign_key_check").is_empty());
    assert_eq!(pragma::<i64>(&conn, "foreign_keys"), 1);
    assert_eq!(versions(&ledger(&conn).unwrap()), [1, 2, 3, 4]);
}

// ---------------------------------------------------------------------------
// Refusing what does not fit
// ---------------------------------------------------------------------------

const USERS_V1: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n-- keep\n";

fn two(first_sql: &str) -> Vec<Migration> {
    vec![
        Migration::new(1, "create_users", first_sql),
        Migration::new(2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT;"),
    ]
}

#[test]
fn an_edited_applied_migration_is_a_checksum_mismatch_and_nothing_changes() {
    let db = TempDb::new();
    let mut conn = db.open();
    let applied = set(two(USERS_V1));
    migrate(&mut conn, &applied).unwrap();
    let before = snapshot(&db.path);

    let mut edited = two(&USERS_V1.replace("name TEXT", "name TEXT NOT NULL"));
    edited.push(Migration::new(3, "create_t3", "CREATE TABLE t3 (x);"));
    let edited = set(edited);
    let err = migrate(&mut conn, &edited).unwrap_err();

    let Error::ChecksumMismatch {
        version,
        name,
        origin,
        applied: was,
        current,
        ..
    } = &err
    else {
        panic!("expected ChecksumMismatch, got {err:?}");
    };
    assert_eq!(*version, 1);
    assert_eq!(name, "create_users");
    assert_eq!(*origin, Origin::Code);
    assert_eq!(was, applied.get(1).unwrap().checksum());
    assert_eq!(current, edited.get(1).unwrap().checksum());
    assert_ne!(was, current);
    assert!(!err.is_transient());
    // Migration 3 was pending and must not have been applied either, and the
    // write lock is not left held.
    assert_eq!(snapshot(&db.path), before);
    assert!(conn.is_autocommit(), "the migrator left a transaction open");
}

#[test]
fn an_edited_migration_is_refused_even_when_nothing_is_pending() {
    let db = TempDb::new();
    let mut conn = db.open();
    migrate(&mut conn, &set(two(USERS_V1))).unwrap();
    let before = snapshot(&db.path);
    let err = migrate(&mut conn, &set(two("CREATE TABLE users (id);"))).unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert_eq!(snapshot(&db.path), before);
    assert!(conn.is_autocommit(), "the migrator left a transaction open");
}

#[test]
fn a_line_ending_only_change_is_not_an_edit() {
    let db = TempDb::new();
    let mut conn = db.open();
    migrate(&mut conn, &set(two(USERS_V1))).unwrap();

    let crlf = USERS_V1.replace('\n', "\r\n");
    let report = migrate(&mut conn, &set(two(&crlf))).unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.already_applied, 2);

    // Also through the locked path, with a new migration pending.
    let mut grown = two(&crlf);
    grown.push(Migration::new(3, "create_t3", "CREATE TABLE t3 (x);"));
    let report = migrate(&mut conn, &set(grown)).unwrap();
    assert_eq!(report.applied_versions(), [3]);
    assert_eq!(versions(&ledger(&conn).unwrap()), [1, 2, 3]);
}

#[test]
fn a_database_ahead_of_the_set_is_an_unknown_version() {
    let db = TempDb::new();
    let mut conn = db.open();
    let mut three = two(USERS_V1);
    three.push(Migration::new(3, "three", "CREATE TABLE t3 (x);"));
    migrate(&mut conn, &set(three)).unwrap();
    let before = snapshot(&db.path);

    let err = migrate(&mut conn, &set(two(USERS_V1))).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownVersion { version: 3, name, .. } if name == "three"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(snapshot(&db.path), before);
    assert!(conn.is_autocommit(), "the migrator left a transaction open");
}

#[test]
fn a_pending_migration_older_than_the_newest_applied_is_out_of_order() {
    let db = TempDb::new();
    let mut conn = db.open();
    let one = || Migration::new(1, "one", "CREATE TABLE t1 (x);");
    let two = || Migration::new(2, "two", "CREATE TABLE t2 (x);");
    let three = || Migration::new(3, "three", "CREATE TABLE t3 (x);");
    migrate(&mut conn, &set(vec![one(), three()])).unwrap();
    let before = snapshot(&db.path);

    let all = set(vec![one(), two(), three()]);
    let err = migrate(&mut conn, &all).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::OutOfOrder { version: 2, name, origin: Origin::Code, newest_applied: 3, .. }
                if name == "two"
        ),
        "{err:?}"
    );
    assert_eq!(snapshot(&db.path), before);

    let report = Migrator::new(&all)
        .allow_out_of_order(true)
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.applied_versions(), [2]);
    assert_eq!(report.already_applied, 2);
    assert_eq!(versions(&ledger(&conn).unwrap()), [1, 2, 3]);
    assert!(table_names(&db.path).contains(&"t2".to_string()));
}

#[test]
fn a_connection_inside_a_transaction_is_refused_and_its_transaction_left_alone() {
    let db = TempDb::new();
    with_user_table(&db);
    let before = snapshot(&db.path);
    let mut conn = db.open();
    conn.execute_batch("BEGIN; INSERT INTO notes (body) VALUES ('uncommitted');")
        .unwrap();

    let err = migrate(&mut conn, &ten_good()).unwrap_err();
    assert!(matches!(err, Error::TransactionOpen), "{err:?}");
    assert!(!err.is_transient());
    assert!(!conn.is_autocommit(), "the caller's transaction was ended");
    assert_eq!(count(&conn, "notes"), 4);

    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(snapshot(&db.path), before);
}

// ---------------------------------------------------------------------------
// Waiting for another connection's write lock
// ---------------------------------------------------------------------------

#[test]
fn not_waiting_fails_at_once_with_in_progress_while_another_connection_holds_the_write_lock() {
    let db = TempDb::new();
    let holder = db.open();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut conn = db.open();
    let set = ten_good();

    let started = Instant::now();
    let err = Migrator::new(&set)
        .lock_timeout(Duration::ZERO)
        .migrate(&mut conn)
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::InProgress), "{err:?}");
    assert!(err.is_transient());
    assert!(took < Duration::from_millis(500), "took {took:?}");

    holder.execute_batch("COMMIT").unwrap();
    assert!(snapshot(&db.path).schema.is_empty());
    let report = Migrator::new(&set)
        .lock_timeout(Duration::ZERO)
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.applied_versions(), (1..=10).collect::<Vec<_>>());
}

/// `lock_timeout(Duration::ZERO)` promises "fail at once" whenever another connection holds the
/// write lock. A connection that holds it as EXCLUSIVE (`BEGIN EXCLUSIVE`, or
/// a migrating connection whose cache spilled to disk) also blocks readers,
/// and the ledger read before `BEGIN IMMEDIATE` waits the whole lock timeout
/// and then reports `LockTimeout`.
#[test]
fn not_waiting_fails_at_once_with_in_progress_while_another_connection_holds_an_exclusive_lock() {
    let db = TempDb::new();
    let holder = db.open();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut conn = db.open();
    let set = ten_good();

    let started = Instant::now();
    // Not waiting is one setting, whatever came before it.
    let err = Migrator::new(&set)
        .lock_timeout(Duration::from_secs(2))
        .lock_timeout(Duration::ZERO)
        .migrate(&mut conn)
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::InProgress), "{err:?} after {took:?}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
    holder.execute_batch("COMMIT").unwrap();
}

#[test]
fn a_lock_held_past_the_lock_timeout_is_a_lock_timeout_and_a_later_call_succeeds() {
    let db = TempDb::new();
    with_user_table(&db);
    let before = snapshot(&db.path);
    let holder = db.open();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut conn = db.open();
    let set = ten_good();

    let started = Instant::now();
    let err = Migrator::new(&set)
        .lock_timeout(Duration::from_millis(200))
        .migrate(&mut conn)
        .unwrap_err();
    let took = started.elapsed();
    let Error::LockTimeout { waited } = err else {
        panic!("expected LockTimeout, got {err:?}");
    };
    assert!(waited >= Duration::from_millis(190), "waited {waited:?}");
    assert!(waited <= took, "reported {waited:?}, measured {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(err.is_transient());

    holder.execute_batch("COMMIT").unwrap();
    assert_eq!(snapshot(&db.path), before);
    let report = Migrator::new(&set)
        .lock_timeout(Duration::from_millis(200))
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.applied_versions(), (1..=10).collect::<Vec<_>>());
}

#[test]
fn the_report_counts_the_time_spent_waiting_for_the_lock() {
    let db = TempDb::new();
    let holder = db.open();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut conn = db.open();
    let set = ten_good();

    let released = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        holder.execute_batch("COMMIT").unwrap();
    });
    let started = Instant::now();
    let report = migrate(&mut conn, &set).unwrap();
    let took = started.elapsed();
    released.join().unwrap();

    assert_eq!(report.applied_versions(), (1..=10).collect::<Vec<_>>());
    assert!(report.lock_wait >= Duration::from_millis(150), "{report:?}");
    assert!(report.apply_time > Duration::ZERO, "{report:?}");
    assert!(
        report.lock_wait + report.apply_time <= took,
        "{report:?}, took {took:?}"
    );
    for a in &report.applied {
        assert!(a.duration <= report.apply_time, "{a:?} in {report:?}");
    }
}

// ---------------------------------------------------------------------------
// The connection's settings are given back
// ---------------------------------------------------------------------------

fn settings(conn: &Connection) -> (i64, i64) {
    (pragma(conn, "busy_timeout"), pragma(conn, "foreign_keys"))
}

#[test]
fn busy_timeout_and_foreign_keys_are_restored_after_a_successful_migrate() {
    for (timeout_ms, fk) in [(1234_u64, true), (0, false), (7, true)] {
        let db = TempDb::new();
        let mut conn = db.open();
        conn.busy_timeout(Duration::from_millis(timeout_ms))
            .unwrap();
        conn.pragma_update(None, "foreign_keys", fk).unwrap();
        let before = settings(&conn);
        assert_eq!(before, (i64::try_from(timeout_ms).unwrap(), i64::from(fk)));

        Migrator::new(&ten_good())
            .lock_timeout(Duration::from_secs(5))
            .migrate(&mut conn)
            .unwrap();
        assert_eq!(settings(&conn), before);
        // The fast path (nothing pending) restores them too.
        migrate(&mut conn, &ten_good()).unwrap();
        assert_eq!(settings(&conn), before);
    }
}

#[test]
fn busy_timeout_and_foreign_keys_are_restored_after_a_failed_migrate() {
    let db = TempDb::new();
    let mut conn = db.open();
    conn.busy_timeout(Duration::from_millis(1234)).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let before = settings(&conn);

    let err = migrate(&mut conn, &ten_with_failing_fifth()).unwrap_err();
    assert_fifth_failed(&err);
    assert_eq!(settings(&conn), before);

    let holder = db.open();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = Migrator::new(&ten_good())
        .lock_timeout(Duration::ZERO)
        .migrate(&mut conn)
        .unwrap_err();
    assert!(matches!(err, Error::InProgress), "{err:?}");
    assert_eq!(settings(&conn), before);

    let err = Migrator::new(&ten_good())
        .lock_timeout(Duration::from_millis(50))
        .migrate(&mut conn)
        .unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    assert_eq!(settings(&conn), before);
    holder.execute_batch("COMMIT").unwrap();
}

/// A statement that returns rows runs to its end: a backfill written as
/// `SELECT f(x) FROM t` calls `f` for every row, not just the first.
#[test]
fn a_statement_that_returns_rows_runs_over_every_row() {
    let db = TempDb::new();
    let mut conn = db.open();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    conn.create_scalar_function(
        "log_it",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(1)
        },
    )
    .unwrap();
    let s = set(vec![
        Migration::new(
            1,
            "t",
            "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);",
        ),
        Migration::new(2, "backfill", "SELECT log_it(x) FROM t;"),
    ]);
    migrate(&mut conn, &s).unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// Only the checksum ignores line endings: a CRLF inside a string literal
/// of a migration checked out with CRLF endings is stored as written.
#[test]
fn line_endings_inside_string_literals_are_stored_as_written() {
    let db = TempDb::new();
    let mut conn = db.open();
    let crlf = "CREATE TABLE notes(body TEXT);\r\nINSERT INTO notes VALUES ('a\r\nb');\r\n";
    let s = set(vec![Migration::new(1, "notes", crlf)]);
    migrate(&mut conn, &s).unwrap();
    let body: String = query_one(&conn, "SELECT body FROM notes");
    assert_eq!(body, "a\r\nb");
    let lf = set(vec![Migration::new(1, "notes", crlf.replace("\r\n", "\n"))]);
    assert!(
        migrate(&mut conn, &lf).unwrap().applied.is_empty(),
        "same checksum"
    );
}
