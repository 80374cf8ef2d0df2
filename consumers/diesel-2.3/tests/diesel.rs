//! A diesel 2.3 project's tests with migrate-once: diesel's layout
//! (`<date>_<name>/up.sql`), from which the set keeps diesel's ledger by
//! itself.

use std::sync::{Barrier, Mutex};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{
    embed_migrations, EmbeddedMigrations, FileBasedMigrations, MigrationHarness,
};
use migrate_once::diesel_2::DieselExt;
use migrate_once::{AppLedger, Migrations, SharedDb, TestDb};

/// The app's own migrations, as the app embeds them.
const APP_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// `DIR` and one more migration, added after the database was migrated.
fn next_dir() -> tempfile::TempDir {
    let next = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let entry = entry.unwrap();
        let to = next.path().join(entry.file_name());
        std::fs::create_dir(&to).unwrap();
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(entry.path().join(file), to.join(file)).unwrap();
        }
    }
    let audit = next.path().join("2024-01-03-000000_create_audit");
    std::fs::create_dir(&audit).unwrap();
    std::fs::write(
        audit.join("up.sql"),
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);
         INSERT INTO audit (what) VALUES ('migration 20240103000000 ran');",
    )
    .unwrap();
    std::fs::write(audit.join("down.sql"), "DROP TABLE audit;").unwrap();
    next
}

/// The app's migrations from `next_dir()`, as diesel reads them at run time.
fn app_migrations_next(dir: &tempfile::TempDir) -> FileBasedMigrations {
    FileBasedMigrations::from_path(dir.path()).unwrap()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

fn count(conn: &mut SqliteConnection, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

fn diesel_ledger(conn: &mut SqliteConnection) -> Vec<String> {
    diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .load::<Version>(conn)
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect()
}

#[test]
fn a_test_db_is_a_diesel_connection_in_memory_and_on_file() {
    let set = Migrations::from_dir(DIR).unwrap();
    for db in [TestDb::in_memory(&set).unwrap(), TestDb::new(&set).unwrap()] {
        let mut conn = db.diesel_connection().unwrap();
        assert_eq!(count(&mut conn, "users"), 2);
        diesel::sql_query("INSERT INTO users (email, name) VALUES ('x@example.com', 'X')")
            .execute(&mut conn)
            .unwrap();
        // The crate's own connection sees diesel's row: one database.
        let n: i64 = db
            .connect()
            .unwrap()
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        let err = diesel::sql_query("INSERT INTO posts (user_id, title) VALUES (99, 'orphan')")
            .execute(&mut conn)
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }
}

#[test]
fn the_apps_own_migrator_finds_nothing_to_do_on_a_clone() {
    let set = Migrations::from_dir(DIR).unwrap();
    assert_eq!(set.app_ledgers(), [AppLedger::Diesel]);
    let db = TestDb::in_memory(&set).unwrap();
    let mut conn = db.diesel_connection().unwrap();
    // What the app does at start-up.
    let ran = conn.run_pending_migrations(APP_MIGRATIONS).unwrap();
    assert!(ran.is_empty(), "diesel ran {ran:?} again");
    assert_eq!(count(&mut conn, "users"), 2);
    assert_eq!(count(&mut conn, "posts"), 1);
    assert_eq!(
        diesel_ledger(&mut conn),
        ["20240101000000", "20240102000000"]
    );
}

/// A database diesel migrated is adopted: what diesel applied is recorded
/// without running again, and the one new migration runs exactly once
/// though 8 threads open the file at the same moment.
#[test]
fn a_database_diesel_migrated_is_adopted_and_the_new_migration_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let url = path.to_str().unwrap().to_string();
    SqliteConnection::establish(&url)
        .unwrap()
        .run_pending_migrations(APP_MIGRATIONS)
        .unwrap();

    let next_dir = next_dir();
    let next = Migrations::from_dir(next_dir.path()).unwrap();
    let barrier = Barrier::new(8);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let db = SharedDb::open(&path, &next).unwrap();
                reports.lock().unwrap().push(db.report().cloned());
            });
        }
    });
    let reports: Vec<_> = reports
        .into_inner()
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].applied_versions(), [20240103000000]);
    let adopted: Vec<_> = reports[0]
        .adopted
        .iter()
        .map(|a| (a.version, a.from))
        .collect();
    assert_eq!(
        adopted,
        [
            (20240101000000, AppLedger::Diesel),
            (20240102000000, AppLedger::Diesel)
        ]
    );

    let mut conn = SharedDb::open(&path, &next)
        .unwrap()
        .diesel_connection()
        .unwrap();
    assert_eq!(count(&mut conn, "users"), 2);
    assert_eq!(count(&mut conn, "audit"), 1);
    // diesel agrees: the new migration is in its ledger, and nothing is pending.
    assert_eq!(
        diesel_ledger(&mut conn),
        ["20240101000000", "20240102000000", "20240103000000"]
    );
    assert!(conn
        .run_pending_migrations(app_migrations_next(&next_dir))
        .unwrap()
        .is_empty());
    assert_eq!(count(&mut conn, "audit"), 1);
}

/// A version diesel applied that the set does not have: a typed error
/// naming diesel and the version; the database is untouched.
#[test]
fn a_version_diesel_applied_that_the_set_lacks_is_refused_naming_diesel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let next_dir = next_dir();
    SqliteConnection::establish(path.to_str().unwrap())
        .unwrap()
        .run_pending_migrations(app_migrations_next(&next_dir))
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let older = Migrations::from_dir(DIR).unwrap();
    let err = SharedDb::open(&path, &older).unwrap_err();
    assert!(
        matches!(
            &err,
            migrate_once::Error::AppLedgerMismatch {
                tool: AppLedger::Diesel,
                version: 20240103000000,
                problem: migrate_once::AppLedgerProblem::UnknownVersion,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn embed_migrations_compiles_with_migrate_once_as_the_only_helper() {
    let set = migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/migrations").unwrap();
    assert_eq!(set.app_ledgers(), [AppLedger::Diesel]);
    let db = TestDb::in_memory(&set).unwrap();
    let mut conn = db.diesel_connection().unwrap();
    assert!(conn
        .run_pending_migrations(APP_MIGRATIONS)
        .unwrap()
        .is_empty());
}
