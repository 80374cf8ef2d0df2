//! Many callers in one process: `no_wait` answers, and 100 callers over a
//! mix of databases and sets.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::postgres::Migrator;
use migrate_once::{Error, Migration, Migrations};

use crate::support::{counting_database, counting_set, executions, ledger_versions, p95, server};

#[test]
fn with_no_wait_one_of_ten_migrates_and_nine_are_told_at_once() {
    let server = server!();
    let db = counting_database(server);
    // Holds the lock for half a second, so all ten meet it.
    let mut list: Vec<Migration> = counting_set(3, 0.0).iter().cloned().collect();
    list.push(Migration::new(4, "slow", "SELECT pg_sleep(0.5);"));
    let set = Migrations::new(list).unwrap();
    let barrier = Barrier::new(10);
    let results: Vec<(Result<usize, Error>, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let (db, set, barrier) = (&db, &set, &barrier);
                s.spawn(move || {
                    let mut c = db.connect().unwrap();
                    barrier.wait();
                    let t = Instant::now();
                    let r = Migrator::new(set)
                        .lock_timeout(Duration::ZERO)
                        .migrate(&mut c)
                        .map(|r| r.applied.len());
                    (r, t.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let migrated: Vec<_> = results.iter().filter(|(r, _)| matches!(r, Ok(4))).collect();
    let mut told: Vec<Duration> = results
        .iter()
        .filter(|(r, _)| matches!(r, Err(Error::InProgress)))
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(migrated.len(), 1, "{results:?}");
    assert_eq!(told.len(), 9, "{results:?}");
    let p95 = p95(&mut told);
    println!(
        "no_wait: 1 migrated in {:?}, 9 told InProgress, p95 {p95:?}, max {:?}",
        migrated[0].1,
        told.last().unwrap()
    );
    // At once: well before the holder's half second is over.
    assert!(p95 < Duration::from_millis(400), "p95 {p95:?}");
    let mut c = db.connect().unwrap();
    assert_eq!(executions(&mut c, "public").1, 3);
}

#[test]
fn a_hundred_callers_over_four_databases_and_two_sets_all_succeed_without_deadlock() {
    let server = server!();
    let _heavy = crate::support::heavy();
    let dbs: Vec<_> = (0..4).map(|_| counting_database(server)).collect();
    // Two sets, each in a schema of its own in every database.
    let sets = [
        ("set_a", counting_set(6, 0.0)),
        ("set_b", counting_set(3, 0.0)),
    ];
    let barrier = Barrier::new(100);
    let started = Instant::now();
    let results: Vec<(Result<usize, Error>, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let db = &dbs[i % 4];
                let (schema, set) = &sets[(i / 4) % 2];
                let barrier = &barrier;
                s.spawn(move || {
                    let mut c = db.connect().unwrap();
                    barrier.wait();
                    let t = Instant::now();
                    let r = Migrator::new(set)
                        .schema(*schema)
                        .migrate(&mut c)
                        .map(|r| r.applied.len());
                    (r, t.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let errors: Vec<_> = results.iter().filter(|(r, _)| r.is_err()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let applied: usize = results.iter().map(|(r, _)| *r.as_ref().unwrap()).sum();
    assert_eq!(applied, 4 * (6 + 3));
    let mut times: Vec<Duration> = results.iter().map(|(_, t)| *t).collect();
    let p95 = p95(&mut times);
    println!(
        "100 callers, 4 databases x 2 sets: p95 {p95:?}, max {:?}, wall {wall:?}",
        times.last().unwrap()
    );
    assert!(p95 < Duration::from_secs(5), "p95 {p95:?}");
    for db in &dbs {
        let mut c = db.connect().unwrap();
        for (schema, set) in &sets {
            assert_eq!(ledger_versions(&mut c, schema).len(), set.len());
            let (committed, _) = executions(&mut c, schema);
            assert!(committed.iter().all(|(_, n)| *n == 1), "{committed:?}");
            assert_eq!(committed.len(), set.len());
        }
    }
}
