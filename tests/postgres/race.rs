//! 16 processes of 16 threads released together on an empty database:
//! the crate's migrator applies each migration once and no caller fails;
//! a naive check-then-create runner in the same harness does fail.

use std::sync::Barrier;
use std::thread;

use migrate_once::Migrations;
use migrate_once::postgres::{SharedDb, TestDatabase, migrate};
use postgres::{Client, NoTls};

use crate::support::{
    CHILD_URL, Running, StartLine, child, counting_database, counting_set, executions, field,
    ledger_versions, ready_then_wait, server,
};

const PROCESSES: usize = 16;
const THREADS: usize = 16;
const MIGRATIONS: i64 = 8;
const START: &str = "MIGRATE_ONCE_PG_START";
const MODE: &str = "MIGRATE_ONCE_PG_MODE";

/// The naive runner: each step a statement of its own, as a runner that
/// checks, then creates, then records would send them.
fn naive(c: &mut Client, set: &Migrations) -> Result<usize, postgres::Error> {
    let exists = c
        .query_opt(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_migrations'",
            &[],
        )?
        .is_some();
    if !exists {
        c.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY)",
        )?;
    }
    let mut applied = 0;
    for m in set {
        let done = c
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&m.version()],
            )?
            .is_some();
        if !done {
            c.batch_execute(m.up_sql())?;
            c.execute("INSERT INTO schema_migrations VALUES ($1)", &[&m.version()])?;
            applied += 1;
        }
    }
    Ok(applied)
}

/// Runs only in a child: `THREADS` threads released together once the
/// parent lets every process go; in mode `crate` half call `migrate` and
/// half `SharedDb::open`, in mode `naive` all run the naive runner.
#[test]
#[ignore = "run as a child process by race::*"]
fn child_race() {
    let url = std::env::var(CHILD_URL).expect("run by race::*");
    let start = std::path::PathBuf::from(std::env::var(START).expect("run by race::*"));
    let naive_mode = std::env::var(MODE).is_ok_and(|m| m == "naive");
    let set = counting_set(MIGRATIONS, 0.0);
    let barrier = Barrier::new(THREADS + 1);
    let results: Vec<Result<(usize, bool), String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (url, set, barrier) = (&url, &set, &barrier);
                s.spawn(move || {
                    let mut c = Client::connect(url, NoTls).expect("connect");
                    barrier.wait();
                    if naive_mode {
                        naive(&mut c, set).map(|n| (n, false)).map_err(|e| {
                            let code = e.code().map_or("none", |c| c.code()).to_string();
                            let constraint = e
                                .as_db_error()
                                .and_then(|d| d.constraint())
                                .unwrap_or("-")
                                .to_string();
                            format!("{code}:{constraint}")
                        })
                    } else if i % 2 == 0 {
                        migrate(&mut c, set)
                            .map(|r| (r.applied.len(), !r.lock_wait.is_zero()))
                            .map_err(|e| e.to_string())
                    } else {
                        SharedDb::open(url, set)
                            .map(|db| (db.report().map_or(0, |r| r.applied.len()), false))
                            .map_err(|e| e.to_string())
                    }
                })
            })
            .collect();
        ready_then_wait(&start);
        barrier.wait();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let applied: usize = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.0)
        .sum();
    let locked = results
        .iter()
        .filter(|r| matches!(r, Ok((_, true))))
        .count();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let count = |p: &str| errors.iter().filter(|e| e.starts_with(p)).count();
    for e in &errors {
        eprintln!("error: {e}");
    }
    println!(
        "RESULT applied={applied} locked={locked} errors={} unique={} pg_type={} exists={}",
        errors.len(),
        count("23505"),
        errors.iter().filter(|e| e.contains("pg_type")).count(),
        count("42P07")
    );
}

/// Runs `PROCESSES` children in `mode` on a fresh counting database, all
/// released together; their `RESULT` lines and the database.
fn race(mode: &str) -> Option<(Vec<String>, Client, TestDatabase)> {
    let server = crate::support::try_server()?;
    let _heavy = crate::support::heavy();
    let db = counting_database(server);
    let start = StartLine::new();
    let children: Vec<Running> = (0..PROCESSES)
        .map(|_| {
            let mut cmd = child("race::child_race");
            cmd.env(CHILD_URL, db.url())
                .env(START, start.path())
                .env(MODE, mode);
            Running::spawn(cmd)
        })
        .collect();
    start.release(PROCESSES);
    let results = children.into_iter().map(Running::result).collect();
    let client = db.connect().expect("connect");
    Some((results, client, db))
}

#[test]
fn sixteen_processes_of_sixteen_threads_migrate_an_empty_database_exactly_once() {
    let _ = server!();
    let Some((results, mut c, _db)) = race("crate") else {
        return;
    };
    let sum = |k| results.iter().map(|r| field(r, k)).sum::<u64>();
    let (applied, locked, errors) = (sum("applied"), sum("locked"), sum("errors"));
    println!(
        "{} callers: {applied} migrations applied, {locked} callers took the lock, {errors} errors",
        PROCESSES * THREADS
    );
    assert_eq!(errors, 0, "{results:?}");
    assert_eq!(applied, MIGRATIONS as u64, "{results:?}");
    // A real race: more than the one applier reached the lock.
    assert!(
        locked > 1,
        "only {locked} caller took the lock: no race happened"
    );
    assert_eq!(
        ledger_versions(&mut c, "public"),
        (1..=MIGRATIONS).collect::<Vec<_>>()
    );
    let (committed, started) = executions(&mut c, "public");
    assert_eq!(
        committed,
        (1..=MIGRATIONS).map(|v| (v, 1)).collect::<Vec<_>>()
    );
    // Not even a rolled-back second start of any body.
    assert_eq!(started, MIGRATIONS);
}

#[test]
fn a_naive_check_then_create_runner_in_the_same_harness_fails() {
    let _ = server!();
    let Some((results, _, _db)) = race("naive") else {
        return;
    };
    let sum = |k| results.iter().map(|r| field(r, k)).sum::<u64>();
    let (errors, unique, pg_type, exists) =
        (sum("errors"), sum("unique"), sum("pg_type"), sum("exists"));
    println!(
        "naive runner, {} callers: {errors} failed ({unique} unique violations, {pg_type} of them on \
         pg_type, {exists} relation already exists)",
        PROCESSES * THREADS
    );
    assert!(unique + exists > 0, "the harness saw no race: {results:?}");
}
