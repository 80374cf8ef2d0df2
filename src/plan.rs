//! Deciding, from what a database's ledgers record, what a run adopts and
//! what it applies: the same rules for every backend, with no database in
//! sight (the backend reads the ledgers and runs the plan).

use crate::app_ledger::{AppLedger, Recorded};
use crate::error::{AppLedgerProblem, Error, Result};
use crate::ledger::LedgerRow;
use crate::migrations::{Migration, Migrations, hex};

/// What one locked run does.
pub(crate) struct Plan<'a> {
    /// Pending migrations another tool's migrator applied: recorded, not run.
    pub adopt: Vec<(&'a Migration, AppLedger)>,
    /// Pending migrations to run, in order.
    pub run: Vec<&'a Migration>,
}

/// The plan for `set` on a database whose ledger holds `rows` (by version)
/// and whose app ledgers hold `apps` (each tool whose table exists, with
/// its rows by version); `database` names it in errors.
///
/// # Errors
///
/// [`Error::UnknownVersion`] and [`Error::ChecksumMismatch`] for a ledger
/// row the set does not match, [`Error::AppLedgerMismatch`] for an app
/// ledger row it does not match (a checksum is compared only for a version
/// still pending: the crate's own ledger judges the rest),
/// [`Error::OutOfOrder`] for a pending version older than the newest applied
/// one, unless `out_of_order`.
pub(crate) fn plan<'a>(
    set: &'a Migrations,
    rows: &[LedgerRow],
    apps: &[(AppLedger, Vec<Recorded>)],
    out_of_order: bool,
    database: &std::path::Path,
) -> Result<Plan<'a>> {
    let database = || Some(database.to_path_buf());
    for row in rows {
        match set.get(row.version) {
            None => {
                return Err(Error::UnknownVersion {
                    version: row.version,
                    name: row.name.clone(),
                    database: database(),
                });
            }
            Some(m) if m.checksum() != row.checksum => {
                return Err(Error::ChecksumMismatch {
                    version: m.version(),
                    name: m.name().to_string(),
                    origin: m.origin().clone(),
                    database: database(),
                    applied: row.checksum.clone(),
                    current: m.checksum().to_string(),
                });
            }
            Some(_) => {}
        }
    }
    let pending: Vec<&Migration> = set
        .iter()
        .filter(|m| {
            rows.binary_search_by_key(&m.version(), |r| r.version)
                .is_err()
        })
        .collect();
    for (tool, theirs) in apps {
        let mismatch = |version, problem| Error::AppLedgerMismatch {
            tool: *tool,
            version,
            database: database(),
            problem,
        };
        for r in theirs {
            let Some(m) = set.get(r.version) else {
                return Err(mismatch(r.version, AppLedgerProblem::UnknownVersion));
            };
            if !r.success {
                return Err(mismatch(r.version, AppLedgerProblem::Failed));
            }
            let is_pending = pending.iter().any(|p| p.version() == r.version);
            if let Some(recorded) = &r.checksum
                && is_pending
            {
                let current = m.sqlx_checksum();
                if *recorded != current {
                    return Err(mismatch(
                        r.version,
                        AppLedgerProblem::ChecksumMismatch {
                            origin: m.origin().clone(),
                            recorded: hex(recorded),
                            current: hex(&current),
                        },
                    ));
                }
            }
        }
    }
    let recorded_by = |version: i64| {
        apps.iter()
            .find_map(|(tool, theirs)| theirs.iter().any(|r| r.version == version).then_some(*tool))
    };
    let mut adopt = Vec::new();
    let mut run = Vec::new();
    for m in pending {
        match recorded_by(m.version()) {
            Some(tool) => adopt.push((m, tool)),
            None => run.push(m),
        }
    }
    let newest_applied = rows
        .last()
        .map(|r| r.version)
        .max(adopt.last().map(|(m, _)| m.version()));
    if let (Some(newest), false) = (newest_applied, out_of_order)
        && let Some(m) = run.iter().find(|m| m.version() < newest)
    {
        return Err(Error::OutOfOrder {
            version: m.version(),
            name: m.name().to_string(),
            origin: m.origin().clone(),
            database: database(),
            newest_applied: newest,
        });
    }
    Ok(Plan { adopt, run })
}
