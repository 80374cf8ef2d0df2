//! 32 processes × 16 threads on one fresh file, half of them calling
//! `migrate` and half `SharedDb::open`: every migration body runs once.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Error, Migrations, SharedDb, migrate};
use rusqlite::Connection;

use crate::support::child::{self, ChildEnv, Outcome, Running, child_test};
use crate::support::{COUNT_EXEC, TempDb, assert_migrated_once, counting_set, register_counter};

const RACE_PROCESSES: usize = 32;
const RACE_THREADS: usize = 16;
const RACE_DB: &str = "MIGRATE_ONCE_FAULTS_RACE_DB";
const RACE_READY: &str = "MIGRATE_ONCE_FAULTS_RACE_READY";
const RACE_GO: &str = "MIGRATE_ONCE_FAULTS_RACE_GO";

/// Runs only in a child process: `RACE_THREADS` threads, half calling
/// `migrate` on their own connection and half `SharedDb::open`, released
/// together once the parent creates the start file. Prints one `RESULT`
/// line; any error is printed and fails the child.
#[test]
#[ignore = "run as a child process by faults::race::thirty_two_processes_of_sixteen_threads_migrate_one_file_exactly_once"]
fn child_threads_race() {
    let env = ChildEnv::of(
        "faults::race::thirty_two_processes_of_sixteen_threads_migrate_one_file_exactly_once",
    );
    let (db, ready, go) = (env.path(RACE_DB), env.path(RACE_READY), env.path(RACE_GO));
    let set = counting_set();
    let counter = Arc::new(AtomicUsize::new(0));
    let barrier = Barrier::new(RACE_THREADS + 1);
    let results: Vec<Result<(usize, usize), Error>> = thread::scope(|s| {
        let handles: Vec<_> = (0..RACE_THREADS)
            .map(|i| {
                let (db, set, counter, barrier) = (&db, &set, &counter, &barrier);
                s.spawn(move || {
                    if i.is_multiple_of(2) {
                        let mut conn = Connection::open(db).expect("open the database");
                        register_counter(&conn, Arc::clone(counter)).expect("register count_exec");
                        barrier.wait();
                        migrate(&mut conn, set)
                            .map(|r| (r.applied.len(), usize::from(r.lock_wait > Duration::ZERO)))
                    } else {
                        let counter = Arc::clone(counter);
                        let db_path = db.to_path_buf();
                        let builder = SharedDb::builder(db).on_connect(move |c| {
                            // Count calls on this file only, not on the
                            // template SharedDb learns the schema from.
                            let on_file = c.path().is_some_and(|p| Path::new(p) == db_path);
                            let counter = Arc::clone(&counter);
                            c.create_scalar_function(
                                COUNT_EXEC,
                                0,
                                rusqlite::functions::FunctionFlags::SQLITE_UTF8,
                                move |_| {
                                    if on_file {
                                        counter.fetch_add(1, Ordering::SeqCst);
                                    }
                                    Ok(0)
                                },
                            )
                        });
                        barrier.wait();
                        builder.open(set).map(|_| (0, 0))
                    }
                })
            })
            .collect();
        child::ready_then_wait(&ready, &go);
        barrier.wait();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    let ok = || results.iter().filter_map(|r| r.as_ref().ok());
    let applied: usize = ok().map(|r| r.0).sum();
    let locked: usize = ok().map(|r| r.1).sum();
    println!(
        "\nRESULT applied={applied} locked={locked} count_exec={} errors={}",
        counter.load(Ordering::SeqCst),
        errors.len()
    );
    assert!(errors.is_empty(), "errors: {errors:#?}");
}

/// What one round of the race showed.
struct RaceRound {
    /// Whether a `migrate` caller (rather than a `SharedDb::open` one) applied the set.
    by_migrate: bool,
    /// `migrate` callers that took the write lock (and waited for it).
    locked: usize,
    spawned: Duration,
    raced: Duration,
}

fn race_round(set: &Migrations, round: usize) -> RaceRound {
    let what = format!("round {round}");
    let race = TempDb::named("race.db");
    let db = race.path.clone();
    let ready = race.dir().join("ready");
    fs::create_dir(&ready).unwrap();
    let go = race.dir().join("go");

    let started = Instant::now();
    let mut children: Vec<Running> = (0..RACE_PROCESSES)
        .map(|_| {
            child_test!(child_threads_race)
                .env(RACE_DB, &db)
                .env(RACE_READY, &ready)
                .env(RACE_GO, &go)
                .spawn()
        })
        .collect();
    child::wait_until_ready(&mut children, &ready, &what);
    let spawned = started.elapsed();
    fs::write(&go, b"").unwrap();
    let go_at = Instant::now();
    let outcomes: Vec<Outcome> = children.into_iter().map(Running::finish).collect();
    let raced = go_at.elapsed();

    for o in &outcomes {
        assert!(o.status.success(), "{what}: a child failed: {o:?}");
        assert_eq!(o.field("errors"), Some(0), "{what}: {o:?}");
    }
    let sum = |key| -> usize { outcomes.iter().map(|o| o.field(key).unwrap()).sum() };
    let (applied, locked, count_exec) = (sum("applied"), sum("locked"), sum("count_exec"));
    assert_eq!(
        count_exec,
        1,
        "{what}: migration 5's count_exec() must run once in all {} callers",
        RACE_PROCESSES * RACE_THREADS
    );
    assert!(
        applied == 0 || applied == set.len(),
        "{what}: one caller applies all 5 migrations (a SharedDb caller if 0): {applied}"
    );
    let conn = Connection::open(&db).unwrap();
    assert_migrated_once(&conn, set, &what);
    RaceRound {
        by_migrate: applied != 0,
        locked,
        spawned,
        raced,
    }
}

#[test]
fn thirty_two_processes_of_sixteen_threads_migrate_one_file_exactly_once() {
    const ROUNDS: usize = 10;
    let set = counting_set();
    let start = Instant::now();
    let rounds: Vec<RaceRound> = (0..ROUNDS).map(|n| race_round(&set, n)).collect();
    let by_migrate = rounds.iter().filter(|r| r.by_migrate).count();
    let locked: usize = rounds.iter().map(|r| r.locked).sum();
    // The applier took the lock when it was a `migrate` caller; anyone else
    // who did found the ledger incomplete, i.e. really raced.
    let raced = locked - by_migrate;
    let slowest = rounds.iter().map(|r| r.spawned + r.raced).max().unwrap();
    eprintln!(
        "{ROUNDS} rounds of {} callers ({RACE_PROCESSES} processes x {RACE_THREADS} threads) in {:?}; \
         slowest round {slowest:?}; applied by a migrate caller in {by_migrate} rounds, by a SharedDb::open caller in {}; \
         {locked} migrate callers took the write lock, {raced} of them not the applier",
        RACE_PROCESSES * RACE_THREADS,
        start.elapsed(),
        ROUNDS - by_migrate,
    );
    for r in &rounds {
        eprintln!(
            "  start {:?}, start file to last exit {:?}, applier {}, locked {}",
            r.spawned,
            r.raced,
            if r.by_migrate { "migrate" } else { "SharedDb" },
            r.locked
        );
    }
    assert!(
        raced > 0,
        "no caller but the applier ever took the write lock in {ROUNDS} rounds: the race did not happen"
    );
}
