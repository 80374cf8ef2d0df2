//! The migrated schema as a file kept in the repository, so that a schema
//! change is reviewed as a schema, and a test fails when it drifts.
//!
//! Migrations are reviewed one file at a time; what they add up to is
//! not, and an `ALTER TABLE` three files back is easy to miss. The dump
//! here is the schema itself, one statement per object, grouped by table
//! and sorted, its SQL [normalized](crate::sqlite::normalize) and a table's columns
//! one per line, so that a pull request that adds a column shows one added
//! line. It is made from the template the set is migrated into anyway, so
//! it costs one read of `sqlite_master`.
//!
//! The dump depends on the schema only: not on the SQLite version (the
//! normalization is the crate's own, and the text SQLite keeps after an
//! `ALTER TABLE` is normalized away), not on line endings (of the
//! migrations or of the snapshot file, which a checkout may convert), and
//! not on the bookkeeping tables a set keeps.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::sqlite::normalize::{Kind, Token, render, tokens};

// Defined beside the errors that name it, which must not depend on this
// module; documented there.
pub use crate::error::UPDATE_SNAPSHOTS_ENV;

/// The first lines of every dump.
const HEADER: &str = "-- Schema snapshot written by migrate-once: the migrated schema, objects sorted, SQL normalized.\n\
                      -- To accept a change, run the tests again with MIGRATE_ONCE_UPDATE_SNAPSHOTS=1.\n";

/// What [`check_schema_snapshot`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotOutcome {
    /// The file matches the migrated schema.
    Matched,
    /// There was no file; it was written ([`UPDATE_SNAPSHOTS_ENV`] set).
    Written,
    /// The file differed; it was rewritten ([`UPDATE_SNAPSHOTS_ENV`] set).
    Updated,
}

/// The schema `set` migrates a database to, as the canonical text
/// [`assert_schema_snapshot`] compares: objects grouped by table and sorted
/// (a table, then its indexes, then its triggers), one normalized statement
/// per object, a table's columns one per line. Bookkeeping tables are left
/// out.
///
/// The set is migrated into its [`Template`](crate::Template), as for a
/// [`TestDb`](crate::TestDb): with the connection hook of the first caller
/// in the process. For migrations that call functions a hook registers,
/// dump a database migrated with the hook, with [`schema_dump_of`].
///
/// ```
/// use migrate_once::{Migration, Migrations, schema_dump};
///
/// let set = Migrations::new(vec![
///     Migration::new(1, "users", "create table \"users\" (id integer primary key,\n\n  [email]   text not null);"),
///     Migration::new(2, "index", "CREATE INDEX users_by_email ON users (email) -- lookups\n;"),
/// ])?;
/// let dump = schema_dump(&set)?;
/// assert!(dump.ends_with(
///     "\nCREATE TABLE users (\n    id integer primary key,\n    email text not null\n);\n\
///      CREATE INDEX users_by_email ON users(email);\n"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The error migrating the set gives (it is migrated into its
/// [`Template`](crate::Template), or read from the cached one);
/// [`Error::Database`] if SQLite fails reading it.
pub fn schema_dump(set: &Migrations) -> Result<String> {
    let template = crate::Template::for_set(set)?;
    let conn = crate::sqlite::memdb::private_copy(template.bytes()?)
        .map_err(Error::db("read the template", Some(template.path())))?;
    schema_dump_of(&conn)
}

/// The canonical text of the schema of `conn`'s main database, as
/// [`schema_dump`] gives it for a migration set: for a database migrated
/// some other way (a hook, another tool), or an application's real one.
///
/// ```
/// let conn = rusqlite::Connection::open_in_memory()?;
/// conn.execute_batch("CREATE TABLE t(a INT, b TEXT); CREATE VIEW v AS SELECT a FROM t;")?;
/// let dump = migrate_once::schema_dump_of(&conn)?;
/// assert!(dump.ends_with("\nCREATE TABLE t (\n    a INT,\n    b TEXT\n);\n\nCREATE VIEW v AS SELECT a FROM t;\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Database`] if `sqlite_master` cannot be read.
pub fn schema_dump_of(conn: &Connection) -> Result<String> {
    let read = || -> rusqlite::Result<Vec<(String, String, String, String)>> {
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, sql FROM main.sqlite_master
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND sql IS NOT NULL",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect()
    };
    let rows = read().map_err(|e| {
        Error::db(
            "read sqlite_master",
            crate::sqlite::identity::file_of(conn).as_deref(),
        )(e)
    })?;
    // Grouped by the table (or view) each object belongs to (lower case
    // first, so that the order does not depend on case), each object as
    // (rank: the table first, then indexes, then triggers; name; statement).
    type Group = Vec<(u8, String, String)>;
    let mut groups: std::collections::BTreeMap<(String, String), Group> =
        std::collections::BTreeMap::new();
    for (kind, name, table, sql) in rows {
        if crate::sqlite::validate::is_bookkeeping(&table) {
            continue;
        }
        let rank = match kind.as_str() {
            "table" | "view" => 0,
            "index" => 1,
            _ => 2,
        };
        let statement = match kind.as_str() {
            "table" => pretty_table(&tokens(&sql)),
            "trigger" => pretty_trigger(&tokens(&sql)),
            _ => format!("{};", render(&tokens(&sql))),
        };
        groups
            .entry((table.to_lowercase(), table))
            .or_default()
            .push((rank, name.to_lowercase(), statement));
    }
    let mut out = String::from(HEADER);
    for objects in groups.values_mut() {
        objects.sort();
        out.push('\n');
        for (_, _, statement) in objects.iter() {
            out.push_str(statement);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Splits `tokens` at the `sep` punctuation outside parentheses.
fn split_top<'t>(tokens: &'t [Token], sep: &str) -> Vec<&'t [Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, t) in tokens.iter().enumerate() {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
        } else if depth == 0 && t.is(sep) {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts
}

/// `CREATE TABLE name (` with one column or constraint per line, or the
/// statement on one line if it has no column list (`AS SELECT`, virtual).
fn pretty_table(t: &[Token]) -> String {
    let open = t.iter().position(|x| x.is("("));
    // Only a column list right after the name: CREATE TABLE [IF NOT EXISTS] [schema.]name (
    let list = open.filter(|&o| {
        o >= 3
            && t[0].is_word("CREATE")
            && t[1].is_word("TABLE")
            && t[..o]
                .iter()
                .all(|x| matches!(x.kind, Kind::Word | Kind::Quoted) || x.is("."))
    });
    let Some(open) = list else {
        return format!("{};", render(t));
    };
    let mut depth = 0usize;
    let close = t[open..].iter().position(|x| {
        if x.is("(") {
            depth += 1;
        } else if x.is(")") {
            depth -= 1;
        }
        depth == 0
    });
    let Some(close) = close.map(|c| open + c) else {
        return format!("{};", render(t));
    };
    let mut out = format!("{} (\n", render(&t[..open]));
    let parts = split_top(&t[open + 1..close], ",");
    for (i, part) in parts.iter().enumerate() {
        out.push_str("    ");
        out.push_str(&render(part));
        out.push_str(if i + 1 < parts.len() { ",\n" } else { "\n" });
    }
    out.push(')');
    if close + 1 < t.len() {
        out.push(' ');
        out.push_str(&render(&t[close + 1..]));
    }
    out.push(';');
    out
}

/// `CREATE TRIGGER ... BEGIN`, then each statement of the body on a line
/// of its own, then `END;`.
fn pretty_trigger(t: &[Token]) -> String {
    let begin = t.iter().position(|x| x.is_word("BEGIN"));
    let (Some(begin), Some(last)) = (begin, t.last()) else {
        return format!("{};", render(t));
    };
    if !last.is_word("END") {
        return format!("{};", render(t));
    }
    let mut out = format!("{}\nBEGIN\n", render(&t[..begin]));
    for statement in split_top(&t[begin + 1..t.len() - 1], ";") {
        out.push_str("    ");
        out.push_str(&render(statement));
        out.push_str(";\n");
    }
    out.push_str("END;");
    out
}

/// Whether the environment asks for snapshots to be written.
fn update_requested() -> bool {
    std::env::var_os(UPDATE_SNAPSHOTS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `path`, or, if it is relative, `path` under the package the tests run
/// for (`CARGO_MANIFEST_DIR` at run time, which cargo and cargo-nextest
/// set), or under the working directory without it.
fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| path.to_path_buf(), |root| PathBuf::from(root).join(path))
}

/// Compares `dump` with the snapshot at `path`, or writes it there if
/// `update`.
pub(crate) fn compare_or_write(dump: &str, path: &Path, update: bool) -> Result<SnapshotOutcome> {
    let existing = match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            Some(text.replace("\r\n", "\n"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(path)(e)),
    };
    match (existing, update) {
        (Some(text), _) if text == dump => Ok(SnapshotOutcome::Matched),
        (None, false) => Err(Error::SnapshotMissing {
            path: path.to_path_buf(),
        }),
        (Some(text), false) => Err(Error::SnapshotMismatch {
            path: path.to_path_buf(),
            diff: unified_diff(
                &text,
                dump,
                &path.display().to_string(),
                "the migrated schema",
            ),
        }),
        (previous, true) => {
            write_atomically(path, dump)?;
            eprintln!("migrate-once: wrote the schema snapshot {}", path.display());
            Ok(if previous.is_some() {
                SnapshotOutcome::Updated
            } else {
                SnapshotOutcome::Written
            })
        }
    }
}

/// Writes `text` to `path` through a temporary file beside it, so that a
/// reader (another test process) sees the old file or the new, never half.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path)(e)
    })
}

/// Compares the schema `set` migrates to with the snapshot file at `path`,
/// without panicking; see [`assert_schema_snapshot`].
///
/// ```
/// use migrate_once::{Migrations, SnapshotOutcome, check_schema_snapshot};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let outcome = check_schema_snapshot(&set, "tests/fixtures/snapshots/migrations.sql")?;
/// assert_ne!(outcome, SnapshotOutcome::Updated);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::SnapshotMismatch`] with a unified diff from the file to the
/// migrated schema, [`Error::SnapshotMissing`] if there is no file (neither
/// when [`UPDATE_SNAPSHOTS_ENV`] is set: the file is written then);
/// [`Error::Io`] if the file cannot be read or written; any error of
/// migrating the set.
pub fn check_schema_snapshot(set: &Migrations, path: impl AsRef<Path>) -> Result<SnapshotOutcome> {
    check_dump(&schema_dump(set)?, path.as_ref())
}

/// [`check_schema_snapshot`] for a dump made some other way (a template
/// function's).
pub(crate) fn check_dump(dump: &str, path: &Path) -> Result<SnapshotOutcome> {
    compare_or_write(dump, &resolve(path), update_requested())
}

/// Asserts that the schema `set` migrates to is the one in the snapshot
/// file at `path` (see [`schema_dump`] for its form); a mismatch fails the
/// test with a unified diff from the file to the migrated schema.
///
/// Keep the file in the repository, next to the tests. With
/// `MIGRATE_ONCE_UPDATE_SNAPSHOTS=1` ([`UPDATE_SNAPSHOTS_ENV`]) in the
/// environment the file is written instead (created if missing), and the
/// change is reviewed in the diff of the commit, as with insta's
/// `INSTA_UPDATE`. A relative `path` is taken from the directory of the
/// package under test (`CARGO_MANIFEST_DIR`, which cargo and cargo-nextest
/// set when they run tests). The file's line endings do not matter.
///
/// ```
/// use migrate_once::{Migrations, assert_schema_snapshot};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// assert_schema_snapshot(&set, "tests/fixtures/snapshots/migrations.sql");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
///
/// If the schema differs from the file, the file does not exist (and
/// updating was not asked for), or the set cannot be migrated.
#[track_caller]
pub fn assert_schema_snapshot(set: &Migrations, path: impl AsRef<Path>) -> SnapshotOutcome {
    match check_schema_snapshot(set, path) {
        Ok(outcome) => outcome,
        Err(e) => panic!("{e:?}"),
    }
}

/// One line of a diff.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// The lines of `a` and `b` as a list of operations: a longest common
/// subsequence of the middle (common start and end trimmed first). A
/// middle too large for the table is shown as removed, then added.
fn line_ops<'s>(a: &[&'s str], b: &[&'s str]) -> Vec<(Op, &'s str)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<(Op, &str)> = a[..pre].iter().map(|l| (Op::Same, *l)).collect();
    if am.len().saturating_mul(bm.len()) > 16_000_000 {
        ops.extend(am.iter().map(|l| (Op::Removed, *l)));
        ops.extend(bm.iter().map(|l| (Op::Added, *l)));
    } else {
        // lcs[i][j]: length of the LCS of am[i..] and bm[j..].
        let w = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * w];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * w + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                ops.push((Op::Same, am[i]));
                i += 1;
                j += 1;
            } else if i < am.len() && (j == bm.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
            {
                // On a tie the old line goes first, as diff(1) shows it.
                ops.push((Op::Removed, am[i]));
                i += 1;
            } else {
                ops.push((Op::Added, bm[j]));
                j += 1;
            }
        }
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (Op::Same, *l)));
    ops
}

/// A unified diff (three lines of context) from `old` to `new`.
pub(crate) fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = line_ops(&a, &b);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].0 != Op::Same).collect();
    if changed.is_empty() {
        out.push_str("(the texts differ only in their final line break)\n");
        return out;
    }
    // Hunks: runs of changes closer than twice the context, with context.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        let start = i.saturating_sub(CONTEXT);
        let end = (i + CONTEXT + 1).min(ops.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    for (start, end) in hunks {
        // Line numbers (1-based) where the hunk starts in each text.
        let before = &ops[..start];
        let a_start = before.iter().filter(|o| o.0 != Op::Added).count();
        let b_start = before.iter().filter(|o| o.0 != Op::Removed).count();
        let body = &ops[start..end];
        let a_len = body.iter().filter(|o| o.0 != Op::Added).count();
        let b_len = body.iter().filter(|o| o.0 != Op::Removed).count();
        let at = |first: usize, len: usize| if len == 0 { first } else { first + 1 };
        out.push_str(&format!(
            "@@ -{},{a_len} +{},{b_len} @@\n",
            at(a_start, a_len),
            at(b_start, b_len)
        ));
        for (op, line) in body {
            let mark = match op {
                Op::Same => ' ',
                Op::Removed => '-',
                Op::Added => '+',
            };
            out.push(mark);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unified_diff_shows_changed_lines_with_three_lines_of_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
        assert_eq!(
            unified_diff(old, new, "old", "new"),
            "--- old\n+++ new\n@@ -2,7 +2,8 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n+i\n"
        );
        assert_eq!(
            unified_diff("x\n", "y\n", "old", "new"),
            "--- old\n+++ new\n@@ -1,1 +1,1 @@\n-x\n+y\n"
        );
        assert_eq!(
            unified_diff("", "y\n", "old", "new"),
            "--- old\n+++ new\n@@ -0,0 +1,1 @@\n+y\n"
        );
    }

    #[test]
    fn tables_list_one_column_per_line_and_triggers_one_statement_per_line() {
        assert_eq!(
            pretty_table(&tokens(
                "CREATE TABLE \"t\" (a INT, b TEXT CHECK (b IN ('x', 'y')), PRIMARY KEY (a, b)) WITHOUT ROWID"
            )),
            "CREATE TABLE t (\n    a INT,\n    b TEXT CHECK (b IN ('x', 'y')),\n    PRIMARY KEY (a, b)\n) WITHOUT ROWID;"
        );
        assert_eq!(
            pretty_table(&tokens("CREATE TABLE t AS SELECT 1 AS x")),
            "CREATE TABLE t AS SELECT 1 AS x;"
        );
        assert_eq!(
            pretty_trigger(&tokens(
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END"
            )),
            "CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n    UPDATE t SET a = CASE WHEN 1 THEN 2 END;\n    DELETE FROM u;\nEND;"
        );
    }
}
