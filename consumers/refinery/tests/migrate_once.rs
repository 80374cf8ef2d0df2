//! The project's tests, each on a database cloned from a template that
//! refinery's runner migrated once.

use std::sync::{Barrier, LazyLock};

use migrate_once::{TemplateFn, TestDb};

static TEMPLATE: LazyLock<TemplateFn> = LazyLock::new(|| {
    TemplateFn::new(
        TemplateFn::key_of([
            include_str!("../migrations/V1__create_users.sql"),
            include_str!("../migrations/V2__create_tags.rs"),
        ]),
        |conn| {
            my_app::migrate(conn)?;
            Ok(())
        },
    )
    .require_tables(["users", "tags", "refinery_schema_history"])
});

fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_rust_migration_ran_when_the_template_was_built() {
    let db = TestDb::in_memory_from_fn(&TEMPLATE).unwrap();
    let conn = db.connect().unwrap();
    assert_eq!(count(&conn, "tags"), 3);
    assert_eq!(count(&conn, "users"), 2);
    assert_eq!(count(&conn, "refinery_schema_history"), 2);
}

#[test]
fn refinerys_runner_on_a_clone_finds_nothing_to_do() {
    for db in [
        TestDb::from_fn(&TEMPLATE).unwrap(),
        TestDb::in_memory_from_fn(&TEMPLATE).unwrap(),
    ] {
        let mut conn = db.connect().unwrap();
        let before = migrate_once::schema_dump_of(&conn).unwrap();
        let report = my_app::migrate(&mut conn).unwrap();
        assert!(report.applied_migrations().is_empty());
        assert_eq!(migrate_once::schema_dump_of(&conn).unwrap(), before);
        assert_eq!(count(&conn, "tags"), 3);
    }
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
                conn.execute("INSERT INTO tags (name) VALUES (?1)", [format!("t{i}")])
                    .unwrap();
                assert_eq!(count(&conn, "tags"), 4, "the seed and this thread's");
            });
        }
    });
}

/// The README's refinery block is `tests/readme_example.rs`, verbatim.
#[test]
fn the_readme_block_is_this_crates_test_file() {
    let readme = include_str!("../../../README.md");
    let marker = "<!-- consumers/refinery/tests/readme_example.rs, verbatim -->";
    let after = &readme[readme.find(marker).expect("the marker in README.md") + marker.len()..];
    let block: String = after
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block, include_str!("readme_example.rs"));
}
