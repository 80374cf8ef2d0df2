//! `#[migrate_once::sqlx_test]` on Postgres: the test's database, and the
//! signatures `#[sqlx::test]` takes on Postgres, once per sqlx version.
//! What every backend shares (the set, the runtime, keeping a failed
//! test's database) is in `crate::__sqlx_test`.

use crate::__sqlx_test::{Args, Database, fail, set_for};

use super::TestDb;

/// How many connections `#[sqlx::test]`'s Postgres pool opens at most.
pub(crate) const SQLX_POOL_SIZE: u32 = 5;

/// The test's database: a copy of its set's template (or an empty
/// database) on the server `DATABASE_URL` names, or the throwaway one, with
/// the fixtures run on it. Panics, naming the test, if there is none to be
/// had. It holds the app's tables and sqlx's ledger, nothing of this
/// crate's: the app's own migrator finds nothing to do.
pub(crate) fn database(args: &Args) -> TestDb {
    let test = args.test_path;
    if args.in_memory {
        fail(
            test,
            "`in_memory`",
            &"is SQLite's; a Postgres test gets a database on the server",
        );
    }
    let set = set_for(&args.migrations).unwrap_or_else(|e| fail(test, "no migration set", &e));
    let builder = match &set {
        Some(set) => TestDb::builder(set),
        None => TestDb::empty_builder(),
    };
    let db = builder
        .ledger(false)
        .pool_size(SQLX_POOL_SIZE)
        .open()
        .unwrap_or_else(|e| fail(test, "no test database", &e));
    if !args.fixtures.is_empty() {
        let mut client = db
            .connect()
            .unwrap_or_else(|e| fail(test, "no connection", &e));
        for fixture in args.fixtures {
            // Sent whole, as sqlx sends it: the server splits it.
            if let Err(e) = client.batch_execute(fixture.contents) {
                fail(
                    test,
                    &format!("failed to apply test fixture {:?}", fixture.path),
                    &e,
                );
            }
        }
    }
    db
}

impl Database for TestDb {
    fn finish(self) {
        drop(self);
    }

    fn discard(self) {
        let _ = self.close();
    }

    fn keep_for(self, test: &str, how: &str) {
        self.keep_after(test, how);
    }
}

/// The signatures of `#[sqlx::test]` on Postgres for one sqlx version:
/// `$sqlx` is that sqlx crate, `$options` the `TestDb` method giving its
/// `PgConnectOptions`.
macro_rules! sqlx_test_fns {
    ($feature:literal, $sqlx:ident, $options:ident) => {
        #[cfg(feature = $feature)]
        const _: () = {
            use std::future::Future;
            use std::time::Duration;

            use $sqlx::ConnectOptions;
            use $sqlx::pool::PoolConnection;
            use $sqlx::postgres::{
                PgConnectOptions, PgConnection, PgPool, PgPoolOptions, Postgres,
            };

            use crate::__sqlx_test::{self as sqlx_test, Args, Outcome, Signature, TestFn};

            /// The pool `#[sqlx::test]` hands a Postgres test: at most 5
            /// connections, an idle one closed after a second.
            fn pool_options() -> PgPoolOptions {
                PgPoolOptions::new()
                    .max_connections(SQLX_POOL_SIZE)
                    .idle_timeout(Some(Duration::from_secs(1)))
            }

            async fn connect(options: PgConnectOptions, test: &str) -> PgPool {
                pool_options()
                    .connect_with(options)
                    .await
                    .unwrap_or_else(|e| panic!("{test}: failed to connect the test pool: {e}"))
            }

            /// Closes the test's pool, waiting at most 10 s for connections
            /// the test still holds, as `#[sqlx::test]` does.
            async fn close(pool: PgPool, test: &str) {
                if tokio::time::timeout(Duration::from_secs(10), pool.close())
                    .await
                    .is_err()
                {
                    eprintln!("test {test} held onto Pool after exiting");
                }
            }

            impl<Fut> TestFn for fn(PgPool) -> Fut
            where
                Fut: Future,
                Fut::Output: Outcome,
            {
                type Output = Fut::Output;

                fn run_test(self, args: Args) -> Fut::Output {
                    let test = args.test_path;
                    sqlx_test::run(&args, database(&args), |db| {
                        let options = db.$options();
                        async move {
                            let pool = connect(options, test).await;
                            let output = self(pool.clone()).await;
                            close(pool, test).await;
                            output
                        }
                    })
                }
            }

            impl<Fut> TestFn for fn(PoolConnection<Postgres>) -> Fut
            where
                Fut: Future,
                Fut::Output: Outcome,
            {
                type Output = Fut::Output;

                fn run_test(self, args: Args) -> Fut::Output {
                    let test = args.test_path;
                    sqlx_test::run(&args, database(&args), |db| {
                        let options = db.$options();
                        async move {
                            let pool = connect(options, test).await;
                            let conn = pool.acquire().await.unwrap_or_else(|e| {
                                panic!("{test}: failed to acquire a connection: {e}")
                            });
                            let output = self(conn).await;
                            close(pool, test).await;
                            output
                        }
                    })
                }
            }

            /// Not one of `#[sqlx::test]`'s: a connection of its own,
            /// outside any pool.
            impl<Fut> TestFn for fn(PgConnection) -> Fut
            where
                Fut: Future,
                Fut::Output: Outcome,
            {
                type Output = Fut::Output;

                fn run_test(self, args: Args) -> Fut::Output {
                    let test = args.test_path;
                    sqlx_test::run(&args, database(&args), |db| {
                        let options = db.$options();
                        async move {
                            let conn = options
                                .connect()
                                .await
                                .unwrap_or_else(|e| panic!("{test}: failed to connect: {e}"));
                            self(conn).await
                        }
                    })
                }
            }

            /// The options for the test's own pool and connections, as
            /// `#[sqlx::test]` hands them out.
            impl<Fut> TestFn for fn(PgPoolOptions, PgConnectOptions) -> Fut
            where
                Fut: Future,
                Fut::Output: Outcome,
            {
                type Output = Fut::Output;

                fn run_test(self, args: Args) -> Fut::Output {
                    sqlx_test::run(&args, database(&args), |db| {
                        self(pool_options(), db.$options())
                    })
                }
            }

            impl Signature for fn(PgPool) {}
            impl Signature for fn(PoolConnection<Postgres>) {}
            impl Signature for fn(PgConnection) {}
            impl Signature for fn(PgPoolOptions, PgConnectOptions) {}
        };
    };
}

sqlx_test_fns!("postgres-sqlx-0_8", sqlx08, sqlx_0_8_options);
sqlx_test_fns!("postgres-sqlx-0_9", sqlx09, sqlx_0_9_options);
