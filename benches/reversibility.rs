//! What `assert_reversible` costs on the generated sets of `fresh_db` (10
//! and 100 tables in 5 and 50 migrations), each migration given the down
//! that undoes it: the whole check, with and without the data check, and
//! the two ways to reach the state before each migration that the check
//! could use: copying the previous state with SQLite's backup API (what it
//! does) or migrating a fresh database up to it.
//!
//! Run: `cargo bench --bench reversibility`; `BENCH_TABLES=10` limits the
//! sizes, `BENCH_RUNS` sets the runs per case (default 7, median shown).

use std::time::{Duration, Instant};

use migrate_once::{Migration, Migrations, Reversibility, migrate};
use rusqlite::Connection;

#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;
use support::generated_set;

/// The generated set, each migration with the down that undoes it: its
/// two tables go, and with them their indexes, trigger and added column.
fn with_downs(tables: usize) -> Migrations {
    let list = generated_set(tables)
        .into_iter()
        .map(|(version, name, sql)| {
            let m = version - 1;
            let down = format!("DROP TABLE t{}; DROP TABLE t{};", 2 * m + 1, 2 * m);
            Migration::new(version, name, sql).with_down(down)
        })
        .collect();
    Migrations::new(list).unwrap()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

/// A fresh in-memory database migrated to the first `n` migrations.
fn migrated(raw: &[(i64, String, String)], n: usize) -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    if n > 0 {
        let set = Migrations::new(
            raw[..n]
                .iter()
                .map(|(v, name, sql)| Migration::new(*v, name.clone(), sql))
                .collect(),
        )
        .unwrap();
        migrate(&mut conn, &set).unwrap();
    }
    conn
}

fn main() {
    let sizes: Vec<usize> = match std::env::var("BENCH_TABLES") {
        Ok(v) => v.split(',').map(|s| s.trim().parse().unwrap()).collect(),
        Err(_) => vec![10, 100],
    };
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    println!("SQLite {}, median of {runs} runs", rusqlite::version());
    for tables in sizes {
        let set = with_downs(tables);
        let raw = generated_set(tables);
        let n = set.len();

        let report = Reversibility::new(&set).check_data(true).run().unwrap();
        assert!(report.is_reversible(), "{report}");

        let check = time(runs, || {
            assert!(Reversibility::new(&set).run().unwrap().is_reversible());
        });
        let data = time(runs, || {
            assert!(
                Reversibility::new(&set)
                    .check_data(true)
                    .run()
                    .unwrap()
                    .is_reversible()
            );
        });
        let forward = time(runs, || drop(migrated(&raw, n)));
        // The states before each migration, made as the check makes them
        // (a backup-API copy of the previous state) or by migrating anew.
        let states: Vec<Connection> = (0..n).map(|i| migrated(&raw, i)).collect();
        let copies = time(runs, || {
            for state in &states {
                let mut dst = Connection::open_in_memory().unwrap();
                let backup = rusqlite::backup::Backup::new(state, &mut dst).unwrap();
                backup.step(-1).unwrap();
            }
        });
        let remigrate = time(runs, || {
            for i in 0..n {
                drop(migrated(&raw, i));
            }
        });
        println!(
            "{tables} tables, {n} migrations with downs:\n  \
             assert_reversible          {check:>10.1?}  ({:.2?} per migration)\n  \
             with check_data(true)      {data:>10.1?}\n  \
             migrating forward once     {forward:>10.1?}\n  \
             states before each migration: backup copies {copies:.1?}, migrating anew {remigrate:.1?}",
            check / u32::try_from(n).unwrap()
        );
    }
}
