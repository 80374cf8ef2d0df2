//! Helpers: the server, fresh databases, counting sets, child processes.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::postgres::{TestDatabase, TestServer};
use migrate_once::{Migration, Migrations};
use postgres::Client;

/// Set (to `1`) by CI: a test that cannot get a server fails instead of
/// being skipped.
pub const REQUIRE_ENV: &str = "MIGRATE_ONCE_REQUIRE_POSTGRES";

/// The database a child process works on, from its parent.
pub const CHILD_URL: &str = "MIGRATE_ONCE_PG_CHILD_URL";

/// The server for this process, or `None` after printing why there is
/// none; panics instead when [`REQUIRE_ENV`] is `1`.
pub fn try_server() -> Option<&'static TestServer> {
    match TestServer::shared() {
        Ok(server) => Some(server),
        Err(e) if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => {
            panic!("{REQUIRE_ENV}=1 and there is no Postgres server: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no Postgres server ({e}); set {REQUIRE_ENV}=1 to fail instead");
            None
        }
    }
}

/// `let server = server!();` returns from the test when there is none.
macro_rules! server {
    () => {
        match $crate::support::try_server() {
            Some(s) => s,
            None => return,
        }
    };
}
pub(crate) use server;

/// A fresh database with the `attempts` sequence the counting sets call:
/// a sequence is not transactional, so it counts every time a migration
/// body started, including in transactions that rolled back.
pub fn counting_database(server: &TestServer) -> TestDatabase {
    let db = server.create_database().expect("create a database");
    db.connect()
        .expect("connect")
        .batch_execute("CREATE SCHEMA counters; CREATE SEQUENCE counters.attempts")
        .expect("create the attempts sequence");
    db
}

/// `n` migrations, each creating a table, recording its execution in
/// `executions` (transactional: what committed) and bumping the `attempts`
/// sequence (not transactional: what started); `sleep` seconds in each.
pub fn counting_set(n: i64, sleep: f64) -> Migrations {
    let mut list = vec![Migration::new(
        1,
        "executions",
        format!(
            "CREATE TABLE executions (version bigint NOT NULL, at timestamptz DEFAULT clock_timestamp());
             SELECT nextval('counters.attempts');
             INSERT INTO executions (version) VALUES (1);
             SELECT pg_sleep({sleep});"
        ),
    )];
    for v in 2..=n {
        list.push(Migration::new(
            v,
            format!("table_{v}"),
            format!(
                "SELECT nextval('counters.attempts');
                 CREATE TABLE t{v} (id bigserial PRIMARY KEY, name text NOT NULL, prev bigint);
                 CREATE INDEX t{v}_name ON t{v} (name);
                 INSERT INTO executions (version) VALUES ({v});
                 SELECT pg_sleep({sleep});"
            ),
        ));
    }
    Migrations::new(list).expect("a valid set")
}

/// How often each version's body committed, by version, and how many
/// bodies started in all.
pub fn executions(client: &mut Client, schema: &str) -> (Vec<(i64, i64)>, i64) {
    let committed = client
        .query(
            &format!(
                "SELECT version, count(*) FROM {schema}.executions GROUP BY version ORDER BY version"
            ),
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default();
    let started: i64 = client
        .query_one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM counters.attempts",
            &[],
        )
        .expect("read the attempts sequence")
        .get(0);
    (committed, started)
}

/// The crate's ledger versions in `schema`, in order (empty without one).
pub fn ledger_versions(client: &mut Client, schema: &str) -> Vec<i64> {
    client
        .query(
            &format!("SELECT version FROM {schema}._migrate_once_ledger ORDER BY version"),
            &[],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

/// The user tables in `schema`, sorted.
pub fn tables(client: &mut Client, schema: &str) -> Vec<String> {
    client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .expect("read pg_tables")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Held by the tests that open hundreds of connections at once, so that
/// together they stay under the server's `max_connections`.
pub static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`HEAVY`], whether or not a test that held it panicked.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The 95th percentile of `samples` (nearest rank).
pub fn p95(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let rank = (samples.len() * 95).div_ceil(100).max(1);
    samples[rank - 1]
}

/// One test of this binary run in a child process: `--ignored --exact`
/// selects it (it is `#[ignore]`d so an ordinary run skips it), and the
/// database URL and anything else reach it in its environment.
pub fn child(test: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// A running child whose standard output lines arrive on a channel.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr: thread::JoinHandle<String>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("spawn a child test process");
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(err), &mut s);
            s
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// Waits (up to a minute) for a line holding `prefix`; what follows it.
    pub fn line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                // libtest may have begun the line (`test x ... `).
                Ok(l) => {
                    if let Some(at) = l.find(prefix) {
                        return l[at + prefix.len()..].trim().to_string();
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = std::mem::replace(&mut self.stderr, thread::spawn(String::new))
            .join()
            .unwrap_or_default();
        panic!("the child printed no `{prefix}` line; its stderr:\n{stderr}")
    }

    /// Everything the child wrote to stderr (waits for it to close).
    pub fn stderr(&mut self) -> String {
        std::mem::replace(&mut self.stderr, thread::spawn(String::new))
            .join()
            .unwrap_or_default()
    }

    /// Waits for the child to exit successfully, and returns its `RESULT` line.
    pub fn result(mut self) -> String {
        let line = self.line("RESULT");
        let status = self.child.wait().expect("wait for the child");
        let stderr = self.stderr.join().unwrap_or_default();
        assert!(status.success(), "child failed ({status}): {stderr}");
        line
    }
}

/// Reads `key=value` out of a `RESULT` line.
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// A directory for a race's start files, removed on drop.
pub struct StartLine {
    dir: tempfile::TempDir,
}

impl StartLine {
    pub fn new() -> StartLine {
        StartLine {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until `n` children are ready, then lets them all go.
    pub fn release(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while fs::read_dir(self.path()).map_or(0, |d| d.count()) < n {
            assert!(Instant::now() < deadline, "children never got ready");
            thread::sleep(Duration::from_millis(5));
        }
        fs::write(self.path().join("go"), b"").expect("write the go file");
    }
}

/// In a child: says it is ready in `dir`, then waits for the go file.
pub fn ready_then_wait(dir: &Path) {
    let me = dir.join(format!("ready-{}", std::process::id()));
    fs::write(&me, b"").expect("write the ready file");
    let go: PathBuf = dir.join("go");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !go.exists() {
        assert!(Instant::now() < deadline, "never released");
        thread::sleep(Duration::from_micros(500));
    }
}
