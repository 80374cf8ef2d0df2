//! Whether each down migration undoes its up: checked in the test suite,
//! not on the day a down is needed.
//!
//! Down migrations are written with the up and then, as a rule, never run:
//! the migrator goes forward only, and a down that forgets an index or
//! re-creates a table without its foreign key goes unnoticed until someone
//! reverts in production. Running each one is cheap here: every state is an
//! in-memory database, each reached once by migrating forward, and copied
//! (SQLite's backup API) for the round trip of the next migration.
//!
//! For each migration N with a down, on a copy of the database after N-1:
//! apply up N and take the [fingerprint](crate::sqlite::fingerprint); apply down N
//! and compare with the state before the up; apply up N again and compare
//! with what the first up gave. A round trip that found nothing ends where
//! migrating forward would (the same fingerprint, row counts included), so
//! the next one starts from its database rather than migrating once more. Ups and downs run as the migrator runs
//! ups: all-or-nothing, foreign keys off and checked before commit, the
//! ledgers kept. A difference is named by object (see [`Difference`]); row
//! counts are part of the state, so a seed the down forgot to delete, or
//! an up that inserts its seed rows again, is found as well.
//!
//! The optional data check ([`Reversibility::check_data`]) first inserts
//! one row into every table it can, then requires every row that was there
//! before the up, and that the up left alone, to be there after the down
//! and after the up again: a down that drops and re-creates a table it had
//! no business touching has the right schema and no rows.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::error::{Error, Origin, Result, SchemaObject, indent};
use crate::migrations::{Migration, Migrations};
use crate::sqlite::connection::{OnConnect, Setup};
use crate::sqlite::fingerprint::{Cache, Change, Difference, Fingerprint, quote};
use crate::sqlite::migrator::{Migrator, revert};

/// Checks that the down migrations of a set undo their ups; see
/// [`assert_reversible`] for the usual call, and the module docs of what is
/// compared.
///
/// ```
/// use migrate_once::{Migration, Migrations, Reversibility};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);")
///         .with_down("DROP TABLE users;"),
///     Migration::new(2, "seed", "INSERT INTO users(name) VALUES ('ada');"),
/// ])?;
/// let report = Reversibility::new(&set).check_data(true).run()?;
/// assert!(report.is_reversible());
/// assert_eq!(report.irreversible[0].version, 2); // no down: listed, not failed
///
/// // Unless downs are required:
/// assert!(Reversibility::new(&set).require_downs(true).run()?.into_result().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Reversibility<'a> {
    set: &'a Migrations,
    data: bool,
    require_downs: bool,
    on_connect: Option<OnConnect>,
}

impl fmt::Debug for Reversibility<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reversibility")
            .field("set", self.set)
            .field("data", &self.data)
            .field("require_downs", &self.require_downs)
            .field("on_connect", &self.on_connect.is_some())
            .finish()
    }
}

/// The outcome of a [`Reversibility`] check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReversibilityReport {
    /// One per migration with a down, in version order.
    pub round_trips: Vec<RoundTrip>,
    /// The migrations without a down, in version order.
    pub irreversible: Vec<Irreversible>,
    /// Whether a migration without a down counts as a failure
    /// ([`Reversibility::require_downs`]).
    pub downs_required: bool,
    /// How long the whole check took.
    pub duration: Duration,
}

/// What the round trip (up, down, up again) of one migration found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RoundTrip {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Where its up came from.
    pub origin: Origin,
    /// What went wrong, in the order found; empty if the down undid the up.
    pub problems: Vec<Problem>,
    /// Whether the data check ran, and on which tables.
    pub data: DataCheck,
    /// How long the round trip took.
    pub duration: Duration,
}

/// One thing a round trip found wrong.
///
/// ```
/// use migrate_once::{Change, Migration, Migrations, Problem, check_reversible};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "t", "CREATE TABLE t(x);").with_down("DROP TABLE t;"),
///     Migration::new(2, "seed", "INSERT INTO t VALUES (1);").with_down("SELECT 1;"), // keeps the row
/// ])?;
/// let report = check_reversible(&set)?;
/// let [Problem::NotUndone(after_down), Problem::NotRepeatable(after_up_again)] =
///     &report.round_trips[1].problems[..] else { panic!() };
/// assert_eq!(after_down[0].change, Change::Rows { expected: 0, actual: 1 });
/// assert_eq!(after_up_again[0].change, Change::Rows { expected: 1, actual: 2 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Problem {
    /// The down failed ([`Error::DownSql`], a foreign key it broke, ...);
    /// nothing of it was kept, and the round trip stopped there.
    DownFailed(Error),
    /// After the down, the database is not as it was before the up.
    NotUndone(Vec<Difference>),
    /// The up, applied again after the down, failed (an index the down
    /// left behind already exists, say); the round trip stopped there.
    UpAgainFailed(Error),
    /// The up, applied again after the down, did not give the database the
    /// first up gave (seed rows inserted twice into a table the down kept).
    /// A difference the down left and the up did not change is not repeated
    /// here.
    NotRepeatable(Vec<Difference>),
}

/// Whether the data check ran on a round trip; see
/// [`Reversibility::check_data`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataCheck {
    /// It was not asked for.
    Off,
    /// It ran: the rows of every table were compared, and a row was
    /// inserted into `probed` before the up; `unprobed` refused every row
    /// tried (constraints the check could not satisfy).
    Ran {
        /// Tables that received a row.
        probed: Vec<String>,
        /// Tables that refused one.
        unprobed: Vec<String>,
    },
    /// The up failed with the inserted rows in place, so this migration was
    /// checked without them and without the data check.
    Skipped {
        /// The up's error with them.
        reason: String,
    },
}

/// A migration without a down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Irreversible {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
}

impl Irreversible {
    fn of(m: &Migration) -> Irreversible {
        Irreversible {
            version: m.version(),
            name: m.name().to_string(),
            origin: m.origin().clone(),
        }
    }
}

impl fmt::Display for Irreversible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} ({}) in {}",
            self.version, self.name, self.origin
        )
    }
}

/// An error's message with its causes, one per line: it is printed inside
/// another message, whose own `source()` it is not.
fn with_causes(e: &Error) -> String {
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        // rusqlite's own cause is SQLite's result code, already said.
        if c.is::<rusqlite::ffi::Error>() {
            break;
        }
        s.push_str(&format!("\ncaused by: {c}"));
        cause = c.source();
    }
    s
}

fn differences(f: &mut fmt::Formatter<'_>, head: &str, diffs: &[Difference]) -> fmt::Result {
    f.write_str(head)?;
    for d in diffs {
        write!(f, "\n  {d}")?;
    }
    Ok(())
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::DownFailed(e) => {
                write!(f, "its down failed:\n{}", indent(&with_causes(e), "  "))
            }
            Problem::NotUndone(d) => differences(
                f,
                "after its down, the database is not as it was before its up:",
                d,
            ),
            Problem::UpAgainFailed(e) => write!(
                f,
                "applied again after its down, its up failed:\n{}",
                indent(&with_causes(e), "  ")
            ),
            Problem::NotRepeatable(d) => differences(
                f,
                "applied again after its down, its up gives another database than the first time:",
                d,
            ),
        }
    }
}

impl fmt::Display for RoundTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migration {} ({}) in {}:",
            self.version, self.name, self.origin
        )?;
        if self.problems.is_empty() {
            return f.write_str(" its down undoes its up");
        }
        for p in &self.problems {
            write!(f, "\n{}", indent(&p.to_string(), "  "))?;
        }
        Ok(())
    }
}

impl RoundTrip {
    /// Whether the down undid the up and the up could be applied again.
    pub fn is_reversible(&self) -> bool {
        self.problems.is_empty()
    }
}

impl ReversibilityReport {
    /// Whether every round trip passed and, if downs are
    /// [required](Reversibility::require_downs), every migration has one.
    pub fn is_reversible(&self) -> bool {
        self.round_trips.iter().all(RoundTrip::is_reversible)
            && (!self.downs_required || self.irreversible.is_empty())
    }

    /// The round trips that found a problem.
    pub fn failures(&self) -> impl Iterator<Item = &RoundTrip> {
        self.round_trips.iter().filter(|t| !t.is_reversible())
    }

    /// The report, or [`Error::NotReversible`] with every failed round
    /// trip (and, if downs are required, every migration without one): for
    /// a test that returns `Result`.
    ///
    /// ```
    /// use migrate_once::{Error, Migration, Migrations, check_reversible};
    ///
    /// let set = Migrations::new(vec![
    ///     Migration::new(1, "t", "CREATE TABLE t(x);").with_down("DROP TABLE t;"),
    ///     Migration::new(2, "u", "CREATE TABLE u(y);").with_down("DROP TABLE t;"), // the wrong table
    /// ])?;
    /// let report = check_reversible(&set)?;
    /// assert_eq!(report.failures().map(|t| t.version).collect::<Vec<_>>(), [2]);
    /// let Err(Error::NotReversible { failed, .. }) = report.into_result() else { panic!() };
    /// assert_eq!(failed[0].problems[0].to_string(),
    ///     "after its down, the database is not as it was before its up:\n  table t: missing\n  table u: extra");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotReversible`] unless [`is_reversible`](Self::is_reversible).
    pub fn into_result(self) -> Result<Self> {
        if self.is_reversible() {
            return Ok(self);
        }
        Err(Error::NotReversible {
            failed: self.failures().cloned().collect(),
            without_down: if self.downs_required {
                self.irreversible.clone()
            } else {
                Vec::new()
            },
        })
    }
}

impl fmt::Display for ReversibilityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        write!(
            f,
            "{} down migration(s) checked, {} reversible, {failed} not; {} migration(s) without a down",
            self.round_trips.len(),
            self.round_trips.len() - failed,
            self.irreversible.len()
        )?;
        for m in &self.irreversible {
            write!(f, "\n  without a down: {m}")?;
        }
        for t in self.failures() {
            write!(f, "\n{}", indent(&t.to_string(), "  "))?;
        }
        Ok(())
    }
}

impl<'a> Reversibility<'a> {
    /// A check of `set` with the defaults: no data check, migrations without
    /// a down listed but not failed, no connection hook.
    pub fn new(set: &'a Migrations) -> Self {
        Reversibility {
            set,
            data: false,
            require_downs: false,
            on_connect: None,
        }
    }

    /// Whether to check data too (default `false`): before each up, insert
    /// a row into every table that accepts one (rowid 0, defaults, `NULL`
    /// where allowed, simple values for the rest), then require every row
    /// that was there before the up, and that the up left as it was, to be
    /// there after the down and after the up again. A table none of the
    /// rows tried fits is listed in [`DataCheck::Ran::unprobed`]; an up
    /// that fails because of the inserted rows is checked without them
    /// ([`DataCheck::Skipped`]).
    ///
    /// ```
    /// use migrate_once::{Change, Migration, Migrations, Problem, Reversibility};
    ///
    /// // The down of 2 re-creates `users`, which 2 did not touch: same
    /// // schema, no rows.
    /// let set = Migrations::new(vec![
    ///     Migration::new(1, "users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);")
    ///         .with_down("DROP TABLE users;"),
    ///     Migration::new(2, "tags", "CREATE TABLE tags(name TEXT);")
    ///         .with_down("DROP TABLE tags; DROP TABLE users; CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"),
    /// ])?;
    /// assert!(Reversibility::new(&set).run()?.is_reversible());
    /// let report = Reversibility::new(&set).check_data(true).run()?;
    /// let Problem::NotUndone(diffs) = &report.round_trips[1].problems[0] else { panic!() };
    /// assert_eq!(diffs[0].to_string(),
    ///     "table users: 1 of the 1 row(s) it held before the up (and the up left alone) are gone");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn check_data(mut self, on: bool) -> Self {
        self.data = on;
        self
    }

    /// Whether a migration without a down fails the check (default
    /// `false`: it is listed in [`ReversibilityReport::irreversible`]).
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, Reversibility};
    ///
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x);")])?;
    /// let report = Reversibility::new(&set).require_downs(true).run()?;
    /// assert!(!report.is_reversible());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require_downs(mut self, required: bool) -> Self {
        self.require_downs = required;
        self
    }

    /// Runs `hook` on every connection the check opens, for example to
    /// register SQL functions the migrations call (as
    /// [`TestDbBuilder::on_connect`](crate::TestDbBuilder::on_connect) does).
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, Reversibility};
    ///
    /// let set = Migrations::new(vec![
    ///     Migration::new(1, "t", "CREATE TABLE t(x DEFAULT (answer()));").with_down("DROP TABLE t;"),
    /// ])?;
    /// let report = Reversibility::new(&set)
    ///     .on_connect(|conn| {
    ///         conn.create_scalar_function("answer", 0, rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC, |_| Ok(42))
    ///     })
    ///     .run()?;
    /// assert!(report.is_reversible());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    {
        self.on_connect = Some(std::sync::Arc::new(hook));
        self
    }

    /// Runs the check: a round trip for every migration with a down, each
    /// from a copy of the database migrated to the version before it.
    /// What the round trips find is in the report, not an error: see
    /// [`ReversibilityReport::into_result`] and [`assert`](Self::assert).
    ///
    /// ```
    /// use migrate_once::{Migrations, Reversibility};
    ///
    /// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let report = Reversibility::new(&set).run()?;
    /// for trip in &report.round_trips {
    ///     println!("{trip} ({:?})", trip.duration); // "migration 1 (create_users) in …: its down undoes its up"
    /// }
    /// assert!(report.is_reversible());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error migrating the set gives ([`Error::Sql`] and so on): an up
    /// that fails the first time is the set's fault, not its down's.
    /// [`Error::Database`] if SQLite fails outside the migrations.
    pub fn run(&self) -> Result<ReversibilityReport> {
        let started = Instant::now();
        let setup = Setup {
            on_connect: self.on_connect.clone(),
            ..Setup::default()
        };
        crate::sqlite::sqlite_config::before_first_connection();
        let mut base = Connection::open_in_memory()
            .and_then(|c| setup.apply(&c).map(|()| c))
            .map_err(Error::db("open an in-memory database", None))?;
        let mut round_trips = Vec::new();
        let mut irreversible = Vec::new();
        let mut cache = Cache::default();
        // The fingerprint of `base`, when a round trip left it behind.
        let mut known: Option<Fingerprint> = None;
        for (i, m) in self.set.iter().enumerate() {
            let upto = self.set.prefix(i + 1);
            if m.down_sql().is_some() {
                let (trip, next) =
                    self.round_trip(&setup, &base, known.take(), &upto, m, &mut cache)?;
                round_trips.push(trip);
                if let Some((work, fingerprint)) = next {
                    base = work;
                    known = Some(fingerprint);
                    continue;
                }
            } else {
                irreversible.push(Irreversible::of(m));
            }
            // `base` moves on: a fingerprint taken before is of another state.
            known = None;
            Migrator::new(&upto).migrate(&mut base)?;
        }
        Ok(ReversibilityReport {
            round_trips,
            irreversible,
            downs_required: self.require_downs,
            duration: started.elapsed(),
        })
    }

    /// Runs the check and panics, printing every failed round trip, unless
    /// it passes; see [`assert_reversible`].
    ///
    /// # Panics
    ///
    /// If a down does not undo its up, or (with
    /// [`require_downs`](Self::require_downs)) a migration has no down, or
    /// the set cannot be migrated.
    #[track_caller]
    pub fn assert(&self) -> ReversibilityReport {
        match self.run().and_then(ReversibilityReport::into_result) {
            Ok(report) => report,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// A copy of `base` with the connection setup.
    fn copy(setup: &Setup, base: &Connection) -> Result<Connection> {
        crate::sqlite::memdb::copy_of(base)
            .and_then(|c| setup.apply(&c).map(|()| c))
            .map_err(Error::db("copy the database for a round trip", None))
    }

    fn round_trip(
        &self,
        setup: &Setup,
        base: &Connection,
        known: Option<Fingerprint>,
        upto: &Migrations,
        m: &Migration,
        cache: &mut Cache,
    ) -> Result<(RoundTrip, Option<(Connection, Fingerprint)>)> {
        let started = Instant::now();
        let mut trip = RoundTrip {
            version: m.version(),
            name: m.name().to_string(),
            origin: m.origin().clone(),
            problems: Vec::new(),
            data: DataCheck::Off,
            duration: Duration::ZERO,
        };
        let mut work = Self::copy(setup, base)?;
        if self.data {
            let (probed, unprobed) = probe(&work)?;
            trip.data = DataCheck::Ran { probed, unprobed };
        }
        // A copy has its original's fingerprint, unless the check's rows
        // went in.
        let mut before = match known {
            Some(fingerprint) if !self.data => fingerprint,
            _ => Fingerprint::read(&work, true, cache)?,
        };
        let mut rows = self
            .data
            .then(|| RowCheck::read(&work, &before))
            .transpose()?;
        if let Err(e) = Migrator::new(upto).migrate(&mut work) {
            if !self.data {
                return Err(e);
            }
            // The rows the check inserted may be what the up refused.
            work = Self::copy(setup, base)?;
            before = Fingerprint::read(&work, true, cache)?;
            rows = None;
            Migrator::new(upto).migrate(&mut work)?;
            trip.data = DataCheck::Skipped {
                reason: with_causes(&e),
            };
        }
        let after_up = Fingerprint::read(&work, true, cache)?;
        if let Some(rows) = &mut rows {
            rows.keep_unchanged(&work, &after_up)?;
        }

        let mut lost_after_down = false;
        let mut last = None;
        match revert(&mut work, m) {
            Err(e) => trip.problems.push(Problem::DownFailed(e)),
            Ok(()) => {
                let after_down = Fingerprint::read(&work, true, cache)?;
                let mut diffs = before.differences(&after_down);
                if let Some(rows) = &rows {
                    lost_after_down = rows.add_lost(&work, &after_down, &mut diffs)?;
                }
                if !diffs.is_empty() {
                    trip.problems.push(Problem::NotUndone(diffs));
                }
                match Migrator::new(upto).migrate(&mut work) {
                    Err(e) => trip.problems.push(Problem::UpAgainFailed(e)),
                    Ok(_) => {
                        let again = Fingerprint::read(&work, true, cache)?;
                        let mut diffs = after_up.differences(&again);
                        // What the down left wrong and the up did not touch
                        // is not news: it was reported after the down.
                        if let Some(Problem::NotUndone(undone)) = trip.problems.last() {
                            diffs.retain(|d| !undone.contains(d));
                        }
                        if let (Some(rows), false) = (&rows, lost_after_down) {
                            rows.add_lost(&work, &again, &mut diffs)?;
                        }
                        if !diffs.is_empty() {
                            trip.problems.push(Problem::NotRepeatable(diffs));
                        }
                        last = Some(again);
                    }
                }
            }
        }
        trip.duration = started.elapsed();
        // A round trip that found nothing, without the check's rows, ends
        // in a database with the schema and row counts of migrating
        // forward: the next round trip starts from it, instead of
        // migrating `base` once more.
        let next = last
            .filter(|_| trip.problems.is_empty() && trip.data == DataCheck::Off)
            .map(|fingerprint| (work, fingerprint));
        Ok((trip, next))
    }
}

/// Checks that the down migrations of `set` undo their ups, and returns
/// what the round trips found, without panicking; see [`Reversibility`]
/// for the options, and [`assert_reversible`] for the form a test uses.
///
/// ```
/// use migrate_once::{Migrations, check_reversible};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let report = check_reversible(&set)?;
/// assert!(report.is_reversible());
/// assert_eq!(report.round_trips.len(), set.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`Reversibility::run`]: the set cannot be migrated, or SQLite fails.
pub fn check_reversible(set: &Migrations) -> Result<ReversibilityReport> {
    Reversibility::new(set).run()
}

/// Asserts that every down migration of `set` undoes its up: for each
/// migration N with a down, from a copy of the database after N-1, up N,
/// down N and up N again must give the state before the up and then the
/// state after it. Migrations without a down are listed in the report
/// returned, not failed (see [`Reversibility::require_downs`]).
///
/// Works on every layout [`Migrations`] loads: `.down.sql` beside an up,
/// sqlx's `.up.sql`/`.down.sql`, diesel's `down.sql`, and
/// [`Migration::with_down`](crate::Migration::with_down) in code.
///
/// ```
/// use migrate_once::{Migrations, assert_reversible};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop_sqlx"))?;
/// let report = assert_reversible(&set);
/// assert!(report.irreversible.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A down that forgets something fails, naming it:
///
/// ```should_panic
/// use migrate_once::{Migration, Migrations, assert_reversible};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);")
///         .with_down("DROP TABLE users;"),
///     Migration::new(2, "index_names", "CREATE INDEX users_by_name ON users(name);")
///         .with_down("SELECT 1;"), // forgets the index
/// ])?;
/// assert_reversible(&set); // panics: "... index users_by_name: extra ..."
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
///
/// If a down does not undo its up (every failure is listed, each naming
/// the table, column, index, trigger or view and how it differs), or the
/// set cannot be migrated.
#[track_caller]
pub fn assert_reversible(set: &Migrations) -> ReversibilityReport {
    Reversibility::new(set).assert()
}

/// The data check's rows: for each table before the up, its columns then
/// and its rows over them, as a multiset of encoded rows.
struct RowCheck {
    tables: Vec<(String, Vec<String>, BTreeMap<String, usize>)>,
}

/// A row as a string that two rows compare equal by.
fn encode(values: &[Value]) -> String {
    let mut s = String::new();
    for v in values {
        match v {
            Value::Null => s.push_str("N;"),
            Value::Integer(i) => s.push_str(&format!("I{i};")),
            Value::Real(r) => s.push_str(&format!("R{};", r.to_bits())),
            Value::Text(t) => s.push_str(&format!("T{}:{t};", t.len())),
            Value::Blob(b) => s.push_str(&format!("B{}:{};", b.len(), crate::migrations::hex(b))),
        }
    }
    s
}

/// The rows of `table` over `columns`, if the table has them all.
fn rows_over(
    conn: &Connection,
    fp: &Fingerprint,
    table: &str,
    columns: &[String],
) -> rusqlite::Result<Option<BTreeMap<String, usize>>> {
    let Some(have) = fp.columns(table) else {
        return Ok(None);
    };
    if !columns
        .iter()
        .all(|c| have.iter().any(|h| h.eq_ignore_ascii_case(c)))
    {
        return Ok(None);
    }
    let list = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare(&format!("SELECT {list} FROM main.{}", quote(table)))?;
    let mut rows = stmt.query([])?;
    let mut set = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| r.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        *set.entry(encode(&values)).or_insert(0) += 1;
    }
    Ok(Some(set))
}

fn data_error(e: rusqlite::Error) -> Error {
    Error::db("read rows for the data check", None)(e)
}

impl RowCheck {
    fn read(conn: &Connection, fp: &Fingerprint) -> Result<RowCheck> {
        let mut tables = Vec::new();
        for table in fp.tables() {
            let columns = fp.columns(table).unwrap_or_default();
            if let Some(rows) = rows_over(conn, fp, table, &columns).map_err(data_error)? {
                tables.push((table.to_string(), columns, rows));
            }
        }
        Ok(RowCheck { tables })
    }

    /// Keeps only the rows the up left as they were.
    fn keep_unchanged(&mut self, conn: &Connection, after_up: &Fingerprint) -> Result<()> {
        for (table, columns, rows) in &mut self.tables {
            let now = rows_over(conn, after_up, table, columns)
                .map_err(data_error)?
                .unwrap_or_default();
            for (row, n) in rows.iter_mut() {
                *n = (*n).min(now.get(row).copied().unwrap_or(0));
            }
            rows.retain(|_, n| *n > 0);
        }
        Ok(())
    }

    /// Adds a [`Change::RowsLost`] for every table that lost kept rows, in
    /// place of its row-count difference; returns whether there was one.
    fn add_lost(
        &self,
        conn: &Connection,
        now: &Fingerprint,
        diffs: &mut Vec<Difference>,
    ) -> Result<bool> {
        let mut any = false;
        for (table, columns, rows) in &self.tables {
            let of: usize = rows.values().sum();
            if of == 0 {
                continue;
            }
            let have = rows_over(conn, now, table, columns)
                .map_err(data_error)?
                .unwrap_or_default();
            let lost: usize = rows
                .iter()
                .map(|(row, n)| n.saturating_sub(have.get(row).copied().unwrap_or(0)))
                .sum();
            if lost == 0 {
                continue;
            }
            any = true;
            let object = SchemaObject {
                kind: "table".into(),
                name: table.clone(),
            };
            diffs.retain(|d| !(d.object == object && matches!(d.change, Change::Rows { .. })));
            diffs.push(Difference {
                object,
                change: Change::RowsLost { lost, of },
            });
        }
        diffs.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(any)
    }
}

/// A column as the probe needs it.
struct ProbeColumn {
    name: String,
    decl: String,
    not_null: bool,
    has_default: bool,
    pk: i64,
    in_foreign_key: bool,
}

/// A value for a column, by its declared type's affinity: `key` values
/// for key and foreign-key columns (0, so that a child's probe row refers
/// to its parent's, whose rowid is 0), others for the rest; `attempt`
/// picks another one when a constraint refused the last.
fn probe_value(decl: &str, key: bool, attempt: usize) -> String {
    let t = decl.to_ascii_uppercase();
    let pick = |values: [&str; 3]| values[attempt.min(2)].to_string();
    if t.contains("INT") || t.is_empty() || t == "ANY" {
        pick(if key {
            ["0", "-1", "-2"]
        } else {
            ["1", "0", "-1"]
        })
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        pick(if key {
            ["'migrate-once probe'", "'migrate-once probe 2'", "'~'"]
        } else {
            ["'migrate-once probe'", "''", "'x'"]
        })
    } else if t.contains("BLOB") {
        pick(["X'00'", "X'01'", "X''"])
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        pick(if key {
            ["0.0", "-1.0", "-2.0"]
        } else {
            ["1.0", "0.0", "-1.0"]
        })
    } else {
        pick(if key {
            ["0", "-1", "-2"]
        } else {
            ["1", "0", "-1"]
        })
    }
}

/// Inserts one row into every ordinary table that accepts one, with
/// foreign keys off; returns the tables that did and those that refused.
fn probe(conn: &Connection) -> Result<(Vec<String>, Vec<String>)> {
    let run = || -> rusqlite::Result<(Vec<String>, Vec<String>)> {
        let fk_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let mut tables: Vec<(String, bool)> = {
            let mut stmt = conn.prepare(
                "SELECT name, wr FROM pragma_table_list
                 WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        tables.retain(|(t, _)| !crate::sqlite::validate::is_bookkeeping(t));
        tables.sort();
        let (mut probed, mut unprobed) = (Vec::new(), Vec::new());
        for (table, without_rowid) in tables {
            let fk_columns: Vec<String> = {
                let mut stmt =
                    conn.prepare("SELECT \"from\" FROM pragma_foreign_key_list(?1, 'main')")?;
                stmt.query_map([&table], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let columns: Vec<ProbeColumn> = {
                let mut stmt = conn.prepare(
                    "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk
                     FROM pragma_table_xinfo(?1, 'main') WHERE hidden = 0 ORDER BY cid",
                )?;
                stmt.query_map([&table], |r| {
                    let name: String = r.get(0)?;
                    Ok(ProbeColumn {
                        in_foreign_key: fk_columns.iter().any(|c| c.eq_ignore_ascii_case(&name)),
                        name,
                        decl: r.get(1)?,
                        not_null: r.get(2)?,
                        has_default: r.get(3)?,
                        pk: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?
            };
            let key_columns = columns.iter().filter(|c| c.pk > 0).count();
            let is_alias = |c: &ProbeColumn| {
                !without_rowid
                    && key_columns == 1
                    && c.pk == 1
                    && c.decl.eq_ignore_ascii_case("INTEGER")
            };
            let rowid_named = columns.iter().any(|c| {
                ["rowid", "oid", "_rowid_"]
                    .iter()
                    .any(|n| c.name.eq_ignore_ascii_case(n))
            });
            let mut done = false;
            for attempt in 0..3 {
                let (mut names, mut values) = (Vec::new(), Vec::new());
                if !without_rowid && !rowid_named {
                    names.push("rowid".to_string());
                    values.push("0".to_string());
                }
                for c in &columns {
                    let key = c.pk > 0 || c.in_foreign_key;
                    if is_alias(c) || (c.has_default && c.pk == 0) || (!c.not_null && !key) {
                        continue;
                    }
                    names.push(quote(&c.name));
                    values.push(probe_value(&c.decl, key, attempt));
                }
                let sql = format!(
                    "INSERT INTO main.{} ({}) VALUES ({})",
                    quote(&table),
                    names.join(", "),
                    values.join(", ")
                );
                if conn.execute_batch(&sql).is_ok() {
                    done = true;
                    break;
                }
            }
            if done {
                probed.push(table);
            } else {
                unprobed.push(table);
            }
        }
        if fk_on {
            conn.execute_batch("PRAGMA foreign_keys = ON")?;
        }
        Ok((probed, unprobed))
    };
    run().map_err(Error::db("insert the data check's rows", None))
}
