//! `migrate-once check [DIR]`: load a migration set and say what loading
//! finds, apply it to an in-memory database, check that every down undoes
//! its up and, with `--snapshot FILE`, that the migrated schema is the one
//! in FILE. Made for a CI step: exit 1, with the message, on any problem.

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

Options:
  --snapshot FILE   also compare the migrated schema with FILE (relative to the
                    current directory)
  --require-downs   a migration without a down is a failure (by default it is
                    listed and passes)
  --data            also put a row into every table before each up and require
                    the rows the up left alone to survive its down
  -h, --help        this text

Exit status: 0 every step passed; 1 a step failed (the message says which and
why), or DIR or FILE cannot be read.
";

/// `check [DIR]`.
pub fn run(args: &Args) -> Result<ExitCode, Usage> {
    args.only(&["--snapshot", "--require-downs", "--data"])?;
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
    outln!("load: ok, {}", describe(&dir, &set));

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
