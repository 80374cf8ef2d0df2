//! `SharedDb` within one process: one registry, many threads.
//!
//! Every test uses its own `TempDir` and its own migration set (the test's
//! tag is part of a migration's name, so the set hash differs), so tests
//! running in parallel in this binary never share a file or a registry entry.
//!
//! Executions are counted two ways: rows in the file's `executions` table
//! (written by the migration itself), and the `count_exec()` SQL function
//! registered through `on_connect`, whose calls are counted separately for
//! connections to the test's file and for the template the crate learns the
//! expected schema from (built at most once per set, and cached on disk).

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{Error, Migration, Migrations, SchemaObject, SharedDb, SharedDbBuilder};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use tempfile::TempDir;

use crate::support::{count, ledger_versions, pragma, query_one, schema_objects, set_versions};

/// Whether `conn` is a connection to a test's database file, rather than to
/// the template migrate-once builds in its cache directory.
fn on_the_database(conn: &Connection) -> bool {
    conn.path()
        .is_some_and(|p| !p.is_empty() && !Path::new(p).starts_with(migrate_once::cache_dir()))
}

/// Calls of `count_exec()`: on connections to a file, and on any connection.
#[derive(Clone, Default)]
struct Counters {
    file: Arc<AtomicUsize>,
    all: Arc<AtomicUsize>,
}

impl Counters {
    fn file(&self) -> usize {
        self.file.load(SeqCst)
    }

    fn all(&self) -> usize {
        self.all.load(SeqCst)
    }

    /// A builder for `path` whose connections have `count_exec()`.
    fn builder(&self, path: impl AsRef<Path>) -> SharedDbBuilder {
        let counters = self.clone();
        SharedDb::builder(path).on_connect(move |conn| {
            // Not the connection that builds the template the expected schema
            // is learned from (it lives in the template cache directory).
            let on_file = on_the_database(conn);
            let counters = counters.clone();
            conn.create_scalar_function("count_exec", 0, FunctionFlags::SQLITE_UTF8, move |_| {
                counters.all.fetch_add(1, SeqCst);
                if on_file {
                    counters.file.fetch_add(1, SeqCst);
                }
                Ok(1_i64)
            })
        })
    }
}

/// Four migrations: tables, an index, one row in `executions` per execution
/// of migration 3 (written with `count_exec()`), seed data. `tag` makes the
/// set hash unique to the test.
fn tagged_set(tag: &str) -> Migrations {
    Migrations::new(vec![
        Migration::new(
            1,
            format!("create_items_{tag}"),
            "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE INDEX items_by_name ON items(name);",
        ),
        Migration::new(
            2,
            "create_tags",
            "CREATE TABLE tags(item_id INTEGER NOT NULL REFERENCES items(id), tag TEXT NOT NULL);",
        ),
        Migration::new(
            3,
            "record_execution",
            "CREATE TABLE executions(n INTEGER NOT NULL);
             INSERT INTO executions SELECT count_exec();",
        ),
        Migration::new(
            4,
            "seed",
            "INSERT INTO items(name) VALUES ('a'), ('b');
             INSERT INTO tags(item_id, tag) VALUES (1, 'x');",
        ),
    ])
    .expect("the counting set is valid")
}

/// `type name` of every schema object except SQLite's own, sorted.
fn user_objects(conn: &Connection) -> Vec<String> {
    schema_objects(conn)
        .into_iter()
        .map(|(kind, name)| format!("{kind} {name}"))
        .collect()
}

/// Checks, through a plain connection, that the file at `path` was migrated
/// to `set` by exactly one execution.
fn assert_file_migrated_once(path: &Path, set: &Migrations) {
    let conn = Connection::open(path).unwrap();
    assert_eq!(
        ledger_versions(&conn),
        set_versions(set),
        "ledger of {path:?}"
    );
    assert_eq!(
        count(&conn, "executions"),
        1,
        "executions of migration 3 in {path:?}"
    );
    assert_eq!(
        user_objects(&conn),
        [
            "index items_by_name",
            "table _migrate_once_ledger",
            "table executions",
            "table items",
            "table tags",
        ],
        "schema of {path:?}"
    );
    assert_eq!(count(&conn, "items"), 2);
}

fn validation_parts(
    result: migrate_once::Result<SharedDb>,
) -> (
    Error,
    Vec<SchemaObject>,
    Vec<SchemaObject>,
    Vec<SchemaObject>,
) {
    match result {
        Err(Error::Validation {
            database,
            missing,
            differing,
            unexpected,
            ..
        }) => (
            Error::Validation {
                database,
                missing: missing.clone(),
                differing: differing.clone(),
                unexpected: unexpected.clone(),
            },
            missing,
            differing,
            unexpected,
        ),
        Err(other) => panic!("expected Error::Validation, got {other:?}: {other}"),
        Ok(_) => panic!("expected Error::Validation, got Ok"),
    }
}

fn table(name: &str) -> SchemaObject {
    SchemaObject {
        kind: "table".into(),
        name: name.into(),
    }
}

/// `target` (a directory that exists) relative to the current directory,
/// with as many `..` as it takes.
fn relative_to_cwd(target: &Path) -> PathBuf {
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .unwrap();
    let target = std::fs::canonicalize(target).unwrap();
    let (cwd_parts, target_parts): (Vec<Component>, Vec<Component>) =
        (cwd.components().collect(), target.components().collect());
    let common = cwd_parts
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in common..cwd_parts.len() {
        rel.push("..");
    }
    for part in &target_parts[common..] {
        rel.push(part);
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    assert!(rel.is_relative(), "{rel:?}");
    assert_eq!(std::fs::canonicalize(&rel).unwrap(), target);
    rel
}

/// A temporary directory under Cargo's per-target scratch directory, so that
/// a relative path to it from the crate root is short and exists.
fn target_tempdir() -> TempDir {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(root).unwrap();
    tempfile::Builder::new()
        .prefix("shared_db-")
        .tempdir_in(root)
        .unwrap()
}

/// Four spellings of `dir/db.sqlite` (which need not exist yet): relative
/// to the current directory (with `..` if need be), absolute, `sub/..`, and
/// a symlink. `dir` is created.
fn spellings(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let absolute = dir.join("db.sqlite");
    #[allow(unused_mut)]
    let mut spellings = vec![
        relative_to_cwd(dir).join("db.sqlite"),
        absolute.clone(),
        dir.join("sub").join("..").join("db.sqlite"),
    ];
    #[cfg(unix)]
    {
        let link = dir.join("link.sqlite");
        std::os::unix::fs::symlink(&absolute, &link).unwrap();
        spellings.push(link);
    }
    assert!(spellings[0].is_relative());
    spellings
}

/// 64 threads released together open one file through four spellings
/// (relative with `..`, absolute, a symlink, `sub/../`), 100 times over on a
/// fresh file: the migration body runs exactly once per file, every caller
/// gets a working, validated handle, nobody gets an error.
#[test]
fn sixty_four_threads_four_spellings_one_migration() {
    const THREADS: usize = 64;
    const ROUNDS: usize = 100;
    let set = tagged_set("spellings");
    let counters = Counters::default();
    let tmp = target_tempdir();
    let started = Instant::now();

    for round in 0..ROUNDS {
        let dir = tmp.path().join(format!("round{round:03}"));
        let spellings = spellings(&dir);
        let absolute = &spellings[1];
        let barrier = Barrier::new(THREADS);

        // Ok(whether this caller's open ran the migrator) or what went wrong.
        let outcomes: Vec<Result<bool, String>> = thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|i| {
                    let path = &spellings[i % spellings.len()];
                    let builder = counters.builder(path);
                    let (barrier, set) = (&barrier, &set);
                    s.spawn(move || -> Result<bool, String> {
                        barrier.wait();
                        let db = builder
                            .open(set)
                            .map_err(|e| format!("open {path:?}: {e}"))?;
                        let conn = db.connect().map_err(|e| format!("connect {path:?}: {e}"))?;
                        let items = count(&conn, "items");
                        let ledger = ledger_versions(&conn);
                        if items != 2 || ledger != set_versions(set) {
                            return Err(format!("{path:?}: items={items} ledger={ledger:?}"));
                        }
                        match db.report() {
                            None => Ok(false),
                            Some(r) if r.applied_versions() == set_versions(set) => Ok(true),
                            Some(r) => Err(format!("{path:?}: partial report {r:?}")),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert!(
            errors.is_empty(),
            "round {round}: {} of {THREADS} callers failed, first: {:?}",
            errors.len(),
            errors.first()
        );
        let migrators = outcomes.iter().filter(|o| o == &&Ok(true)).count();
        assert_eq!(migrators, 1, "round {round}: opens that ran the migrator");
        assert_file_migrated_once(absolute, &set);
        assert_eq!(
            counters.file(),
            round + 1,
            "round {round}: count_exec() calls on files"
        );
    }
    let took = started.elapsed();
    eprintln!("{ROUNDS} rounds of {THREADS} threads took {took:?}");
    // The expected schema is the template's, built at most once per set
    // (and not at all if an earlier run cached it): at most one call
    // besides the files'.
    assert!(
        (ROUNDS..=ROUNDS + 1).contains(&counters.all()),
        "count_exec() calls in all: {}",
        counters.all()
    );
}

/// Blocks each caller until `need` callers are inside at the same time. A
/// serialized implementation would keep the first caller waiting forever,
/// so all callers share one deadline (20 s from creation); once it passed,
/// every call fails at once and the test fails instead of hanging.
struct Rendezvous {
    arrived: Mutex<usize>,
    all_here: Condvar,
    need: usize,
    deadline: Instant,
}

impl Rendezvous {
    fn new(need: usize) -> Self {
        Rendezvous {
            arrived: Mutex::new(0),
            all_here: Condvar::new(),
            need,
            deadline: Instant::now() + Duration::from_secs(20),
        }
    }

    fn arrive(&self) -> rusqlite::Result<i64> {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        while *arrived < self.need {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(rusqlite::Error::UserFunctionError(
                    format!(
                        "rendezvous timed out: {} of {} callers inside at once",
                        *arrived, self.need
                    )
                    .into(),
                ));
            }
            arrived = self
                .all_here
                .wait_timeout(arrived, self.deadline - now)
                .unwrap()
                .0;
        }
        Ok(i64::try_from(*arrived).unwrap())
    }
}

/// 16 files opened from 16 threads are migrated at the same time: each
/// migration waits inside its transaction until all 16 are inside theirs.
/// Any lock shared between different databases would make this time out.
#[test]
fn different_files_migrate_concurrently() {
    const FILES: usize = 16;
    let rendezvous = Arc::new(Rendezvous::new(FILES));
    let set = Migrations::new(vec![
        Migration::new(1, "create_t_concurrent", "CREATE TABLE t(x INTEGER);"),
        Migration::new(2, "meet", "INSERT INTO t SELECT rendezvous();"),
        Migration::new(3, "after", "CREATE TABLE u(y INTEGER);"),
    ])
    .unwrap();
    let tmp = TempDir::new().unwrap();
    let paths: Vec<PathBuf> = (0..FILES)
        .map(|i| tmp.path().join(format!("db{i:02}.sqlite")))
        .collect();
    let barrier = Barrier::new(FILES);
    let started = Instant::now();

    let results: Vec<migrate_once::Result<SharedDb>> = thread::scope(|s| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| {
                let rendezvous = Arc::clone(&rendezvous);
                let builder = SharedDb::builder(path).on_connect(move |conn| {
                    let rendezvous = Arc::clone(&rendezvous);
                    if on_the_database(conn) {
                        conn.create_scalar_function(
                            "rendezvous",
                            0,
                            FunctionFlags::SQLITE_UTF8,
                            move |_| rendezvous.arrive(),
                        )
                    } else {
                        // The template the expected schema is learned
                        // from does not take part.
                        conn.create_scalar_function(
                            "rendezvous",
                            0,
                            FunctionFlags::SQLITE_UTF8,
                            |_| Ok(0_i64),
                        )
                    }
                });
                let (barrier, set) = (&barrier, &set);
                s.spawn(move || {
                    barrier.wait();
                    builder.open(set)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("{FILES} concurrent migrations took {:?}", started.elapsed());

    for (path, result) in paths.iter().zip(&results) {
        if let Err(e) = result {
            panic!("open {path:?}: {e}");
        }
        let conn = Connection::open(path).unwrap();
        assert_eq!(ledger_versions(&conn), [1, 2, 3], "{path:?}");
        // Every migration saw all 16 inside at once.
        assert_eq!(
            query_one::<i64>(&conn, "SELECT min(x) FROM t"),
            i64::try_from(FILES).unwrap()
        );
        assert_eq!(count(&conn, "t"), 1);
    }
    assert_eq!(*rendezvous.arrived.lock().unwrap(), FILES);
}

/// A migration set whose migration 2 calls `count_exec()` and then fails.
fn broken_set() -> Migrations {
    Migrations::new(vec![
        Migration::new(1, "create_ok_broken", "CREATE TABLE ok(x INTEGER);"),
        Migration::new(
            2,
            "insert_into_missing",
            "SELECT count_exec();
             INSERT INTO missing_table VALUES (1);",
        ),
    ])
    .unwrap()
}

/// 32 concurrent callers with a broken set, through four spellings of one
/// path: all get the same stored error, the failing SQL ran once, and
/// nothing of the run is left in the file.
#[test]
fn a_deterministic_failure_is_stored_and_shared() {
    const CALLERS: usize = 32;
    let set = broken_set();
    let counters = Counters::default();
    let tmp = target_tempdir();
    // One file, spelled four ways: the registry must know it is one database
    // for the failure to be shared (each spelling run on its own would run
    // the failing SQL again).
    let spellings = spellings(tmp.path());
    let path = spellings[1].clone();
    let barrier = Barrier::new(CALLERS);

    let errors: Vec<Error> = thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|i| {
                let builder = counters.builder(&spellings[i % spellings.len()]);
                let (barrier, set) = (&barrier, &set);
                s.spawn(move || {
                    barrier.wait();
                    builder.open(set).err()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("every caller gets an error"))
            .collect()
    });

    let first = &errors[0];
    let Error::Sql {
        version,
        index,
        statement,
        ..
    } = first
    else {
        panic!("expected Error::Sql, got {first:?}");
    };
    assert_eq!((*version, *index), (2, 2));
    assert!(statement.contains("missing_table"), "{statement}");
    assert!(!first.is_transient());
    let text = first.to_string();
    assert!(text.contains("migration 2 (insert_into_missing)"), "{text}");
    assert!(text.contains("missing_table"), "{text}");
    for e in &errors {
        assert_eq!(e.to_string(), text);
    }

    // The migration body ran once on the file, in the one caller that ran
    // the once-cell; the other 31 got the stored error. The template the
    // expected schema is learned from was never built either: `SharedDb`
    // asks for it only after the file's migration succeeded, and here it
    // failed first. Hence 1 call in all.
    assert_eq!(counters.file(), 1, "count_exec() calls on the file");
    assert_eq!(counters.all(), 1, "count_exec() calls on any connection");

    // A later caller gets the same error without running anything.
    let again = counters.builder(&path).open(&set).err().unwrap();
    assert_eq!(again.to_string(), text);
    assert_eq!(counters.all(), 1);

    // Nothing of the failed run was kept: not migration 1, not the ledger.
    let conn = Connection::open(&path).unwrap();
    assert!(migrate_once::ledger(&conn).unwrap().is_empty());
    assert_eq!(user_objects(&conn), Vec::<String>::new());
}

/// A lock timeout is transient: it is not stored, and once the lock is
/// released the next open on the same path migrates.
#[test]
fn a_lock_timeout_is_not_stored_and_the_next_open_migrates() {
    let set = tagged_set("lock_timeout");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("locked.sqlite");

    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    for attempt in 0..2 {
        let started = Instant::now();
        let result = counters
            .builder(&path)
            .lock_timeout(Duration::from_millis(200))
            .open(&set);
        let took = started.elapsed();
        let err = match result {
            Err(e @ Error::LockTimeout { .. }) => e,
            Err(e) => panic!("attempt {attempt}: expected LockTimeout, got {e:?}: {e}"),
            Ok(_) => panic!("attempt {attempt}: opened while the write lock was held"),
        };
        assert!(err.is_transient());
        // The 200 ms bound was used, not the 30 s default.
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    // The write lock was never obtained, so no migration SQL ran.
    assert_eq!(counters.all(), 0);

    blocker.execute_batch("ROLLBACK").unwrap();
    let db = counters.builder(&path).open(&set).unwrap();
    assert_eq!(
        db.report().map(migrate_once::Report::applied_versions),
        Some(set_versions(&set))
    );
    assert_file_migrated_once(&path, &set);
    assert_eq!(counters.file(), 1);
    assert_eq!(ledger_versions(&db.connect().unwrap()), set_versions(&set));
}

/// Callers waiting on one database share their wait: when the first
/// attempt times out, the callers that waited for it do not each start a
/// fresh full wait in turn. Four callers with a 1 s bound all return within
/// about 1 s (the bug this guards against returned after 1, 2, 3 and 4 s).
#[test]
fn callers_waiting_on_one_lock_do_not_wait_in_turn() {
    const CALLERS: usize = 4;
    let set = tagged_set("shared_wait");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("held.sqlite");
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let bound = Duration::from_secs(1);
    let barrier = Barrier::new(CALLERS);
    let took: Vec<(Duration, bool)> = thread::scope(|s| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                s.spawn(|| {
                    let builder = counters.builder(&path).lock_timeout(bound);
                    barrier.wait();
                    let started = Instant::now();
                    let timed_out = matches!(builder.open(&set), Err(Error::LockTimeout { .. }));
                    (started.elapsed(), timed_out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(took.iter().all(|&(_, timed_out)| timed_out), "{took:?}");
    let longest = took.iter().map(|&(t, _)| t).max().unwrap();
    // Generous for a loaded CI machine, and still half of what waiting in
    // turn would take.
    assert!(
        longest < bound * 2,
        "longest wait {longest:?} for a {bound:?} bound: {took:?}"
    );
    assert_eq!(counters.all(), 0, "nothing ran while the lock was held");
}

fn remove_database(path: &Path) {
    std::fs::remove_file(path).unwrap();
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// A file deleted and created again at the same path is a new database: the
/// next open migrates it (whether or not the file system reuses the inode).
#[test]
fn a_deleted_and_recreated_file_is_migrated_again() {
    const CYCLES: usize = 10;
    let set = tagged_set("recreated");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("again.sqlite");
    let mut inodes = Vec::new();

    for cycle in 0..CYCLES {
        let db = counters.builder(&path).open(&set).unwrap_or_else(|e| {
            panic!("cycle {cycle}: open after recreating the file: {e:?}: {e}")
        });
        assert_eq!(
            db.report().map(migrate_once::Report::applied_versions),
            Some(set_versions(&set)),
            "cycle {cycle}: this open migrated the new file"
        );
        {
            let conn = db.connect().unwrap();
            assert_eq!(ledger_versions(&conn), set_versions(&set));
            assert_eq!(count(&conn, "items"), 2);
        }
        assert_file_migrated_once(&path, &set);
        assert_eq!(counters.file(), cycle + 1, "cycle {cycle}: migrations run");
        #[cfg(unix)]
        inodes.push(std::os::unix::fs::MetadataExt::ino(
            &std::fs::metadata(&path).unwrap(),
        ));
        drop(db);
        remove_database(&path);
    }
    inodes.dedup();
    eprintln!("inodes of the recreated files: {inodes:?}");
}

/// A table the migrations create that was dropped afterwards is reported by
/// the next open as a validation error naming it; nothing is migrated again.
#[test]
fn a_dropped_table_fails_validation_on_the_next_open() {
    let set = tagged_set("dropped");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("dropped.sqlite");

    drop(counters.builder(&path).open(&set).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE tags")
        .unwrap();

    for _ in 0..2 {
        let (err, missing, differing, unexpected) =
            validation_parts(counters.builder(&path).open(&set));
        assert_eq!(missing, [table("tags")]);
        assert!(differing.is_empty() && unexpected.is_empty(), "{err:?}");
        assert!(!err.is_transient());
        let text = err.to_string();
        assert!(text.contains("missing: table tags"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
    // The ledger is complete, so nothing ran again and nothing was recreated.
    assert_eq!(counters.file(), 1);
    let conn = Connection::open(&path).unwrap();
    assert_eq!(ledger_versions(&conn), set_versions(&set));
    assert_eq!(
        query_one::<i64>(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name = 'tags'"
        ),
        0
    );
}

/// `require_tables` and `exact_schema`: a missing required table and (in
/// exact mode only) an extra table are named; extras are allowed by default.
#[test]
fn required_tables_and_exact_schema() {
    let set = tagged_set("exact");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("exact.sqlite");

    // Exactly what the migrations define (the ledger does not count).
    counters
        .builder(&path)
        .exact_schema(true)
        .open(&set)
        .unwrap();

    let (err, missing, differing, unexpected) = validation_parts(
        counters
            .builder(&path)
            .require_tables(["not_there"])
            .open(&set),
    );
    assert_eq!(missing, [table("not_there")]);
    assert!(differing.is_empty() && unexpected.is_empty(), "{err:?}");
    assert!(
        err.to_string().contains("missing: table not_there"),
        "{err}"
    );

    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE extra(q TEXT)")
        .unwrap();

    // Extras are allowed by default.
    counters.builder(&path).open(&set).unwrap();

    let (err, missing, differing, unexpected) =
        validation_parts(counters.builder(&path).exact_schema(true).open(&set));
    assert_eq!(unexpected, [table("extra")]);
    assert!(missing.is_empty() && differing.is_empty(), "{err:?}");
    assert!(
        err.to_string()
            .contains("not defined by the migrations: table extra"),
        "{err}"
    );

    // A required table is not unexpected, and once it exists it is not missing.
    counters
        .builder(&path)
        .exact_schema(true)
        .require_tables(["extra"])
        .open(&set)
        .unwrap();
    assert_eq!(counters.file(), 1);
}

/// Pool connections get the per-connection setup; the pool opens nothing
/// until asked, holds at most 4 by default, and is shared by clones.
#[test]
fn pool_connections_get_the_setup() {
    let set = tagged_set("pool");
    let counters = Counters::default();
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("pool.sqlite");

    let db = counters.builder(&path).open(&set).unwrap();
    let pool = db.pool().unwrap();
    assert_eq!(pool.state().connections, 0, "no connection before get()");
    assert_eq!(pool.max_size(), migrate_once::DEFAULT_POOL_SIZE);
    assert_eq!(pool.max_size(), 4);
    {
        let conn = pool.get().unwrap();
        assert_eq!(pragma::<i64>(&conn, "foreign_keys"), 1);
        assert_eq!(pragma::<i64>(&conn, "busy_timeout"), 30_000);
        // The on_connect hook ran on it.
        assert_eq!(query_one::<i64>(&conn, "SELECT count_exec()"), 1);
        assert_eq!(ledger_versions(&conn), set_versions(&set));
        assert_eq!(pool.state().connections, 1);
        // Clones of the handle share the pool.
        assert_eq!(db.clone().pool().unwrap().state().connections, 1);
    }
    let direct = db.connect().unwrap();
    assert_eq!(pragma::<i64>(&direct, "foreign_keys"), 1);
    assert_eq!(pragma::<i64>(&direct, "busy_timeout"), 30_000);

    // Options change what pools and connections get.
    let tuned = counters
        .builder(&path)
        .busy_timeout(Duration::from_millis(1234))
        .foreign_keys(false)
        .pool_size(2)
        .open(&set)
        .unwrap();
    let pool = tuned.pool().unwrap();
    assert_eq!(pool.state().connections, 0);
    assert_eq!(pool.max_size(), 2);
    let conn = pool.get().unwrap();
    assert_eq!(pragma::<i64>(&conn, "foreign_keys"), 0);
    assert_eq!(pragma::<i64>(&conn, "busy_timeout"), 1234);
    let direct = tuned.connect().unwrap();
    assert_eq!(pragma::<i64>(&direct, "foreign_keys"), 0);
    assert_eq!(pragma::<i64>(&direct, "busy_timeout"), 1234);
}
