//! `postgres::SharedDb`: migrated once per process, validated every open,
//! pooled clients, a schema of its own.

use std::sync::Barrier;
use std::thread;

use migrate_once::postgres::SharedDb;
use migrate_once::{Error, Migration, Migrations};

use crate::support::{counting_database, counting_set, executions, server};

#[test]
fn threads_opening_one_database_migrate_it_once_and_later_opens_only_validate() {
    let server = server!();
    let db = counting_database(server);
    let set = counting_set(4, 0.0);
    let barrier = Barrier::new(8);
    let reports: Vec<Option<usize>> = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (db, set, barrier) = (&db, &set, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let shared = SharedDb::open(db.url(), set).unwrap();
                    shared.report().map(|r| r.applied.len())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // One open in this process migrated; the rest waited for it.
    assert_eq!(
        reports.iter().filter(|r| r.is_some()).count(),
        1,
        "{reports:?}"
    );
    assert_eq!(reports.iter().flatten().sum::<usize>(), 4);
    let shared = SharedDb::open(db.url(), &set).unwrap();
    assert!(shared.report().is_none());
    let mut client = shared.pool().unwrap().get().unwrap();
    assert_eq!(executions(&mut client, "public").1, 4);

    // A table dropped since is named by the next open.
    client.batch_execute("DROP TABLE t3").unwrap();
    let err = SharedDb::open(db.url(), &set).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { missing, .. } if missing.iter().any(|o| o.name == "t3")),
        "{err:?}"
    );
}

#[test]
fn a_schema_of_its_own_is_migrated_and_set_on_every_pooled_connection() {
    let server = server!();
    let db = server.create_database().unwrap();
    let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t (x int)")]).unwrap();
    let a = SharedDb::builder(db.url())
        .schema("suite_a")
        .open(&set)
        .unwrap();
    let b = SharedDb::builder(db.url())
        .schema("suite_b")
        .open(&set)
        .unwrap();
    assert!(
        a.report().is_some() && b.report().is_some(),
        "one migration per schema"
    );
    a.pool()
        .unwrap()
        .get()
        .unwrap()
        .batch_execute("INSERT INTO t VALUES (1)")
        .unwrap();
    let in_b: i64 = b
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_b, 0);
    let in_a: i64 = db
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM suite_a.t", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_a, 1);
}

#[test]
fn a_bad_migration_is_remembered_and_not_run_again_in_the_process() {
    let server = server!();
    let db = counting_database(server);
    let mut list: Vec<Migration> = counting_set(2, 0.0).iter().cloned().collect();
    list.push(Migration::new(
        3,
        "bad",
        "SELECT nextval('counters.attempts'); CREATE TABLE oops (x nope);",
    ));
    let set = Migrations::new(list).unwrap();
    for _ in 0..3 {
        let err = SharedDb::open(db.url(), &set).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::PostgresSql {
                    version: 3,
                    index: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
    // Migrations 1 and 2 ran once, 3 started once: the failure was kept.
    assert_eq!(executions(&mut db.connect().unwrap(), "public").1, 3);
}
