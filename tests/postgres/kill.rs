//! A migrating process SIGKILLed at many instants: the database is left
//! untouched or fully migrated, never in between, and the next run
//! completes it with each body committed once.

use std::thread;
use std::time::Duration;

use migrate_once::postgres::migrate;

use crate::support::{
    CHILD_URL, Running, child, counting_database, counting_set, executions, ledger_versions,
    server, tables,
};

const MIGRATIONS: i64 = 10;
/// Seconds each migration sleeps: the run takes about a quarter second.
const SLEEP: f64 = 0.02;

/// Runs only in a child: connects, says `READY`, migrates.
#[test]
#[ignore = "run as a child process by kill::sigkill_at_many_instants_leaves_nothing_or_everything_and_the_next_run_completes"]
fn child_migrate() {
    let url = std::env::var(CHILD_URL).expect("run by kill::*");
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let set = counting_set(MIGRATIONS, SLEEP);
    println!("READY");
    let report = migrate(&mut c, &set).expect("migrate");
    println!("RESULT applied={}", report.applied.len());
}

#[test]
fn sigkill_at_many_instants_leaves_nothing_or_everything_and_the_next_run_completes() {
    let server = server!();
    let set = counting_set(MIGRATIONS, SLEEP);
    let all: Vec<i64> = (1..=MIGRATIONS).collect();
    let (mut untouched, mut mid_run, mut complete) = (0, 0, 0);
    let delays: Vec<u64> = (0..=300).step_by(12).collect();
    for &delay in &delays {
        let db = counting_database(server);
        let mut cmd = child("kill::child_migrate");
        cmd.env(CHILD_URL, db.url());
        let mut running = Running::spawn(cmd);
        running.line("READY");
        thread::sleep(Duration::from_millis(delay));
        let _ = running.child.kill();
        let _ = running.child.wait();

        let mut c = db.connect().unwrap();
        let ledger = ledger_versions(&mut c, "public");
        let (committed, started) = executions(&mut c, "public");
        let user_tables: Vec<String> = tables(&mut c, "public")
            .into_iter()
            .filter(|t| !t.starts_with('_'))
            .collect();
        if ledger.is_empty() {
            // Untouched: no table, no row, not even the ledger.
            assert!(
                user_tables.is_empty(),
                "after {delay} ms: tables {user_tables:?} without a ledger"
            );
            assert!(committed.is_empty(), "after {delay} ms: {committed:?}");
            assert!(tables(&mut c, "public").is_empty());
            if started > 0 {
                mid_run += 1;
            } else {
                untouched += 1;
            }
        } else {
            assert_eq!(ledger, all, "after {delay} ms: a partial ledger");
            assert_eq!(
                user_tables.len() as i64,
                MIGRATIONS,
                "after {delay} ms: {user_tables:?}"
            );
            assert_eq!(committed, all.iter().map(|v| (*v, 1)).collect::<Vec<_>>());
            complete += 1;
        }
        // The next run completes it (waiting for the killed session's lock
        // to die with its transaction), each body committed once.
        migrate(&mut c, &set).unwrap_or_else(|e| panic!("after {delay} ms: {e:?}"));
        assert_eq!(ledger_versions(&mut c, "public"), all);
        let (committed, _) = executions(&mut c, "public");
        assert_eq!(
            committed,
            all.iter().map(|v| (*v, 1)).collect::<Vec<_>>(),
            "after {delay} ms"
        );
    }
    println!(
        "{} kills from 0 to {} ms: {untouched} before any body started, {mid_run} mid-run (left \
         untouched), {complete} after commit (fully migrated)",
        delays.len(),
        delays.last().unwrap()
    );
    // The kills really landed while bodies ran.
    assert!(mid_run >= 5, "only {mid_run} kills landed mid-run");
}
