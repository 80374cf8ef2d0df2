//! `postgres::TemplateFn`: a template database built by the user's own
//! function, once per key across threads and processes; a changed key is a
//! new template; a function that fails or panics leaves nothing behind.
//! Every assertion about what exists reads `pg_database`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use migrate_once::Error;
use migrate_once::postgres::{TemplateFn, TestDb};
use postgres::Client;

use crate::support::{Running, StartLine, child, field, ready_then_wait, server};

const NONCE: &str = "MIGRATE_ONCE_PG_FN_NONCE";
const RUNS: &str = "MIGRATE_ONCE_PG_FN_RUNS";
const START: &str = "MIGRATE_ONCE_PG_FN_START";

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A function that counts its runs in `runs` and creates `users` (with
/// one seeded row) and an app version table of its own at version 3.
fn counted(key: &str, runs: &Arc<AtomicUsize>) -> TemplateFn {
    let runs = Arc::clone(runs);
    TemplateFn::new(key, move |client| {
        runs.fetch_add(1, Ordering::SeqCst);
        client.batch_execute(
            "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
             INSERT INTO users (email) VALUES ('seed@example.com');
             CREATE TABLE app_versions (version int PRIMARY KEY);
             INSERT INTO app_versions VALUES (1), (2), (3);",
        )?;
        Ok(())
    })
}

/// The names of the databases of `template`'s name: the template itself
/// and any build of it (`migrate_once_bld_<owner>_<hash>`), each with
/// whether it is a template and whether it allows connections.
fn leftovers(admin: &mut Client, template: &str) -> Vec<(String, bool, bool)> {
    let hash = template.strip_prefix("migrate_once_tpl_").unwrap();
    admin
        .query(
            "SELECT datname::text, datistemplate, datallowconn FROM pg_database
             WHERE datname = $1
                OR (starts_with(datname::text, 'migrate_once_bld_') AND datname LIKE '%' || $2)
             ORDER BY 1",
            &[&template, &hash],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.connect().unwrap().query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn eight_threads_on_a_new_key_run_the_function_once_and_each_copy_is_its_own() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let template = counted(&format!("threads-{}", nonce()), &runs);
    assert!(leftovers(&mut admin, &template.template_name()).is_empty());
    let barrier = Barrier::new(8);
    let dbs: Vec<TestDb> = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (template, barrier) = (&template, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let db = TestDb::from_fn(template).unwrap();
                    db.connect()
                        .unwrap()
                        .execute(
                            "INSERT INTO users (email) VALUES ($1)",
                            &[&format!("thread{i}@example.com")],
                        )
                        .unwrap();
                    db
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the function ran once");
    let mut names: Vec<&str> = dbs.iter().map(TestDb::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 8, "eight databases");
    for db in &dbs {
        assert_eq!(db.template(), Some(template.template_name().as_str()));
        assert!(db.report().is_none(), "no migrator report for a function");
        // The seed and this copy's own row; no other thread's.
        assert_eq!(count(db, "SELECT count(*) FROM users"), 2, "{}", db.name());
    }
    // Published as a set's template is: a template, connections refused,
    // and no build left.
    assert_eq!(
        leftovers(&mut admin, &template.template_name()),
        [(template.template_name(), true, false)]
    );
}

/// Runs only in a child: waits for the start line, copies the template of
/// key `NONCE` whose function appends a line to the file `RUNS`.
#[test]
#[ignore = "run as a child process by template_fn::*"]
fn child_from_fn() {
    let key = std::env::var(NONCE).expect("run by template_fn::*");
    let runs = PathBuf::from(std::env::var(RUNS).unwrap());
    let template = TemplateFn::new(key, move |client| {
        let mut file = OpenOptions::new().append(true).create(true).open(&runs)?;
        writeln!(file, "run by {}", std::process::id())?;
        // Long enough for the others to find the build under way.
        client.batch_execute("CREATE TABLE t (x int); SELECT pg_sleep(0.3);")?;
        Ok(())
    });
    ready_then_wait(&PathBuf::from(std::env::var(START).unwrap()));
    let db = TestDb::from_fn(&template).unwrap();
    let rows: i64 = db
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get(0);
    println!("RESULT rows={rows}");
}

#[test]
fn processes_racing_on_a_new_key_run_the_function_once() {
    let server = server!();
    let key = format!("processes-{}", nonce());
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let start = StartLine::new();
    let children: Vec<Running> = (0..4)
        .map(|_| {
            let mut cmd = child("template_fn::child_from_fn");
            cmd.env(NONCE, &key)
                .env(RUNS, &runs)
                .env(START, start.path())
                .env("DATABASE_URL", server.url());
            Running::spawn(cmd)
        })
        .collect();
    start.release(4);
    for c in children {
        assert_eq!(field(&c.result(), "rows"), 0);
    }
    let lines = std::fs::read_to_string(&runs).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
}

#[test]
fn a_changed_key_runs_the_function_again_into_a_new_template() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let nonce = nonce();
    let v1 = counted(&format!("v1-{nonce}"), &runs);
    TestDb::from_fn(&v1).unwrap();
    TestDb::from_fn(&v1).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let v2 = counted(&format!("v2-{nonce}"), &runs);
    let db = TestDb::from_fn(&v2).unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the new key built anew, not the stale template"
    );
    assert_ne!(v1.template_name(), v2.template_name());
    assert_eq!(db.template(), Some(v2.template_name().as_str()));
    for t in [&v1, &v2] {
        assert_eq!(leftovers(&mut admin, &t.template_name()).len(), 1);
    }
}

#[test]
fn an_error_or_a_panic_leaves_nothing_and_the_next_call_builds() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    for how in ["error", "panic", "no table", "left open"] {
        let calls = Arc::new(AtomicUsize::new(0));
        let key = format!("fails-{how}-{}", nonce());
        let template = {
            let calls = Arc::clone(&calls);
            TemplateFn::new(key.clone(), move |client| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    match how {
                        "error" => {
                            client.batch_execute("CREATE TABLE t (x int)")?;
                            return Err("boom".into());
                        }
                        "panic" => {
                            client.batch_execute("CREATE TABLE t (x int)")?;
                            panic!("boom");
                        }
                        "no table" => return Ok(()),
                        // Rolled back: what is checked is what was committed.
                        _ => {
                            client.batch_execute("BEGIN; CREATE TABLE t (x int)")?;
                            return Ok(());
                        }
                    }
                }
                client.batch_execute("CREATE TABLE t (x int)")?;
                Ok(())
            })
        };
        let err = TestDb::from_fn(&template).unwrap_err();
        let Error::TemplateFn {
            key: named,
            problem,
            source,
        } = &err
        else {
            panic!("{how}: {err:?}");
        };
        assert_eq!(named, &key, "{how}");
        match how {
            "error" => {
                assert_eq!(problem, "failed");
                assert_eq!(source.as_ref().unwrap().to_string(), "boom");
            }
            "panic" => assert_eq!(problem, "panicked: boom"),
            _ => assert!(problem.starts_with("created no table"), "{how}: {problem}"),
        }
        assert!(
            leftovers(&mut admin, &template.template_name()).is_empty(),
            "{how}: {:?}",
            leftovers(&mut admin, &template.template_name())
        );
        let db = TestDb::from_fn(&template).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{how}: not remembered");
        assert_eq!(count(&db, "SELECT count(*) FROM t"), 0);
        assert_eq!(leftovers(&mut admin, &template.template_name()).len(), 1);
    }
}

#[test]
fn a_missing_required_table_is_named_and_leaves_nothing() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let template = TemplateFn::new(format!("required-{}", nonce()), |client| {
        client.batch_execute("CREATE SCHEMA app; CREATE TABLE app.users (id int)")?;
        Ok(())
    })
    .require_tables(["users", "app.users", "sessions"]);
    let err = TestDb::from_fn(&template).unwrap_err();
    let Error::Validation { missing, .. } = &err else {
        panic!("{err:?}");
    };
    let missing: Vec<&str> = missing.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(missing, ["sessions"]);
    assert!(leftovers(&mut admin, &template.template_name()).is_empty());
}

#[test]
fn what_the_function_records_is_in_every_copy_and_the_builder_takes_the_same_options() {
    let _server = server!();
    let runs = Arc::new(AtomicUsize::new(0));
    let template = counted(&format!("versions-{}", nonce()), &runs);
    let builder = TestDb::builder_from_fn(&template).ahead(false).pool_size(2);
    assert_eq!(builder.template_name(), Some(template.template_name()));
    let copies = [
        builder.clone().open().unwrap(),
        builder.open().unwrap(),
        TestDb::from_fn(&template).unwrap(),
    ];
    assert_eq!(copies[0].pool().unwrap().max_size(), 2);
    for db in &copies {
        // An app's migrator reading its own version table finds 3: its
        // business to do nothing then.
        assert_eq!(
            count(db, "SELECT max(version)::bigint FROM app_versions"),
            3
        );
        assert_eq!(count(db, "SELECT count(*) FROM users"), 1);
        // The function's template has no crate ledger.
        assert_eq!(
            count(
                db,
                "SELECT count(*) FROM pg_tables WHERE tablename = '_migrate_once_ledger'"
            ),
            0
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
