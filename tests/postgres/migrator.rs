//! One migrator on one connection: the ledgers it writes, the errors it
//! gives, what it refuses, what it adopts.

use std::time::Duration;

use migrate_once::postgres::{Migrator, ledger, migrate, validate};
use migrate_once::{AppLedger, Error, Migration, Migrations};
use sha2::Digest;

use crate::support::{ledger_versions, server, tables};

fn shop() -> Migrations {
    Migrations::new(vec![
        Migration::new(1, "create_users", "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);"),
        Migration::new(
            2,
            "touch_trigger",
            "ALTER TABLE users ADD COLUMN touched timestamptz;
             CREATE FUNCTION touch() RETURNS trigger AS $$
             BEGIN
               NEW.touched := now();
               RETURN NEW;
             END;
             $$ LANGUAGE plpgsql;
             CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();",
        ),
        Migration::new(3, "seed", "INSERT INTO users (email) VALUES ('ada@example.com'), ('bob@example.com');"),
    ])
    .expect("a valid set")
}

#[test]
fn every_ledger_gets_one_row_per_migration_in_the_tools_own_format() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    let set = shop().with_app_ledgers([AppLedger::Sqlx, AppLedger::Diesel]);
    let report = migrate(&mut c, &set).unwrap();
    assert_eq!(report.applied_versions(), [1, 2, 3]);
    assert!(report.lock_wait > Duration::ZERO);

    let rows = ledger(&mut c).unwrap();
    let checksums: Vec<&str> = rows.iter().map(|r| r.checksum.as_str()).collect();
    let expected: Vec<&str> = set.iter().map(|m| m.checksum()).collect();
    assert_eq!(checksums, expected);
    assert!(
        rows[0].applied_at.ends_with('Z') && rows[0].applied_at.len() == 24,
        "{}",
        rows[0].applied_at
    );

    // sqlx's rows: version, description, success, SHA-384 of the file.
    let sqlx: Vec<(i64, String, bool, Vec<u8>)> = c
        .query(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(sqlx.len(), 3);
    assert_eq!(sqlx[0].1, "create users");
    assert!(sqlx.iter().all(|r| r.2));
    assert_eq!(
        sqlx[2].3,
        sha2::Sha384::digest(set.get(3).unwrap().up_sql()).to_vec()
    );
    // Their column types, as sqlx-postgres creates them.
    let types: Vec<(String, String)> = c
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_name = '_sqlx_migrations' ORDER BY ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        types[2],
        ("installed_on".into(), "timestamp with time zone".into())
    );
    assert_eq!(types[4], ("checksum".into(), "bytea".into()));
    let diesel: Vec<String> = c
        .query(
            "SELECT version FROM __diesel_schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(diesel, ["1", "2", "3"]);

    // Again: nothing pending, found without the lock.
    let again = migrate(&mut c, &set).unwrap();
    assert_eq!(
        (again.applied.len(), again.already_applied, again.lock_wait),
        (0, 3, Duration::ZERO)
    );
    validate(&mut c, &set).unwrap();
    // The trigger from the dollar-quoted body works.
    c.batch_execute("UPDATE users SET email = email").unwrap();
    let touched: i64 = c
        .query_one("SELECT count(touched) FROM users", &[])
        .unwrap()
        .get(0);
    assert_eq!(touched, 2);
}

#[test]
fn a_failing_statement_is_named_by_the_server_position_and_nothing_is_kept() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    let set = Migrations::new(vec![
        Migration::new(1, "users", "CREATE TABLE users (id int PRIMARY KEY);"),
        Migration::new(
            2,
            "posts",
            "CREATE TABLE posts (id int PRIMARY KEY);\nINSERT INTO posts VALUES (1);\nINSERT INTO posts (id) VALUSE (2);\nINSERT INTO posts VALUES (3);",
        ),
    ])
    .unwrap();
    let err = migrate(&mut c, &set).unwrap_err();
    let Error::PostgresSql {
        version,
        index,
        line,
        statement,
        ..
    } = &err
    else {
        panic!("expected PostgresSql: {err:?}");
    };
    assert_eq!((*version, *index, *line), (2, 3, 3), "{err}");
    assert_eq!(statement, "INSERT INTO posts (id) VALUSE (2);");
    assert!(
        format!("{err:?}").contains("syntax error at or near \"VALUSE\""),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // Migration 1 went with it: one transaction.
    assert!(
        tables(&mut c, "public").is_empty(),
        "{:?}",
        tables(&mut c, "public")
    );

    // No position (a duplicate table): a one-statement migration is named whole.
    let set = Migrations::new(vec![
        Migration::new(1, "users", "CREATE TABLE users (id int PRIMARY KEY);"),
        Migration::new(2, "again", "CREATE TABLE users (id int PRIMARY KEY);"),
    ])
    .unwrap();
    let err = migrate(&mut c, &set).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::PostgresSql {
                version: 2,
                index: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(tables(&mut c, "public").is_empty());

    // No position in a migration of several statements: found by running
    // them one at a time in a transaction rolled back after.
    let set = Migrations::new(vec![
        Migration::new(1, "users", "CREATE TABLE users (id int PRIMARY KEY);"),
        Migration::new(
            2,
            "more",
            "CREATE TABLE posts (id int);\n\nCREATE TABLE users (id int);\nCREATE TABLE tags (id int);",
        ),
    ])
    .unwrap();
    let err = migrate(&mut c, &set).unwrap_err();
    let Error::PostgresSql {
        index,
        line,
        statement,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*index, *line, statement.as_str()),
        (2, 3, "CREATE TABLE users (id int);"),
        "{err}"
    );
    assert!(tables(&mut c, "public").is_empty());
    let held: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
}

#[test]
fn an_edited_migration_and_a_database_ahead_are_refused_and_change_nothing() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    migrate(&mut c, &shop()).unwrap();
    let mut list: Vec<Migration> = shop().iter().cloned().collect();
    list[0] = Migration::new(1, "create_users", "CREATE TABLE users (id int);");
    let edited = Migrations::new(list).unwrap();
    let err = migrate(&mut c, &edited).unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { version: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("(schema public)"), "{err}");

    let older = Migrations::new(shop().iter().take(2).cloned().collect()).unwrap();
    let err = migrate(&mut c, &older).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownVersion { version: 3, .. }),
        "{err:?}"
    );
    assert_eq!(ledger_versions(&mut c, "public"), [1, 2, 3]);
}

#[test]
fn statements_that_cannot_run_in_a_transaction_are_refused_before_anything_is_sent() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    for sql in [
        "CREATE TABLE t (x int);\nCREATE INDEX CONCURRENTLY t_x ON t (x);",
        "VACUUM;",
        "ALTER SYSTEM SET work_mem = '8MB';",
        "CREATE DATABASE other;",
        "COMMIT;",
    ] {
        // Refused when the set loads (SQLite's rules refuse it too) or when
        // Postgres's migrator starts: never once anything ran.
        let err = match Migrations::new(vec![Migration::new(1, "bad", sql)]) {
            Err(e) => e,
            Ok(set) => migrate(&mut c, &set).unwrap_err(),
        };
        assert!(
            matches!(&err, Error::ForbiddenStatement { version: 1, .. }),
            "{sql}: {err:?}"
        );
        assert!(err.to_string().contains("is not allowed"), "{err}");
    }
    // Not even the ledger was created.
    assert!(tables(&mut c, "public").is_empty());
}

#[test]
fn a_no_transaction_migration_runs_outside_and_is_recorded_after() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    let set = Migrations::new(vec![
        Migration::new(1, "t", "CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 1000);"),
        Migration::new(2, "index", "-- no-transaction\nCREATE INDEX CONCURRENTLY t_x ON t (x);\nCREATE INDEX CONCURRENTLY t_x2 ON t ((x * 2));"),
        Migration::new(3, "u", "CREATE TABLE u (y int);"),
    ])
    .unwrap();
    let report = migrate(&mut c, &set).unwrap();
    assert_eq!(report.applied_versions(), [1, 2, 3]);
    assert_eq!(ledger_versions(&mut c, "public"), [1, 2, 3]);
    let valid: bool = c
        .query_one(
            "SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 't'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
    // The session lock is gone.
    let held: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
    assert!(migrate(&mut c, &set).unwrap().applied.is_empty());
    validate(&mut c, &set).unwrap();
}

#[test]
fn a_database_sqlx_migrated_is_adopted_and_only_the_rest_runs() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    let set = shop().with_app_ledgers([AppLedger::Sqlx]);
    // What sqlx-postgres leaves after applying migrations 1 and 2.
    c.batch_execute(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
           installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
           checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .unwrap();
    for m in set.iter().take(2) {
        c.batch_execute(m.up_sql()).unwrap();
        c.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, $2, TRUE, $3, -1)",
            &[
                &m.version(),
                &m.name().replace('_', " "),
                &sha2::Sha384::digest(m.up_sql()).to_vec(),
            ],
        )
        .unwrap();
    }
    let report = migrate(&mut c, &set).unwrap();
    assert_eq!(
        report.adopted.iter().map(|a| a.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(report.applied_versions(), [3]);
    assert_eq!(ledger_versions(&mut c, "public"), [1, 2, 3]);
    let sqlx: i64 = c
        .query_one("SELECT count(*) FROM _sqlx_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(sqlx, 3);
    validate(&mut c, &set).unwrap();
}

#[test]
fn a_set_migrated_into_schema_a_does_not_validate_a_connection_on_schema_b() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    let set = shop();
    Migrator::new(&set).schema("a").migrate(&mut c).unwrap();
    // The caller's search_path is its own again.
    let current: String = c
        .query_one("SELECT current_schema()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(current, "public");
    c.batch_execute("SET search_path TO a").unwrap();
    validate(&mut c, &set).unwrap();
    c.batch_execute("CREATE SCHEMA b; SET search_path TO b")
        .unwrap();
    let err = validate(&mut c, &set).unwrap_err();
    let Error::Validation { missing, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(missing.len(), 3, "{err}");
    assert_eq!(missing[0].kind, "migration");

    // A table dropped after migrating is named.
    c.batch_execute("SET search_path TO a; DROP TABLE users CASCADE")
        .unwrap();
    let err = validate(&mut c, &set).unwrap_err();
    let Error::Validation { missing, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        missing
            .iter()
            .any(|o| o.kind == "table" && o.name == "users"),
        "{err}"
    );
}

#[test]
fn a_connection_inside_a_transaction_is_refused() {
    let server = server!();
    let db = server.create_database().unwrap();
    let mut c = db.connect().unwrap();
    c.batch_execute("BEGIN").unwrap();
    assert!(matches!(
        migrate(&mut c, &shop()),
        Err(Error::TransactionOpen)
    ));
    c.batch_execute("ROLLBACK").unwrap();
    migrate(&mut c, &shop()).unwrap();
}

#[test]
fn a_plpgsql_set_loads_and_sqlite_refuses_it_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_f.sql"),
        "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;",
    )
    .unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    let err = migrate_once::migrate(&mut conn, &set).unwrap_err();
    assert!(
        matches!(&err, Error::ForbiddenStatement { index: 2, .. }),
        "{err:?}"
    );
    let server = server!();
    let mut c = server.create_database().unwrap().connect().unwrap();
    migrate(&mut c, &set).unwrap();
    let one: i32 = c.query_one("SELECT f()", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}
