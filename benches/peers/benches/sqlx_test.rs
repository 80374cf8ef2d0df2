//! What a sqlx test's database costs: `#[sqlx::test]`'s way against a sqlx
//! pool on a migrate-once clone, in one run, interleaved by criterion.
//!
//! `#[sqlx::test]` on SQLite (sqlx-sqlite's `testing` module) gives each
//! test a file named after it under `target/sqlx/test-dbs/`, removes a stale
//! one, connects a pool (`max_connections(1000)`) with `create_if_missing`,
//! runs every migration with sqlx's `Migrator`, runs the test, closes the
//! pool and removes the file. The first case does exactly that with sqlx's
//! own types; the second takes a `TestDb::in_memory` clone of the same set
//! and its sqlx pool (`migrate_once::sqlx_0_9::SqlxExt`). Both end with a
//! test's first query (`SELECT count(*) FROM t0`) and close the pool; the
//! floor deserializes the template into `:memory:` with rusqlite.
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml --bench sqlx_test`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use migrate_once::sqlx_0_9::SqlxExt;
use migrate_once::{AppLedger, Migrations, TestDb};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

#[path = "../../support/mod.rs"]
mod support;

async fn first_query(pool: &SqlitePool) {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t0")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let sizes: Vec<usize> = match std::env::var("BENCH_TABLES") {
        Ok(v) => v.split(',').map(|s| s.trim().parse().unwrap()).collect(),
        Err(_) => vec![10, 100],
    };
    for tables in sizes {
        // The set as files, as both tools read it.
        let dir = work.path().join(format!("migrations-{tables}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (version, name, sql) in support::generated_set(tables) {
            std::fs::write(dir.join(format!("{version:04}_{name}.sql")), sql).unwrap();
        }
        let migrator = rt.block_on(Migrator::new(dir.as_path())).unwrap();
        let set = Migrations::from_dir(&dir)
            .unwrap()
            .with_app_ledgers([AppLedger::Sqlx]);
        let bytes = migrate_once::Template::for_set(&set)
            .unwrap()
            .bytes()
            .unwrap()
            .to_vec();
        let test_dbs = work.path().join("target/sqlx/test-dbs/crate/tests");
        std::fs::create_dir_all(&test_dbs).unwrap();
        let db_path = test_dbs.join(format!("a_test_{tables}.sqlite"));

        let mut g = c.benchmark_group(format!("sqlx_test/{tables}_tables"));
        g.sample_size(if tables >= 100 { 15 } else { 30 });
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(if tables >= 100 { 6 } else { 3 }));

        g.bench_function("#[sqlx::test]: file per test, sqlx Migrator", |b| {
            b.iter(|| {
                rt.block_on(async {
                    if db_path.exists() {
                        std::fs::remove_file(&db_path).unwrap();
                    }
                    let options = SqliteConnectOptions::new()
                        .filename(&db_path)
                        .create_if_missing(true);
                    let pool = SqlitePoolOptions::new()
                        .max_connections(1000)
                        .connect_with(options)
                        .await
                        .unwrap();
                    migrator.run(&pool).await.unwrap();
                    first_query(&pool).await;
                    pool.close().await;
                    std::fs::remove_file(&db_path).unwrap();
                })
            })
        });
        g.bench_function("TestDb::in_memory + sqlx_pool", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let db = TestDb::in_memory(&set).unwrap();
                    let pool = db.sqlx_pool().await.unwrap();
                    first_query(&pool).await;
                    pool.close().await;
                })
            })
        });
        g.bench_function("floor: deserialize into :memory: (rusqlite)", |b| {
            b.iter(|| {
                let conn = support::deserialize(&bytes);
                let n: i64 = conn
                    .query_row("SELECT count(*) FROM t0", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 2);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
