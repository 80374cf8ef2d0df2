//! `migrate-once status DB [DIR]` (or `status --database-url URL [DIR]`):
//! what a database's ledger says, and against a set, what is applied,
//! pending and drifted. The database is opened read-only (a SQLite file
//! with `SQLITE_OPEN_READ_ONLY`, Postgres in a `READ ONLY` transaction):
//! the command never creates or changes it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use migrate_once::{AppLedger, LedgerRow, Migrations, rusqlite};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::args::{self, Args, Usage};
use crate::out::{errln, outln};

pub const HELP: &str = "\
migrate-once status DB [DIR]
migrate-once status --database-url URL [--schema NAME] [DIR]

Prints what the database has applied, by its ledger (_migrate_once_ledger):
version, name, when, and checksum; and the rows of sqlx's or diesel's ledger if
it has one. DB is a SQLite file; --database-url URL a Postgres database (its
current schema, or NAME; DATABASE_URL is not read in its place). With DIR (a
migration set), each version of either is marked, and for SQLite the key and
cache directory of the set's template are printed (see `migrate-once template`):

  applied     in the database, with the SQL the set has now
  drifted     in the database, but the set's SQL was edited since
  pending     in the set, not yet in the database
  unknown     in the database, not in the set (a newer set migrated it, or a
              migration was removed or renumbered)

The database is opened read-only (Postgres: read in a READ ONLY transaction);
nothing is created or changed.

Options:
  --database-url URL   a Postgres database instead of DB (needs a command built
                       with the `postgres` feature)
  --schema NAME        Postgres: read this schema instead of the current one
  -h, --help           this text

Exit status: 0 nothing drifted or unknown (pending is fine); 1 something drifted
or is unknown, or the database cannot be read, or DIR cannot be loaded.
";

/// `status DB [DIR]` or `status --database-url URL [DIR]`.
pub fn run(args: &Args) -> Result<ExitCode, Usage> {
    args.only(&["--database-url", "--schema"])?;
    let url = args::database_url(args)?;
    if url.is_none() && args.value("--schema").is_some() {
        return Err(Usage(
            "--schema is for Postgres (--database-url), not a SQLite file".into(),
        ));
    }
    // The set's directory comes after DB, or first with --database-url.
    let set_at = usize::from(url.is_none());
    let db = match url {
        Some(_) => None,
        None => Some(args.required(0, "the database file (or --database-url URL)")?),
    };
    let set = if args.has_positional(set_at) {
        let dir = args.dir(set_at)?;
        match args::load(&dir) {
            Ok(set) => Some((dir, set)),
            Err(code) => return Ok(code),
        }
    } else {
        args.dir(set_at)?;
        None
    };
    #[cfg(feature = "postgres")]
    if let Some(url) = url {
        let read =
            crate::pg::Url::parse(url, args.value("--schema").map(String::from)).and_then(|url| {
                // Asked by a person or a script that wants an answer
                // now: one attempt, no waiting for a server to come up.
                let mut client = url.connect(std::time::Duration::ZERO)?;
                let state = crate::pg::read_ledgers(&mut client, url.schema.as_deref())?;
                Ok((url, state))
            });
        return Ok(match read {
            Ok((url, Some((rows, apps)))) => report(&url.name(), &rows, &apps, set.as_ref(), false),
            // No such schema: nothing applied.
            Ok((url, None)) => report(&url.name(), &[], &[], set.as_ref(), false),
            Err(e) => {
                errln!("migrate-once: cannot read the database of --database-url: {e}");
                ExitCode::FAILURE
            }
        });
    }
    let db = db.expect("a SQLite file without --database-url");
    match read(&db) {
        Ok((rows, apps)) => Ok(report(
            &db.display().to_string(),
            &rows,
            &apps,
            set.as_ref(),
            true,
        )),
        Err(e) => {
            errln!("migrate-once: cannot read {}: {e}", db.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The crate's ledger and, for each app ledger the database has, its
/// versions.
pub type AppRows = Vec<(AppLedger, Vec<String>)>;

fn read(db: &Path) -> Result<(Vec<LedgerRow>, AppRows), String> {
    if !db.is_file() {
        return Err("no such file".into());
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let rows = migrate_once::ledger(&conn).map_err(|e| format!("{e:?}"))?;
    let apps = app_ledger_versions(&conn).map_err(|e| e.to_string())?;
    Ok((rows, apps))
}

/// For each app ledger the database has (sqlx's, diesel's), the versions it
/// records, as text (diesel's as diesel wrote them), oldest first.
pub fn app_ledger_versions(conn: &Connection) -> rusqlite::Result<AppRows> {
    let mut apps = Vec::new();
    for tool in [AppLedger::Sqlx, AppLedger::Diesel] {
        let exists = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [tool.table()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            let column = match tool {
                AppLedger::Sqlx => "CAST(version AS TEXT)",
                _ => "version",
            };
            let mut stmt = conn.prepare(&format!(
                "SELECT {column} FROM {} ORDER BY version",
                tool.table()
            ))?;
            let versions = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(Iterator::collect)?;
            apps.push((tool, versions));
        }
    }
    Ok(apps)
}

/// Prints the ledgers of the database named `db`, against `set` if given;
/// the template's key only for a SQLite database (`sqlite`), whose tests
/// clone it.
fn report(
    db: &str,
    rows: &[LedgerRow],
    apps: &[(AppLedger, Vec<String>)],
    set: Option<&(PathBuf, Migrations)>,
    sqlite: bool,
) -> ExitCode {
    outln!("{db}: {} migration(s) in its ledger", rows.len());
    let mut problems = 0;
    let state = |row: &LedgerRow| match set.map(|(_, s)| s.get(row.version)) {
        None => "",
        Some(None) => "unknown",
        Some(Some(m)) if m.checksum() != row.checksum => "drifted",
        Some(Some(_)) => "applied",
    };
    if !rows.is_empty() {
        outln!(
            "  {:<16} {:<28} {:<26} {:<14} state",
            "version",
            "name",
            "applied at",
            "checksum"
        );
    }
    for row in rows {
        let s = state(row);
        if s == "unknown" || s == "drifted" {
            problems += 1;
        }
        outln!(
            "  {:<16} {:<28} {:<26} {:<14} {s}",
            row.version,
            row.name,
            row.applied_at,
            &row.checksum[..row.checksum.len().min(12)],
        );
    }
    for (tool, versions) in apps {
        outln!(
            "  {tool}'s ledger ({}): {} version(s): {}",
            tool.table(),
            versions.len(),
            versions.join(", ")
        );
    }
    if let Some((dir, set)) = set {
        let pending: Vec<_> = set
            .iter()
            .filter(|m| {
                rows.binary_search_by_key(&m.version(), |r| r.version)
                    .is_err()
            })
            .collect();
        outln!(
            "against {} ({} migrations, set {}): {} pending, {} drifted or unknown",
            dir.display(),
            set.len(),
            &set.hash()[..12],
            pending.len(),
            problems
        );
        for m in pending {
            outln!("  {:<16} {:<28} pending", m.version(), m.name());
        }
    }
    if let Some((_, set)) = set.filter(|_| sqlite) {
        outln!("the set's template (what `migrate-once template` builds and tests clone):");
        let key = crate::key::print(set);
        let dir = key.dir();
        outln!(
            "  cache:   {} ({})",
            dir.display(),
            if dir.is_dir() {
                "there"
            } else {
                "not built yet"
            }
        );
    }
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
