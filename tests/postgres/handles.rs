//! A shared database through other drivers: sqlx 0.8 and 0.9 pools and
//! tokio-postgres, each on the shared schema.

use migrate_once::postgres::{SharedDb, TestDb};
use migrate_once::{AppLedger, Migration, Migrations};

use crate::support::server;

#[test]
fn sqlx_pools_and_tokio_postgres_reach_the_shared_schema() {
    let server = server!();
    let db = server.create_database().unwrap();
    let set = Migrations::new(vec![
        Migration::new(
            1,
            "users",
            "CREATE TABLE users (id bigserial PRIMARY KEY, email text)",
        ),
        Migration::new(2, "seed", "INSERT INTO users (email) VALUES ('a'), ('b')"),
    ])
    .unwrap();
    let shared = SharedDb::builder(db.url())
        .schema("handles")
        .pool_size(2)
        .open(&set)
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = shared.sqlx_0_9_pool();
        assert_eq!(pool.options().get_max_connections(), 2);
        let (n, schema): (i64, String) =
            sqlx09::query_as("SELECT count(*), current_schema()::text FROM users")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((n, schema.as_str()), (2, "handles"));
        pool.close().await;

        let pool = shared.sqlx_0_8_pool();
        let n: i64 = sqlx08::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 2);
        pool.close().await;

        let (client, connection) = shared
            .tokio_postgres_config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let schema: String = client
            .query_one("SELECT current_schema()::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(schema, "handles");
        drop(client);
        driver.await.unwrap().unwrap();
    });
}

const PG_SQLX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pg_sqlx");

/// What sqlx's ledger of `db` holds: (version, installed_on) per row.
async fn sqlx_ledger(pool: &sqlx09::PgPool) -> Vec<(i64, String)> {
    sqlx09::query_as("SELECT version, installed_on::text FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[test]
fn every_handle_reaches_a_test_db_and_the_apps_migrators_find_nothing_to_do() {
    let _ = server!();
    let set = Migrations::from_dir(PG_SQLX)
        .unwrap()
        .with_app_ledgers([AppLedger::Sqlx]);
    let db = TestDb::builder(&set).ledger(false).open().unwrap();
    let count = "SELECT count(*) FROM users";
    // postgres::Client, and its r2d2 pool.
    let n: i64 = db.connect().unwrap().query_one(count, &[]).unwrap().get(0);
    assert_eq!(n, 2);
    let n: i64 = db
        .pool()
        .unwrap()
        .get()
        .unwrap()
        .query_one(count, &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    // Nothing of the crate's in a copy without its ledger.
    let mine: i64 = db
        .connect()
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = '_migrate_once_ledger'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(mine, 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = db.sqlx_0_9_pool();
        assert_eq!(db.sqlx_0_9_options().get_database(), Some(db.name()));
        let before = sqlx_ledger(&pool).await;
        assert_eq!(before.len(), 2);
        // sqlx 0.9's migrator, and 0.8's, on the same directory: nothing to do.
        let migrator = sqlx09::migrate::Migrator::new(std::path::Path::new(PG_SQLX))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        let pool08 = db.sqlx_0_8_pool();
        let migrator08 = sqlx08::migrate::Migrator::new(std::path::Path::new(PG_SQLX))
            .await
            .unwrap();
        migrator08.run(&pool08).await.unwrap();
        let n: i64 = sqlx08::query_scalar(count)
            .fetch_one(&pool08)
            .await
            .unwrap();
        assert_eq!(n, 2, "the seed did not run again");
        assert_eq!(
            sqlx_ledger(&pool).await,
            before,
            "sqlx's ledger is as the copy had it"
        );
        pool08.close().await;
        pool.close().await;

        let (client, connection) = db
            .tokio_postgres_config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let name: String = client
            .query_one("SELECT current_database()::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(name, db.name());
        drop(client);
        driver.await.unwrap().unwrap();
    });
}

#[migrate_once::sqlx_test(migrations = "tests/fixtures/pg_sqlx")]
async fn the_attribute_hands_a_pg_connection_of_its_own(mut conn: sqlx09::PgConnection) {
    let n: i64 = sqlx09::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let name: String = sqlx09::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(name.starts_with("migrate_once_db_"), "{name}");
}

#[migrate_once::sqlx_test(migrations = "tests/fixtures/pg_sqlx")]
async fn the_attribute_hands_sqlx_08_pool_options(
    pool: sqlx08::postgres::PgPoolOptions,
    options: sqlx08::postgres::PgConnectOptions,
) -> sqlx08::Result<()> {
    assert_eq!(pool.get_max_connections(), 5, "as #[sqlx::test]'s");
    let pool = pool.connect_with(options).await?;
    let n: i64 = sqlx08::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await?;
    assert_eq!(n, 2);
    pool.close().await;
    Ok(())
}
