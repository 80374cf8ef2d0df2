//! 16 processes racing to migrate one empty Postgres database to a
//! 100-table set, against one process migrating it alone; and the `no_wait`
//! answers of 15 losers. Run with
//! `cargo bench --bench postgres_race --features postgres` (a throwaway
//! server, or `DATABASE_URL`'s).
//!
//! Each process is this binary again: it connects, waits for the start
//! file, then opens the database with `postgres::SharedDb` (migrate and
//! validate) and prints how long that took from the start file. The
//! parent times from writing the start file until every process has
//! answered.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use migrate_once::postgres::{SharedDb, TestServer};
use migrate_once::{Error, Migration, Migrations};

const ROLE: &str = "MIGRATE_ONCE_PG_BENCH_ROLE";
const URL: &str = "MIGRATE_ONCE_PG_BENCH_URL";
const START: &str = "MIGRATE_ONCE_PG_BENCH_START";
const ROUNDS: usize = 5;
const RACERS: usize = 16;

/// 100 tables in 50 migrations, as in the measurements the crate's
/// Postgres notes start from: a `bigserial` key, a name, a reference to
/// the previous table, a timestamp default, and an index each.
fn set() -> Migrations {
    let list = (0..50)
        .map(|m| {
            let mut sql = String::new();
            for t in [2 * m, 2 * m + 1] {
                let reference = if t > 0 {
                    format!(", ref bigint REFERENCES t{}(id)", t - 1)
                } else {
                    String::new()
                };
                sql.push_str(&format!(
                    "CREATE TABLE t{t} (id bigserial PRIMARY KEY, name text NOT NULL{reference}, \
                     created timestamptz DEFAULT now());\nCREATE INDEX t{t}_name ON t{t} (name);\n"
                ));
            }
            Migration::new(m + 1, format!("m{m}"), sql)
        })
        .collect();
    Migrations::new(list).expect("a valid set")
}

fn micros_since_epoch() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// In a child: connect, wait for the start file, open, print the answer
/// and how long after the start file it came.
fn child(no_wait: bool) {
    let url = std::env::var(URL).unwrap();
    let start = PathBuf::from(std::env::var(START).unwrap());
    let set = set();
    let mut builder = SharedDb::builder(&url);
    if no_wait {
        builder = builder.lock_timeout(Duration::ZERO);
    }
    let _warm = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    fs::write(start.join(format!("ready-{}", std::process::id())), b"").unwrap();
    let go = start.join("go");
    while !go.exists() {
        std::thread::sleep(Duration::from_micros(200));
    }
    let released: u128 = fs::read_to_string(&go).unwrap().trim().parse().unwrap();
    let answer = match builder.open(&set) {
        Ok(_) => "ready",
        Err(Error::InProgress) => "in_progress",
        Err(e) => panic!("{e:?}"),
    };
    let took = micros_since_epoch().saturating_sub(released);
    println!("ANSWER {answer} {took}");
}

/// Runs `n` children on a fresh database; the time from the start file to
/// the last answer, and each answer with its latency.
fn round(server: &TestServer, n: usize, no_wait: bool) -> (Duration, Vec<(String, Duration)>) {
    let db = server.create_database().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .env(ROLE, if no_wait { "no_wait" } else { "wait" })
                .env(URL, db.url())
                .env(START, dir.path())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_ready(dir.path(), n);
    let released = Instant::now();
    // Written whole, then renamed: a child never reads half of it.
    let tmp = dir.path().join("go.tmp");
    fs::write(&tmp, micros_since_epoch().to_string()).unwrap();
    fs::rename(&tmp, dir.path().join("go")).unwrap();
    let mut answers = Vec::new();
    for mut c in children {
        let out = BufReader::new(c.stdout.take().unwrap());
        for line in out.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ANSWER ") {
                let (what, us) = rest.split_once(' ').unwrap();
                answers.push((what.to_string(), Duration::from_micros(us.parse().unwrap())));
            }
        }
        assert!(c.wait().unwrap().success());
    }
    let all = released.elapsed();
    assert_eq!(answers.len(), n);
    (all, answers)
}

fn wait_ready(dir: &Path, n: usize) {
    while fs::read_dir(dir).unwrap().count() < n {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("wait") => return child(false),
        Ok("no_wait") => return child(true),
        _ => {}
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too,
    // with nothing to measure.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server = match TestServer::shared() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("no Postgres server, nothing measured: {e}");
            return;
        }
    };
    let alone: Vec<Duration> = (0..ROUNDS).map(|_| round(server, 1, false).0).collect();
    let mut raced = Vec::new();
    for _ in 0..ROUNDS {
        let (all, answers) = round(server, RACERS, false);
        assert!(answers.iter().all(|(a, _)| a == "ready"));
        raced.push(all);
    }
    let mut told = Vec::new();
    for _ in 0..ROUNDS {
        let (_, answers) = round(server, RACERS, true);
        let ready = answers.iter().filter(|(a, _)| a == "ready").count();
        assert!(ready >= 1, "nobody migrated");
        told.extend(
            answers
                .into_iter()
                .filter(|(a, _)| a == "in_progress")
                .map(|(_, t)| t),
        );
    }
    told.sort();
    let p95 = told[(told.len() * 95).div_ceil(100) - 1];
    println!("postgres_race: 100 tables (50 migrations), {ROUNDS} rounds each");
    println!(
        "  one process alone, start to ready:        median {:>8.1?}  (min {:?})",
        median(alone.clone()),
        alone.iter().min().unwrap()
    );
    println!(
        "  {RACERS} processes racing, start to all ready:  median {:>8.1?}  (min {:?})",
        median(raced.clone()),
        raced.iter().min().unwrap()
    );
    println!(
        "  no_wait, {} InProgress answers:          p95 {:>8.1?}  (median {:?}, max {:?})",
        told.len(),
        p95,
        told[told.len() / 2],
        told.last().unwrap()
    );
}
