//! sqlx handles for the crate's databases: one module per sqlx version,
//! written once.
//!
//! A `TestDb` in memory is a memdb-VFS database; sqlx opens it as
//! `SqliteConnectOptions::new().filename("/<name>").vfs("memdb")` (the URL
//! form `sqlite:file:/<name>?vfs=memdb` does not work: sqlx wraps the name in
//! a `file:` URI of its own and opens a new, empty database). Both drivers
//! use the one SQLite library of the process (`libsqlite3-sys` is linked
//! once), so they share the database.

/// The body of `sqlx_0_8` and `sqlx_0_9`: `$sqlx` is the sqlx crate of that
/// version, `$version` its number for the docs.
macro_rules! sqlx_module {
    ($sqlx:ident, $version:literal) => {
        use std::future::Future;
        use std::path::Path;
        use std::sync::Arc;
        use std::time::Duration;

        use $sqlx::pool::PoolConnection;
        use $sqlx::sqlite::{
            Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
            SqlitePoolOptions,
        };
        use $sqlx::ConnectOptions;

        use crate::sqlite::connection::{JournalMode, Setup};
        use crate::__sqlx_test::{
            self as sqlx_test, Args, Outcome, Signature, SqlxMigration, SqlxMigrator, TestFn,
        };
        use crate::{Error, Result, SharedDb, TestDb};

        #[doc = concat!("sqlx ", $version, " handles for the crate's databases: import it and call")]
        /// `sqlx_options()` or `sqlx_pool()` on a [`TestDb`] or a [`SharedDb`].
        ///
        /// Connections get the database's setup as far as sqlx can take it:
        /// busy timeout, foreign keys and journal mode (an `on_connect` hook
        /// takes a rusqlite connection, and does not run on sqlx's).
        pub trait SqlxExt {
            /// Options that open this database with sqlx. An in-memory
            /// `TestDb` is shared with its other connections (memdb VFS);
            /// a file is never created (it must still exist).
            fn sqlx_options(&self) -> SqliteConnectOptions;

            /// A sqlx pool over this database, at most `pool_size`
            /// connections (4 by default), with one connection opened to
            /// check it. The pool of a `TestDb` keeps the database alive as
            /// long as it (or a clone) lives, as [`TestDb::pool`] does, and
            /// refuses new connections once the `TestDb` was closed.
            ///
            /// # Errors
            ///
            /// [`Error::Driver`] if sqlx cannot open the database.
            fn sqlx_pool(&self) -> impl Future<Output = Result<SqlitePool>> + Send;
        }

        fn options(target: SqliteConnectOptions, setup: &Setup) -> SqliteConnectOptions {
            let options = target
                .create_if_missing(false)
                .foreign_keys(setup.foreign_keys)
                .busy_timeout(setup.busy_timeout);
            match setup.journal_mode {
                None => options,
                Some(mode) => options.journal_mode(match mode {
                    JournalMode::Delete => SqliteJournalMode::Delete,
                    JournalMode::Truncate => SqliteJournalMode::Truncate,
                    JournalMode::Persist => SqliteJournalMode::Persist,
                    JournalMode::Wal => SqliteJournalMode::Wal,
                }),
            }
        }

        fn driver_error(database: Option<&Path>) -> impl FnOnce($sqlx::Error) -> Error + '_ {
            move |e| Error::Driver {
                driver: "sqlx",
                database: database.map(Path::to_path_buf),
                source: Arc::new(e),
            }
        }

        impl SqlxExt for TestDb {
            fn sqlx_options(&self) -> SqliteConnectOptions {
                let target = match self.memdb_name() {
                    Some(name) => SqliteConnectOptions::new().filename(name).vfs("memdb"),
                    None => SqliteConnectOptions::new()
                        .filename(self.path().expect("a TestDb is a file or in memory")),
                };
                options(target, self.setup())
            }

            fn sqlx_pool(&self) -> impl Future<Output = Result<SqlitePool>> + Send {
                test_db_pool(self)
            }
        }

        /// `TestDb::sqlx_pool`, as a future that does not borrow the
        /// `TestDb`: it holds the database itself.
        fn test_db_pool(db: &TestDb) -> impl Future<Output = Result<SqlitePool>> + Send + use<> {
            let options = db.sqlx_options();
            let owner = db.owner();
            let max = db.setup().pool_size;
            let path = db.path().map(Path::to_path_buf);
            let in_memory = db
                .setup()
                .in_memory
                .then_some((db.setup().busy_timeout, db.setup().busy_timeout_explicit));
            async move {
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .min_connections(0)
                    // The hook holds the database (it is the pool's), and
                    // refuses once the TestDb was closed: for a memdb
                    // database the connection just made is then to a new,
                    // empty store, and goes with the error.
                    .after_connect(move |conn, _meta| {
                        let usable = owner();
                        Box::pin(async move {
                            usable.map_err(|e| $sqlx::Error::Configuration(Box::new(e)))?;
                            if let Some((busy_timeout, explicit)) = in_memory {
                                wait_briefly(conn, busy_timeout, explicit).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .map_err(driver_error(path.as_deref()))
            }
        }

        /// Cuts the lock waits of a sqlx connection to an in-memory
        /// database short, as the crate's own connections' are (see
        /// `TestDb::in_memory`): a test that reads through the pool while
        /// another of its connections has a write transaction open fails
        /// in seconds, saying why, instead of waiting out the busy timeout.
        async fn wait_briefly(
            conn: &mut SqliteConnection,
            busy_timeout: Duration,
            explicit: bool,
        ) -> std::result::Result<(), $sqlx::Error> {
            let mut handle = conn.lock_handle().await?;
            // SAFETY: the handle is locked for us, so sqlx's worker does not
            // use the connection during the call, and it is open.
            #[allow(unsafe_code)]
            unsafe {
                crate::sqlite::memdb::wait_briefly_raw(
                    handle.as_raw_handle().as_ptr(),
                    busy_timeout,
                    explicit,
                );
            }
            Ok(())
        }

        // `#[migrate_once::sqlx_test]`: the signatures `#[sqlx::test]` takes
        // on SQLite, with this version's types (see `crate::__sqlx_test`).

        /// The test's pool, connected as `#[sqlx::test]` connects its own.
        async fn connect(pool: impl Future<Output = Result<SqlitePool>>, test: &str) -> SqlitePool {
            pool.await
                .unwrap_or_else(|e| panic!("{test}: failed to connect the test pool: {e}"))
        }

        /// Closes the test's pool, waiting at most 10 s for connections the
        /// test still holds, as `#[sqlx::test]` does.
        async fn close(pool: SqlitePool, test: &str) {
            if tokio::time::timeout(Duration::from_secs(10), pool.close())
                .await
                .is_err()
            {
                eprintln!("test {test} held onto Pool after exiting");
            }
        }

        impl<Fut> TestFn for fn(SqlitePool) -> Fut
        where
            Fut: Future,
            Fut::Output: Outcome,
        {
            type Output = Fut::Output;

            fn run_test(self, args: Args) -> Fut::Output {
                let test = args.test_path;
                sqlx_test::run(&args, crate::sqlite::sqlx_test::database(&args), |db| {
                    let pool = test_db_pool(db);
                    async move {
                        let pool = connect(pool, test).await;
                        let output = self(pool.clone()).await;
                        close(pool, test).await;
                        output
                    }
                })
            }
        }

        impl<Fut> TestFn for fn(PoolConnection<Sqlite>) -> Fut
        where
            Fut: Future,
            Fut::Output: Outcome,
        {
            type Output = Fut::Output;

            fn run_test(self, args: Args) -> Fut::Output {
                let test = args.test_path;
                sqlx_test::run(&args, crate::sqlite::sqlx_test::database(&args), |db| {
                    let pool = test_db_pool(db);
                    async move {
                        let pool = connect(pool, test).await;
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

        /// Not one of `#[sqlx::test]`'s: a connection of its own, outside
        /// any pool.
        impl<Fut> TestFn for fn(SqliteConnection) -> Fut
        where
            Fut: Future,
            Fut::Output: Outcome,
        {
            type Output = Fut::Output;

            fn run_test(self, args: Args) -> Fut::Output {
                let test = args.test_path;
                sqlx_test::run(&args, crate::sqlite::sqlx_test::database(&args), |db| {
                    let options = db.sqlx_options();
                    let in_memory = db
                        .setup()
                        .in_memory
                        .then_some((db.setup().busy_timeout, db.setup().busy_timeout_explicit));
                    async move {
                        let mut conn = options
                            .connect()
                            .await
                            .unwrap_or_else(|e| panic!("{test}: failed to connect: {e}"));
                        if let Some((busy_timeout, explicit)) = in_memory {
                            wait_briefly(&mut conn, busy_timeout, explicit)
                                .await
                                .unwrap_or_else(|e| panic!("{test}: failed to set up: {e}"));
                        }
                        self(conn).await
                    }
                })
            }
        }

        /// The options for the test's own pool and connections, as
        /// `#[sqlx::test]` hands them out (a pool of at most 1000).
        impl<Fut> TestFn for fn(SqlitePoolOptions, SqliteConnectOptions) -> Fut
        where
            Fut: Future,
            Fut::Output: Outcome,
        {
            type Output = Fut::Output;

            fn run_test(self, args: Args) -> Fut::Output {
                sqlx_test::run(&args, crate::sqlite::sqlx_test::database(&args), |db| {
                    self(
                        SqlitePoolOptions::new().max_connections(1000),
                        db.sqlx_options(),
                    )
                })
            }
        }

        impl Signature for fn(SqlitePool) {}
        impl Signature for fn(PoolConnection<Sqlite>) {}
        impl Signature for fn(SqliteConnection) {}
        impl Signature for fn(SqlitePoolOptions, SqliteConnectOptions) {}

        impl SqlxMigrator for $sqlx::migrate::Migrator {
            fn up_migrations(&self) -> Vec<SqlxMigration<'_>> {
                self.iter()
                    .filter(|m| !m.migration_type.is_down_migration())
                    .map(|m| SqlxMigration {
                        version: m.version,
                        description: &m.description,
                        sql: AsRef::<str>::as_ref(&m.sql),
                        checksum: &m.checksum,
                    })
                    .collect()
            }

            fn table_name(&self) -> &str {
                migrator_table(self)
            }
        }

        impl SqlxExt for SharedDb {
            fn sqlx_options(&self) -> SqliteConnectOptions {
                options(SqliteConnectOptions::new().filename(self.path()), self.setup())
            }

            fn sqlx_pool(&self) -> impl Future<Output = Result<SqlitePool>> + Send {
                let options = self.sqlx_options();
                let max = self.setup().pool_size;
                let path = self.path().to_path_buf();
                async move {
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .min_connections(0)
                        .connect_with(options)
                        .await
                        .map_err(driver_error(Some(&path)))
                }
            }
        }
    };
}

/// sqlx 0.8 handles for test databases (feature `sqlx-0_8`).
///
/// ```
/// use migrate_once::sqlx_0_8::SqlxExt;
/// use migrate_once::{Migrations, TestDb};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// # use sqlx08 as sqlx;
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = TestDb::in_memory(&set)?;
/// let pool = db.sqlx_pool().await?;
/// let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users").fetch_one(&pool).await?;
/// assert_eq!(users, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[cfg(feature = "sqlx-0_8")]
pub mod sqlx_0_8 {
    sqlx_module!(sqlx08, "0.8");

    /// sqlx 0.8 keeps its ledger in one table.
    fn migrator_table(_: &sqlx08::migrate::Migrator) -> &str {
        "_sqlx_migrations"
    }
}

/// sqlx 0.9 handles for test databases (feature `sqlx-0_9`).
///
/// ```
/// use migrate_once::sqlx_0_9::SqlxExt;
/// use migrate_once::{Migrations, TestDb};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// # use sqlx09 as sqlx;
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let db = TestDb::in_memory(&set)?;
/// let pool = db.sqlx_pool().await?;
/// let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users").fetch_one(&pool).await?;
/// assert_eq!(users, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[cfg(feature = "sqlx-0_9")]
pub mod sqlx_0_9 {
    sqlx_module!(sqlx09, "0.9");

    /// sqlx 0.9's table can be another (`sqlx.toml`, `dangerous_set_table_name`).
    fn migrator_table(migrator: &sqlx09::migrate::Migrator) -> &str {
        &migrator.table_name
    }
}
