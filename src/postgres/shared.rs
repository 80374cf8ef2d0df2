//! One Postgres database shared by many tests, processes and machines,
//! migrated exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use postgres::{Client, Config, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::registry::OnceMap;
use crate::report::{DEFAULT_LOCK_TIMEOUT, LONGEST_WAIT, Report};

use super::migrator::{Migrator, ident, target_of, validate_target};

/// A pool of `postgres::Client`s, as [`SharedDb::pool`] hands out.
pub type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// A Postgres database (one schema of it) shared by many tests, threads,
/// processes or machines: migrated at most once per process through the
/// registry, exactly once overall through the migrator's advisory lock, and
/// validated against `pg_catalog` on every [`open`](SharedDb::open).
///
/// ```
/// use migrate_once::{Migration, Migrations, postgres::{SharedDb, TestServer}};
///
/// let db = TestServer::shared()?.create_database()?;
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users (id bigserial PRIMARY KEY, email text);"),
///     Migration::new(2, "seed", "INSERT INTO users (email) VALUES ('ada@example.com'), ('bob@example.com');"),
/// ])?;
/// let shared = SharedDb::open(db.url(), &set)?;
/// let mut client = shared.pool()?.get()?;
/// let users: i64 = client.query_one("SELECT count(*) FROM users", &[])?.get(0);
/// assert_eq!(users, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The registry knows a database by the server's hosts and ports, the
/// database's name and the schema. As on SQLite, a deterministic failure
/// (bad SQL, an edited migration) is remembered for the process, a
/// transient one (the lock held past the timeout, a lost connection) or
/// one of the server (it cannot be reached) is not.
#[derive(Debug, Clone)]
pub struct SharedDb {
    url: String,
    config: Config,
    schema: Option<String>,
    pool_size: u32,
    pool: Arc<OnceCell<Pool>>,
    report: Option<Report>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SharedDb>();
};

/// Options for [`SharedDb`]; made by [`SharedDb::builder`].
#[derive(Debug, Clone)]
pub struct SharedDbBuilder {
    url: String,
    lock_timeout: Duration,
    schema: Option<String>,
    required_tables: Vec<String>,
    exact: bool,
    pool_size: u32,
}

fn parse(url: &str) -> Result<Config> {
    url.parse().map_err(|source| Error::Postgres {
        context: "read the connection string",
        database: super::redacted(url),
        source: Arc::new(source),
    })
}

/// A connection to `config`, its `search_path` set to `schema` alone if
/// one is given.
fn connect(config: &Config, url: &str, schema: Option<&str>) -> Result<Client> {
    let err = |context| {
        move |source| Error::Postgres {
            context,
            database: super::redacted(url),
            source: Arc::new(source),
        }
    };
    let mut client = config
        .connect(NoTls)
        .map_err(err("connect to the server"))?;
    if let Some(schema) = schema {
        client
            .batch_execute(&format!("SET search_path TO {}", ident(schema)))
            .map_err(err("set the search_path"))?;
    }
    Ok(client)
}

/// Sets each pooled connection's `search_path` to the shared schema.
#[derive(Debug)]
struct SearchPath(String);

impl r2d2::CustomizeConnection<Client, postgres::Error> for SearchPath {
    fn on_acquire(&self, client: &mut Client) -> std::result::Result<(), postgres::Error> {
        client.batch_execute(&format!("SET search_path TO {}", ident(&self.0)))
    }
}

/// An r2d2 pool over `config` of at most `size` connections, none opened
/// until asked for, each with `search_path` set to `schema` if one is
/// given; its maintenance runs on one thread.
pub(crate) fn build_pool(
    config: &Config,
    url: &str,
    schema: Option<&str>,
    size: u32,
) -> Result<Pool> {
    let manager = PostgresConnectionManager::new(config.clone(), NoTls);
    let threads = Arc::new(
        scheduled_thread_pool::ScheduledThreadPool::builder()
            .num_threads(1)
            .thread_name_pattern("migrate-once-pg-pool-{}")
            .build(),
    );
    let mut builder = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .thread_pool(threads);
    if let Some(schema) = schema {
        builder = builder.connection_customizer(Box::new(SearchPath(schema.to_string())));
    }
    builder.build(manager).map_err(|source| Error::Pool {
        database: Some(super::redacted(url).into()),
        source: Arc::new(source),
    })
}

impl SharedDb {
    /// Connects to `url` (a `postgres://` URL or a `key=value` connection
    /// string, as `DATABASE_URL` holds), migrates the database's current
    /// schema to `set` if this process has not already done so, and
    /// validates it. Uses the defaults of [`SharedDb::builder`].
    ///
    /// # Errors
    ///
    /// Any error of [`Migrator::migrate`]; [`Error::Validation`] if the
    /// schema lacks an object the migrations left or a migration;
    /// [`Error::Postgres`] if `url` does not parse or the server cannot be
    /// reached.
    pub fn open(url: &str, set: &Migrations) -> Result<SharedDb> {
        Self::builder(url).open(set)
    }

    /// Options for opening `url`. Defaults: wait up to 30 s for another
    /// migrator, the connection's current schema, pools of at most 4
    /// connections, any extra schema objects allowed, no extra required
    /// tables.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// use migrate_once::postgres::SharedDb;
    /// let shared = SharedDb::builder(db.url()).schema("suite_a").pool_size(8).open(&set)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(url: &str) -> SharedDbBuilder {
        SharedDbBuilder {
            url: url.to_string(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            schema: None,
            required_tables: Vec::new(),
            exact: false,
            pool_size: crate::DEFAULT_POOL_SIZE,
        }
    }

    /// A new connection, its `search_path` set to the shared schema if the
    /// builder named one.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server cannot be reached.
    pub fn connect(&self) -> Result<Client> {
        connect(&self.config, &self.url, self.schema.as_deref())
    }

    /// An r2d2 pool whose connections are set up as [`connect`](Self::connect)'s.
    /// It is built on first use and shared by clones of this handle; it
    /// opens no connection until one is asked for, and at most 4 by default.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] if r2d2 cannot build the pool.
    pub fn pool(&self) -> Result<Pool> {
        self.pool
            .get_or_try_init(|| {
                build_pool(
                    &self.config,
                    &self.url,
                    self.schema.as_deref(),
                    self.pool_size,
                )
            })
            .cloned()
    }

    /// The connection string the database was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema the builder named, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The parsed connection string.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The most connections a pool opens.
    #[cfg_attr(
        not(any(feature = "postgres-sqlx-0_8", feature = "postgres-sqlx-0_9")),
        allow(dead_code)
    )]
    pub(crate) fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// What the migrator did, for the first `open` of this database in this
    /// process (which may show nothing applied: another process may have
    /// migrated it first) and for a later one that found it reset; `None`
    /// for every other `open`.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }
}

impl SharedDbBuilder {
    /// How long `open` waits in all for other migrators (however many
    /// attempts that takes). Default 30 s; zero: do not wait, fail with
    /// [`Error::InProgress`] if another connection is migrating. See
    /// [`Migrator::lock_timeout`].
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// use std::time::Duration;
    /// let shared = migrate_once::postgres::SharedDb::builder(db.url())
    ///     .lock_timeout(Duration::from_secs(120))
    ///     .open(&set)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout.min(LONGEST_WAIT);
        self
    }

    /// Migrate and use this schema: created under the migrator's lock if
    /// need be, and the `search_path` of every connection from
    /// [`SharedDb::connect`] and [`SharedDb::pool`]. Test suites sharing one
    /// database can each have a schema of their own. Default: the
    /// connection's current schema.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// let shared = migrate_once::postgres::SharedDb::builder(db.url()).schema("suite_b").open(&set)?;
    /// let mut client = shared.connect()?;
    /// let schema: String = client.query_one("SELECT current_schema()::text", &[])?.get(0);
    /// assert_eq!(schema, "suite_b");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Tables that must exist besides those the migrations made; `open`
    /// fails with [`Error::Validation`] naming each one missing. Default:
    /// none.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// use migrate_once::{Error, postgres::SharedDb};
    /// let err = SharedDb::builder(db.url()).require_tables(["sessions"]).open(&set).unwrap_err();
    /// assert!(matches!(&err, Error::Validation { missing, .. } if missing[0].name == "sessions"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require_tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_tables
            .extend(tables.into_iter().map(Into::into));
        self
    }

    /// Whether to refuse objects in the schema that the migrations did not
    /// leave (and that are not required tables). Default `false`.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// use migrate_once::{Error, postgres::SharedDb};
    /// let shared = SharedDb::open(db.url(), &set)?;
    /// shared.connect()?.batch_execute("CREATE TABLE scratch (x int)")?;
    /// let err = SharedDb::builder(db.url()).exact_schema(true).open(&set).unwrap_err();
    /// assert!(matches!(&err, Error::Validation { unexpected, .. } if unexpected[0].name == "scratch"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn exact_schema(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// The most connections a pool from [`SharedDb::pool`] opens. Default 4.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// let shared = migrate_once::postgres::SharedDb::builder(db.url()).pool_size(2).open(&set)?;
    /// assert_eq!(shared.pool()?.max_size(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Connects, migrates (at most once per process) and validates.
    ///
    /// ```
    /// # let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "users",
    /// #     "CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL);")])?;
    /// let shared = migrate_once::postgres::SharedDb::builder(db.url()).open(&set)?;
    /// assert_eq!(shared.report().map(|r| r.applied.len()), Some(set.len()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SharedDb::open`].
    pub fn open(self, set: &Migrations) -> Result<SharedDb> {
        let config = parse(&self.url)?;
        let deadline = Instant::now() + self.lock_timeout;
        let left = || {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.lock_timeout.is_zero() {
                left
            } else {
                left.max(Duration::from_millis(1))
            }
        };
        let mut client = connect(&config, &self.url, None)?;
        let target = target_of(&mut client, self.schema.as_deref())?;
        // Server, database and schema; the user does not change which
        // database this is.
        let id = format!(
            "{:?}:{:?}/{}#{}",
            config.get_hosts(),
            config.get_ports(),
            config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or_default(),
            target.schema
        );
        let migrator = |timeout| {
            let m = Migrator::new(set).lock_timeout(timeout);
            match &self.schema {
                Some(s) => m.schema(s.clone()),
                None => m,
            }
        };
        let mut report = None;
        let mut first = false;
        once_per_server_database(&id, set, || {
            first = true;
            report = Some(migrator(left()).migrate(&mut client)?);
            validate_target(&mut client, set, &target, &[], false)
        })?;
        // Every later open checks again through the ledger (no lock when
        // nothing is pending): the database may have been reset since.
        if !first {
            let again = migrator(left()).migrate(&mut client)?;
            if !again.applied.is_empty() || !again.adopted.is_empty() {
                report = Some(again);
            }
        }
        validate_target(&mut client, set, &target, &self.required_tables, self.exact)?;
        Ok(SharedDb {
            url: self.url,
            config,
            schema: self.schema,
            pool_size: self.pool_size,
            pool: Arc::default(),
            report,
        })
    }
}

/// Postgres databases migrated (and validated) in this process, by server,
/// database and schema, and set hash.
static PG_MIGRATED: OnceMap<(String, String), ()> = OnceMap::new();

/// Runs `migrate_and_validate` for the Postgres database and schema `id`
/// (server, database name and schema, one string) and `set` at most once per
/// process, as `sqlite::registry::once_per_database` does for SQLite files.
fn once_per_server_database(
    id: &str,
    set: &Migrations,
    migrate_and_validate: impl FnOnce() -> Result<()>,
) -> Result<()> {
    PG_MIGRATED.get_or_init(
        (id.to_string(), set.hash().to_string()),
        migrate_and_validate,
        |_| false,
    )
}
