//! A template database built by the user's own function instead of a
//! migration set, on Postgres: the SQLite side's
//! [`TemplateFn`](crate::TemplateFn) idea, one template database per key.
//!
//! The function fills the template's build database where the set's
//! migrator would (see `template`: the same advisory lock, the same
//! `…_bld_…` name renamed into place only once the database is checked and
//! marked `IS_TEMPLATE` with connections refused); the key the user gives
//! is in the template's name.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::{Client, Config, NoTls};

use crate::error::{Error, Result, SchemaObject};
use crate::fn_key::BoxError;

use super::template::pg_err;

type Build = dyn Fn(&mut Client) -> Result<(), BoxError> + Send + Sync;

/// A Postgres template database built by your own function, for migrations
/// the crate cannot read (refinery's `embed_migrations!`, a schema applied
/// by start-up code, seeding in Rust): the function runs once per key
/// across threads, processes and machines that share the server, and every
/// test gets a copy of what it built,
/// [`TestDb::from_fn`](super::TestDb::from_fn) (or
/// [`TestDb::builder_from_fn`](super::TestDb::builder_from_fn)). The same
/// idea as the SQLite side's [`TemplateFn`](crate::TemplateFn).
///
/// ```
/// use migrate_once::postgres::{TemplateFn, TestDb};
///
/// static SCHEMA: &str = "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);";
/// let template = TemplateFn::new(TemplateFn::key_of([SCHEMA]), |client| {
///     client.batch_execute(SCHEMA)?;
///     client.execute("INSERT INTO users (email) VALUES ($1)", &[&"seed@example.com"])?;
///     Ok(())
/// });
/// // On DATABASE_URL's server, or the throwaway one (TestServer::shared).
/// let db = TestDb::from_fn(&template)?;
/// let users: i64 = db.connect()?.query_one("SELECT count(*) FROM users", &[])?.get(0);
/// assert_eq!(users, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The key
///
/// The template database is `migrate_once_tpl_<hash>`, the hash over the
/// key and this crate's version (a set's templates have names of the same
/// form, never the same name): a template is used again only under the
/// same key. Change the key whenever the function's result changes; the
/// safest key is a hash of the migration sources themselves,
/// [`TemplateFn::key_of`].
///
/// # What is caught, and what is not
///
/// - The function returns an error or panics: [`Error::TemplateFn`] naming
///   the key (with the function's error as its source, or the panic's
///   message); the build database is dropped, so no template and no build
///   is left behind, and the error is not remembered: the next call runs
///   the function again.
/// - The function leaves no table in a schema of its own (not
///   `pg_catalog`, `information_schema`, `pg_toast`): [`Error::TemplateFn`].
///   What is checked is what it committed: a transaction it left open is
///   rolled back.
/// - Tables required with [`require_tables`](TemplateFn::require_tables)
///   are missing: [`Error::Validation`] naming each, and no template is
///   left.
/// - Not caught: the function changed while the key did not (the old
///   template is used: derive the key from the sources), and a function
///   whose result differs from run to run (it runs once per key).
///
/// The function gets a connection to the database being built; it must
/// close any other connection it opens to it before it returns (the
/// database cannot be marked a template while one is open).
/// Reversibility and the crate's ledger do not apply: the copy has no
/// crate ledger, whatever [`TestDbBuilder::ledger`](super::TestDbBuilder::ledger)
/// says, and what your tool keeps (refinery's history table, a version
/// table of your own) is copied with the rest.
#[derive(Clone)]
pub struct TemplateFn {
    key: String,
    build: Arc<Build>,
    required_tables: Vec<String>,
}

impl fmt::Debug for TemplateFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateFn")
            .field("key", &self.key)
            .field("required_tables", &self.required_tables)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TemplateFn>();
};

impl TemplateFn {
    /// A template built by `build` on a connection to the new, empty
    /// database, named by `key`. `build` may open transactions of its own;
    /// what it leaves uncommitted is rolled back.
    ///
    /// ```
    /// let template = migrate_once::postgres::TemplateFn::new("v1", |client| {
    ///     client.batch_execute("CREATE TABLE t (x int)")?;
    ///     Ok(())
    /// });
    /// assert_eq!(template.key(), "v1");
    /// ```
    pub fn new<F>(key: impl Into<String>, build: F) -> TemplateFn
    where
        F: Fn(&mut Client) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        TemplateFn {
            key: key.into(),
            build: Arc::new(build),
            required_tables: Vec::new(),
        }
    }

    /// A key made of `sources`: the hex SHA-256 of each, in order (24 hex
    /// digits), the same as [`crate::TemplateFn::key_of`]. Give it the text
    /// of every migration, with `include_str!`, so that an edit to any of
    /// them makes a new template.
    ///
    /// ```
    /// use migrate_once::postgres::TemplateFn;
    /// let key = TemplateFn::key_of(["CREATE TABLE a (x int);", "CREATE TABLE b (y int);"]);
    /// assert_eq!(key.len(), 24);
    /// assert_ne!(key, TemplateFn::key_of(["CREATE TABLE a (x int);"]));
    /// assert_eq!(key, migrate_once::TemplateFn::key_of(["CREATE TABLE a (x int);", "CREATE TABLE b (y int);"]));
    /// ```
    pub fn key_of<I, S>(sources: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        crate::fn_key::key_of(sources)
    }

    /// Tables the built template must have (a table your tool's migrator
    /// creates, for instance): `name` in any schema of the database's own,
    /// or `schema.name`, compared as written (unquoted names are stored in
    /// lower case). A template without one of them is not published, and
    /// the call fails with [`Error::Validation`] naming each. Default: none
    /// (but the template must have some table).
    ///
    /// ```
    /// use migrate_once::{Error, postgres::{TemplateFn, TestDb}};
    /// let template = TemplateFn::new("require-tables-doc", |client| {
    ///     client.batch_execute("CREATE TABLE users (id bigserial PRIMARY KEY)")?;
    ///     Ok(())
    /// })
    /// .require_tables(["users", "sessions"]);
    /// let err = TestDb::from_fn(&template).unwrap_err();
    /// assert!(matches!(&err, Error::Validation { missing, .. } if missing[0].name == "sessions"));
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

    /// The key, as given.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The name of the template database this key builds
    /// (`migrate_once_tpl_<hash>`), without looking at any server.
    ///
    /// ```
    /// use migrate_once::postgres::TemplateFn;
    /// let v1 = TemplateFn::new("v1", |_| Ok(()));
    /// assert!(v1.template_name().starts_with("migrate_once_tpl_"));
    /// assert_ne!(v1.template_name(), TemplateFn::new("v2", |_| Ok(())).template_name());
    /// ```
    pub fn template_name(&self) -> String {
        super::template::fn_template_name(&self.key)
    }

    /// An [`Error::TemplateFn`] for this key.
    fn failed(&self, problem: impl Into<String>, source: Option<BoxError>) -> Error {
        Error::TemplateFn {
            key: self.key.clone(),
            problem: problem.into(),
            source: source.map(Arc::from),
        }
    }

    /// Runs the function on `client` (connected to the database being
    /// built), turning a returned error or a panic into
    /// [`Error::TemplateFn`], then checks what it committed through a
    /// connection of its own (`config`; `url` names it in errors).
    pub(crate) fn fill(&self, client: &mut Client, config: &Config, url: &str) -> Result<()> {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.build)(client)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.failed("failed", Some(e))),
            Err(panic) => {
                return Err(self.failed(
                    format!("panicked: {}", crate::fn_key::panic_message(&*panic)),
                    None,
                ));
            }
        }
        let mut check = config
            .connect(NoTls)
            .map_err(pg_err(url, "connect to the template database"))?;
        let tables: Vec<(String, String)> = check
            .query(
                "SELECT n.nspname::text, c.relname::text
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p')
                   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                   AND n.nspname NOT LIKE 'pg\\_toast%'
                   AND n.nspname NOT LIKE 'pg\\_temp\\_%'",
                &[],
            )
            .map_err(pg_err(url, "list the template's tables"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if tables.is_empty() {
            return Err(self.failed(
                "created no table (in a schema other than the system's; \
                 a transaction left open is rolled back)",
                None,
            ));
        }
        let missing: Vec<SchemaObject> = self
            .required_tables
            .iter()
            .filter(|want| {
                !tables
                    .iter()
                    .any(|(schema, name)| name == *want || format!("{schema}.{name}") == **want)
            })
            .map(|name| SchemaObject {
                kind: "table".into(),
                name: name.clone(),
            })
            .collect();
        if !missing.is_empty() {
            return Err(Error::Validation {
                database: Some(PathBuf::from(super::redacted(url))),
                missing,
                differing: Vec::new(),
                unexpected: Vec::new(),
            });
        }
        Ok(())
    }
}
