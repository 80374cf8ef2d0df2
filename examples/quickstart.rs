//! Migrates the bundled `migrations/` three ways and prints what happened:
//! `cargo run --example quickstart [MIGRATIONS_DIR]`.

use std::time::Instant;

use migrate_once::{Migrations, SharedDb, TestDb};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/migrations").to_string());
    let set = Migrations::from_dir(&dir)?;
    println!(
        "{} migrations in {dir}, set hash {}",
        set.len(),
        &set.hash()[..16]
    );
    for m in &set {
        println!(
            "  {:>14}  {:<24} {}",
            m.version(),
            m.name(),
            &m.checksum()[..12]
        );
    }

    let work = tempfile::tempdir()?;
    let started = Instant::now();
    let shared = SharedDb::open(work.path().join("shared.sqlite"), &set)?;
    let ledger = migrate_once::ledger(&shared.connect()?)?;
    println!(
        "SharedDb::open migrated {} in {:?}; ledger has {} rows",
        shared.path().display(),
        started.elapsed(),
        ledger.len()
    );

    let started = Instant::now();
    let template = migrate_once::Template::for_set(&set)?;
    println!(
        "template ({} bytes) {} in {:?}: {}",
        template.size(),
        if template.built_by_this_process() {
            "built"
        } else {
            "read from cache"
        },
        started.elapsed(),
        template.path().display()
    );

    for (label, db) in [
        ("TestDb::in_memory", TestDb::in_memory(&set)),
        ("TestDb::new", TestDb::new(&set)),
    ] {
        let started = Instant::now();
        let db = db?;
        let conn = db.connect()?;
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        println!("{label}: {tables} tables, ready in {:?}", started.elapsed());
    }
    Ok(())
}
