//! Faults a migration must survive: a process killed (SIGKILL) at any
//! instant while it migrates, a disk that fills up mid-migration, files that
//! are not databases, read-only databases, 32 processes × 16 threads
//! migrating one file at once, and a parent-table rebuild that must not
//! cascade into its children.
//!
//! The tests that need other processes spawn copies of this test binary that
//! run only one of the `child_*` tests below: ignored tests, which fail when
//! they are run without the environment variables their parent sets.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Error, LEDGER_TABLE, Migration, Migrations, SharedDb, ledger, migrate};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tempfile::TempDir;

use crate::support::child::{self, ChildEnv, Outcome, Running, child_test};
use crate::support::{
    COUNT_EXEC, DEADLINE, assert_migrated_once, column, count, counting_set, files_in, noise,
    poll_until, pragma, query_one, register_counter, rows_of, schema_objects, snapshot,
    sqlite_code,
};

// ---------------------------------------------------------------------------
// 1. SIGKILL at any instant
// ---------------------------------------------------------------------------

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
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Rollback => "rollback",
            Mode::RollbackSpill => "rollback-spill",
            Mode::Wal => "wal",
        }
    }
}

/// Runs only in a child process: opens its connection, says it is ready,
/// waits for the start file, migrates, says it has migrated, and lingers.
#[test]
#[ignore = "run as a child process by faults::sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes"]
fn child_migrates_until_killed() {
    let env = ChildEnv::of(
        "faults::sigkill_at_any_instant_leaves_nothing_or_everything_and_the_next_run_completes",
    );
    let db = env.path(KILL_DB);
    let signals = env.path(KILL_SIGNALS);
    let mode = env.var(KILL_MODE);
    let set = heavy_set();
    let mut conn = Connection::open(&db).expect("open the database");
    if mode == Mode::Rollback.name() {
        conn.execute_batch("PRAGMA cache_size = -262144")
            .expect("grow the page cache");
    }
    child::ready_then_wait(&signals.join("ready"), &signals.join("go"));
    let report = migrate(&mut conn, &set).expect("migrate");
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

fn len_of(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Table names other than SQLite's own and the ledger, sorted.
fn user_tables(conn: &Connection) -> Vec<String> {
    schema_objects(conn)
        .into_iter()
        .filter(|(kind, name)| kind == "table" && name != LEDGER_TABLE)
        .map(|(_, name)| name)
        .collect()
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
    let tmp = TempDir::new().expect("create a temp dir");
    let db = tmp.path().join("killed.db");
    let signals = tmp.path().join("signals");
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
        Mode::Rollback | Mode::RollbackSpill => len_of(&db) > 0,
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
    let [t_rollback, t_spill, t_wal] =
        [Mode::Rollback, Mode::RollbackSpill, Mode::Wal].map(|mode| {
            let r = run(mode, Kill::Never, None);
            assert_eq!(r.landed, Landed::Finished);
            r.elapsed
        });
    eprintln!(
        "calibration (start to exit, {LINGER:?} of it lingering after migrate): rollback {t_rollback:?}, spill {t_spill:?}, wal {t_wal:?}"
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

    // Pages spilled before the commit, and the WAL.
    for (mode, t) in [(Mode::RollbackSpill, t_spill), (Mode::Wal, t_wal)] {
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

// ---------------------------------------------------------------------------
// 2. Disk full mid-migration
// ---------------------------------------------------------------------------

/// Two migrations a database has applied, with user rows, and a third that
/// writes far more than the space left.
fn small_then_big() -> (Migrations, Migrations) {
    let full = Migrations::new(vec![
        Migration::new(
            1,
            "create_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        ),
        Migration::new(
            2,
            "create_posts",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);",
        ),
        Migration::new(
            3,
            "fill_archive",
            "CREATE TABLE archive (id INTEGER PRIMARY KEY, blob BLOB NOT NULL);
             WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 2000)
             INSERT INTO archive (blob) SELECT randomblob(500) FROM seq;
             CREATE INDEX archive_by_blob ON archive(blob);",
        ),
    ])
    .unwrap();
    let first_two = Migrations::new(full.iter().take(2).cloned().collect()).unwrap();
    (first_two, full)
}

/// A file database at version 2 of [`small_then_big`] with user rows.
fn at_version_two(dir: &Path) -> PathBuf {
    let path = dir.join("at-version-2.db");
    let (first_two, _) = small_then_big();
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &first_two).unwrap();
    conn.execute_batch(
        "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace');
         INSERT INTO posts (user_id, body) VALUES (1, 'hello'), (2, 'world');",
    )
    .unwrap();
    path
}

/// Limits `conn`'s database to its current size plus `extra` pages. The
/// limit belongs to this connection only.
fn limit_pages(conn: &Connection, extra: i64) {
    let pages: i64 = pragma(conn, "page_count");
    let set: i64 = pragma(conn, &format!("max_page_count = {}", pages + extra));
    assert_eq!(set, pages + extra);
}

#[test]
fn a_disk_that_fills_up_mid_migration_is_a_transient_sql_error_and_changes_nothing() {
    let tmp = TempDir::new().unwrap();
    let path = at_version_two(tmp.path());
    let (_, full) = small_then_big();
    let before = snapshot(&path);
    let files_before = files_in(tmp.path());

    let mut conn = Connection::open(&path).unwrap();
    limit_pages(&conn, 4);
    let err = migrate(&mut conn, &full).unwrap_err();
    eprintln!("disk full: {err}");
    match &err {
        Error::Sql {
            version: 3,
            name,
            index: 2,
            statement,
            source,
            ..
        } => {
            assert_eq!(name, "fill_archive");
            assert!(statement.contains("INSERT INTO archive"), "{statement}");
            assert_eq!(sqlite_code(source), Some(ErrorCode::DiskFull), "{source:?}");
        }
        other => panic!("expected Error::Sql for migration 3, statement 2: {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("migration 3 (fill_archive)")
            && text.contains("database or disk is full")
            && text.contains("INSERT INTO archive"),
        "{text}"
    );
    assert!(err.is_transient(), "a full disk may pass on a retry");
    drop(conn);
    assert_eq!(snapshot(&path), before, "the database must be as it was");
    assert_eq!(files_in(tmp.path()), files_before, "not a byte written");

    // Room again: the same call succeeds and keeps every row.
    let mut conn = Connection::open(&path).unwrap();
    assert_eq!(migrate(&mut conn, &full).unwrap().applied_versions(), [3]);
    assert_eq!(
        rows_of(&conn, "SELECT id, name FROM users ORDER BY id").len(),
        2,
        "user rows survive"
    );
}

#[test]
fn a_full_disk_under_shared_db_is_not_remembered_and_the_next_open_migrates() {
    let tmp = TempDir::new().unwrap();
    let path = at_version_two(tmp.path());
    let (_, full) = small_then_big();
    let before = snapshot(&path);

    // The hook limits only connections to the file, not the private
    // in-memory one on which SharedDb learns the expected schema.
    let err = SharedDb::builder(&path)
        .on_connect(|c| {
            if c.path().is_some_and(|p| !p.is_empty()) {
                c.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))
                    .and_then(|pages| {
                        c.query_row(&format!("PRAGMA max_page_count = {}", pages + 4), [], |r| {
                            r.get::<_, i64>(0)
                        })
                    })?;
            }
            Ok(())
        })
        .open(&full)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { version: 3, source, .. } if sqlite_code(source) == Some(ErrorCode::DiskFull)),
        "{err:?}"
    );
    assert_eq!(snapshot(&path), before);

    let db = SharedDb::open(&path, &full).expect("a transient failure is retried");
    let conn = db.connect().unwrap();
    assert_eq!(ledger(&conn).unwrap().len(), 3);
}

// ---------------------------------------------------------------------------
// 3. Files that are not databases
// ---------------------------------------------------------------------------

/// A migrated database truncated to one and a half pages.
fn truncated_database(dir: &Path) -> Vec<u8> {
    let path = dir.join("whole.db");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &small_then_big().1).unwrap();
    let page = usize::try_from(pragma::<i64>(&conn, "page_size")).unwrap();
    drop(conn);
    let mut bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 2 * page);
    bytes.truncate(page * 3 / 2);
    fs::remove_file(&path).unwrap();
    bytes
}

fn one_migration() -> Migrations {
    Migrations::new(vec![Migration::new(
        1,
        "create_users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
    )])
    .unwrap()
}

/// `migrate` on a connection to `path` and `SharedDb::open(path)` both fail
/// with `Error::Database` naming the path and SQLite's `code`, and neither
/// changes a byte in the directory.
fn assert_refused_untouched(dir: &Path, path: &Path, code: ErrorCode, message: &str) {
    let set = one_migration();
    let files_before = files_in(dir);

    let mut conn = Connection::open(path).expect("SQLite opens files lazily");
    let err = migrate(&mut conn, &set).unwrap_err();
    eprintln!("migrate: {err}");
    match &err {
        Error::Database {
            path: Some(p),
            source,
            ..
        } => {
            assert_eq!(p, path);
            assert_eq!(sqlite_code(source), Some(code), "{source:?}");
        }
        other => panic!("expected Error::Database: {other:?}"),
    }
    assert!(!err.is_transient(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains(message),
        "{text}"
    );
    drop(conn);
    assert_eq!(files_in(dir), files_before, "migrate changed a file");

    let err = SharedDb::open(path, &set).unwrap_err();
    eprintln!("SharedDb::open: {err}");
    assert!(
        matches!(&err, Error::Database { path: Some(p), source, .. }
            if p == path && sqlite_code(source) == Some(code)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(dir), files_before, "SharedDb::open changed a file");
}

#[test]
fn random_bytes_are_not_a_database_and_stay_as_they_were() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("random.db");
    // 8 KiB from a fixed xorshift sequence: not a SQLite header.
    fs::write(&path, noise(8192)).unwrap();
    assert_refused_untouched(
        tmp.path(),
        &path,
        ErrorCode::NotADatabase,
        "file is not a database",
    );
}

#[test]
fn a_truncated_database_is_malformed_and_stays_as_it_was() {
    let tmp = TempDir::new().unwrap();
    let bytes = truncated_database(tmp.path());
    let path = tmp.path().join("truncated.db");
    fs::write(&path, bytes).unwrap();
    assert_refused_untouched(
        tmp.path(),
        &path,
        ErrorCode::DatabaseCorrupt,
        "database disk image is malformed",
    );
}

#[test]
fn a_directory_where_the_database_should_be_cannot_be_opened_and_is_left_alone() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("a directory.db");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("keep"), b"kept").unwrap();
    let set = one_migration();
    let files_before = files_in(tmp.path());

    // A connection cannot even be opened, so `migrate` is never reached.
    let err = Connection::open(&path).unwrap_err();
    assert_eq!(sqlite_code(&err), Some(ErrorCode::CannotOpen), "{err:?}");

    let err = SharedDb::open(&path, &set).unwrap_err();
    eprintln!("SharedDb::open on a directory: {err}");
    match &err {
        Error::Database {
            context,
            path: Some(p),
            source,
        } => {
            assert_eq!(*context, "open the database");
            assert_eq!(p, &path);
            assert_eq!(sqlite_code(source), Some(ErrorCode::CannotOpen));
        }
        other => panic!("expected Error::Database: {other:?}"),
    }
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(files_in(tmp.path()), files_before);
    assert_eq!(fs::read(path.join("keep")).unwrap(), b"kept");
}

#[test]
fn a_zero_length_file_is_an_empty_database_and_is_migrated() {
    let tmp = TempDir::new().unwrap();
    let set = one_migration();
    for (i, via_shared) in [false, true].into_iter().enumerate() {
        let path = tmp.path().join(format!("touched-{i}.db"));
        fs::File::create(&path).unwrap();
        assert_eq!(len_of(&path), 0);
        if via_shared {
            SharedDb::open(&path, &set).unwrap();
        } else {
            let mut conn = Connection::open(&path).unwrap();
            assert_eq!(migrate(&mut conn, &set).unwrap().applied_versions(), [1]);
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(ledger(&conn).unwrap().len(), 1);
        assert_eq!(user_tables(&conn), ["users"]);
    }
}

// ---------------------------------------------------------------------------
// 4. Read-only databases
// ---------------------------------------------------------------------------

/// The ways to open a read-only connection: by flags and by URI.
fn read_only(path: &Path) -> [(&'static str, Connection); 2] {
    let flags = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open read-only by flags");
    let uri = Connection::open(format!("file:{}?mode=ro", path.display()))
        .expect("open read-only by URI");
    [("flags", flags), ("uri", uri)]
}

#[test]
fn a_fresh_read_only_database_is_refused_and_nothing_is_written() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("ro.db");
    fs::File::create(&path).unwrap();
    let set = one_migration();
    let files_before = files_in(tmp.path());
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &set).unwrap_err();
        eprintln!("read-only ({how}), fresh: {err}");
        match &err {
            Error::Database {
                path: Some(p),
                source,
                ..
            } => {
                assert_eq!(p, &path, "{how}");
                assert_eq!(sqlite_code(source), Some(ErrorCode::ReadOnly), "{how}");
            }
            other => panic!("{how}: expected Error::Database: {other:?}"),
        }
        assert!(
            err.to_string()
                .contains("attempt to write a readonly database"),
            "{how}: {err}"
        );
        assert!(!err.is_transient(), "{how}");
        drop(conn);
        assert_eq!(files_in(tmp.path()), files_before, "{how}: nothing written");
    }
}

/// A database at version 2 of [`small_then_big`] with migration 3 pending.
fn partially_migrated(dir: &Path) -> (PathBuf, Migrations) {
    (at_version_two(dir), small_then_big().1)
}

#[test]
fn a_partially_migrated_read_only_database_is_refused_and_nothing_is_written() {
    let tmp = TempDir::new().unwrap();
    let (path, full) = partially_migrated(tmp.path());
    let before = snapshot(&path);
    let files_before = files_in(tmp.path());
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &full).unwrap_err();
        eprintln!("read-only ({how}), partially migrated: {err}");
        let source = match &err {
            Error::Database { source, .. } | Error::Sql { source, .. } => source,
            other => panic!("{how}: expected a SQLite error: {other:?}"),
        };
        assert_eq!(
            sqlite_code(source),
            Some(ErrorCode::ReadOnly),
            "{how}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("attempt to write a readonly database"),
            "{how}: {err}"
        );
        assert!(!err.is_transient(), "{how}");
        drop(conn);
        assert_eq!(files_in(tmp.path()), files_before, "{how}: nothing written");
    }
    assert_eq!(snapshot(&path), before);
}

#[test]
fn a_partially_migrated_read_only_database_is_a_database_error_not_a_migration_error() {
    let tmp = TempDir::new().unwrap();
    let (path, full) = partially_migrated(tmp.path());
    for (how, mut conn) in read_only(&path) {
        let err = migrate(&mut conn, &full).unwrap_err();
        assert!(
            matches!(&err, Error::Database { path: Some(p), source, .. }
                if *p == path && sqlite_code(source) == Some(ErrorCode::ReadOnly)),
            "{how}: a read-only database is not a fault of migration 3's SQL: {err:?}"
        );
    }
}

#[test]
fn a_fully_migrated_read_only_database_needs_no_write_and_passes() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("done.db");
    let set = one_migration();
    migrate(&mut Connection::open(&path).unwrap(), &set).unwrap();
    let files_before = files_in(tmp.path());
    for (how, mut conn) in read_only(&path) {
        let report = migrate(&mut conn, &set).unwrap_or_else(|e| panic!("{how}: {e}"));
        assert!(report.applied.is_empty(), "{how}");
        assert_eq!(report.already_applied, 1, "{how}");
    }
    assert_eq!(files_in(tmp.path()), files_before);
}

// ---------------------------------------------------------------------------
// 5. 32 processes × 16 threads on one fresh file
// ---------------------------------------------------------------------------

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
#[ignore = "run as a child process by faults::thirty_two_processes_of_sixteen_threads_migrate_one_file_exactly_once"]
fn child_threads_race() {
    let env = ChildEnv::of(
        "faults::thirty_two_processes_of_sixteen_threads_migrate_one_file_exactly_once",
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
    let tmp = TempDir::new().unwrap();
    let db = tmp.path().join("race.db");
    let ready = tmp.path().join("ready");
    fs::create_dir(&ready).unwrap();
    let go = tmp.path().join("go");

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

// ---------------------------------------------------------------------------
// 6. Data that must survive: rebuilding a parent table
// ---------------------------------------------------------------------------

const AUTHORS: i64 = 500;
const BOOKS_PER_AUTHOR: i64 = 10;
const REVIEWS_PER_BOOK: i64 = 3;

/// `authors` ← `books` (ON DELETE CASCADE) ← `reviews` (ON DELETE CASCADE),
/// and `profiles` (ON DELETE SET NULL) also referring to `authors`.
fn library_schema() -> Vec<Migration> {
    vec![
        Migration::new(
            1,
            "create_authors",
            "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
        ),
        Migration::new(
            2,
            "create_books_and_reviews",
            "CREATE TABLE books (
                 id INTEGER PRIMARY KEY,
                 author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
                 title TEXT NOT NULL
             );
             CREATE INDEX books_by_author ON books(author_id);
             CREATE TABLE reviews (
                 id INTEGER PRIMARY KEY,
                 book_id INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
                 stars INTEGER NOT NULL
             );
             CREATE INDEX reviews_by_book ON reviews(book_id);
             CREATE TABLE profiles (
                 id INTEGER PRIMARY KEY,
                 author_id INTEGER REFERENCES authors(id) ON DELETE SET NULL,
                 bio TEXT
             );
             CREATE INDEX profiles_by_author ON profiles(author_id);",
        ),
    ]
}

/// The rebuild SQLite's documentation prescribes for a change ALTER TABLE
/// cannot make: create the new table, copy, drop the old, rename the new.
const REBUILD_AUTHORS: &str = "CREATE TABLE authors_new (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         email TEXT NOT NULL DEFAULT ''
     );
     INSERT INTO authors_new (id, name) SELECT id, name FROM authors;
     DROP TABLE authors;
     ALTER TABLE authors_new RENAME TO authors;";

fn library_with_rebuild() -> Migrations {
    let mut list = library_schema();
    list.push(Migration::new(3, "rebuild_authors", REBUILD_AUTHORS));
    Migrations::new(list).unwrap()
}

/// A library at version 2 with many rows in every table, written with
/// foreign keys enforced.
fn filled_library(path: &Path) {
    let mut conn = Connection::open(path).unwrap();
    migrate(&mut conn, &Migrations::new(library_schema()).unwrap()).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         BEGIN;
         WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < {AUTHORS})
             INSERT INTO authors (id, name) SELECT i, 'author ' || i FROM a;
         WITH RECURSIVE b(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM b WHERE i < {AUTHORS} * {BOOKS_PER_AUTHOR})
             INSERT INTO books (id, author_id, title)
             SELECT i, (i - 1) / {BOOKS_PER_AUTHOR} + 1, 'book ' || i FROM b;
         WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r
                                 WHERE i < {AUTHORS} * {BOOKS_PER_AUTHOR} * {REVIEWS_PER_BOOK})
             INSERT INTO reviews (id, book_id, stars)
             SELECT i, (i - 1) / {REVIEWS_PER_BOOK} + 1, i % 5 + 1 FROM r;
         INSERT INTO profiles (author_id, bio) SELECT id, 'bio of ' || name FROM authors;
         COMMIT;"
    ))
    .unwrap();
}

fn child_rows(conn: &Connection) -> Vec<Vec<Vec<Value>>> {
    ["books", "reviews", "profiles"]
        .iter()
        .map(|t| rows_of(conn, &format!("SELECT * FROM {t} ORDER BY id")))
        .collect()
}

#[test]
fn rebuilding_a_parent_table_keeps_every_child_and_grandchild_row() {
    let tmp = TempDir::new().unwrap();
    let set = library_with_rebuild();
    for via_shared in [false, true] {
        let path = tmp.path().join(format!("library-{via_shared}.db"));
        filled_library(&path);
        let before = {
            let conn = Connection::open(&path).unwrap();
            child_rows(&conn)
        };
        let books = usize::try_from(AUTHORS * BOOKS_PER_AUTHOR).unwrap();
        let reviews = books * usize::try_from(REVIEWS_PER_BOOK).unwrap();
        assert_eq!(
            before.iter().map(Vec::len).collect::<Vec<_>>(),
            [books, reviews, usize::try_from(AUTHORS).unwrap()]
        );

        let conn = if via_shared {
            SharedDb::open(&path, &set).unwrap().connect().unwrap()
        } else {
            let mut conn = Connection::open(&path).unwrap();
            // The bundled SQLite enforces foreign keys by default; be explicit.
            conn.pragma_update(None, "foreign_keys", true).unwrap();
            assert_eq!(migrate(&mut conn, &set).unwrap().applied_versions(), [3]);
            conn
        };
        let what = if via_shared {
            "SharedDb::open"
        } else {
            "migrate"
        };
        assert_eq!(
            child_rows(&conn),
            before,
            "{what}: child rows must survive the rebuild"
        );
        assert_eq!(
            rows_of(&conn, "SELECT count(*) FROM authors WHERE email = ''"),
            [[Value::Integer(AUTHORS)]],
            "{what}"
        );
        assert!(
            rows_of(&conn, "PRAGMA foreign_key_check").is_empty(),
            "{what}"
        );
        assert_eq!(
            rows_of(&conn, "PRAGMA foreign_keys"),
            [[Value::Integer(1)]],
            "{what}: foreign keys are on again afterwards"
        );
        // The references still work: deleting an author cascades now.
        conn.execute("DELETE FROM authors WHERE id = 1", [])
            .unwrap();
        let left: i64 = query_one(&conn, "SELECT count(*) FROM books WHERE author_id = 1");
        assert_eq!(
            left, 0,
            "{what}: ON DELETE CASCADE still applies after the rebuild"
        );
    }
}

/// Proves the test above can fail: the same SQL run by hand with foreign
/// keys enforced deletes every child row and nulls every profile.
#[test]
fn the_same_rebuild_run_by_hand_with_foreign_keys_on_destroys_the_children() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("by-hand.db");
    filled_library(&path);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.execute_batch(&format!("BEGIN; {REBUILD_AUTHORS} COMMIT;"))
        .unwrap();
    assert_eq!(
        rows_of(
            &conn,
            "SELECT (SELECT count(*) FROM books), (SELECT count(*) FROM reviews), (SELECT count(author_id) FROM profiles)"
        ),
        [[Value::Integer(0), Value::Integer(0), Value::Integer(0)]]
    );
}

#[test]
fn a_migration_that_leaves_a_real_violation_names_the_row_and_rolls_everything_back() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("violation.db");
    filled_library(&path);
    let mut list = library_with_rebuild().iter().cloned().collect::<Vec<_>>();
    list.push(Migration::new(
        4,
        "orphan_a_review",
        "INSERT INTO reviews (id, book_id, stars) VALUES (900001, 424242, 5);",
    ));
    let set = Migrations::new(list).unwrap();
    let before = snapshot(&path);

    let mut conn = Connection::open(&path).unwrap();
    let err = migrate(&mut conn, &set).unwrap_err();
    eprintln!("foreign-key violation: {err}");
    match &err {
        Error::ForeignKeyViolation {
            table,
            rowid,
            parent,
            count,
        } => {
            assert_eq!(
                (table.as_str(), *rowid, parent.as_str(), *count),
                ("reviews", Some(900_001), "books", 1)
            );
        }
        other => panic!("expected Error::ForeignKeyViolation: {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("row 900001 of table reviews") && text.contains("nothing was applied"),
        "{text}"
    );
    assert!(!err.is_transient());
    assert_eq!(rows_of(&conn, "PRAGMA foreign_keys"), [[Value::Integer(1)]]);
    drop(conn);
    assert_eq!(
        snapshot(&path),
        before,
        "migrations 3 and 4 both rolled back"
    );
}
