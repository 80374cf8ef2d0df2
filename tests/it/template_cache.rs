//! The on-disk template cache: built once per migration set across
//! processes, reused untouched by later processes, keyed by the migrations'
//! content, rebuilt when corrupt, and built by exactly one of several
//! processes that start together.
//!
//! The parent tests spawn copies of this test binary that run only
//! [`child_builds_or_loads_the_template`] with `MIGRATE_ONCE_CACHE_DIR` set
//! to a fresh directory (through `Command::env`: the parent never changes its
//! own environment, which other tests' threads read). The child test is
//! ignored, and fails when it is run without those variables.
//!
//! The child's set calls `mark_build()`, an SQL function its `on_connect`
//! hook registers, which creates one file in [`CHILD_LOG`] per call: the
//! number of files there is the number of times the migration body ran,
//! over all processes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use migrate_once::{CACHE_DIR_ENV, Migration, Migrations, Template, TestDb};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use tempfile::TempDir;

use crate::support::child::{self, ChildEnv, ChildTest, Outcome, Running, child_test};
use crate::support::{column, count, entries, noise, query_one};

/// `a` or `a_edited`: which migration set the child uses.
const CHILD_VARIANT: &str = "MIGRATE_ONCE_TC_VARIANT";
/// Directory `mark_build()` writes one file per call into.
const CHILD_LOG: &str = "MIGRATE_ONCE_TC_LOG";
/// Directory for the child's TestDb file.
const CHILD_DB_DIR: &str = "MIGRATE_ONCE_TC_DB_DIR";
/// Milliseconds `mark_build()` sleeps, to hold the build open.
const CHILD_SLEEP_MS: &str = "MIGRATE_ONCE_TC_SLEEP_MS";
/// Set: the child's TestDb is in memory (its first clone streams the
/// template from the file), not a file.
const CHILD_MEMORY: &str = "MIGRATE_ONCE_TC_MEMORY";
/// Barrier: the child writes `ready-<pid>` here, then waits for [`CHILD_GO`].
const CHILD_READY: &str = "MIGRATE_ONCE_TC_READY";
const CHILD_GO: &str = "MIGRATE_ONCE_TC_GO";

/// The set the children use. The edited variant changes one statement of
/// migration 2: `notes` gets an `author` column.
fn child_set(variant: &str) -> Migrations {
    let notes = match variant {
        "a" => "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        "a_edited" => {
            "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL, author TEXT);"
        }
        other => panic!("unknown variant {other}"),
    };
    Migrations::new(vec![
        Migration::new(
            1,
            "items",
            "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO items(name) VALUES ('seed');",
        ),
        Migration::new(
            2,
            "notes",
            format!("SELECT mark_build();\n{notes}\nINSERT INTO notes(body) VALUES ('hello');"),
        ),
    ])
    .expect("a valid set")
}

/// Runs only in a child process (see the module docs). Prints one line:
/// `RESULT built=<bool> items=<n> notes=<n> cols=<c,..> path=<template path>`.
#[test]
#[ignore = "run as a child process by the other tests of template_cache"]
fn child_builds_or_loads_the_template() {
    let env = ChildEnv::of("the other tests of template_cache");
    let variant = env.var(CHILD_VARIANT);
    let log = env.path(CHILD_LOG);
    let db_dir = env.path(CHILD_DB_DIR);
    // The parent sets the cache dir.
    env.path(CACHE_DIR_ENV);
    // Optional: how long the build is held open, and a start barrier.
    let sleep_ms: u64 = std::env::var(CHILD_SLEEP_MS)
        .ok()
        .map_or(0, |v| v.parse().unwrap());
    if let (Some(ready), Some(go)) = (std::env::var_os(CHILD_READY), std::env::var_os(CHILD_GO)) {
        child::ready_then_wait(Path::new(&ready), Path::new(&go));
    }

    let set = child_set(&variant);
    let builder = TestDb::builder(&set).dir(&db_dir).on_connect(move |conn| {
        let log = log.clone();
        conn.create_scalar_function("mark_build", 0, FunctionFlags::SQLITE_UTF8, move |_| {
            let mark = log.join(format!(
                "mark-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            fs::write(&mark, b"").map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            thread::sleep(Duration::from_millis(sleep_ms));
            Ok(1)
        })
    });
    let db = if std::env::var_os(CHILD_MEMORY).is_some() {
        builder.in_memory()
    } else {
        builder.file()
    }
    .expect("a TestDb");
    // The TestDb above loaded (or built) the template; this is the same one.
    let template = Template::for_set(&set).expect("the template");
    assert!(
        template.path().starts_with(migrate_once::cache_dir()),
        "the template is in the cache dir"
    );

    let conn = db.connect().unwrap();
    let items = count(&conn, "items");
    conn.execute("INSERT INTO notes(body) VALUES ('mine')", [])
        .unwrap();
    let notes = count(&conn, "notes");
    let cols: Vec<String> = column(
        &conn,
        "SELECT name FROM pragma_table_info('notes') ORDER BY cid",
    );
    println!(
        "\nRESULT built={} items={items} notes={notes} cols={} path={}",
        template.built_by_this_process(),
        cols.join(","),
        template.path().display()
    );
}

/// One test scenario's directories.
struct Dirs {
    _root: TempDir,
    cache: PathBuf,
    log: PathBuf,
    db: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let root = TempDir::new().unwrap();
        let [cache, log, db] = ["cache", "log", "db"].map(|d| {
            let p = root.path().join(d);
            fs::create_dir(&p).unwrap();
            p
        });
        Dirs {
            _root: root,
            cache,
            log,
            db,
        }
    }

    /// How many times the migration body ran, over all processes so far.
    fn builds(&self) -> usize {
        fs::read_dir(&self.log).unwrap().count()
    }

    fn child(&self, variant: &str) -> ChildTest {
        child_test!(child_builds_or_loads_the_template)
            .env(CACHE_DIR_ENV, &self.cache)
            .env(CHILD_VARIANT, variant)
            .env(CHILD_LOG, &self.log)
            .env(CHILD_DB_DIR, &self.db)
    }

    /// Runs one child to completion.
    fn run(&self, variant: &str) -> Report {
        Report::parse(self.child(variant).run())
    }
}

/// What a child printed.
struct Report {
    outcome: Outcome,
    built: bool,
    items: i64,
    notes: i64,
    cols: String,
    path: PathBuf,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.outcome.fmt(f)
    }
}

impl Report {
    fn parse(outcome: Outcome) -> Report {
        let mut r = Report {
            outcome,
            built: false,
            items: -1,
            notes: -1,
            cols: String::new(),
            path: PathBuf::new(),
        };
        assert!(r.outcome.status.success(), "a child failed: {r:?}");
        let line = r
            .outcome
            .result()
            .unwrap_or_else(|| panic!("no RESULT line: {r:?}"))
            .to_owned();
        let (fields, path) = line.split_once(" path=").expect("a path field");
        r.path = PathBuf::from(path);
        for kv in fields.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            match k {
                "built" => r.built = v.parse().unwrap(),
                "items" => r.items = v.parse().unwrap(),
                "notes" => r.notes = v.parse().unwrap(),
                "cols" => r.cols = v.to_owned(),
                _ => panic!("unknown field {k}"),
            }
        }
        r
    }

    /// The child's TestDb was cloned from a complete template of `variant`.
    fn assert_db(&self, variant: &str) {
        assert_eq!(self.items, 1, "{self:?}");
        assert_eq!(self.notes, 2, "seed note + the child's own: {self:?}");
        let cols = match variant {
            "a" => "id,body",
            _ => "id,body,author",
        };
        assert_eq!(self.cols, cols, "{self:?}");
    }

    /// The template is `<cache>/<key>/template.sqlite`.
    fn assert_in(&self, cache: &Path) {
        assert_eq!(self.path.file_name().unwrap(), "template.sqlite");
        assert_eq!(self.path.parent().unwrap().parent().unwrap(), cache);
        assert!(self.path.is_file(), "{self:?}");
    }
}

#[cfg(unix)]
fn identity(path: &Path) -> (u64, u64, i64, i64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).unwrap();
    (m.dev(), m.ino(), m.mtime(), m.mtime_nsec(), m.len())
}

#[cfg(not(unix))]
fn identity(path: &Path) -> (std::time::SystemTime, u64) {
    let m = fs::metadata(path).unwrap();
    (m.modified().unwrap(), m.len())
}

#[test]
fn a_second_process_reuses_the_cached_template_without_migrating() {
    let d = Dirs::new();
    let first = d.run("a");
    assert!(first.built, "the first process builds: {first:?}");
    first.assert_in(&d.cache);
    first.assert_db("a");
    assert_eq!(d.builds(), 1, "the migration body ran once");
    let key_dir = first.path.parent().unwrap().to_path_buf();
    let before = identity(&first.path);
    let bytes = fs::read(&first.path).unwrap();
    let sidecar = fs::read(key_dir.join("template.ok")).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));

    // Coarse mtime resolutions could hide a rewrite made within the same tick.
    thread::sleep(Duration::from_millis(20));
    let second = d.run("a");
    assert!(
        !second.built,
        "the second process loads the cache: {second:?}"
    );
    assert_eq!(second.path, first.path);
    second.assert_db("a");
    assert_eq!(d.builds(), 1, "the second process did not migrate");
    assert_eq!(
        identity(&second.path),
        before,
        "the template was not rewritten"
    );
    assert_eq!(fs::read(&second.path).unwrap(), bytes);
    assert_eq!(fs::read(key_dir.join("template.ok")).unwrap(), sidecar);
    assert_eq!(
        fs::read_dir(&d.cache).unwrap().count(),
        1,
        "one key directory"
    );
}

#[test]
fn editing_a_migration_yields_a_new_template() {
    let d = Dirs::new();
    let a = d.run("a");
    let edited = d.run("a_edited");
    assert!(a.built, "{a:?}");
    assert!(
        edited.built,
        "the edited set is not served the old template: {edited:?}"
    );
    a.assert_in(&d.cache);
    edited.assert_in(&d.cache);
    assert_ne!(
        a.path.parent(),
        edited.path.parent(),
        "different key directories"
    );
    a.assert_db("a");
    edited.assert_db("a_edited");
    assert_eq!(d.builds(), 2);

    // Each template holds its own schema.
    let cols = |p: &Path| -> String {
        query_one(
            &Connection::open(p).unwrap(),
            "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('notes') ORDER BY cid)",
        )
    };
    assert_eq!(cols(&a.path), "id,body");
    assert_eq!(cols(&edited.path), "id,body,author");

    // The old set's template is still valid and still used.
    let again = d.run("a");
    assert!(!again.built, "{again:?}");
    assert_eq!(again.path, a.path);
    again.assert_db("a");
    assert_eq!(d.builds(), 2);
}

#[test]
fn a_corrupt_or_truncated_cache_file_is_rebuilt() {
    let d = Dirs::new();
    let first = d.run("a");
    assert!(first.built, "{first:?}");
    let good = fs::read(&first.path).unwrap();

    // Garbage of the same length: only the content says it is wrong.
    let garbage = noise(good.len());
    fs::write(&first.path, &garbage).unwrap();
    let rebuilt = d.run("a");
    assert!(rebuilt.built, "garbage is rebuilt: {rebuilt:?}");
    assert_eq!(rebuilt.path, first.path);
    rebuilt.assert_db("a");
    assert_eq!(d.builds(), 2);
    assert_ne!(fs::read(&first.path).unwrap(), garbage, "replaced on disk");

    // The rebuilt cache is good again.
    let reused = d.run("a");
    assert!(!reused.built, "{reused:?}");
    reused.assert_db("a");
    assert_eq!(d.builds(), 2);

    // Truncated to half.
    let whole = fs::read(&first.path).unwrap();
    fs::write(&first.path, &whole[..whole.len() / 2]).unwrap();
    let rebuilt = d.run("a");
    assert!(
        rebuilt.built,
        "a truncated template is rebuilt: {rebuilt:?}"
    );
    rebuilt.assert_db("a");
    assert_eq!(d.builds(), 3);
    assert_eq!(fs::metadata(&first.path).unwrap().len(), whole.len() as u64);

    // A header-intact file whose pages are zeroed past the first one.
    let mut zeroed = fs::read(&first.path).unwrap();
    zeroed[4096..].fill(0);
    fs::write(&first.path, &zeroed).unwrap();
    let rebuilt = d.run("a");
    assert!(rebuilt.built, "zeroed pages are rebuilt: {rebuilt:?}");
    rebuilt.assert_db("a");
    assert_eq!(d.builds(), 4);
}

/// Copies a cache directory as `cp -r` or a CI cache restore does: the same
/// bytes, new modification times, another place.
fn copy_cache(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_cache(&entry.path(), &target);
        } else {
            fs::write(&target, fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

#[test]
fn a_cache_restored_elsewhere_with_new_times_is_used_without_building() {
    let d = Dirs::new();
    let first = d.run("a");
    assert!(first.built, "{first:?}");
    assert_eq!(d.builds(), 1);

    let restored = TempDir::new().unwrap();
    thread::sleep(Duration::from_millis(20)); // new modification times
    copy_cache(&d.cache, restored.path());
    for memory in [false, true] {
        let mut child = d.child("a").env(CACHE_DIR_ENV, restored.path());
        if memory {
            child = child.env(CHILD_MEMORY, "1");
        }
        let r = Report::parse(child.run());
        assert!(
            !r.built,
            "memory {memory}: the restored template is used: {r:?}"
        );
        r.assert_db("a");
        r.assert_in(restored.path());
    }
    assert_eq!(d.builds(), 1, "no migration ran again");
}

#[test]
fn a_damaged_copy_is_rebuilt_even_when_the_first_clone_streams_it() {
    for memory in [false, true] {
        let d = Dirs::new();
        let first = d.run("a");
        assert!(first.built);
        // One bit, in the middle, the length unchanged: only the seal over
        // the bytes can tell.
        let mut bytes = fs::read(&first.path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        fs::write(&first.path, &bytes).unwrap();
        let mut child = d.child("a");
        if memory {
            child = child.env(CHILD_MEMORY, "1");
        }
        let r = Report::parse(child.run());
        assert!(
            r.built,
            "memory {memory}: a damaged template is rebuilt: {r:?}"
        );
        r.assert_db("a");
        assert_eq!(d.builds(), 2, "memory {memory}");
        assert_ne!(fs::read(&first.path).unwrap(), bytes, "replaced on disk");
    }
}

/// A test process that finds the template it opened already read whole by
/// an earlier one (`template.verified` records which file, unchanged)
/// streams it without hashing; a change in place, its modification time set
/// back, voids that record, and the next process rebuilds.
#[test]
fn a_template_vouched_for_by_an_earlier_process_is_still_rebuilt_after_a_change_in_place() {
    let d = Dirs::new();
    let memory = |d: &Dirs| Report::parse(d.child("a").env(CHILD_MEMORY, "1").run());
    let started = std::time::Instant::now();
    let first = memory(&d);
    assert!(first.built, "{first:?}");
    let record = first.path.with_file_name("template.verified");
    // The builder holds the bytes; the second process reads the file whole,
    // but its last change is too recent to record.
    let second = memory(&d);
    assert!(!second.built, "{second:?}");
    if started.elapsed() < Duration::from_secs(1) {
        assert!(!record.exists(), "a file just written is not vouched for");
    }

    // Once its last change is seconds old, the next process to read it
    // whole records it, and the ones after it use that record.
    thread::sleep(Duration::from_millis(2_200));
    let third = memory(&d);
    assert!(!third.built, "{third:?}");
    third.assert_db("a");
    if migrate_once::__private::records_verified_templates(&d.cache) {
        let text = fs::read_to_string(&record).expect("the third process vouched for it");
        assert!(text.starts_with("migrate-once verified v1 "), "{text}");
    } else {
        assert!(!record.exists());
    }
    let fourth = memory(&d);
    assert!(!fourth.built, "{fourth:?}");
    fourth.assert_db("a");
    assert_eq!(d.builds(), 1);

    // One bit, the length and the modification time as they were.
    let mtime = fs::metadata(&first.path).unwrap().modified().unwrap();
    let mut bytes = fs::read(&first.path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    fs::write(&first.path, &bytes).unwrap();
    let file = fs::File::options().write(true).open(&first.path).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    for memory_clone in [true, false] {
        let mut child = d.child("a");
        if memory_clone {
            child = child.env(CHILD_MEMORY, "1");
        }
        let r = Report::parse(child.run());
        if memory_clone {
            assert!(r.built, "the changed template is rebuilt: {r:?}");
        } else {
            assert!(!r.built, "the rebuilt one is used: {r:?}");
        }
        r.assert_db("a");
    }
    assert_eq!(d.builds(), 2);
    assert_ne!(fs::read(&first.path).unwrap(), bytes, "replaced on disk");
}

const PROCESSES: usize = 6;
const ROUNDS: usize = 3;

#[test]
fn processes_starting_together_build_the_template_once() {
    for round in 0..ROUNDS {
        let d = Dirs::new();
        let ready = d.log.parent().unwrap().join("ready");
        fs::create_dir(&ready).unwrap();
        let go = d.log.parent().unwrap().join("go");
        let mut children: Vec<Running> = (0..PROCESSES)
            .map(|_| {
                d.child("a")
                    .env(CHILD_READY, &ready)
                    .env(CHILD_GO, &go)
                    // The build holds the lock long enough that every other
                    // process arrives while it is in progress.
                    .env(CHILD_SLEEP_MS, "300")
                    .spawn()
            })
            .collect();
        child::wait_until_ready(&mut children, &ready, &format!("round {round}"));
        assert_eq!(d.builds(), 0);
        fs::write(&go, b"").unwrap();

        let reports: Vec<Report> = children
            .into_iter()
            .map(|c| Report::parse(c.finish()))
            .collect();
        let built = reports.iter().filter(|r| r.built).count();
        assert_eq!(
            built, 1,
            "round {round}: exactly one process builds: {reports:#?}"
        );
        assert_eq!(
            d.builds(),
            1,
            "round {round}: the migration body ran once over all processes"
        );
        for r in &reports {
            r.assert_db("a");
            r.assert_in(&d.cache);
            assert_eq!(r.path, reports[0].path);
        }
        // Nothing but the template, its sidecar and the lock is left behind.
        let key_dir = reports[0].path.parent().unwrap();
        assert_eq!(
            entries(key_dir),
            ["build.lock", "template.ok", "template.sqlite"]
        );
    }
}

/// A set no other test (or earlier run) has: its SQL holds a fresh uuid.
fn unique_set(extra: &str) -> Migrations {
    let id = uuid::Uuid::new_v4();
    Migrations::new(vec![
        Migration::new(
            1,
            "t",
            format!("CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('{id}');"),
        ),
        Migration::new(2, "extra", extra),
    ])
    .unwrap()
}

/// Removes a template's key directory from the (in-process, system temp)
/// cache when the test ends; the set is unique to the test.
struct RemoveKeyDir(Option<PathBuf>);

impl Drop for RemoveKeyDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn threads_of_one_process_get_the_same_template() {
    const THREADS: usize = 8;
    let set = unique_set("CREATE TABLE u(y);");
    let barrier = Barrier::new(THREADS);
    let templates: Vec<Arc<Template>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    Template::for_set(&set).expect("the template")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _cleanup = RemoveKeyDir(templates[0].path().parent().map(Path::to_path_buf));
    for t in &templates {
        assert!(Arc::ptr_eq(t, &templates[0]), "one template per process");
    }
    assert!(templates[0].built_by_this_process(), "a fresh set is built");
    assert!(templates[0].path().is_file());
    assert_eq!(
        fs::read(templates[0].path()).unwrap(),
        templates[0].bytes().unwrap()
    );
    let on_disk = Connection::open(templates[0].path()).unwrap();
    assert_eq!(
        count(
            &on_disk,
            "sqlite_master WHERE type = 'table' AND name = 'u'"
        ),
        1
    );
    // Later calls too.
    assert!(Arc::ptr_eq(
        &Template::for_set(&set).unwrap(),
        &templates[0]
    ));
}

#[test]
fn threads_of_one_process_migrate_a_fresh_set_once() {
    const THREADS: usize = 8;
    let set = unique_set("SELECT bump(); CREATE TABLE u(y);");
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Barrier::new(THREADS);
    let files = TempDir::new().unwrap();
    let uris: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (set, barrier, calls) = (&set, &barrier, Arc::clone(&calls));
                let dir = files.path();
                s.spawn(move || {
                    let builder = TestDb::builder(set).on_connect(move |conn| {
                        let calls = Arc::clone(&calls);
                        conn.create_scalar_function(
                            "bump",
                            0,
                            FunctionFlags::SQLITE_UTF8,
                            move |_| Ok(calls.fetch_add(1, Ordering::SeqCst) as i64),
                        )
                    });
                    barrier.wait();
                    let db = if i % 2 == 0 {
                        builder.in_memory().unwrap()
                    } else {
                        builder.dir(dir).file().unwrap()
                    };
                    let conn = db.connect().unwrap();
                    conn.execute("INSERT INTO u VALUES (?1)", [i as i64])
                        .unwrap();
                    assert_eq!(count(&conn, "u"), 1, "thread {i} sees only its own row");
                    db.uri()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let template = Template::for_set(&set).unwrap();
    let _cleanup = RemoveKeyDir(template.path().parent().map(Path::to_path_buf));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the migration body ran once for {THREADS} threads"
    );
    assert!(template.built_by_this_process());
    let distinct: std::collections::HashSet<_> = uris.iter().collect();
    assert_eq!(distinct.len(), THREADS);
    assert_eq!(fs::read_dir(files.path()).unwrap().count(), 0);
}
