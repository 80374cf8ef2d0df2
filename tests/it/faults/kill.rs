//! SIGKILL at any instant: a child process migrating a heavy set is
//! killed at instants spread over its run, inside its commit, while it waits
//! for the write lock and after `migrate` returned; the file holds nothing
//! or everything of the migration, and the next run completes it.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Migration, Migrations, SharedDb, ledger, migrate};
use rusqlite::Connection;

use super::{len_of, user_tables};
use crate::support::child::{self, ChildEnv, Running, child_test};
use crate::support::{DEADLINE, TempDb, column, count, poll_until, pragma};

/// Migrations in the set the killed child applies.
const HEAVY_MIGRATIONS: i64 = 20;
/// Rows each of them inserts.
const HEAVY_ROWS: i64 = 3000;
/// How long the child keeps running after `migrate` returned, as a test
/// would: kills that land here hit a process whose migration has committed.
const LINGER: Duration = Duration::from_millis(60);

const KILL_DB: &str = "MIGRATE_ONCE_FAULTS_KILL_DB";
const KILL_SIGNALS: &str = "MIGRATE_ONCE_FAULTS_KILL_SIGNALS";
const KILL_MODE: &str = "MIGRATE_ONCE_FAULTS_KILL_MODE";

/// Twenty migrations of a few thousand rows each: about 100–300 ms in a
/// debug build, and about 5 MB, more than SQLite's default 2 MB page cache.
fn heavy_set() -> Migrations {
    Migrations::new(
        (1..=HEAVY_MIGRATIONS)
            .map(|v| {
                Migration::new(
                    v,
                    format!("fill_t{v}"),
                    format!(
                        "CREATE TABLE t{v} (id INTEGER PRIMARY KEY, body TEXT NOT NULL, n INTEGER NOT NULL);
                         WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {HEAVY_ROWS})
                         INSERT INTO t{v} (body, n)
                             SELECT printf('row %d of migration {v} %s', i, hex(randomblob(16))), i FROM seq;
                         CREATE INDEX t{v}_by_n ON t{v}(n);"
                    ),
                )
            })
            .collect(),
    )
    .expect("the heavy set is valid")
}

/// How the killed child's database is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Rollback journal, page cache big enough for the whole migration: no
    /// page reaches the database file before `COMMIT`, so a grown file after
    /// a kill means the kill landed inside the commit.
    Rollback,
    /// Rollback journal with SQLite's default 2 MB cache: pages spill to the
    /// file mid-transaction, before the commit.
    RollbackSpill,
    /// Write-ahead log (set on the file before the child opens it).
    Wal,
    /// `journal_mode = MEMORY` on the child's connection (a common speed
    /// setting in a connection hook) and the big page cache: without a
    /// journal on disk, a kill inside the commit would leave the file half
    /// written, so the migrator migrates with one and sets MEMORY back.
    Memory,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Rollback => "rollback",
            Mode::RollbackSpill => "rollback-spill",
            Mode::Wal => "wal",
            Mode::Memory => "memory",
        }
    }
}

/// Runs only in a child process: opens its connection, says it is ready,
/// waits for the start file, migrates, says it has migrated, and lingers.
#[test]
#[ignore = "run as a child process by faults::kill::sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes"]
fn child_migrates_until_killed() {
    let env = ChildEnv::of(
        "faults::kill::sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes",
    );
    let db = env.path(KILL_DB);
    let signals = env.path(KILL_SIGNALS);
    let mode = env.var(KILL_MODE);
    let set = heavy_set();
    let mut conn = Connection::open(&db).expect("open the database");
    if mode == Mode::Rollback.name() || mode == Mode::Memory.name() {
        conn.execute_batch("PRAGMA cache_size = -262144")
            .expect("grow the page cache");
    }
    if mode == Mode::Memory.name() {
        let jm: String = conn
            .query_row("PRAGMA journal_mode = MEMORY", [], |r| r.get(0))
            .expect("set the journal mode");
        assert_eq!(jm, "memory");
    }
    child::ready_then_wait(&signals.join("ready"), &signals.join("go"));
    let report = migrate(&mut conn, &set).expect("migrate");
    if mode == Mode::Memory.name() {
        let jm: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("read the journal mode");
        assert_eq!(jm, "memory", "the connection's journal mode is set back");
    }
    fs::write(signals.join("migrated"), b"").expect("write the migrated file");
    println!("\nRESULT applied={}", report.applied.len());
    thread::sleep(LINGER);
}

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Never: let it finish (calibration).
    Never,
    /// This long after the start file is created.
    At(Duration),
    /// This long after the database file starts to grow: in
    /// [`Mode::Rollback`], after the commit has begun writing pages.
    InCommit(Duration),
    /// As soon as the child says `migrate` returned.
    AfterMigrated,
}

/// Where a kill landed, judged from the files it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// The child had exited on its own.
    Finished,
    /// Nothing of the transaction had reached the disk.
    Untouched,
    /// Pages had reached the disk (database file or WAL) but the commit
    /// had not completed: SQLite rolled them back on the next open.
    RolledBack,
    /// The migration had committed.
    Committed,
}

struct KillRun {
    landed: Landed,
    /// From the start file to the kill (or to the child's exit).
    elapsed: Duration,
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

/// `-journal` or `-wal` companion of `db`.
fn companion(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Asserts the database holds exactly the first `k` migrations of the heavy
/// set (ledger and schema agree, each body ran once), and returns `k`.
fn heavy_prefix(conn: &Connection, set: &Migrations, what: &str) -> usize {
    assert_eq!(
        column::<String>(conn, "PRAGMA integrity_check"),
        ["ok"],
        "{what}: PRAGMA integrity_check"
    );
    let rows = ledger(conn).expect("read the ledger");
    let k = rows.len();
    for (row, m) in rows.iter().zip(set) {
        assert_eq!(
            (row.version, row.checksum.as_str()),
            (m.version(), m.checksum()),
            "{what}: the ledger must be a prefix of the set"
        );
    }
    let mut expected: Vec<String> = set
        .iter()
        .take(k)
        .map(|m| format!("t{}", m.version()))
        .collect();
    expected.sort();
    assert_eq!(
        user_tables(conn),
        expected,
        "{what}: sqlite_master must hold exactly the tables of the {k} migrations the ledger lists"
    );
    for m in set.iter().take(k) {
        let n = count(conn, &format!("t{}", m.version()));
        assert_eq!(n, HEAVY_ROWS, "{what}: rows of t{}", m.version());
    }
    k
}

/// One child migrating `set` on a new file, killed as `kill` says; `hold`
/// makes the parent hold the write lock (`BEGIN IMMEDIATE`) for that long
/// after the start, so the child first waits for it. Checks the file after
/// the kill, then finishes the migration (through `SharedDb::open` or
/// `migrate`, alternating with `n`) and checks it again.
fn kill_run(set: &Migrations, mode: Mode, kill: Kill, hold: Option<Duration>, n: usize) -> KillRun {
    let killed = TempDb::named("killed.db");
    let db = killed.path.clone();
    let signals = killed.dir().join("signals");
    fs::create_dir_all(signals.join("ready")).unwrap();
    if mode == Mode::Wal {
        let c = Connection::open(&db).unwrap();
        let jm: String = pragma(&c, "journal_mode = WAL");
        assert_eq!(jm, "wal");
    }
    let what = format!("kill run {n} ({}, {kill:?}, hold {hold:?})", mode.name());

    let mut child = child_test!(child_migrates_until_killed)
        .env(KILL_DB, &db)
        .env(KILL_SIGNALS, &signals)
        .env(KILL_MODE, mode.name())
        .spawn();
    child::wait_until_ready(
        std::slice::from_mut(&mut child),
        &signals.join("ready"),
        &what,
    );
    let mut locker = hold.map(|_| {
        let c = Connection::open(&db).unwrap();
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        c
    });
    let release = |locker: &mut Option<Connection>| {
        if let Some(c) = locker.take() {
            c.execute_batch("ROLLBACK").unwrap();
        }
    };
    fs::write(signals.join("go"), b"").unwrap();
    let go = Instant::now();

    let sigkill = Running::kill;
    match kill {
        Kill::Never => poll_until("the child to exit", || child.exited()),
        Kill::At(delay) => {
            if let Some(hold) = hold {
                sleep_until(go + delay.min(hold));
                if delay < hold {
                    // Reaped before letting go of the lock, so that it cannot
                    // take the lock between the signal and its death.
                    sigkill(&mut child);
                    release(&mut locker);
                } else {
                    release(&mut locker);
                    sleep_until(go + delay);
                    sigkill(&mut child);
                }
            } else {
                sleep_until(go + delay);
                sigkill(&mut child);
            }
        }
        Kill::InCommit(extra) => {
            let start = Instant::now();
            while len_of(&db) == 0 && !child.exited() {
                assert!(start.elapsed() < DEADLINE, "{what}: the file never grew");
                std::hint::spin_loop();
            }
            sleep_until(Instant::now() + extra);
            sigkill(&mut child);
        }
        Kill::AfterMigrated => {
            poll_until("the child to migrate", || signals.join("migrated").exists());
            sigkill(&mut child);
        }
    }
    let elapsed = go.elapsed();
    release(&mut locker);
    let outcome = child.finish();
    let killed = killed_by_sigkill(&outcome.status);
    if !killed {
        assert!(
            outcome.status.success(),
            "{what}: the child failed: {outcome:?}"
        );
    }

    // What reached the disk, before SQLite looks at it (and rolls back a hot journal).
    let wrote = match mode {
        Mode::Rollback | Mode::RollbackSpill | Mode::Memory => len_of(&db) > 0,
        Mode::Wal => len_of(&companion(&db, "-wal")) > 0,
    };
    let conn = Connection::open(&db).expect("reopen the database");
    let k = heavy_prefix(&conn, set, &what);
    assert!(
        k == 0 || k == set.len(),
        "{what}: all pending migrations commit together, yet the ledger lists {k} of {}",
        set.len()
    );
    drop(conn);
    let landed = match (killed, k) {
        (false, _) => {
            assert_eq!(k, set.len(), "{what}: the child finished, so it committed");
            Landed::Finished
        }
        (true, 0) if wrote => Landed::RolledBack,
        (true, 0) => Landed::Untouched,
        (true, _) => Landed::Committed,
    };

    // Whatever the kill left, the next migration completes it, running
    // each body exactly once (heavy_prefix checks the row counts).
    let applied = if n.is_multiple_of(2) {
        let before = ledger(&Connection::open(&db).unwrap()).unwrap().len();
        SharedDb::open(&db, set).unwrap_or_else(|e| panic!("{what}: SharedDb::open: {e}"));
        let after = ledger(&Connection::open(&db).unwrap()).unwrap().len();
        after - before
    } else {
        let mut c = Connection::open(&db).unwrap();
        migrate(&mut c, set)
            .unwrap_or_else(|e| panic!("{what}: migrate: {e}"))
            .applied
            .len()
    };
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        heavy_prefix(&conn, set, &what),
        set.len(),
        "{what}: completed"
    );
    let expected_applied = if k == 0 { set.len() } else { 0 };
    assert_eq!(
        applied, expected_applied,
        "{what}: migrations applied after the kill"
    );
    KillRun { landed, elapsed }
}

#[cfg(unix)]
fn killed_by_sigkill(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

#[cfg(not(unix))]
fn killed_by_sigkill(_: &ExitStatus) -> bool {
    false
}

#[derive(Default)]
struct Tally {
    finished: usize,
    untouched: usize,
    rolled_back: usize,
    committed: usize,
}

impl Tally {
    fn add(&mut self, l: Landed) {
        match l {
            Landed::Finished => self.finished += 1,
            Landed::Untouched => self.untouched += 1,
            Landed::RolledBack => self.rolled_back += 1,
            Landed::Committed => self.committed += 1,
        }
    }
    fn before_commit(&self) -> usize {
        self.untouched + self.rolled_back
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "before commit {} (nothing on disk {}, rolled back from disk {}), after commit {}, exited before the kill {}",
            self.before_commit(),
            self.untouched,
            self.rolled_back,
            self.committed,
            self.finished
        )
    }
}

#[cfg(unix)]
#[test]
fn sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes() {
    let set = heavy_set();
    let start = Instant::now();
    let mut n = 0;
    let mut run = |mode, kill, hold| {
        n += 1;
        kill_run(&set, mode, kill, hold, n)
    };

    // Calibration: how long a child takes from the start file to its exit.
    let [t_rollback, t_spill, t_wal, t_memory] =
        [Mode::Rollback, Mode::RollbackSpill, Mode::Wal, Mode::Memory].map(|mode| {
            let r = run(mode, Kill::Never, None);
            assert_eq!(r.landed, Landed::Finished);
            r.elapsed
        });
    eprintln!(
        "calibration (start to exit, {LINGER:?} of it lingering after migrate): rollback {t_rollback:?}, spill {t_spill:?}, wal {t_wal:?}, memory {t_memory:?}"
    );

    let mut all = Tally::default();
    // 30 instants spread evenly over the whole run, rollback journal.
    const SPREAD: u32 = 30;
    let mut spread = Tally::default();
    let mut points: Vec<(Duration, Landed)> = Vec::new();
    for i in 0..SPREAD {
        let delay = t_rollback * i / SPREAD;
        let r = run(Mode::Rollback, Kill::At(delay), None);
        spread.add(r.landed);
        points.push((delay, r.landed));
    }
    eprintln!(
        "rollback, {SPREAD} spread kills: {spread}\n  {}",
        show(&points)
    );
    all = merge(all, &spread);

    // Inside the commit: with the big page cache nothing reaches the
    // database file before COMMIT, so the file starting to grow is the
    // commit writing its pages. Kill at that moment and a little after.
    let mut commit = Tally::default();
    let mut trace = Vec::new();
    for extra_us in [0, 0, 250, 500, 1000, 2000, 4000, 8000] {
        let extra = Duration::from_micros(extra_us);
        let r = run(Mode::Rollback, Kill::InCommit(extra), None);
        commit.add(r.landed);
        trace.push((r.elapsed, r.landed));
    }
    eprintln!(
        "rollback, 8 kills 0-8 ms after the commit began writing the file: {commit}\n  {}",
        show(&trace)
    );
    all = merge(all, &commit);

    // While the child waits for the write lock the parent holds, and after.
    let hold = Duration::from_millis(80);
    let mut waiting = Tally::default();
    let mut after_release = Tally::default();
    for i in 0..10u32 {
        let delay = if i < 5 {
            hold * i / 5
        } else {
            hold + t_rollback * (i - 5) * 2 / 5
        };
        let r = run(Mode::Rollback, Kill::At(delay), Some(hold));
        if delay < hold {
            assert_eq!(
                r.landed,
                Landed::Untouched,
                "a child killed while waiting for the lock wrote nothing"
            );
            waiting.add(r.landed);
        } else {
            after_release.add(r.landed);
        }
    }
    eprintln!("rollback, 5 kills while waiting for the lock: {waiting}");
    eprintln!("rollback, 5 kills after the lock was released: {after_release}");
    all = merge(all, &waiting);
    all = merge(all, &after_release);

    // A connection with an in-memory journal, killed inside the commit.
    let mut memory = Tally::default();
    for extra_us in [0, 250, 1000, 4000] {
        let r = run(
            Mode::Memory,
            Kill::InCommit(Duration::from_micros(extra_us)),
            None,
        );
        memory.add(r.landed);
    }
    eprintln!("memory journal, 4 kills 0-4 ms after the commit began writing the file: {memory}");
    all = merge(all, &memory);

    // Pages spilled before the commit, the WAL, the in-memory journal.
    for (mode, t) in [
        (Mode::RollbackSpill, t_spill),
        (Mode::Wal, t_wal),
        (Mode::Memory, t_memory),
    ] {
        let mut tally = Tally::default();
        for i in 0..6u32 {
            tally.add(run(mode, Kill::At(t * (2 * i + 1) / 12), None).landed);
        }
        eprintln!("{}, 6 spread kills: {tally}", mode.name());
        all = merge(all, &tally);
    }

    // Anchors: a kill after `migrate` returned must find the migration
    // committed (it was durable before the call returned).
    for mode in [Mode::Rollback, Mode::Wal] {
        let r = run(mode, Kill::AfterMigrated, None);
        assert_eq!(
            r.landed,
            Landed::Committed,
            "{}: killed after migrate returned",
            mode.name()
        );
        all.add(r.landed);
    }

    let kills = all.before_commit() + all.committed + all.finished;
    eprintln!(
        "all {kills} kills: {all}; {n} runs in {:?}",
        start.elapsed()
    );
    assert!(all.before_commit() >= 1, "no kill landed before the commit");
    assert!(all.committed >= 1, "no kill landed after the commit");
}

/// `delay:outcome` pairs, outcome as U(ntouched), R(olled back), C(ommitted), F(inished).
fn show(points: &[(Duration, Landed)]) -> String {
    points
        .iter()
        .map(|(d, l)| {
            let c = match l {
                Landed::Untouched => 'U',
                Landed::RolledBack => 'R',
                Landed::Committed => 'C',
                Landed::Finished => 'F',
            };
            format!("{}ms:{c}", d.as_millis())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn merge(mut a: Tally, b: &Tally) -> Tally {
    a.finished += b.finished;
    a.untouched += b.untouched;
    a.rolled_back += b.rolled_back;
    a.committed += b.committed;
    a
}
