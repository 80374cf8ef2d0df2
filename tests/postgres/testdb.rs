//! `postgres::TestDb`: one template per set, built once across processes
//! and never used half built; a copy per test, dropped after it, kept
//! after a panic; what killed processes leave swept, never while they
//! live; old templates swept. Every assertion reads `pg_database`.

use std::path::PathBuf;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::postgres::{DATABASE_URL_ENV, TestDb, TestServer};
use migrate_once::{Migration, Migrations};
use postgres::Client;

use crate::support::{Running, StartLine, child, field, ready_then_wait, server};

const NONCE: &str = "MIGRATE_ONCE_PG_NONCE";
const START: &str = "MIGRATE_ONCE_PG_START";
const SLEEP: &str = "MIGRATE_ONCE_PG_SLEEP";

/// A set no earlier run built a template for (its hash has `nonce` in
/// it), whose first migration records which session ran it and when: a
/// copy shows the build it came from. `sleep` seconds in each of its 5
/// migrations.
fn set_of(nonce: &str, sleep: f64) -> Migrations {
    let mut list = vec![Migration::new(
        1,
        "built_by",
        format!(
            "-- {nonce}\nCREATE TABLE built_by AS SELECT pg_backend_pid() AS pid, \
             clock_timestamp()::text AS at; SELECT pg_sleep({sleep});"
        ),
    )];
    for v in 2..=5 {
        list.push(Migration::new(
            v,
            format!("t{v}"),
            format!(
                "CREATE TABLE t{v} (id bigserial PRIMARY KEY, name text); SELECT pg_sleep({sleep});"
            ),
        ));
    }
    Migrations::new(list).unwrap()
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The databases whose names start with `prefix`, with whether each is a
/// template, allows connections, and its comment.
fn databases(admin: &mut Client, prefix: &str) -> Vec<(String, bool, bool, String)> {
    admin
        .query(
            "SELECT datname::text, datistemplate, datallowconn,
                    coalesce(shobj_description(oid, 'pg_database'), '')
             FROM pg_database WHERE starts_with(datname::text, $1) ORDER BY 1",
            &[&prefix],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn exists(admin: &mut Client, name: &str) -> bool {
    !databases(admin, name).is_empty()
}

/// Waits up to 20 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The templates whose names hold `prefix_key`.
fn template_of(admin: &mut Client, prefix_key: &str) -> Vec<String> {
    databases(admin, "migrate_once_tpl_")
        .into_iter()
        .map(|d| d.0)
        .filter(|n| n.contains(prefix_key))
        .collect()
}

/// The (pid, at) row of the build a copy came from.
fn built_by(db: &TestDb) -> (i32, String) {
    let row = db
        .connect()
        .unwrap()
        .query_one("SELECT pid, at FROM built_by", &[])
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn copies_share_one_template_that_refuses_connections_and_are_dropped_after_the_test() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let set = set_of(&nonce(), 0.0);
    let (a, b) = (TestDb::new(&set).unwrap(), TestDb::new(&set).unwrap());
    assert_eq!(a.report().map(|r| r.applied.len()), Some(5));
    assert!(b.report().is_none(), "the second copy found the template");
    assert_ne!(a.name(), b.name());
    assert_eq!(built_by(&a), built_by(&b), "both copies of one build");
    let template = a.template().unwrap().to_string();
    // The template: published, a template, connections refused.
    let templates = databases(&mut admin, "migrate_once_tpl_");
    assert!(
        templates
            .iter()
            .any(|(_, is_template, allow, comment)| *is_template
                && !*allow
                && comment.starts_with("migrate-once template")),
        "{templates:?}"
    );
    // A copy is its own database: a row in one is not in the other.
    a.connect()
        .unwrap()
        .batch_execute("INSERT INTO t2 (name) VALUES ('x')")
        .unwrap();
    let in_b: i64 = b
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM t2", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_b, 0);
    let (na, nb) = (a.name().to_string(), b.name().to_string());
    drop(a);
    b.close().unwrap();
    assert!(!exists(&mut admin, &nb), "close drops at once");
    eventually("the dropped copy is gone", || !exists(&mut admin, &na));
    assert!(exists(&mut admin, &template), "the template stays");
}

#[test]
fn threads_copying_one_template_at_once_all_get_a_database() {
    let server = server!();
    let _heavy = crate::support::heavy();
    let mut admin = server.connect().unwrap();
    let set = set_of(&nonce(), 0.0);
    let barrier = Barrier::new(16);
    let names: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let (set, barrier) = (&set, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let db = TestDb::new(set).unwrap();
                    let n: i64 = db
                        .connect()
                        .unwrap()
                        .query_one("SELECT count(*) FROM t5", &[])
                        .unwrap()
                        .get(0);
                    assert_eq!(n, 0);
                    db.keep().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 16);
    for name in &names {
        assert!(exists(&mut admin, name));
        admin
            .batch_execute(&format!("DROP DATABASE \"{name}\""))
            .unwrap();
    }
}

/// Runs only in a child: waits for the start line, copies the set of
/// `NONCE`, prints whether it built the template and which build its copy
/// came from; with `SLEEP`, slowly (to be killed mid-build).
#[test]
#[ignore = "run as a child process by testdb::*"]
fn child_copy() {
    let sleep: f64 = std::env::var(SLEEP).map_or(0.0, |s| s.parse().unwrap());
    let set = set_of(&std::env::var(NONCE).expect("run by testdb::*"), sleep);
    if let Ok(start) = std::env::var(START) {
        ready_then_wait(&PathBuf::from(start));
    }
    println!("STARTED");
    let db = TestDb::new(&set).unwrap();
    let (pid, at) = built_by(&db);
    println!(
        "RESULT built={} pid={pid} at={}",
        u8::from(db.report().is_some()),
        at.replace(' ', "_")
    );
}

#[test]
fn processes_racing_on_a_new_set_build_its_template_exactly_once() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let nonce = nonce();
    let start = StartLine::new();
    let racers: Vec<Running> = (0..8)
        .map(|_| {
            let mut cmd = child("testdb::child_copy");
            cmd.env(DATABASE_URL_ENV, server.url())
                .env(NONCE, &nonce)
                .env(START, start.path())
                .env(SLEEP, "0.05");
            Running::spawn(cmd)
        })
        .collect();
    start.release(8);
    let results: Vec<String> = racers.into_iter().map(Running::result).collect();
    let built: u64 = results.iter().map(|r| field(r, "built")).sum();
    assert_eq!(built, 1, "{results:?}");
    let builds: Vec<&str> = results
        .iter()
        .map(|r| r.split_once("pid=").unwrap().1)
        .collect();
    assert!(
        builds.iter().all(|b| *b == builds[0]),
        "every copy comes from one build: {builds:?}"
    );
    let set = set_of(&nonce, 0.05);
    let template = TestDb::new(&set).unwrap();
    assert!(template.report().is_none());
    assert_eq!(
        databases(&mut admin, "migrate_once_bld_")
            .iter()
            .filter(|d| d.0.contains(&nonce))
            .count(),
        0
    );
}

#[test]
fn a_build_killed_half_way_is_never_used_and_what_it_left_is_swept() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let nonce = nonce();
    let template = TestDb::builder(&set_of(&nonce, 0.4))
        .template_name()
        .unwrap();
    let key = template["migrate_once_tpl_".len()..].to_string();
    let mut cmd = child("testdb::child_copy");
    cmd.env(DATABASE_URL_ENV, server.url())
        .env(NONCE, &nonce)
        .env(SLEEP, "0.4");
    let mut running = Running::spawn(cmd);
    running.line("STARTED");
    // Kill it once its build is under way (the migrations take 2 s).
    let mut leftover = None;
    eventually("the child starts building", || {
        leftover = databases(&mut admin, "migrate_once_bld_")
            .into_iter()
            .map(|d| d.0)
            .find(|n| n.ends_with(&key));
        leftover.is_some()
    });
    thread::sleep(Duration::from_millis(600));
    let _ = running.child.kill();
    let _ = running.child.wait();
    let leftover = leftover.unwrap();
    assert!(
        template_of(&mut admin, &key).is_empty(),
        "a half-built template was published"
    );
    // The next process builds it whole, and sweeps the dead build.
    let mut cmd = child("testdb::child_copy");
    cmd.env(DATABASE_URL_ENV, server.url())
        .env(NONCE, &nonce)
        .env(SLEEP, "0.4");
    let result = Running::spawn(cmd).result();
    assert_eq!(field(&result, "built"), 1, "{result}");
    eventually("the killed build is dropped", || {
        !exists(&mut admin, &leftover)
    });
    assert_eq!(template_of(&mut admin, &key), [template]);
    let db = TestDb::new(&set_of(&nonce, 0.4)).unwrap();
    let ledger: i64 = db
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM _migrate_once_ledger", &[])
        .unwrap()
        .get(0);
    assert_eq!(ledger, 5, "the template is whole");
}

/// Runs only in a child: makes a copy, prints its name, and panics with
/// it (so it is kept) or, with `SLEEP`, waits to be killed.
#[test]
#[ignore = "run as a child process by testdb::*"]
fn child_hold() {
    let set = set_of("held", 0.0);
    let db = TestDb::new(&set).unwrap();
    println!("NAME {}", db.name());
    if std::env::var(SLEEP).is_ok() {
        thread::sleep(Duration::from_secs(120));
    }
    panic!("the test failed");
}

#[test]
fn a_panicking_test_keeps_its_database_marked_and_says_how_to_open_it() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let mut cmd = child("testdb::child_hold");
    cmd.env(DATABASE_URL_ENV, server.url());
    let mut running = Running::spawn(cmd);
    let name = running.line("NAME");
    let status = running.child.wait().unwrap();
    assert!(!status.success());
    let stderr = running.stderr();
    assert!(
        stderr.contains(&format!("its database {name} is kept"))
            && stderr.contains("psql 'postgres")
            && stderr.contains(&format!("DROP DATABASE \"{name}\"")),
        "{stderr}"
    );
    let kept = databases(&mut admin, &name);
    assert!(
        kept[0].3.starts_with("migrate-once: kept"),
        "marked as kept: {kept:?}"
    );
    // A later process's sweep leaves it: its owner is gone, but it is kept.
    let mut cmd = child("testdb::child_copy");
    cmd.env(DATABASE_URL_ENV, server.url())
        .env(NONCE, "sweeper");
    Running::spawn(cmd).result();
    assert!(exists(&mut admin, &name));
    // The psql line's URL opens it.
    let url = stderr
        .split("psql '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap()
        .query_one("SELECT count(*) FROM t2", &[])
        .unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .unwrap();
}

#[test]
fn copies_of_a_killed_process_are_swept_by_a_later_one_never_while_it_lives() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let mut cmd = child("testdb::child_hold");
    cmd.env(DATABASE_URL_ENV, server.url()).env(SLEEP, "1");
    let mut holder = Running::spawn(cmd);
    let name = holder.line("NAME");
    let sweep = || {
        let mut cmd = child("testdb::child_copy");
        cmd.env(DATABASE_URL_ENV, server.url())
            .env(NONCE, "sweeper");
        Running::spawn(cmd).result();
    };
    sweep();
    assert!(exists(&mut admin, &name), "swept while its process lives");
    let _ = holder.child.kill();
    let _ = holder.child.wait();
    eventually("the owner's lock is gone", || {
        sweep();
        !exists(&mut admin, &name)
    });
}

#[test]
fn templates_not_used_for_a_week_are_swept_when_another_is_built() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let old = TestDb::new(&set_of(&nonce(), 0.0)).unwrap();
    let old_template = old.template().unwrap().to_string();
    assert!(exists(&mut admin, &old_template));
    admin
        .batch_execute(&format!(
            "COMMENT ON DATABASE \"{old_template}\" IS 'migrate-once template; last used 2000-01-01'"
        ))
        .unwrap();
    let ready = format!(
        "migrate_once_rdy_{}_",
        &old_template["migrate_once_tpl_".len()..]
    );
    eventually("a copy of the old template is made ahead", || {
        exists(&mut admin, &ready)
    });
    let recent = TestDb::new(&set_of(&nonce(), 0.0)).unwrap();
    assert!(recent.report().is_some(), "a new template was built");
    assert!(
        !exists(&mut admin, &old_template),
        "the template not used since 2000 is dropped"
    );
    assert!(!exists(&mut admin, &ready), "with its copies made ahead");
    assert!(exists(&mut admin, recent.template().unwrap()));
    // A copy made from it before is unharmed.
    old.connect()
        .unwrap()
        .query_one("SELECT count(*) FROM t2", &[])
        .unwrap();
}

#[test]
fn an_empty_test_db_has_no_table_and_goes_with_its_handle() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let db = TestDb::empty_builder().open().unwrap();
    let tables: i64 = db
        .connect()
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
    let name = db.name().to_string();
    db.close().unwrap();
    assert!(!exists(&mut admin, &name));
    let _: &TestServer = server;
}

#[test]
fn a_copy_made_ahead_is_taken_by_the_next_test_and_none_is_made_without() {
    let server = server!();
    let mut admin = server.connect().unwrap();
    let set = set_of(&nonce(), 0.0);
    let template = TestDb::builder(&set).template_name().unwrap();
    let ready = format!(
        "migrate_once_rdy_{}_",
        &template["migrate_once_tpl_".len()..]
    );
    let oid = |admin: &mut Client, name: &str| -> u32 {
        admin
            .query_one("SELECT oid FROM pg_database WHERE datname = $1", &[&name])
            .unwrap()
            .get(0)
    };
    let first = TestDb::builder(&set).ahead(true).open().unwrap();
    let mut made = Vec::new();
    eventually("a copy is made ahead", || {
        made = databases(&mut admin, &ready);
        !made.is_empty()
    });
    let made_oid = oid(&mut admin, &made[0].0);
    let second = TestDb::builder(&set).ahead(true).open().unwrap();
    assert_eq!(
        oid(&mut admin, second.name()),
        made_oid,
        "the second test got the copy made ahead, renamed"
    );
    assert!(second.name().starts_with("migrate_once_db_"));
    assert_eq!(built_by(&second), built_by(&first));
    // The next is made meanwhile; never more than two wait.
    eventually("the next copy is made ahead", || exists(&mut admin, &ready));
    for _ in 0..4 {
        drop(TestDb::builder(&set).ahead(true).open().unwrap());
    }
    thread::sleep(Duration::from_millis(500));
    assert!(databases(&mut admin, &ready).len() <= 2);

    let other = set_of(&nonce(), 0.0);
    let plain = TestDb::builder(&other).ahead(false).open().unwrap();
    thread::sleep(Duration::from_millis(500));
    let ready_other = format!(
        "migrate_once_rdy_{}_",
        &plain.template().unwrap()["migrate_once_tpl_".len()..]
    );
    assert!(databases(&mut admin, &ready_other).is_empty());
}
