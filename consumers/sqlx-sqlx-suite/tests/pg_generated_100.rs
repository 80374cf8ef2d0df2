//! Not vendored: what a Postgres database per test costs at 100 tables, the
//! ways side by side in one test binary (so in one run), for
//! `measure_pg.py`. The set: 100 tables in 50 migrations
//! (`tests/pg_generated_100/`: a `bigserial` key, a name, a reference to
//! the previous table, a timestamp default and an index each).
//!
//! Four groups of twenty tests with the same body (a test's first query,
//! then `BODY_MS` milliseconds of work, default 0):
//!
//! - `sqlx_test_NN`: `#[sqlx::test]` (a new database, every migration run
//!   into it);
//! - `migrate_once_NN`: `#[migrate_once::sqlx_test]` (a copy of the
//!   template migrated once; `measure_pg.py` runs it with copies made ahead,
//!   the default, and without, `MIGRATE_ONCE_PG_AHEAD=0`);
//! - `plain_copy_NN`: pgtestdb's way, done plainly here: a template built
//!   once (under an advisory lock) by sqlx's migrator, then per test
//!   `CREATE DATABASE … TEMPLATE`, a pool, and `DROP DATABASE` after;
//! - `no_db_NN`: no database.
//!
//! The timed test of each attribute test (`t_sqlx_test::sqlx_test_NN`,
//! `t_migrate_once::…`) calls the attribute's function itself (a `#[test]`
//! function is an ordinary one), so it can tell how long it waited before
//! its body ran; each appends `group wait_us total_us` to `MEASURE_OUT`.
//! Run only the timed ones (`t_` and the other groups' names).

use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

const DIR: &str = "tests/pg_generated_100";

thread_local! {
    static BODY: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The body every test runs: the first query, then `BODY_MS` of work.
async fn body(pool: &PgPool) {
    BODY.with(|b| b.set(Some(Instant::now())));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t0")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let ms: u64 = std::env::var("BODY_MS").map_or(0, |v| v.parse().unwrap());
    std::thread::sleep(Duration::from_millis(ms));
}

/// Runs `test` and records how long it waited before its body began.
fn timed(group: &str, test: impl FnOnce()) {
    let t0 = Instant::now();
    test();
    let total = t0.elapsed();
    let started = BODY.with(|b| b.take()).unwrap_or(t0);
    if let Ok(path) = std::env::var("MEASURE_OUT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        // One write: tests append at once from threads and processes.
        let line = format!(
            "{group} {} {}\n",
            (started - t0).as_micros(),
            total.as_micros()
        );
        f.write_all(line.as_bytes()).unwrap();
    }
}

fn url() -> String {
    std::env::var("DATABASE_URL").expect("run under with-postgres: DATABASE_URL")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// pgtestdb's template: built once per server by sqlx's migrator under an
/// advisory lock, then marked a template.
async fn plain_template(admin: &mut PgConnection) -> &'static str {
    const NAME: &str = "bench_plain_tpl_100";
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if READY.get().is_some() {
        return NAME;
    }
    admin.execute("SELECT pg_advisory_lock(42)").await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT exists(SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(NAME)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    if !exists {
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {NAME}_b")))
            .await
            .unwrap();
        let options: PgConnectOptions = url().parse().unwrap();
        let mut conn = PgConnection::connect_with(&options.database(&format!("{NAME}_b")))
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(std::path::Path::new(DIR))
            .await
            .unwrap()
            .run(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {NAME}_b WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            )))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE {NAME}_b RENAME TO {NAME}"
            )))
            .await
            .unwrap();
    }
    admin
        .execute("SELECT pg_advisory_unlock(42)")
        .await
        .unwrap();
    let _ = READY.set(());
    NAME
}

fn fresh_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid_ish())
}

fn uuid_ish() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// A copy per test, pgtestdb's way.
fn copy_test() {
    runtime().block_on(async {
        let options: PgConnectOptions = url().parse().unwrap();
        let mut admin = PgConnection::connect_with(&options).await.unwrap();
        let template = plain_template(&mut admin).await;
        let name = fresh_name("bench_inst");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options.clone().database(&name))
            .await
            .unwrap();
        body(&pool).await;
        pool.close().await;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .await
            .unwrap();
    });
}

macro_rules! group {
    ($group:literal, $outer:ident, #[$attr:meta] $($name:ident)*) => {
        $(
            #[$attr]
            async fn $name(pool: sqlx::PgPool) {
                body(&pool).await;
            }
        )*
        // The timed tests (`t::…`): each calls the attribute's test.
        mod $outer {
            $(
                #[test]
                fn $name() {
                    super::timed($group, super::$name);
                }
            )*
        }
    };
}

group! {
    "sqlx_test", t_sqlx_test,
    #[sqlx::test(migrations = "tests/pg_generated_100")]
    sqlx_test_00 sqlx_test_01 sqlx_test_02 sqlx_test_03 sqlx_test_04
    sqlx_test_05 sqlx_test_06 sqlx_test_07 sqlx_test_08 sqlx_test_09
    sqlx_test_10 sqlx_test_11 sqlx_test_12 sqlx_test_13 sqlx_test_14
    sqlx_test_15 sqlx_test_16 sqlx_test_17 sqlx_test_18 sqlx_test_19
}

group! {
    "migrate_once", t_migrate_once,
    #[migrate_once::sqlx_test(migrations = "tests/pg_generated_100")]
    migrate_once_00 migrate_once_01 migrate_once_02 migrate_once_03 migrate_once_04
    migrate_once_05 migrate_once_06 migrate_once_07 migrate_once_08 migrate_once_09
    migrate_once_10 migrate_once_11 migrate_once_12 migrate_once_13 migrate_once_14
    migrate_once_15 migrate_once_16 migrate_once_17 migrate_once_18 migrate_once_19
}

macro_rules! plain {
    ($group:literal, $($name:ident)*) => {$(
        #[test]
        fn $name() {
            timed($group, copy_test);
        }
    )*};
}

plain! {
    "plain_copy",
    plain_copy_00 plain_copy_01 plain_copy_02 plain_copy_03 plain_copy_04
    plain_copy_05 plain_copy_06 plain_copy_07 plain_copy_08 plain_copy_09
    plain_copy_10 plain_copy_11 plain_copy_12 plain_copy_13 plain_copy_14
    plain_copy_15 plain_copy_16 plain_copy_17 plain_copy_18 plain_copy_19
}

macro_rules! no_db {
    ($($name:ident)*) => {$(
        #[test]
        fn $name() {
            timed("no_db", || {
                runtime().block_on(async {
                    BODY.with(|b| b.set(Some(Instant::now())));
                    let ms: u64 = std::env::var("BODY_MS").map_or(0, |v| v.parse().unwrap());
                    std::thread::sleep(Duration::from_millis(ms));
                })
            });
        }
    )*};
}

no_db! {
    no_db_00 no_db_01 no_db_02 no_db_03 no_db_04 no_db_05 no_db_06 no_db_07 no_db_08 no_db_09
    no_db_10 no_db_11 no_db_12 no_db_13 no_db_14 no_db_15 no_db_16 no_db_17 no_db_18 no_db_19
}
