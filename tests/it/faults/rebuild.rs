//! Data that must survive: a migration that rebuilds a parent table (as
//! SQLite's documentation prescribes) keeps every child and grandchild row,
//! and one that leaves a real foreign-key violation is rolled back.

use std::path::Path;

use migrate_once::{Error, Migration, Migrations, SharedDb, migrate};
use rusqlite::Connection;
use rusqlite::types::Value;
use tempfile::TempDir;

use crate::support::{TempDb, query_one, rows_of, snapshot};

const AUTHORS: i64 = 500;
const BOOKS_PER_AUTHOR: i64 = 10;
const REVIEWS_PER_BOOK: i64 = 3;

/// `authors` ← `books` (ON DELETE CASCADE) ← `reviews` (ON DELETE CASCADE),
/// and `profiles` (ON DELETE SET NULL) also referring to `authors`.
fn library_schema() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_authors",
            "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        ),
        Migration::new(
            2,
            "create_books_and_reviews",
            "CREATE TABLE books (
                 id INTEGER PRIMARY KEY,
                 author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
                 title TEXT NOT NULL
             );
             CREATE INDEX books_by_author ON books(author_id);
             CREATE TABLE reviews (
                 id INTEGER PRIMARY KEY,
                 book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
                 stars INTEGER NOT NULL
             );
             CREATE INDEX reviews_by_book ON reviews(book_id);
             CREATE TABLE profiles (
                 id INTEGER PRIMARY KEY,
                 author_id INTEGER REFERENCES authors(id) ON DELETE SET NULL,
                 bio TEXT
             );
             CREATE INDEX profiles_by_author ON profiles(author_id);",
        ),
    ]
}

/// The rebuild SQLite's documentation prescribes for a change ALTER TABLE
/// cannot make: create the new table, copy, drop the old, rename the new.
const REBUILD_AUTHORS: &str = "CREATE TABLE authors_new (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         email TEXT NOT NULL DEFAULT ''
     );
     INSERT INTO authors_new (id, name) SELECT id, name FROM authors;
     DROP TABLE authors;
     ALTER TABLE authors_new RENAME TO authors;";

fn library_with_rebuild() -> Migrations {
    let mut list = library_schema();
    list.push(Migration::new(3, "rebuild_authors", REBUILD_AUTHORS));
    Migrations::new(list).unwrap()
}

/// A library at version 2 with many rows in every table, written with
/// foreign keys enforced.
fn filled_library(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    migrate(&mut conn, &Migrations::new(library_schema()).unwrap()).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         BEGIN;
         WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < {AUTHORS})
             INSERT INTO authors (id, name) SELECT i, 'author ' || i FROM a;
         WITH RECURSIVE b(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM b WHERE i < {AUTHORS} * {BOOKS_PER_AUTHOR})
             INSERT INTO books (id, author_id, title)
             SELECT i, (i - 1) / {BOOKS_PER_AUTHOR} + 1, 'book ' || i FROM b;
         WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r
                                 WHERE i < {AUTHORS} * {BOOKS_PER_AUTHOR} * {REVIEWS_PER_BOOK})
             INSERT INTO reviews (id, book_id, stars)
             SELECT i, (i - 1) / {REVIEWS_PER_BOOK} + 1, i % 5 + 1 FROM r;
         INSERT INTO profiles (author_id, bio) SELECT id, 'bio of ' || name FROM authors;
         COMMIT;"
    ))
    .unwrap();
}

fn child_rows(conn: &Connection) -> Vec<Vec<Vec<Value>>> {
    ["books", "reviews", "profiles"]
        .iter()
        .map(|t| rows_of(conn, &format!("SELECT * FROM {t} ORDER BY id")))
        .collect()
}

#[test]
fn rebuilding_a_parent_table_keeps_every_child_and_grandchild_row() {
    let tmp = TempDir::new().unwrap();
    let set = library_with_rebuild();
    for via_shared in [false, true] {
        let path = tmp.path().join(format!("library-{via_shared}.db"));
        filled_library(&path);
        let before = {
            let conn = Connection::open(&path).unwrap();
            child_rows(&conn)
        };
        let books = usize::try_from(AUTHORS * BOOKS_PER_AUTHOR).unwrap();
        let reviews = books * usize::try_from(REVIEWS_PER_BOOK).unwrap();
        assert_eq!(
            before.iter().map(Vec::len).collect::<Vec<_>>(),
            [books, reviews, usize::try_from(AUTHORS).unwrap()]
        );

        let conn = if via_shared {
            SharedDb::open(&path, &set).unwrap().connect().unwrap()
        } else {
            let mut conn = Connection::open(&path).unwrap();
            // The bundled SQLite enforces foreign keys by default; be explicit.
            conn.pragma_update(None, "foreign_keys", true).unwrap();
            assert_eq!(migrate(&mut conn, &set).unwrap().applied_versions(), [3]);
            conn
        };
        let what = if via_shared {
            "SharedDb::open"
        } else {
            "migrate"
        };
        assert_eq!(
            child_rows(&conn),
            before,
            "{what}: child rows must survive the rebuild"
        );
        assert_eq!(
            rows_of(&conn, "SELECT count(*) FROM authors WHERE email = ''"),
            [[Value::Integer(AUTHORS)]],
            "{what}"
        );
        assert!(
            rows_of(&conn, "PRAGMA foreign_key_check").is_empty(),
            "{what}"
        );
        assert_eq!(
            rows_of(&conn, "PRAGMA foreign_keys"),
            [[Value::Integer(1)]],
            "{what}: foreign keys are on again afterwards"
        );
        // The references still work: deleting an author cascades now.
        conn.execute("DELETE FROM authors WHERE id = 1", [])
            .unwrap();
        let left: i64 = query_one(&conn, "SELECT count(*) FROM books WHERE author_id = 1");
        assert_eq!(
            left, 0,
            "{what}: ON DELETE CASCADE still applies after the rebuild"
        );
    }
}

/// Proves the test above can fail: the same SQL run by hand with foreign
/// keys enforced deletes every child row and nulls every profile.
#[test]
fn the_same_rebuild_run_by_hand_with_foreign_keys_on_destroys_the_children() {
    let db = TempDb::named("by-hand.db");
    let path = db.path.clone();
    filled_library(&path);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.execute_batch(&format!("BEGIN; {REBUILD_AUTHORS} COMMIT;"))
        .unwrap();
    assert_eq!(
        rows_of(
            &conn,
            "SELECT (SELECT count(*) FROM books), (SELECT count(*) FROM reviews), (SELECT count(author_id) FROM profiles)"
        ),
        [[Value::Integer(0), Value::Integer(0), Value::Integer(0)]]
    );
}

#[test]
fn a_migration_that_leaves_a_real_violation_names_the_row_and_rolls_everything_back() {
    let db = TempDb::named("violation.db");
    let path = db.path.clone();
    filled_library(&path);
    let mut list = library_with_rebuild().iter().cloned().collect::<Vec<_>>();
    list.push(Migration::new(
        4,
        "orphan_a_review",
        "INSERT INTO reviews (id, book_id, stars) VALUES (900001, 424242, 5);",
    ));
    let set = Migrations::new(list).unwrap();
    let before = snapshot(&path);

    let mut conn = Connection::open(&path).unwrap();
    let err = migrate(&mut conn, &set).unwrap_err();
    eprintln!("foreign-key violation: {err}");
    match &err {
        Error::ForeignKeyViolation {
            table,
            rowid,
            parent,
            count,
            ..
        } => {
            assert_eq!(
                (table.as_str(), *rowid, parent.as_str(), *count),
                ("reviews", Some(900_001), "books", 1)
            );
        }
        other => panic!("expected Error::ForeignKeyViolation: {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("row 900001 of table reviews") && text.contains("nothing was applied"),
        "{text}"
    );
    assert!(!err.is_transient());
    assert_eq!(rows_of(&conn, "PRAGMA foreign_keys"), [[Value::Integer(1)]]);
    drop(conn);
    assert_eq!(
        snapshot(&path),
        before,
        "migrations 3 and 4 both rolled back"
    );
}
