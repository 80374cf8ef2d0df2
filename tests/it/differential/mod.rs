//! Differential property tests: the splitter, the migrator, the loader and
//! the normalizer against SQLite itself, on inputs generated from a grammar
//! of hostile SQL and directories (`grammar.rs`), checked by SQLite's own
//! answers (`oracle.rs`, `loading.rs`, shared with the fuzz targets in
//! `fuzz/`).
//!
//! Each property runs a fixed number of cases per `cargo test` (8,500 in
//! all, about 25 s side by side, debug build, 2 cores); `PROPTEST_CASES=<n>`
//! runs `n` of each instead, for a longer run. A failure is shrunk and its
//! seed kept in `tests/proptest-regressions/differential/mod.txt`
//! (committed: proptest replays it first on every run), and gets a
//! regression test of its own below.

mod grammar;
mod loading;
mod oracle;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use migrate_once::rusqlite::Connection;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};

/// `ci` cases, or `PROPTEST_CASES` if it is set; failures kept in
/// `tests/proptest-regressions/differential/mod.txt` and replayed first.
fn config(ci: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci);
    ProptestConfig {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Runs `check` on `ci` generated cases (see [`config`]), failing on the
/// first divergence (shrunk); counts what the cases were, by the label
/// `check` returns, and prints the counts.
fn run<S: Strategy>(
    name: &str,
    ci: u32,
    strategy: S,
    check: impl Fn(&S::Value) -> Result<&'static str, String>,
) -> BTreeMap<&'static str, usize> {
    let counts = RefCell::new(BTreeMap::new());
    let started = Instant::now();
    let mut runner = TestRunner::new(config(ci));
    let result = runner.run(&strategy, |value| {
        let label = check(&value).map_err(TestCaseError::fail)?;
        *counts.borrow_mut().entry(label).or_insert(0) += 1;
        Ok(())
    });
    let counts = counts.into_inner();
    eprintln!(
        "{name}: {} cases in {:.1?}, {}: {counts:?}",
        counts.values().sum::<usize>(),
        started.elapsed(),
        if result.is_ok() {
            "0 divergences"
        } else {
            "then a divergence"
        }
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    counts
}

thread_local! {
    /// A connection for prepare-only checks (what lies between statements).
    static CONN: Connection = Connection::open_in_memory().expect("open");
}

fn split_holds(sql: &str) -> Result<(), String> {
    CONN.with(|conn| oracle::check_split(conn, sql))
}

/// Each statement the splitter returns is complete by `sqlite3_complete`,
/// no shorter prefix ending at a `;` is, and what lies between them is no
/// statement to SQLite.
#[test]
fn the_splitter_agrees_with_sqlite3_complete() {
    run("splitter", 3000, grammar::soup(), |sql| {
        split_holds(sql)?;
        Ok(if sql.len() > 10_000 { "long" } else { "short" })
    });
}

/// A generated migration applied by the migrator, statement by statement,
/// ends as SQLite's own `sqlite3_prepare_v2` tail loop ends (applied, or
/// failed at the same statement) and leaves the same database.
#[test]
fn a_migration_applies_as_sqlites_own_tail_loop_runs_it() {
    let counts = run("apply", 2000, grammar::migration(), |sql| {
        split_holds(sql)?;
        Ok(match oracle::check_apply(sql)? {
            oracle::Checked::Applied => "applied",
            oracle::Checked::FailedAt(_) => "failed at a statement",
            oracle::Checked::Refused(_) => "refused when loaded",
        })
    });
    // Not a vacuous property: both outcomes are well represented.
    if std::env::var_os("PROPTEST_CASES").is_none() {
        assert!(
            counts.get("applied").copied().unwrap_or(0) > 50,
            "{counts:?}"
        );
        assert!(
            counts.get("failed at a statement").copied().unwrap_or(0) > 100,
            "{counts:?}"
        );
    }
}

/// A generated directory gives the same answer through `from_dir` and
/// `embed_migrations!`: the same set, or the same error naming the same
/// entry.
#[test]
fn a_directory_loads_the_same_from_disk_and_embedded() {
    let counts = run("loading", 1500, grammar::directory(), |specs| {
        let (from_dir, embedded) = loading::load_both(specs);
        if from_dir != embedded {
            return Err(format!("from_dir:\n{from_dir}\nembedded:\n{embedded}"));
        }
        loading::check_not_utf8(specs)?;
        Ok(if from_dir.starts_with("error") {
            "refused"
        } else {
            "loaded"
        })
    });
    if std::env::var_os("PROPTEST_CASES").is_none() {
        assert!(
            counts.get("loaded").copied().unwrap_or(0) > 100,
            "{counts:?}"
        );
    }
}

/// Two spellings of one schema that the normalizer finds equal are stored
/// alike by SQLite.
#[test]
fn texts_the_normalizer_finds_equal_are_equal_schemas_to_sqlite() {
    let counts = run("normalizer", 2000, grammar::schema_pair(), |(a, b)| {
        Ok(match oracle::check_normalized_pair(a, b)? {
            oracle::Pair::Equal => "equal keys, equal schemas",
            oracle::Pair::Different => "other keys",
            oracle::Pair::Refused => "equal keys, refused by SQLite",
        })
    });
    if std::env::var_os("PROPTEST_CASES").is_none() {
        let equal = counts.get("equal keys, equal schemas").copied();
        assert!(equal.unwrap_or(0) > 150, "{counts:?}");
    }
}

// ---------------------------------------------------------------------------
// The findings, shrunk: each input a divergence once, a test of its own now
// (they are in `proptest-regressions/` too, replayed before new cases).
// ---------------------------------------------------------------------------

const TABLES: &str = "CREATE TABLE log(k, v); CREATE TABLE t(a, b);\n";

/// `/*` as a migration's last two bytes: SQLite's tokenizer reads `/` and
/// `*`, a syntax error, where `sqlite3_complete` (and the splitter, before)
/// read an unterminated comment; the migrator applied what SQLite refuses.
#[test]
fn a_comment_opener_ending_the_migration_fails_at_the_statement_sqlite_fails_at() {
    let sql = format!("{TABLES}CREATE TABLE IF NOT EXISTS t(a, b);/*");
    split_holds(&sql).unwrap();
    assert_eq!(oracle::check_apply(&sql), Ok(oracle::Checked::FailedAt(4)));
}

/// A vertical tab after whitespace continues the whitespace to SQLite's
/// tokenizer, and a byte-order mark where a token starts is whitespace to
/// it: the migrator failed on `\n\x0b;` and `\u{feff};` between two
/// statements (an unrecognized token, a syntax error) where SQLite runs on.
#[test]
fn a_vertical_tab_after_whitespace_and_a_bom_between_statements_are_blank_as_to_sqlite() {
    // The third: a line comment's newline, then a vertical tab (found by a
    // run of 50,000 cases).
    for blank in [
        "\n\x0b",
        "\u{feff}",
        "-- \n\x0b",
        "\r\n\x0b\x0b",
        " \u{feff}\u{feff}",
    ] {
        let sql = format!("{TABLES}{blank};CREATE TABLE IF NOT EXISTS t(a, b);");
        split_holds(&sql).unwrap();
        assert_eq!(
            oracle::check_apply(&sql),
            Ok(oracle::Checked::Applied),
            "{blank:?}"
        );
    }
    // Where a token starts, a vertical tab is an unrecognized token to both.
    let sql = "CREATE TABLE t(a, b);\x0b;CREATE TABLE IF NOT EXISTS t(a, b);";
    assert_eq!(oracle::check_apply(sql), Ok(oracle::Checked::FailedAt(2)));
}

/// Pairs the normalizer found equal (the same key) that SQLite stores as
/// different schemas: both are accepted by SQLite and differ, and now the
/// keys differ too.
#[test]
fn texts_sqlite_stores_differently_have_different_keys() {
    for (why, a, b) in [
        (
            "a lone CR in a literal was read as LF",
            "CREATE TABLE d(a DEFAULT 'a\rb')",
            "CREATE TABLE d(a DEFAULT 'a\nb')",
        ),
        (
            "case beyond ASCII was folded (SQLite folds ASCII only)",
            "CREATE TABLE d(\"É\" INT)",
            "CREATE TABLE d(\"é\" INT)",
        ),
        (
            "a keyword in quotes was read as the keyword",
            "CREATE TABLE d(x \"NOT\" NULL)",
            "CREATE TABLE d(x NOT NULL)",
        ),
        (
            "a bare word after DEFAULT (a string) had its case folded",
            "CREATE TABLE d(a DEFAULT abc)",
            "CREATE TABLE d(a DEFAULT ABC)",
        ),
        (
            "a double-quoted default was read as the keyword NULL",
            "CREATE TABLE d(a DEFAULT \"NULL\")",
            "CREATE TABLE d(a DEFAULT NULL)",
        ),
        (
            "a comment inside a type that starts with a quote was dropped: SQLite stores \
             the type from the quote to its last word, comments included (normalize fuzz target)",
            "CREATE TABLE \"T\"(Bb [s\u{1}\u{4},--V@+@\u{5}2] REA)",
            "CREATE /* c */\nTABLE /* c */\n\"T\"(Bb /* c */\n[s\u{1}\u{4},--V@+@\u{5}2] /* c */\nREA)",
        ),
    ] {
        let (sa, sb) = (oracle::stored_schema(a), oracle::stored_schema(b));
        assert!(sa.is_ok() && sb.is_ok(), "{why}: SQLite accepts both");
        assert_ne!(sa, sb, "{why}: SQLite stores them differently");
        assert_eq!(
            oracle::check_normalized_pair(a, b),
            Ok(oracle::Pair::Different),
            "{why}"
        );
    }
}

/// An editor's backup beside the migrations: `from_dir` refused the
/// directory and the embedded set ignored the backup. One rule now: a name
/// that starts with a version and holds `.sql` without ending in it is
/// refused both ways (it may be the only copy of a migration); one that
/// does not start with a version (`#0002_b.sql#`) or starts with `.` is
/// ignored both ways. And of two bad entries, both ways name the first by
/// name, not the first the file system happens to list.
#[test]
fn an_editor_backup_gives_the_same_answer_from_disk_and_embedded() {
    use loading::Spec;
    let ok = || Spec::File("0001_a.sql".into(), b"CREATE TABLE a(x);".to_vec());
    let backup = |name: &str| Spec::File(name.into(), b"CREATE TABLE b(x);".to_vec());
    for name in [
        "0002_b.sql~",
        "0002_b.sql.bak",
        "0002_b.sql.orig",
        "0002_b.SQL.swp",
    ] {
        let (from_dir, embedded) = loading::load_both(&[ok(), backup(name)]);
        assert_eq!(from_dir, embedded, "{name}");
        assert!(
            from_dir.starts_with(&format!(
                "error {name} cannot be a migration: it looks like"
            )),
            "{name}: {from_dir}"
        );
    }
    for name in ["#0002_b.sql#", ".#0002_b.sql", ".0002_b.sql.swp"] {
        let (from_dir, embedded) = loading::load_both(&[ok(), backup(name)]);
        assert_eq!(from_dir, embedded, "{name}");
        assert!(from_dir.starts_with("hash "), "{name}: {from_dir}");
    }
    let (from_dir, embedded) =
        loading::load_both(&[ok(), backup("0003_c.sql~"), backup("0002_b.sql.bak")]);
    assert_eq!(from_dir, embedded);
    assert!(
        from_dir.starts_with("error 0002_b.sql.bak cannot"),
        "{from_dir}"
    );
}
