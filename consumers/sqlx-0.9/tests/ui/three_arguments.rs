use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

#[migrate_once::sqlx_test]
async fn too_many(pool: SqlitePool, options: SqlitePoolOptions, connect: SqliteConnectOptions) {
    let _ = (pool, options, connect);
}

fn main() {}
