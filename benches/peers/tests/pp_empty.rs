//! Contender `empty` of `benches/per_process.rs`: a test process whose test
//! opens an in-memory SQLite and runs `SELECT 1`. What every test process
//! pays whatever its database costs: the baseline the others are measured
//! over.

mod common;

#[test]
fn pp_empty() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let one: i64 = conn.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(one, 1);
    drop(conn);
    common::report_peak_rss();
}
