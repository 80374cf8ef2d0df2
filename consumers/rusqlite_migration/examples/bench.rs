//! Per test at 100 tables, for a rusqlite_migration user: what a test pays
//! for a migrated database when it runs `to_latest` itself (on a new file,
//! and in memory) against what it pays for a clone of a template that
//! `TemplateFn` built once with the same `to_latest`, all in one run.
//!
//! The set is the crate's generated bench set (`benches/support/generated.rs`:
//! 100 tables in 50 migrations, with indexes, foreign keys, seed rows,
//! triggers), one `M::up` per migration. Each sample is one test's work,
//! from nothing to its first query (`SELECT count(*) FROM t0`, which must be
//! 2), and dropping what it made:
//!
//! - `to_latest, file`: open a new file (in the directory `TestDb::from_fn`
//!   writes to, so that only the migration differs), `to_latest`, query;
//! - `to_latest, memory`: `Connection::open_in_memory()`, `to_latest`, query;
//! - `TestDb file`: `TestDb::from_fn`, `connect()`, query;
//! - `TestDb memory`: `TestDb::in_memory_from_fn`, `connect()`, query;
//! - `TestDb memory + to_latest`: the same, then `to_latest` on the clone,
//!   which finds nothing to do (a test helper that keeps calling it).
//!
//! The template is built once first, in a fresh cache directory (its time
//! is printed), then `ROUNDS` rounds (default 40) run every contender once
//! per round, in an order rotated each round, after one unmeasured round.
//! Medians and p90 in ms, and each `to_latest` median over the matching
//! clone's.
//!
//! Run: `cargo run --release --example bench` (`ROUNDS=100` for more).

#[path = "../../../benches/support/generated.rs"]
mod generated;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use migrate_once::{Template, TemplateFn, TestDb};
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

fn first_query(conn: &Connection) {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

fn main() {
    let sql: Vec<&'static str> = generated::generated_set(100)
        .into_iter()
        .map(|(_, _, sql)| &*Box::leak(sql.into_boxed_str()))
        .collect();
    let migrations: &'static Migrations<'static> = Box::leak(Box::new(Migrations::new(
        sql.iter().map(|s| M::up(s)).collect(),
    )));

    // A fresh cache, so that the one build is measured.
    let cache = std::env::temp_dir().join(format!("rm-bench-cache-{}", std::process::id()));
    std::env::set_var("MIGRATE_ONCE_CACHE_DIR", &cache);
    let template = TemplateFn::new(TemplateFn::key_of(&sql), move |conn| {
        migrations.to_latest(conn)?;
        Ok(())
    });
    let start = Instant::now();
    let built = Template::for_fn(&template).unwrap();
    let build_ms = ms(start.elapsed());
    assert!(built.built_by_this_process());
    println!(
        "template: 100 tables, {} KB, built once in {build_ms:.2} ms",
        built.size() / 1024
    );

    let dir: PathBuf = TestDb::from_fn(&template)
        .unwrap()
        .path()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut n = 0u64;
    type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "to_latest, file",
            Box::new(|| {
                n += 1;
                let path = dir.join(format!("rm-bench-{}-{n}.sqlite", std::process::id()));
                let mut conn = Connection::open(&path).unwrap();
                migrations.to_latest(&mut conn).unwrap();
                first_query(&conn);
                drop(conn);
                std::fs::remove_file(&path).unwrap();
            }),
        ),
        (
            "to_latest, memory",
            Box::new(|| {
                let mut conn = Connection::open_in_memory().unwrap();
                migrations.to_latest(&mut conn).unwrap();
                first_query(&conn);
            }),
        ),
        (
            "TestDb file",
            Box::new(|| {
                let db = TestDb::from_fn(&template).unwrap();
                first_query(&db.connect().unwrap());
            }),
        ),
        (
            "TestDb memory",
            Box::new(|| {
                let db = TestDb::in_memory_from_fn(&template).unwrap();
                first_query(&db.connect().unwrap());
            }),
        ),
        (
            "TestDb memory + to_latest",
            Box::new(|| {
                let db = TestDb::in_memory_from_fn(&template).unwrap();
                let mut conn = db.connect().unwrap();
                migrations.to_latest(&mut conn).unwrap();
                first_query(&conn);
            }),
        ),
    ];
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..=rounds {
        let k = cases.len();
        for i in 0..k {
            let c = (i + round) % k;
            let start = Instant::now();
            (cases[c].1)();
            if round > 0 {
                samples[c].push(ms(start.elapsed()));
            }
        }
    }
    println!("{rounds} rounds, interleaved\n");
    println!("| per test | median ms | p90 ms |");
    println!("|---|---|---|");
    let mut medians = Vec::new();
    for ((name, _), s) in cases.iter().zip(&mut samples) {
        s.sort_by(f64::total_cmp);
        let (median, p90) = (s[s.len() / 2], s[s.len() * 9 / 10]);
        medians.push(median);
        println!("| {name} | {median:.3} | {p90:.3} |");
    }
    println!();
    println!(
        "to_latest on a file / TestDb file: {:.1}x",
        medians[0] / medians[2]
    );
    println!(
        "to_latest in memory / TestDb memory: {:.1}x",
        medians[1] / medians[3]
    );
    println!(
        "to_latest in memory / TestDb memory + no-op to_latest: {:.1}x",
        medians[1] / medians[4]
    );
    drop(cases);
    let _ = std::fs::remove_dir_all(&cache);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
