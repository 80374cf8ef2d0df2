//! Not vendored: what each attribute costs per test at 100 tables, the two
//! side by side in one test binary (so in one run). The set is the benches'
//! generated one (`benches/support/generated.rs`, 100 tables in 50
//! migrations), written out as sqlx's plain layout in `tests/generated_100/`.
//!
//! Four groups of twenty tests with the same body, a test's first query:
//! `sqlx_test_NN` under `#[sqlx::test]` (a file named after the test, every
//! migration run into it), `migrate_once_NN` under
//! `#[migrate_once::sqlx_test]` (a clone of the template, a file),
//! `in_memory_NN` under `#[migrate_once::sqlx_test(in_memory)]` and
//! `no_db_NN` with no database (the runtime and the test harness alone).
//! `measure.py` runs each group and subtracts the last from the others.

#[path = "../../../benches/support/generated.rs"]
mod generated;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/generated_100");

/// The files in `tests/generated_100/` are the generated set; with
/// `REGENERATE=1` this writes them instead.
#[test]
fn the_migration_files_are_the_generated_set() {
    let set = generated::generated_set(100);
    if std::env::var_os("REGENERATE").is_some() {
        std::fs::create_dir_all(DIR).unwrap();
        for (version, name, sql) in &set {
            std::fs::write(format!("{DIR}/{version:04}_{name}.sql"), sql).unwrap();
        }
    }
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), set.len(), "run with REGENERATE=1");
    for ((version, name, sql), file) in set.iter().zip(&files) {
        assert_eq!(file, &format!("{version:04}_{name}.sql"));
        let text = std::fs::read_to_string(format!("{DIR}/{file}")).unwrap();
        assert_eq!(&text, sql, "{file} differs; run with REGENERATE=1");
    }
}

async fn first_query(pool: sqlx::SqlitePool) {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

macro_rules! group {
    (#[$attr:meta] $($name:ident)*) => {$(
        #[$attr]
        async fn $name(pool: sqlx::SqlitePool) {
            first_query(pool).await;
        }
    )*};
}

group! {
    #[sqlx::test(migrations = "tests/generated_100")]
    sqlx_test_00 sqlx_test_01 sqlx_test_02 sqlx_test_03 sqlx_test_04
    sqlx_test_05 sqlx_test_06 sqlx_test_07 sqlx_test_08 sqlx_test_09
    sqlx_test_10 sqlx_test_11 sqlx_test_12 sqlx_test_13 sqlx_test_14
    sqlx_test_15 sqlx_test_16 sqlx_test_17 sqlx_test_18 sqlx_test_19
}

group! {
    #[migrate_once::sqlx_test(migrations = "tests/generated_100")]
    migrate_once_00 migrate_once_01 migrate_once_02 migrate_once_03 migrate_once_04
    migrate_once_05 migrate_once_06 migrate_once_07 migrate_once_08 migrate_once_09
    migrate_once_10 migrate_once_11 migrate_once_12 migrate_once_13 migrate_once_14
    migrate_once_15 migrate_once_16 migrate_once_17 migrate_once_18 migrate_once_19
}

group! {
    #[migrate_once::sqlx_test(migrations = "tests/generated_100", in_memory)]
    in_memory_00 in_memory_01 in_memory_02 in_memory_03 in_memory_04
    in_memory_05 in_memory_06 in_memory_07 in_memory_08 in_memory_09
    in_memory_10 in_memory_11 in_memory_12 in_memory_13 in_memory_14
    in_memory_15 in_memory_16 in_memory_17 in_memory_18 in_memory_19
}

macro_rules! no_db {
    ($($name:ident)*) => {$(
        #[sqlx::test]
        async fn $name() {
            std::hint::black_box(0);
        }
    )*};
}

no_db! {
    no_db_00 no_db_01 no_db_02 no_db_03 no_db_04 no_db_05 no_db_06 no_db_07 no_db_08 no_db_09
    no_db_10 no_db_11 no_db_12 no_db_13 no_db_14 no_db_15 no_db_16 no_db_17 no_db_18 no_db_19
}
