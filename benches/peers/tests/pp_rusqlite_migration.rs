//! Contender `rusqlite_migration` of `benches/per_process.rs`: a test
//! process whose test reads the set's `.sql` files (`PP_MIGRATIONS`), one
//! `M::up` each in file-name order, runs `to_latest` on a fresh
//! `:memory:` connection and then its first query.

mod common;

use rusqlite_migration::{M, Migrations};

#[test]
fn pp_rusqlite_migration() {
    let dir = common::env_path("PP_MIGRATIONS");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let sqls: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let migrations = Migrations::new(sqls.iter().map(|s| M::up(s)).collect());
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    migrations.to_latest(&mut conn).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);
    common::report_peak_rss();
}
