//! Many threads, each with its own connection, migrating one fresh database
//! file at the same instant: exactly one applies the set, the others find it
//! done (or, with `no_wait`, are told it is in progress), and every
//! migration body runs exactly once.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use migrate_once::{Error, Migrations, Migrator, Report, Result};
use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::{assert_migrated_once, counting_set, register_counter, set_versions};

const THREADS: usize = 16;
const ROUNDS: usize = 200;

/// What one round of the race produced.
struct Round {
    results: Vec<Result<Report>>,
    /// Calls of `count_exec()` over all connections.
    count_exec: usize,
}

/// Opens `THREADS` connections to a new file in `dir`, releases them together
/// through a barrier, and has each call `migrate`. The connections are opened
/// before the threads start so that nothing can fail between spawning and
/// the barrier.
fn race(
    dir: &Path,
    round: usize,
    migrate: impl Fn(&mut Connection) -> Result<Report> + Sync,
) -> (Round, Connection) {
    let path = dir.join(format!("race-{round}.db"));
    let counter = Arc::new(AtomicUsize::new(0));
    let conns: Vec<Connection> = (0..THREADS)
        .map(|_| {
            let conn = Connection::open(&path).expect("open the database");
            register_counter(&conn, Arc::clone(&counter)).expect("register count_exec");
            conn
        })
        .collect();
    let barrier = Barrier::new(THREADS);
    let results = thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                let (barrier, migrate) = (&barrier, &migrate);
                s.spawn(move || {
                    barrier.wait();
                    migrate(&mut conn)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a migrating thread panicked"))
            .collect()
    });
    let check = Connection::open(&path).expect("reopen the database");
    (
        Round {
            results,
            count_exec: counter.load(Ordering::SeqCst),
        },
        check,
    )
}

/// Asserts the per-round invariants shared by both tests on the callers
/// that succeeded, and on the database. Returns how many of the callers that
/// did not apply went through the locked path (waited for or took the write
/// lock) rather than the lock-free fast path: evidence that they raced.
fn check_round(
    round: usize,
    set: &Migrations,
    reports: &[&Report],
    outcome: &Round,
    db: &Connection,
) -> usize {
    let what = format!("round {round}");
    let all = set_versions(set);
    let appliers: Vec<&&Report> = reports.iter().filter(|r| !r.applied.is_empty()).collect();
    assert_eq!(
        appliers.len(),
        1,
        "{what}: exactly one caller must apply; reports: {reports:#?}"
    );
    assert_eq!(
        appliers[0].applied_versions(),
        all,
        "{what}: the applier applied every version"
    );
    assert_eq!(
        appliers[0].already_applied, 0,
        "{what}: the applier found nothing applied"
    );
    let mut contended = 0;
    for report in reports.iter().filter(|r| r.applied.is_empty()) {
        assert_eq!(
            report.already_applied,
            set.len(),
            "{what}: a caller that applied nothing must find everything applied: {report:#?}"
        );
        if report.lock_wait > Duration::ZERO {
            contended += 1;
        }
    }
    assert_eq!(
        outcome.count_exec, 1,
        "{what}: count_exec() must run exactly once over all connections"
    );
    assert_migrated_once(db, set, &what);
    contended
}

#[test]
fn threads_racing_on_one_file_migrate_it_exactly_once() {
    let set = counting_set();
    let dir = TempDir::new().expect("create a temp dir");
    let mut contended = 0;
    for round in 0..ROUNDS {
        let (outcome, db) = race(dir.path(), round, |conn| migrate_once::migrate(conn, &set));
        let errors: Vec<String> = outcome
            .results
            .iter()
            .filter_map(|res| res.as_ref().err().map(ToString::to_string))
            .collect();
        assert!(
            errors.is_empty(),
            "round {round}: no caller may fail, got {errors:#?}"
        );
        let reports: Vec<&Report> = outcome
            .results
            .iter()
            .filter_map(|res| res.as_ref().ok())
            .collect();
        assert_eq!(reports.len(), THREADS);
        contended += check_round(round, &set, &reports, &outcome, &db);
    }
    // Callers only take the write lock when the ledger was incomplete when
    // they looked; if none ever did, the threads never really raced and the
    // rounds above proved nothing about the lock.
    assert!(
        contended > 0,
        "no caller ever waited for the lock in {ROUNDS} rounds: the race did not happen"
    );
    eprintln!(
        "{contended} of {} non-applying callers went through the locked path",
        ROUNDS * (THREADS - 1)
    );
}

#[test]
fn no_wait_callers_apply_find_done_or_are_told_in_progress() {
    let set = counting_set();
    let dir = TempDir::new().expect("create a temp dir");
    let mut in_progress = 0;
    for round in 0..ROUNDS {
        let (outcome, db) = race(dir.path(), round, |conn| {
            Migrator::new(&set)
                .lock_timeout(Duration::ZERO)
                .migrate(conn)
        });
        let mut reports = Vec::new();
        for res in &outcome.results {
            match res {
                Ok(report) => reports.push(report),
                Err(Error::InProgress) => in_progress += 1,
                Err(e) => panic!(
                    "round {round}: a no-wait caller may only get InProgress, got {e:?}: {e}"
                ),
            }
        }
        check_round(round, &set, &reports, &outcome, &db);
    }
    // Otherwise the no-wait path was never exercised.
    assert!(
        in_progress > 0,
        "no caller was ever told InProgress in {ROUNDS} rounds: the race did not happen"
    );
    eprintln!(
        "{in_progress} of {} callers were told InProgress",
        ROUNDS * THREADS
    );
}
