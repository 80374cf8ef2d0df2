//! The built command on Postgres (`--database-url`), against a real server:
//! `DATABASE_URL`'s, or a throwaway cluster this binary starts (and stops
//! when it exits). A test that cannot get a server says `SKIPPED: why` and
//! passes, unless `MIGRATE_ONCE_REQUIRE_POSTGRES=1` (set by CI): then it
//! fails.
//!
//! Each migration of the sets here counts itself twice: `nextval` of the
//! sequence `counters.attempts`, which a rollback does not undo (every body
//! that ran), and a row in `runs` (every body that committed). Exit
//! statuses are read by name from `migrate --help`, as in `migrate.rs`.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Racers, Run, bin, run, set, status, statuses, versions};
use migrate_once::postgres::{TestDatabase, TestServer, lock_key};
use postgres::Client;

/// Set (to `1`) by CI: a test that cannot get a server fails instead of
/// being skipped.
const REQUIRE_ENV: &str = "MIGRATE_ONCE_REQUIRE_POSTGRES";

/// The server for this process, or `None` after printing why there is
/// none; panics instead when [`REQUIRE_ENV`] is `1`.
fn try_server() -> Option<&'static TestServer> {
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
        match try_server() {
            Some(s) => s,
            None => return,
        }
    };
}

/// A new database with the `counters.attempts` sequence the sets here call.
fn counting_database(server: &TestServer) -> TestDatabase {
    let db = server.create_database().expect("create a database");
    db.connect()
        .unwrap()
        .batch_execute("CREATE SCHEMA counters; CREATE SEQUENCE counters.attempts")
        .unwrap();
    db
}

/// One migration of a counting set: counts itself, runs `sql`, records
/// `version` in `runs`.
fn counted(version: i64, sql: &str) -> String {
    format!(
        "SELECT nextval('counters.attempts');\n{sql}\nINSERT INTO runs (version) VALUES ({version});\n"
    )
}

/// Three migrations; the second sleeps `sleep` seconds holding the lock,
/// long enough, at 0.2, for processes started together to find it held.
fn counting_set(dir: &Path, sleep: f64) -> PathBuf {
    set(
        dir,
        &[
            (
                "0001_runs.sql",
                &counted(1, "CREATE TABLE runs (version bigint NOT NULL);"),
            ),
            (
                "0002_items.sql",
                &counted(
                    2,
                    &format!(
                        "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);\n\
                         SELECT pg_sleep({sleep});"
                    ),
                ),
            ),
            (
                "0003_index.sql",
                &counted(3, "CREATE INDEX items_by_name ON items (name);"),
            ),
        ],
    )
}

/// A set in `to` made of the files `names` of the set in `from`: the same
/// migrations, byte for byte.
fn part_of(from: &Path, to: &Path, names: &[&str]) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for name in names {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
    to.to_path_buf()
}

/// `migrate-once migrate DIR --database-url URL ARGS...`.
fn migrate(dir: &Path, url: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let output = bin()
        .arg("migrate")
        .arg(dir)
        .args(["--database-url", url])
        .args(args)
        .output()
        .expect("run migrate-once");
    Run::of(output, started.elapsed())
}

/// What a schema holds: the crate's ledger, how often each body committed,
/// and how many bodies ran in the whole database (committed or not).
#[derive(Debug, PartialEq)]
struct Counts {
    ledger: Vec<i64>,
    runs: Vec<(i64, i64)>,
    attempts: i64,
}

fn counts(client: &mut Client, schema: &str) -> Counts {
    let ledger = client
        .query(
            &format!("SELECT version FROM \"{schema}\"._migrate_once_ledger ORDER BY 1"),
            &[],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    let runs = client
        .query(
            &format!("SELECT version, count(*) FROM \"{schema}\".runs GROUP BY 1 ORDER BY 1"),
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default();
    let attempts = client
        .query_one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM counters.attempts",
            &[],
        )
        .unwrap()
        .get(0);
    Counts {
        ledger,
        runs,
        attempts,
    }
}

/// Each of `versions` committed exactly once.
fn once_each(versions: &[i64]) -> Vec<(i64, i64)> {
    versions.iter().map(|&v| (v, 1)).collect()
}

/// What "changed nothing" compares: every schema, relation, column and
/// constraint outside the system's, and every row of the ledgers and of
/// `runs`. (Not the attempts counter: a body that ran and was rolled back
/// leaves nothing, but counts.)
fn catalog(client: &mut Client) -> Vec<String> {
    let mut lines: Vec<String> = client
        .query(
            "SELECT format('%s %s.%s %s', c.relkind, n.nspname, c.relname,
                    (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                                       ORDER BY a.attnum)
                     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
             UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
             UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
                       FROM pg_constraint WHERE connamespace > 16384
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in ["_migrate_once_ledger", "_sqlx_migrations", "runs"] {
        if let Ok(rows) = client.query(&format!("SELECT t::text FROM public.{table} t"), &[]) {
            lines.extend(
                rows.iter()
                    .map(|r| format!("{table}: {}", r.get::<_, String>(0))),
            );
        }
    }
    lines
}

/// How many bodies have run in the database, committed or not.
fn attempts(client: &mut Client) -> i64 {
    counts(client, "public").attempts
}

/// The temporary database a `check` or `stress` output names
/// (`migrate_once_` and a uuid), and whether the server still has it.
fn temporary_database_left(server: &TestServer, out: &str) -> (String, bool) {
    let at = out
        .find("a temporary database (migrate_once_")
        .unwrap_or_else(|| panic!("no temporary database named: {out}"));
    let name: String = out[at + "a temporary database (".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let mut client = server.connect().unwrap();
    let left = client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .unwrap()
        .get(0);
    (name, left)
}

// ---- many processes ----

/// `n` processes of `migrate DIR --database-url URL EXTRA...`, released
/// together.
fn race(n: usize, dir: &Path, url: &str, extra: &[&str], work: &Path) -> Vec<Run> {
    let mut args: Vec<OsString> = vec![
        "migrate".into(),
        dir.into(),
        "--database-url".into(),
        url.into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    Racers::ready(n, &args, work).go()
}

#[test]
fn sixteen_processes_at_once_on_one_empty_database_apply_each_migration_once_and_all_exit_0() {
    let server = server!();
    let tmp = tempfile::tempdir().unwrap();
    let dir = counting_set(&tmp.path().join("set"), 0.2);

    // Waiting for the lock: one applies, the others find it done.
    let db = counting_database(server);
    let runs_of = race(
        16,
        &dir,
        db.url(),
        &["--json", "--lock-timeout", "60s"],
        &tmp.path().join("wait"),
    );
    let (mut appliers, mut waited, mut applied) = (0, 0, Vec::new());
    for r in &runs_of {
        assert_eq!(r.code, status("up to date"), "{r:?}");
        assert_eq!(r.err, "", "{r:?}");
        let doc = r.json();
        applied.extend(versions(&doc["applied"]));
        match doc["status"].as_str() {
            Some("applied") => appliers += 1,
            Some("up_to_date") if doc["lock_wait_ms"].as_f64().unwrap() > 0.0 => waited += 1,
            Some("up_to_date") => {}
            other => panic!("{other:?}: {r:?}"),
        }
    }
    let c = counts(&mut db.connect().unwrap(), "public");
    eprintln!(
        "16 processes: {appliers} applied, {waited} waited for the lock and found it done; \
         ledger {:?}, bodies committed {:?}, bodies run {}",
        c.ledger, c.runs, c.attempts
    );
    assert_eq!(appliers, 1, "{runs_of:?}");
    assert_eq!(applied, [1, 2, 3]);
    assert_eq!(
        c,
        Counts {
            ledger: vec![1, 2, 3],
            runs: once_each(&[1, 2, 3]),
            attempts: 3
        }
    );
    // A real race: some process asked for the lock while the applier held it.
    assert!(waited >= 1, "no process waited: {runs_of:?}");

    // Not waiting: those that found the lock held exit "in progress".
    let db = counting_database(server);
    let runs_of = race(
        16,
        &dir,
        db.url(),
        &["--json", "--no-wait"],
        &tmp.path().join("no-wait"),
    );
    let (mut applied, mut in_progress, mut up_to_date) = (0, 0, 0);
    let name = migrate_name(db.url());
    for r in &runs_of {
        let doc = r.json();
        match doc["status"].as_str() {
            Some("applied") => {
                assert_eq!(r.code, status("applied"), "{r:?}");
                assert_eq!(versions(&doc["applied"]), [1, 2, 3], "{r:?}");
                applied += 1;
            }
            Some("in_progress") => {
                assert_eq!(r.code, status("in progress"), "{r:?}");
                // One line, naming the database, not its URL.
                assert_eq!(r.err.lines().count(), 1, "{r:?}");
                assert!(
                    r.err.contains(&name) && r.err.contains("not waiting (--no-wait)"),
                    "{r:?}"
                );
                in_progress += 1;
            }
            // Started after the commit.
            Some("up_to_date") => {
                assert_eq!(r.code, status("up to date"), "{r:?}");
                up_to_date += 1;
            }
            other => panic!("{other:?}: {r:?}"),
        }
    }
    eprintln!(
        "16 --no-wait processes: {applied} applied, {in_progress} in progress, {up_to_date} up to date"
    );
    assert_eq!(applied, 1, "{runs_of:?}");
    assert!(in_progress >= 1, "none found the lock held: {runs_of:?}");
    assert_eq!(
        counts(&mut db.connect().unwrap(), "public"),
        Counts {
            ledger: vec![1, 2, 3],
            runs: once_each(&[1, 2, 3]),
            attempts: 3
        }
    );

    the_readme_postgres_line_three_services_start_together_and_exactly_one_migrates(
        server,
        &dir,
        &tmp.path().join("readme"),
    );
}

/// The Postgres line of the README's start-up recipe, as arguments after
/// `migrate-once`: the table row that replaces `alembic upgrade head`.
fn readme_postgres_line() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `alembic upgrade head`"))
        .expect("the README's row for alembic upgrade head");
    let cell = row.rsplit('|').nth(1).unwrap().trim();
    let line = cell
        .strip_prefix("`migrate-once ")
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("not a migrate-once line: {row}"));
    line.split_whitespace().map(String::from).collect()
}

/// Three processes run the README's Postgres line at once, as a shell
/// would expand it, on an empty database: one applies, two find it done.
fn the_readme_postgres_line_three_services_start_together_and_exactly_one_migrates(
    server: &TestServer,
    dir: &Path,
    work: &Path,
) {
    let line = readme_postgres_line();
    let db = counting_database(server);
    let args: Vec<OsString> = line
        .iter()
        .map(|a| match a.as_str() {
            "/app/migrations" => dir.as_os_str().to_owned(),
            "\"$DATABASE_URL\"" => db.url().into(),
            other => other.into(),
        })
        .collect();
    assert_eq!(args[..2], ["migrate".into(), dir.as_os_str().to_owned()]);
    assert!(args.contains(&db.url().into()), "{line:?}");
    let runs_of = Racers::ready(3, &args, work).go();
    for r in &runs_of {
        assert_eq!(r.code, 0, "{r:?}");
    }
    let appliers = runs_of
        .iter()
        .filter(|r| r.out.starts_with("applied 1 runs in "))
        .count();
    assert_eq!(appliers, 1, "{runs_of:?}");
    assert_eq!(
        counts(&mut db.connect().unwrap(), "public"),
        Counts {
            ledger: vec![1, 2, 3],
            runs: once_each(&[1, 2, 3]),
            attempts: 3
        }
    );
}

/// How `migrate` names the database of `url` (`database NAME on HOST:PORT`),
/// read from its own `--dry-run --json`.
fn migrate_name(url: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(tmp.path(), &[("0001_a.sql", "SELECT 1;")]);
    let doc = migrate(&dir, url, &["--dry-run", "--json"]).json();
    let name = doc["database"].as_str().unwrap().to_string();
    assert!(name.starts_with("database "), "{name}");
    name
}

// ---- SIGKILL ----

/// Four migrations that sleep 30 ms each inside the transaction, so that a
/// kill lands in the middle of a run.
fn kill_set(dir: &Path) -> PathBuf {
    let sleep = "SELECT pg_sleep(0.03);";
    set(
        dir,
        &[
            (
                "0001_runs.sql",
                &counted(
                    1,
                    &format!("CREATE TABLE runs (version bigint NOT NULL);\n{sleep}"),
                ),
            ),
            (
                "0002_items.sql",
                &counted(
                    2,
                    &format!("CREATE TABLE items (id bigserial PRIMARY KEY, name text);\n{sleep}"),
                ),
            ),
            (
                "0003_fill.sql",
                &counted(
                    3,
                    &format!(
                        "INSERT INTO items (name) SELECT 'item ' || i FROM generate_series(1, 5000) i;\n{sleep}"
                    ),
                ),
            ),
            (
                "0004_index.sql",
                &counted(
                    4,
                    &format!("CREATE INDEX items_by_name ON items (name);\n{sleep}"),
                ),
            ),
        ],
    )
}

#[cfg(unix)]
#[test]
fn sigkill_at_six_instants_leaves_the_schema_untouched_or_complete_and_the_next_run_completes() {
    const KILLS: u32 = 6;
    let server = server!();
    let tmp = tempfile::tempdir().unwrap();
    let dir = kill_set(&tmp.path().join("set"));
    let db = counting_database(server);
    let mut client = db.connect().unwrap();
    let all = [1, 2, 3, 4];
    // Each kill on a schema of its own (--schema): created by the run,
    // under the lock, in its transaction.
    let spawn = |schema: &str| {
        bin()
            .arg("migrate")
            .arg(&dir)
            .args(["--database-url", db.url(), "--schema", schema])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn migrate-once")
    };
    let relations = |client: &mut Client, schema: &str| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1",
                &[&schema],
            )
            .unwrap()
            .get(0)
    };
    // How long a whole run takes, start to exit, to spread the kills over.
    let started = Instant::now();
    assert!(spawn("calibration").wait().unwrap().success());
    let span = started.elapsed();
    assert_eq!(counts(&mut client, "calibration").runs, once_each(&all));

    let (mut before_any_body, mut mid_run, mut complete) = (0, 0, 0);
    let mut landed = Vec::new();
    for k in 0..KILLS {
        let schema = format!("kill_{k}");
        let attempts_before = counts(&mut client, "public").attempts;
        // From the start to a quarter past the end of a whole run.
        let at = span.mul_f64(1.25 * f64::from(k) / f64::from(KILLS - 1));
        let mut child = spawn(&schema);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();

        let after_kill = counts(&mut client, &schema);
        let state = if after_kill.ledger.is_empty() {
            // Untouched: not a table, index or sequence; the schema itself
            // was created in the transaction that died.
            assert_eq!(
                relations(&mut client, &schema),
                0,
                "kill {k} at {at:?}: {after_kill:?}"
            );
            assert!(after_kill.runs.is_empty(), "kill {k}: {after_kill:?}");
            "untouched"
        } else {
            assert_eq!(
                after_kill.ledger, all,
                "a partial ledger: kill {k} at {at:?}"
            );
            assert_eq!(after_kill.runs, once_each(&all), "kill {k} at {at:?}");
            complete += 1;
            "complete"
        };

        let next = migrate(&dir, db.url(), &["--schema", &schema]);
        assert_eq!(next.code, 0, "the run after kill {k} at {at:?}: {next:?}");
        let after = counts(&mut client, &schema);
        assert_eq!(after.ledger, all, "kill {k}");
        assert_eq!(after.runs, once_each(&all), "kill {k}");
        // Bodies that ran in the killed transaction and were rolled back.
        let rolled_back = after.attempts - attempts_before - 4;
        if state == "untouched" {
            if rolled_back > 0 || after_kill.attempts > attempts_before {
                mid_run += 1;
            } else {
                before_any_body += 1;
            }
        } else {
            assert_eq!(rolled_back, 0, "kill {k}: completed, yet bodies ran again");
        }
        landed.push(format!("{}ms:{state}+{rolled_back}", at.as_millis()));
    }
    eprintln!(
        "a whole run took {span:?}; {KILLS} kills: {before_any_body} before any body ran, {mid_run} \
         mid-run (left untouched, bodies rolled back), {complete} after the commit; {}",
        landed.join(" ")
    );
    assert!(
        mid_run >= 1,
        "no kill landed inside the migration: {landed:?}"
    );
}

// ---- grouped: one server per process ----

// Under cargo-nextest every test is a process, and a process without
// DATABASE_URL starts a throwaway server of its own (initdb: 1.5 s on an
// idle core). These stories are light, so they share processes; each is a
// function of its own, which a failure names.

#[test]
fn an_edited_set_a_dry_run_and_status_change_nothing_and_every_exit_status_is_seen() {
    let server = server!();
    a_set_edited_after_it_was_applied_is_refused_naming_the_file_and_nothing_runs(server);
    dry_run_lists_what_would_be_applied_in_order_and_leaves_catalog_and_ledger_as_they_were(server);
    status_on_postgres_lists_applied_pending_drifted_and_unknown_and_changes_nothing(server);
    every_exit_status_in_migrate_help_is_what_a_postgres_run_exits_with(server);
}

#[test]
fn check_and_stress_on_postgres_work_in_a_temporary_database_and_leave_nothing() {
    let server = server!();
    check_on_postgres_applies_to_a_temporary_database_validates_and_says_downs_are_sqlite_only(
        server,
    );
    stress_on_postgres_passes_counting_every_body_exactly_once_and_leaves_nothing(server);
}

// ---- bad input ----

fn a_set_edited_after_it_was_applied_is_refused_naming_the_file_and_nothing_runs(
    server: &TestServer,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = counting_set(&tmp.path().join("set"), 0.0);
    let db = counting_database(server);
    assert_eq!(migrate(&dir, db.url(), &[]).code, status("applied"));
    let mut client = db.connect().unwrap();
    let before = (catalog(&mut client), attempts(&mut client));

    // Migration 2 edited, and a new migration 4 that must not run.
    let edited = dir.join("0002_items.sql");
    std::fs::write(
        &edited,
        counted(
            2,
            "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, price int);",
        ),
    )
    .unwrap();
    std::fs::write(dir.join("0004_more.sql"), counted(4, "SELECT 1;")).unwrap();
    for args in [&[][..], &["--dry-run"][..], &["--json"][..]] {
        let r = migrate(&dir, db.url(), args);
        assert_eq!(r.code, status("bad input"), "{args:?}: {r:?}");
        assert!(
            r.err.contains(&format!(
                "migration 2 (items) in {} was changed after",
                edited.display()
            )) && r
                .err
                .contains("add a new migration instead of editing an applied one"),
            "{args:?}: {r:?}"
        );
        // The database is the application's: no hint to delete it.
        assert!(!r.err.contains("deleted"), "{args:?}: {r:?}");
    }
    assert_eq!((catalog(&mut client), attempts(&mut client)), before);

    // A set that lacks an applied migration: the database is ahead of it.
    let older = part_of(&dir, &tmp.path().join("older"), &["0001_runs.sql"]);
    for args in [&[][..], &["--dry-run"][..]] {
        let r = migrate(&older, db.url(), args);
        assert_eq!(r.code, status("bad input"), "{r:?}");
        assert!(
            r.err
                .contains("has applied migration 2 (items), which the migration set does not have"),
            "{r:?}"
        );
    }
    assert_eq!((catalog(&mut client), attempts(&mut client)), before);
}

/// A URL at which nothing listens (port 1 of the loopback interface).
const NOBODY: &str = "postgres://app:s3cret@127.0.0.1:1/shop";

#[test]
fn a_statement_postgres_cannot_run_in_a_transaction_is_bad_input_before_anything_connects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(
        tmp.path(),
        &[
            ("0001_items.sql", "CREATE TABLE items (name text);"),
            (
                "0002_index.sql",
                "-- built without locking the table\nCREATE INDEX CONCURRENTLY items_by_name ON items (name);",
            ),
        ],
    );
    for args in [&[][..], &["--dry-run"][..]] {
        // No server: refused before connecting, not after ten seconds of
        // trying.
        let r = migrate(&dir, NOBODY, args);
        assert_eq!(r.code, status("bad input"), "{args:?}: {r:?}");
        assert!(r.took < Duration::from_secs(5), "{r:?}");
        assert!(
            r.err
                .contains(&dir.join("0002_index.sql").display().to_string())
                && r.err.contains("CREATE INDEX CONCURRENTLY")
                && r.err.contains("-- no-transaction"),
            "{r:?}"
        );
    }
}

#[test]
fn exactly_one_database_is_named_and_database_url_is_never_read_in_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(tmp.path(), &[("0001_a.sql", "CREATE TABLE a (x int);")]);
    let dir = dir.to_str().unwrap();
    // Neither: a usage error, which names DATABASE_URL when it is set
    // (and does not try it: nothing listens there, yet it is at once).
    let started = Instant::now();
    let out = bin()
        .args(["migrate", dir])
        .env("DATABASE_URL", NOBODY)
        .output()
        .unwrap();
    let r = Run::of(out, started.elapsed());
    assert_eq!(r.code, status("usage"), "{r:?}");
    assert!(
        r.err
            .contains("missing --database PATH (a SQLite file) or --database-url URL")
            && r.err.contains("DATABASE_URL is set but not read")
            && r.err.contains("--database-url \"$DATABASE_URL\""),
        "{r:?}"
    );
    assert!(!r.err.contains("s3cret"), "{r:?}");
    assert!(r.took < Duration::from_secs(5), "{r:?}");
    let db = tmp.path().join("app.db");
    let db = db.to_str().unwrap();
    for args in [
        &["migrate", dir, "--database", db, "--database-url", NOBODY][..],
        &["migrate", dir, "--database", db, "--schema", "app"],
        &["status", "--schema", "app", db],
        &["check", dir, "--database-url", NOBODY, "--postgres"],
        &[
            "check",
            dir,
            "--database-url",
            NOBODY,
            "--snapshot",
            "x.sql",
        ],
        &["check", dir, "--postgres", "--require-downs"],
        &["stress", dir, "--database-url", NOBODY, "--iterations", "5"],
    ] {
        let r = run(args);
        assert_eq!(r.code, status("usage"), "{args:?}: {r:?}");
        assert!(!r.err.contains("s3cret"), "{r:?}");
    }
    // Understood, but not a Postgres URL: bad input, as a path that cannot
    // be a file is.
    for (url, says) in [
        ("sqlite:app.db", "for a SQLite file give --database PATH"),
        ("sqlite://app.db", "for a SQLite file give --database PATH"),
        ("mysql://db/app", "postgres://… or postgresql://…"),
        ("host=db port=notaport", "does not parse"),
    ] {
        let r = run(&["migrate", dir, "--database-url", url]);
        assert_eq!(r.code, status("bad input"), "{url}: {r:?}");
        assert!(r.err.contains(says), "{url}: {r:?}");
    }
    assert!(!Path::new(db).exists());
}

#[test]
fn a_server_that_does_not_answer_is_failed_after_connect_timeout_and_the_password_is_not_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(tmp.path(), &[("0001_a.sql", "CREATE TABLE a (x int);")]);
    let r = migrate(&dir, NOBODY, &["--connect-timeout", "1s", "--json"]);
    assert_eq!(r.code, status("failed"), "{r:?}");
    // Tried again until the timeout: a database container may still be
    // starting.
    assert!(r.took >= Duration::from_secs(1), "{r:?}");
    assert!(
        r.err
            .contains("cannot connect to database shop on 127.0.0.1:1 (tried for")
            && r.err.contains("nothing was applied"),
        "{r:?}"
    );
    assert_eq!(r.json()["database"], "database shop on 127.0.0.1:1");
    assert!(
        !r.err.contains("s3cret") && !r.out.contains("s3cret"),
        "{r:?}"
    );
    let status_run = run(&["status", "--database-url", NOBODY]);
    assert_eq!(status_run.code, 1, "{status_run:?}");
    assert!(!status_run.err.contains("s3cret"), "{status_run:?}");
}

// ---- the exit status table ----

fn every_exit_status_in_migrate_help_is_what_a_postgres_run_exits_with(server: &TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = counting_set(&tmp.path().join("v2"), 0.0);
    let v1 = part_of(
        &v2,
        &tmp.path().join("v1"),
        &["0001_runs.sql", "0002_items.sql"],
    );
    let broken = counting_set(&tmp.path().join("broken"), 0.0);
    std::fs::write(
        broken.join("0003_index.sql"),
        counted(3, "CREATE INDEX items_by_name ON items (no_such_column);"),
    )
    .unwrap();
    let db = counting_database(server);
    let url = db.url();
    let mut seen = Vec::new();
    let mut saw = |name: &str, r: &Run| {
        assert_eq!(r.code, status(name), "{name}: {r:?}");
        if !seen.contains(&name.to_string()) {
            seen.push(name.to_string());
        }
    };

    let r = migrate(&v1, url, &["--json"]);
    saw("applied", &r);
    assert_eq!(r.json()["status"], "applied");
    let r = migrate(&v1, url, &[]);
    saw("up to date", &r);
    assert!(r.out.contains(": up to date, all 2 migrations"), "{r:?}");
    saw(
        "usage",
        &run(&["migrate", "--database", "a.db", "--database-url", url]),
    );
    saw("bad input", &migrate(&v1, "sqlite:app.db", &[]));

    let mut client = db.connect().unwrap();
    let before = catalog(&mut client);
    let r = migrate(&broken, url, &["--json"]);
    saw("failed", &r);
    assert!(
        r.err
            .contains(&broken.join("0003_index.sql").display().to_string())
            && r.err.contains("no_such_column")
            && r.err.contains("nothing was applied"),
        "{r:?}"
    );
    assert_eq!(r.json()["status"], "failed");
    assert_eq!(catalog(&mut client), before, "the failed run left nothing");

    // Another session holds the migrator's lock, as a migrating process would.
    let mut holder = db.connect().unwrap();
    let mut tx = holder.transaction().unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key("public")])
        .unwrap();
    let r = migrate(&v2, url, &["--no-wait"]);
    saw("in progress", &r);
    assert_eq!(r.out, "", "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "one line: {r:?}");
    assert!(r.took < Duration::from_secs(5), "at once: {r:?}");
    let r = migrate(&v2, url, &["--lock-timeout", "500ms"]);
    saw("timed out", &r);
    assert!(r.took >= Duration::from_millis(500), "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "one line: {r:?}");
    assert!(
        r.err.contains("gave up after waiting")
            && r.err.contains("migration lock (an advisory lock)")
            && r.err.contains("--lock-timeout 500.00 ms"),
        "{r:?}"
    );
    tx.rollback().unwrap();

    // A lock one of the migrations needs, held past --lock-timeout: timed
    // out too (a retry may pass), and nothing applied.
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let r = migrate(&v2, url, &["--lock-timeout", "500ms", "--json"]);
    saw("timed out", &r);
    // The bound holds: no second wait to name the statement.
    assert!(r.took < Duration::from_secs(10), "{r:?}");
    assert!(
        r.err
            .contains("waited longer than --lock-timeout 500.00 ms for a lock")
            && r.err.contains("0003_index.sql"),
        "{r:?}"
    );
    assert_eq!(r.json()["status"], "timed_out");
    tx.rollback().unwrap();
    assert_eq!(catalog(&mut client), before);
    assert_eq!(migrate(&v2, url, &[]).code, status("applied"));

    let names: Vec<&String> = statuses().iter().map(|(n, _)| n).collect();
    seen.sort();
    let mut all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "every status of the table, seen on Postgres");
}

// ---- dry run and app ledgers ----

fn dry_run_lists_what_would_be_applied_in_order_and_leaves_catalog_and_ledger_as_they_were(
    server: &TestServer,
) {
    let tmp = tempfile::tempdir().unwrap();
    let v3 = counting_set(&tmp.path().join("v3"), 0.0);
    let v1 = part_of(&v3, &tmp.path().join("v1"), &["0001_runs.sql"]);
    let db = counting_database(server);
    let mut client = db.connect().unwrap();
    let name = migrate_name(db.url());

    // Nothing applied: everything would be; no ledger, no schema made,
    // no body run.
    let before = (catalog(&mut client), attempts(&mut client));
    let r = migrate(&v3, db.url(), &["--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.out,
        format!(
            "would apply 1 runs\nwould apply 2 items\nwould apply 3 index\n\
             dry run: 3 to apply, 0 to adopt, 0 applied before; {name} was not changed (read in \
             a READ ONLY transaction)\n"
        )
    );
    let r = migrate(&v3, db.url(), &["--dry-run", "--schema", "tenant_a"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .contains("has no schema tenant_a (migrate would create it)"),
        "{r:?}"
    );
    assert_eq!((catalog(&mut client), attempts(&mut client)), before);

    // Part applied (with sqlx's ledger): the rest, in order, and not a row
    // or a relation changes.
    assert_eq!(
        migrate(&v1, db.url(), &["--app-ledger", "sqlx"]).code,
        status("applied")
    );
    let before = (catalog(&mut client), attempts(&mut client));
    let doc = migrate(
        &v3,
        db.url(),
        &["--dry-run", "--json", "--app-ledger", "sqlx"],
    )
    .json();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["status"], "pending");
    assert_eq!(versions(&doc["would_apply"]), [2, 3]);
    assert_eq!(doc["already_applied"], 1);
    assert_eq!((catalog(&mut client), attempts(&mut client)), before);

    // What the dry run listed is what migrate then applies, and sqlx's
    // ledger records it too.
    let applied = migrate(&v3, db.url(), &["--json", "--app-ledger", "sqlx"]).json();
    assert_eq!(versions(&applied["applied"]), [2, 3]);
    let sqlx: Vec<(i64, bool)> = client
        .query(
            "SELECT version, success FROM _sqlx_migrations ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(sqlx, [(1, true), (2, true), (3, true)]);
    let doc = migrate(&v3, db.url(), &["--dry-run", "--json"]).json();
    assert_eq!(doc["status"], "up_to_date");
}

// ---- status, check, stress ----

fn status_on_postgres_lists_applied_pending_drifted_and_unknown_and_changes_nothing(
    server: &TestServer,
) {
    let tmp = tempfile::tempdir().unwrap();
    let v3 = counting_set(&tmp.path().join("v3"), 0.0);
    let v2 = part_of(
        &v3,
        &tmp.path().join("v2"),
        &["0001_runs.sql", "0002_items.sql"],
    );
    let db = counting_database(server);
    let mut client = db.connect().unwrap();
    assert_eq!(migrate(&v2, db.url(), &["--app-ledger", "sqlx"]).code, 0);
    let before = (catalog(&mut client), attempts(&mut client));
    let status_of = |dir: Option<&Path>, extra: &[&str]| {
        let mut cmd = bin();
        cmd.args(["status", "--database-url", db.url()]).args(extra);
        if let Some(dir) = dir {
            cmd.arg(dir);
        }
        let started = Instant::now();
        Run::of(cmd.output().unwrap(), started.elapsed())
    };

    let r = status_of(Some(&v3), &[]);
    assert_eq!(r.code, 0, "pending is fine: {r:?}");
    let name = migrate_name(db.url());
    assert!(
        r.out
            .starts_with(&format!("{name}: 2 migration(s) in its ledger\n")),
        "{r:?}"
    );
    let state_of = |out: &str, name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .and_then(|l| l.split_whitespace().last())
            .map(String::from)
    };
    assert_eq!(
        state_of(&r.out, "runs").as_deref(),
        Some("applied"),
        "{r:?}"
    );
    assert_eq!(
        state_of(&r.out, "items").as_deref(),
        Some("applied"),
        "{r:?}"
    );
    assert_eq!(
        state_of(&r.out, "index").as_deref(),
        Some("pending"),
        "{r:?}"
    );
    assert!(
        r.out
            .contains("sqlx's ledger (_sqlx_migrations): 2 version(s): 1, 2")
            && r.out.contains("1 pending, 0 drifted or unknown"),
        "{r:?}"
    );
    // The template cache is SQLite's: not a word of it here.
    assert!(!r.out.contains("template"), "{r:?}");

    // Edited since: drifted; a set without migration 2: unknown. Exit 1.
    std::fs::write(
        v3.join("0002_items.sql"),
        counted(2, "CREATE TABLE items (id bigserial PRIMARY KEY);"),
    )
    .unwrap();
    let r = status_of(Some(&v3), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        state_of(&r.out, "items").as_deref(),
        Some("drifted"),
        "{r:?}"
    );
    std::fs::remove_file(v2.join("0002_items.sql")).unwrap();
    let r = status_of(Some(&v2), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        state_of(&r.out, "items").as_deref(),
        Some("unknown"),
        "{r:?}"
    );

    // Without a set: the ledger, exit 0. Another schema: nothing applied.
    let r = status_of(None, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains("2 migration(s) in its ledger"), "{r:?}");
    let r = status_of(None, &["--schema", "tenant_b"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out.contains("(schema tenant_b) on ") && r.out.contains(": 0 migration(s)"),
        "{r:?}"
    );
    assert_eq!(
        (catalog(&mut client), attempts(&mut client)),
        before,
        "status changed the database"
    );
}

/// A Postgres set with a down, and one whose third migration fails.
fn check_sets(tmp: &Path) -> (PathBuf, PathBuf) {
    let good = set(
        &tmp.join("good"),
        &[
            (
                "0001_users.up.sql",
                "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);",
            ),
            ("0001_users.down.sql", "DROP TABLE users;"),
            (
                "0002_posts.up.sql",
                "CREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));\n\
                 CREATE VIEW post_counts AS SELECT user_id, count(*) AS n FROM posts GROUP BY user_id;",
            ),
            (
                "0003_audit.up.sql",
                "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
                 CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();",
            ),
        ],
    );
    let broken = set(
        &tmp.join("broken"),
        &[
            (
                "0001_users.up.sql",
                "CREATE TABLE users (id bigserial PRIMARY KEY);",
            ),
            (
                "0002_posts.up.sql",
                "CREATE TABLE posts (id bigserial PRIMARY KEY);",
            ),
            (
                "0003_bad.up.sql",
                "ALTER TABLE posts ADD COLUMN title text;\nALTER TABLE posts ADD COLUMN user_id bigint REFERENCES people (id);",
            ),
        ],
    );
    (good, broken)
}

fn check_on_postgres_applies_to_a_temporary_database_validates_and_says_downs_are_sqlite_only(
    server: &TestServer,
) {
    let tmp = tempfile::tempdir().unwrap();
    let (good, broken) = check_sets(tmp.path());
    let check = |dir: &Path, extra: &[&str]| {
        let mut cmd = bin();
        cmd.arg("check").arg(dir).args(extra);
        let started = Instant::now();
        Run::of(cmd.output().unwrap(), started.elapsed())
    };

    let r = check(&good, &["--database-url", server.url()]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.out.lines().collect();
    assert_eq!(lines.len(), 5, "{r:?}");
    assert!(lines[0].starts_with("load: ok, 3 migrations in "), "{r:?}");
    assert!(
        lines[1]
            .starts_with("apply: ok, 3 migrations applied to a temporary database (migrate_once_")
            && lines[1].contains("on the server of --database-url")
            && lines[1].contains(", Postgres "),
        "{r:?}"
    );
    assert!(lines[2].starts_with("validate: ok"), "{r:?}");
    assert_eq!(
        lines[3],
        "reversibility: not run: the library runs downs on SQLite only (1 of 3 migrations have a down)"
    );
    assert!(lines[4].starts_with("check: ok (3 migrations, "), "{r:?}");
    let (name, left) = temporary_database_left(server, &r.out);
    assert!(!left, "{name} was not dropped");

    let r = check(&broken, &["--database-url", server.url()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.err
            .contains(&broken.join("0003_bad.up.sql").display().to_string())
            && r.err.contains("statement 2 (line 2)")
            && r.err.contains("\"people\" does not exist")
            && r.err.ends_with("check: FAIL at apply\n"),
        "{r:?}"
    );

    // The SQLite-only steps are refused, not skipped in silence.
    let r = check(&good, &["--database-url", server.url(), "--data"]);
    assert_eq!(r.code, status("usage"), "{r:?}");
    assert!(r.err.contains("SQLite-only"), "{r:?}");

    // --postgres: a throwaway server of its own (where this test has one
    // too, so the binaries are there).
    if server.is_throwaway() {
        let r = check(&good, &["--postgres"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.out.contains("on a throwaway server (initdb"), "{r:?}");
    } else {
        eprintln!("SKIPPED: check --postgres (DATABASE_URL's server: no throwaway one here)");
    }
}

fn stress_on_postgres_passes_counting_every_body_exactly_once_and_leaves_nothing(
    server: &TestServer,
) {
    let tmp = tempfile::tempdir().unwrap();
    let (good, broken) = check_sets(tmp.path());
    // Rounds, threads, processes, kills.
    let stress = |dir: &Path, [r, t, p, k]: [&str; 4]| {
        let started = Instant::now();
        let out = bin()
            .arg("stress")
            .arg(dir)
            .args(["--database-url", server.url()])
            .args([
                "--rounds",
                r,
                "--threads",
                t,
                "--processes",
                p,
                "--kills",
                k,
            ])
            .arg("--no-progress")
            .output()
            .unwrap();
        Run::of(out, started.elapsed())
    };

    let r = stress(&good, ["2", "4", "3", "3"]);
    eprintln!("{}", r.out);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.out.contains(", Postgres "), "{r:?}");
    for (scenario, counted) in [
        ("shared db (2 rounds x 4 threads)", " 6/6"),
        ("processes (2 rounds x 3)", " 6/6"),
        ("SIGKILL mid-migration (3)", " 9/9"),
    ] {
        let row = r
            .out
            .lines()
            .find(|l| l.starts_with(scenario))
            .unwrap_or_else(|| panic!("no row {scenario}: {r:?}"));
        assert!(row.ends_with(counted), "{row}");
        let errors: usize = row
            .split_whitespace()
            .rev()
            .nth(4)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(errors, 0, "{row}");
    }
    assert!(r.out.contains("\nPASS: zero errors"), "{r:?}");
    assert!(!r.out.contains("per-test dbs"), "SQLite's scenario: {r:?}");
    let (name, left) = temporary_database_left(server, &r.out);
    assert!(!left, "{name} was not dropped");

    // A set that fails: exit 1, the error printed once (for every round,
    // schema and process it failed in), naming the file.
    let r = stress(&broken, ["2", "2", "2", "1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.out.contains("\nFAIL in "), "{r:?}");
    let file = broken.join("0003_bad.up.sql").display().to_string();
    assert_eq!(
        r.err
            .matches(&format!("migration 3 (bad) in {file} failed"))
            .count(),
        1,
        "{r:?}"
    );
    let (name, left) = temporary_database_left(server, &r.out);
    assert!(!left, "{name} was not dropped");
}
