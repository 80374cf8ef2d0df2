//! Not vendored: a program of the crate's own that opens a database by its
//! path and prints how many users it holds, as a CLI crate's binary run by
//! its tests on `pool.connect_options().get_filename()` would
//! (`tests/sqlx_semantics.rs`).

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: count-users DATABASE");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let users: i64 = runtime.block_on(async {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        sqlx::query_scalar(r#"SELECT count(*) FROM "user""#)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot count the users of {path}: {e}"))
    });
    println!("{users}");
}
