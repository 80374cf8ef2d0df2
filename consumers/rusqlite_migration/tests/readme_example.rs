use std::sync::LazyLock;

use migrate_once::{TemplateFn, TestDb};

/// Your rusqlite_migration `Migrations`, run by `to_latest` once per key.
/// The key is a hash of the file that defines them (SQL and hooks), so an
/// edit to it builds a new template.
static TEMPLATE: LazyLock<TemplateFn> = LazyLock::new(|| {
    TemplateFn::new(
        TemplateFn::key_of([include_str!("../src/lib.rs")]),
        |conn| {
            my_app::migrations().to_latest(conn)?;
            Ok(())
        },
    )
});

#[test]
fn each_test_gets_a_database_of_its_own() -> Result<(), Box<dyn std::error::Error>> {
    let db = TestDb::in_memory_from_fn(&TEMPLATE)?; // or TestDb::from_fn: a file
    let mut conn = db.connect()?;
    conn.execute("INSERT INTO users (email) VALUES ('new@example.com')", [])?;
    // PRAGMA user_version came with the clone: to_latest finds nothing to do.
    my_app::migrations().to_latest(&mut conn)?;
    Ok(())
}
