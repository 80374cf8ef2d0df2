// A `PgPool` without Postgres support: a stand-in type (this crate builds
// sqlx without Postgres, and migrate-once without postgres-sqlx-0_9).
struct PgPool;

#[migrate_once::sqlx_test]
async fn on_postgres(pool: PgPool) {
    let _ = pool;
}

fn main() {}
