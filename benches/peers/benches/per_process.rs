//! What a cargo-nextest user pays per test process for a migrated database.
//!
//! nextest runs every test as a process of its own (`<test binary> --exact
//! <test> --nocapture`), so a test's database costs what the whole process
//! costs over one that needs none. Each contender is a test binary with one
//! test (`tests/pp_*.rs`):
//!
//! | contender | its test |
//! |---|---|
//! | empty | `Connection::open_in_memory()`, `SELECT 1` |
//! | floor | read the migrated template file, deserialize it into `:memory:` (`support::deserialize`), first query |
//! | migrate-once | `Migrations::from_dir`, `TestDb::in_memory`, `connect()`, first query; template cache warm |
//! | rusqlite_migration | read the `.sql` files, one `M::up` each, `to_latest` on `open_in_memory()`, first query |
//!
//! The first query is `SELECT count(*) FROM t0` (must be 2). The harness
//! writes the generated set (`support::generated_set`) as `.sql` files,
//! builds its template once with `Template::for_set` (in a cache directory
//! of its own, which every migrate-once run then finds warm), waits until
//! it is 2 s old (so that the first run records it as verified, as happens
//! to a cache left by an earlier run) and writes the template's bytes to a
//! file for the floor. It builds the contenders with
//! `cargo test --release --no-run --message-format=json` (honouring
//! `CARGO_TARGET_DIR`), runs every contender once unmeasured, then `ROUNDS`
//! rounds: every contender once per round, in an order rotated every two
//! rounds and reversed every other round, so that drift and position hit
//! all alike. Each run is
//! `<binary> --exact <test> --nocapture --test-threads=1`, timed with
//! `Instant` from spawn to exit, and must succeed and report its test
//! passed. After each timed pass of a round comes a memory pass: every
//! contender once more with `PP_PEAK_RSS_FILE` set, to which the test
//! writes its process's peak resident set (`VmHWM`, Linux only; see
//! `tests/common/mod.rs` for why not `wait4`'s `ru_maxrss`).
//!
//! Reported per set size, on stdout as markdown and in
//! `<target dir>/per_process.json`: median and p90 wall time per process,
//! the median's difference over empty, that difference as a multiple of the
//! floor's; median peak RSS, its difference over empty, and that difference
//! relative to the template's size.
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml --bench per_process`.
//!
//! Environment:
//! - `ROUNDS`: rounds per set size (default 60).
//! - `BENCH_TABLES`: comma-separated set sizes in tables (default `10,100`).
//! - `PP_PROFILE=dev`: build the contenders in cargo's dev profile (what
//!   `cargo nextest run` builds a test suite with) instead of `--release`.
//! - `CARGO_TARGET_DIR`: where the contenders are built (cargo's own
//!   default otherwise); the JSON report goes to its root.
//! - `CARGO`: the cargo that builds the contenders (set by `cargo bench`;
//!   default `cargo`).
//! - `PP_KEEP`: if set (non-empty), the work directory (migration files,
//!   template file, template cache) is kept and its path printed, to run a
//!   contender by hand with the same environment.
//!
//! Set by the harness for the contenders (not to be set by hand):
//! `PP_MIGRATIONS` (the set's directory), `PP_TEMPLATE` (the template file),
//! `MIGRATE_ONCE_CACHE_DIR` (the harness's template cache, the same for
//! every run; the harness sets it for itself too), `PP_PEAK_RSS_FILE`
//! (memory passes only).

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use migrate_once::{CACHE_DIR_ENV, Migrations, Template};

#[path = "../../support/mod.rs"]
#[allow(dead_code)] // `deserialize` is the floor contender's
mod support;

/// The contenders: label in the report, and the name of both the test
/// target and its one test.
const CONTENDERS: [(&str, &str); 4] = [
    ("empty: open_in_memory + SELECT 1", "pp_empty"),
    ("floor: read template + deserialize", "pp_floor"),
    (
        "migrate-once: from_dir + TestDb::in_memory",
        "pp_migrate_once",
    ),
    (
        "rusqlite_migration: to_latest, :memory:",
        "pp_rusqlite_migration",
    ),
];
const EMPTY: usize = 0;
const FLOOR: usize = 1;

fn main() {
    let rounds: usize = std::env::var("ROUNDS").map_or(60, |v| {
        v.trim().parse().expect("ROUNDS: a whole number of rounds")
    });
    assert!(rounds > 0, "ROUNDS must be at least 1");
    let sizes: Vec<usize> = match std::env::var("BENCH_TABLES") {
        Ok(v) => v.split(',').map(|s| s.trim().parse().unwrap()).collect(),
        Err(_) => vec![10, 100],
    };

    let work = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("PP_KEEP").is_some_and(|v| !v.is_empty());
    let cache = work.path().join("template-cache");
    // SAFETY: nothing else runs yet: no thread has been started and no
    // other code reads the environment concurrently.
    unsafe { std::env::set_var(CACHE_DIR_ENV, &cache) };

    let bins = build_contenders();
    // `<target dir>/<profile>/deps/<binary>`
    let target_dir = bins[EMPTY]
        .ancestors()
        .nth(3)
        .expect("a test binary under <target dir>/<profile>/deps")
        .to_path_buf();

    let mut json_sizes = Vec::new();
    for tables in sizes {
        json_sizes.push(measure(tables, rounds, work.path(), &cache, &bins));
    }

    let json = serde_json::json!({
        "bench": "per_process",
        "profile": if dev_profile() { "dev" } else { "release" },
        "rounds": rounds,
        "test_args": ["--exact", "<test>", "--nocapture", "--test-threads=1"],
        "sizes": json_sizes,
    });
    let out = target_dir.join("per_process.json");
    fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
    if keep {
        let kept = work.keep();
        eprintln!(
            "kept the work directory: {} (PP_MIGRATIONS=migrations-<tables>, \
             PP_TEMPLATE=template-<tables>.sqlite, {CACHE_DIR_ENV}=template-cache)",
            kept.display()
        );
    }
}

/// `PP_PROFILE=dev`: the contenders are built unoptimized.
fn dev_profile() -> bool {
    match std::env::var("PP_PROFILE").as_deref() {
        Err(_) | Ok("" | "release") => false,
        Ok("dev") => true,
        Ok(other) => panic!("PP_PROFILE={other}: expected dev or release"),
    }
}

/// Builds the contenders' test binaries and returns their paths, in the
/// order of `CONTENDERS`.
fn build_contenders() -> Vec<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--no-run"]);
    if !dev_profile() {
        cmd.arg("--release");
    }
    cmd.arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest);
    for (_, target) in CONTENDERS {
        cmd.args(["--test", target]);
    }
    eprintln!("building the contenders: {cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run cargo");
    let mut bins: Vec<Option<PathBuf>> = vec![None; CONTENDERS.len()];
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let msg: serde_json::Value = match serde_json::from_str(&line.unwrap()) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(name), Some(exe)) = (msg["target"]["name"].as_str(), msg["executable"].as_str())
        else {
            continue;
        };
        if let Some(i) = CONTENDERS.iter().position(|(_, t)| *t == name) {
            bins[i] = Some(PathBuf::from(exe));
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "building the contenders failed: {status}");
    bins.into_iter()
        .zip(CONTENDERS)
        .map(|(b, (_, t))| b.unwrap_or_else(|| panic!("cargo reported no executable for {t}")))
        .collect()
}

/// One contender's samples.
#[derive(Default)]
struct Samples {
    wall: Vec<Duration>,
    rss_kib: Vec<u64>,
}

fn measure(
    tables: usize,
    rounds: usize,
    work: &Path,
    cache: &Path,
    bins: &[PathBuf],
) -> serde_json::Value {
    // The set as files, as both tools read it.
    let dir = work.join(format!("migrations-{tables}"));
    fs::create_dir_all(&dir).unwrap();
    for (version, name, sql) in support::generated_set(tables) {
        fs::write(dir.join(format!("{version:04}_{name}.sql")), sql).unwrap();
    }
    // The template, built here once: into the harness's cache, where every
    // migrate-once run finds it, and into a file of its own for the floor.
    let set = Migrations::from_dir(&dir).unwrap();
    let template = Template::for_set(&set).unwrap();
    let template_file = work.join(format!("template-{tables}.sqlite"));
    fs::write(&template_file, template.bytes().unwrap()).unwrap();
    let template_kib = template.size() as f64 / 1024.0;
    let cached = CacheState::of(cache, template.path());

    let out_dir = work.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let rss_file = out_dir.join("peak-rss");
    let env: Vec<(&str, &Path)> = vec![
        ("PP_MIGRATIONS", dir.as_path()),
        ("PP_TEMPLATE", template_file.as_path()),
        (CACHE_DIR_ENV, cache),
    ];
    let run = |i: usize, rss: bool| -> (Duration, Option<u64>) {
        let test = CONTENDERS[i].1;
        let stdout = File::create(out_dir.join("stdout")).unwrap();
        let stderr = File::create(out_dir.join("stderr")).unwrap();
        let mut cmd = Command::new(&bins[i]);
        cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if rss {
            let _ = fs::remove_file(&rss_file);
            cmd.env("PP_PEAK_RSS_FILE", &rss_file);
        } else {
            cmd.env_remove("PP_PEAK_RSS_FILE");
        }
        let start = Instant::now();
        let status = cmd.spawn().unwrap().wait().unwrap();
        let wall = start.elapsed();
        let out = fs::read_to_string(out_dir.join("stdout")).unwrap_or_default();
        // `--exact` with a name that matches nothing runs nothing, and
        // succeeds: check the one test ran and passed.
        if !status.success() || !out.contains(&format!("test {test} ... ok")) {
            let err = fs::read_to_string(out_dir.join("stderr")).unwrap_or_default();
            panic!(
                "{} --exact {test} ({tables} tables): {status}\n--- stdout\n{out}\n--- stderr\n{err}",
                bins[i].display()
            );
        }
        let kib = rss
            .then(|| fs::read_to_string(&rss_file).ok())
            .flatten()
            .map(|s| s.trim().parse().expect("a KiB count in PP_PEAK_RSS_FILE"));
        (wall, kib)
    };

    // Warm as a cache is between runs: written more than 2 s ago, so that
    // the first process to read it whole records it as verified
    // (`template.verified`) and the ones after it stream it without
    // hashing it again. A suite's processes in the first 2 s after a build
    // hash it, as every process did before 0.2 (`BENCHMARKS.md` has both).
    std::thread::sleep(Duration::from_millis(2_100));
    // Unmeasured: every binary once (page cache, dynamic loader), and the
    // migrate-once run must find the harness's template, not build its own.
    for i in 0..CONTENDERS.len() {
        run(i, false);
    }
    assert_eq!(
        CacheState::of(cache, template.path()),
        cached,
        "the migrate-once contender did not use the harness's cached template"
    );
    // Only on Linux, on a file system whose change times are trusted;
    // elsewhere every process hashes, and that is what is measured.
    let dir = template.path().parent().unwrap();
    if migrate_once::__private::records_verified_templates(dir) {
        assert!(
            dir.join("template.verified").exists(),
            "the migrate-once contender did not record the template as verified"
        );
    }

    let mut samples: Vec<Samples> = (0..CONTENDERS.len()).map(|_| Samples::default()).collect();
    for round in 0..rounds {
        let order = round_order(round, CONTENDERS.len());
        for &i in &order {
            samples[i].wall.push(run(i, false).0);
        }
        for &i in &order {
            if let Some(kib) = run(i, true).1 {
                samples[i].rss_kib.push(kib);
            }
        }
        if (round + 1) % 10 == 0 {
            eprintln!("{tables} tables: {}/{rounds} rounds", round + 1);
        }
    }
    assert_eq!(
        CacheState::of(cache, template.path()),
        cached,
        "the template cache changed while measuring (a contender rebuilt it)"
    );

    report(tables, rounds, template_kib, bins, &samples)
}

/// The contenders' order in round `round`: rotated by one every two rounds,
/// reversed every other round, so that every contender takes every place.
fn round_order(round: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.rotate_left((round / 2) % n);
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// What shows whether a template was rebuilt: the cache's entries and the
/// template file's length and modification time.
#[derive(Debug, PartialEq)]
struct CacheState {
    entries: Vec<PathBuf>,
    len: u64,
    modified: SystemTime,
}

impl CacheState {
    fn of(cache: &Path, template: &Path) -> CacheState {
        let mut entries: Vec<PathBuf> = fs::read_dir(cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        let meta = fs::metadata(template).unwrap();
        CacheState {
            entries,
            len: meta.len(),
            modified: meta.modified().unwrap(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `q` quantile of sorted `v`, nearest rank.
fn quantile<T: Copy>(sorted: &[T], q: f64) -> T {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn report(
    tables: usize,
    rounds: usize,
    template_kib: f64,
    bins: &[PathBuf],
    samples: &[Samples],
) -> serde_json::Value {
    let median_ms: Vec<f64> = samples
        .iter()
        .map(|s| median_f64(s.wall.iter().copied().map(ms).collect()))
        .collect();
    let p90_ms: Vec<f64> = samples
        .iter()
        .map(|s| {
            let mut w = s.wall.clone();
            w.sort();
            ms(quantile(&w, 0.9))
        })
        .collect();
    let rss: Vec<Option<f64>> = samples
        .iter()
        .map(|s| {
            (!s.rss_kib.is_empty())
                .then(|| median_f64(s.rss_kib.iter().map(|&k| k as f64).collect()))
        })
        .collect();
    let over = |i: usize| median_ms[i] - median_ms[EMPTY];
    let floor_over = over(FLOOR);
    // A multiple of the floor's difference means nothing when noise has
    // made that difference nil or negative (a loaded machine, few rounds).
    let x_floor = |i: usize| (floor_over > 0.0).then(|| over(i) / floor_over);

    println!();
    let profile = if dev_profile() { ", dev profile" } else { "" };
    println!(
        "| test process ({tables} tables{profile}) | median ms | p90 ms | over empty | × floor's |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (i, (label, _)) in CONTENDERS.iter().enumerate() {
        let (over_s, x_s) = if i == EMPTY {
            ("—".to_string(), "—".to_string())
        } else {
            (
                format!("{:+.2} ms", over(i)),
                x_floor(i).map_or_else(|| "n/a (floor ≤ empty)".to_string(), |x| format!("{x:.2}")),
            )
        };
        println!(
            "| {label} | {:.2} | {:.2} | {over_s} | {x_s} |",
            median_ms[i], p90_ms[i]
        );
    }
    println!();
    println!(
        "| peak RSS ({tables} tables, template {template_kib:.0} KiB) | median KiB | over empty KiB | over empty ÷ template |"
    );
    println!("|---|---:|---:|---:|");
    for (i, (label, _)) in CONTENDERS.iter().enumerate() {
        match (rss[i], rss[EMPTY]) {
            (Some(r), Some(e)) if i != EMPTY => println!(
                "| {label} | {r:.0} | {:+.0} | {:.2} |",
                r - e,
                (r - e) / template_kib
            ),
            (Some(r), _) => println!("| {label} | {r:.0} | — | — |"),
            (None, _) => println!("| {label} | n/a | n/a | n/a |"),
        }
    }
    println!();

    let contenders: Vec<serde_json::Value> = CONTENDERS
        .iter()
        .enumerate()
        .map(|(i, (label, test))| {
            let is_empty = i == EMPTY;
            serde_json::json!({
                "label": label,
                "test": test,
                "binary": bins[i],
                "median_ms": median_ms[i],
                "p90_ms": p90_ms[i],
                "over_empty_ms": (!is_empty).then(|| over(i)),
                "x_floor": x_floor(i).filter(|_| !is_empty),
                "peak_rss_median_kib": rss[i],
                "peak_rss_over_empty_kib": rss[i].zip(rss[EMPTY]).filter(|_| !is_empty).map(|(r, e)| r - e),
                "peak_rss_over_empty_per_template": rss[i].zip(rss[EMPTY]).filter(|_| !is_empty).map(|(r, e)| (r - e) / template_kib),
                "wall_ms": samples[i].wall.iter().copied().map(ms).collect::<Vec<_>>(),
                "peak_rss_kib": samples[i].rss_kib,
            })
        })
        .collect();
    serde_json::json!({
        "tables": tables,
        "rounds": rounds,
        "template_kib": template_kib,
        "contenders": contenders,
    })
}
