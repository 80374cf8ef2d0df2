//! The project's tests, each on a clone of a template built once by the
//! project's own start-up code.

use std::sync::{Barrier, LazyLock};

use migrate_once::{TemplateFn, TestDb};

/// Built on a connection migrate-once opens; keyed by the source of the
/// set-up code, so an edit to it builds a new template.
static TEMPLATE: LazyLock<TemplateFn> = LazyLock::new(|| {
    TemplateFn::new(
        TemplateFn::key_of([include_str!("../src/lib.rs")]),
        |conn| {
            consumer_plain::init(conn)?;
            Ok(())
        },
    )
});

/// The same code run through its own `open(path)`: the form for a project
/// whose set-up opens the file itself (or uses another driver).
static BY_PATH: LazyLock<TemplateFn> = LazyLock::new(|| {
    TemplateFn::at_path(
        format!(
            "by-path-{}",
            TemplateFn::key_of([include_str!("../src/lib.rs")])
        ),
        |path| {
            consumer_plain::open(path)?;
            Ok(())
        },
    )
});

fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn each_test_gets_a_seeded_database_of_its_own() {
    for template in [&*TEMPLATE, &*BY_PATH] {
        let a = TestDb::from_fn(template).unwrap();
        let b = TestDb::in_memory_from_fn(template).unwrap();
        a.connect()
            .unwrap()
            .execute(
                "INSERT INTO accounts (email, role_id) VALUES ('a@example.com', 1)",
                [],
            )
            .unwrap();
        assert_eq!(count(&a.connect().unwrap(), "accounts"), 1);
        assert_eq!(count(&b.connect().unwrap(), "accounts"), 0);
        assert_eq!(count(&b.connect().unwrap(), "roles"), 3);
    }
}

#[test]
fn the_start_up_code_run_again_on_a_clone_changes_nothing() {
    let db = TestDb::in_memory_from_fn(&TEMPLATE).unwrap();
    let conn = db.connect().unwrap();
    let before = migrate_once::schema_dump_of(&conn).unwrap();
    consumer_plain::init(&conn).unwrap();
    assert_eq!(migrate_once::schema_dump_of(&conn).unwrap(), before);
    assert_eq!(count(&conn, "roles"), 3);
}

#[test]
fn foreign_keys_are_enforced_on_the_clones() {
    let db = TestDb::from_fn(&TEMPLATE).unwrap();
    let err = db
        .connect()
        .unwrap()
        .execute(
            "INSERT INTO accounts (email, role_id) VALUES ('x@example.com', 99)",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
}

#[test]
fn threads_starting_together_get_databases_of_their_own() {
    const THREADS: usize = 8;
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                let db = TestDb::from_fn(&TEMPLATE).unwrap();
                let conn = db.connect().unwrap();
                conn.execute(
                    "INSERT INTO accounts (email, role_id) VALUES (?1, 2)",
                    [format!("{i}@example.com")],
                )
                .unwrap();
                assert_eq!(count(&conn, "accounts"), 1);
            });
        }
    });
}

#[test]
fn the_schema_is_the_reviewed_one() {
    let dump = TEMPLATE.schema_dump().unwrap();
    assert!(
        dump.contains("CREATE INDEX accounts_by_role ON accounts(role_id);"),
        "{dump}"
    );
}
