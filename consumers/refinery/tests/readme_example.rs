use std::sync::LazyLock;

use migrate_once::{TemplateFn, TestDb};

/// Your refinery migrations, run once per key. The key is made of the
/// migration files (`.sql` and `.rs`), so an edit to one builds anew.
static TEMPLATE: LazyLock<TemplateFn> = LazyLock::new(|| {
    let key = TemplateFn::key_of([
        include_str!("../migrations/V1__create_users.sql"),
        include_str!("../migrations/V2__create_tags.rs"),
    ]);
    TemplateFn::new(key, |conn| {
        my_app::embedded::migrations::runner().run(conn)?;
        Ok(())
    })
});

#[test]
fn each_test_gets_a_database_of_its_own() -> Result<(), Box<dyn std::error::Error>> {
    let db = TestDb::from_fn(&TEMPLATE)?; // or TestDb::in_memory_from_fn
    let mut conn = db.connect()?;
    conn.execute("INSERT INTO tags (name) VALUES ('mine')", [])?;
    // refinery_schema_history came with the clone: nothing to apply.
    let report = my_app::embedded::migrations::runner().run(&mut conn)?;
    assert!(report.applied_migrations().is_empty());
    Ok(())
}
