//! Separate processes migrating one fresh database file at the same instant,
//! as cargo-nextest's one-process-per-test model makes them: exactly one
//! applies the set, the others find it done, and every migration body runs
//! exactly once.
//!
//! The parent test spawns copies of this test binary that run only
//! [`child_process_migrates`], an ignored test that fails when it is run
//! without the environment variables below.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::Connection;

use crate::support::child::{self, ChildEnv, Outcome, Running, child_test};
use crate::support::{TempDb, assert_migrated_once, counting_set, register_counter};

const PROCESSES: usize = 8;
const ROUNDS: usize = 50;

/// The database file the child migrates.
const CHILD_DB: &str = "MIGRATE_ONCE_CHILD_DB";
/// The directory where the child announces itself with `ready-<pid>`.
const CHILD_READY: &str = "MIGRATE_ONCE_CHILD_READY";
/// The file whose creation releases every child at once.
const CHILD_GO: &str = "MIGRATE_ONCE_CHILD_GO";

/// Runs only in a child process (see the module docs): opens its own
/// connection, signals it is ready, waits for the start file, migrates and
/// prints one `RESULT` line for the parent.
#[test]
#[ignore = "run as a child process by concurrent_processes::processes_racing_on_one_file_migrate_it_exactly_once"]
fn child_process_migrates() {
    let env =
        ChildEnv::of("concurrent_processes::processes_racing_on_one_file_migrate_it_exactly_once");
    let (db, ready, go) = (
        env.path(CHILD_DB),
        env.path(CHILD_READY),
        env.path(CHILD_GO),
    );

    let set = counting_set();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut conn = Connection::open(&db).expect("open the database");
    register_counter(&conn, Arc::clone(&counter)).expect("register count_exec");
    child::ready_then_wait(&ready, &go);

    match migrate_once::migrate(&mut conn, &set) {
        Ok(report) => println!(
            "\nRESULT applied={} already={} locked={} count_exec={}",
            report.applied.len(),
            report.already_applied,
            u8::from(report.lock_wait > Duration::ZERO),
            counter.load(Ordering::SeqCst)
        ),
        Err(e) => {
            println!("\nRESULT error={e}");
            panic!("migrating failed: {e:?}");
        }
    }
}

/// One round: a new file, `PROCESSES` children ready and released together.
/// Returns how many non-applying children went through the locked path.
fn round(set: &migrate_once::Migrations, n: usize) -> usize {
    let db = TempDb::named("race.db");
    let ready = db.dir().join("ready");
    fs::create_dir(&ready).expect("create the ready dir");
    let go = db.dir().join("go");
    let what = format!("round {n}");

    let mut children: Vec<Running> = (0..PROCESSES)
        .map(|_| {
            child_test!(child_process_migrates)
                .env(CHILD_DB, &db.path)
                .env(CHILD_READY, &ready)
                .env(CHILD_GO, &go)
                .spawn()
        })
        .collect();

    // The cross-process barrier: every child has opened its connection and
    // is polling for the start file before it is created.
    child::wait_until_ready(&mut children, &ready, &what);
    fs::write(&go, b"").expect("create the start file");
    let outcomes: Vec<Outcome> = children.into_iter().map(Running::finish).collect();

    for o in &outcomes {
        assert!(o.status.success(), "{what}: a child failed: {o:?}");
        assert!(
            o.result().is_some(),
            "{what}: a child printed no RESULT line: {o:?}"
        );
    }
    let applied: Vec<usize> = outcomes
        .iter()
        .map(|o| o.field("applied").unwrap())
        .collect();
    let already: Vec<usize> = outcomes
        .iter()
        .map(|o| o.field("already").unwrap())
        .collect();
    let appliers: Vec<usize> = (0..PROCESSES).filter(|&i| applied[i] != 0).collect();
    assert_eq!(
        appliers.len(),
        1,
        "{what}: exactly one process must apply; applied={applied:?} already={already:?}"
    );
    let a = appliers[0];
    assert_eq!(
        applied[a],
        set.len(),
        "{what}: the applier applied every migration"
    );
    assert_eq!(already[a], 0, "{what}: the applier found nothing applied");
    for i in (0..PROCESSES).filter(|&i| i != a) {
        assert_eq!(
            already[i],
            set.len(),
            "{what}: a process that applied nothing must find everything applied: {:?}",
            outcomes[i]
        );
    }
    let count_exec: usize = outcomes
        .iter()
        .map(|o| o.field("count_exec").unwrap())
        .sum();
    assert_eq!(
        count_exec, 1,
        "{what}: count_exec() must run once over all processes"
    );

    assert_migrated_once(&db.open(), set, &what);

    (0..PROCESSES)
        .filter(|&i| i != a && outcomes[i].field("locked") == Some(1))
        .count()
}

#[test]
fn processes_racing_on_one_file_migrate_it_exactly_once() {
    let set = counting_set();
    let mut contended = 0;
    for n in 0..ROUNDS {
        contended += round(&set, n);
    }
    // Processes only take the write lock when the ledger was incomplete when
    // they looked; if none ever did, they never really raced.
    assert!(
        contended > 0,
        "no process ever waited for the lock in {ROUNDS} rounds: the race did not happen"
    );
    eprintln!(
        "{contended} of {} non-applying processes went through the locked path",
        ROUNDS * (PROCESSES - 1)
    );
}
