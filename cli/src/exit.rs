//! The exit statuses of `migrate-once migrate`, in one table: `--help`
//! prints it from here, the command exits with these numbers, and the tests
//! read the numbers back from `--help` (`cli/tests/migrate.rs`), so the
//! text a user reads and the status a script sees cannot drift apart.
//!
//! Why these numbers. 0 for both "up to date" and "applied": a container's
//! entrypoint (`migrate-once migrate && exec app`) and a Kubernetes init
//! container treat anything else as a failed start, and an instance that
//! found the work done by another must start like the one that did it
//! (`--json` tells the two apart). 1 is what a Rust program exits with
//! when it fails, and 2 is the command line, as for every other command.
//! The rest are the cases a deploy script handles differently: 3 (bad input)
//! will fail again until someone changes the set or the database, 4 and 5
//! (in progress, timed out) may pass on a retry.

use std::fmt::Write;
use std::process::ExitCode;

/// One exit status: its number, its name (what `--json` reports as
/// `status`, spaces as underscores), and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub code: u8,
    pub name: &'static str,
    pub meaning: &'static str,
}

impl Status {
    pub fn exit(self) -> ExitCode {
        ExitCode::from(self.code)
    }

    /// The name as `--json` spells it: `up_to_date`, `in_progress`.
    pub fn json_name(self) -> String {
        self.name.replace(' ', "_")
    }
}

pub const UP_TO_DATE: Status = Status {
    code: 0,
    name: "up to date",
    meaning: "nothing was pending (or another process had just applied it)",
};

pub const APPLIED: Status = Status {
    code: 0,
    name: "applied",
    meaning: "the pending migrations were applied, together in one transaction",
};

pub const FAILED: Status = Status {
    code: 1,
    name: "failed",
    meaning: "a migration or the database failed (or a Postgres server did not \
              answer within --connect-timeout); the transaction rolled back, nothing \
              was applied",
};

pub const USAGE: Status = Status {
    code: 2,
    name: "usage",
    meaning: "the command line was not understood",
};

pub const BAD_INPUT: Status = Status {
    code: 3,
    name: "bad input",
    meaning: "refused before anything ran: the set does not load, an applied \
              migration was edited, the database has a version the set lacks \
              (it is ahead), a pending migration is older than the newest \
              applied, an app's ledger disagrees, a statement Postgres cannot run \
              in a transaction, PATH is not a usable file or URL not a Postgres \
              URL",
};

pub const IN_PROGRESS: Status = Status {
    code: 4,
    name: "in progress",
    meaning: "--no-wait: another process holds the migration lock (SQLite's \
              write lock, Postgres's advisory lock): it is migrating; nothing was \
              done",
};

pub const TIMED_OUT: Status = Status {
    code: 5,
    name: "timed out",
    meaning: "another process held the migration lock (on Postgres, or a lock a \
              migration needs) longer than --lock-timeout; nothing was done",
};

/// Every status, in the order `--help` lists them.
pub const TABLE: [Status; 7] = [
    UP_TO_DATE,
    APPLIED,
    FAILED,
    USAGE,
    BAD_INPUT,
    IN_PROGRESS,
    TIMED_OUT,
];

/// The table as `--help` prints it: the number, the name and the meaning,
/// columns two spaces apart, meanings wrapped at 80 columns.
pub fn help_table() -> String {
    const NAME: usize = 12;
    const INDENT: usize = 2 + 1 + 2 + NAME + 2;
    let mut out = String::new();
    for s in TABLE {
        let _ = write!(out, "  {}  {:<NAME$}  ", s.code, s.name);
        let mut col = INDENT;
        for (i, word) in s.meaning.split_whitespace().enumerate() {
            if i > 0 && col + 1 + word.len() > 80 {
                let _ = write!(out, "\n{:INDENT$}", "");
                col = INDENT;
            } else if i > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += word.len();
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_but_the_two_successes_has_a_number_of_its_own() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.name, b.name);
                if a.code == b.code {
                    assert_eq!((a.code, a.name, b.name), (0, "up to date", "applied"));
                }
            }
        }
    }

    #[test]
    fn the_help_table_has_one_row_per_status_and_fits_80_columns() {
        let table = help_table();
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
        let rows: Vec<&str> = table.lines().filter(|l| !l.starts_with("      ")).collect();
        assert_eq!(rows.len(), TABLE.len(), "{table}");
    }
}
