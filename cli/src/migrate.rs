//! `migrate-once migrate [DIR] --database PATH | --database-url URL`: the
//! start-up command. Any number of containers, init containers or deploy
//! steps run it at once; the library's migrator makes one of them apply
//! what is pending (all of it in one transaction, the ledger read after the
//! lock is held: `BEGIN IMMEDIATE` on SQLite, `pg_advisory_xact_lock` on
//! Postgres) and the others find it done. This module only turns a command
//! line into a [`Migrator`] call (or the Postgres one), and its outcome into
//! lines, a JSON document and an exit status from [`crate::exit`]; both
//! backends share everything after the call.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use migrate_once::{
    AppLedger, Error, LedgerRow, Migration, Migrations, Migrator, Report, rusqlite,
};
use rusqlite::{Connection, OpenFlags};

use crate::args::{self, Args, Usage};
use crate::exit::{self, APPLIED, BAD_INPUT, FAILED, IN_PROGRESS, Status, TIMED_OUT, UP_TO_DATE};
use crate::json::Json;
use crate::out::{errln, outln};
#[cfg(feature = "postgres")]
use crate::pg;
use crate::status::AppRows;

/// How long `migrate` waits for another process's write lock unless told.
///
/// Longer than the library's 30 s, which is for tests: here the waiting
/// processes are containers that started together, and the one that holds
/// the lock is migrating. It usually holds it for seconds, and every other
/// instance would rather wait for it than fail its start. A minute covers
/// a schema change with a modest backfill on a SQLite file; a lock held
/// longer (a process stuck in a write transaction, a migration too long to
/// run at start-up) then ends as its own exit status, which the
/// orchestrator logs and retries, instead of a start that hangs with no
/// word. A long data migration is better run as a step of its own, with
/// `--lock-timeout` to match.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// `migrate --help`, its exit status table printed from [`exit::TABLE`].
pub fn help() -> String {
    format!(
        "\
migrate-once migrate [DIR] --database PATH | --database-url URL [options]

Applies what the database has not applied yet of the migrations in DIR
(default: `migrations`), in any layout the crate loads (0001_name.sql, sqlx's
.up.sql/.down.sql files, diesel's directories). For a container's entrypoint,
an init container or a deploy step, in place of `sqlx migrate run`, `diesel
migration run` or `alembic upgrade head`, and safe where those are not: when
several processes run it at once, the first to take the migration lock applies
everything pending in one transaction, and the others wait for it and then
find nothing to do. A run that fails or is killed leaves nothing half done:
the next run applies it all.

The database, exactly one of:
  --database PATH      a SQLite file, created if it does not exist (its
                       directory must exist). The lock is its write lock
                       (BEGIN IMMEDIATE); the file must be on a local file
                       system. Foreign keys are not enforced while it
                       migrates, so a table rebuild does not cascade into
                       child rows, and are checked before the commit.
  --database-url URL   a Postgres database: postgres://user@host:5432/db or
                       key=value pairs (host=… dbname=…). The lock is an
                       advisory lock of the database and schema
                       (pg_advisory_xact_lock), so it holds across machines;
                       DDL is transactional, so the run is all or nothing.
                       DATABASE_URL is not read in its place: write
                       --database-url \"$DATABASE_URL\" to use it. (A URL on
                       the command line can be read by other users of the
                       machine, with ps.) No TLS: the connection is not
                       encrypted, and sslmode=require fails.{postgres_build}

The database keeps a ledger (_migrate_once_ledger) with each migration's
checksum: a set in which an applied migration was edited is refused, naming
the file, and so is a database that has versions the set does not know.

Options:
  --app-ledger TOOLS       also keep these tools' ledgers, so that the app's own
                           migrator finds nothing to do afterwards: sqlx,
                           diesel, sqlx,diesel or none. Default: the layout's
                           (sqlx's for .up.sql/.down.sql files, diesel's for
                           its directories, none for plain .sql files). A
                           database one of them migrated is adopted: what it
                           applied is recorded, not run again.
  --no-wait                if another process holds the migration lock, exit
                           at once (status {in_progress}) instead of waiting for it
  --lock-timeout DURATION  how long to wait for that lock before exiting with
                           status {timed_out}: 500ms, 90s, 5m; 0 is --no-wait.
                           Default {default}s: long enough for the instance that
                           migrates to finish a usual migration, short enough
                           that a lock held by a stuck process becomes an exit
                           status to log and retry rather than a start that
                           hangs. Raise it for long data migrations. On
                           Postgres it also bounds each lock a migration's
                           statements wait for (an ALTER TABLE behind a long
                           query): exceeded, it is status {timed_out} too.
  --dry-run                print what would be applied, in order, and change
                           nothing: it reads the ledgers, takes no lock and
                           runs no SQL of the set (a SQLite file is opened
                           read-only, and not even created; on Postgres the
                           ledgers are read in a READ ONLY transaction). A
                           statement that would fail is found by
                           `migrate-once check`, not here
  --json                   print one JSON document on stdout instead of lines
  --schema NAME            Postgres: migrate this schema instead of the
                           connection's current one (created if missing,
                           under the lock)
  --connect-timeout DURATION
                           Postgres: how long to keep trying to connect while
                           the server refuses or is starting (a database
                           container started with the app). Default {connect}s;
                           then status {failed}
  -h, --help               this text

Output: a line per migration applied, with its execution time, then one line
that sums up; errors on stderr. With --json, stdout is one object: status (a
name below, spaces as underscores), exit_status, database, migrations, set,
app_ledgers, applied ([{{version, name, execution_ms}}], in order), adopted
([{{version, name, from}}]), already_applied, lock_wait_ms, apply_ms; error (the
message) instead when it fails. With --dry-run: dry_run true, status up_to_date
or pending, would_apply, would_adopt, already_applied. A Postgres database is
named without its user or password: `database shop on db:5432`.

Exit status:
{table}",
        in_progress = IN_PROGRESS.code,
        timed_out = TIMED_OUT.code,
        failed = FAILED.code,
        default = DEFAULT_LOCK_TIMEOUT.as_secs(),
        connect = CONNECT_TIMEOUT.as_secs(),
        postgres_build = if cfg!(feature = "postgres") {
            ""
        } else {
            "\n                       This build has no Postgres: install it with\n                       --features postgres."
        },
        table = exit::help_table(),
    )
}

/// How long to keep trying to connect to a Postgres server, unless told.
#[cfg(feature = "postgres")]
const CONNECT_TIMEOUT: Duration = pg::DEFAULT_CONNECT_TIMEOUT;
#[cfg(not(feature = "postgres"))]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to migrate.
#[derive(Debug)]
enum Target {
    /// `--database PATH`: a SQLite file, created if missing.
    Sqlite(PathBuf),
    /// `--database-url URL` (and `--schema`); why it is not a Postgres URL
    /// when it is not one (bad input, exit 3, not a usage error: the
    /// command line was understood).
    #[cfg(feature = "postgres")]
    Postgres(Box<Result<pg::Url, String>>),
}

impl Target {
    fn from(args: &Args) -> Result<Target, Usage> {
        let url = args::database_url(args)?;
        let postgres_only = ["--schema", "--connect-timeout"];
        match (args.value("--database"), url) {
            (Some(_), Some(_)) => Err(Usage(
                "--database and --database-url name two databases; give one".into(),
            )),
            (Some(path), None) => {
                if let Some(o) = postgres_only.iter().find(|o| args.value(o).is_some()) {
                    return Err(Usage(format!(
                        "{o} is for Postgres (--database-url), not a SQLite file"
                    )));
                }
                Ok(Target::Sqlite(PathBuf::from(path)))
            }
            #[cfg(feature = "postgres")]
            (None, Some(url)) => Ok(Target::Postgres(Box::new(pg::Url::parse(
                url,
                args.value("--schema").map(String::from),
            )))),
            #[cfg(not(feature = "postgres"))]
            (None, Some(_)) => unreachable!("database_url refuses it in this build"),
            (None, None) => Err(args::no_database(" to migrate")),
        }
    }

    /// How the target is named in messages and in `--json`'s `database`.
    fn name(&self) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            #[cfg(feature = "postgres")]
            Target::Postgres(url) => match &**url {
                Ok(url) => url.name(),
                Err(_) => "the database of --database-url".into(),
            },
        }
    }

    /// The lock one process migrates under, as messages name it.
    fn lock(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "write lock",
            #[cfg(feature = "postgres")]
            Target::Postgres(_) => "migration lock (an advisory lock)",
        }
    }
}

/// A `migrate` command line, understood.
struct Options {
    dir: PathBuf,
    target: Target,
    /// `None`: the layout's default, as `Migrations::from_dir` decided.
    app_ledgers: Option<Vec<AppLedger>>,
    lock_timeout: Duration,
    /// Postgres: how long to keep trying to reach the server.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    connect_timeout: Duration,
    dry_run: bool,
    json: bool,
}

impl Options {
    fn from(args: &Args) -> Result<Options, Usage> {
        args.only(&[
            "--database",
            "--database-url",
            "--schema",
            "--connect-timeout",
            "--app-ledger",
            "--no-wait",
            "--lock-timeout",
            "--dry-run",
            "--json",
        ])?;
        let no_wait = args.flag("--no-wait");
        if no_wait && args.value("--lock-timeout").is_some() {
            return Err(Usage(
                "--no-wait and --lock-timeout contradict each other; give one".into(),
            ));
        }
        let lock_timeout = if no_wait {
            Duration::ZERO
        } else {
            args.duration("--lock-timeout", DEFAULT_LOCK_TIMEOUT)?
        };
        Ok(Options {
            dir: args.dir(0)?,
            target: Target::from(args)?,
            app_ledgers: args.value("--app-ledger").map(app_ledgers).transpose()?,
            lock_timeout,
            connect_timeout: args.duration("--connect-timeout", CONNECT_TIMEOUT)?,
            dry_run: args.flag("--dry-run"),
            json: args.flag("--json"),
        })
    }
}

/// `sqlx`, `diesel`, `sqlx,diesel` or `none`.
fn app_ledgers(given: &str) -> Result<Vec<AppLedger>, Usage> {
    if given == "none" {
        return Ok(Vec::new());
    }
    let mut tools = Vec::new();
    for name in given.split(',').map(str::trim) {
        let tool = match name {
            "sqlx" => AppLedger::Sqlx,
            "diesel" => AppLedger::Diesel,
            _ => {
                return Err(Usage(format!(
                    "--app-ledger takes sqlx, diesel, sqlx,diesel or none, not `{given}`"
                )));
            }
        };
        if !tools.contains(&tool) {
            tools.push(tool);
        }
    }
    Ok(tools)
}

/// `migrate [DIR] --database PATH | --database-url URL [options]`.
pub fn run(args: &Args) -> Result<ExitCode, Usage> {
    let o = Options::from(args)?;
    let set = match Migrations::from_dir(&o.dir) {
        Ok(set) => match &o.app_ledgers {
            Some(tools) => set.with_app_ledgers(tools.iter().copied()),
            None => set,
        },
        Err(e) => {
            return Ok(fail(
                &o,
                BAD_INPUT,
                &format!("cannot load {}: {e:?}", o.dir.display()),
            ));
        }
    };
    Ok(match &o.target {
        Target::Sqlite(path) => sqlite(&o, &set, path),
        #[cfg(feature = "postgres")]
        Target::Postgres(url) => match &**url {
            Ok(url) => postgres(&o, &set, url),
            Err(why) => fail(&o, BAD_INPUT, why),
        },
    })
}

fn sqlite(o: &Options, set: &Migrations, path: &Path) -> ExitCode {
    if let Err(why) = usable_file_path(path) {
        return fail(o, BAD_INPUT, &why);
    }
    if o.dry_run {
        return dry_run(o, set, path);
    }
    // No URI flag: `file:…` is a file of that name, as PATH says.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = match Connection::open_with_flags(path, flags) {
        Ok(conn) => conn,
        Err(e) => {
            return fail(
                o,
                FAILED,
                &format!("cannot open {}: {e}; nothing was applied", path.display()),
            );
        }
    };
    // The migrator turns foreign keys off while it migrates (a table
    // rebuild must not cascade) and, when they were on, runs
    // `foreign_key_check` before the commit: on, so that a migration that
    // breaks a foreign key is refused here rather than found by the app.
    if let Err(e) = conn.execute_batch("PRAGMA foreign_keys = ON") {
        return fail(
            o,
            FAILED,
            &format!("cannot set up {}: {e}; nothing was applied", path.display()),
        );
    }
    let migrated = Migrator::new(set)
        .lock_timeout(o.lock_timeout)
        .migrate(&mut conn);
    outcome(o, set, migrated)
}

/// `--database-url URL`: connects (waiting for a server that is starting),
/// then as for SQLite, through the Postgres migrator.
#[cfg(feature = "postgres")]
fn postgres(o: &Options, set: &Migrations, url: &pg::Url) -> ExitCode {
    // What the migrator refuses before it sends anything (a statement that
    // cannot run in a transaction), refused before connecting, so that a
    // dry run refuses it too and a server that is down does not hide it.
    if let Err(e) = migrate_once::postgres::check_set(set) {
        return fail(o, status_of(&e), &message(&e));
    }
    let mut client = match url.connect(o.connect_timeout) {
        Ok(client) => client,
        Err(why) => return fail(o, FAILED, &format!("{why}; nothing was applied")),
    };
    if o.dry_run {
        return postgres_dry_run(o, set, url, &mut client);
    }
    let mut migrator = migrate_once::postgres::Migrator::new(set).lock_timeout(o.lock_timeout);
    if let Some(schema) = &url.schema {
        migrator = migrator.schema(schema.clone());
    }
    let migrated = migrator.migrate(&mut client);
    outcome(o, set, migrated)
}

/// What a run printed and exits with, whichever the backend.
fn outcome(o: &Options, set: &Migrations, migrated: Result<Report, Error>) -> ExitCode {
    match migrated {
        Ok(report) => done(o, set, &report),
        Err(e) => {
            let status = status_of(&e);
            let name = o.target.name();
            let message = match &e {
                Error::InProgress => format!(
                    "{name} is being migrated by another process, which holds its {}; \
                     not waiting (--no-wait)",
                    o.target.lock()
                ),
                Error::LockTimeout { waited } => format!(
                    "gave up after waiting {} for the {} on {name}, which another process \
                     held (--lock-timeout {}); nothing was done",
                    seconds(*waited),
                    o.target.lock(),
                    seconds(o.lock_timeout)
                ),
                #[cfg(feature = "postgres")]
                e if status == TIMED_OUT => format!(
                    "a statement of the migrations waited longer than --lock-timeout {} for a \
                     lock another session held: {}",
                    seconds(o.lock_timeout),
                    message(e)
                ),
                e => message(e),
            };
            fail(o, status, &message)
        }
    }
}

/// Which exit status a failed migration is.
fn status_of(e: &Error) -> Status {
    match e {
        Error::InProgress => IN_PROGRESS,
        Error::LockTimeout { .. } => TIMED_OUT,
        Error::ChecksumMismatch { .. }
        | Error::UnknownVersion { .. }
        | Error::OutOfOrder { .. }
        | Error::AppLedgerMismatch { .. }
        // Postgres checks the set when it migrates: a statement that
        // cannot run in a transaction is refused before anything is sent.
        | Error::ForbiddenStatement { .. } => BAD_INPUT,
        // A migration's statement waited past `lock_timeout` (SET LOCAL
        // by the migrator) for a lock another session held: like the
        // migrator's own lock, it may pass on a retry.
        #[cfg(feature = "postgres")]
        Error::PostgresSql { source, .. }
            if source.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) =>
        {
            TIMED_OUT
        }
        _ => FAILED,
    }
}

/// The library's message for `e`, with its causes; for an edited
/// migration without the library's hint that a test database can be
/// deleted instead: here the database is the application's.
fn message(e: &Error) -> String {
    match e {
        Error::ChecksumMismatch {
            version,
            name,
            origin,
            database: Some(db),
            applied,
            current,
        } => format!(
            "migration {version} ({name}) in {origin} was changed after database {} applied \
             it: applied checksum {applied}, current checksum {current}; add a new migration \
             instead of editing an applied one",
            db.display()
        ),
        e => format!("{e:?}"),
    }
}

/// Refuses what cannot be the database file: an empty path, `:memory:`
/// (gone when the command exits), a directory or anything else that is not
/// a regular file, a file in a directory that does not exist.
fn usable_file_path(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("--database is empty; give the database file's path".into());
    }
    if path.as_os_str() == ":memory:" {
        return Err(
            "--database :memory: is an in-memory database, gone when the command exits; \
             give the database file's path"
                .into(),
        );
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(format!(
            "{} is a directory; --database takes the database file (created if missing)",
            path.display()
        )),
        Ok(m) if !m.is_file() => Err(format!(
            "{} is not a regular file; --database takes the database file",
            path.display()
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if dir.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "{} cannot be created: its directory {} does not exist (migrate creates \
                     the database file, not its directory)",
                    path.display(),
                    dir.display()
                ))
            }
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Says why the command failed, on stderr (and with `--json`, as a JSON
/// document on stdout), and gives its exit status.
fn fail(o: &Options, status: Status, message: &str) -> ExitCode {
    errln!("migrate-once: {message}");
    if o.json {
        outln!(
            "{}",
            Json::object([
                ("status", Json::str(&status.json_name())),
                ("exit_status", Json::int(status.code.into())),
                ("database", Json::str(&o.target.name())),
                ("migrations", Json::str(&o.dir.display().to_string())),
                ("error", Json::str(message)),
            ])
        );
    }
    status.exit()
}

/// Prints what a successful run did.
fn done(o: &Options, set: &Migrations, report: &Report) -> ExitCode {
    let status = if report.applied.is_empty() && report.adopted.is_empty() {
        UP_TO_DATE
    } else {
        APPLIED
    };
    if o.json {
        let applied = report.applied.iter().map(|a| {
            Json::object([
                ("version", Json::int(a.version)),
                ("name", Json::str(&a.name)),
                ("execution_ms", Json::ms(a.duration)),
            ])
        });
        let adopted = report.adopted.iter().map(|a| {
            Json::object([
                ("version", Json::int(a.version)),
                ("name", Json::str(&a.name)),
                ("from", Json::str(&a.from.to_string())),
            ])
        });
        outln!(
            "{}",
            Json::object([
                ("status", Json::str(&status.json_name())),
                ("exit_status", Json::int(status.code.into())),
                ("database", Json::str(&o.target.name())),
                ("migrations", Json::str(&o.dir.display().to_string())),
                ("set", Json::str(set.hash())),
                ("app_ledgers", app_ledger_names(set)),
                ("applied", Json::array(applied)),
                ("adopted", Json::array(adopted)),
                ("already_applied", Json::int(count(report.already_applied))),
                ("lock_wait_ms", Json::ms(report.lock_wait)),
                ("apply_ms", Json::ms(report.apply_time)),
            ])
        );
        return status.exit();
    }
    // In version order, adopted and applied alike: all of them committed
    // together, so the lines are printed once the commit is done.
    let mut lines: Vec<(i64, String)> = report
        .applied
        .iter()
        .map(|a| {
            let line = format!(
                "applied {} {} in {}",
                a.version,
                a.name,
                seconds(a.duration)
            );
            (a.version, line)
        })
        .chain(report.adopted.iter().map(|a| {
            let line = format!(
                "adopted {} {} ({} had applied it)",
                a.version, a.name, a.from
            );
            (a.version, line)
        }))
        .collect();
    lines.sort();
    for (_, line) in lines {
        outln!("{line}");
    }
    let waited = if report.lock_wait >= Duration::from_millis(1) {
        format!(
            ", after waiting {} for another process's {}",
            seconds(report.lock_wait),
            o.target.lock()
        )
    } else {
        String::new()
    };
    if status == UP_TO_DATE {
        outln!(
            "{}: up to date, all {} migrations of {} applied (set {}){waited}",
            o.target.name(),
            set.len(),
            o.dir.display(),
            &set.hash()[..12]
        );
    } else {
        let adopted = match report.adopted.len() {
            0 => String::new(),
            n => format!(", {n} adopted"),
        };
        outln!(
            "{}: {} applied{adopted} in {}, {} applied before (set {}){waited}",
            o.target.name(),
            report.applied.len(),
            seconds(report.apply_time),
            report.already_applied,
            &set.hash()[..12]
        );
    }
    status.exit()
}

/// What `--dry-run` finds: the ledgers as they are, read without a lock.
struct Plan<'a> {
    already_applied: usize,
    apply: Vec<&'a Migration>,
    /// Each with the tool whose ledger recorded it.
    adopt: Vec<(&'a Migration, AppLedger)>,
}

impl<'a> Plan<'a> {
    /// The plan for a database that has nothing yet.
    fn everything(set: &'a Migrations) -> Plan<'a> {
        Plan {
            already_applied: 0,
            apply: set.iter().collect(),
            adopt: Vec::new(),
        }
    }
}

/// `--dry-run`: decides what `migrate` would do from the ledgers, the way
/// the migrator decides it, and prints it. The database is opened
/// read-only, and not at all when the file does not exist.
fn dry_run(o: &Options, set: &Migrations, path: &Path) -> ExitCode {
    let exists = path.exists();
    let plan = if exists {
        read_plan(set, path)
    } else {
        Ok(Plan::everything(set))
    };
    let note = if exists {
        "was not changed"
    } else {
        "does not exist (migrate would create it)"
    };
    print_plan(o, set, plan, exists, note)
}

/// `--dry-run` on Postgres: the ledgers read in a `READ ONLY` transaction
/// (the server itself refuses any write there), then decided as for
/// SQLite. A schema that does not exist has applied nothing.
#[cfg(feature = "postgres")]
fn postgres_dry_run(
    o: &Options,
    set: &Migrations,
    url: &pg::Url,
    client: &mut postgres::Client,
) -> ExitCode {
    match pg::read_ledgers(client, url.schema.as_deref()) {
        Ok(Some((rows, apps))) => {
            // Named as the migrator's own errors name it.
            let name = url.name();
            let database = PathBuf::from(name.strip_prefix("database ").unwrap_or(&name));
            let plan = plan_of(set, &rows, &apps, database);
            print_plan(
                o,
                set,
                plan,
                true,
                "was not changed (read in a READ ONLY transaction)",
            )
        }
        Ok(None) => {
            let note = match &url.schema {
                Some(s) => format!("has no schema {s} (migrate would create it)"),
                None => "has no schema in its search_path (migrate would fail)".into(),
            };
            print_plan(o, set, Ok(Plan::everything(set)), false, &note)
        }
        Err(why) => fail(
            o,
            FAILED,
            &format!("cannot read the ledgers of {}: {why}", url.name()),
        ),
    }
}

/// Prints what `--dry-run` found; `exists`: whether the database (the
/// schema) is there, `note` what became of it.
fn print_plan(
    o: &Options,
    set: &Migrations,
    plan: Result<Plan<'_>, Error>,
    exists: bool,
    note: &str,
) -> ExitCode {
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => return fail(o, status_of(&e), &message(&e)),
    };
    let status = if plan.apply.is_empty() && plan.adopt.is_empty() {
        "up_to_date"
    } else {
        "pending"
    };
    if o.json {
        let item = |m: &Migration| {
            [
                ("version", Json::int(m.version())),
                ("name", Json::str(m.name())),
            ]
        };
        outln!(
            "{}",
            Json::object([
                ("dry_run", Json::bool(true)),
                ("status", Json::str(status)),
                ("exit_status", Json::int(0)),
                ("database", Json::str(&o.target.name())),
                ("database_exists", Json::bool(exists)),
                ("migrations", Json::str(&o.dir.display().to_string())),
                ("set", Json::str(set.hash())),
                ("app_ledgers", app_ledger_names(set)),
                (
                    "would_apply",
                    Json::array(plan.apply.iter().map(|m| Json::object(item(m))))
                ),
                (
                    "would_adopt",
                    Json::array(plan.adopt.iter().map(|(m, tool)| {
                        let [v, n] = item(m);
                        Json::object([v, n, ("from", Json::str(&tool.to_string()))])
                    }))
                ),
                ("already_applied", Json::int(count(plan.already_applied))),
            ])
        );
        return ExitCode::SUCCESS;
    }
    let mut lines: Vec<(i64, String)> = plan
        .apply
        .iter()
        .map(|m| {
            (
                m.version(),
                format!("would apply {} {}", m.version(), m.name()),
            )
        })
        .chain(plan.adopt.iter().map(|(m, tool)| {
            let line = format!(
                "would adopt {} {} ({tool} had applied it)",
                m.version(),
                m.name()
            );
            (m.version(), line)
        }))
        .collect();
    lines.sort();
    for (_, line) in lines {
        outln!("{line}");
    }
    outln!(
        "dry run: {} to apply, {} to adopt, {} applied before; {} {}",
        plan.apply.len(),
        plan.adopt.len(),
        plan.already_applied,
        o.target.name(),
        note
    );
    ExitCode::SUCCESS
}

/// Reads the ledgers of the database at `path` (which exists) and decides
/// as the migrator does: an applied version the set lacks, an applied
/// migration whose checksum changed, a version an app's ledger has that
/// the set lacks, and a pending migration older than the newest applied
/// are refused with the migrator's own errors; what an app's ledger
/// recorded is adopted; the rest is applied.
fn read_plan<'a>(set: &'a Migrations, path: &Path) -> Result<Plan<'a>, Error> {
    let db_error = |context| {
        move |e: rusqlite::Error| Error::Database {
            context,
            database: Some(path.to_path_buf()),
            source: std::sync::Arc::new(e),
        }
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_error("open the database read-only"))?;
    let rows = migrate_once::ledger(&conn)?;
    let apps =
        crate::status::app_ledger_versions(&conn).map_err(db_error("read an app's ledger"))?;
    plan_of(set, &rows, &apps, path.to_path_buf())
}

/// The plan for `set` on a database whose ledger holds `rows` and whose
/// app ledgers hold `apps`, whichever the backend; `database` names it
/// in errors.
fn plan_of<'a>(
    set: &'a Migrations,
    rows: &[LedgerRow],
    apps: &AppRows,
    database: PathBuf,
) -> Result<Plan<'a>, Error> {
    let database = Some(database);
    for row in rows {
        match set.get(row.version) {
            None => {
                return Err(Error::UnknownVersion {
                    version: row.version,
                    name: row.name.clone(),
                    database: database.clone(),
                });
            }
            Some(m) if m.checksum() != row.checksum => {
                return Err(Error::ChecksumMismatch {
                    version: m.version(),
                    name: m.name().to_string(),
                    origin: m.origin().clone(),
                    database: database.clone(),
                    applied: row.checksum.clone(),
                    current: m.checksum().to_string(),
                });
            }
            Some(_) => {}
        }
    }
    let mut recorded: Vec<(i64, AppLedger)> = Vec::new();
    for &(tool, ref versions) in apps {
        for text in versions {
            // As the migrator reads diesel's text versions: dashes dropped.
            let version = text.replace('-', "").parse().unwrap_or(-1);
            if set.get(version).is_none() {
                return Err(Error::AppLedgerMismatch {
                    tool,
                    version,
                    database: database.clone(),
                    problem: migrate_once::AppLedgerProblem::UnknownVersion,
                });
            }
            recorded.push((version, tool));
        }
    }
    let mut plan = Plan {
        already_applied: rows.len(),
        apply: Vec::new(),
        adopt: Vec::new(),
    };
    for m in set {
        if rows.iter().any(|r| r.version == m.version()) {
            continue;
        }
        match recorded.iter().find(|(v, _)| *v == m.version()) {
            Some((_, tool)) => plan.adopt.push((m, *tool)),
            None => plan.apply.push(m),
        }
    }
    let newest = rows
        .last()
        .map(|r| r.version)
        .max(plan.adopt.last().map(|(m, _)| m.version()));
    if let Some(newest) = newest
        && let Some(m) = plan.apply.iter().find(|m| m.version() < newest)
    {
        return Err(Error::OutOfOrder {
            version: m.version(),
            name: m.name().to_string(),
            origin: m.origin().clone(),
            database,
            newest_applied: newest,
        });
    }
    Ok(plan)
}

fn app_ledger_names(set: &Migrations) -> Json {
    Json::array(set.app_ledgers().iter().map(|t| Json::str(&t.to_string())))
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A duration for a person: `0.04 ms`, `12.30 ms`, `1.53 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
