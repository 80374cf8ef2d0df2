//! Contender `migrate-once` of `benches/per_process.rs`: a test process
//! whose test loads the set from its directory (`PP_MIGRATIONS`), takes a
//! `TestDb::in_memory` clone of its template (cached, warm, in
//! `MIGRATE_ONCE_CACHE_DIR`), connects and runs its first query.

mod common;

use migrate_once::{Migrations, TestDb};

#[test]
fn pp_migrate_once() {
    let set = Migrations::from_dir(common::env_path("PP_MIGRATIONS")).unwrap();
    let db = TestDb::in_memory(&set).unwrap();
    let conn = db.connect().unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);
    drop(db);
    common::report_peak_rss();
}
