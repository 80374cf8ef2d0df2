//! Hammers a migration set the way parallel test suites and CI loops do, and
//! fails if anything goes wrong.
//!
//! ```text
//! cargo run --release --example stress -- [--migrations DIR] [--threads T]
//!     [--iterations N] [--rounds R] [--processes P] [--kills K] [--quick]
//! ```
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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use migrate_once::{Error, Migrations, SharedDb, TestDb, migrate};
use rusqlite::Connection;

struct Args {
    migrations: PathBuf,
    threads: usize,
    iterations: usize,
    rounds: usize,
    processes: usize,
    kills: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: stress [--migrations DIR] [--threads T] [--iterations N] [--rounds R] \
         [--processes P] [--kills K] [--quick]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        migrations: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")),
        threads: 8,
        iterations: 20_000,
        rounds: 100,
        processes: 8,
        kills: 40,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = || -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| usage())
        };
        match flag.as_str() {
            "--threads" => a.threads = num(),
            "--iterations" => a.iterations = num(),
            "--rounds" => a.rounds = num(),
            "--processes" => a.processes = num(),
            "--kills" => a.kills = num(),
            "--migrations" => {
                a.migrations = it.next().map(PathBuf::from).unwrap_or_else(|| usage())
            }
            "--quick" => {
                a.iterations = 400;
                a.rounds = 8;
                a.processes = 4;
                a.kills = 8;
            }
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    a
}

/// What one scenario saw.
#[derive(Default)]
struct Tally {
    ops: usize,
    errors: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    executed: usize,
    expected: usize,
    notes: Vec<String>,
}

impl Tally {
    fn error(&mut self, e: &dyn std::fmt::Display) {
        let text = e.to_string();
        let kind = text
            .split(':')
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>();
        *self.errors.entry(kind).or_default() += 1;
        if self.errors.values().sum::<usize>() <= 3 {
            eprintln!("error: {text}");
        }
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

fn bar(len: usize, label: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>18} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

/// Scenario 1: per-test databases from T threads.
fn per_test(args: &Args, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args.iterations, "per-test dbs");
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
                        Ok(n) => {
                            local.error(&format!("clone has {n} ledger rows, want {}", set.len()))
                        }
                        Err(e) => local.error(&e),
                    }
                    pb.inc(1);
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
    pb.finish_and_clear();
    let mut t = tally.into_inner().unwrap();
    // Template builds: at most one per process, and none if it was cached.
    t.expected = 0;
    t.executed = 0;
    t.notes.push(format!(
        "template {}",
        match migrate_once::Template::for_set(set) {
            Ok(tpl) if tpl.built_by_this_process() => "built once by this run".to_string(),
            Ok(_) => "read from the cache (built by an earlier run)".to_string(),
            Err(e) => format!("unavailable: {e}"),
        }
    ));
    let left = std::fs::read_dir(work).map_or(0, |d| d.count());
    if left != 0 {
        t.error(&format!("{left} files left behind in the TestDb directory"));
    }
    t
}

/// Scenario 2: one fresh shared file per round, opened from T threads at once.
fn shared(args: &Args, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args.rounds, "shared db");
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
                Err(e) => t.error(&e),
            }
        }
        t.expected += set.len();
        match ledger_len(&path) {
            Ok(n) if n == set.len() => {}
            Ok(n) => t.error(&format!("ledger has {n} rows, want {}", set.len())),
            Err(e) => t.error(&e),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    t
}

fn spawn_child(mode: &str, db: &Path, signal: &Path, set_dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("own path"))
        .args(["--child", mode])
        .arg(db)
        .arg(signal)
        .arg(set_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn a child")
}

/// Scenario 3: P processes racing on one fresh file, R rounds.
fn processes(args: &Args, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args.rounds, "racing processes");
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
                _ => t.error(&format!("child failed: {}", text.trim())),
            }
        }
        t.latencies.push(started.elapsed());
        t.expected += set.len();
        match ledger_len(&db) {
            Ok(n) if n == set.len() => {}
            Ok(n) => t.error(&format!("ledger has {n} rows, want {}", set.len())),
            Err(e) => t.error(&e),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
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
fn kills(args: &Args, set: &Migrations, work: &Path) -> Tally {
    let pb = bar(args.kills, "SIGKILL recovery");
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
        let check = || -> Result<(usize, usize), String> {
            let conn = Connection::open(&db).map_err(|e| e.to_string())?;
            let ok: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if ok != "ok" {
                return Err(format!("integrity_check: {ok}"));
            }
            let rows = migrate_once::ledger(&conn)
                .map_err(|e| e.to_string())?
                .len();
            if rows != 0 && rows != set.len() {
                return Err(format!(
                    "partial ledger after SIGKILL: {rows} of {}",
                    set.len()
                ));
            }
            drop(conn);
            let db = SharedDb::open(&db, set).map_err(|e| e.to_string())?;
            let applied = db.report().map_or(0, |r| r.applied.len());
            let full = migrate_once::ledger(&db.connect().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?
                .len();
            if full != set.len() {
                return Err(format!("recovery left {full} of {} ledger rows", set.len()));
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
            Err(e) => t.error(&e),
        }
        t.latencies.push(started.elapsed());
        pb.inc(1);
    }
    pb.finish_and_clear();
    t.notes.push(format!(
        "{before} kills landed before the commit (recovery migrated), {after} after (nothing to do)"
    ));
    t
}

/// A child process: `--child race|kill DB SIGNAL SET_DIR`.
fn child(mode: &str, db: &Path, signal: &Path, set_dir: &Path) -> ExitCode {
    let set = match Migrations::from_dir(set_dir) {
        Ok(s) => s,
        Err(e) => {
            println!("error={e}");
            return ExitCode::FAILURE;
        }
    };
    let mut conn = Connection::open(db).expect("open the database");
    if mode == "race" {
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
            println!("applied={}", r.applied.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("error={e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("--child") && raw.len() == 6 {
        return child(
            &raw[2],
            Path::new(&raw[3]),
            Path::new(&raw[4]),
            Path::new(&raw[5]),
        );
    }
    let args = parse_args();
    let set = match Migrations::from_dir(&args.migrations) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot load migrations: {e}");
            return ExitCode::from(2);
        }
    };
    let work = tempfile::tempdir().expect("a temp dir");
    let dir = |name: &str| {
        let d = work.path().join(name);
        std::fs::create_dir(&d).expect("a work dir");
        d
    };
    println!(
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
    println!();
    println!(
        "{:<40} {:>6} {:>7} {:>9} {:>9} {:>9} {:>17}",
        "scenario", "ops", "errors", "p50", "p95", "p99", "executed/expected"
    );
    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1e3);
    let mut ok = true;
    for (name, t) in &results {
        println!(
            "{:<40} {:>6} {:>7} {:>9} {:>9} {:>9} {:>17}",
            name,
            t.ops,
            t.errors.values().sum::<usize>(),
            ms(t.percentile(0.50)),
            ms(t.percentile(0.95)),
            ms(t.percentile(0.99)),
            if t.expected == 0 && t.executed == 0 {
                "cloned".to_string()
            } else {
                format!("{}/{}", t.executed, t.expected)
            }
        );
        for (kind, n) in &t.errors {
            println!("    {n} x {kind}");
        }
        for note in &t.notes {
            println!("    {note}");
        }
        ok &= t.ok();
    }
    println!(
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
