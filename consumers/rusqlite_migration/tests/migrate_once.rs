//! The project's tests, each on a database of its own cloned from a
//! template that rusqlite_migration migrated once (per key, across threads
//! and test processes).

use std::sync::{Barrier, LazyLock};

use migrate_once::{SharedDb, TemplateFn, TestDb};
use my_app::{migrations, LATEST};
use rusqlite_migration::SchemaVersion;

/// The template: the project's own migrations, run by rusqlite_migration.
/// Its key is a hash of the file that defines them (SQL and hooks), so an
/// edit builds a new template.
static TEMPLATE: LazyLock<TemplateFn> = LazyLock::new(|| {
    TemplateFn::new(
        TemplateFn::key_of([include_str!("../src/lib.rs")]),
        |conn| {
            migrations().to_latest(conn)?;
            Ok(())
        },
    )
    .require_tables(["users", "posts"])
});

fn users(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap()
}

fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn each_test_gets_a_migrated_database_of_its_own() {
    let a = TestDb::from_fn(&TEMPLATE).unwrap();
    let b = TestDb::in_memory_from_fn(&TEMPLATE).unwrap();
    a.connect()
        .unwrap()
        .execute("INSERT INTO users (email) VALUES ('mine@example.com')", [])
        .unwrap();
    assert_eq!(users(&a.connect().unwrap()), 3);
    assert_eq!(users(&b.connect().unwrap()), 2, "another database");
}

#[test]
fn the_rust_hook_ran_when_the_template_was_built() {
    let db = TestDb::in_memory_from_fn(&TEMPLATE).unwrap();
    let domains: Vec<String> = db
        .connect()
        .unwrap()
        .prepare("SELECT domain FROM users ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(domains, ["example.com", "example.com"]);
}

#[test]
fn to_latest_on_a_clone_finds_nothing_to_do() {
    for db in [
        TestDb::from_fn(&TEMPLATE).unwrap(),
        TestDb::in_memory_from_fn(&TEMPLATE).unwrap(),
    ] {
        let mut conn = db.connect().unwrap();
        // rusqlite_migration's state, PRAGMA user_version, is in the clone.
        assert_eq!(user_version(&conn), LATEST);
        assert_eq!(
            migrations().current_version(&conn).unwrap(),
            SchemaVersion::Inside((LATEST as usize).try_into().unwrap())
        );
        let before = migrate_once::schema_dump_of(&conn).unwrap();
        migrations().to_latest(&mut conn).unwrap();
        // Nothing ran again: the same schema, the seed rows once.
        assert_eq!(migrate_once::schema_dump_of(&conn).unwrap(), before);
        assert_eq!(users(&conn), 2);
        assert_eq!(user_version(&conn), LATEST);
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
                let db = TestDb::in_memory_from_fn(&TEMPLATE).unwrap();
                let conn = db.connect().unwrap();
                conn.execute(
                    "INSERT INTO posts (user_id, title) VALUES (1, ?1)",
                    [format!("post {i}")],
                )
                .unwrap();
                let posts: i64 = conn
                    .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(posts, 1, "only this thread's post");
            });
        }
    });
}

#[test]
fn a_shared_database_from_the_same_template() {
    let dir = std::env::temp_dir().join(format!("consumer-rm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shared.sqlite");
    let db = SharedDb::open_from_fn(&path, &TEMPLATE).unwrap();
    let mut conn = db.connect().unwrap();
    assert_eq!(user_version(&conn), LATEST);
    migrations().to_latest(&mut conn).unwrap();
    assert_eq!(users(&conn), 2);
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's rusqlite_migration block is `tests/readme_example.rs`,
/// verbatim: this crate compiles and runs it.
#[test]
fn the_readme_block_is_this_crates_test_file() {
    let readme = include_str!("../../../README.md");
    let marker = "<!-- consumers/rusqlite_migration/tests/readme_example.rs, verbatim -->";
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
