//! A shared database through other drivers: sqlx 0.8 and 0.9 pools and
//! tokio-postgres, each on the shared schema.

use migrate_once::postgres::SharedDb;
use migrate_once::{Migration, Migrations};

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
