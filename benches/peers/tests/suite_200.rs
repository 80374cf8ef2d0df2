//! A 200-test suite, for timing a whole cargo-nextest run: each test takes
//! a `TestDb::in_memory` of a 100-table set and runs its first query, or,
//! with `SUITE_EMPTY=1`, does nothing at all (the baseline of process
//! start-up). The set is built in code, so that 200 processes starting at
//! once do not race to write files; its template is built by the first
//! process and read from the cache by the others.
//!
//! Run: `cargo nextest run --manifest-path benches/peers/Cargo.toml --release
//! --test suite_200` (and again with `SUITE_EMPTY=1`).

#[path = "../../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::sync::LazyLock;

use migrate_once::{Migration, Migrations, TestDb};

static SET: LazyLock<Migrations> = LazyLock::new(|| {
    Migrations::new(
        support::generated_set(100)
            .into_iter()
            .map(|(v, n, sql)| Migration::new(v, n, sql))
            .collect(),
    )
    .unwrap()
});

fn one_test() {
    if std::env::var_os("SUITE_EMPTY").is_some() {
        return;
    }
    let db = TestDb::in_memory(&SET).unwrap();
    let n: i64 = db
        .connect()
        .unwrap()
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

macro_rules! tests {
    ($($name:ident)*) => { $( #[test] fn $name() { one_test() } )* };
}

macro_rules! tens {
    ($($p:ident)*) => { $( mod $p { use super::one_test; tests!(t0 t1 t2 t3 t4 t5 t6 t7 t8 t9); } )* };
}

tens!(a00 a01 a02 a03 a04 a05 a06 a07 a08 a09 a10 a11 a12 a13 a14 a15 a16 a17 a18 a19);
