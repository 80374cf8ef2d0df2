//! Bad input: every kind gets its own typed error naming the file, version
//! and (for SQL) the statement, and leaves the database exactly as it was —
//! its schema, ledger and rows, and every byte of every file beside it.
//!
//! Each input lives in its own folder under `tests/fixtures/hostile/`.
//! Inputs that git cannot keep faithfully (CRLF line endings under
//! `core.autocrlf`, a 10 MB file, non-ASCII file names, symbolic links) are
//! written into a temporary directory at run time, from the folder's files.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use migrate_once::{Error, Migrations, Origin, SharedDb, ledger, migrate};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode};
use tempfile::TempDir;

use crate::support::{TempDb, load_err, rows_of, sha256_hex, snapshot, sqlite_code};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `tests/fixtures/hostile/<rel>`.
fn fixture(rel: &str) -> PathBuf {
    crate::support::fixture("hostile").join(rel)
}

fn load(rel: &str) -> Migrations {
    Migrations::from_dir(fixture(rel)).unwrap_or_else(|e| panic!("load {rel}: {e}"))
}

/// The text of a fixture file with line endings as the crate normalizes
/// them, whatever git did to it on checkout.
fn text_of(path: &Path) -> String {
    fs::read_to_string(path).unwrap().replace("\r\n", "\n")
}

/// A fresh (zero-length) database file in its own directory.
fn fresh() -> TempDb {
    let db = TempDb::named("app.db");
    fs::File::create(&db.path).unwrap();
    db
}

/// A database migrated with `applied`, holding three users.
fn migrated(applied: &Migrations) -> TempDb {
    let db = fresh();
    let mut conn = db.open();
    migrate(&mut conn, applied).unwrap();
    conn.execute_batch("INSERT INTO users (name) VALUES ('ada'), ('grace'), ('edsger');")
        .unwrap();
    db
}

/// Migrates `db` with `set` and returns the error it must give.
fn migrate_err(db: &TempDb, set: &Migrations) -> Error {
    match migrate(&mut db.open(), set) {
        Ok(r) => panic!("migrating succeeded, an error was expected: {r:?}"),
        Err(e) => e,
    }
}

/// `SharedDb::open` of `db` with `set`, which must fail.
fn shared_err(db: &TempDb, set: &Migrations) -> Error {
    match SharedDb::open(&db.path, set) {
        Ok(_) => panic!("SharedDb::open succeeded, an error was expected"),
        Err(e) => e,
    }
}

/// The set made of the first `n` migrations of `set`, same files.
fn first(set: &Migrations, n: usize) -> Migrations {
    Migrations::new(set.iter().take(n).cloned().collect()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::write(to.join(e.file_name()), fs::read(e.path()).unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------
// Drift between the files and the database
// ---------------------------------------------------------------------------

#[test]
fn an_applied_migration_edited_afterwards_is_a_checksum_mismatch_naming_both_checksums() {
    let applied = load("edited_after_apply/applied");
    let edited = load("edited_after_apply/edited");
    let db = migrated(&applied);
    let before = db.state();

    let file = fixture("edited_after_apply/edited/0001_create_users.sql");
    let applied_sum = sha256_hex(&text_of(&fixture(
        "edited_after_apply/applied/0001_create_users.sql",
    )));
    let current_sum = sha256_hex(&text_of(&file));
    assert_ne!(applied_sum, current_sum);

    for err in [migrate_err(&db, &edited), shared_err(&db, &edited)] {
        eprintln!("edited: {err}");
        match &err {
            Error::ChecksumMismatch {
                version,
                name,
                origin,
                applied,
                current,
                ..
            } => {
                assert_eq!((*version, name.as_str()), (1, "create_users"));
                assert_eq!(origin, &Origin::File(file.clone()));
                assert_eq!(applied, &applied_sum);
                assert_eq!(current, &current_sum);
            }
            other => panic!("expected ChecksumMismatch: {other:?}"),
        }
        let text = err.to_string();
        for part in [
            "migration 1 (create_users)",
            &file.display().to_string(),
            &applied_sum,
            &current_sum,
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
        assert!(!err.is_transient());
        assert_eq!(db.state(), before);
    }
}

#[test]
fn a_change_of_line_endings_only_is_not_an_edit() {
    let tmp = TempDir::new().unwrap();
    let (lf, crlf) = (tmp.path().join("lf"), tmp.path().join("crlf"));
    fs::create_dir(&lf).unwrap();
    fs::create_dir(&crlf).unwrap();
    for e in fs::read_dir(fixture("crlf_line_endings")).unwrap() {
        let e = e.unwrap();
        let text = text_of(&e.path());
        fs::write(lf.join(e.file_name()), &text).unwrap();
        fs::write(crlf.join(e.file_name()), text.replace('\n', "\r\n")).unwrap();
    }
    assert!(
        fs::read(crlf.join("0002_create_posts.sql"))
            .unwrap()
            .windows(2)
            .any(|w| w == b"\r\n")
    );
    let (lf, crlf) = (
        Migrations::from_dir(&lf).unwrap(),
        Migrations::from_dir(&crlf).unwrap(),
    );
    assert_eq!(lf.hash(), crlf.hash());

    for (applied, now) in [(&lf, &crlf), (&crlf, &lf)] {
        let db = migrated(applied);
        let before = db.state();
        let mut conn = db.open();
        let report = migrate(&mut conn, now).expect("line endings are not an edit");
        assert!(report.applied.is_empty());
        assert_eq!(report.already_applied, 2);
        drop(conn);
        SharedDb::open(&db.path, now).expect("line endings are not an edit");
        assert_eq!(db.state(), before);
    }
}

/// A lone CR is a byte of the migration, not a line ending: a literal
/// changed from `'a\rb'` to `'a\nb'` after it was applied stores other
/// data, and is an edit (it passed the checksum when every CR read as LF).
#[test]
fn a_lone_cr_changed_to_lf_in_a_literal_is_an_edit() {
    let tmp = TempDir::new().unwrap();
    let write = |dir: &str, literal: &str| {
        let d = tmp.path().join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("0001_create_users.sql"),
            format!("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);\r\nINSERT INTO users(name) VALUES ('{literal}');\r\n"),
        )
        .unwrap();
        Migrations::from_dir(&d).unwrap()
    };
    let (cr, lf, crlf) = (
        write("cr", "a\rb"),
        write("lf", "a\nb"),
        write("crlf", "a\r\nb"),
    );
    let db = migrated(&cr);
    let before = db.state();
    for edited in [&lf, &crlf] {
        let err = migrate_err(&db, edited);
        assert!(
            matches!(&err, Error::ChecksumMismatch { version: 1, applied, current, .. }
                if applied == cr.get(1).unwrap().checksum() && current == edited.get(1).unwrap().checksum()),
            "{err:?}"
        );
        assert_eq!(db.state(), before);
    }
    // CRLF inside the literal is still what a CRLF checkout makes of LF.
    assert_eq!(lf.hash(), crlf.hash());
}

#[test]
fn a_database_ahead_of_the_set_is_an_unknown_version() {
    let db = migrated(&load("database_ahead/applied"));
    let set = load("database_ahead/set");
    let before = db.state();
    for err in [migrate_err(&db, &set), shared_err(&db, &set)] {
        eprintln!("ahead: {err}");
        assert!(
            matches!(&err, Error::UnknownVersion { version: 3, name, .. } if name == "create_comments"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("migration 3 (create_comments)")
                && text.contains("which the migration set does not have"),
            "{text}"
        );
        assert!(!err.is_transient());
        assert_eq!(db.state(), before);
    }
}

#[test]
fn a_new_migration_older_than_the_newest_applied_is_out_of_order() {
    let db = migrated(&load("older_than_newest/applied"));
    let set = load("older_than_newest/set");
    let file = fixture("older_than_newest/set/0002_create_posts.sql");
    let before = db.state();
    for err in [migrate_err(&db, &set), shared_err(&db, &set)] {
        eprintln!("out of order: {err}");
        match &err {
            Error::OutOfOrder {
                version: 2,
                name,
                origin,
                newest_applied: 3,
                ..
            } => {
                assert_eq!(name, "create_posts");
                assert_eq!(origin, &Origin::File(file.clone()));
            }
            other => panic!("expected OutOfOrder: {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("migration 2 (create_posts)")
                && text.contains(&file.display().to_string())
                && text.contains("newest applied version 3"),
            "{text}"
        );
        assert_eq!(db.state(), before);
    }
}

// ---------------------------------------------------------------------------
// Bad SQL
// ---------------------------------------------------------------------------

/// The position is the file's, not the statement's: the stray comma is on
/// line 4 of the file, inside statement 2, which starts on line 3.
#[test]
fn a_syntax_error_inside_a_trigger_names_the_line_and_column_of_the_file() {
    let set = load("syntax_error_inside_a_trigger");
    let file = fixture("syntax_error_inside_a_trigger/0002_audit_trigger.sql");
    let text = text_of(&file);
    let bad_line = text.lines().position(|l| l.contains(",)")).unwrap();
    let column = text.lines().nth(bad_line).unwrap().find(",)").unwrap() + 2;
    let db = fresh();
    let before = db.state();
    let err = migrate_err(&db, &set);
    match &err {
        Error::Sql {
            version: 2,
            index: 2,
            line,
            column: Some(c),
            ..
        } => assert_eq!((*line, *c), (bad_line + 1, column), "{err}"),
        other => panic!("expected Error::Sql with a position: {other:?}"),
    }
    let shown = format!("{err:?}");
    let at = format!(
        "failed at line {}, column {column} (statement 2)",
        bad_line + 1
    );
    assert!(shown.contains(&at), "{shown}");
    assert!(
        !shown.contains("byte"),
        "no offset within the statement: {shown}"
    );
    assert_eq!(db.state(), before);
}

#[test]
fn a_syntax_error_at_statement_3_of_5_names_the_statement_and_applies_nothing() {
    let set = load("syntax_error_at_statement_3");
    let file = fixture("syntax_error_at_statement_3/0002_create_posts.sql");
    let text = text_of(&file);
    let bad = "INSERT INTO posts (user_id, title) VALUSE (1, 'second');";
    let bad_line = text.lines().position(|l| l == bad).unwrap() + 1;

    // Fresh: migration 1 is rolled back with 2. At version 1: nothing changes.
    for db in [fresh(), migrated(&first(&set, 1))] {
        let before = db.state();
        let err = migrate_err(&db, &set);
        eprintln!("syntax error: {err}");
        match &err {
            Error::Sql {
                version: 2,
                name,
                origin,
                index: 3,
                line,
                statement,
                source,
                ..
            } => {
                assert_eq!(name, "create_posts");
                assert_eq!(origin, &Origin::File(file.clone()));
                assert_eq!(*line, bad_line);
                assert_eq!(statement, bad);
                assert_eq!(sqlite_code(source), Some(ErrorCode::Unknown), "{source:?}");
                assert!(source.to_string().contains("syntax error"), "{source}");
            }
            other => panic!("expected Error::Sql at statement 3: {other:?}"),
        }
        let shown = err.to_string();
        assert!(
            shown.contains("migration 2 (create_posts)")
                && shown.contains("statement 3")
                && shown.contains(bad)
                && shown.contains("nothing was applied"),
            "{shown}"
        );
        assert!(!err.is_transient());
        assert_eq!(db.state(), before);
    }
}

#[test]
fn a_migration_creating_a_table_the_previous_one_created_fails_naming_the_second() {
    let set = load("table_created_twice");
    let file = fixture("table_created_twice/0002_create_users_again.sql");
    for db in [fresh(), migrated(&first(&set, 1))] {
        let before = db.state();
        for err in [migrate_err(&db, &set), shared_err(&db, &set)] {
            eprintln!("created twice: {err}");
            match &err {
                Error::Sql {
                    version: 2,
                    name,
                    origin,
                    index: 1,
                    source,
                    ..
                } => {
                    assert_eq!(name, "create_users_again");
                    assert_eq!(origin, &Origin::File(file.clone()));
                    assert!(
                        source.to_string().contains("table users already exists"),
                        "{source}"
                    );
                }
                other => panic!("expected Error::Sql for migration 2: {other:?}"),
            }
            assert!(format!("{err:?}").contains("already exists"), "{err:?}");
            assert_eq!(db.state(), before);
        }
    }
}

// ---------------------------------------------------------------------------
// Statements that would break the migrator's transaction
// ---------------------------------------------------------------------------

/// Loading `rel` fails with `ForbiddenStatement` for migration 2 at
/// `index`, and a database next to it is not touched.
fn assert_forbidden(rel: &str, index: usize, statement: &str, reason_has: &str) {
    let db = migrated(&load("crlf_line_endings"));
    let before = db.state();
    let dir = fixture(rel);
    let err = load_err(&dir);
    eprintln!("{rel}: {err}");
    match &err {
        Error::ForbiddenStatement {
            version: 2,
            index: i,
            statement: s,
            reason,
            origin: Origin::File(path),
            ..
        } => {
            assert_eq!(*i, index, "{rel}");
            assert_eq!(s, statement, "{rel}");
            assert!(reason.contains(reason_has), "{rel}: {reason}");
            assert!(path.starts_with(&dir), "{rel}: {path:?}");
        }
        other => panic!("{rel}: expected ForbiddenStatement: {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(db.state(), before);
}

#[test]
fn a_migration_with_its_own_begin_and_commit_is_refused_at_load() {
    assert_forbidden(
        "own_transaction",
        1,
        "BEGIN TRANSACTION;",
        "migrator's transaction",
    );
}

#[test]
fn vacuum_inside_a_migration_is_refused_at_load() {
    assert_forbidden(
        "vacuum",
        2,
        "VACUUM;",
        "VACUUM cannot run inside a transaction",
    );
}

#[test]
fn pragma_journal_mode_inside_a_migration_is_refused_at_load() {
    assert_forbidden(
        "journal_mode",
        1,
        "PRAGMA journal_mode = WAL;",
        "journal_mode",
    );
}

// ---------------------------------------------------------------------------
// Odd but valid input
// ---------------------------------------------------------------------------

/// An empty file, and one holding only comments, have no statement. Each is
/// refused when the set loads, naming the file: applied as a no-op it would
/// be recorded, and SQL written into it later would never run.
#[test]
fn an_empty_migration_is_refused_when_the_set_loads() {
    let dir = fixture("empty_migration");
    assert_eq!(fs::metadata(dir.join("0002_empty.sql")).unwrap().len(), 0);
    let err = Migrations::from_dir(&dir).unwrap_err();
    let Error::EmptyMigration {
        version,
        name,
        origin,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*version, name.as_str()), (2, "empty"));
    assert_eq!(origin, &Origin::File(dir.join("0002_empty.sql")));
    assert_eq!(
        err.to_string(),
        format!(
            "migration 2 (empty) in {} has no SQL statement (it is empty or only comments)",
            dir.join("0002_empty.sql").display()
        )
    );

    // Without the empty file, the one holding only comments is refused too.
    let tmp = TempDir::new().unwrap();
    copy_dir(&dir, tmp.path());
    fs::remove_file(tmp.path().join("0002_empty.sql")).unwrap();
    let err = Migrations::from_dir(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, Error::EmptyMigration { version: 3, name, .. } if name == "only_comments"),
        "{err:?}"
    );

    // Nothing is loaded, so nothing can touch a database: the set with the
    // comment-only file filled in applies as usual.
    fs::write(
        tmp.path().join("0003_only_comments.sql"),
        "CREATE INDEX users_by_name ON users(name);\n",
    )
    .unwrap();
    let set = Migrations::from_dir(tmp.path()).unwrap();
    let db = fresh();
    let mut conn = db.open();
    assert_eq!(
        migrate(&mut conn, &set).unwrap().applied_versions(),
        [1, 3, 4]
    );
}

#[test]
fn a_ten_megabyte_migration_loads_and_applies() {
    const STATEMENTS: usize = 100_000;
    let tmp = TempDir::new().unwrap();
    copy_dir(&fixture("huge_migration"), tmp.path());
    let filler = "x".repeat(46);
    let mut sql = String::with_capacity(STATEMENTS * 110);
    for i in 1..=STATEMENTS {
        sql.push_str(&format!(
            "INSERT INTO big (id, body) VALUES ({i}, 'row {i:06} {filler}');\n"
        ));
    }
    assert!(sql.len() >= 10_000_000, "{} bytes", sql.len());
    fs::write(tmp.path().join("0002_fill_big.sql"), &sql).unwrap();

    let started = Instant::now();
    let set = Migrations::from_dir(tmp.path()).unwrap();
    let loaded = started.elapsed();
    let db = fresh();
    let mut conn = db.open();
    let report = migrate(&mut conn, &set).unwrap();
    let total = started.elapsed();
    eprintln!(
        "{} bytes, {STATEMENTS} statements: loaded in {loaded:?}, loaded and applied in {total:?}",
        sql.len()
    );
    assert_eq!(report.applied_versions(), [1, 2]);
    assert_eq!(
        rows_of(&conn, "SELECT count(*), max(id) FROM big"),
        [[
            Value::Integer(i64::try_from(STATEMENTS).unwrap()),
            Value::Integer(i64::try_from(STATEMENTS).unwrap())
        ]]
    );
    assert_eq!(ledger(&conn).unwrap()[1].checksum, sha256_hex(&sql));
}

#[test]
fn unicode_and_spaces_in_paths_and_names_load_apply_and_are_reported() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("mïgrations dir");
    fs::create_dir(&dir).unwrap();
    let file = dir.join("0001_créer table.sql");
    fs::copy(fixture("unicode_names/create_table.sql"), &file).unwrap();
    let set = Migrations::from_dir(&dir).unwrap();
    let m = set.iter().next().unwrap();
    assert_eq!((m.version(), m.name()), (1, "créer table"));
    assert_eq!(m.origin(), &Origin::File(file.clone()));

    let db_dir = tmp.path().join("bäse de données");
    fs::create_dir(&db_dir).unwrap();
    for (i, via_shared) in [false, true].into_iter().enumerate() {
        let path = db_dir.join(format!("tést {i} ☃.sqlite"));
        if via_shared {
            SharedDb::open(&path, &set).unwrap();
        } else {
            migrate(&mut Connection::open(&path).unwrap(), &set).unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let rows = ledger(&conn).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "créer table");
        assert_eq!(
            rows_of(&conn, "SELECT nom FROM \"tâble ünïcode\" ORDER BY id"),
            [[Value::Text("élan".into())], [Value::Text("日本語".into())]]
        );
    }

    // An error names the unicode file and the unicode database path.
    let broken = dir.join("0002_cassé ø.sql");
    fs::copy(fixture("unicode_names/broken.sql"), &broken).unwrap();
    let set = Migrations::from_dir(&dir).unwrap();
    let path = db_dir.join("tést 0 ☃.sqlite");
    let before = snapshot(&path);
    let mut conn = Connection::open(&path).unwrap();
    let err = migrate(&mut conn, &set).unwrap_err();
    eprintln!("unicode: {err}");
    assert!(
        matches!(&err, Error::Sql { version: 2, name, origin: Origin::File(p), .. }
            if name == "cassé ø" && *p == broken),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&broken.display().to_string()),
        "{err}"
    );
    drop(conn);
    assert_eq!(snapshot(&path), before);

    // A failure about the database file names its unicode path.
    let not_a_db = db_dir.join("pas une base ☃.sqlite");
    fs::write(
        &not_a_db,
        b"SQLite format 2\0 and then some bytes that are not a database",
    )
    .unwrap();
    let err = SharedDb::open(&not_a_db, &set).unwrap_err();
    eprintln!("unicode: {err}");
    assert!(
        err.to_string().contains(&not_a_db.display().to_string()),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_the_migrations_directory_is_an_io_error_naming_the_link() {
    let tmp = TempDir::new().unwrap();
    copy_dir(&fixture("symlink_loop"), tmp.path());
    let a = tmp.path().join("0002_a.sql");
    let b = tmp.path().join("0003_b.sql");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let db = migrated(&load("symlink_loop"));
    let before = db.state();

    let err = load_err(tmp.path());
    eprintln!("symlink loop: {err}");
    match &err {
        Error::Io { path, source } => {
            assert!(*path == a || *path == b, "{path:?}");
            assert_eq!(
                format!("{:?}", source.kind()),
                "FilesystemLoop",
                "{source:?}"
            );
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
        other => panic!("expected Error::Io: {other:?}"),
    }
    assert!(!err.is_transient());
    assert_eq!(db.state(), before);
}
