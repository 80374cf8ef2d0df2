//! A sqlx 0.9 project's tests with migrate-once: sqlx's reversible layout
//! (`.up.sql` / `.down.sql`), from which the set keeps sqlx's ledger by
//! itself.

use migrate_once::sqlx_0_9::SqlxExt;
use migrate_once::Migrations;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// `DIR` and one more migration, added after the database was migrated.
fn next_dir() -> tempfile::TempDir {
    let next = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), next.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(
        next.path().join("20240103000000_create_audit.up.sql"),
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);
         INSERT INTO audit (what) VALUES ('migration 20240103000000 ran');",
    )
    .unwrap();
    std::fs::write(
        next.path().join("20240103000000_create_audit.down.sql"),
        "DROP TABLE audit;",
    )
    .unwrap();
    next
}

fn set(dir: &str) -> Migrations {
    Migrations::from_dir(dir).unwrap()
}

#[path = "../../sqlx-tests.rs"]
mod sqlx_tests;
