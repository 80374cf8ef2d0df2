// A pool of another database: SQLite only. (A stand-in type: this crate
// builds sqlx without Postgres.)
struct PgPool;

#[migrate_once::sqlx_test]
async fn on_postgres(pool: PgPool) {
    let _ = pool;
}

fn main() {}
