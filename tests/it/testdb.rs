//! `TestDb`: every test's own database, cloned from the template of the
//! crate's `migrations/`, independent of every other, shared by its own
//! connections, removed on drop, and kept (with its path printed) when the
//! test panicked.
//!
//! The panic tests spawn copies of this test binary that run only
//! [`child_panics_holding_a_test_db`], an ignored test that fails without
//! [`CHILD_DIR`] set (it fails with it set too, on purpose, and differently).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::{DEFAULT_POOL_SIZE, Migrations, TestDb};
use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::child::{ChildEnv, child_test};
use crate::support::{
    assert_seeded, count, crate_migrations as set, entries, poll_for, pragma, query_one,
    serialized, sqlite_code,
};

fn insert_user(conn: &Connection, email: &str) {
    conn.execute(
        "INSERT INTO users (email, display_name) VALUES (?1, 'T')",
        [email],
    )
    .unwrap_or_else(|e| panic!("insert {email}: {e}"));
}

fn has_user(conn: &Connection, email: &str) -> bool {
    conn.query_row(
        "SELECT count(*) FROM users WHERE email = ?1",
        [email],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// A connection's `PRAGMA foreign_keys` and `PRAGMA busy_timeout` (ms).
fn fk_and_busy(conn: &Connection) -> (i64, i64) {
    (pragma(conn, "foreign_keys"), pragma(conn, "busy_timeout"))
}

/// `migrate-once-<pid namespace>-<pid>-<uuid v4>.sqlite`, the uuid in its
/// hyphenated lower-case form.
fn assert_uuid_name(path: &Path) {
    let name = path.file_name().unwrap().to_str().unwrap();
    let rest = name
        .strip_prefix("migrate-once-")
        .and_then(|s| s.strip_suffix(".sqlite"))
        .unwrap_or_else(|| panic!("{name} is not migrate-once-<ns>-<pid>-<uuid>.sqlite"));
    let mut parts = rest.splitn(3, '-');
    let (ns, pid, uuid) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert!(ns.parse::<u64>().is_ok(), "{name}: a pid namespace");
    assert!(pid.parse::<u32>().is_ok(), "{name}: a process id");
    let groups: Vec<&str> = uuid.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    assert_eq!(lens, [8, 4, 4, 4, 12], "{name}: uuid groups");
    assert!(
        uuid.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{name}: uuid is lower-case hex"
    );
    assert!(groups[2].starts_with('4'), "{name}: a version-4 uuid");
}

#[test]
fn clones_start_seeded_and_are_independent() {
    let dir = TempDir::new().unwrap();
    let dbs = [
        TestDb::builder(set()).dir(dir.path()).file().unwrap(),
        TestDb::builder(set()).dir(dir.path()).file().unwrap(),
        TestDb::builder(set()).dir(dir.path()).in_memory().unwrap(),
        TestDb::builder(set()).dir(dir.path()).in_memory().unwrap(),
    ];
    assert!(dbs[0].path().is_some() && dbs[1].path().is_some());
    assert!(dbs[2].path().is_none() && dbs[3].path().is_none());
    assert_ne!(dbs[0].path(), dbs[1].path());
    assert_ne!(dbs[2].uri(), dbs[3].uri());
    assert!(
        dbs[2].uri().contains("vfs=memdb") && !dbs[2].uri().contains("cache=shared"),
        "in-memory databases use memdb, never a shared cache: {}",
        dbs[2].uri()
    );

    let conns: Vec<Connection> = dbs.iter().map(|db| db.connect().unwrap()).collect();
    for (i, conn) in conns.iter().enumerate() {
        assert_seeded(conn, &format!("db {i} when new"));
    }
    for (i, conn) in conns.iter().enumerate() {
        insert_user(conn, &format!("only-in-{i}@example.com"));
    }
    for (i, conn) in conns.iter().enumerate() {
        assert_eq!(count(conn, "users"), 3, "db {i} has its own row only");
        for j in 0..conns.len() {
            assert_eq!(
                has_user(conn, &format!("only-in-{j}@example.com")),
                i == j,
                "db {i} vs the row written in db {j}"
            );
        }
        // A fresh connection reads the same database (for a file, from disk).
        let again = dbs[i].connect().unwrap();
        assert!(has_user(&again, &format!("only-in-{i}@example.com")));
    }

    // The template was not touched by any of the writes.
    let fresh_file = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let fresh_mem = TestDb::in_memory(set()).unwrap();
    assert_seeded(&fresh_file.connect().unwrap(), "a later file clone");
    assert_seeded(&fresh_mem.connect().unwrap(), "a later in-memory clone");
}

#[test]
fn file_names_are_uuids_in_the_chosen_dir() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let path = db.path().unwrap().to_path_buf();
    assert_eq!(path.parent().unwrap(), dir.path());
    assert_uuid_name(&path);
    assert_eq!(db.uri(), path.display().to_string());
    // The file holds the whole template image, not a lazily filled stub.
    let header = fs::read(&path).unwrap();
    assert!(header.starts_with(b"SQLite format 3\0"));
    drop(db);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn connections_of_one_in_memory_db_share_it_and_its_pool() {
    let db = TestDb::in_memory(set()).unwrap();
    let a = db.connect().unwrap();
    let b = db.connect().unwrap();
    insert_user(&a, "from-a@example.com");
    assert!(has_user(&b, "from-a@example.com"), "b sees a's row");
    b.execute("DELETE FROM comments", []).unwrap();
    assert_eq!(count(&a, "comments"), 0, "a sees b's delete");
    assert_eq!(count(&a, "posts"), 2);

    let pool = db.pool().unwrap();
    assert_eq!(
        pool.state().connections,
        0,
        "the pool opens nothing up front"
    );
    assert_eq!(pool.max_size(), 4);
    assert_eq!(pool.max_size(), DEFAULT_POOL_SIZE);
    {
        let p1 = pool.get().unwrap();
        let p2 = pool.get().unwrap();
        assert_eq!(pool.state().connections, 2);
        assert!(has_user(&p1, "from-a@example.com"), "the pool sees a's row");
        insert_user(&p2, "from-pool@example.com");
        assert!(
            has_user(&a, "from-pool@example.com"),
            "a sees the pool's row"
        );
        for conn in [&*p1, &*p2] {
            let (fk, busy) = fk_and_busy(conn);
            assert_eq!(fk, 1, "pooled connections enforce foreign keys");
            // In memory the crate's own busy handler replaces the timeout
            // (it waits at most 2 s): SQLite then reads the timeout as 0.
            assert_eq!(busy, 0);
        }
        // Foreign keys really are enforced: deleting a user cascades.
        p1.execute("DELETE FROM users WHERE id = 1", []).unwrap();
        assert_eq!(count(&b, "posts"), 1, "the cascade is visible to b");
    }
    // The pool is built once and shared.
    assert_eq!(db.pool().unwrap().state().connections, 2);

    // Direct connections get the same setup.
    assert_eq!(fk_and_busy(&a), (1, 0));

    // Another in-memory TestDb sees none of it.
    let other = TestDb::in_memory(set()).unwrap().connect().unwrap();
    assert_seeded(&other, "another in-memory TestDb");
}

#[test]
fn file_db_pool_opens_lazily_with_the_same_setup() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let pool = db.pool().unwrap();
    assert_eq!(pool.state().connections, 0);
    assert_eq!(pool.max_size(), 4);
    let conn = pool.get().unwrap();
    assert_eq!(fk_and_busy(&conn), (1, 30_000));
    insert_user(&conn, "pooled@example.com");
    drop(conn);
    assert!(has_user(&db.connect().unwrap(), "pooled@example.com"));
}

#[test]
fn drop_removes_the_file_and_its_wal_and_shm() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let path = db.path().unwrap().to_path_buf();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();

    // A connection kept open across the drop, so that SQLite itself cannot
    // clean up the -wal and -shm files first.
    let conn = db.connect().unwrap();
    let mode: String = pragma(&conn, "journal_mode = WAL");
    assert_eq!(mode, "wal");
    insert_user(&conn, "wal@example.com");
    // Pooled connections too (the TestDb closes them before deleting).
    let pool = db.pool().unwrap();
    assert!(has_user(&pool.get().unwrap(), "wal@example.com"));
    assert_eq!(pool.state().connections, 1);
    drop(pool);
    assert_eq!(
        entries(dir.path()),
        [name.clone(), format!("{name}-shm"), format!("{name}-wal")],
        "the database is in WAL mode with its -wal and -shm files"
    );

    // The connection holds the database: dropping the TestDb leaves it
    // working, and the last of them to go removes it all.
    drop(db);
    insert_user(&conn, "after-drop@example.com");
    assert!(has_user(&conn, "after-drop@example.com"));
    assert_eq!(entries(dir.path()).len(), 3, "still there while conn is");
    drop(conn);
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "the last connection's close removed the database, -wal and -shm"
    );
}

#[test]
fn drop_removes_a_persisted_journal() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let name = db
        .path()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    {
        // PERSIST leaves the -journal file behind after every transaction,
        // even after the connection is closed.
        let conn = db.connect().unwrap();
        let mode: String = pragma(&conn, "journal_mode = PERSIST");
        assert_eq!(mode, "persist");
        insert_user(&conn, "journal@example.com");
    }
    assert_eq!(
        entries(dir.path()),
        [name.clone(), format!("{name}-journal")]
    );
    drop(db);
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn drop_of_an_in_memory_db_writes_no_file() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).in_memory().unwrap();
    let uri = db.uri();
    insert_user(&db.connect().unwrap(), "mem@example.com");
    drop(db);
    assert!(entries(dir.path()).is_empty());
    // The memory is freed: the name now opens an empty database.
    let conn = Connection::open(&uri).unwrap();
    let tables = count(&conn, "sqlite_master");
    assert_eq!(tables, 0, "{uri} still held the dropped database");
}

#[test]
fn keep_returns_the_path_and_the_file_survives() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let expected = db.path().unwrap().to_path_buf();
    insert_user(&db.connect().unwrap(), "kept@example.com");
    let kept = db.keep().unwrap();
    assert_eq!(kept, expected);
    assert!(kept.is_file());
    let conn = Connection::open(&kept).unwrap();
    assert!(has_user(&conn, "kept@example.com"));
    assert_eq!(count(&conn, "users"), 3);
    drop(conn);
    assert_eq!(entries(dir.path()).len(), 1);
}

#[test]
fn keep_writes_an_in_memory_db_to_a_file() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).in_memory().unwrap();
    let conn = db.connect().unwrap();
    insert_user(&conn, "kept-mem@example.com");
    conn.execute("DELETE FROM comments", []).unwrap();
    let kept = db.keep().unwrap();
    assert_eq!(kept.parent().unwrap(), dir.path());
    assert_uuid_name(&kept);
    assert_eq!(entries(dir.path()).len(), 1);
    let file = Connection::open(&kept).unwrap();
    assert!(has_user(&file, "kept-mem@example.com"));
    assert_eq!(count(&file, "users"), 3);
    assert_eq!(count(&file, "comments"), 0);
    assert_eq!(count(&file, "posts"), 2);
}

#[test]
fn close_removes_the_files_and_spares_another_db() {
    let dir = TempDir::new().unwrap();
    let a = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let b = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let a_path = a.path().unwrap().to_path_buf();
    let b_path = b.path().unwrap().to_path_buf();
    // An idle pooled connection is open when `close` runs.
    insert_user(&a.pool().unwrap().get().unwrap(), "a2@example.com");
    {
        let conn = a.connect().unwrap();
        let mode: String = pragma(&conn, "journal_mode = PERSIST");
        assert_eq!(mode, "persist");
        insert_user(&conn, "a@example.com");
    }
    assert_eq!(a.pool().unwrap().state().connections, 1);
    insert_user(&b.connect().unwrap(), "b@example.com");
    let b_before = fs::read(&b_path).unwrap();
    assert_eq!(entries(dir.path()).len(), 3, "a, a-journal, b");

    a.close().unwrap();
    assert!(!a_path.exists());
    let b_name = b_path.file_name().unwrap().to_str().unwrap();
    assert_eq!(entries(dir.path()), [b_name], "only b is left");
    assert_eq!(fs::read(&b_path).unwrap(), b_before, "b is untouched");
    let conn = b.connect().unwrap();
    assert!(has_user(&conn, "b@example.com"));
    assert!(!has_user(&conn, "a@example.com"));
    drop(conn);

    let m = TestDb::builder(set()).dir(dir.path()).in_memory().unwrap();
    insert_user(&m.connect().unwrap(), "m@example.com");
    m.close().unwrap();
    b.close().unwrap();
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

const THREADS: usize = 8;
const TOTAL: usize = 1_000;

#[test]
fn a_thousand_test_dbs_from_eight_threads() {
    let dir = TempDir::new().unwrap();
    // Build (or load) the template before the clock starts.
    drop(TestDb::builder(set()).dir(dir.path()).in_memory().unwrap());
    let barrier = Barrier::new(THREADS);
    let names = Mutex::new(Vec::with_capacity(TOTAL));
    let errors = Mutex::new(Vec::new());
    let start = Instant::now();
    thread::scope(|s| {
        for t in 0..THREADS {
            let (barrier, names, errors, dir) = (&barrier, &names, &errors, dir.path());
            s.spawn(move || {
                barrier.wait();
                let mut i = t;
                while i < TOTAL {
                    let result = (|| -> Result<String, Box<dyn std::error::Error>> {
                        let builder = TestDb::builder(set()).dir(dir);
                        let db = if i % 2 == 0 {
                            builder.file()?
                        } else {
                            builder.in_memory()?
                        };
                        let email = format!("u{i}@example.com");
                        let conn = db.connect()?;
                        conn.execute(
                            "INSERT INTO users (email, display_name) VALUES (?1, 'T')",
                            [&email],
                        )?;
                        let (n, got): (i64, String) = conn.query_row(
                            "SELECT count(*), max(email) FILTER (WHERE id > 2) FROM users",
                            [],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )?;
                        if n != 3 || got != email {
                            return Err(format!("db {i}: {n} users, new one {got}").into());
                        }
                        Ok(db
                            .path()
                            .map_or_else(|| db.uri(), |p| p.display().to_string()))
                    })();
                    match result {
                        Ok(name) => names.lock().unwrap().push(name),
                        Err(e) => errors.lock().unwrap().push(format!("db {i}: {e}")),
                    }
                    i += THREADS;
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let errors = errors.into_inner().unwrap();
    let names = names.into_inner().unwrap();
    eprintln!("{TOTAL} TestDbs (half files, half in memory) from {THREADS} threads: {elapsed:?}");
    assert!(errors.is_empty(), "{} errors: {errors:#?}", errors.len());
    assert_eq!(names.len(), TOTAL);
    let distinct: HashSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), TOTAL, "every TestDb had its own name");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".sqlite")).count(),
        TOTAL / 2
    );
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "every TestDb removed its files"
    );
    // A bound that only a hang or a pathological slowdown exceeds.
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

// ---- a panicking test keeps its database ----

/// The directory the child creates its database in.
const CHILD_DIR: &str = "MIGRATE_ONCE_TESTDB_CHILD_DIR";
/// `file` or `memory`.
const CHILD_KIND: &str = "MIGRATE_ONCE_TESTDB_CHILD_KIND";
const CHILD_EMAIL: &str = "written-before-the-panic@example.com";

/// Runs only in a child process (see the module docs): writes a row into a
/// fresh TestDb, then fails.
#[test]
#[ignore = "run as a child process by testdb::a_panicking_test_keeps_its_file_and_prints_the_path and testdb::a_panicking_test_keeps_its_in_memory_db_in_a_file"]
fn child_panics_holding_a_test_db() {
    let env = ChildEnv::of(
        "testdb::a_panicking_test_keeps_its_file_and_prints_the_path and \
         testdb::a_panicking_test_keeps_its_in_memory_db_in_a_file",
    );
    let dir = env.path(CHILD_DIR);
    let kind = env.var(CHILD_KIND);
    let builder = TestDb::builder(set()).dir(dir);
    let db = match kind.as_str() {
        "file" => builder.file().unwrap(),
        "memory" => builder.in_memory().unwrap(),
        other => panic!("unknown kind {other}"),
    };
    let conn = db.connect().unwrap();
    insert_user(&conn, CHILD_EMAIL);
    println!("CHILD wrote its row");
    panic!("the child test fails on purpose");
}

fn panicking_test_keeps(kind: &str) {
    let dir = TempDir::new().unwrap();
    let out = child_test!(child_panics_holding_a_test_db)
        .env(CHILD_DIR, dir.path())
        .env(CHILD_KIND, kind)
        .run();
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let what = format!("{kind} child: {out:?}");
    assert!(!out.status.success(), "the child test must fail: {what}");
    assert!(
        stdout.contains("CHILD wrote its row"),
        "the child got as far as the panic: {what}"
    );
    assert!(
        stderr.contains("the child test fails on purpose"),
        "it failed by the intended panic: {what}"
    );
    const MARK: &str = "its database is kept at ";
    let kept = stderr
        .lines()
        .find_map(|l| l.split_once(MARK).map(|(_, p)| PathBuf::from(p.trim())))
        .unwrap_or_else(|| panic!("no `{MARK}<path>` line: {what}"));
    assert_eq!(kept.parent().unwrap(), dir.path(), "{what}");
    assert_uuid_name(&kept);
    assert!(kept.is_file(), "{} does not exist: {what}", kept.display());
    assert_eq!(
        entries(dir.path()),
        [kept.file_name().unwrap().to_str().unwrap()],
        "only the kept database is in the dir"
    );
    let conn = Connection::open(&kept).unwrap();
    assert!(has_user(&conn, CHILD_EMAIL), "the kept file has the row");
    assert_eq!(count(&conn, "users"), 3);
    assert_eq!(count(&conn, "posts"), 2);
}

#[test]
fn a_panicking_test_keeps_its_file_and_prints_the_path() {
    panicking_test_keeps("file");
}

#[test]
fn a_panicking_test_keeps_its_in_memory_db_in_a_file() {
    panicking_test_keeps("memory");
}

/// A hook that switches connections to WAL must not break the template: it
/// has to be one self-contained file that can be copied and deserialized.
#[test]
fn a_hook_that_turns_on_wal_still_gives_working_clones() {
    let unique = format!(
        "CREATE TABLE wal_{}(x); INSERT INTO wal_{0} VALUES (1);",
        uuid::Uuid::new_v4().simple()
    );
    let set = Migrations::new(vec![migrate_once::Migration::new(1, "wal", &unique)]).unwrap();
    let tmp = TempDir::new().unwrap();
    let wal = |c: &Connection| {
        c.pragma_update(None, "journal_mode", "wal")
            .or_else(|_| Ok::<(), rusqlite::Error>(()))
    };
    let file = TestDb::builder(&set)
        .dir(tmp.path())
        .on_connect(wal)
        .file()
        .unwrap();
    let memory = TestDb::builder(&set).on_connect(wal).in_memory().unwrap();
    for db in [&file, &memory] {
        let conn = db.connect().unwrap();
        let tables: i64 = query_one(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'wal_%'",
        );
        assert_eq!(tables, 1, "{db:?}");
    }
}

#[test]
fn an_in_memory_clone_holds_the_template_byte_for_byte() {
    let template = migrate_once::Template::for_set(set()).unwrap();
    let db = TestDb::in_memory(set()).unwrap();
    let conn = db.connect().unwrap();
    let bytes = serialized(&conn);
    assert_eq!(bytes.len(), template.bytes().unwrap().len());
    assert!(
        bytes == template.bytes().unwrap(),
        "clone differs from the template"
    );
    let check: String = pragma(&conn, "integrity_check");
    assert_eq!(check, "ok");
}

#[test]
fn in_memory_clones_of_a_large_page_template_grow_and_stay_whole() {
    // The connection that keeps an in-memory clone alive opens it empty,
    // with SQLite's default page size; the template here has 8 KiB pages
    // (set by the hook before the template's first table), so every reader
    // must take the page size from the copied header.
    let table = format!("big_{}", uuid::Uuid::new_v4().simple());
    let sql = format!(
        "CREATE TABLE {table}(id INTEGER PRIMARY KEY, pad TEXT); INSERT INTO {table}(pad) VALUES ('seed');"
    );
    let set = Migrations::new(vec![migrate_once::Migration::new(1, "big", &sql)]).unwrap();
    let builder = || {
        TestDb::builder(&set).on_connect(|c: &Connection| c.pragma_update(None, "page_size", 8192))
    };
    let db = builder().in_memory().unwrap();
    let template = migrate_once::Template::for_set(&set).unwrap();
    let header = template.bytes().unwrap();
    let header_page_size = u16::from_be_bytes([header[16], header[17]]);
    assert_eq!(
        header_page_size, 8192,
        "the hook did not take: test proves nothing"
    );

    let writer = db.connect().unwrap();
    assert_eq!(pragma::<i64>(&writer, "page_size"), 8192);
    // ~4 MB of rows: the store is reallocated several times past its first size.
    writer
        .execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
             INSERT INTO {table}(pad) SELECT hex(randomblob(500)) FROM n;"
        ))
        .unwrap();
    let reader = db.connect().unwrap();
    assert_eq!(count(&reader, &table), 4001);
    let check: String = pragma(&reader, "integrity_check");
    assert_eq!(check, "ok");

    // Another clone of the same template starts from the template, not from
    // the rows written above.
    let other = builder().in_memory().unwrap().connect().unwrap();
    assert_eq!(count(&other, &table), 1);
}

/// Waits up to 5 s for `dir` to be empty: the last handle of a pool can be
/// released on r2d2's maintenance thread if it is looking at the pool at
/// that instant.
fn eventually_empty(dir: &Path) -> Vec<String> {
    let mut left = entries(dir);
    poll_for(Duration::from_secs(5), || {
        left = entries(dir);
        left.is_empty()
    });
    left
}

#[test]
fn a_pool_keeps_its_database_alive_after_the_test_db_is_gone() {
    let dir = TempDir::new().unwrap();
    // Each TestDb here is a temporary, dropped at the end of its statement,
    // before its pool has opened a single connection.
    let file_pool = TestDb::builder(set())
        .dir(dir.path())
        .file()
        .unwrap()
        .pool()
        .unwrap();
    let memory_pool = TestDb::builder(set())
        .dir(dir.path())
        .in_memory()
        .unwrap()
        .pool()
        .unwrap();
    assert_eq!(entries(dir.path()).len(), 1, "the file outlives its TestDb");
    for (what, pool) in [("file", &file_pool), ("in-memory", &memory_pool)] {
        assert_eq!(pool.state().connections, 0);
        let a = pool.get().unwrap();
        assert_seeded(&a, what);
        insert_user(&a, "kept@example.com");
        let b = pool.get().unwrap();
        assert!(has_user(&b, "kept@example.com"), "{what}: one database");
    }
    let clone = file_pool.clone();
    drop(file_pool);
    assert!(
        has_user(&clone.get().unwrap(), "kept@example.com"),
        "a clone of the pool still holds the database"
    );
    assert_eq!(entries(dir.path()).len(), 1);
    drop(clone);
    assert_eq!(eventually_empty(dir.path()), Vec::<String>::new());
    drop(memory_pool);
    assert_eq!(entries(dir.path()), Vec::<String>::new(), "nothing written");
}

#[test]
fn after_close_a_pool_clone_cannot_connect_and_creates_nothing() {
    let dir = TempDir::new().unwrap();
    let file = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let memory = TestDb::builder(set()).dir(dir.path()).in_memory().unwrap();
    // A file is opened without SQLITE_OPEN_CREATE, so SQLite refuses the
    // missing file; a memdb name would open empty, so the pool refuses.
    let cases = [
        (file, "unable to open database file"),
        (
            memory,
            "this TestDb was closed; it cannot be connected to any more",
        ),
    ];
    for (db, expected) in cases {
        let what = format!("{db:?}");
        let pool = db.pool().unwrap();
        db.close().unwrap();
        let err = pool
            .get_timeout(Duration::from_millis(300))
            .expect_err(&what)
            .to_string();
        assert!(err.contains(expected), "{what}: {err}");
    }
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

// ---- locking: a file lets readers in, memory fails fast ----

/// Begins a write transaction on `writer` that adds a user, and leaves it
/// open.
fn open_write_transaction(writer: &Connection) {
    writer
        .execute_batch(
            "BEGIN IMMEDIATE; \
             INSERT INTO users (email, display_name) VALUES ('pending@example.com', 'P');",
        )
        .unwrap();
}

#[test]
fn a_file_lets_a_reader_in_while_another_connection_has_a_write_transaction_open() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).file().unwrap();
    let pool = db.pool().unwrap();
    let writer = pool.get().unwrap();
    open_write_transaction(&writer);
    let reader = pool.get().unwrap();
    let started = Instant::now();
    assert_eq!(count(&reader, "users"), 2, "the committed rows, at once");
    assert!(started.elapsed() < Duration::from_secs(1));
    writer.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&reader, "users"), 3);
}

/// Run as a child so that its stderr can be read.
#[test]
#[ignore = "run as a child process by testdb::in_memory_a_reader_blocked_by_a_write_transaction_fails_within_seconds_saying_why"]
fn child_reads_in_memory_during_a_write_transaction() {
    let _ = ChildEnv::of(
        "testdb::in_memory_a_reader_blocked_by_a_write_transaction_fails_within_seconds_saying_why",
    );
    let db = TestDb::in_memory(set()).unwrap();
    let pool = db.pool().unwrap();
    let writer = pool.get().unwrap();
    open_write_transaction(&writer);
    let reader = pool.get().unwrap();
    let started = Instant::now();
    let err = reader
        .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
        .unwrap_err();
    let waited = started.elapsed();
    // The writer is unharmed and commits.
    writer.execute_batch("COMMIT").unwrap();
    println!(
        "RESULT busy={} waited_ms={} after={}",
        u8::from(sqlite_code(&err) == Some(rusqlite::ErrorCode::DatabaseBusy)),
        waited.as_millis(),
        count(&reader, "users")
    );
}

#[test]
fn in_memory_a_reader_blocked_by_a_write_transaction_fails_within_seconds_saying_why() {
    let out = child_test!(child_reads_in_memory_during_a_write_transaction).run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("busy"), Some(1), "{out:?}");
    let waited = out.field("waited_ms").unwrap();
    // Two seconds, not the 30 s busy timeout.
    assert!((1900..5000).contains(&waited), "{out:?}");
    assert_eq!(out.field("after"), Some(3), "{out:?}");
    assert!(
        out.stderr
            .contains("an in-memory test database has waited 2 s for a lock and gives up")
            && out.stderr.contains("give it a file"),
        "{out:?}"
    );
}

#[test]
fn a_connection_kept_after_its_test_db_goes_on_working_and_the_last_one_removes_the_file() {
    let dir = TempDir::new().unwrap();
    // What a helper that makes a TestDb and returns a connection does.
    let make = |memory: bool| {
        let builder = TestDb::builder(set()).dir(dir.path());
        let db = if memory {
            builder.in_memory()
        } else {
            builder.file()
        }
        .unwrap();
        (db.path().map(Path::to_path_buf), db.connect().unwrap())
    };
    for memory in [false, true] {
        let (path, conn) = make(memory);
        insert_user(&conn, "kept@example.com");
        assert_eq!(count(&conn, "users"), 3, "memory={memory}");
        if let Some(path) = &path {
            assert!(path.exists());
        }
        drop(conn);
        if let Some(path) = &path {
            assert!(!path.exists(), "the last connection removed it");
        }
    }
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn after_close_a_pool_is_refused_at_once_for_files_and_memory() {
    let dir = TempDir::new().unwrap();
    for memory in [false, true] {
        let builder = TestDb::builder(set()).dir(dir.path());
        let db = if memory {
            builder.in_memory()
        } else {
            builder.file()
        }
        .unwrap();
        let owner = db.pool().unwrap();
        db.close().unwrap();
        let err = format!("{:?}", owner.get().unwrap_err());
        assert!(err.contains("closed"), "memory={memory}: {err}");
    }
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn a_directory_that_does_not_exist_is_made_with_its_parents() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("not/yet/there");
    let db = TestDb::builder(set()).dir(&dir).file().unwrap();
    assert!(db.path().unwrap().starts_with(&dir));
    assert_eq!(count(&db.connect().unwrap(), "users"), 2);
}

#[test]
fn the_clone_without_the_ledger_holds_the_app_tables_only() {
    let db = TestDb::builder(set()).ledger(false).in_memory().unwrap();
    let conn = db.connect().unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !tables.iter().any(|t| t == "_migrate_once_ledger"),
        "{tables:?}"
    );
    assert!(tables.iter().any(|t| t == "users"), "{tables:?}");
    assert_seeded(&conn, "a clone without the ledger");
    // And the full clone still has it.
    let full = TestDb::in_memory(set()).unwrap();
    assert_eq!(
        query_one::<i64>(
            &full.connect().unwrap(),
            "SELECT count(*) FROM sqlite_master WHERE name = '_migrate_once_ledger'"
        ),
        1
    );
}

// ---- clones written ahead, and what is left at exit ----

const AHEAD_PARENT: &str =
    "testdb::a_process_that_makes_many_clones_gets_them_written_ahead_and_leaves_nothing";
const AHEAD_DIR: &str = "MIGRATE_ONCE_DIR";

/// Run as a child with `MIGRATE_ONCE_DIR` set: six file clones of the
/// crate's set, a moment apart, each used and dropped.
#[test]
#[ignore = "run as a child process by testdb::a_process_that_makes_many_clones_gets_them_written_ahead_and_leaves_nothing"]
fn child_makes_six_clones() {
    let dir = ChildEnv::of(AHEAD_PARENT).path(AHEAD_DIR);
    let mut ahead = 0;
    let mut paths = HashSet::new();
    for _ in 0..6 {
        // Time for the file written ahead to be ready.
        thread::sleep(Duration::from_millis(100));
        let asked = std::time::SystemTime::now();
        let db = TestDb::new(set()).unwrap();
        let path = db.path().unwrap().to_path_buf();
        assert!(path.starts_with(&dir));
        assert!(paths.insert(path.clone()), "a fresh file each time");
        let conn = db.connect().unwrap();
        assert_seeded(&conn, "a clone written ahead or not");
        insert_user(&conn, "mine@example.com");
        // Written well before it was asked for (file times come from a
        // coarse clock, a few ms behind): the file made ahead, about the
        // 100 ms of the sleep before.
        let created = fs::metadata(&path).unwrap().created().unwrap();
        if created + Duration::from_millis(50) < asked {
            ahead += 1;
        }
    }
    let left = entries(&dir).len();
    println!("RESULT ahead={ahead} left={left}");
}

#[test]
fn a_process_that_makes_many_clones_gets_them_written_ahead_and_leaves_nothing() {
    let tmp = TempDir::new().unwrap();
    let out = child_test!(child_makes_six_clones)
        .env(AHEAD_DIR, tmp.path())
        .run();
    assert!(out.status.success(), "{out:?}");
    // The first two are written when asked; from the third on, each is
    // the one written ahead.
    assert_eq!(out.field("ahead"), Some(4), "{out:?}");
    // While it ran: at most the spares for the next, one per core (up to
    // four).
    let kept = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4);
    assert!(out.field("left").unwrap() <= kept, "{out:?}");
    // And at exit, nothing.
    assert_eq!(entries(tmp.path()), Vec::<String>::new(), "{out:?}");
}

// ---- what a review of the changes above found ----

#[test]
fn the_clone_without_the_ledger_is_made_with_the_callers_hook() {
    // An index on a function the hook registers: dropping the ledger and
    // vacuuming rebuild it, and need the function too.
    let set = Migrations::new(vec![migrate_once::Migration::new(
        1,
        "names",
        "CREATE TABLE names (name TEXT); \
         CREATE INDEX names_reversed ON names(reversed(name)); \
         INSERT INTO names VALUES ('ab'), ('cd');",
    )])
    .unwrap();
    let hook = |conn: &Connection| {
        use rusqlite::functions::FunctionFlags;
        conn.create_scalar_function(
            "reversed",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(ctx.get::<String>(0)?.chars().rev().collect::<String>()),
        )
    };
    let db = TestDb::builder(&set)
        .on_connect(hook)
        .ledger(false)
        .in_memory()
        .unwrap();
    let found: String = query_one(
        &db.connect().unwrap(),
        "SELECT name FROM names WHERE reversed(name) = 'dc'",
    );
    assert_eq!(found, "cd");
}

/// Run as a child: prints what a blocked read on an in-memory database did
/// after `migrate` ran on one of its connections, and with a busy timeout
/// the user set.
#[test]
#[ignore = "run as a child process by testdb::in_memory_waits_survive_migrate_and_a_users_busy_timeout_is_waited_out"]
fn child_in_memory_waits() {
    let kind = ChildEnv::of(
        "testdb::in_memory_waits_survive_migrate_and_a_users_busy_timeout_is_waited_out",
    )
    .var(CHILD_KIND);
    let builder = TestDb::builder(set());
    let db = if kind == "explicit" {
        builder.busy_timeout(Duration::from_secs(3)).in_memory()
    } else {
        builder.in_memory()
    }
    .unwrap();
    let pool = db.pool().unwrap();
    let writer = pool.get().unwrap();
    let mut reader = db.connect().unwrap();
    // Nothing to apply, but the migrator sets (and restores) the busy
    // timeout of the connection it is given.
    migrate_once::migrate(&mut reader, set()).unwrap();
    open_write_transaction(&writer);
    let started = Instant::now();
    let failed = reader
        .query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
        .is_err();
    println!(
        "RESULT failed={} waited_ms={}",
        u8::from(failed),
        started.elapsed().as_millis()
    );
}

#[test]
fn in_memory_waits_survive_migrate_and_a_users_busy_timeout_is_waited_out() {
    for (kind, range, says) in [
        ("default", 1900..3000, "gives up"),
        ("explicit", 2900..4500, "goes on waiting"),
    ] {
        let out = child_test!(child_in_memory_waits)
            .env(CHILD_KIND, kind)
            .run();
        assert!(out.status.success(), "{kind}: {out:?}");
        assert_eq!(out.field("failed"), Some(1), "{kind}: {out:?}");
        let waited = out.field("waited_ms").unwrap();
        assert!(
            range.contains(&waited),
            "{kind}: waited {waited} ms: {out:?}"
        );
        assert!(out.stderr.contains(says), "{kind}: {out:?}");
    }
}

#[test]
fn keeping_an_in_memory_database_another_connection_holds_a_write_lock_on_fails_in_seconds() {
    let dir = TempDir::new().unwrap();
    let db = TestDb::builder(set()).dir(dir.path()).in_memory().unwrap();
    let writer = db.connect().unwrap();
    open_write_transaction(&writer);
    let started = Instant::now();
    let err = db.keep().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        format!("{err:?}").contains("could not be copied"),
        "{err:?}"
    );
    writer.execute_batch("ROLLBACK").unwrap();
}

const SWEEP_PARENT: &str =
    "testdb::files_of_processes_that_are_gone_are_swept_from_the_crates_own_directory";

#[test]
#[ignore = "run as a child process by testdb::files_of_processes_that_are_gone_are_swept_from_the_crates_own_directory"]
fn child_makes_one_test_db_in_the_default_directory() {
    let _ = ChildEnv::of(SWEEP_PARENT).var(CHILD_KIND);
    let db = TestDb::new(set()).unwrap();
    println!("DIR {}", db.path().unwrap().parent().unwrap().display());
}

#[cfg(target_os = "linux")]
#[test]
fn files_of_processes_that_are_gone_are_swept_from_the_crates_own_directory() {
    // The crate's own directory, as a child's first TestDb there finds it.
    let out = child_test!(child_makes_one_test_db_in_the_default_directory)
        .env(CHILD_KIND, "find the directory")
        .run();
    assert!(out.status.success(), "{out:?}");
    let dir = PathBuf::from(
        out.stdout
            .lines()
            .find_map(|l| l.split_once("DIR ").map(|(_, dir)| dir.trim()))
            .unwrap_or_else(|| panic!("{out:?}")),
    );
    let ns = fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns
        .to_str()
        .unwrap()
        .trim_start_matches("pid:[")
        .trim_end_matches(']');
    // A process that is gone: one that ran and was waited for.
    let gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    let mut gone = gone;
    gone.wait().unwrap();
    let name = |pid: u32, tag: &str| format!("migrate-once-{ns}-{pid}-{tag}.sqlite");
    let dead = dir.join(name(gone_pid, "dead"));
    let dead_journal = dir.join(format!("{}-journal", name(gone_pid, "dead")));
    let kept = dir.join(name(gone_pid, "kept"));
    let kept_marker = dir.join(format!("{}.kept", name(gone_pid, "kept")));
    let orphan_marker = dir.join(format!("{}.kept", name(gone_pid, "deleted")));
    let live = dir.join(name(std::process::id(), "live"));
    let other_ns = dir.join(format!("migrate-once-1-{gone_pid}-elsewhere.sqlite"));
    for file in [
        &dead,
        &dead_journal,
        &kept,
        &kept_marker,
        &orphan_marker,
        &live,
        &other_ns,
    ] {
        fs::write(file, b"").unwrap();
    }
    let out = child_test!(child_makes_one_test_db_in_the_default_directory)
        .env(CHILD_KIND, "sweep")
        .run();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !dead.exists() && !dead_journal.exists(),
        "a gone process's files are swept"
    );
    assert!(
        !orphan_marker.exists(),
        "a marker whose database was deleted goes"
    );
    assert!(
        kept.exists() && kept_marker.exists(),
        "a kept database stays"
    );
    assert!(live.exists(), "a live process's file stays");
    assert!(other_ns.exists(), "another pid namespace's file stays");
    for file in [&kept, &kept_marker, &live, &other_ns] {
        fs::remove_file(file).unwrap();
    }
}
