//! A template built by the user's own function instead of a migration set:
//! for migrations kept in another tool's form (rusqlite_migration,
//! refinery, plain start-up code), which the crate cannot read but can run
//! once and clone.
//!
//! The function is the set's migrator in all but name: it runs in the file
//! a template is built in, under the same build lock, and its result is
//! checked, written under a temporary name, renamed into place and sealed
//! exactly as a set's template is (see `template`). What it cannot have is
//! what the crate learns from reading a set: a checksum per migration, a
//! ledger, down migrations. So the key that names its template is the
//! user's to give, and a change of the function that keeps the key is not
//! seen (see [`TemplateFn`]'s docs for what is and is not caught).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fn_key::BoxError;
use crate::sqlite::connection::Setup;
use crate::sqlite::snapshot::SnapshotOutcome;
use crate::sqlite::template::Template;
use crate::sqlite::validate::{self, Expectation};

type OnConnection = dyn Fn(&mut rusqlite::Connection) -> Result<(), BoxError> + Send + Sync;
type OnPath = dyn Fn(&Path) -> Result<(), BoxError> + Send + Sync;

/// What the function is given.
pub(crate) enum Body {
    /// A connection to the template being built.
    Connection(Box<OnConnection>),
    /// The path of the template being built, for any driver to open.
    Path(Box<OnPath>),
}

/// A template built by your own function, for migrations the crate cannot
/// read: rusqlite_migration's `Migrations`, refinery's `embed_migrations!`,
/// `conn.execute_batch(SCHEMA)` followed by seeding in Rust. The function
/// runs once per key across all threads and processes (under the same
/// lock, cache directory and seal as a set's template), and every test gets
/// a copy of what it built: [`TestDb::from_fn`](crate::TestDb::from_fn),
/// [`TestDb::in_memory_from_fn`](crate::TestDb::in_memory_from_fn),
/// [`TestDb::builder_from_fn`](crate::TestDb::builder_from_fn), or one
/// shared file, [`SharedDb::open_from_fn`](crate::SharedDb::open_from_fn).
///
/// ```
/// use migrate_once::{TemplateFn, TestDb};
///
/// static SCHEMA: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);";
/// let template = TemplateFn::new(env!("CARGO_PKG_VERSION"), |conn| {
///     conn.execute_batch(SCHEMA)?;
///     conn.execute("INSERT INTO users (email) VALUES (?1)", ["seed@example.com"])?;
///     Ok(())
/// });
/// let db = TestDb::in_memory_from_fn(&template)?;
/// let users: i64 = db.connect()?.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
/// assert_eq!(users, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The key
///
/// The key names the template's cache directory (with the SQLite version
/// and this crate's version and source, as a set's key has), so a template
/// is used again only under the same key. Change the key whenever the
/// function's result changes. Ways to derive it:
///
/// - a constant you bump by hand: `"schema-v7"`;
/// - your crate's version: `env!("CARGO_PKG_VERSION")` (a migration added
///   without a version bump is then not seen until the bump);
/// - a hash of the migration sources themselves, so that any edit makes a
///   new key: `TemplateFn::key_of([include_str!("../migrations/0001.sql"),
///   include_str!("schema.rs")])` (see [`TemplateFn::key_of`]); the safest.
///
/// # What is caught, and what is not
///
/// - The function returns an error or panics: [`Error::TemplateFn`] naming
///   the key (with the function's error as its source, or the panic's
///   message), and no template is left behind. The error is not remembered:
///   the next call runs the function again.
/// - The function changes nothing (no table at all, as when it opened
///   another file than the path it was given): [`Error::TemplateFn`].
/// - Tables required with [`require_tables`](TemplateFn::require_tables)
///   are missing: [`Error::Validation`] naming each, when the template is
///   built and whenever one is used.
/// - A cached template changed or damaged on disk since it was built: its
///   seal (length and XXH3 of its bytes) no longer matches and it is built
///   again, as a set's is. A process that finds the template already built
///   checks it against its seal; it does not run the function.
/// - With [`verify_cached`](TemplateFn::verify_cached) on, a process that
///   finds the template already built runs the function once more on a
///   scratch database and compares the two (schema fingerprint, row counts,
///   `user_version`): a function changed while its key did not, or one
///   whose result differs from run to run, is [`Error::TemplateFn`] naming
///   the difference.
/// - Not caught without it: the function changed while the key did not
///   (the old template is used: derive the key from the sources to avoid
///   this), and a function whose result differs from run to run (it runs
///   once per key, so there is no second result to compare with). Not
///   caught even with it: a difference in the rows' values that leaves
///   every table's row count as it was, and a function changed under an
///   unchanged key in a process that itself builds the template (it has
///   nothing older to compare with).
///
/// # What does not apply
///
/// Reversibility ([`assert_reversible`](crate::assert_reversible)) needs
/// down migrations the crate can run, and the crate's ledger: neither
/// exists here. The template has no crate ledger table, so
/// [`TestDbBuilder::ledger`](crate::TestDbBuilder::ledger) has no effect,
/// and what your tool keeps (rusqlite_migration's `PRAGMA user_version`,
/// refinery's history table) is copied with the rest.
#[derive(Clone)]
pub struct TemplateFn {
    key: String,
    body: Arc<Body>,
    required_tables: Vec<String>,
    verify_cached: bool,
}

impl fmt::Debug for TemplateFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateFn")
            .field("key", &self.key)
            .field(
                "given",
                &match *self.body {
                    Body::Connection(_) => "a connection",
                    Body::Path(_) => "a path",
                },
            )
            .field("required_tables", &self.required_tables)
            .field("verify_cached", &self.verify_cached)
            .finish()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TemplateFn>();
};

impl TemplateFn {
    /// A template built by `build` on a connection (the crate's rusqlite)
    /// to the new, empty database, cached under `key`. The connection has
    /// foreign keys on and the [`on_connect`](crate::TestDbBuilder::on_connect)
    /// hook of the first caller applied; `build` may open transactions of
    /// its own and must leave none open.
    ///
    /// ```
    /// let template = migrate_once::TemplateFn::new("v1", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x); PRAGMA user_version = 1;")?;
    ///     Ok(())
    /// });
    /// assert_eq!(template.key(), "v1");
    /// ```
    pub fn new<F>(key: impl Into<String>, build: F) -> TemplateFn
    where
        F: Fn(&mut rusqlite::Connection) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        TemplateFn {
            key: key.into(),
            body: Arc::new(Body::Connection(Box::new(build))),
            required_tables: Vec::new(),
            verify_cached: false,
        }
    }

    /// A template built by `build` on the database file at the path it is
    /// given (not yet created), cached under `key`: for a driver other than
    /// the crate's rusqlite (another rusqlite version, sqlx inside
    /// `block_on`, a command-line tool). `build` must close every
    /// connection it opened before it returns; a WAL file it leaves is
    /// checkpointed into the template.
    ///
    /// ```
    /// let template = migrate_once::TemplateFn::at_path("v1", |path| {
    ///     // Any driver: here rusqlite, as a user of another version would.
    ///     let conn = rusqlite::Connection::open(path)?;
    ///     conn.execute_batch("CREATE TABLE t(x);")?;
    ///     Ok(())
    /// });
    /// let db = migrate_once::TestDb::from_fn(&template)?;
    /// db.connect()?.execute("INSERT INTO t VALUES (1)", [])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at_path<F>(key: impl Into<String>, build: F) -> TemplateFn
    where
        F: Fn(&Path) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        TemplateFn {
            key: key.into(),
            body: Arc::new(Body::Path(Box::new(build))),
            required_tables: Vec::new(),
            verify_cached: false,
        }
    }

    /// A key made of `sources`: the hex SHA-256 of each, in order (24 hex
    /// digits). Give it the text of every migration, with `include_str!`,
    /// so that an edit to any of them makes a new template.
    ///
    /// ```
    /// use migrate_once::TemplateFn;
    /// let key = TemplateFn::key_of([
    ///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_create_users.sql")),
    ///     include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0002_create_posts.sql")),
    /// ]);
    /// assert_eq!(key.len(), 24);
    /// assert_ne!(key, TemplateFn::key_of(["CREATE TABLE other(x);"]));
    /// ```
    pub fn key_of<I, S>(sources: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        crate::fn_key::key_of(sources)
    }

    /// Tables the built template must have (a table your tool's migrator
    /// creates, for instance); a template without one of them fails with
    /// [`Error::Validation`] naming it, when it is built and whenever it is
    /// used. Names compare as SQLite compares them, without regard to ASCII
    /// case. Default: none (but the template must have some table).
    ///
    /// ```
    /// use migrate_once::{Error, TemplateFn, TestDb};
    /// let template = TemplateFn::new("require-tables-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE users(id INTEGER PRIMARY KEY);")?;
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

    /// Whether a process that finds the template already built (by another
    /// process, or an earlier run) runs the function once more, on a
    /// scratch database, and compares the two: every table, column, index,
    /// view and trigger (the fingerprint [`check_reversible`](crate::check_reversible)
    /// compares), each table's row count, and `PRAGMA user_version`. A
    /// difference is [`Error::TemplateFn`] naming it: the function changed
    /// while its key did not, or it does not build the same database twice.
    /// Default `false`: it costs one run of the function per process (once
    /// per process however many databases it makes); turn it on where that
    /// is cheap, in CI for instance: `.verify_cached(std::env::var_os("CI").is_some())`.
    ///
    /// ```
    /// use migrate_once::{Error, TemplateFn, TestDb};
    /// let key = format!("verify-doc-{}", std::process::id());
    /// let v1 = TemplateFn::new(key.clone(), |conn| {
    ///     conn.execute_batch("CREATE TABLE t(a)")?;
    ///     Ok(())
    /// });
    /// TestDb::from_fn(&v1)?; // built, and cached under `key`
    /// // Edited, but the key kept: found built, run again, and compared.
    /// let v2 = TemplateFn::new(key, |conn| {
    ///     conn.execute_batch("CREATE TABLE t(a, b)")?;
    ///     Ok(())
    /// })
    /// .verify_cached(true);
    /// # migrate_once::__private::forget_template_fn(&v2); // as a new process
    /// let err = TestDb::from_fn(&v2).unwrap_err();
    /// assert!(matches!(&err, Error::TemplateFn { problem, .. } if problem.contains("column b")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn verify_cached(mut self, verify: bool) -> Self {
        self.verify_cached = verify;
        self
    }

    /// The key, as given.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The template, from this process's memory, the on-disk cache, or
    /// built by the function (once across all processes); the same as
    /// [`Template::for_fn`].
    ///
    /// # Errors
    ///
    /// As [`Template::for_fn`].
    pub fn template(&self) -> Result<Arc<Template>> {
        crate::sqlite::registry::fn_template(self, &Setup::default(), false)
    }

    /// The canonical text of the template's schema, as
    /// [`schema_dump`](crate::schema_dump) gives it for a set.
    ///
    /// ```
    /// let template = migrate_once::TemplateFn::new("dump-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(a INT);")?;
    ///     Ok(())
    /// });
    /// assert!(template.schema_dump()?.ends_with("CREATE TABLE t (\n    a INT\n);\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Template::for_fn`]; [`Error::Database`] if the template cannot
    /// be read.
    pub fn schema_dump(&self) -> Result<String> {
        let template = self.template()?;
        let conn = crate::sqlite::memdb::private_copy(template.bytes()?)
            .map_err(Error::db("read the template", Some(template.path())))?;
        crate::sqlite::snapshot::schema_dump_of(&conn)
    }

    /// Compares the template's schema with the snapshot file at `path`,
    /// without panicking; see [`assert_schema_snapshot`](TemplateFn::assert_schema_snapshot).
    ///
    /// # Errors
    ///
    /// As [`check_schema_snapshot`](crate::check_schema_snapshot), with the
    /// errors of [`Template::for_fn`] in place of a set's.
    pub fn check_schema_snapshot(&self, path: impl AsRef<Path>) -> Result<SnapshotOutcome> {
        crate::sqlite::snapshot::check_dump(&self.schema_dump()?, path.as_ref())
    }

    /// Asserts that the template's schema is the one in the snapshot file
    /// at `path`, as [`assert_schema_snapshot`](crate::assert_schema_snapshot)
    /// does for a set (the same file format, the same
    /// `MIGRATE_ONCE_UPDATE_SNAPSHOTS=1` to write it).
    ///
    /// ```
    /// let template = migrate_once::TemplateFn::new("snapshot-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(a INT);")?;
    ///     Ok(())
    /// });
    /// let dir = tempfile::tempdir()?;
    /// let file = dir.path().join("schema.sql");
    /// std::fs::write(&file, template.schema_dump()?)?;
    /// template.assert_schema_snapshot(&file);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the schema differs from the file, the file does not exist (and
    /// updating was not asked for), or the template cannot be built.
    #[track_caller]
    pub fn assert_schema_snapshot(&self, path: impl AsRef<Path>) -> SnapshotOutcome {
        match self.check_schema_snapshot(path) {
            Ok(outcome) => outcome,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// The name of the template's directory in the cache: the key's first
    /// 32 characters that are safe in a file name, then a hash of the whole
    /// key, the SQLite version, and this crate's version and source (as a
    /// set's [`TemplateKey`](crate::TemplateKey) has them).
    pub(crate) fn cache_name(&self) -> String {
        let key = crate::TemplateKey::of_fn_key(&self.key);
        let readable: String = self
            .key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .take(32)
            .collect();
        format!("fn-{readable}-{key}")
    }

    pub(crate) fn body(&self) -> &Body {
        &self.body
    }

    /// A [`Error::TemplateFn`] for this key.
    pub(crate) fn failed(&self, problem: impl Into<String>, source: Option<BoxError>) -> Error {
        Error::TemplateFn {
            key: self.key.clone(),
            problem: problem.into(),
            source: source.map(Arc::from),
        }
    }

    /// Checks the template's schema for the required tables.
    pub(crate) fn check_required(&self, template: &Template) -> Result<()> {
        if self.required_tables.is_empty() {
            return Ok(());
        }
        validate::check(
            &*template.schema()?,
            &Expectation {
                schema: None,
                required_tables: &self.required_tables,
                exact: false,
            },
            Some(template.path()),
        )
    }

    /// With [`verify_cached`](TemplateFn::verify_cached), for a template
    /// this process did not build: runs the function on a scratch database
    /// and compares it with the template.
    pub(crate) fn verify(&self, template: &Template, setup: &Setup) -> Result<()> {
        use crate::sqlite::fingerprint::{Cache, Fingerprint};
        if !self.verify_cached || template.built_by_this_process() {
            return Ok(());
        }
        let scratch = tempfile::Builder::new()
            .prefix("migrate-once-verify-")
            .tempdir()
            .map_err(Error::io(&std::env::temp_dir()))?;
        let path = scratch.path().join("again.sqlite");
        let setup = Setup {
            on_connect: setup.on_connect.clone(),
            ..Setup::default()
        };
        let again = match &*self.body {
            Body::Connection(_) => {
                let mut conn = setup.open(&path, Some(&path))?;
                self.run(Some(&mut conn), &path)?;
                conn
            }
            Body::Path(_) => {
                self.run(None, &path)?;
                setup.open(&path, Some(&path))?
            }
        };
        let cached = crate::sqlite::memdb::private_copy(template.bytes()?)
            .map_err(Error::db("read the template", Some(template.path())))?;
        let want = Fingerprint::read(&cached, true, &mut Cache::default())?;
        let got = Fingerprint::read(&again, true, &mut Cache::default())?;
        let mut differences: Vec<String> = want
            .differences(&got)
            .iter()
            .map(ToString::to_string)
            .collect();
        let user_version = |conn: &rusqlite::Connection| {
            conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
                .map_err(Error::db("read user_version", None))
        };
        let (cached_version, version) = (user_version(&cached)?, user_version(&again)?);
        if cached_version != version {
            differences.push(format!(
                "user_version: {version}, the cached template's {cached_version}"
            ));
        }
        if differences.is_empty() {
            return Ok(());
        }
        Err(self.failed(
            format!(
                "built a database that differs from the template cached under the same key \
                 ({}): change the key whenever the function changes, and make it deterministic",
                differences.join("; ")
            ),
            None,
        ))
    }

    /// Runs the function on the template being built at `tmp` (a
    /// connection `conn` to it for the connection form, which opened it),
    /// turning a returned error or a panic into [`Error::TemplateFn`].
    pub(crate) fn run(&self, conn: Option<&mut rusqlite::Connection>, tmp: &Path) -> Result<()> {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match (&*self.body, conn) {
                (Body::Connection(build), Some(conn)) => build(conn),
                (Body::Path(build), _) => build(tmp),
                (Body::Connection(_), None) => unreachable!("the connection form is given one"),
            }));
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.failed("failed", Some(e))),
            Err(panic) => Err(self.failed(
                format!("panicked: {}", crate::fn_key::panic_message(&*panic)),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_name_shows_the_key_and_changes_with_it() {
        let f = |key: &str| TemplateFn::new(key, |_| Ok(())).cache_name();
        assert!(f("v1").starts_with("fn-v1-"), "{}", f("v1"));
        assert_ne!(f("v1"), f("v2"));
        assert_eq!(f("v1"), f("v1"));
        // Unsafe characters are left out of the readable part only.
        assert!(f("../a b").starts_with("fn-..ab-"));
        assert_ne!(f("a/b"), f("ab"));
    }

    #[test]
    fn key_of_separates_its_sources() {
        assert_ne!(
            TemplateFn::key_of(["ab", "c"]),
            TemplateFn::key_of(["a", "bc"])
        );
        assert_eq!(TemplateFn::key_of(["x"]), TemplateFn::key_of([b"x"]));
    }
}
