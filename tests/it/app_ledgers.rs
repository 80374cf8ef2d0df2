//! App ledgers: the rows sqlx and diesel would have written, written with
//! each migration; databases those tools migrated, adopted.
//!
//! The tools themselves run in the consumer crates (`consumers/`); here the
//! formats are checked byte for byte against what their sources write, with
//! rusqlite alone, so that the checks run on every rusqlite the crate takes.

use migrate_once::{AppLedger, AppLedgerProblem, Error, Migration, Migrations, SharedDb, TestDb};
use rusqlite::Connection;
use sha2::{Digest, Sha384};

use crate::support::{count, files_in};

/// sqlx's `_sqlx_migrations`, as sqlx-sqlite 0.8 and 0.9 create it.
const SQLX_TABLE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);";

/// diesel's `__diesel_schema_migrations`, as diesel 2 creates it.
const DIESEL_TABLE: &str = "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);";

fn sqlx_checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql.as_bytes()).to_vec()
}

const USERS: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO users(name) VALUES ('ada');\n";
const POSTS: &str =
    "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));\n";
const AUDIT: &str = "CREATE TABLE audit(what TEXT);\nINSERT INTO audit VALUES ('3 ran');\n";

fn sqlx_set(with_audit: bool) -> Migrations {
    let mut list = vec![
        Migration::new(20240101000000, "create_users", USERS),
        Migration::new(20240102000000, "create_posts", POSTS),
    ];
    if with_audit {
        list.push(Migration::new(20240103000000, "create_audit", AUDIT));
    }
    Migrations::new(list)
        .unwrap()
        .with_app_ledgers([AppLedger::Sqlx])
}

/// A file as sqlx's migrator leaves it after applying migrations 1 and 2.
fn migrated_by_sqlx(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(SQLX_TABLE).unwrap();
    for (version, description, sql) in [
        (20240101000000_i64, "create users", USERS),
        (20240102000000, "create posts", POSTS),
    ] {
        conn.execute_batch(sql).unwrap();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?1, ?2, TRUE, ?3, 12345)",
            rusqlite::params![version, description, sqlx_checksum(sql)],
        )
        .unwrap();
    }
}

#[test]
fn a_set_keeping_sqlx_s_ledger_writes_the_rows_sqlx_writes() {
    let set = sqlx_set(false);
    let db = TestDb::in_memory(&set).unwrap();
    let conn = db.connect().unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = '_sqlx_migrations'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    // SQLite keeps the CREATE statement as written, less `IF NOT EXISTS`.
    assert_eq!(
        squash(&sql),
        squash(&SQLX_TABLE.replace("IF NOT EXISTS ", "").replace(';', "")),
        "the table as sqlx creates it"
    );
    let rows: Vec<(i64, String, bool, Vec<u8>)> = conn
        .prepare(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (
                20240101000000,
                "create users".to_string(),
                true,
                sqlx_checksum(USERS)
            ),
            (
                20240102000000,
                "create posts".to_string(),
                true,
                sqlx_checksum(POSTS)
            ),
        ]
    );
}

#[test]
fn sqlx_s_checksum_covers_the_file_as_sqlx_reads_it() {
    // sqlx hashes the text as read: a CRLF file and a byte-order mark change
    // its checksum (not the crate's own, which normalizes them).
    let dir = tempfile::tempdir().unwrap();
    let crlf = "\u{feff}CREATE TABLE t(x);\r\nINSERT INTO t VALUES (1);\r\n";
    std::fs::write(dir.path().join("0001_t.up.sql"), crlf).unwrap();
    std::fs::write(dir.path().join("0001_t.down.sql"), "DROP TABLE t;").unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    assert_eq!(
        set.app_ledgers(),
        [AppLedger::Sqlx],
        "inferred from .up.sql"
    );
    let db = TestDb::in_memory(&set).unwrap();
    let checksum: Vec<u8> = db
        .connect()
        .unwrap()
        .query_row("SELECT checksum FROM _sqlx_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(checksum, sqlx_checksum(crlf));
}

#[test]
fn a_diesel_layout_keeps_diesel_s_ledger_with_diesel_s_versions() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in [
        ("2024-01-01-000000_create_users", USERS),
        ("2024-01-02-000000_create_posts", POSTS),
    ] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("up.sql"), sql).unwrap();
    }
    let set = Migrations::from_dir(dir.path()).unwrap();
    assert_eq!(set.app_ledgers(), [AppLedger::Diesel]);
    let db = TestDb::in_memory(&set).unwrap();
    let conn = db.connect().unwrap();
    let versions: Vec<String> = conn
        .prepare("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, ["20240101000000", "20240102000000"]);
}

#[test]
fn plain_files_keep_no_app_ledger_unless_asked() {
    let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")]).unwrap();
    assert!(set.app_ledgers().is_empty());
    let asked = set
        .clone()
        .with_app_ledgers([AppLedger::Diesel, AppLedger::Sqlx]);
    assert_ne!(
        set.hash(),
        asked.hash(),
        "what shapes a template changes its key"
    );
    let db = TestDb::in_memory(&set).unwrap();
    assert_eq!(
        count(
            &db.connect().unwrap(),
            "sqlite_master WHERE name LIKE '%sqlx%'"
        ),
        0
    );
}

#[test]
fn a_database_sqlx_migrated_is_adopted_and_only_the_new_migration_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    migrated_by_sqlx(&path);
    let db = SharedDb::open(&path, &sqlx_set(true)).unwrap();
    let report = db.report().unwrap();
    assert_eq!(report.applied_versions(), [20240103000000]);
    assert_eq!(
        report
            .adopted
            .iter()
            .map(|a| (a.version, a.from))
            .collect::<Vec<_>>(),
        [
            (20240101000000, AppLedger::Sqlx),
            (20240102000000, AppLedger::Sqlx)
        ]
    );
    let conn = db.connect().unwrap();
    assert_eq!(
        count(&conn, "users"),
        1,
        "adopted migrations did not run again"
    );
    assert_eq!(count(&conn, "audit"), 1, "the new one ran once");
    assert_eq!(
        count(&conn, "_sqlx_migrations"),
        3,
        "sqlx's ledger has the new one"
    );
    let ours: Vec<i64> = migrate_once::ledger(&conn)
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(ours, [20240101000000, 20240102000000, 20240103000000]);
}

#[test]
fn a_database_diesel_migrated_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(DIESEL_TABLE).unwrap();
        conn.execute_batch(USERS).unwrap();
        conn.execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101000000')",
            [],
        )
        .unwrap();
    }
    let set = Migrations::new(vec![
        Migration::new(20240101000000, "create_users", USERS),
        Migration::new(20240102000000, "create_posts", POSTS),
    ])
    .unwrap();
    let db = SharedDb::open(&path, &set).unwrap();
    assert_eq!(db.report().unwrap().applied_versions(), [20240102000000]);
    let conn = db.connect().unwrap();
    assert_eq!(count(&conn, "users"), 1);
    assert_eq!(count(&conn, "__diesel_schema_migrations"), 2);
}

/// Each way an app ledger can disagree: the error names the tool, the
/// version and what disagrees; the file is byte-identical afterwards.
#[test]
fn an_app_ledger_that_disagrees_is_refused_and_nothing_changes() {
    type Spoil = fn(&Connection);
    type Is = fn(&AppLedgerProblem) -> bool;
    let cases: [(&str, Spoil, i64, Is, &str); 3] = [
        (
            "unknown version",
            |c| {
                c.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                     VALUES (20991231000000, 'from the future', TRUE, x'00', 1)",
                    [],
                )
                .map(drop)
                .unwrap()
            },
            20991231000000,
            |p| matches!(p, AppLedgerProblem::UnknownVersion),
            "records migration 20991231000000, which the migration set does not have; nothing was applied",
        ),
        (
            "checksum",
            |c| {
                c.execute(
                    "UPDATE _sqlx_migrations SET checksum = x'0102' WHERE version = 20240102000000",
                    [],
                )
                .map(drop)
                .unwrap()
            },
            20240102000000,
            |p| matches!(p, AppLedgerProblem::ChecksumMismatch { recorded, .. } if recorded == "0102"),
            "with checksum 0102, but by sqlx's rule <built in code> now has checksum",
        ),
        (
            "failed",
            |c| {
                c.execute(
                    "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 20240102000000",
                    [],
                )
                .map(drop)
                .unwrap()
            },
            20240102000000,
            |p| matches!(p, AppLedgerProblem::Failed),
            "as failed; sqlx itself refuses the database until that is fixed by hand",
        ),
    ];
    for (what, spoil, version, problem_is, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.sqlite");
        migrated_by_sqlx(&path);
        spoil(&Connection::open(&path).unwrap());
        let before = files_in(dir.path());
        for err in [
            SharedDb::open(&path, &sqlx_set(true)).unwrap_err(),
            migrate_once::migrate(&mut Connection::open(&path).unwrap(), &sqlx_set(true))
                .unwrap_err(),
        ] {
            match &err {
                Error::AppLedgerMismatch {
                    tool: AppLedger::Sqlx,
                    version: v,
                    problem,
                    ..
                } if *v == version && problem_is(problem) => {}
                other => panic!("{what}: unexpected {other:?}"),
            }
            let shown = err.to_string();
            assert!(
                shown.starts_with("sqlx's ledger (_sqlx_migrations) in database "),
                "{what}: {shown}"
            );
            assert!(shown.contains(text), "{what}: {shown}");
            assert!(!err.is_transient(), "{what}");
        }
        assert_eq!(files_in(dir.path()), before, "{what}: the database changed");
    }
}

#[test]
fn an_app_ledger_is_not_schema_drift() {
    // A shared file sqlx migrated has `_sqlx_migrations`; the template of a
    // set without app ledgers has not: neither is a difference.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    migrated_by_sqlx(&path);
    let plain = Migrations::new(vec![
        Migration::new(20240101000000, "create_users", USERS),
        Migration::new(20240102000000, "create_posts", POSTS),
    ])
    .unwrap();
    SharedDb::builder(&path)
        .exact_schema(true)
        .open(&plain)
        .unwrap();
}
