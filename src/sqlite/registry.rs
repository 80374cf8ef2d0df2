//! The SQLite backend's process-wide state: which files this process has
//! migrated, which templates it has loaded, and the schema each set
//! defines; each a [`OnceMap`](crate::registry::OnceMap), whose failures
//! mean what `crate::registry` says.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::registry::OnceMap;
use crate::sqlite::connection::Setup;
use crate::sqlite::identity::DbIdentity;
use crate::sqlite::template::{self, Flavor, Recipe, Template};
use crate::sqlite::template_fn::TemplateFn;
use crate::sqlite::validate::Schema;

/// Databases migrated (and validated) in this process, by identity and set.
static MIGRATED: OnceMap<(DbIdentity, String), ()> = OnceMap::new();

/// Templates loaded into this process, by their cache directory and flavor.
static TEMPLATES: OnceMap<(PathBuf, Flavor), Arc<Template>> = OnceMap::new();

/// The schema each set defines, by set hash.
static SCHEMAS: OnceMap<String, Arc<Schema>> = OnceMap::new();

/// Runs `migrate_and_validate` for the database `id` and `set` at most once
/// per process; callers for the same database and set wait for the first,
/// and get its outcome.
pub(crate) fn once_per_database(
    id: &DbIdentity,
    set: &Migrations,
    migrate_and_validate: impl FnOnce() -> Result<()>,
) -> Result<()> {
    MIGRATED.get_or_init(
        (id.clone(), set.hash().to_string()),
        migrate_and_validate,
        |_| false,
    )
}

/// The template of `set`, loaded from the on-disk cache (or built) at most
/// once per process, with the connection setup `setup`. Trouble with the
/// cache directory is not remembered: the next call tries again (a
/// directory created or mended meanwhile, space freed).
pub(crate) fn template(set: &Migrations, setup: &Setup, flavor: Flavor) -> Result<Arc<Template>> {
    let dir = template::dir_for(set)?;
    TEMPLATES.get_or_init(
        (dir.clone(), flavor),
        || template::load_or_build_flavor(&dir, set, setup, false, flavor).map(Arc::new),
        |_| false,
    )
}

/// The template of `set` again, after one was found damaged on disk
/// ([`Error::TemplateDamaged`](crate::Error::TemplateDamaged)): this process forgets the one it had, and
/// the cache is checked whole (and rebuilt if need be) before it is trusted.
pub(crate) fn template_checked(
    set: &Migrations,
    setup: &Setup,
    flavor: Flavor,
) -> Result<Arc<Template>> {
    let dir = template::dir_for(set)?;
    let key = (dir.clone(), flavor);
    TEMPLATES.forget(&key);
    TEMPLATES.get_or_init(
        key,
        || template::load_or_build_flavor(&dir, set, setup, true, flavor).map(Arc::new),
        |_| false,
    )
}

/// The template `f` builds, loaded from the on-disk cache (or built) at
/// most once per process, and checked for `f`'s required tables on every
/// call. With `checked`, after a clone found it damaged on disk: the one
/// this process had is forgotten and the cache checked whole. A failure of
/// the function itself ([`Error::TemplateFn`]) is not remembered: the
/// next call runs it again.
pub(crate) fn fn_template(f: &TemplateFn, setup: &Setup, checked: bool) -> Result<Arc<Template>> {
    let dir = template::dir_for_fn(f)?;
    let key = (dir.clone(), Flavor::Full);
    if checked {
        TEMPLATES.forget(&key);
    }
    let t = TEMPLATES.get_or_init(
        key,
        || {
            template::load_or_build_recipe(&dir, Recipe::Fn(f), setup, checked, Flavor::Full)
                .map(Arc::new)
        },
        |e| matches!(e, Error::TemplateFn { .. }),
    )?;
    f.check_required(&t)?;
    // Once per process and template; a difference is not remembered.
    VERIFIED.get_or_init(dir, || f.verify(&t, setup), |_| true)?;
    Ok(t)
}

/// Function templates this process found cached and checked by running
/// the function again ([`TemplateFn::verify_cached`]).
static VERIFIED: OnceMap<PathBuf, ()> = OnceMap::new();

/// For the crate's tests: forgets the template of `f` this process
/// loaded, so that the next use finds it on disk as a new process would.
pub(crate) fn forget_fn(f: &TemplateFn) -> Result<()> {
    let dir = template::dir_for_fn(f)?;
    TEMPLATES.forget(&(dir.clone(), Flavor::Full));
    VERIFIED.forget(&dir);
    Ok(())
}

/// The schema `set` defines, which a shared database is validated against:
/// the template's, or, when there is no usable template (a cache directory
/// that cannot be written, a template built with other settings that
/// failed), learned by migrating a private in-memory database with the
/// caller's own settings, once per process. So a shared database does not
/// need the cache, and once the caller's own file migrated with those
/// settings, this does not fail.
pub(crate) fn expected_schema(set: &Migrations, setup: &Setup) -> Result<Arc<Schema>> {
    SCHEMAS.get_or_init(
        set.hash().to_string(),
        || {
            template(set, setup, Flavor::Full)
                .and_then(|t| t.schema())
                .or_else(|_| {
                    let uri = format!(
                        "file:/migrate-once-schema-{}?vfs=memdb",
                        uuid::Uuid::new_v4()
                    );
                    let mut conn = setup.open(std::path::Path::new(&uri), None)?;
                    crate::sqlite::migrator::migrate(&mut conn, set)?;
                    Schema::read(&conn).map(Arc::new)
                })
        },
        |_| false,
    )
}

// Here rather than in `template`, which knows the on-disk cache but not the
// process's: that keeps the module graph free of cycles.
impl Template {
    /// The template for `set`: from this process's memory if it was loaded
    /// before, else from the on-disk cache, else built (once across all
    /// processes) through the migrator.
    ///
    /// ```
    /// use migrate_once::{Migrations, Template};
    ///
    /// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let template = Template::for_set(&set)?;
    /// assert!(template.path().exists());
    /// assert_eq!(&template.bytes()?[..16], b"SQLite format 3\0");
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Any error of migrating the set ([`Error::Sql`](crate::Error::Sql) and so on), which is
    /// remembered for the rest of the process; [`Error::Io`](crate::Error::Io) if the cache
    /// directory cannot be written (not remembered: the next call retries).
    ///
    /// The template is built with the [`on_connect`](crate::TestDbBuilder::on_connect)
    /// hook of the first caller in the process (or of the process that built
    /// the cached file): give every caller of one migration set the same hook.
    pub fn for_set(set: &Migrations) -> Result<Arc<Template>> {
        template(set, &Setup::default(), Flavor::Full)
    }

    /// The template `f` builds: from this process's memory if it was loaded
    /// before, else from the on-disk cache (checked against its seal), else
    /// built by running the function, once across all processes.
    ///
    /// ```
    /// use migrate_once::{Template, TemplateFn};
    ///
    /// let f = TemplateFn::new("for-fn-doc", |conn| {
    ///     conn.execute_batch("CREATE TABLE t(x)")?;
    ///     Ok(())
    /// });
    /// let template = Template::for_fn(&f)?;
    /// assert_eq!(&template.bytes()?[..16], b"SQLite format 3\0");
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::TemplateFn`](crate::Error::TemplateFn) if the function
    /// fails, panics or creates no table (not remembered: the next call
    /// runs it again); [`Error::Validation`](crate::Error::Validation) if a
    /// table it must create ([`TemplateFn::require_tables`]) is missing;
    /// [`Error::Io`](crate::Error::Io) if the cache directory cannot be
    /// written.
    pub fn for_fn(f: &TemplateFn) -> Result<Arc<Template>> {
        fn_template(f, &Setup::default(), false)
    }
}
