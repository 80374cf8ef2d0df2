//! Templates built by the user's own function ([`TemplateFn`]): the
//! function runs once per key across threads and processes, each test gets
//! a database of its own, a changed key builds again, a failing or
//! panicking function leaves nothing behind, and the checks that apply to a
//! set's template (required tables, schema snapshots, the seal) apply here.
//!
//! Each in-process test uses keys of its own (a uuid in them), so that the
//! process's shared cache directory never hands one test another's
//! template. The process test gives its children a fresh cache directory
//! through `MIGRATE_ONCE_CACHE_DIR`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use migrate_once::{CACHE_DIR_ENV, Error, SharedDb, SnapshotOutcome, Template, TemplateFn, TestDb};
use rusqlite::Connection;

use crate::support::child::{self, ChildEnv, Running, child_test};
use crate::support::count;

/// A key no other test uses; short, so the whole of it shows in the cache
/// directory's name.
fn unique(what: &str) -> String {
    format!("{what}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// A function that counts its runs in `runs` and creates `users` with one
/// seeded row, holding the build open for `hold` so that other callers
/// arrive while it runs.
fn counting(key: &str, runs: &Arc<AtomicUsize>, hold: Duration) -> TemplateFn {
    let runs = Arc::clone(runs);
    TemplateFn::new(key, move |conn| {
        runs.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(hold);
        conn.execute_batch(
            "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
             PRAGMA user_version = 7;",
        )?;
        conn.execute("INSERT INTO users(email) VALUES (?1)", ["seed@example.com"])?;
        Ok(())
    })
}

/// The directory in the cache whose name starts with `fn-<key>-`, if any.
fn cache_dir_of(key: &str) -> Option<PathBuf> {
    fs::read_dir(migrate_once::cache_dir())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("fn-{key}-")))
        })
}

/// The files in `key`'s cache directory apart from its lock.
fn cached_files(key: &str) -> Vec<String> {
    let Some(dir) = cache_dir_of(key) else {
        return Vec::new();
    };
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "build.lock")
        .collect();
    names.sort();
    names
}

#[test]
fn threads_starting_together_run_the_function_once_and_get_databases_of_their_own() {
    const THREADS: usize = 8;
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counting(&unique("threads"), &runs, Duration::from_millis(200));
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let (f, barrier) = (&f, &barrier);
            s.spawn(move || {
                barrier.wait();
                let db = if i % 2 == 0 {
                    TestDb::from_fn(f)
                } else {
                    TestDb::in_memory_from_fn(f)
                }
                .unwrap();
                let conn = db.connect().unwrap();
                conn.execute(
                    "INSERT INTO users(email) VALUES (?1)",
                    [format!("{i}@example.com")],
                )
                .unwrap();
                // Another thread's row is not here: the seed and our own.
                assert_eq!(count(&conn, "users"), 2);
                let version: i64 = conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(version, 7, "user_version is copied with the rest");
            });
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Later databases come from the template already built.
    TestDb::from_fn(&f).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_changed_key_builds_a_new_template_and_runs_the_function_again() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (k1, k2) = (unique("k1"), unique("k2"));
    let first = counting(&k1, &runs, Duration::ZERO);
    TestDb::from_fn(&first).unwrap();
    TestDb::in_memory_from_fn(&first).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let second = counting(&k2, &runs, Duration::ZERO);
    TestDb::from_fn(&second).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "a new key runs it again");
    assert_ne!(
        Template::for_fn(&first).unwrap().path(),
        Template::for_fn(&second).unwrap().path()
    );
}

/// The mutation check of TESTING.md: with the key left out of the cache
/// name, the second function is served the first one's template (`notes`
/// without `author`) and this fails.
#[test]
fn a_changed_function_under_a_new_key_is_never_served_the_stale_template() {
    let columns = |ddl: &'static str, key: &str| {
        let f = TemplateFn::new(key, move |conn| {
            conn.execute_batch(ddl)?;
            Ok(())
        });
        let db = TestDb::in_memory_from_fn(&f).unwrap();
        let conn = db.connect().unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('notes') ORDER BY cid")
            .unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join(",")
    };
    let v1 = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);";
    let v2 = "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, author TEXT);";
    assert_eq!(columns(v1, &unique("notes-v1")), "id,body");
    assert_eq!(columns(v2, &unique("notes-v2")), "id,body,author");
    // The way the docs recommend: the key made of the sources.
    assert_eq!(columns(v1, &TemplateFn::key_of([v1])), "id,body");
    assert_eq!(columns(v2, &TemplateFn::key_of([v2])), "id,body,author");
}

#[test]
fn a_failing_or_panicking_function_leaves_no_template_and_the_next_call_builds() {
    let key = unique("flaky");
    let runs = Arc::new(AtomicUsize::new(0));
    let f = {
        let runs = Arc::clone(&runs);
        TemplateFn::new(key.clone(), move |conn| {
            // Each attempt writes first, so a failure has something to
            // leave behind if it were kept.
            conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")?;
            match runs.fetch_add(1, Ordering::SeqCst) {
                0 => Err("the first attempt fails".into()),
                1 => panic!("the second attempt panics"),
                _ => Ok(()),
            }
        })
    };
    let err = TestDb::from_fn(&f).unwrap_err();
    match &err {
        Error::TemplateFn {
            key: k,
            problem,
            source: Some(source),
        } => {
            assert_eq!(k, &key);
            assert_eq!(problem, "failed");
            assert_eq!(source.to_string(), "the first attempt fails");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&format!("{key:?}")), "{err}");
    assert_eq!(
        cached_files(&key),
        Vec::<String>::new(),
        "nothing left behind"
    );

    let err = TestDb::in_memory_from_fn(&f).unwrap_err();
    assert!(
        matches!(&err, Error::TemplateFn { problem, source: None, .. }
            if problem == "panicked: the second attempt panics"),
        "{err:?}"
    );
    assert_eq!(
        cached_files(&key),
        Vec::<String>::new(),
        "nothing left behind"
    );

    let db = TestDb::from_fn(&f).unwrap();
    assert_eq!(count(&db.connect().unwrap(), "t"), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(cached_files(&key), ["template.ok", "template.sqlite"]);
}

#[test]
fn a_function_that_creates_no_table_is_an_error() {
    for f in [
        TemplateFn::new(unique("nothing"), |_| Ok(())),
        // Opens another database than the one it is given.
        TemplateFn::at_path(unique("elsewhere"), |_| {
            Connection::open_in_memory()?.execute_batch("CREATE TABLE t(x)")?;
            Ok(())
        }),
    ] {
        let err = TestDb::from_fn(&f).unwrap_err();
        assert!(
            matches!(&err, Error::TemplateFn { problem, .. } if problem.starts_with("created no table")),
            "{err:?}"
        );
        assert_eq!(cached_files(f.key()), Vec::<String>::new());
    }
}

// sqlx 0.9 is a dev-dependency only where its feature is on (not in the
// suite on the newest rusqlite, which drops the integrations).
#[cfg(feature = "sqlx-0_9")]
#[test]
fn the_path_form_serves_another_driver_sqlx_in_wal_mode() {
    let f = TemplateFn::at_path(unique("sqlx"), |path| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            use sqlx09::ConnectOptions;
            let mut conn = sqlx09::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx09::sqlite::SqliteJournalMode::Wal)
                .connect()
                .await?;
            sqlx09::query("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)")
                .execute(&mut conn)
                .await?;
            sqlx09::query("INSERT INTO items(name) VALUES ('from sqlx')")
                .execute(&mut conn)
                .await?;
            sqlx09::Connection::close(conn).await?;
            Ok::<_, sqlx09::Error>(())
        })?;
        Ok(())
    });
    let template = Template::for_fn(&f).unwrap();
    // One self-contained file: the WAL was checkpointed into it.
    let dir = template.path().parent().unwrap();
    assert!(!dir.join("template.sqlite-wal").exists());
    for db in [
        TestDb::from_fn(&f).unwrap(),
        TestDb::in_memory_from_fn(&f).unwrap(),
    ] {
        let name: String = db
            .connect()
            .unwrap()
            .query_row("SELECT name FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "from sqlx");
    }
}

#[test]
fn required_tables_and_schema_snapshots_apply_to_a_function_template() {
    let ddl = "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);\
               CREATE INDEX users_by_email ON users(email);";
    let make = |key: &str| {
        TemplateFn::new(key, move |conn| {
            conn.execute_batch(ddl)?;
            Ok(())
        })
    };
    let key = unique("required");
    let err = TestDb::from_fn(&make(&key).require_tables(["users", "sessions"])).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { missing, .. }
            if missing.len() == 1 && missing[0].name == "sessions"),
        "{err:?}"
    );
    TestDb::from_fn(&make(&key).require_tables(["USERS"])).unwrap();

    let f = make(&unique("snapshot"));
    let dump = f.schema_dump().unwrap();
    assert!(
        dump.contains("CREATE INDEX users_by_email ON users(email);"),
        "{dump}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.sql");
    fs::write(&file, &dump).unwrap();
    assert_eq!(f.assert_schema_snapshot(&file), SnapshotOutcome::Matched);
    fs::write(&file, dump.replace("users_by_email", "by_email")).unwrap();
    let err = f.check_schema_snapshot(&file).unwrap_err();
    assert!(matches!(err, Error::SnapshotMismatch { .. }), "{err:?}");
}

#[test]
fn a_shared_database_is_filled_once_from_the_template_and_validated_on_every_open() {
    const THREADS: usize = 6;
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counting(&unique("shared"), &runs, Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let (f, barrier, path) = (&f, &barrier, &path);
            s.spawn(move || {
                barrier.wait();
                let db = SharedDb::open_from_fn(path, f).unwrap();
                db.connect()
                    .unwrap()
                    .execute(
                        "INSERT INTO users(email) VALUES (?1)",
                        [format!("{i}@example.com")],
                    )
                    .unwrap();
            });
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Filled once: every thread's row and the one seed are there.
    let db = SharedDb::open_from_fn(&path, &f).unwrap();
    assert_eq!(count(&db.connect().unwrap(), "users"), THREADS as i64 + 1);

    // A table the template has, dropped: refused by the next open.
    db.connect()
        .unwrap()
        .execute_batch("CREATE TABLE scratch(x); DROP TABLE users;")
        .unwrap();
    let err = SharedDb::open_from_fn(&path, &f).unwrap_err();
    assert!(
        matches!(&err, Error::Validation { missing, .. } if missing[0].name == "users"),
        "{err:?}"
    );
    // Emptied (as a reset file is): filled again, from the template.
    db.connect()
        .unwrap()
        .execute_batch("DROP TABLE scratch")
        .unwrap();
    let db = SharedDb::open_from_fn(&path, &f).unwrap();
    assert_eq!(count(&db.connect().unwrap(), "users"), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Environment of [`child_runs_the_function_or_finds_its_template`].
const CHILD_RUNS: &str = "MIGRATE_ONCE_TF_RUNS";
const CHILD_FORM: &str = "MIGRATE_ONCE_TF_FORM";
const CHILD_READY: &str = "MIGRATE_ONCE_TF_READY";
const CHILD_GO: &str = "MIGRATE_ONCE_TF_GO";

/// Appends a line to the file at `runs`: one line per run of the function,
/// over all processes.
fn append_run(runs: &Path) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(runs)?;
    writeln!(file, "{}", std::process::id())
}

/// In a child process: waits for the start, then makes a database from a
/// function's template (connection or path form) and checks it.
#[test]
#[ignore = "run as a child process by template_fn::processes_starting_together_run_the_function_once"]
fn child_runs_the_function_or_finds_its_template() {
    let env = ChildEnv::of("template_fn::processes_starting_together_run_the_function_once");
    let runs = env.path(CHILD_RUNS);
    let form = env.var(CHILD_FORM);
    env.path(CACHE_DIR_ENV);
    child::ready_then_wait(&env.path(CHILD_READY), &env.path(CHILD_GO));
    const SCHEMA: &str = "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);
                          INSERT INTO users(email) VALUES ('seed@example.com');";
    let f = match form.as_str() {
        "connection" => TemplateFn::new("processes", move |conn| {
            append_run(&runs)?;
            std::thread::sleep(Duration::from_millis(300));
            conn.execute_batch(SCHEMA)?;
            Ok(())
        }),
        "path" => TemplateFn::at_path("processes", move |path| {
            append_run(&runs)?;
            std::thread::sleep(Duration::from_millis(300));
            Connection::open(path)?.execute_batch(SCHEMA)?;
            Ok(())
        }),
        other => panic!("unknown form {other}"),
    };
    let db = TestDb::in_memory_from_fn(&f).unwrap();
    let conn = db.connect().unwrap();
    conn.execute("INSERT INTO users(email) VALUES ('mine@example.com')", [])
        .unwrap();
    assert_eq!(count(&conn, "users"), 2);
    let file = TestDb::from_fn(&f).unwrap();
    assert_eq!(count(&file.connect().unwrap(), "users"), 1);
    println!(
        "RESULT built={}",
        Template::for_fn(&f).unwrap().built_by_this_process()
    );
}

#[test]
fn processes_starting_together_run_the_function_once() {
    const PROCESSES: usize = 4;
    for form in ["connection", "path"] {
        let tmp = tempfile::tempdir().unwrap();
        let (cache, runs) = (tmp.path().join("cache"), tmp.path().join("runs"));
        let (ready, go) = (tmp.path().join("ready"), tmp.path().join("go"));
        fs::create_dir(&ready).unwrap();
        let spawn = || {
            child_test!(child_runs_the_function_or_finds_its_template)
                .env(CACHE_DIR_ENV, &cache)
                .env(CHILD_RUNS, &runs)
                .env(CHILD_FORM, form)
                .env(CHILD_READY, &ready)
                .env(CHILD_GO, &go)
                .spawn()
        };
        let mut children: Vec<Running> = (0..PROCESSES).map(|_| spawn()).collect();
        child::wait_until_ready(&mut children, &ready, form);
        fs::write(&go, b"").unwrap();
        let outcomes: Vec<_> = children.into_iter().map(Running::finish).collect();
        for o in &outcomes {
            assert!(o.status.success(), "{form}: {o:?}");
        }
        let built = outcomes
            .iter()
            .filter(|o| o.value("built") == Some("true"))
            .count();
        assert_eq!(built, 1, "{form}: one process builds: {outcomes:#?}");
        let lines = || fs::read_to_string(&runs).unwrap().lines().count();
        assert_eq!(
            lines(),
            1,
            "{form}: the function ran once over all processes"
        );

        // A later process finds the template cached and does not run it.
        let later = spawn().finish();
        assert!(later.status.success(), "{later:?}");
        assert_eq!(later.value("built"), Some("false"), "{later:?}");
        assert_eq!(lines(), 1);
    }
}

#[test]
fn verify_cached_runs_the_function_again_once_and_catches_a_different_result() {
    // Deterministic: found cached (as by a new process), run once more,
    // the same; later databases do not run it again.
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counting(&unique("verify-same"), &runs, Duration::ZERO).verify_cached(true);
    TestDb::from_fn(&f).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "built here: nothing to compare"
    );
    migrate_once::__private::forget_template_fn(&f);
    TestDb::in_memory_from_fn(&f).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "found cached: run again");
    TestDb::from_fn(&f).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "once per process");

    // Not deterministic: one more seed row, and user_version, each run.
    let key = unique("verify-differs");
    let runs = Arc::new(AtomicUsize::new(0));
    let drifting = {
        let runs = Arc::clone(&runs);
        TemplateFn::new(key.clone(), move |conn| {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            conn.execute_batch(&format!(
                "CREATE TABLE t(x); PRAGMA user_version = {n};
                 WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
                 INSERT INTO t SELECT i FROM s;"
            ))?;
            Ok(())
        })
        .verify_cached(true)
    };
    TestDb::from_fn(&drifting).unwrap();
    migrate_once::__private::forget_template_fn(&drifting);
    let err = TestDb::from_fn(&drifting).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, Error::TemplateFn { key: k, .. } if *k == key),
        "{err:?}"
    );
    assert!(
        text.contains("differs from the template cached under the same key"),
        "{text}"
    );
    assert!(
        text.contains("user_version: 2, the cached template's 1"),
        "{text}"
    );
    assert!(text.contains("table t"), "the row counts: {text}");
    // Without verification the cached template is used as it is.
    let unverified = TemplateFn::new(key, |_| Err("not run: the template is cached".into()));
    let db = TestDb::from_fn(&unverified).unwrap();
    assert_eq!(count(&db.connect().unwrap(), "t"), 1);
}

#[test]
fn a_shared_database_in_wal_mode_is_filled_from_the_template() {
    let runs = Arc::new(AtomicUsize::new(0));
    let f = counting(&unique("shared-wal"), &runs, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let db = SharedDb::builder(dir.path().join("wal.sqlite"))
        .journal_mode(migrate_once::JournalMode::Wal)
        .open_from_fn(&f)
        .unwrap();
    let conn = db.connect().unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(count(&conn, "users"), 1);
}
