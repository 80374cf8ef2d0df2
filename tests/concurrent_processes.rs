//! Separate processes migrating one fresh database file at the same instant,
//! as cargo-nextest's one-process-per-test model makes them: exactly one
//! applies the set, the others find it done, and every migration body runs
//! exactly once.
//!
//! The parent test spawns copies of this test binary that run only
//! [`child_process_migrates`]; without the environment variables below that
//! test does nothing, so it is a no-op in ordinary runs. The same arguments
//! work under `cargo test` and `cargo nextest run`, since both run the test
//! binary itself.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tempfile::TempDir;

use common::{Outcome, assert_migrated_once, counting_set, register_counter};

const PROCESSES: usize = 8;
const ROUNDS: usize = 50;

/// The name libtest knows the child under; `--exact` selects only it.
const CHILD_TEST: &str = "child_process_migrates";
/// The database file the child migrates.
const CHILD_DB: &str = "MIGRATE_ONCE_CHILD_DB";
/// The directory where the child announces itself with `ready-<pid>`.
const CHILD_READY: &str = "MIGRATE_ONCE_CHILD_READY";
/// The file whose creation releases every child at once.
const CHILD_GO: &str = "MIGRATE_ONCE_CHILD_GO";

/// How long anything in this test may take before it counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// Polls every millisecond until `done` holds, panicking after [`DEADLINE`].
fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs only in a child process (see the module docs): opens its own
/// connection, signals it is ready, waits for the start file, migrates and
/// prints one `RESULT` line for the parent.
#[test]
fn child_process_migrates() {
    let Some(db) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let var =
        |name| PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("{name} is not set")));
    let (ready, go) = (var(CHILD_READY), var(CHILD_GO));

    let set = counting_set();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut conn = Connection::open(&db).expect("open the database");
    register_counter(&conn, Arc::clone(&counter)).expect("register count_exec");
    fs::write(ready.join(format!("ready-{}", std::process::id())), b"")
        .expect("write the ready file");
    poll_until("the start file", || go.exists());

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

/// A running child with its output drained on threads, so that a chatty
/// child cannot block on a full pipe.
struct Running {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out);
        out
    })
}

fn spawn_child(exe: &Path, db: &Path, ready: &Path, go: &Path) -> Running {
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, db)
        .env(CHILD_READY, ready)
        .env(CHILD_GO, go)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a child test process");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    Running {
        child,
        stdout,
        stderr,
    }
}

/// Kills every child still running; used when the test is about to fail so
/// that no child outlives it.
fn kill_all(children: &mut [Running]) {
    for r in children {
        if matches!(r.child.try_wait(), Ok(None)) {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// Waits for every child to exit, within [`DEADLINE`].
fn collect(mut children: Vec<Running>) -> Vec<Outcome> {
    let start = Instant::now();
    let mut statuses: Vec<Option<ExitStatus>> = vec![None; children.len()];
    while statuses.iter().any(Option::is_none) {
        for (r, s) in children.iter_mut().zip(&mut statuses) {
            if s.is_none() {
                *s = r.child.try_wait().expect("poll a child");
            }
        }
        if start.elapsed() > DEADLINE {
            kill_all(&mut children);
            panic!("child processes still running after {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(1));
    }
    children
        .into_iter()
        .zip(statuses)
        .map(|(r, status)| Outcome {
            status: status.expect("every child exited"),
            stdout: r.stdout.join().expect("stdout reader"),
            stderr: r.stderr.join().expect("stderr reader"),
        })
        .collect()
}

/// One round: a new file, `PROCESSES` children ready and released together.
/// Returns how many non-applying children went through the locked path.
fn round(exe: &Path, set: &migrate_once::Migrations, n: usize) -> usize {
    let dir = TempDir::new().expect("create a temp dir");
    let db = dir.path().join("race.db");
    let ready = dir.path().join("ready");
    fs::create_dir(&ready).expect("create the ready dir");
    let go = dir.path().join("go");

    let mut children: Vec<Running> = (0..PROCESSES)
        .map(|_| spawn_child(exe, &db, &ready, &go))
        .collect();

    // The cross-process barrier: every child has opened its connection and
    // is polling for the start file before it is created.
    let start = Instant::now();
    loop {
        let count = fs::read_dir(&ready).expect("read the ready dir").count();
        if count == PROCESSES {
            break;
        }
        let exited = children
            .iter_mut()
            .position(|r| !matches!(r.child.try_wait(), Ok(None)));
        if exited.is_some() || start.elapsed() > DEADLINE {
            kill_all(&mut children);
            let outcomes = collect(children);
            panic!("round {n}: a child exited (or hung) before it was ready: {outcomes:#?}");
        }
        thread::sleep(Duration::from_millis(1));
    }
    fs::write(&go, b"").expect("create the start file");
    let outcomes = collect(children);

    let what = format!("round {n}");
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

    let conn = Connection::open(&db).expect("reopen the database");
    assert_migrated_once(&conn, set, &what);

    (0..PROCESSES)
        .filter(|&i| i != a && outcomes[i].field("locked") == Some(1))
        .count()
}

#[test]
fn processes_racing_on_one_file_migrate_it_exactly_once() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let set = counting_set();
    let mut contended = 0;
    for n in 0..ROUNDS {
        contended += round(&exe, &set, n);
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
