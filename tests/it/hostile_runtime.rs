//! Hostile input, round 2: what a careful user does at run time, and what
//! must come of it. SQL that reaches outside its migration is contained or
//! refused; reports and ledgers never lie; waits never panic; one test's
//! pool never holds up another's; errors say what happened.

use std::fs;
use std::time::{Duration, Instant};

use migrate_once::{Error, Migration, Migrations, Migrator, SharedDb, TestDb, migrate};
use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::child::{ChildEnv, child_test};
use crate::support::{TempDb, count, crate_migrations, ledger_versions, pragma, query_one};

fn set(list: Vec<Migration>) -> Migrations {
    Migrations::new(list).unwrap()
}

fn load_refused(sql: &str) -> (usize, String, &'static str) {
    match Migrations::new(vec![Migration::new(1, "m", sql)]) {
        Err(Error::ForbiddenStatement {
            index,
            statement,
            reason,
            ..
        }) => (index, statement, reason),
        other => panic!("{sql}: expected ForbiddenStatement, got {other:?}"),
    }
}

#[test]
fn a_savepoint_of_an_earlier_migration_cannot_be_rolled_back_or_released() {
    // Migration 1 leaves a savepoint open; migration 2 rolls back (or
    // releases) to it. Contained: each migration has a savepoint of its own,
    // released when it ends, so `s` is gone by then and nothing is applied.
    for escape in [
        "ROLLBACK TO s;",
        "RELEASE s;",
        "ROLLBACK TRANSACTION TO SAVEPOINT s;",
    ] {
        let db = TempDb::new();
        let s = set(vec![
            Migration::new(
                1,
                "opens",
                "SAVEPOINT s; CREATE TABLE a(x); INSERT INTO a VALUES (1);",
            ),
            Migration::new(2, "escapes", format!("{escape} CREATE TABLE b(x);")),
        ]);
        let before = db.state();
        let err = migrate(&mut db.open(), &s).unwrap_err();
        match &err {
            Error::Sql {
                version: 2,
                index: 1,
                ..
            } => {}
            other => panic!("{escape}: expected Sql for migration 2, got {other:?}"),
        }
        assert!(
            format!("{err:?}").contains("no such savepoint: s"),
            "{err:?}"
        );
        assert_eq!(db.state(), before, "{escape}: nothing was applied");
    }
}

#[test]
fn a_migration_that_rolls_back_its_own_savepoint_keeps_the_rest_and_the_report_is_true() {
    let db = TempDb::new();
    let s = set(vec![
        Migration::new(1, "a", "CREATE TABLE a(x); INSERT INTO a VALUES (1);"),
        Migration::new(
            2,
            "own",
            "SAVEPOINT mine; INSERT INTO a VALUES (2); ROLLBACK TO mine; RELEASE mine;
             INSERT INTO a VALUES (3);",
        ),
    ]);
    let mut conn = db.open();
    let report = migrate(&mut conn, &s).unwrap();
    assert_eq!(report.applied_versions(), [1, 2]);
    assert_eq!(ledger_versions(&conn), [1, 2]);
    let rows: Vec<i64> = crate::support::column(&conn, "SELECT x FROM a ORDER BY x");
    assert_eq!(rows, [1, 3]);
}

#[test]
fn sql_that_would_reach_the_ledgers_is_refused_when_the_set_loads() {
    for sql in [
        "DELETE FROM _migrate_once_ledger;",
        "DROP TABLE \"_migrate_once_ledger\";",
        "UPDATE main.[_MIGRATE_ONCE_LEDGER] SET checksum = 'x';",
        "INSERT INTO _sqlx_migrations (version) VALUES (1);",
        "DELETE FROM __diesel_schema_migrations;",
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM _migrate_once_ledger; END;",
    ] {
        let (_, _, reason) = load_refused(sql);
        assert!(reason.contains("ledger"), "{sql}: {reason}");
    }
    // A string that only mentions the name is data, not a reference.
    set(vec![Migration::new(
        1,
        "note",
        "CREATE TABLE notes(t); INSERT INTO notes VALUES ('_migrate_once_ledger');",
    )]);
}

#[test]
fn attach_and_detach_are_refused_when_the_set_loads() {
    for sql in ["ATTACH DATABASE 'other.db' AS other;", "DETACH other;"] {
        let (_, _, reason) = load_refused(sql);
        assert!(reason.contains("outlive the migration"), "{sql}: {reason}");
    }
}

#[test]
fn pragmas_that_would_outlive_the_migration_or_do_nothing_are_refused() {
    for (sql, because) in [
        ("PRAGMA locking_mode = EXCLUSIVE;", "changes the connection"),
        ("PRAGMA main.synchronous = OFF;", "changes the connection"),
        ("PRAGMA cache_size(-2000);", "changes the connection"),
        ("PRAGMA query_only = 1;", "changes the connection"),
        (
            "PRAGMA encoding = 'UTF-16';",
            "no effect inside a transaction",
        ),
        ("PRAGMA page_size = 8192;", "no effect inside a transaction"),
        (
            "PRAGMA auto_vacuum = FULL;",
            "no effect inside a transaction",
        ),
        ("PRAGMA schema_version = 7;", "corrupt"),
        ("PRAGMA writable_schema = ON;", "corrupt"),
        ("PRAGMA no_such_thing = 1;", "does not know"),
    ] {
        let (_, _, reason) = load_refused(sql);
        assert!(reason.contains(because), "{sql}: {reason}");
    }
    // Reading them, and the pragmas migrations use, are fine.
    set(vec![Migration::new(
        1,
        "ok",
        "PRAGMA page_size; PRAGMA user_version = 3; PRAGMA foreign_keys = OFF;
         PRAGMA defer_foreign_keys = ON; PRAGMA legacy_alter_table = ON;
         CREATE TABLE t(x); PRAGMA table_info(t); PRAGMA foreign_key_check;",
    )]);
}

#[test]
fn legacy_alter_table_set_by_a_migration_is_set_back() {
    let db = TempDb::new();
    let mut conn = db.open();
    let s = set(vec![Migration::new(
        1,
        "legacy",
        "PRAGMA legacy_alter_table = ON; CREATE TABLE t(x);",
    )]);
    migrate(&mut conn, &s).unwrap();
    assert!(!pragma::<bool>(&conn, "legacy_alter_table"));
    assert_eq!(pragma::<i64>(&conn, "user_version"), 0);
}

#[test]
fn an_older_set_after_a_newer_one_is_refused_in_one_process_as_in_another() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("app.sqlite");
    let older = set(vec![Migration::new(1, "a", "CREATE TABLE a(x);")]);
    let newer = set(vec![
        Migration::new(1, "a", "CREATE TABLE a(x);"),
        Migration::new(2, "b", "CREATE TABLE b(x);"),
    ]);
    SharedDb::open(&path, &newer).unwrap();
    for attempt in 0..2 {
        let err = SharedDb::open(&path, &older).unwrap_err();
        assert!(
            matches!(err, Error::UnknownVersion { version: 2, .. }),
            "attempt {attempt}: {err:?}"
        );
    }
    // And the newer set still opens it.
    SharedDb::open(&path, &newer).unwrap();
}

#[test]
fn a_shared_file_truncated_in_place_is_migrated_again_in_the_same_process() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("reset.sqlite");
    let s = crate_migrations();
    let db = SharedDb::open(&path, s).unwrap();
    db.connect()
        .unwrap()
        .execute(
            "INSERT INTO users (email, display_name) VALUES ('x@example.com', 'X')",
            [],
        )
        .unwrap();
    // What a test's reset does: same file, same inode, no content.
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let again = SharedDb::open(&path, s).unwrap();
    let report = again.report().expect("this open migrated the file again");
    assert_eq!(report.applied.len(), s.len());
    let conn = again.connect().unwrap();
    assert_eq!(count(&conn, "users"), 2, "the seed, and nothing of before");
    assert_eq!(ledger_versions(&conn).len(), s.len());
}

#[test]
fn waiting_as_long_as_it_takes_is_duration_max_and_never_panics() {
    let db = TempDb::new();
    let s = set(vec![Migration::new(1, "a", "CREATE TABLE a(x);")]);
    Migrator::new(&s)
        .lock_timeout(Duration::MAX)
        .migrate(&mut db.open())
        .unwrap();
    let tmp = TempDir::new().unwrap();
    let shared = SharedDb::builder(tmp.path().join("s.sqlite"))
        .lock_timeout(Duration::MAX)
        .busy_timeout(Duration::from_secs(30 * 24 * 60 * 60))
        .open(&s)
        .unwrap();
    // Clamped to what SQLite's int of milliseconds holds.
    assert_eq!(
        pragma::<i64>(&shared.connect().unwrap(), "busy_timeout"),
        i64::from(i32::MAX)
    );
    // A file: in memory the crate's own busy handler replaces the timeout.
    let test_db = TestDb::builder(&s)
        .busy_timeout(Duration::MAX)
        .file()
        .unwrap();
    assert_eq!(
        pragma::<i64>(&test_db.connect().unwrap(), "busy_timeout"),
        i64::from(i32::MAX)
    );
}

#[test]
fn a_slow_connection_hook_in_one_pool_does_not_hold_up_another() {
    let s = crate_migrations();
    let slow = TestDb::builder(s)
        .on_connect(|_| {
            std::thread::sleep(Duration::from_secs(2));
            Ok(())
        })
        .in_memory()
        .unwrap();
    let slow_pool = slow.pool().unwrap();
    let busy = std::thread::spawn(move || slow_pool.get().map(drop));
    std::thread::sleep(Duration::from_millis(100)); // the slow hook is running
    let other = TestDb::in_memory(s).unwrap();
    let started = Instant::now();
    let conn = other.pool().unwrap().get().unwrap();
    assert_eq!(count(&conn, "users"), 2);
    drop(conn);
    drop(other);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "waited {took:?} behind another test's hook"
    );
    busy.join().unwrap().unwrap();
}

#[test]
fn a_closed_test_db_s_pool_refuses_at_once() {
    let db = TestDb::in_memory(crate_migrations()).unwrap();
    let pool = db.pool().unwrap();
    db.close().unwrap();
    let started = Instant::now();
    let err = pool.get().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert!(
        format!("{err:?}").contains("this TestDb was closed"),
        "{err:?}"
    );
}

#[test]
fn a_foreign_key_violation_from_before_the_run_does_not_block_it() {
    let db = TempDb::new();
    let mut conn = db.open();
    let first = set(vec![Migration::new(
        1,
        "tables",
        "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(p INTEGER REFERENCES p(id));",
    )]);
    migrate(&mut conn, &first).unwrap();
    // A violation made outside any migration, with enforcement off.
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; INSERT INTO c VALUES (42); PRAGMA foreign_keys = ON;",
    )
    .unwrap();
    let mut list: Vec<Migration> = first.iter().cloned().collect();
    list.push(Migration::new(2, "more", "CREATE TABLE other(x);"));
    let report = migrate(&mut conn, &set(list.clone())).unwrap();
    assert_eq!(report.applied_versions(), [2]);

    // A violation the run adds is still refused, and counted alone.
    list.push(Migration::new(3, "bad", "INSERT INTO c VALUES (7);"));
    let before = db.state();
    let err = migrate(&mut conn, &set(list)).unwrap_err();
    match &err {
        Error::ForeignKeyViolation {
            table, count: 1, ..
        } if table == "c" => {}
        other => panic!("expected one new violation, got {other:?}"),
    }
    drop(conn);
    assert_eq!(db.state(), before);
}

#[test]
fn required_tables_compare_as_sqlite_does_and_the_ledger_counts() {
    let tmp = TempDir::new().unwrap();
    SharedDb::builder(tmp.path().join("a.sqlite"))
        .require_tables(["USERS", "Posts", "_migrate_once_ledger"])
        .open(crate_migrations())
        .unwrap();
    let err = SharedDb::builder(tmp.path().join("b.sqlite"))
        .require_tables(["sessions"])
        .open(crate_migrations())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { missing, .. } if missing.len() == 1),
        "{err:?}"
    );
}

#[test]
fn a_shared_db_is_a_file_and_says_what_to_use_otherwise() {
    let s = crate_migrations();
    for (given, says) in [
        (":memory:", "TestDb::in_memory"),
        ("", "give a file path"),
        ("file:/x?vfs=memdb", "TestDb::in_memory"),
        ("file:db.sqlite?mode=rwc", "not a `file:` URI"),
    ] {
        let err = SharedDb::open(given, s).unwrap_err();
        assert!(
            matches!(err, Error::NotAFilePath { .. }),
            "{given:?}: {err:?}"
        );
        assert!(err.to_string().contains(says), "{given:?}: {err}");
    }
}

#[test]
fn a_long_failing_statement_makes_a_short_message() {
    let big = format!("INSERT INTO nowhere VALUES ('{}');", "x".repeat(3_000_000));
    let s = set(vec![Migration::new(1, "big", &big)]);
    let err = migrate(&mut Connection::open_in_memory().unwrap(), &s).unwrap_err();
    let shown = format!("{err:?}");
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
    assert!(shown.contains("no such table: nowhere"), "{shown}");
    assert!(
        shown.contains(&format!("({} bytes in all)", big.len())),
        "{shown}"
    );
}

#[test]
fn a_checksum_mismatch_names_the_database_and_how_to_start_over() {
    let db = TempDb::new();
    let mut conn = db.open();
    migrate(
        &mut conn,
        &set(vec![Migration::new(1, "a", "CREATE TABLE a(x);")]),
    )
    .unwrap();
    let edited = set(vec![Migration::new(1, "a", "CREATE TABLE a(x, y);")]);
    let err = migrate(&mut conn, &edited).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("database {}", db.path.display())),
        "{text}"
    );
    assert!(text.contains("can be deleted instead"), "{text}");
}

const CACHE: &str = "MIGRATE_ONCE_CACHE_DIR";
const SHARED: &str = "MIGRATE_ONCE_TEST_SHARED";

/// Run with a cache directory that cannot be used (a file stands where it
/// should be): a shared database does not need it.
#[test]
#[ignore = "run as a child process by hostile_runtime::a_shared_db_needs_no_template_cache"]
fn child_opens_a_shared_db_without_a_cache() {
    let env = ChildEnv::of("hostile_runtime::a_shared_db_needs_no_template_cache");
    let _ = env.path(CACHE);
    let path = env.path(SHARED);
    let db = SharedDb::open(&path, crate_migrations()).unwrap();
    let applied = db.report().unwrap().applied.len();
    let again = SharedDb::open(&path, crate_migrations())
        .map(|_| ())
        .is_ok();
    let template = migrate_once::Template::for_set(crate_migrations());
    println!(
        "RESULT applied={applied} again={} template_refused={}",
        u8::from(again),
        u8::from(
            matches!(&template, Err(Error::UnsafePath { problem, .. }) if problem.starts_with("it is not a directory"))
        )
    );
}

#[test]
fn a_shared_db_needs_no_template_cache() {
    let tmp = TempDir::new().unwrap();
    let not_a_dir = tmp.path().join("cache");
    fs::write(&not_a_dir, b"a file where the cache directory should be").unwrap();
    let out = child_test!(child_opens_a_shared_db_without_a_cache)
        .env(CACHE, &not_a_dir)
        .env(SHARED, tmp.path().join("shared.sqlite"))
        .run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.field("applied"),
        Some(crate_migrations().len()),
        "{out:?}"
    );
    assert_eq!(out.field("again"), Some(1), "{out:?}");
    assert_eq!(out.field("template_refused"), Some(1), "{out:?}");
}

/// Run as an unprivileged user in a directory it may not write: the
/// database file is its own, but SQLite cannot create the journal beside it.
#[test]
#[ignore = "run as a child process by hostile_runtime::a_directory_without_room_for_the_journal_is_not_blamed_on_the_sql"]
fn child_migrates_in_a_read_only_directory() {
    let env = ChildEnv::of(
        "hostile_runtime::a_directory_without_room_for_the_journal_is_not_blamed_on_the_sql",
    );
    let path = env.path(SHARED);
    let s = set(vec![Migration::new(1, "a", "CREATE TABLE a(x);")]);
    let first = SharedDb::open(&path, &s).unwrap_err();
    let second = SharedDb::open(&path, &s).unwrap_err();
    let database = |e: &Error| matches!(e, Error::Database { .. });
    println!(
        "RESULT database={} journal_hint={}",
        u8::from(database(&first) && database(&second)),
        u8::from(first.to_string().contains("directory must be writable")),
    );
    eprintln!("{first:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_directory_without_room_for_the_journal_is_not_blamed_on_the_sql() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("ro");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("db.sqlite");
    fs::write(&path, b"").unwrap();
    // The file is the unprivileged user's to write; the directory is not.
    chown(&path, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let out = child_test!(child_migrates_in_a_read_only_directory)
        .env(SHARED, &path)
        .unprivileged()
        .run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("database"), Some(1), "{out:?}");
    assert_eq!(out.field("journal_hint"), Some(1), "{out:?}");
    assert_eq!(fs::read(&path).unwrap(), b"", "nothing was written");
}

/// Run in a child: it changes the working directory, which is the whole
/// process's.
#[test]
#[ignore = "run as a child process by hostile_runtime::a_shared_db_opened_by_a_relative_path_stays_that_file"]
fn child_changes_directory_under_a_shared_db() {
    let env =
        ChildEnv::of("hostile_runtime::a_shared_db_opened_by_a_relative_path_stays_that_file");
    let dir = env.path(SHARED);
    std::env::set_current_dir(&dir).unwrap();
    let db = SharedDb::open("rel.sqlite", crate_migrations()).unwrap();
    db.connect()
        .unwrap()
        .execute(
            "INSERT INTO users (email, display_name) VALUES ('r@example.com', 'R')",
            [],
        )
        .unwrap();
    std::env::set_current_dir(dir.parent().unwrap()).unwrap();
    let users: i64 = query_one(&db.connect().unwrap(), "SELECT count(*) FROM users");
    let pooled: i64 = query_one(
        &db.pool().unwrap().get().unwrap(),
        "SELECT count(*) FROM users",
    );
    fs::remove_file(dir.join("rel.sqlite")).unwrap();
    let gone = db.connect().is_err();
    println!(
        "RESULT users={users} pooled={pooled} gone_refused={} recreated={}",
        u8::from(gone),
        u8::from(
            dir.join("rel.sqlite").exists() || dir.parent().unwrap().join("rel.sqlite").exists()
        )
    );
}

#[test]
fn a_shared_db_opened_by_a_relative_path_stays_that_file() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("here");
    fs::create_dir(&dir).unwrap();
    let out = child_test!(child_changes_directory_under_a_shared_db)
        .env(SHARED, &dir)
        .run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("users"), Some(3), "{out:?}");
    assert_eq!(out.field("pooled"), Some(3), "{out:?}");
    assert_eq!(out.field("gone_refused"), Some(1), "{out:?}");
    assert_eq!(out.field("recreated"), Some(0), "{out:?}");
}
