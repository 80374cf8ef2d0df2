//! The `migrate-once` command: hammer a migration set the way parallel test
//! suites do (`stress`), check it (`check`), warm its template cache
//! (`template`), read what a database has applied (`status`), and migrate
//! a database at start-up, exactly once however many processes run it
//! (`migrate`). SQLite by default; Postgres with `--database-url` when
//! built with the `postgres` feature (`pg.rs`, `stress_pg.rs`).
//!
//! Exit status: 0 when all is well, 1 when the command ran and found a
//! problem (or could not do its job: a missing directory, a broken set, a
//! failed operation), 2 for a command line it does not understand.
//! `migrate` has a few more, for deploy scripts: see `exit.rs`.
//!
//! Everything is printed through the `out` module's macros, never
//! `println!`, which panics when a pipe reader such as `head` went away.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod check;
mod exit;
mod json;
mod key;
mod migrate;
mod out;
#[cfg(feature = "postgres")]
mod pg;
mod progress;
mod status;
mod stress;

use std::process::ExitCode;

use crate::out::{err, errln, out, outln};
use args::{Args, Usage};

const HELP: &str = "\
migrate-once: migration sets for parallel test suites, and for start-up; SQLite,
and Postgres with --database-url (a build with the `postgres` feature)

Usage: migrate-once <command> [options]

Commands:
  stress [DIR]       hammer the set in DIR with threads, racing processes and SIGKILL;
                     exit 1 on any error or miscount. --database-url URL (or
                     --postgres, a throwaway server): on Postgres
  check [DIR]        load the set, apply it, check that every down undoes its up and,
                     with --snapshot FILE, that the schema is the one in FILE; for CI.
                     --database-url URL (or --postgres): apply it to a temporary
                     Postgres database and validate it
  template [DIR]     build the set's template into the cache directory (or find it
                     there) and print its key and path (SQLite)
  status DB [DIR]    what the database DB has applied; with DIR, against that set:
                     applied, pending, drifted. status --database-url URL [DIR]: a
                     Postgres database's
  migrate [DIR] --database PATH | --database-url URL
                     apply what the database has not applied yet, exactly once
                     however many processes run it at once (a container's
                     entrypoint, an init container); --no-wait, --dry-run, --json
  help [COMMAND]     this text, or a command's

DIR defaults to `migrations` in the current directory, in any layout the crate
loads (0001_name.sql, .up.sql/.down.sql, diesel's directories).

Exit status: 0 all is well; 1 a problem was found or the command could not run
(a missing directory, a broken set, an error); 2 the command line was not
understood. `migrate` tells more cases apart: see `migrate-once migrate --help`.

Environment: MIGRATE_ONCE_CACHE_DIR (where templates are cached, default
$TMPDIR/migrate-once-UID, yours alone), MIGRATE_ONCE_DIR (where test databases
go, default /dev/shm/migrate-once-UID where there is a /dev/shm). DATABASE_URL
is not read: a command that should use it says --database-url \"$DATABASE_URL\".
";

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // The stress run re-runs this binary as its racing and killed children.
    if raw.first().map(String::as_str) == Some(stress::CHILD) {
        return stress::child(&raw[1..]);
    }
    let Some((command, rest)) = raw.split_first() else {
        err!("{HELP}");
        return exit::USAGE.exit();
    };
    let result = match command.as_str() {
        "stress" => Args::parse(rest, stress::HELP).and_then(|a| stress::run(&a)),
        "check" => Args::parse(rest, check::HELP).and_then(|a| check::run(&a)),
        "template" => Args::parse(rest, TEMPLATE_HELP).and_then(|a| template(&a)),
        "status" => Args::parse(rest, status::HELP).and_then(|a| status::run(&a)),
        "migrate" => Args::parse(rest, &migrate::help()).and_then(|a| migrate::run(&a)),
        "help" | "-h" | "--help" => {
            let migrate_help;
            let text = match rest.first().map(String::as_str) {
                None => HELP,
                Some("stress") => stress::HELP,
                Some("check") => check::HELP,
                Some("template") => TEMPLATE_HELP,
                Some("status") => status::HELP,
                Some("migrate") => {
                    migrate_help = migrate::help();
                    &migrate_help
                }
                Some(other) => {
                    return usage(&Usage(format!(
                        "no command `{other}`; see `migrate-once help`"
                    )));
                }
            };
            out!("{text}");
            return ExitCode::SUCCESS;
        }
        "-V" | "--version" => {
            outln!("migrate-once {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        other => Err(Usage(format!(
            "no command `{other}`; see `migrate-once help`"
        ))),
    };
    match result {
        Ok(code) => code,
        Err(u) => usage(&u),
    }
}

fn usage(u: &Usage) -> ExitCode {
    if u.0.is_empty() {
        // --help: the command's text was printed already.
        return ExitCode::SUCCESS;
    }
    errln!("migrate-once: {}", u.0);
    exit::USAGE.exit()
}

const TEMPLATE_HELP: &str = "\
migrate-once template [DIR]

Builds the template of the migration set in DIR (default: `migrations`) into the
template cache, or finds it there, and prints its key, what the key is made of,
and its path. A CI job runs it before the test step and saves
MIGRATE_ONCE_CACHE_DIR with its cache action, so that test processes clone the
template instead of migrating. The key is a hash of the set, the SQLite version
and migrate-once's version and source: tests use the template this command
builds only if they link the same SQLite and the same migrate-once, so build the
command from the same Cargo.lock as the tests (`cargo run --release -p
migrate-once-cli` in the same workspace, or `cargo install --locked`), and key
the CI cache on the migrations and Cargo.lock. A restored copy is checked by
the bytes it holds, not by file times or places.

Options:
  -h, --help   this text

Exit status: 0 the template is in the cache; 1 the set cannot be loaded or
migrated, or the cache cannot be written.
";

/// `template [DIR]`.
fn template(args: &Args) -> Result<ExitCode, Usage> {
    args.no_options()?;
    let dir = args.dir(0)?;
    let set = match args::load(&dir) {
        Ok(set) => set,
        Err(code) => return Ok(code),
    };
    match migrate_once::Template::for_set(&set) {
        Ok(t) => {
            outln!(
                "template of {} ({} migrations, set {})",
                dir.display(),
                set.len(),
                &set.hash()[..12]
            );
            let key = key::print(&set);
            outln!("  path:    {}", t.path().display());
            outln!("  size:    {} bytes", t.size());
            if t.built_by_this_process() {
                outln!("built key {} by this run", key.key);
            } else {
                outln!("found key {} in the cache", key.key);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            errln!(
                "migrate-once: cannot build the template of {}: {e:?}",
                dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
