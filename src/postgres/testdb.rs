//! A Postgres database of its own for each test, copied from a template
//! migrated once per set (see `template` for the names, the build and the
//! sweeps).

use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::report::Report;

use super::server::{TestServer, with_dbname};
use super::shared::{Pool, build_pool};
use super::template::{self, Server};
use super::template_fn::TemplateFn;

/// A database of its own for one test, on a Postgres server: a copy
/// (`CREATE DATABASE … TEMPLATE`) of a template database that was migrated
/// and validated once per migration set, across threads, processes and
/// machines that share the server.
///
/// ```
/// use migrate_once::{Migration, Migrations, postgres::TestDb};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users (id bigserial PRIMARY KEY, email text);"),
///     Migration::new(2, "seed", "INSERT INTO users (email) VALUES ('ada@example.com');"),
/// ])?;
/// // On DATABASE_URL's server, or the throwaway one (TestServer::shared).
/// let db = TestDb::new(&set)?;
/// let mut client = db.connect()?;
/// client.execute("INSERT INTO users (email) VALUES ('bob@example.com')", &[])?;
///
/// // Another TestDb is another database: the row above is not in it.
/// let other = TestDb::new(&set)?;
/// let users: i64 = other.connect()?.query_one("SELECT count(*) FROM users", &[])?.get(0);
/// assert_eq!(users, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Where it comes from
///
/// The template of a set is the database `migrate_once_tpl_<hash>`: the
/// first process to need it builds it under an advisory lock (others wait,
/// then use it), under a temporary name that becomes the template's only
/// once it is migrated, validated and marked `IS_TEMPLATE` with
/// connections refused, so a build killed half way is never used. A
/// changed set has another hash, so another template; templates not used
/// for [`TEMPLATE_TTL_DAYS`](super::TEMPLATE_TTL_DAYS) days are dropped
/// when a new one is built. Each test's database is named
/// `migrate_once_db_<owner>_<random>`, where `<owner>` is held by this
/// process as an advisory lock for as long as it lives: databases whose
/// owner is gone (a killed test process) are dropped by the first `TestDb`
/// of a later process, never while their process lives.
///
/// # When it goes away
///
/// Dropping a `TestDb` drops its database, off the test's thread (an
/// exiting process waits for those drops). If the thread is panicking (the
/// test failed), the database is kept instead, marked as kept (no sweep
/// drops it), and its name and a `psql` line printed; [`keep`](TestDb::keep)
/// keeps it on purpose, [`close`](TestDb::close) drops it at once and
/// reports errors. On the throwaway server a kept database lives only
/// until that server stops (seconds after its last test process); set
/// `DATABASE_URL` to keep it longer.
pub struct TestDb {
    server: Arc<Server>,
    name: String,
    template: Option<String>,
    url: String,
    config: Config,
    pool_size: u32,
    pool: OnceCell<Pool>,
    report: Option<Report>,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Live,
    Done,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TestDb>();
};

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TestDb").field(&self.name).finish()
    }
}

/// Options for a Postgres [`TestDb`]; made by [`TestDb::builder`],
/// [`TestDb::builder_from_fn`] or [`TestDb::empty_builder`].
#[derive(Debug, Clone)]
pub struct TestDbBuilder<'a> {
    source: Source<'a>,
    url: Option<String>,
    ledger: bool,
    pool_size: u32,
    ahead: bool,
}

/// What a copy is made from.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// Nothing: an empty database.
    Empty,
    /// The template of a migration set.
    Set(&'a Migrations),
    /// The template a user's function builds.
    Fn(&'a TemplateFn),
}

/// The environment variable that turns copies made ahead off (`0`) for
/// every [`TestDb`] whose builder does not say: see
/// [`TestDbBuilder::ahead`].
pub const AHEAD_ENV: &str = "MIGRATE_ONCE_PG_AHEAD";

/// Copies made ahead, unless [`AHEAD_ENV`] is `0`.
fn ahead_default() -> bool {
    std::env::var(AHEAD_ENV).map_or(true, |v| v.trim() != "0")
}

impl TestDb {
    /// A new database copied from the template of `set` on the server of
    /// [`TestServer::shared`]: `DATABASE_URL`'s, or else the throwaway
    /// server shared by this user's test processes.
    ///
    /// # Errors
    ///
    /// [`Error::TestServer`] if there is no server; any error of migrating
    /// or validating the template (a bad set: the same error for every call
    /// in the process); [`Error::Postgres`] if the server refuses the copy
    /// (the role may not create databases).
    pub fn new(set: &Migrations) -> Result<TestDb> {
        Self::builder(set).open()
    }

    /// Options for a copy of `set`'s template. Defaults: the server of
    /// [`TestServer::shared`], the crate's ledger kept in the copy, pools
    /// of at most 4 connections, copies made ahead (unless
    /// [`AHEAD_ENV`] is `0`).
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let db = migrate_once::postgres::TestDb::builder(&set).pool_size(8).open()?;
    /// assert_eq!(db.pool()?.max_size(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(set: &Migrations) -> TestDbBuilder<'_> {
        TestDbBuilder {
            source: Source::Set(set),
            url: None,
            ledger: true,
            pool_size: crate::DEFAULT_POOL_SIZE,
            ahead: ahead_default(),
        }
    }

    /// A new database copied from the template `template`'s function
    /// builds (once per key across threads, processes and machines that
    /// share the server), on the server of [`TestServer::shared`].
    ///
    /// ```
    /// use migrate_once::postgres::{TemplateFn, TestDb};
    ///
    /// let template = TemplateFn::new("from-fn-doc-v1", |client| {
    ///     client.batch_execute("CREATE TABLE users (id bigserial PRIMARY KEY, email text)")?;
    ///     Ok(())
    /// });
    /// let db = TestDb::from_fn(&template)?;
    /// db.connect()?.execute("INSERT INTO users (email) VALUES ('ada@example.com')", &[])?;
    /// // Another TestDb is another copy: the row above is not in it.
    /// let other = TestDb::from_fn(&template)?;
    /// let users: i64 = other.connect()?.query_one("SELECT count(*) FROM users", &[])?.get(0);
    /// assert_eq!(users, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::TestServer`] if there is no server; [`Error::TemplateFn`]
    /// naming the key if the function returned an error, panicked or
    /// created no table, [`Error::Validation`] if a table required with
    /// [`TemplateFn::require_tables`] is missing (in each case no template
    /// is left, and the next call runs the function again);
    /// [`Error::Postgres`] if the server refuses the build or the copy.
    pub fn from_fn(template: &TemplateFn) -> Result<TestDb> {
        Self::builder_from_fn(template).open()
    }

    /// Options for a copy of the template `template`'s function builds,
    /// with the same defaults as [`TestDb::builder`];
    /// [`ledger`](TestDbBuilder::ledger) has no effect (the function's
    /// template has no crate ledger).
    ///
    /// ```
    /// # let template = migrate_once::postgres::TemplateFn::new("builder-from-fn-doc-v1", |c| {
    /// #     c.batch_execute("CREATE TABLE t (x int)")?; Ok(()) });
    /// let db = migrate_once::postgres::TestDb::builder_from_fn(&template).pool_size(8).open()?;
    /// assert_eq!(db.pool()?.max_size(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_from_fn(template: &TemplateFn) -> TestDbBuilder<'_> {
        TestDbBuilder {
            source: Source::Fn(template),
            url: None,
            ledger: true,
            pool_size: crate::DEFAULT_POOL_SIZE,
            ahead: ahead_default(),
        }
    }

    /// Options for an empty database (no migration, no template), with
    /// the same defaults and the same lifetime as a copy.
    ///
    /// ```
    /// let db = migrate_once::postgres::TestDb::empty_builder().open()?;
    /// let tables: i64 = db.connect()?
    ///     .query_one("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &[])?
    ///     .get(0);
    /// assert_eq!(tables, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty_builder() -> TestDbBuilder<'static> {
        TestDbBuilder {
            source: Source::Empty,
            url: None,
            ledger: true,
            pool_size: crate::DEFAULT_POOL_SIZE,
            ahead: false,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template it was copied from (`migrate_once_tpl_<hash>`); `None`
    /// for an empty database.
    pub fn template(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// Its connection string: the server's, with this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The parsed connection string.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// A clone's schema is the template's: the connection's default.
    pub(crate) fn schema(&self) -> Option<&str> {
        None
    }

    /// The most connections a pool opens.
    #[cfg_attr(
        not(any(feature = "postgres-sqlx-0_8", feature = "postgres-sqlx-0_9")),
        allow(dead_code)
    )]
    pub(crate) fn pool_size(&self) -> u32 {
        self.pool_size
    }

    /// What the migrator did when this call built the template; `None`
    /// when the template was there (this process or another built it), for
    /// an empty database, and for a [`TemplateFn`]'s copy (there is no
    /// migrator).
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    /// A new connection to the database.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server cannot be reached.
    pub fn connect(&self) -> Result<Client> {
        self.config
            .connect(NoTls)
            .map_err(|source| Error::Postgres {
                context: "connect to the test database",
                database: super::redacted(&self.url),
                source: Arc::new(source),
            })
    }

    /// An r2d2 pool of `postgres::Client`s over the database, built on
    /// first use; it opens no connection until one is asked for.
    ///
    /// # Errors
    ///
    /// [`Error::Pool`] if r2d2 cannot build the pool.
    pub fn pool(&self) -> Result<Pool> {
        self.pool
            .get_or_try_init(|| build_pool(&self.config, &self.url, None, self.pool_size))
            .cloned()
    }

    /// Keeps the database (marked so that no sweep drops it) and returns
    /// its name; drop it yourself when done.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let db = migrate_once::postgres::TestDb::new(&set)?;
    /// let url = db.url().to_string();
    /// let name = db.keep()?;
    /// // Still there: connect with `url`, or `psql` it, then drop it.
    /// # let server = migrate_once::postgres::TestServer::shared()?;
    /// # server.connect()?.batch_execute(&format!("DROP DATABASE \"{name}\""))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the mark cannot be written (the database is
    /// kept all the same, until a sweep finds it).
    pub fn keep(self) -> Result<String> {
        *self.state.lock() = State::Done;
        self.server.keep(&self.name, "kept by TestDb::keep")?;
        Ok(self.name.clone())
    }

    /// Drops the database now, terminating connections still open to it,
    /// and reports what `drop` would ignore.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server refuses.
    pub fn close(self) -> Result<()> {
        *self.state.lock() = State::Done;
        self.server.drop_database(&self.name)
    }

    /// Keeps the database after a failed test and says so on stderr.
    #[cfg_attr(
        not(any(feature = "postgres-sqlx-0_8", feature = "postgres-sqlx-0_9")),
        allow(dead_code)
    )]
    pub(crate) fn keep_after(self, test: &str, how: &str) {
        *self.state.lock() = State::Done;
        let why = format!("test {test} {how}");
        let marked = self.server.keep(&self.name, &why);
        self.say_kept(&why, marked.err());
    }

    fn say_kept(&self, why: &str, error: Option<Error>) {
        let note = match error {
            None => String::new(),
            Some(e) => {
                format!(" (it could not be marked as kept, so a later run may drop it: {e})")
            }
        };
        eprintln!(
            "migrate-once: {why}; its database {name} is kept{note}:\n    psql '{url}'\n  \
             drop it when done: DROP DATABASE \"{name}\";",
            name = self.name,
            url = self.url,
        );
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        if *state != State::Live {
            return;
        }
        *state = State::Done;
        drop(state);
        if std::thread::panicking() {
            let marked = self.server.keep(&self.name, "its test panicked");
            self.say_kept("a test panicked", marked.err());
            return;
        }
        super::background::drop_later(Arc::clone(&self.server), self.name.clone());
    }
}

impl TestDbBuilder<'_> {
    /// The server to make the database on: a connection string naming any
    /// database on it (databases are created from there, as `#[sqlx::test]`
    /// creates them from `DATABASE_URL`'s). Default: [`TestServer::shared`].
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let server = migrate_once::postgres::TestServer::shared()?;
    /// let db = migrate_once::postgres::TestDb::builder(&set).server_url(server.url()).open()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Whether the copy holds the crate's ledger table
    /// (`_migrate_once_ledger`). Default `true`; `false` leaves the app's
    /// tables and the app ledgers the set keeps (sqlx's, diesel's) and
    /// nothing of this crate's, as `#[migrate_once::sqlx_test]` does. The
    /// two are two templates.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let db = migrate_once::postgres::TestDb::builder(&set).ledger(false).open()?;
    /// let tables: Vec<String> = db.connect()?
    ///     .query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'", &[])?
    ///     .iter().map(|r| r.get(0)).collect();
    /// assert_eq!(tables, ["t"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ledger(mut self, keep: bool) -> Self {
        self.ledger = keep;
        self
    }

    /// The most connections a pool from [`TestDb::pool`] (or a sqlx pool
    /// of it) opens. Default 4.
    ///
    /// ```
    /// let db = migrate_once::postgres::TestDb::empty_builder().pool_size(2).open()?;
    /// assert_eq!(db.pool()?.max_size(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The name of the template this builder copies
    /// (`migrate_once_tpl_<hash>`), without looking at any server; `None`
    /// for an empty database. A [`TemplateFn`]'s is
    /// [`TemplateFn::template_name`].
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let builder = migrate_once::postgres::TestDb::builder(&set);
    /// let name = builder.template_name().unwrap();
    /// assert_eq!(builder.open()?.template(), Some(name.as_str()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn template_name(&self) -> Option<String> {
        match self.source {
            Source::Empty => None,
            Source::Set(set) => Some(template::template_name(set, self.ledger)),
            Source::Fn(f) => Some(f.template_name()),
        }
    }

    /// Whether to take a copy of the template made ahead, and make the
    /// next one while the test runs. Default `true` (unless [`AHEAD_ENV`],
    /// `MIGRATE_ONCE_PG_AHEAD`, is `0`).
    ///
    /// A copy is most of what a test waits for (`CREATE DATABASE …
    /// TEMPLATE` moves the whole database, system catalogs included: tens
    /// to hundreds of milliseconds). With this, a test renames a ready copy
    /// (`migrate_once_rdy_<hash>_…`) to its own name, which takes a few
    /// milliseconds, and a thread of the process makes the next copy while
    /// the test runs; copies made by one process serve the next (cargo-nextest's
    /// next test process). The server does the same work, one copy per
    /// test; at most two copies per template wait on the server after the
    /// run, for the next one (and go with their template when it is
    /// swept). Without it, each test waits for its own copy.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, "t",
    /// #     "CREATE TABLE t (x int);")])?;
    /// let db = migrate_once::postgres::TestDb::builder(&set).ahead(false).open()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ahead(mut self, ahead: bool) -> Self {
        self.ahead = ahead;
        self
    }

    /// Finds or builds the template, and copies it into a new database.
    ///
    /// # Errors
    ///
    /// As [`TestDb::new`].
    pub fn open(self) -> Result<TestDb> {
        let url = match self.url {
            Some(url) => url,
            None => TestServer::shared()?.url().to_string(),
        };
        let server = template::server(&url)?;
        let (name, template, report) = match self.source {
            Source::Empty => (server.clone_of(None)?, None, None),
            Source::Set(set) => copy(&server, self.ahead, || server.template(set, self.ledger))?,
            Source::Fn(f) => copy(&server, self.ahead, || {
                Ok((server.template_of_fn(f)?, None))
            })?,
        };
        let mut config = server.config.clone();
        config.dbname(&name);
        Ok(TestDb {
            url: with_dbname(&server.url, &name),
            server,
            name,
            template,
            config,
            pool_size: self.pool_size,
            pool: OnceCell::new(),
            report,
            state: Mutex::new(State::Live),
        })
    }
}

/// A copy of the template `find` finds or builds (with the migrator's
/// report, if it built it); a template dropped meanwhile (a sweep) is built
/// again, once.
fn copy(
    server: &Arc<Server>,
    ahead: bool,
    find: impl Fn() -> Result<(String, Option<Report>)>,
) -> Result<(String, Option<String>, Option<Report>)> {
    let (template, report) = find()?;
    if ahead {
        let ready = server.claim_ready(&template);
        super::background::prepare_later(Arc::clone(server), template.clone());
        if let Some(name) = ready {
            return Ok((name, Some(template), report));
        }
    }
    match server.clone_of(Some(&template)) {
        Err(Error::Postgres { source, .. })
            if source.code().is_some_and(|c| c.code() == "3D000") =>
        {
            server.forget_template(&template);
            let (template, report) = find()?;
            Ok((server.clone_of(Some(&template))?, Some(template), report))
        }
        clone => Ok((clone?, Some(template), report)),
    }
}
