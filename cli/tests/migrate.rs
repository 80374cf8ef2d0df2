//! `migrate-once migrate` as containers and deploy scripts run it: the
//! built command, spawned, many at once, killed; what it leaves in the
//! database (ledger rows, and a `runs` table each migration's body inserts
//! into, so that a body that ran twice, or half, shows), its exit status
//! and what it prints.
//!
//! Exit statuses are never written here as numbers: [`status`] reads them
//! by name from the table `migrate --help` prints, so every assertion on a
//! status also checks that the help tells the truth.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Racers, Run, bin, run, set, status, statuses, versions};
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha384};

/// `migrate-once migrate DIR --database DB ARGS...`.
fn migrate(dir: &Path, db: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let output = bin()
        .arg("migrate")
        .arg(dir)
        .arg("--database")
        .arg(db)
        .args(args)
        .output()
        .expect("run migrate-once");
    Run::of(output, started.elapsed())
}

/// Migration 1 of every set here: the table each body reports to.
const RUNS: (&str, &str) = (
    "0001_runs.sql",
    "CREATE TABLE runs (version INTEGER NOT NULL);\nINSERT INTO runs VALUES (1);\n",
);

/// A statement that keeps SQLite busy for about half a second in a debug
/// build on an idle core, holding the write lock: a recursive CTE that
/// counts to a million.
const SLOW: &str = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000)\n\
                    SELECT count(*) FROM c;\n";

/// Three migrations, the second slow: long enough that processes started
/// together find its write lock held.
fn slow_set(dir: &Path) -> PathBuf {
    set(
        dir,
        &[
            RUNS,
            (
                "0002_slow.sql",
                &format!("{SLOW}INSERT INTO runs VALUES (2);\n"),
            ),
            (
                "0003_items.sql",
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO runs VALUES (3);\n",
            ),
        ],
    )
}

/// The versions in the crate's ledger; empty when there is no ledger (or
/// no file).
fn ledger(db: &Path) -> Vec<i64> {
    if !db.exists() {
        return Vec::new();
    }
    let conn = Connection::open(db).unwrap();
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE name = '_migrate_once_ledger'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    if exists.is_none() {
        return Vec::new();
    }
    let mut stmt = conn
        .prepare("SELECT version FROM _migrate_once_ledger ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// How many times each migration's body has committed: `(version, times)`
/// from the `runs` table; empty when there is none.
fn runs(db: &Path) -> Vec<(i64, i64)> {
    if !db.exists() {
        return Vec::new();
    }
    let conn = Connection::open(db).unwrap();
    let Ok(mut stmt) =
        conn.prepare("SELECT version, count(*) FROM runs GROUP BY version ORDER BY version")
    else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Each of `versions` ran exactly once.
fn once_each(versions: &[i64]) -> Vec<(i64, i64)> {
    versions.iter().map(|&v| (v, 1)).collect()
}

fn integrity(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Every file in `dir` with its bytes: the database and any journal beside it.
fn files(dir: &Path) -> BTreeMap<OsString, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = if e.path().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.file_name(), bytes)
        })
        .collect()
}

// ---- the exit status table ----

#[test]
fn help_lists_seven_exit_statuses_and_both_readmes_list_the_same() {
    let table = statuses();
    let names: Vec<&str> = table.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "up to date",
            "applied",
            "failed",
            "usage",
            "bad input",
            "in progress",
            "timed out"
        ]
    );
    // Success is 0 both ways (containers expect it); every failure has a
    // number of its own; the command line is 2, as for every command.
    assert_eq!((status("up to date"), status("applied")), (0, 0));
    let failures: std::collections::BTreeSet<i32> = table[2..].iter().map(|(_, c)| *c).collect();
    assert_eq!(failures.len(), 5, "{table:?}");
    assert!(!failures.contains(&0), "{table:?}");
    assert_eq!(status("usage"), 2);
    assert_eq!(run(&["migrate"]).code, status("usage"), "no --database");

    // `help migrate` is the same text, and the READMEs' tables are this one.
    let help = run(&["migrate", "--help"]).out;
    assert_eq!(run(&["help", "migrate"]).out, help);
    // One table for both backends, in every build: Postgres's runs exit
    // with these numbers too (cli/tests/postgres.rs walks every row).
    assert!(
        help.starts_with("migrate-once migrate [DIR] --database PATH | --database-url URL"),
        "{help}"
    );
    assert!(
        help.contains("DATABASE_URL is not read in its place"),
        "{help}"
    );
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for readme in [manifest.join("README.md"), manifest.join("../README.md")] {
        let text = std::fs::read_to_string(&readme).unwrap();
        for (name, code) in table {
            let row = format!("| {code} | {name} |");
            assert!(text.contains(&row), "{} lacks `{row}`", readme.display());
        }
    }
}

// ---- one process ----

#[test]
fn migrate_creates_the_file_prints_a_line_per_migration_then_finds_it_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(
        &tmp.path().join("set"),
        &[
            RUNS,
            (
                "0002_users.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY);\nINSERT INTO runs VALUES (2);\n",
            ),
        ],
    );
    let db = tmp.path().join("app.db");
    assert!(!db.exists());

    let first = migrate(&dir, &db, &[]);
    assert_eq!(first.code, status("applied"), "{first:?}");
    let lines: Vec<&str> = first.out.lines().collect();
    assert_eq!(lines.len(), 3, "{first:?}");
    assert!(
        lines[0].starts_with("applied 1 runs in ") && lines[0].ends_with(" ms"),
        "{first:?}"
    );
    assert!(lines[1].starts_with("applied 2 users in "), "{first:?}");
    assert!(
        lines[2].starts_with(&format!("{}: 2 applied in ", db.display())),
        "{first:?}"
    );
    assert_eq!(first.err, "");
    assert_eq!(ledger(&db), [1, 2]);
    assert_eq!(runs(&db), once_each(&[1, 2]));

    let again = migrate(&dir, &db, &[]);
    assert_eq!(again.code, status("up to date"), "{again:?}");
    assert_eq!(
        again.out,
        format!(
            "{}: up to date, all 2 migrations of {} applied (set {})\n",
            db.display(),
            dir.display(),
            &first_set_hash(&dir)[..12]
        )
    );
    assert_eq!(runs(&db), once_each(&[1, 2]));

    // The same two outcomes as scripts read them.
    let db2 = tmp.path().join("json.db");
    let applied = migrate(&dir, &db2, &["--json"]).json();
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["exit_status"], status("applied"));
    assert_eq!(versions(&applied["applied"]), [1, 2]);
    assert!(applied["applied"][0]["execution_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(applied["applied"][1]["name"], "users");
    assert_eq!(applied["already_applied"], 0);
    assert_eq!(applied["set"], first_set_hash(&dir));
    let again = migrate(&dir, &db2, &["--json"]).json();
    assert_eq!(again["status"], "up_to_date");
    assert_eq!(again["applied"], serde_json::json!([]));
    assert_eq!(again["already_applied"], 2);
}

fn first_set_hash(dir: &Path) -> String {
    migrate_once::Migrations::from_dir(dir)
        .unwrap()
        .hash()
        .to_string()
}

#[test]
fn a_migration_that_fails_is_failed_names_its_file_and_applies_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let good = set(&tmp.path().join("good"), &[RUNS]);
    let db = tmp.path().join("db").join("app.db");
    std::fs::create_dir(db.parent().unwrap()).unwrap();
    assert_eq!(migrate(&good, &db, &[]).code, status("applied"));
    let before = files(db.parent().unwrap());

    let broken = set(
        &tmp.path().join("broken"),
        &[
            RUNS,
            (
                "0002_ok.sql",
                "CREATE TABLE ok (x);\nINSERT INTO runs VALUES (2);\n",
            ),
            ("0003_bad.sql", "INSERT INTO nowhere VALUES (1);\n"),
        ],
    );
    let r = migrate(&broken, &db, &["--json"]);
    assert_eq!(r.code, status("failed"), "{r:?}");
    assert!(
        r.err
            .contains(&broken.join("0003_bad.sql").display().to_string())
            && r.err.contains("no such table: nowhere"),
        "{r:?}"
    );
    assert_eq!(r.json()["status"], "failed");
    // Migration 2 ran and was rolled back with 3: the files are as they were.
    assert_eq!(files(db.parent().unwrap()), before);
    assert_eq!((ledger(&db), runs(&db)), (vec![1], once_each(&[1])));
}

// ---- many processes ----

fn race(n: usize, dir: &Path, db: &Path, extra: &[&str], work: &Path) -> Vec<Run> {
    let mut args: Vec<OsString> =
        vec!["migrate".into(), dir.into(), "--database".into(), db.into()];
    args.extend(extra.iter().map(OsString::from));
    Racers::ready(n, &args, work).go()
}

#[test]
fn sixteen_processes_at_once_apply_each_migration_exactly_once_and_all_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = slow_set(&tmp.path().join("set"));
    let db = tmp.path().join("app.db");
    let runs_of = race(
        16,
        &dir,
        &db,
        &["--json", "--lock-timeout", "60s"],
        tmp.path(),
    );

    let mut applied = Vec::new();
    let mut waited = 0;
    for r in &runs_of {
        assert_eq!(r.code, status("up to date"), "{r:?}");
        assert_eq!(r.err, "", "{r:?}");
        let doc = r.json();
        applied.extend(versions(&doc["applied"]));
        match doc["status"].as_str() {
            Some("applied") => {}
            Some("up_to_date") => {
                if doc["lock_wait_ms"].as_f64().unwrap() > 0.0 {
                    waited += 1;
                }
            }
            other => panic!("{other:?}: {r:?}"),
        }
    }
    let appliers = runs_of
        .iter()
        .filter(|r| r.json()["status"] == "applied")
        .count();
    eprintln!("16 processes: {appliers} applied, {waited} waited for its lock and found it done");
    assert_eq!(appliers, 1, "{runs_of:?}");
    // The applier's report, the ledger and the bodies agree: each once.
    assert_eq!(applied, [1, 2, 3]);
    assert_eq!(ledger(&db), [1, 2, 3]);
    assert_eq!(runs(&db), once_each(&[1, 2, 3]));
    // A real race: some process asked for the lock while the applier held it.
    assert!(waited >= 1, "no process waited: {runs_of:?}");
}

/// The `migrate-once migrate` lines of the README's docker-compose recipe,
/// as arguments after `migrate-once`.
fn readme_recipe() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let block = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split_once("```").expect("a closed block").0)
        .find(|b| b.contains("\nservices:\n"))
        .expect("the README's docker-compose recipe");
    block
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("\"migrate-once "))
        .map(|(_, rest)| {
            let (line, _) = rest.split_once(" &&").expect("`&& exec` the service");
            line.split_whitespace().map(String::from).collect()
        })
        .collect()
}

#[test]
fn the_readme_recipe_three_services_start_together_and_exactly_one_migrates() {
    let lines = readme_recipe();
    assert_eq!(lines.len(), 3, "three services: {lines:?}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = slow_set(&tmp.path().join("set"));
    let db = tmp.path().join("shop.db");
    // The recipe's paths, here.
    let args: Vec<OsString> = lines[0]
        .iter()
        .map(|a| match a.as_str() {
            "/app/migrations" => dir.clone().into_os_string(),
            "/data/shop.db" => db.clone().into_os_string(),
            other => other.into(),
        })
        .collect();
    assert!(lines.iter().all(|l| *l == lines[0]), "{lines:?}");
    assert_eq!(args[0], "migrate");
    assert!(
        args.contains(&dir.clone().into_os_string()) && args.contains(&db.clone().into_os_string())
    );

    let runs_of = Racers::ready(3, &args, tmp.path()).go();
    for r in &runs_of {
        assert_eq!(r.code, 0, "{r:?}");
    }
    let appliers: Vec<&Run> = runs_of
        .iter()
        .filter(|r| r.out.starts_with("applied 1 runs in "))
        .collect();
    assert_eq!(appliers.len(), 1, "{runs_of:?}");
    let done = runs_of
        .iter()
        .filter(|r| r.out.contains(": up to date, all 3 migrations"))
        .count();
    assert_eq!(done, 2, "{runs_of:?}");
    assert_eq!(runs(&db), once_each(&[1, 2, 3]));
}

#[test]
fn with_no_wait_the_processes_that_find_the_lock_held_exit_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = slow_set(&tmp.path().join("set"));
    let db = tmp.path().join("app.db");
    let runs_of = race(16, &dir, &db, &["--json", "--no-wait"], tmp.path());

    let (mut applied, mut in_progress, mut up_to_date) = (0, 0, 0);
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
                // One line, naming the database.
                assert_eq!(r.err.lines().count(), 1, "{r:?}");
                assert!(
                    r.err.contains(&db.display().to_string()) && r.err.contains("--no-wait"),
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
    assert_eq!(ledger(&db), [1, 2, 3]);
    assert_eq!(runs(&db), once_each(&[1, 2, 3]));
}

/// A connection of the test's own holding the database's write lock, as a
/// migrating process would.
fn hold_write_lock(db: &Path) -> Connection {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[test]
fn a_held_lock_is_in_progress_at_once_with_no_wait_and_timed_out_after_lock_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = set(&tmp.path().join("v1"), &[RUNS]);
    let v2 = slow_set(&tmp.path().join("v2"));
    let dbdir = tmp.path().join("db");
    std::fs::create_dir(&dbdir).unwrap();
    let db = dbdir.join("app.db");
    assert_eq!(migrate(&v1, &db, &[]).code, status("applied"));
    let before = files(&dbdir);

    let holder = hold_write_lock(&db);
    let r = migrate(&v2, &db, &["--no-wait"]);
    assert_eq!(r.code, status("in progress"), "{r:?}");
    assert_eq!(r.out, "", "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "one line: {r:?}");
    assert!(r.err.contains("not waiting (--no-wait)"), "{r:?}");
    assert!(r.took < Duration::from_secs(5), "at once: {r:?}");

    let r = migrate(&v2, &db, &["--lock-timeout", "1s"]);
    assert_eq!(r.code, status("timed out"), "{r:?}");
    assert!(r.took >= Duration::from_secs(1), "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "one line: {r:?}");
    assert!(
        r.err.contains("gave up after waiting") && r.err.contains("--lock-timeout 1.00 s"),
        "{r:?}"
    );
    let r = migrate(&v2, &db, &["--lock-timeout", "200ms", "--json"]);
    assert_eq!(r.json()["status"], "timed_out");
    drop(holder);

    // Nothing was applied or written.
    assert_eq!(files(&dbdir), before);
    assert_eq!((ledger(&db), runs(&db)), (vec![1], once_each(&[1])));
    // The lock released, the same command applies the rest.
    let r = migrate(&v2, &db, &["--lock-timeout", "1s"]);
    assert_eq!(r.code, status("applied"), "{r:?}");
    assert_eq!(runs(&db), once_each(&[1, 2, 3]));
}

// ---- SIGKILL ----

/// Rows the killed migration writes (about 1.2 MB, twice over).
const KILL_ROWS: u32 = 10_000;

/// A set whose run takes about a third of a second in a debug build,
/// writing most of the way: pages written, a CPU-bound count, the pages
/// rewritten and indexed.
fn kill_set(dir: &Path) -> PathBuf {
    set(
        dir,
        &[
            RUNS,
            (
                "0002_fill.sql",
                &format!(
                    "CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL);\n\
                     WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {KILL_ROWS})\n\
                     INSERT INTO filler (body) SELECT randomblob(120) FROM c;\n\
                     INSERT INTO runs VALUES (2);\n"
                ),
            ),
            (
                "0003_count.sql",
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 150000)\n\
                 SELECT count(*) FROM c;\nINSERT INTO runs VALUES (3);\n",
            ),
            (
                "0004_rewrite.sql",
                "UPDATE filler SET body = randomblob(130);\n\
                 CREATE INDEX filler_by_body ON filler(body);\nINSERT INTO runs VALUES (4);\n",
            ),
        ],
    )
}

#[cfg(unix)]
#[test]
fn sigkill_at_twenty_instants_leaves_nothing_or_everything_and_the_next_run_completes() {
    const KILLS: u32 = 20;
    let tmp = tempfile::tempdir().unwrap();
    let dir = kill_set(&tmp.path().join("set"));
    let all = [1, 2, 3, 4];
    let spawn = |db: &Path| {
        bin()
            .arg("migrate")
            .arg(&dir)
            .arg("--database")
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn migrate-once")
    };
    // How long a whole run takes, start to exit, to spread the kills over.
    let calibration = tmp.path().join("calibration.db");
    let started = Instant::now();
    let status_of_full_run = spawn(&calibration).wait().unwrap();
    let span = started.elapsed();
    assert!(status_of_full_run.success());
    assert_eq!(runs(&calibration), once_each(&all));

    let (mut no_file, mut empty, mut complete, mut exited, mut journals) = (0, 0, 0, 0, 0);
    let mut landed = Vec::new();
    for k in 0..KILLS {
        let db = tmp.path().join(format!("kill-{k}.db"));
        // From the start to a quarter past the end of a whole run.
        let at = span.mul_f64(1.25 * f64::from(k) / f64::from(KILLS - 1));
        let mut child = spawn(&db);
        std::thread::sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();

        // A journal left beside the file: the kill landed inside the
        // transaction after pages were written; the next open rolls it back.
        let journal = std::fs::metadata(tmp.path().join(format!("kill-{k}.db-journal")))
            .is_ok_and(|m| m.len() > 0);
        if journal {
            journals += 1;
        }
        let state = if !db.exists() {
            no_file += 1;
            "-"
        } else {
            assert_eq!(integrity(&db), "ok", "kill {k} at {at:?}");
            let after_kill = ledger(&db);
            // The ledger and the bodies committed together, or neither did.
            assert_eq!(runs(&db), once_each(&after_kill), "kill {k} at {at:?}");
            if after_kill.is_empty() {
                empty += 1;
                if journal { "J" } else { "0" }
            } else {
                assert_eq!(after_kill, all, "a partial ledger: kill {k} at {at:?}");
                complete += 1;
                "C"
            }
        };
        if finished {
            exited += 1;
        }
        landed.push(format!("{}ms:{state}", at.as_millis()));

        let next = migrate(&dir, &db, &[]);
        assert_eq!(next.code, 0, "the run after kill {k} at {at:?}: {next:?}");
        assert_eq!(ledger(&db), all, "kill {k}");
        assert_eq!(runs(&db), once_each(&all), "kill {k}");
        assert_eq!(integrity(&db), "ok", "kill {k}");
    }
    eprintln!(
        "a whole run took {span:?}; {KILLS} kills: {no_file} before the file existed, {empty} \
         left an empty ledger ({journals} with a journal to roll back: J), {complete} a complete \
         one (C; {exited} of the processes had exited); {}",
        landed.join(" ")
    );
    assert!(
        empty >= 1,
        "no kill landed inside the migration: {landed:?}"
    );
}

// ---- bad input ----

#[test]
fn a_set_edited_after_it_was_applied_is_refused_naming_the_file_and_nothing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(
        &tmp.path().join("set"),
        &[
            RUNS,
            (
                "0002_users.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY);\nINSERT INTO runs VALUES (2);\n",
            ),
        ],
    );
    let dbdir = tmp.path().join("db");
    std::fs::create_dir(&dbdir).unwrap();
    let db = dbdir.join("app.db");
    assert_eq!(migrate(&dir, &db, &[]).code, status("applied"));
    let before = files(&dbdir);

    // Migration 2 edited, and a new migration 3 that must not run.
    let edited = dir.join("0002_users.sql");
    std::fs::write(
        &edited,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\nINSERT INTO runs VALUES (2);\n",
    )
    .unwrap();
    std::fs::write(dir.join("0003_more.sql"), "INSERT INTO runs VALUES (3);\n").unwrap();
    for args in [&[][..], &["--dry-run"][..], &["--json"][..]] {
        let r = migrate(&dir, &db, args);
        assert_eq!(r.code, status("bad input"), "{args:?}: {r:?}");
        assert!(
            r.err.contains(&format!(
                "migration 2 (users) in {} was changed after",
                edited.display()
            )) && r
                .err
                .contains("add a new migration instead of editing an applied one"),
            "{args:?}: {r:?}"
        );
        // The database is the application's: no hint to delete it.
        assert!(!r.err.contains("deleted"), "{args:?}: {r:?}");
    }
    assert_eq!(files(&dbdir), before, "the database's bytes");
    assert_eq!((ledger(&db), runs(&db)), (vec![1, 2], once_each(&[1, 2])));

    // A set that lacks an applied migration: the database is ahead of it.
    let older = set(&tmp.path().join("older"), &[RUNS]);
    for args in [&[][..], &["--dry-run"][..]] {
        let r = migrate(&older, &db, args);
        assert_eq!(r.code, status("bad input"), "{r:?}");
        assert!(
            r.err
                .contains("has applied migration 2 (users), which the migration set does not have"),
            "{r:?}"
        );
    }
    assert_eq!(files(&dbdir), before);
}

#[test]
fn a_database_path_that_cannot_be_a_file_and_a_set_that_does_not_load_are_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set(&tmp.path().join("set"), &[RUNS]);
    let before = files(tmp.path());
    for (db, says) in [
        (tmp.path().to_path_buf(), "is a directory"),
        (tmp.path().join("no/such/dir/app.db"), "does not exist"),
        (PathBuf::from(":memory:"), "in-memory database"),
    ] {
        for args in [&[][..], &["--dry-run"][..]] {
            let r = migrate(&dir, &db, args);
            assert_eq!(r.code, status("bad input"), "{}: {r:?}", db.display());
            assert!(r.err.contains(says), "{r:?}");
        }
    }
    let r = migrate(&tmp.path().join("nope"), &tmp.path().join("app.db"), &[]);
    assert_eq!(r.code, status("bad input"), "{r:?}");
    assert!(r.err.contains("does not exist"), "{r:?}");
    assert_eq!(files(tmp.path()), before, "nothing was created");
}

#[test]
fn a_command_line_migrate_does_not_understand_is_the_usage_status() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("app.db");
    let db = db.to_str().unwrap();
    for args in [
        &["migrate"][..],
        &["migrate", "--database"],
        &[
            "migrate",
            "--database",
            db,
            "--no-wait",
            "--lock-timeout",
            "1s",
        ],
        &["migrate", "--database", db, "--lock-timeout", "soon"],
        &["migrate", "--database", db, "--app-ledger", "flyway"],
        &["migrate", "a", "b", "--database", db],
        // Two databases, whichever the build.
        &[
            "migrate",
            "--database",
            db,
            "--database-url",
            "postgres://localhost/app",
        ],
        // Postgres's options on a SQLite file.
        &["migrate", "--database", db, "--schema", "app"],
        &["migrate", "--database", db, "--connect-timeout", "5s"],
    ] {
        let r = run(args);
        assert_eq!(r.code, status("usage"), "{args:?}: {r:?}");
        assert!(!r.err.is_empty(), "{args:?}: says why");
    }
    assert!(!Path::new(db).exists());
}

// ---- dry run ----

#[test]
fn dry_run_lists_what_would_be_applied_in_order_and_changes_no_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = set(&tmp.path().join("v1"), &[RUNS]);
    let v3 = slow_set(&tmp.path().join("v3"));
    let dbdir = tmp.path().join("db");
    std::fs::create_dir(&dbdir).unwrap();
    let db = dbdir.join("app.db");

    // No file: everything would be applied, and no file is made.
    let r = migrate(&v3, &db, &["--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.out,
        format!(
            "would apply 1 runs\nwould apply 2 slow\nwould apply 3 items\n\
             dry run: 3 to apply, 0 to adopt, 0 applied before; {} does not exist (migrate would create it)\n",
            db.display()
        )
    );
    assert!(files(&dbdir).is_empty(), "{:?}", files(&dbdir));

    // Part applied: the rest, in order; not a byte changes, no journal.
    assert_eq!(migrate(&v1, &db, &[]).code, status("applied"));
    let before = files(&dbdir);
    let r = migrate(&v3, &db, &["--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.out
            .starts_with("would apply 2 slow\nwould apply 3 items\ndry run: 2 to apply"),
        "{r:?}"
    );
    let doc = migrate(&v3, &db, &["--dry-run", "--json"]).json();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["status"], "pending");
    assert_eq!(versions(&doc["would_apply"]), [2, 3]);
    assert_eq!(doc["already_applied"], 1);
    assert_eq!(files(&dbdir), before);
    assert_eq!(runs(&db), once_each(&[1]));

    // What the dry run listed is what migrate then applies.
    let applied = migrate(&v3, &db, &["--json"]).json();
    assert_eq!(versions(&applied["applied"]), [2, 3]);
    let doc = migrate(&v3, &db, &["--dry-run", "--json"]).json();
    assert_eq!(doc["status"], "up_to_date");
}

// ---- app ledgers ----

fn shop_sqlx() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/shop_sqlx")
}

/// `_sqlx_migrations` as `(version, description, success, checksum)`.
fn sqlx_rows(db: &Path) -> Vec<(i64, String, bool, Vec<u8>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn has_table(db: &Path, table: &str) -> bool {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |_| Ok(()),
    )
    .optional()
    .unwrap()
    .is_some()
}

#[test]
fn a_sqlx_layout_keeps_sqlx_ledger_with_sqlx_checksums_so_sqlx_finds_nothing_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shop.db");
    let r = migrate(&shop_sqlx(), &db, &["--json"]);
    assert_eq!(r.code, status("applied"), "{r:?}");
    assert_eq!(r.json()["app_ledgers"], serde_json::json!(["sqlx"]));

    // sqlx's checksum: the SHA-384 of each up file's bytes.
    let expected: Vec<(i64, String, bool, Vec<u8>)> = [
        (20240101120000, "products"),
        (20240102090000, "orders"),
        (20240103100000, "price in products rebuild"),
    ]
    .into_iter()
    .map(|(version, description)| {
        let file = format!("{version}_{}.up.sql", description.replace(' ', "_"));
        let bytes = std::fs::read(shop_sqlx().join(file)).unwrap();
        (
            version,
            description.to_string(),
            true,
            Sha384::digest(&bytes).to_vec(),
        )
    })
    .collect();
    assert_eq!(sqlx_rows(&db), expected);
    assert_eq!(
        ledger(&db),
        expected.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    // The parent table was rebuilt with foreign keys on; no child was lost.
    let conn = Connection::open(&db).unwrap();
    let lines: i64 = conn
        .query_row("SELECT count(*) FROM order_lines", [], |r| r.get(0))
        .unwrap();
    assert_eq!(lines, 2);
    drop(conn);

    // A database sqlx's migrator made (its ledger, not ours) is adopted:
    // the dry run says so, and migrate records it without running the SQL
    // (which would fail: the tables exist).
    Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TABLE _migrate_once_ledger")
        .unwrap();
    let plan = migrate(&shop_sqlx(), &db, &["--dry-run", "--json"]).json();
    assert_eq!(
        versions(&plan["would_adopt"]),
        expected.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    assert_eq!(plan["would_adopt"][0]["from"], "sqlx");
    let r = migrate(&shop_sqlx(), &db, &[]);
    assert_eq!(r.code, status("applied"), "{r:?}");
    assert!(
        r.out
            .starts_with("adopted 20240101120000 products (sqlx had applied it)\n"),
        "{r:?}"
    );
    assert_eq!(sqlx_rows(&db), expected);

    // Asked for: none, or diesel's instead.
    let none = tmp.path().join("none.db");
    assert_eq!(
        migrate(&shop_sqlx(), &none, &["--app-ledger", "none"]).code,
        0
    );
    assert!(!has_table(&none, "_sqlx_migrations"));
    let diesel = tmp.path().join("diesel.db");
    assert_eq!(
        migrate(&shop_sqlx(), &diesel, &["--app-ledger", "diesel"]).code,
        0
    );
    assert!(!has_table(&diesel, "_sqlx_migrations"));
    let conn = Connection::open(&diesel).unwrap();
    let mut stmt = conn
        .prepare("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .unwrap();
    let recorded: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        recorded,
        ["20240101120000", "20240102090000", "20240103100000"]
    );
}
