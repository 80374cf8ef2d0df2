//! A sqlx 0.8 project's tests with migrate-once: sqlx's plain layout
//! (`<version>_<name>.sql`, what `sqlx migrate add` makes), which reads like
//! migrate-once's own, so the set is told to keep sqlx's ledger.

use migrate_once::sqlx_0_8::SqlxExt;
use migrate_once::{AppLedger, Migrations};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// `DIR` and one more migration, added after the database was migrated.
fn next_dir() -> tempfile::TempDir {
    let next = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(DIR).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), next.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(
        next.path().join("20240103000000_create_audit.sql"),
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);
         INSERT INTO audit (what) VALUES ('migration 20240103000000 ran');",
    )
    .unwrap();
    next
}

fn set(dir: &str) -> Migrations {
    Migrations::from_dir(dir)
        .unwrap()
        .with_app_ledgers([AppLedger::Sqlx])
}

#[path = "../../sqlx-tests.rs"]
mod sqlx_tests;
