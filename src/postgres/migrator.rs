//! Bringing one Postgres database (one schema of it) to the latest version
//! of a set.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use postgres::Client;
use sha2::{Digest, Sha256};

use crate::app_ledger::{AppLedger, Recorded};
use crate::bookkeeping::LEDGER_TABLE;
use crate::error::{Error, Result, SchemaObject};
use crate::ledger::{self, LedgerRow};
use crate::migrations::{Migration, Migrations};
use crate::pg_sql::{self, Word};
use crate::report::{Adopted, Applied, DEFAULT_LOCK_TIMEOUT, LONGEST_WAIT, Report};

use super::catalog;

/// Options for migrating a Postgres database; [`migrate`] uses the
/// defaults.
///
/// ```
/// use std::time::Duration;
/// use migrate_once::{Migration, Migrations, postgres::{Migrator, TestServer}};
///
/// let server = TestServer::shared()?;
/// let db = server.create_database()?;
/// let mut client = db.connect()?;
/// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
/// let report = Migrator::new(&set)
///     .lock_timeout(Duration::from_secs(5))
///     .migrate(&mut client)?;
/// assert_eq!(report.applied_versions(), [1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Migrator<'a> {
    set: &'a Migrations,
    lock_timeout: Duration,
    out_of_order: bool,
    schema: Option<String>,
}

/// Where a run migrates: the database's description for errors, and the
/// schema.
pub(crate) struct Target {
    /// "app (schema public) on 127.0.0.1:5432", as errors name it.
    pub description: String,
    pub schema: String,
}

impl Target {
    fn path(&self) -> PathBuf {
        PathBuf::from(&self.description)
    }

    fn err(&self, context: &'static str) -> impl FnOnce(postgres::Error) -> Error + '_ {
        move |source| Error::Postgres {
            context,
            database: self.description.clone(),
            source: std::sync::Arc::new(source),
        }
    }

    /// `"schema".name`.
    pub fn qualified(&self, name: &str) -> String {
        format!("{}.{}", ident(&self.schema), ident(name))
    }
}

/// `name` as a quoted identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a string literal that reads the same whatever
/// `standard_conforming_strings` says.
pub(crate) fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The key of the advisory lock the migrator takes for `schema`: the first
/// 8 bytes of the SHA-256 of the ledger's schema-qualified name
/// (`"public"."_migrate_once_ledger"`), so one lock per database (advisory
/// locks are per database) and schema. Take it yourself
/// (`pg_advisory_xact_lock`) to keep migrators out while you work.
///
/// ```
/// let key = migrate_once::postgres::lock_key("public");
/// assert_ne!(key, migrate_once::postgres::lock_key("tenant_a"));
/// ```
pub fn lock_key(schema: &str) -> i64 {
    let digest = Sha256::digest(format!("{}.{}", ident(schema), ident(LEDGER_TABLE)));
    i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Whether a migration opted out of the migrator's transaction with sqlx's
/// marker, a first line `-- no-transaction`.
pub(crate) fn no_transaction(m: &Migration) -> bool {
    m.up_sql().starts_with("-- no-transaction")
}

const BOOKKEEPING: &str = "it names a ledger table (_migrate_once_ledger, _sqlx_migrations or \
                           __diesel_schema_migrations), which only the migrator writes";
const TRANSACTION: &str = "migrations run inside the migrator's transaction, which this would end \
                           or nest (a migration marked `-- no-transaction` runs as written)";
const NO_TRANSACTION: &str = "Postgres cannot run it inside a transaction block; mark the migration \
                              `-- no-transaction` (its first line) to run it outside the \
                              migrator's transaction, giving up all-or-nothing for it";
const COPY: &str = "COPY from STDIN or to STDOUT needs data the migrator does not send or read; \
                    use INSERT, or COPY from a file on the server";

/// Why Postgres's migrator refuses `statement`, or `None`. `in_transaction`:
/// the migration runs inside the migrator's transaction (it is not marked
/// `-- no-transaction`).
pub(crate) fn refusal(statement: &str, in_transaction: bool) -> Option<&'static str> {
    let words: Vec<Word<'_>> = pg_sql::words(statement).collect();
    let bookkeeping = words.iter().any(|w| match w {
        Word::Plain(t) => crate::bookkeeping::is_bookkeeping(t),
        Word::Quoted(t) => {
            *t == LEDGER_TABLE || AppLedger::ALL.iter().any(|tool| tool.table() == *t)
        }
    });
    if bookkeeping {
        return Some(BOOKKEEPING);
    }
    if !in_transaction {
        return None;
    }
    let k = |i: usize, s: &str| words.get(i).is_some_and(|w| w.is(s));
    let has = |s: &str| words.iter().any(|w| w.is(s));
    if k(0, "BEGIN") || k(0, "START") || k(0, "COMMIT") || k(0, "END") || k(0, "ABORT") {
        return Some(TRANSACTION);
    }
    if (k(0, "ROLLBACK") && !(k(1, "TO") || k(2, "TO"))) || (k(0, "PREPARE") && k(1, "TRANSACTION"))
    {
        return Some(TRANSACTION);
    }
    let create_or_drop = k(0, "CREATE") || k(0, "DROP");
    let cluster_wide = ["DATABASE", "TABLESPACE", "SUBSCRIPTION"]
        .iter()
        .any(|w| k(1, w));
    let no_tx = k(0, "VACUUM")
        || (k(0, "CREATE") && k(1, "INDEX") && k(2, "CONCURRENTLY"))
        || (k(0, "CREATE") && k(1, "UNIQUE") && k(2, "INDEX") && k(3, "CONCURRENTLY"))
        || (k(0, "DROP") && k(1, "INDEX") && k(2, "CONCURRENTLY"))
        || (k(0, "REINDEX")
            && (has("CONCURRENTLY") || has("SCHEMA") || has("DATABASE") || has("SYSTEM")))
        || (k(0, "CLUSTER") && cluster_all(&words[1..]))
        || (k(0, "ALTER") && k(1, "SYSTEM"))
        || (create_or_drop && cluster_wide)
        || (k(0, "ALTER") && k(1, "SUBSCRIPTION"))
        || (k(0, "ALTER") && k(1, "DATABASE") && has("TABLESPACE") && has("SET"))
        || (k(0, "ALTER") && k(1, "TABLE") && has("DETACH") && has("CONCURRENTLY"))
        || (k(0, "DISCARD") && k(1, "ALL"));
    if no_tx {
        return Some(NO_TRANSACTION);
    }
    if k(0, "COPY") && (has("STDIN") || has("STDOUT")) {
        return Some(COPY);
    }
    None
}

/// Whether the words after `CLUSTER` name no table (`CLUSTER`, `CLUSTER
/// VERBOSE`, `CLUSTER (VERBOSE)`): then it clusters every table, which
/// Postgres refuses inside a transaction block.
fn cluster_all(rest: &[Word<'_>]) -> bool {
    let mut depth = 0usize;
    rest.iter().all(|w| {
        if w.is("(") {
            depth += 1;
        } else if w.is(")") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && !w.is("VERBOSE") {
            return false;
        }
        true
    })
}

/// Refuses a migration that Postgres's migrator cannot run as asked: a
/// statement that cannot run inside a transaction (unless marked
/// `-- no-transaction`), that would end the migrator's transaction, or that
/// names a ledger. [`Migrator::migrate`] does this first, before anything
/// is sent to the server; call it to know without a server (the
/// `migrate-once migrate --dry-run` command refuses what the run would).
///
/// ```
/// use migrate_once::{Error, Migration, Migrations};
///
/// let set = Migrations::new(vec![Migration::new(1, "i", "CREATE INDEX CONCURRENTLY i ON t(x);")])?;
/// let err = migrate_once::postgres::check_set(&set).unwrap_err();
/// assert!(matches!(err, Error::ForbiddenStatement { version: 1, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::ForbiddenStatement`] naming the migration, the statement and
/// why.
pub fn check_set(set: &Migrations) -> Result<()> {
    for m in set {
        let sql = m.up_sql();
        let in_transaction = !no_transaction(m);
        for (i, span) in pg_sql::split(sql).iter().enumerate() {
            let statement = &sql[span.start..span.end];
            if let Some(reason) = refusal(statement, in_transaction) {
                return Err(Error::ForbiddenStatement {
                    version: m.version(),
                    name: m.name().to_string(),
                    origin: m.origin().clone(),
                    index: i + 1,
                    statement: statement.to_string(),
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// The statement of `sql` that the server's error position points into:
/// its 1-based index, the line it starts on and its text.
fn locate<'s>(sql: &'s str, e: &postgres::Error) -> Option<(usize, usize, &'s str)> {
    let position = match e.as_db_error()?.position()? {
        postgres::error::ErrorPosition::Original(p) => *p as usize,
        postgres::error::ErrorPosition::Internal { .. } => return None,
    };
    // Positions count characters from 1, not bytes.
    let at = sql
        .char_indices()
        .nth(position.saturating_sub(1))
        .map_or(sql.len(), |(b, _)| b);
    let spans = pg_sql::split(sql);
    let (i, span) = spans
        .iter()
        .enumerate()
        .find(|(_, s)| at < s.end)
        .or_else(|| spans.iter().enumerate().next_back())?;
    Some((
        i + 1,
        crate::sql::line_of(sql, span.start),
        &sql[span.start..span.end],
    ))
}

/// The error for migration `m` failing with `source` on `target`.
fn migration_error(m: &Migration, target: &Target, source: postgres::Error) -> Error {
    let sql = m.up_sql();
    let spans = pg_sql::split(sql);
    let (index, line, statement) = match locate(sql, &source) {
        Some(found) => found,
        // One statement: no position is needed to name it.
        None if spans.len() == 1 => (
            1,
            crate::sql::line_of(sql, spans[0].start),
            &sql[spans[0].start..spans[0].end],
        ),
        None => (0, 1, sql),
    };
    Error::PostgresSql {
        version: m.version(),
        name: m.name().to_string(),
        origin: m.origin().clone(),
        database: target.description.clone(),
        index,
        line,
        statement: statement.to_string(),
        source: std::sync::Arc::new(source),
    }
}

/// The crate's ledger rows in `target`'s schema; `None` if it has none.
fn read_ledger(client: &mut Client, target: &Target) -> Result<Option<Vec<LedgerRow>>> {
    let tables = existing_tables(client, target)?;
    if !tables.iter().any(|t| t == LEDGER_TABLE) {
        return Ok(None);
    }
    ledger_rows(client, target).map(Some)
}

fn ledger_rows(client: &mut Client, target: &Target) -> Result<Vec<LedgerRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT version, name, checksum, applied_at, execution_us FROM {} ORDER BY version",
                target.qualified(LEDGER_TABLE)
            ),
            &[],
        )
        .map_err(target.err("read the ledger"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let micros: i64 = r.get(4);
            ledger_row(r.get(0), r.get(1), r.get(2), r.get(3), micros)
        })
        .collect())
}

fn ledger_row(
    version: i64,
    name: String,
    checksum: String,
    applied_at: String,
    micros: i64,
) -> LedgerRow {
    LedgerRow {
        version,
        name,
        checksum,
        applied_at,
        execution_time: Duration::from_micros(micros.max(0).unsigned_abs()),
    }
}

/// Which bookkeeping tables `target`'s schema has.
fn existing_tables(client: &mut Client, target: &Target) -> Result<Vec<String>> {
    let names: Vec<&str> = std::iter::once(LEDGER_TABLE)
        .chain(AppLedger::ALL.iter().map(|t| t.table()))
        .collect();
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')",
            &[&target.schema, &names],
        )
        .map_err(target.err("look for the ledger"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The rows of `tool`'s ledger, which must exist, by version.
fn app_rows(client: &mut Client, target: &Target, tool: AppLedger) -> Result<Vec<Recorded>> {
    let table = target.qualified(tool.table());
    let err = target.err("read an app's ledger");
    match tool {
        AppLedger::Sqlx => {
            let rows = client
                .query(
                    &format!("SELECT version, checksum, success FROM {table} ORDER BY version"),
                    &[],
                )
                .map_err(err)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let version: i64 = r.get(0);
                    Recorded {
                        version,
                        text: version.to_string(),
                        checksum: Some(r.get(1)),
                        success: r.get(2),
                    }
                })
                .collect())
        }
        AppLedger::Diesel => {
            let rows = client
                .query(&format!("SELECT version::text FROM {table}"), &[])
                .map_err(err)?;
            let mut out: Vec<Recorded> = rows
                .iter()
                .map(|r| {
                    let text: String = r.get(0);
                    // Not a number: "a version the set does not have".
                    let version = text.replace('-', "").parse().unwrap_or(-1);
                    Recorded {
                        version,
                        text,
                        checksum: None,
                        success: true,
                    }
                })
                .collect();
            out.sort_by_key(|r| r.version);
            Ok(out)
        }
    }
}

/// A report of nothing done yet, on a database that had applied
/// `already_applied` of the set.
fn report(already_applied: usize) -> Report {
    Report {
        applied: Vec::new(),
        adopted: Vec::new(),
        already_applied,
        lock_wait: Duration::ZERO,
        apply_time: Duration::ZERO,
    }
}

/// `Duration` as whole microseconds (or nanoseconds), saturating.
fn as_i64(n: u128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<'a> Migrator<'a> {
    /// A migrator for `set` with the defaults: wait up to
    /// [`DEFAULT_LOCK_TIMEOUT`](crate::DEFAULT_LOCK_TIMEOUT) (30 s) for the
    /// lock, refuse out-of-order migrations, migrate the connection's
    /// current schema (the first schema of its `search_path` that exists).
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, postgres::{Migrator, TestServer}};
    ///
    /// let mut client = TestServer::shared()?.create_database()?.connect()?;
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
    /// assert_eq!(Migrator::new(&set).migrate(&mut client)?.applied_versions(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(set: &'a Migrations) -> Self {
        Migrator {
            set,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            out_of_order: false,
            schema: None,
        }
    }

    /// How long to wait for another connection that holds the migrator's
    /// lock on this database and schema (most likely migrating it) before
    /// giving up with [`Error::LockTimeout`]. Default: 30 seconds.
    ///
    /// `Duration::ZERO` means do not wait: if the lock is held, fail at
    /// once with [`Error::InProgress`]. Waits longer than about 24.8 days
    /// (what Postgres's `lock_timeout` can express) are clamped to that.
    ///
    /// The same bound (30 s when zero) applies to every lock a migration's
    /// own statements wait for (an `ALTER TABLE` behind a long query), as
    /// `SET LOCAL lock_timeout`: no call waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use migrate_once::{Error, Migration, Migrations, postgres::{Migrator, TestServer}};
    ///
    /// let db = TestServer::shared()?.create_database()?;
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
    ///
    /// // Another session holds the migrator's lock...
    /// let mut holder = db.connect()?;
    /// let mut tx = holder.transaction()?;
    /// let key = migrate_once::postgres::lock_key("public");
    /// tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
    ///
    /// // ...so a migrator that does not wait is told at once.
    /// let mut client = db.connect()?;
    /// let err = Migrator::new(&set).lock_timeout(Duration::ZERO).migrate(&mut client).unwrap_err();
    /// assert!(matches!(err, Error::InProgress));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout.min(LONGEST_WAIT);
        self
    }

    /// Whether to apply a pending migration when the database has applied a
    /// newer one. Default `false`: such a migration is an
    /// [`Error::OutOfOrder`].
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, postgres::{Migrator, TestServer}};
    ///
    /// let mut client = TestServer::shared()?.create_database()?.connect()?;
    /// let main = Migrations::new(vec![Migration::new(3, "c", "CREATE TABLE c(x int);")])?;
    /// Migrator::new(&main).migrate(&mut client)?;
    /// let merged = Migrations::new(vec![
    ///     Migration::new(2, "b", "CREATE TABLE b(x int);"),
    ///     Migration::new(3, "c", "CREATE TABLE c(x int);"),
    /// ])?;
    /// let report = Migrator::new(&merged).allow_out_of_order(true).migrate(&mut client)?;
    /// assert_eq!(report.applied_versions(), [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn allow_out_of_order(mut self, allow: bool) -> Self {
        self.out_of_order = allow;
        self
    }

    /// Migrate this schema instead of the connection's current one: it is
    /// created if need be (under the lock, so racing migrators never both
    /// create it), and the migrations run with `search_path` set to it
    /// alone (`SET LOCAL`: the connection's own is back afterwards).
    /// Default: the connection's current schema.
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, postgres::{Migrator, TestServer}};
    ///
    /// let mut client = TestServer::shared()?.create_database()?.connect()?;
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
    /// Migrator::new(&set).schema("tenant_a").migrate(&mut client)?;
    /// client.batch_execute("INSERT INTO tenant_a.t VALUES (1)")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Brings the database `client` is connected to (its schema) up to the
    /// set's latest version.
    ///
    /// In one transaction: `pg_advisory_xact_lock` on a key derived from
    /// the ledger's schema-qualified name (so one migrator per database
    /// and schema at a time, across processes and machines), then the
    /// ledger is read, then every pending migration runs, each sent whole,
    /// with its row in the crate's ledger and in the app ledgers the set
    /// keeps, then commit. Another migrator waits for the lock, then finds
    /// nothing pending. On any error, or if the process dies, the
    /// transaction rolls back and the lock goes with it: the database is as
    /// it was. A fully migrated database is recognised without the lock.
    ///
    /// A migration marked `-- no-transaction` (sqlx's marker) runs outside
    /// the transaction, statement by statement, under a session lock; its
    /// ledger rows are written after it succeeds.
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations, postgres::{Migrator, TestServer}};
    ///
    /// let mut client = TestServer::shared()?.create_database()?.connect()?;
    /// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
    /// let report = Migrator::new(&set).migrate(&mut client)?;
    /// assert_eq!((report.applied_versions(), report.already_applied), (vec![1], 0));
    /// let again = Migrator::new(&set).migrate(&mut client)?;
    /// assert_eq!((again.applied_versions(), again.already_applied), (vec![], 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::ForbiddenStatement`], before anything is sent, for a
    ///   statement that cannot run inside a transaction (`CREATE INDEX
    ///   CONCURRENTLY`, `VACUUM`, `ALTER SYSTEM`, `CREATE DATABASE`, …) in
    ///   a migration not marked `-- no-transaction`, one that would end the
    ///   transaction, or one that names a ledger.
    /// - [`Error::LockTimeout`] if another connection kept the lock past the
    ///   [`lock_timeout`](Self::lock_timeout), [`Error::InProgress`] if it
    ///   held it and the timeout is zero (both transient: try again).
    /// - [`Error::ChecksumMismatch`], [`Error::UnknownVersion`],
    ///   [`Error::OutOfOrder`], [`Error::AppLedgerMismatch`] as on SQLite.
    /// - [`Error::PostgresSql`] naming the migration and the statement that
    ///   failed.
    /// - [`Error::TransactionOpen`] if `client` is inside a transaction;
    ///   [`Error::Postgres`] if the server fails otherwise.
    pub fn migrate(&self, client: &mut Client) -> Result<Report> {
        check_set(self.set)?;
        let started = Instant::now();
        refuse_open_transaction(client)?;
        let target = self.target(client)?;
        if let Some(report) = self.up_to_date(client, &target)? {
            return Ok(report);
        }
        if self.set.iter().any(no_transaction) {
            self.migrate_with_session_lock(client, &target, started)
        } else {
            self.locked(client, &target, started)
                .map(|(report, _)| report)
        }
    }

    /// Which database and schema `client` migrates.
    fn target(&self, client: &mut Client) -> Result<Target> {
        target_of(client, self.schema.as_deref())
    }

    /// The fast path: every migration recorded with its current checksum,
    /// and every app ledger complete, read without the lock. The ledgers only
    /// change by whole committed runs, so this cannot be wrong.
    fn up_to_date(&self, client: &mut Client, target: &Target) -> Result<Option<Report>> {
        let tables = existing_tables(client, target)?;
        if !tables.iter().any(|t| t == LEDGER_TABLE) {
            return Ok(None);
        }
        let rows = ledger_rows(client, target)?;
        if !ledger::covers(&rows, self.set) {
            return Ok(None);
        }
        for tool in AppLedger::ALL {
            if !tables.iter().any(|t| t == tool.table()) {
                if self.set.app_ledgers().contains(&tool) {
                    return Ok(None);
                }
                continue;
            }
            let theirs = app_rows(client, target, tool)?;
            let exact = theirs.len() == self.set.len()
                && theirs
                    .iter()
                    .zip(self.set)
                    .all(|(r, m)| r.version == m.version() && r.success);
            if !exact {
                return Ok(None);
            }
        }
        Ok(Some(report(rows.len())))
    }

    /// The error for "another connection kept the lock".
    fn busy(&self, started: Instant) -> Error {
        if self.lock_timeout.is_zero() {
            Error::InProgress
        } else {
            Error::LockTimeout {
                waited: started.elapsed(),
            }
        }
    }

    /// One locked transaction: lock, read, plan, adopt and apply, record,
    /// commit. It applies the pending migrations before the first marked
    /// `-- no-transaction`, if one is pending, and returns that one for the
    /// caller to run outside (only a set with one gets there).
    fn locked<'s>(
        &'s self,
        client: &mut Client,
        target: &Target,
        started: Instant,
    ) -> Result<(Report, Option<&'s Migration>)> {
        let asked = Instant::now();
        // The bound for every lock this transaction waits for: the
        // migrator's, and those the migrations' statements take.
        let bound = if self.lock_timeout.is_zero() {
            DEFAULT_LOCK_TIMEOUT
        } else {
            self.lock_timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1))
        };
        let key = lock_key(&target.schema);
        let take = if self.lock_timeout.is_zero() {
            "pg_try_advisory_xact_lock"
        } else {
            "pg_advisory_xact_lock"
        };
        // One round trip: the lock is taken before the ledger is read.
        let locked = client.simple_query(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT {take}({key})::text",
            bound.as_millis().max(1)
        ));
        let result = match locked {
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                Err(self.busy(started))
            }
            Err(e) => Err(target.err("take the migrator's lock")(e)),
            Ok(messages) => {
                let got = messages.iter().find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v != "false"),
                    _ => None,
                });
                if got == Some(false) {
                    Err(self.busy(started))
                } else {
                    let lock_wait = asked.elapsed();
                    self.in_transaction(client, target)
                        .and_then(|(mut report, rest)| {
                            client
                                .batch_execute("COMMIT")
                                .map_err(target.err("commit the migrations"))?;
                            report.lock_wait = lock_wait;
                            report.apply_time = asked.elapsed() - lock_wait;
                            Ok((report, rest))
                        })
                }
            }
        };
        if result.is_err() && !client.is_closed() {
            // Nothing to do if this fails: the server rolls the transaction
            // back when the session ends.
            let _ = client.batch_execute("ROLLBACK");
        }
        result
    }

    fn in_transaction<'s>(
        &'s self,
        client: &mut Client,
        target: &Target,
    ) -> Result<(Report, Option<&'s Migration>)> {
        if let Some(schema) = &self.schema {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {0}; SET LOCAL search_path TO {0}",
                    ident(schema)
                ))
                .map_err(target.err("create the schema"))?;
        }
        client
            .batch_execute(
                &ledger::POSTGRES_CREATE.replace("{table}", &target.qualified(LEDGER_TABLE)),
            )
            .map_err(target.err("create the ledger table"))?;
        let rows = ledger_rows(client, target)?;
        let tables = existing_tables(client, target)?;
        let mut apps = Vec::new();
        for tool in AppLedger::ALL {
            if tables.iter().any(|t| t == tool.table()) {
                apps.push((tool, app_rows(client, target, tool)?));
            }
        }
        let plan = crate::plan::plan(self.set, &rows, &apps, self.out_of_order, &target.path())?;

        let mut report = report(rows.len());
        for (m, from) in &plan.adopt {
            record(client, target, m, Duration::ZERO)?;
            report.adopted.push(Adopted {
                version: m.version(),
                name: m.name().to_string(),
                from: *from,
            });
        }
        let mut rest = None;
        for (i, m) in plan.run.iter().enumerate() {
            if no_transaction(m) {
                // Only a set with one gets here, under a session lock.
                rest = Some(*m);
                break;
            }
            let began = Instant::now();
            if let Err(e) = client.batch_execute(m.up_sql()) {
                let mut err = migration_error(m, target, e);
                self.locate_by_replay(client, target, &plan.run[..i], m, &mut err);
                return Err(err);
            }
            let took = began.elapsed();
            record(client, target, m, took)?;
            report.applied.push(Applied {
                version: m.version(),
                name: m.name().to_string(),
                duration: took,
            });
        }
        self.fill_app_ledgers(client, target, &apps, &report, &rows)?;
        if !report.applied.is_empty() || !report.adopted.is_empty() {
            catalog::record(client, target)?;
        }
        Ok((report, rest))
    }

    /// When the server gave no position (`relation "t" already exists`),
    /// finds the statement of `m` that fails: in a new transaction under
    /// the lock, the migrations `before` it in this run, then `m` one
    /// statement at a time, then `ROLLBACK`. Only the first statement that
    /// fails with the same SQLSTATE is named; otherwise `err` stays as it
    /// is. Nothing of it is kept, and it runs only after a failure.
    fn locate_by_replay(
        &self,
        client: &mut Client,
        target: &Target,
        before: &[&Migration],
        m: &Migration,
        err: &mut Error,
    ) {
        let Error::PostgresSql {
            source,
            index: index @ 0,
            line,
            statement,
            ..
        } = err
        else {
            return;
        };
        let code = source.code().cloned();
        // A statement that waited past the caller's `lock_timeout` would
        // wait again in the replay: under the default 30 s, whatever
        // the caller asked for. It fails at once instead, which finds it
        // all the same (the caller gave the bound; the replay adds none).
        let wait = if code == Some(postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
            Duration::from_millis(1)
        } else {
            DEFAULT_LOCK_TIMEOUT
        };
        let sql = m.up_sql();
        let mut replay = || -> std::result::Result<(), postgres::Error> {
            client.batch_execute("ROLLBACK")?;
            client.batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_xact_lock({})",
                wait.as_millis(),
                lock_key(&target.schema)
            ))?;
            if let Some(schema) = &self.schema {
                client.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {0}; SET LOCAL search_path TO {0}",
                    ident(schema)
                ))?;
            }
            for p in before {
                client.batch_execute(p.up_sql())?;
            }
            for (i, span) in pg_sql::split(sql).iter().enumerate() {
                if let Err(e) = client.batch_execute(&sql[span.start..span.end]) {
                    if e.code() == code.as_ref() {
                        *index = i + 1;
                        *line = crate::sql::line_of(sql, span.start);
                        *statement = sql[span.start..span.end].to_string();
                    }
                    break;
                }
            }
            Ok(())
        };
        let _ = replay();
        let _ = client.batch_execute("ROLLBACK");
    }

    /// Every app ledger the set keeps or the database has records every
    /// migration applied now, as its tool would have.
    fn fill_app_ledgers(
        &self,
        client: &mut Client,
        target: &Target,
        apps: &[(AppLedger, Vec<Recorded>)],
        report: &Report,
        before: &[LedgerRow],
    ) -> Result<()> {
        let mut kept: Vec<(AppLedger, Option<&Vec<Recorded>>)> =
            apps.iter().map(|(t, r)| (*t, Some(r))).collect();
        for tool in self.set.app_ledgers() {
            if !kept.iter().any(|(t, _)| t == tool) {
                kept.push((*tool, None));
            }
        }
        let took = |version| {
            report
                .applied
                .iter()
                .find(|a| a.version == version)
                .map_or(Duration::ZERO, |a| a.duration)
        };
        let applied = |version: i64| {
            before.iter().any(|r| r.version == version)
                || report.applied.iter().any(|a| a.version == version)
                || report.adopted.iter().any(|a| a.version == version)
        };
        for (tool, has) in kept {
            let table = target.qualified(tool.table());
            if has.is_none() {
                client
                    .batch_execute(&tool.postgres_create().replace("{table}", &table))
                    .map_err(target.err("create an app's ledger table"))?;
            }
            for m in self.set.iter().filter(|m| applied(m.version())) {
                if has.is_some_and(|rows| rows.iter().any(|r| r.version == m.version())) {
                    continue;
                }
                let entry = m.app_ledger_entry();
                let written = match tool {
                    AppLedger::Sqlx => client.execute(
                        &format!(
                            "INSERT INTO {table} (version, description, success, checksum, execution_time)
                             VALUES ($1, $2, TRUE, $3, $4)"
                        ),
                        &[
                            &entry.version,
                            &entry.description,
                            &entry.checksum,
                            &as_i64(took(m.version()).as_nanos()),
                        ],
                    ),
                    AppLedger::Diesel => client.execute(
                        &format!("INSERT INTO {table} (version) VALUES ($1)"),
                        &[&entry.diesel_version],
                    ),
                };
                written.map_err(target.err("write an app's ledger"))?;
            }
        }
        Ok(())
    }

    /// A set with a `-- no-transaction` migration: a session-level lock
    /// held across the transactions before and after each such migration,
    /// which runs outside any, statement by statement.
    fn migrate_with_session_lock(
        &self,
        client: &mut Client,
        target: &Target,
        started: Instant,
    ) -> Result<Report> {
        let key = lock_key(&target.schema);
        let asked = Instant::now();
        // Polled rather than waited for: a session waiting inside a
        // statement holds a snapshot, and `CREATE INDEX CONCURRENTLY` waits
        // for every older snapshot, so the waiter would block the holder.
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(target.err("take the migrator's lock"))?
                .get(0);
            if got {
                break;
            }
            if started.elapsed() >= self.lock_timeout {
                return Err(self.busy(started));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let lock_wait = asked.elapsed();
        let result = self.session_runs(client, target, started);
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .map_err(target.err("release the migrator's lock"));
        let mut report = result?;
        unlocked?;
        report.lock_wait = lock_wait;
        report.apply_time = asked.elapsed() - lock_wait;
        Ok(report)
    }

    fn session_runs(
        &self,
        client: &mut Client,
        target: &Target,
        started: Instant,
    ) -> Result<Report> {
        let mut total: Option<Report> = None;
        loop {
            let (run, rest) = self.locked(client, target, started)?;
            let total = match &mut total {
                Some(t) => {
                    t.applied.extend(run.applied);
                    t.adopted.extend(run.adopted);
                    t
                }
                None => total.insert(run),
            };
            let Some(m) = rest else {
                return Ok(total.clone());
            };
            let began = Instant::now();
            let sql = m.up_sql();
            for span in pg_sql::split(sql) {
                client
                    .batch_execute(&sql[span.start..span.end])
                    .map_err(|e| statement_error(m, target, sql, span, e))?;
            }
            let took = began.elapsed();
            client
                .batch_execute("BEGIN")
                .map_err(target.err("record a migration run outside a transaction"))?;
            let recorded = record(client, target, m, took).and_then(|()| {
                let applied = Report {
                    applied: vec![Applied {
                        version: m.version(),
                        name: m.name().to_string(),
                        duration: took,
                    }],
                    ..report(0)
                };
                let rows = ledger_rows(client, target)?;
                let tables = existing_tables(client, target)?;
                let mut apps = Vec::new();
                for tool in AppLedger::ALL {
                    if tables.iter().any(|t| t == tool.table()) {
                        apps.push((tool, app_rows(client, target, tool)?));
                    }
                }
                self.fill_app_ledgers(client, target, &apps, &applied, &rows)?;
                catalog::record(client, target)?;
                client
                    .batch_execute("COMMIT")
                    .map_err(target.err("record a migration run outside a transaction"))
            });
            if let Err(e) = recorded {
                let _ = client.batch_execute("ROLLBACK");
                return Err(e);
            }
            total.applied.push(Applied {
                version: m.version(),
                name: m.name().to_string(),
                duration: took,
            });
        }
    }
}

/// The error for statement `span` of migration `m`, sent alone.
fn statement_error(
    m: &Migration,
    target: &Target,
    sql: &str,
    span: crate::sql::Span,
    source: postgres::Error,
) -> Error {
    Error::PostgresSql {
        version: m.version(),
        name: m.name().to_string(),
        origin: m.origin().clone(),
        database: target.description.clone(),
        index: pg_sql::split(sql)
            .iter()
            .position(|s| *s == span)
            .map_or(0, |i| i + 1),
        line: crate::sql::line_of(sql, span.start),
        statement: sql[span.start..span.end].to_string(),
        source: std::sync::Arc::new(source),
    }
}

/// Writes the crate's ledger row for `m`.
fn record(client: &mut Client, target: &Target, m: &Migration, took: Duration) -> Result<()> {
    client
        .execute(
            &format!(
                "INSERT INTO {} (version, name, checksum, applied_at, execution_us)
                 VALUES ($1, $2, $3, {}, $4)",
                target.qualified(LEDGER_TABLE),
                ledger::POSTGRES_NOW
            ),
            &[
                &m.version(),
                &m.name(),
                &m.checksum(),
                &as_i64(took.as_micros()),
            ],
        )
        .map_err(target.err("write the ledger"))
        .map(drop)
}

/// [`Error::TransactionOpen`] if `client` is inside a transaction block.
/// The first statement of a transaction starts when it does; any later one
/// (after a `BEGIN`) starts after it. (A `SAVEPOINT` probe would tell too,
/// but logs an error on the server every time it finds none.)
fn refuse_open_transaction(client: &mut Client) -> Result<()> {
    // One simple-query message: in the extended protocol the statement's
    // timestamp moves on between Parse and Execute.
    let probe = client.simple_query("SELECT statement_timestamp() <> transaction_timestamp()");
    match probe {
        Ok(messages) => {
            let open = messages.iter().any(
                |m| matches!(m, postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("t")),
            );
            if open {
                Err(Error::TransactionOpen)
            } else {
                Ok(())
            }
        }
        // An aborted transaction refuses every command.
        Err(e) if e.code() == Some(&postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION) => {
            Err(Error::TransactionOpen)
        }
        Err(source) => Err(Error::Postgres {
            context: "check that no transaction is open",
            database: "a Postgres database".into(),
            source: std::sync::Arc::new(source),
        }),
    }
}

/// Brings the database `client` is connected to (its current schema) up to
/// the latest version of `set`, with the default options of [`Migrator`].
/// Safe to call from any number of threads, processes and machines at once:
/// one caller applies what is pending, the others wait for it and find
/// nothing to do.
///
/// ```
/// use migrate_once::{Migration, Migrations, postgres::TestServer};
///
/// let mut client = TestServer::shared()?.create_database()?.connect()?;
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "CREATE TABLE users(id bigserial PRIMARY KEY, name text);"),
///     Migration::new(2, "seed", "INSERT INTO users(name) VALUES ('ada');"),
/// ])?;
/// assert_eq!(migrate_once::postgres::migrate(&mut client, &set)?.applied_versions(), [1, 2]);
/// assert!(migrate_once::postgres::migrate(&mut client, &set)?.applied.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// See [`Migrator::migrate`].
pub fn migrate(client: &mut Client, set: &Migrations) -> Result<Report> {
    Migrator::new(set).migrate(client)
}

/// The crate's ledger in the current schema of the database `client` is
/// connected to, oldest first; empty if it was never migrated.
///
/// ```
/// use migrate_once::{Migration, Migrations, postgres::TestServer};
///
/// let mut client = TestServer::shared()?.create_database()?.connect()?;
/// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
/// migrate_once::postgres::migrate(&mut client, &set)?;
/// let ledger = migrate_once::postgres::ledger(&mut client)?;
/// assert_eq!((ledger.len(), ledger[0].version), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Postgres`] if the server cannot be read.
pub fn ledger(client: &mut Client) -> Result<Vec<LedgerRow>> {
    let target = target_of(client, None)?;
    Ok(read_ledger(client, &target)?.unwrap_or_default())
}

/// Checks that the current schema of the database `client` is connected to
/// is migrated to exactly `set` and still has every object the migrations
/// left there, each as they left it (read from `pg_catalog`, and compared
/// with what the migrator recorded when it last applied anything): a
/// connection whose `search_path` points at another schema does not pass.
/// [`SharedDb`](super::SharedDb) does this on every open.
///
/// ```
/// use migrate_once::{Error, Migration, Migrations, postgres::TestServer};
///
/// let mut client = TestServer::shared()?.create_database()?.connect()?;
/// let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t(x int);")])?;
/// migrate_once::postgres::Migrator::new(&set).schema("a").migrate(&mut client)?;
/// client.batch_execute("SET search_path TO a")?;
/// migrate_once::postgres::validate(&mut client, &set)?;
///
/// client.batch_execute("CREATE SCHEMA b; SET search_path TO b")?;
/// let err = migrate_once::postgres::validate(&mut client, &set).unwrap_err();
/// assert!(matches!(err, Error::Validation { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Validation`] naming each migration not applied (kind
/// `migration`) and each object missing or changed;
/// [`Error::UnknownVersion`] / [`Error::ChecksumMismatch`] if the ledger
/// disagrees with the set; [`Error::Postgres`] if the server cannot be read.
pub fn validate(client: &mut Client, set: &Migrations) -> Result<()> {
    let target = target_of(client, None)?;
    validate_target(client, set, &target, &[], false)
}

/// [`validate`] for `target`, with tables that must exist besides and,
/// if `exact`, no object the migrations did not leave.
pub(crate) fn validate_target(
    client: &mut Client,
    set: &Migrations,
    target: &Target,
    required_tables: &[String],
    exact: bool,
) -> Result<()> {
    let rows = read_ledger(client, target)?.unwrap_or_default();
    crate::plan::plan(set, &rows, &[], true, &target.path())?;
    let mut missing: Vec<SchemaObject> = set
        .iter()
        .filter(|m| !rows.iter().any(|r| r.version == m.version()))
        .map(|m| SchemaObject {
            kind: "migration".into(),
            name: format!("{} ({})", m.version(), m.name()),
        })
        .collect();
    let diff = catalog::compare(client, target, required_tables, exact)?;
    missing.extend(diff.missing);
    if missing.is_empty() && diff.differing.is_empty() && diff.unexpected.is_empty() {
        return Ok(());
    }
    Err(Error::Validation {
        database: Some(target.path()),
        missing,
        differing: diff.differing,
        unexpected: diff.unexpected,
    })
}

/// Which database and schema `client` migrates: `schema`, or its current
/// one.
pub(crate) fn target_of(client: &mut Client, schema: Option<&str>) -> Result<Target> {
    let row = client
        .query_one(
            "SELECT current_database()::text, coalesce($1::text, current_schema()::text),
                    coalesce(host(inet_server_addr()), 'the local socket'),
                    current_setting('port')",
            &[&schema],
        )
        .map_err(|source| Error::Postgres {
            context: "ask the server which database this is",
            database: "a Postgres database".into(),
            source: std::sync::Arc::new(source),
        })?;
    let (database, schema, host, port): (String, Option<String>, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let description = |schema: &str| format!("{database} (schema {schema}) on {host}:{port}");
    let Some(schema) = schema else {
        // No schema of the search_path exists: the server says so in
        // its own words.
        let probe =
            client.batch_execute("BEGIN; CREATE TABLE migrate_once_where_am_i (); ROLLBACK");
        let _ = client.batch_execute("ROLLBACK");
        let target = Target {
            description: description("none"),
            schema: String::new(),
        };
        if let Err(e) = probe {
            return Err(target.err(
                "find the schema to migrate (the search_path names none that exists)",
            )(e));
        }
        // The server made a table in no schema: let what follows fail in
        // the server's words.
        return Ok(target);
    };
    Ok(Target {
        description: description(&schema),
        schema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_cannot_run_in_a_transaction_are_refused_unless_marked() {
        for sql in [
            "CREATE INDEX CONCURRENTLY i ON t(x)",
            "create unique index concurrently i on t(x)",
            "DROP INDEX CONCURRENTLY i",
            "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
            "REINDEX DATABASE app",
            "VACUUM ANALYZE t",
            "CLUSTER",
            "CLUSTER (VERBOSE)",
            "ALTER SYSTEM SET work_mem = '1MB'",
            "CREATE DATABASE other",
            "DROP TABLESPACE ts",
            "ALTER DATABASE app SET TABLESPACE ts",
            "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
        ] {
            assert_eq!(refusal(sql, true), Some(NO_TRANSACTION), "{sql}");
            assert_eq!(refusal(sql, false), None, "{sql}");
        }
        for sql in [
            "BEGIN",
            "START TRANSACTION",
            "COMMIT",
            "END",
            "ROLLBACK",
            "ABORT",
        ] {
            assert_eq!(refusal(sql, true), Some(TRANSACTION), "{sql}");
        }
        for sql in [
            "ROLLBACK TO SAVEPOINT s",
            "CLUSTER t USING i",
            "CREATE INDEX \"concurrently\" ON t(x)",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER DATABASE app SET work_mem = '1MB'",
            "CREATE TABLE t (x int)",
            "COPY t FROM '/tmp/x.csv'",
        ] {
            assert_eq!(refusal(sql, true), None, "{sql}");
        }
        assert_eq!(refusal("COPY t FROM STDIN", true), Some(COPY));
        assert_eq!(
            refusal("DELETE FROM \"_sqlx_migrations\"", false),
            Some(BOOKKEEPING)
        );
        assert_eq!(refusal("DELETE FROM \"_SQLX_MIGRATIONS\"", false), None);
    }

    #[test]
    fn the_lock_key_is_one_per_schema() {
        assert_eq!(lock_key("public"), lock_key("public"));
        assert_ne!(lock_key("public"), lock_key("a"));
    }
}
