//! The tables a migrated database keeps about its migrations, which are
//! not its schema: the crate's ledger and the app ledgers it keeps. One
//! list, for the loader (a migration may not name them), the validator and
//! the schema dump (they are not part of the schema).

use crate::app_ledger::AppLedger;

/// Name of the ledger table.
pub const LEDGER_TABLE: &str = "_migrate_once_ledger";

/// Whether `table` is a ledger (compared as SQLite compares names, without
/// regard to ASCII case). A migration that touched one could make a report
/// lie: a ledger row deleted, another tool's row forged.
pub(crate) fn is_bookkeeping(table: &str) -> bool {
    table.eq_ignore_ascii_case(LEDGER_TABLE)
        || AppLedger::ALL
            .iter()
            .any(|tool| tool.table().eq_ignore_ascii_case(table))
}
