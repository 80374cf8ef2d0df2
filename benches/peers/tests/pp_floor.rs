//! Contender `floor` of `benches/per_process.rs`: a test process whose test
//! reads the migrated template file (`PP_TEMPLATE`), deserializes it into
//! `:memory:` and runs its first query. The least a test process can pay for
//! a migrated database of its own.

mod common;

#[path = "../../support/mod.rs"]
#[allow(dead_code, unused_imports)] // `generated_set` is the harness's
mod support;

#[test]
fn pp_floor() {
    let bytes = std::fs::read(common::env_path("PP_TEMPLATE")).unwrap();
    let conn = support::deserialize(&bytes);
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);
    drop(bytes);
    common::report_peak_rss();
}
