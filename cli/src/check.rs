//! `migrate-once check [DIR]`: load a migration set and say what loading
//! finds, apply it to an in-memory database, check that every down undoes
//! its up and, with `--snapshot FILE`, that the migrated schema is the one
//! in FILE. Made for a CI step: exit 1, with the message, on any problem.
//!
//! With `--database-url URL` (or `--postgres`, a throwaway server) the set
//! is Postgres's: it is applied to a temporary database on that server and
//! validated against `pg_catalog`. The library runs downs on SQLite only,
//! so the reversibility step (and the snapshot, a SQLite schema dump) is
//! not run then, and says so.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use migrate_once::{
    Error, Migrations, Reversibility, SnapshotOutcome, UPDATE_SNAPSHOTS_ENV, check_schema_snapshot,
};

use crate::args::{self, Args, Usage};
use crate::out::{errln, out, outln};

pub const HELP: &str = "\
migrate-once check [DIR] [--snapshot FILE] [--require-downs] [--data]
migrate-once check [DIR] --database-url URL | --postgres

Checks the migration set in DIR (default: `migrations`), in four steps, and
stops at the first that fails:

  load           every file loads: versions, names, up/down pairs, UTF-8, no
                 statement that would reach outside its migration. Prints the
                 migrations, their versions and how many have a down.
  apply          the set is applied to an in-memory database, as a test's
                 template is built. An up that fails is reported here, with its
                 file, the line and column, and the statement.
  reversibility  on an in-memory database, each migration is applied in order;
                 each one with a down is applied, undone, and applied again,
                 and the database after the down must be the one before the up
                 (tables, columns, keys, indexes, views, triggers, row counts).
  snapshot       with --snapshot FILE: the migrated schema, normalized and
                 sorted, must be the text in FILE. A difference is printed as a
                 unified diff. With MIGRATE_ONCE_UPDATE_SNAPSHOTS=1 in the
                 environment FILE is written instead (review it in the commit).

A Postgres set (--database-url or --postgres), in three steps:

  load           as above, and no statement Postgres cannot run inside the
                 migrator's transaction (CREATE INDEX CONCURRENTLY, VACUUM, …)
                 unless its migration is marked `-- no-transaction`.
  apply          the set is applied to a new temporary database on the server
                 (dropped afterwards), as `migrate --database-url` would apply
                 it; if the role may not create databases, to a temporary
                 schema of the URL's database (dropped afterwards). An up that
                 fails is reported with its file, statement and line.
  validate       the migrated schema has every table, column, index,
                 constraint, view, function, type and trigger the migrations
                 left (read from pg_catalog), and the ledger holds the set.
  The reversibility step is SQLite-only (the library runs downs on SQLite
  only), and so is --snapshot; --require-downs and --data go with them.

Options:
  --snapshot FILE      also compare the migrated schema with FILE (relative to
                       the current directory)
  --require-downs      a migration without a down is a failure (by default it
                       is listed and passes)
  --data               also put a row into every table before each up and
                       require the rows the up left alone to survive its down
  --database-url URL   check on the Postgres server at URL (postgres://… or
                       key=value …); DATABASE_URL is not read in its place
  --postgres           check on a throwaway Postgres server started for the
                       run from initdb (found on PATH, through pg_config, or
                       under /usr/lib/postgresql), stopped and removed at exit
  -h, --help           this text

Exit status: 0 every step passed; 1 a step failed (the message says which and
why), or DIR or FILE cannot be read, or there is no Postgres server.
";

/// `check [DIR]`.
pub fn run(args: &Args) -> Result<ExitCode, Usage> {
    args.only(&[
        "--snapshot",
        "--require-downs",
        "--data",
        "--database-url",
        "--postgres",
    ])?;
    let url = args::database_url(args)?;
    let postgres = url.is_some() || args.flag("--postgres");
    if postgres {
        if !cfg!(feature = "postgres") {
            return Err(Usage(
                "this migrate-once was built without Postgres: --postgres needs the `postgres` \
                 feature (cargo install --locked --path cli --features postgres)"
                    .into(),
            ));
        }
        if url.is_some() && args.flag("--postgres") {
            return Err(Usage(
                "--database-url and --postgres name two servers; give one".into(),
            ));
        }
        if let Some(o) = ["--snapshot", "--require-downs", "--data"]
            .into_iter()
            .find(|o| args.value(o).is_some() || args.flag(o))
        {
            return Err(Usage(format!(
                "{o} belongs to the reversibility and snapshot steps, which are SQLite-only \
                 (the library runs downs on SQLite only); not with Postgres"
            )));
        }
    }
    let dir = args.dir(0)?;
    // Relative to where the user stands, not to a CARGO_MANIFEST_DIR that
    // `cargo run` would put in the environment.
    let snapshot = args.value("--snapshot").map(absolute);

    let started = Instant::now();
    let set = match args::load(&dir) {
        Ok(set) => set,
        Err(code) => {
            errln!("check: FAIL at load");
            return Ok(code);
        }
    };
    // What Postgres's migrator refuses before it sends anything is a
    // problem of the set: found when it loads.
    #[cfg(feature = "postgres")]
    if let Err(e) = migrate_once::postgres::check_set(&set).map_err(|e| format!("{e:?}"))
        && postgres
    {
        errln!("migrate-once: {e}");
        errln!("check: FAIL at load");
        return Ok(ExitCode::FAILURE);
    }
    outln!("load: ok, {}", describe(&dir, &set));

    #[cfg(feature = "postgres")]
    if postgres {
        return Ok(postgres::check(&dir, &set, url, started));
    }

    // Applied forward once, on its own: a migration that fails is the set
    // failing to apply, and is reported as such, not as a down that does
    // not undo its up.
    let applying = Instant::now();
    let applied = rusqlite::Connection::open_in_memory()
        .map_err(|e| format!("cannot open an in-memory database: {e}"))
        .and_then(|mut conn| {
            migrate_once::migrate(&mut conn, &set)
                .map_err(|e| format!("{} cannot be applied: {e:?}", dir.display()))
        });
    match applied {
        Ok(report) => outln!(
            "apply: ok, {} migrations applied to an in-memory database ({:.2} s)",
            report.applied.len(),
            applying.elapsed().as_secs_f64()
        ),
        Err(e) => {
            errln!("migrate-once: {e}");
            errln!("check: FAIL at apply");
            return Ok(ExitCode::FAILURE);
        }
    }

    let report = match Reversibility::new(&set)
        .require_downs(args.flag("--require-downs"))
        .check_data(args.flag("--data"))
        .run()
    {
        Ok(report) => report,
        Err(e) => {
            errln!("migrate-once: {e:?}");
            errln!("check: FAIL at reversibility");
            return Ok(ExitCode::FAILURE);
        }
    };
    let missing = report.irreversible.len();
    if let Err(e) = report.clone().into_result() {
        errln!("migrate-once: {e:?}");
        errln!("check: FAIL at reversibility");
        return Ok(ExitCode::FAILURE);
    }
    out!(
        "reversibility: ok, {} down(s) undo their up ({:.2} s)",
        report.round_trips.len(),
        report.duration.as_secs_f64()
    );
    if missing > 0 {
        let versions: Vec<String> = report
            .irreversible
            .iter()
            .map(|m| m.version.to_string())
            .collect();
        out!(
            "; {missing} migration(s) without a down, not checked: {}",
            shorten(&versions)
        );
    }
    outln!();

    if let Some(file) = snapshot {
        match check_schema_snapshot(&set, &file) {
            Ok(outcome) => outln!(
                "snapshot: {} {}",
                match outcome {
                    SnapshotOutcome::Written => "written to",
                    SnapshotOutcome::Updated => "updated in",
                    _ => "ok, the schema is the one in",
                },
                file.display()
            ),
            Err(Error::SnapshotMissing { path }) => {
                errln!(
                    "migrate-once: there is no schema snapshot at {}; run the check again with \
                     {UPDATE_SNAPSHOTS_ENV}=1 to write it, and commit it",
                    path.display()
                );
                errln!("check: FAIL at snapshot");
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                errln!("migrate-once: {e:?}");
                errln!("check: FAIL at snapshot");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    outln!(
        "check: ok ({} migrations, {:.2} s)",
        set.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// What loading found, on one line.
fn describe(dir: &Path, set: &Migrations) -> String {
    let first = set.iter().next().map_or(0, |m| m.version());
    let downs = set.iter().filter(|m| m.down_sql().is_some()).count();
    let ledgers: Vec<String> = set.app_ledgers().iter().map(|l| format!("{l}'s")).collect();
    let mut s = format!(
        "{} migrations in {} (versions {first}..={}), {downs} with a down, set {}",
        set.len(),
        dir.display(),
        set.latest_version(),
        &set.hash()[..12]
    );
    if !ledgers.is_empty() {
        s.push_str(&format!(", keeps {} ledger too", ledgers.join(" and ")));
    }
    s
}

/// A long list cut to its first few items.
fn shorten(items: &[String]) -> String {
    const SHOWN: usize = 8;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!(
        "{}, … ({} more)",
        items[..SHOWN].join(", "),
        items.len() - SHOWN
    )
}

fn absolute(path: &str) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path))
}

/// `check --database-url URL` and `check --postgres`.
#[cfg(feature = "postgres")]
mod postgres {
    use std::path::Path;
    use std::process::ExitCode;
    use std::time::Instant;

    use migrate_once::Migrations;
    use migrate_once::postgres::{Migrator, validate};

    use crate::out::{errln, outln};
    use crate::pg::{self, Scratch, Server, ident};

    fn fail(step: &str, message: &str) -> ExitCode {
        errln!("migrate-once: {message}");
        errln!("check: FAIL at {step}");
        ExitCode::FAILURE
    }

    pub fn check(dir: &Path, set: &Migrations, url: Option<&str>, started: Instant) -> ExitCode {
        let server = match Server::start(url) {
            Ok(server) => server,
            Err(why) => return fail("apply", &format!("no Postgres server: {why}")),
        };
        let applying = Instant::now();
        let schema = format!(
            "migrate_once_check_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros())
        );
        let made = Scratch::make(&server, schema).and_then(|scratch| {
            let client = scratch.connect()?;
            Ok((scratch, client))
        });
        let (scratch, mut client) = match made {
            Ok(made) => made,
            Err(why) => return fail("apply", &why),
        };
        let mut migrator = Migrator::new(set);
        if let Some(schema) = scratch.schema() {
            migrator = migrator.schema(schema);
        }
        match migrator.migrate(&mut client) {
            Ok(report) => outln!(
                "apply: ok, {} migrations applied to {} on {}, Postgres {} ({:.2} s)",
                report.applied.len(),
                scratch.describe(),
                server.name,
                server.version,
                applying.elapsed().as_secs_f64()
            ),
            Err(e) => {
                return fail(
                    "apply",
                    &format!("{} cannot be applied: {e:?}", dir.display()),
                );
            }
        }
        let validated = match scratch.schema() {
            Some(schema) => client
                .batch_execute(&format!("SET search_path TO {}", ident(schema)))
                .map_err(|e| pg::chain(&e)),
            None => Ok(()),
        }
        .and_then(|()| validate(&mut client, set).map_err(|e| format!("{e:?}")));
        match validated {
            Ok(()) => outln!(
                "validate: ok, the ledger holds the set and every object the migrations left is \
                 there (pg_catalog)"
            ),
            Err(why) => return fail("validate", &why),
        }
        let downs = set.iter().filter(|m| m.down_sql().is_some()).count();
        outln!(
            "reversibility: not run: the library runs downs on SQLite only ({downs} of {} \
             migrations have a down)",
            set.len()
        );
        drop(client);
        drop(scratch);
        outln!(
            "check: ok ({} migrations, {:.2} s)",
            set.len(),
            started.elapsed().as_secs_f64()
        );
        ExitCode::SUCCESS
    }
}
