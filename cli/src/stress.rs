//! `migrate-once stress`: hammers a migration set the way parallel test
//! suites and CI loops do, and fails if anything goes wrong.
//!
//! Four scenarios, each checked, not just run:
//!
//! 1. **per-test databases**: T threads make N `TestDb`s (alternately in
//!    memory and as files); each must hold the full ledger and schema.
//! 2. **one shared database**: R rounds; each round T threads open one fresh
//!    file at once, half with `SharedDb::open`, half with `migrate` on their
//!    own connection. Exactly one caller per round may apply the set.
//! 3. **racing processes**: R rounds of P child processes released together
//!    on one fresh file. Exactly one may apply the set.
//! 4. **SIGKILL mid-migration**: K children are killed at spread instants
//!    while migrating (a progress handler stretches the migration); the file
//!    must be at a complete version (ledger empty or full, integrity ok) and
//!    the next `SharedDb::open` must finish the job.
//!
//! Exit status 1 if any operation failed or any migration ran more or fewer
//! times than expected.
//!
//! With `--database-url URL` or `--postgres` the set is Postgres's, and
//! the last three scenarios run on that server instead (`postgres`
//! below): each round migrates a new database, and a counter appended to
//! each migration counts the bodies that ran, committed or not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use migrate_once::{Error, Migrations, SharedDb, TestDb, migrate};
use rusqlite::Connection;

use crate::args::{self, Args, Usage};
use crate::out::{errln, outln};
use crate::progress::Progress;

#[cfg(feature = "postgres")]
#[path = "stress_pg.rs"]
mod postgres;

/// The hidden first argument of the children the stress run spawns (itself).
pub const CHILD: &str = "__stress-child";

pub const HELP: &str = "\
migrate-once stress [DIR] [options]

Hammers the migration set in DIR (default: `migrations`) the way parallel test
suites and CI loops do, checks what happened, and prints a table. Four scenarios:

  per-test dbs     T threads make N TestDbs (in memory and files alternately); each
                   must hold the whole ledger
  shared db        R rounds of T threads opening one fresh file at once (SharedDb::open
                   and migrate); exactly one may apply the set
  processes        R rounds of P processes released together on one fresh file;
                   exactly one may apply the set
  SIGKILL          K processes killed at spread instants while migrating; the file must
                   be whole (nothing or everything) and the next open must finish the job

On Postgres (--database-url URL, or --postgres for a throwaway server), the
last three, each round on a new database of the server (dropped after it):

  shared db        R rounds of T threads, each with its own connection, released
                   together on an empty database (SharedDb::open and migrate)
  processes        R rounds of P processes released together on an empty database
  SIGKILL          K processes killed at instants spread over a run; the database
                   must be untouched (no relation at all) or complete, and the next
                   SharedDb::open must finish the job

  Exactly once is counted twice over: by the crate's ledger, and by a counter
  appended to a copy of each migration (an INSERT into a table and a nextval of
  a sequence in a schema migrate_once_stress the run adds to each database).
  The table counts what committed, the sequence every body that started, rolled
  back or not: in the first two scenarios both must be one per migration.
  Per-test databases are SQLite's (no row, and no --iterations, on Postgres).

Options:
  --threads T          threads in the shared-db scenario (and per-test dbs:
                       default 8)
  --iterations N       TestDbs made (default 20000)
  --rounds R           rounds of the shared and the process scenarios (default
                       100)
  --processes P        processes per round (default 8)
  --kills K            processes killed (default 40)
  --quick              a short run: N 400, R 8, P 4, K 8 (what CI runs)
  --database-url URL   on the Postgres server at URL (postgres://… or
                       key=value …); its role must be allowed to create
                       databases. DATABASE_URL is not read in its place
  --postgres           on a throwaway Postgres server started for the run from
                       initdb (on PATH, through pg_config, or under
                       /usr/lib/postgresql), stopped and removed at exit
  --no-progress        no progress bar (there is none unless stderr is a
                       terminal)
  -h, --help           this text

Without --database-url or --postgres it runs on SQLite and needs no server.

Exit status: 0 no error and every migration ran exactly as often as expected;
1 anything else (including a set that cannot be loaded, or no Postgres server).
";

/// The stress run's settings.
struct Options {
    migrations: PathBuf,
    threads: usize,
    iterations: usize,
    rounds: usize,
    processes: usize,
    kills: usize,
    progress: bool,
    /// Postgres: `Some(None)` for `--postgres` (a throwaway server),
    /// `Some(Some(url))` for `--database-url`. (Always `None` in a build
    /// without Postgres, which refuses both.)
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    postgres: Option<Option<String>>,
}

impl Options {
    fn from(args: &Args) -> Result<Options, Usage> {
        args.only(&[
            "--threads",
            "--iterations",
            "--rounds",
            "--processes",
            "--kills",
            "--quick",
            "--no-progress",
            "--database-url",
            "--postgres",
        ])?;
        let quick = args.flag("--quick");
        let url = args::database_url(args)?;
        let postgres = match (url, args.flag("--postgres")) {
            (Some(_), true) => {
                return Err(Usage(
                    "--database-url and --postgres name two servers; give one".into(),
                ));
            }
            (Some(url), false) => Some(Some(url.to_string())),
            (None, true) if !cfg!(feature = "postgres") => {
                return Err(Usage(
                    "this migrate-once was built without Postgres: --postgres needs the \
                     `postgres` feature (cargo install --locked --path cli --features postgres)"
                        .into(),
                ));
            }
            (None, true) => Some(None),
            (None, false) => None,
        };
        if postgres.is_some() && args.value("--iterations").is_some() {
            return Err(Usage(
                "--iterations is the per-test databases scenario's, which is SQLite's; \
                 not with Postgres"
                    .into(),
            ));
        }
        Ok(Options {
            migrations: args.dir(0)?,
            threads: args.number("--threads", 8)?,
            iterations: args.number("--iterations", if quick { 400 } else { 20_000 })?,
            rounds: args.number("--rounds", if quick { 8 } else { 100 })?,
            processes: args.number("--processes", if quick { 4 } else { 8 })?,
            kills: args.number("--kills", if quick { 8 } else { 40 })?,
            progress: !args.flag("--no-progress"),
            postgres,
        })
    }
}

/// The kinds of failure this run has printed whole: each is printed once,
/// however many operations it failed, and the table counts them.
static PRINTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// At most this many different failures are printed whole; the table
/// counts every one.
const PRINTED_KINDS: usize = 5;

/// The run's working directory: a database in it is named "a database of
/// this run" in a failure's summary, so that one failure on 100 databases
/// is counted as one kind.
static WORK: OnceLock<PathBuf> = OnceLock::new();

/// One failure as the run reports it: a summary to count it under, whole
/// (never cut short), and the full text, printed the first time.
struct Failure {
    kind: String,
    whole: String,
}

impl Failure {
    /// A message of the run's own (a miscount, a leftover file).
    fn says(text: impl Into<String>) -> Failure {
        let text = scrub(&text.into());
        Failure {
            kind: text.clone(),
            whole: text,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            kind: summary(&e),
            whole: scrub(&format!("{e:?}")),
        }
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::says(e.to_string())
    }
}

/// What a failure is, on one line: for a failed migration, its file, the
/// line and column, and SQLite's message; for anything else, the first
/// line of the message. Databases of this run are not named, so that the
/// same failure on every database of a scenario is one kind.
fn summary(e: &Error) -> String {
    match e {
        Error::Sql {
            version,
            name,
            origin,
            index,
            line,
            column,
            source,
            ..
        } => {
            let at = column.map_or_else(
                || format!("statement {index} (line {line})"),
                |c| format!("line {line}, column {c} (statement {index})"),
            );
            format!("migration {version} ({name}) in {origin} failed at {at}: {source}")
        }
        other => scrub(other.to_string().lines().next().unwrap_or("")),
    }
}

/// `text` with every path in the run's working directory, and every
/// Postgres database the run made (`migrate_once_` and a uuid), replaced
/// by "a database of this run".
fn scrub(text: &str) -> String {
    let text: &str = &scrub_pg_names(text);
    let Some(work) = WORK.get().map(|w| w.display().to_string()) else {
        return text.to_string();
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&work) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ';' | ')' | ',' | ':'))
            .unwrap_or(tail.len());
        out.push_str("a database of this run");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `text` with each `migrate_once_<32 hex digits>` (a database
/// `TestServer::create_database` made) replaced by "a database of this run",
/// and each schema of a Postgres run (`migrate_once_stress_…`, one per
/// round) by "a schema of this run".
fn scrub_pg_names(text: &str) -> String {
    const SCHEMA: &str = "migrate_once_stress_";
    let mut text = text.to_string();
    while let Some(at) = text.find(SCHEMA) {
        let end = text[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |e| at + e);
        text.replace_range(at..end, "a schema of this run");
    }
    let text = text.as_str();
    const PREFIX: &str = "migrate_once_";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let tail = &rest[at + PREFIX.len()..];
        let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 32 {
            out.push_str(&rest[..at]);
            out.push_str("a database of this run");
            rest = &tail[32..];
        } else {
            out.push_str(&rest[..at + PREFIX.len()]);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// What one scenario saw.
#[derive(Default)]
struct Tally {
    ops: usize,
    errors: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    executed: usize,
    expected: usize,
    /// Whether the scenario clones (and so executes no migration itself).
    clones: bool,
    notes: Vec<String>,
}

impl Tally {
    /// Counts a failure under its kind, and prints it whole the first time
    /// this run sees that kind.
    fn fail(&mut self, failure: impl Into<Failure>) {
        let Failure { kind, whole } = failure.into();
        let mut printed = PRINTED.lock().unwrap_or_else(|p| p.into_inner());
        if !printed.contains(&kind) {
            if printed.len() < PRINTED_KINDS {
                errln!("error: {whole}\n");
            } else if printed.len() == PRINTED_KINDS {
                errln!("(further kinds of error are only counted in the table)\n");
            }
            printed.insert(kind.clone());
        }
        drop(printed);
        *self.errors.entry(kind).or_default() += 1;
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }

    fn ok(&self) -> bool {
        self.errors.is_empty() && self.executed == self.expected
    }
}

fn ledger_len(path: &Path) -> rusqlite::Result<usize> {
    let conn = Connection::open(path)?;
    Ok(migrate_once::ledger(&conn).map_or(0, |l| l.len()))
}

fn bar(args: &Options, len: usize, label: &str) -> Progress {
    Progress::new(len, label, args.progress)
}

/// Scenario 1: per-test databases from T threads.
fn per_test(args: &Options, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args, args.iterations, "per-test dbs");
    let tally = Mutex::new(Tally::default());
    let next = AtomicUsize::new(0);
    let barrier = Barrier::new(args.threads);
    std::thread::scope(|s| {
        for _ in 0..args.threads {
            s.spawn(|| {
                barrier.wait();
                let mut local = Tally::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.iterations {
                        break;
                    }
                    let started = Instant::now();
                    let db = if i.is_multiple_of(2) {
                        TestDb::in_memory(set)
                    } else {
                        TestDb::builder(set).dir(work).file()
                    };
                    let rows = db.and_then(|db| {
                        let conn = db.connect()?;
                        let n = migrate_once::ledger(&conn)?.len();
                        db.close()?;
                        Ok(n)
                    });
                    local.latencies.push(started.elapsed());
                    local.ops += 1;
                    match rows {
                        Ok(n) if n == set.len() => {}
                        Ok(n) => local.fail(Failure::says(format!(
                            "clone has {n} ledger rows, want {}",
                            set.len()
                        ))),
                        Err(e) => local.fail(e),
                    }
                    pb.inc();
                }
                let mut t = tally.lock().unwrap();
                t.ops += local.ops;
                t.latencies.extend(local.latencies);
                for (k, v) in local.errors {
                    *t.errors.entry(k).or_default() += v;
                }
            });
        }
    });
    pb.finish();
    let mut t = tally.into_inner().unwrap();
    // Template builds: at most one per process, and none if it was cached.
    t.clones = true;
    t.notes.push(
        match migrate_once::Template::for_set(set) {
            Ok(tpl) if tpl.built_by_this_process() => "template built once by this run",
            Ok(_) => "template read from the cache (built by an earlier run)",
            // The error itself was printed, and is counted in the row.
            Err(_) => "no template: the set failed while its template was built",
        }
        .to_string(),
    );
    let left = std::fs::read_dir(work).map_or(0, |d| d.count());
    if left != 0 {
        t.fail(Failure::says(format!(
            "{left} files left behind in the TestDb directory"
        )));
    }
    t
}

/// Scenario 2: one fresh shared file per round, opened from T threads at once.
fn shared(args: &Options, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args, args.rounds, "shared db");
    let mut t = Tally::default();
    for round in 0..args.rounds {
        let path = work.join(format!("shared-{round}.sqlite"));
        Connection::open(&path).expect("create the file");
        let barrier = Barrier::new(args.threads);
        let results: Vec<(Duration, Result<usize, Error>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..args.threads)
                .map(|i| {
                    let (barrier, path) = (&barrier, &path);
                    s.spawn(move || {
                        let mut conn = Connection::open(path).expect("open");
                        barrier.wait();
                        let started = Instant::now();
                        let applied = if i % 2 == 0 {
                            SharedDb::open(path, set)
                                .map(|db| db.report().map_or(0, |r| r.applied.len()))
                        } else {
                            migrate(&mut conn, set).map(|r| r.applied.len())
                        };
                        (started.elapsed(), applied)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        for (took, r) in results {
            t.ops += 1;
            t.latencies.push(took);
            match r {
                Ok(n) => t.executed += n,
                Err(e) => t.fail(e),
            }
        }
        t.expected += set.len();
        match ledger_len(&path) {
            Ok(n) if n == set.len() => {}
            Ok(n) => t.fail(Failure::says(format!(
                "ledger has {n} rows, want {}",
                set.len()
            ))),
            Err(e) => t.fail(e),
        }
        pb.inc();
    }
    pb.finish();
    t
}

fn spawn_child(mode: &str, db: &Path, signal: &Path, set_dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("own path"))
        .args([CHILD, mode])
        .arg(db)
        .arg(signal)
        .arg(set_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a child")
}

/// Scenario 3: P processes racing on one fresh file, R rounds.
fn processes(args: &Options, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args, args.rounds, "racing processes");
    let mut t = Tally::default();
    for round in 0..args.rounds {
        let db = work.join(format!("race-{round}.sqlite"));
        let go = work.join(format!("race-{round}.go"));
        let started = Instant::now();
        let children: Vec<_> = (0..args.processes)
            .map(|_| spawn_child("race", &db, &go, &args.migrations))
            .collect();
        std::fs::write(&go, b"go").expect("release the children");
        for child in children {
            t.ops += 1;
            let out = child.wait_with_output().expect("wait for a child");
            let text = String::from_utf8_lossy(&out.stdout);
            match text.lines().find_map(|l| l.strip_prefix("applied=")) {
                Some(n) if out.status.success() => {
                    t.executed += n.trim().parse::<usize>().unwrap_or(0)
                }
                _ => t.fail(child_failure(&text, out.status)),
            }
        }
        t.latencies.push(started.elapsed());
        t.expected += set.len();
        match ledger_len(&db) {
            Ok(n) if n == set.len() => {}
            Ok(n) => t.fail(Failure::says(format!(
                "ledger has {n} rows, want {}",
                set.len()
            ))),
            Err(e) => t.fail(e),
        }
        pb.inc();
    }
    pb.finish();
    t
}

/// Waits (at most 20 s) until `marker` exists; returns when it was seen.
fn wait_for(marker: &Path) -> Instant {
    let waiting = Instant::now();
    while !marker.exists() && waiting.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_micros(100));
    }
    Instant::now()
}

/// Scenario 4: SIGKILL a child mid-migration, then check and recover.
fn kills(args: &Options, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args, args.kills, "SIGKILL recovery");
    let mut t = Tally::default();
    let (mut before, mut after) = (0, 0);
    // One run to completion measures how long the stretched migration takes
    // from its first step, so the kills can be spread over all of it.
    let span = {
        let db = work.join("kill-timing.sqlite");
        let marker = work.join("kill-timing.inside");
        let child = spawn_child("kill", &db, &marker, &args.migrations);
        let started = wait_for(&marker);
        let _ = child.wait_with_output();
        started.elapsed()
    };
    for k in 0..args.kills {
        let db = work.join(format!("kill-{k}.sqlite"));
        let marker = work.join(format!("kill-{k}.inside"));
        let mut child = spawn_child("kill", &db, &marker, &args.migrations);
        wait_for(&marker);
        // Instants from the first step to a little past the commit.
        std::thread::sleep(span.mul_f64(1.2 * k as f64 / args.kills.max(2) as f64));
        let _ = child.kill();
        let _ = child.wait();
        t.ops += 1;
        let started = Instant::now();
        let check = || -> Result<(usize, usize), Failure> {
            let conn = Connection::open(&db)?;
            let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if ok != "ok" {
                return Err(Failure::says(format!("integrity_check: {ok}")));
            }
            let rows = migrate_once::ledger(&conn)?.len();
            if rows != 0 && rows != set.len() {
                return Err(Failure::says(format!(
                    "partial ledger after SIGKILL: {rows} of {}",
                    set.len()
                )));
            }
            drop(conn);
            let db = SharedDb::open(&db, set)?;
            let applied = db.report().map_or(0, |r| r.applied.len());
            let full = migrate_once::ledger(&db.connect()?)?.len();
            if full != set.len() {
                return Err(Failure::says(format!(
                    "recovery left {full} of {} ledger rows",
                    set.len()
                )));
            }
            Ok((rows, applied))
        };
        match check() {
            Ok((rows, applied)) => {
                if rows == 0 {
                    before += 1;
                } else {
                    after += 1;
                }
                // Killed before commit: recovery applies all; after: none.
                t.executed += applied + rows;
                t.expected += set.len();
            }
            Err(e) => t.fail(e),
        }
        t.latencies.push(started.elapsed());
        pb.inc();
    }
    pb.finish();
    t.notes.push(format!(
        "{before} kills landed before the commit (recovery migrated), {after} after (nothing to do)"
    ));
    t
}

/// What a child that failed reported: the summary it printed after
/// `error=` and the whole error on the lines after it, or, if it printed
/// none (it panicked, say), how it ended.
fn child_failure(stdout: &str, status: std::process::ExitStatus) -> Failure {
    match stdout.split_once("error=") {
        Some((_, reported)) => {
            let (kind, whole) = reported.split_once('\n').unwrap_or((reported, reported));
            Failure {
                kind: kind.trim().to_string(),
                whole: format!("in a racing process: {}", whole.trim()),
            }
        }
        None => Failure::says(format!(
            "a racing process ended with {status} and reported nothing"
        )),
    }
}

/// A child reports a failure as `error=<summary>` and the whole error on
/// the lines after it.
fn report_child_error(e: &Error) -> ExitCode {
    outln!("error={}\n{}", summary(e), scrub(&format!("{e:?}")));
    ExitCode::FAILURE
}

/// A child process: `__stress-child race|kill DB SIGNAL SET_DIR`.
pub fn child(raw: &[String]) -> ExitCode {
    let [mode, db, signal, set_dir] = raw else {
        errln!("migrate-once: {CHILD} takes: race|kill DB SIGNAL SET_DIR");
        return ExitCode::from(2);
    };
    let (db, signal, set_dir) = (Path::new(db), Path::new(signal), Path::new(set_dir));
    #[cfg(feature = "postgres")]
    if let Some(mode) = mode.strip_prefix("pg-") {
        return postgres::child(mode, signal, set_dir);
    }
    // The parent's working directory: `<work>/<scenario>/<db>`.
    if let Some(work) = db.parent().and_then(Path::parent) {
        let _ = WORK.set(work.to_path_buf());
    }
    let set = match Migrations::from_dir(set_dir) {
        Ok(s) => s,
        Err(e) => return report_child_error(&e),
    };
    let mut conn = Connection::open(db).expect("open the database");
    if mode.as_str() == "race" {
        while !signal.exists() {
            std::thread::sleep(Duration::from_micros(200));
        }
    } else {
        // Stretch the migration so the parent's SIGKILL lands inside it:
        // announce the first step, then sleep a little at every step.
        let signal = signal.to_path_buf();
        // Returns `()` up to rusqlite 0.37 and a `Result` since: either way
        // there is nothing to check.
        #[allow(clippy::let_unit_value)]
        let _ = conn.progress_handler(
            10,
            Some(move || {
                if !signal.exists() {
                    let _ = std::fs::write(&signal, b"inside");
                }
                std::thread::sleep(Duration::from_micros(500));
                false
            }),
        );
    }
    match migrate(&mut conn, &set) {
        Ok(r) => {
            outln!("applied={}", r.applied.len());
            ExitCode::SUCCESS
        }
        Err(e) => report_child_error(&e),
    }
}

/// `stress [DIR] [options]`.
pub fn run(args: &Args) -> Result<ExitCode, Usage> {
    let args = Options::from(args)?;
    let set = match args::load(&args.migrations) {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    let work = tempfile::tempdir().expect("a temp dir");
    let _ = WORK.set(work.path().to_path_buf());
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.postgres {
        return Ok(postgres::run(&args, url.as_deref(), &set, work.path()));
    }
    let dir = |name: &str| {
        let d = work.path().join(name);
        std::fs::create_dir(&d).expect("a work dir");
        d
    };
    outln!(
        "migrate-once stress: {} migrations from {} (set {}), {} threads, SQLite {}",
        set.len(),
        args.migrations.display(),
        &set.hash()[..12],
        args.threads,
        rusqlite::version()
    );
    let started = Instant::now();
    let results = [
        (
            format!("per-test dbs ({} x TestDb)", args.iterations),
            per_test(&args, &set, &dir("per-test")),
        ),
        (
            format!(
                "shared db ({} rounds x {} threads)",
                args.rounds, args.threads
            ),
            shared(&args, &set, &dir("shared")),
        ),
        (
            format!("processes ({} rounds x {})", args.rounds, args.processes),
            processes(&args, &set, &dir("race")),
        ),
        (
            format!("SIGKILL mid-migration ({})", args.kills),
            kills(&args, &set, &dir("kill")),
        ),
    ];
    Ok(table(&results, started))
}

/// Prints the results, one row per scenario, and the verdict.
fn table(results: &[(String, Tally)], started: Instant) -> ExitCode {
    outln!();
    outln!(
        "{:<40} {:>6} {:>7} {:>9} {:>9} {:>9} {:>17}",
        "scenario",
        "ops",
        "errors",
        "p50",
        "p95",
        "p99",
        "executed/expected"
    );
    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1e3);
    let mut ok = true;
    for (name, t) in results {
        outln!(
            "{:<40} {:>6} {:>7} {:>9} {:>9} {:>9} {:>17}",
            name,
            t.ops,
            t.errors.values().sum::<usize>(),
            ms(t.percentile(0.50)),
            ms(t.percentile(0.95)),
            ms(t.percentile(0.99)),
            if t.clones {
                "cloned".to_string()
            } else {
                format!("{}/{}", t.executed, t.expected)
            }
        );
        for (kind, n) in &t.errors {
            outln!("    {n} x {kind}");
        }
        for note in &t.notes {
            outln!("    {note}");
        }
        ok &= t.ok();
    }
    outln!(
        "\n{} in {:.1}s",
        if ok {
            "PASS: zero errors, every migration executed exactly as often as expected"
        } else {
            "FAIL"
        },
        started.elapsed().as_secs_f64()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
