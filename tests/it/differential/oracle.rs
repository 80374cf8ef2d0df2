//! SQLite's own answers, to check the crate's against: `sqlite3_complete`
//! for the splitter, `sqlite3_prepare_v2`'s tail loop for the migrator, and
//! what SQLite stores for the normalizer.
//!
//! Shared, by `#[path]`, between the differential property tests
//! (`tests/it/differential/mod.rs`) and the fuzz targets (`fuzz/`), so that
//! both check one property. Each check returns `Err(why)` on a divergence.
//!
//! The raw calls (`sqlite3_complete`, `sqlite3_prepare_v2`,
//! `sqlite3_table_column_metadata`) are the point: rusqlite has no safe
//! wrapper for them, and its `prepare` is not SQLite's loop (it stops at the
//! first statement). Each `unsafe` block says why it is sound.

#![allow(dead_code)] // Each user takes the checks it needs.

use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt::Write as _;
use std::ops::Range;

use migrate_once::rusqlite::types::ValueRef;
use migrate_once::rusqlite::{Connection, ffi};
use migrate_once::{Error, Migration, Migrations};

/// Whether SQLite's `sqlite3_complete` finds `sql` complete: it ends with a
/// `;` that ends a statement (not one inside a string, comment or trigger
/// body). `sql` must hold no NUL: a C string would end there.
#[allow(unsafe_code)]
pub fn sqlite_complete(sql: &str) -> bool {
    let c = CString::new(sql).expect("the caller passes text without NUL");
    // SAFETY: `c` is a NUL-terminated string that outlives the call, and
    // sqlite3_complete only reads it up to the NUL; it needs no connection.
    unsafe { ffi::sqlite3_complete(c.as_ptr()) != 0 }
}

/// The splitter's statements of `sql` hold against `sqlite3_complete`:
/// each is complete (or runs to the end of the text, where the last may be
/// incomplete), no shorter prefix of one that ends at a `;` is complete, and
/// the text between them holds no statement by SQLite's own parser
/// (prepared on `conn`).
pub fn check_split(conn: &Connection, sql: &str) -> Result<(), String> {
    if sql.contains('\0') {
        return Ok(()); // The loader refuses a NUL: `check_nul_refused`.
    }
    let spans = migrate_once::__private::split_statements(sql);
    let mut after_last = 0;
    for (n, span) in spans.iter().enumerate() {
        if span.start < after_last || span.end <= span.start || span.end > sql.len() {
            return Err(format!(
                "statement {n}: span {span:?} out of order (previous ended at {after_last})"
            ));
        }
        check_gap(conn, sql, after_last..span.start)?;
        let text = &sql[span.clone()];
        if text.starts_with([' ', '\t', '\n', '\r', '\x0c', ';'])
            || text.starts_with("--")
            || (text.starts_with("/*") && text.len() > 2)
        {
            return Err(format!(
                "statement {n} {text:?} starts with whitespace, a comment or `;`"
            ));
        }
        if !sqlite_complete(&tokenizer_view(text)) && span.end != sql.len() {
            return Err(format!(
                "statement {n} {text:?} is cut where sqlite3_complete finds it incomplete"
            ));
        }
        // Every `;` inside, or 64 spread over a long statement (a literal of
        // thousands): each check reads the prefix again.
        let inside: Vec<usize> = text
            .match_indices(';')
            .map(|(p, _)| p)
            .filter(|&p| p + 1 < text.len())
            .collect();
        let step = inside.len().div_ceil(64).max(1);
        for &p in inside.iter().step_by(step).chain(inside.last()) {
            if sqlite_complete(&tokenizer_view(&text[..=p])) {
                return Err(format!(
                    "statement {n} {text:?}: its prefix {:?} is already complete",
                    &text[..=p]
                ));
            }
        }
        after_last = span.end;
    }
    check_gap(conn, sql, after_last..sql.len())
}

/// `sql` as SQLite's tokenizer reads it, for `sqlite3_complete`, which
/// reads two things otherwise: a vertical tab (0x0b) after whitespace
/// continues the whitespace to the tokenizer (`sqlite3Isspace`), and a
/// byte-order mark where a token starts is whitespace to it (`CC_BOM`);
/// `sqlite3_complete` reads both as words (and would then miss a
/// `CREATE\n\x0bTRIGGER`). Inside a string or comment the swap changes
/// nothing.
pub fn tokenizer_view(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains(['\x0b', '\u{feff}']) {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let (mut blank, mut in_word) = (false, false);
    for c in sql.chars() {
        match c {
            '\x0b' if blank => out.push(' '),
            '\u{feff}' if !in_word => {
                out.push_str("   ");
                blank = false;
                continue;
            }
            c => out.push(c),
        }
        blank = matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c') || (c == '\x0b' && blank);
        in_word = c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii();
    }
    out.into()
}

/// The text between two statements is whitespace, comments and `;` only:
/// SQLite's tail loop finds no statement in it, and no error.
fn check_gap(conn: &Connection, sql: &str, gap: Range<usize>) -> Result<(), String> {
    let text = &sql[gap];
    if text.bytes().all(|b| b.is_ascii_whitespace() || b == b';') {
        return Ok(()); // Nothing to parse: saves a prepare per statement.
    }
    let mut at = 0;
    while at < text.len() {
        match prepare_one(conn, &text[at..]) {
            Err(msg) => {
                return Err(format!(
                    "between statements, {text:?} is an error to SQLite: {msg}"
                ));
            }
            Ok((true, _)) => {
                return Err(format!(
                    "between statements, {text:?} holds a statement for SQLite"
                ));
            }
            Ok((false, 0)) => break,
            Ok((false, next)) => at += next,
        }
    }
    Ok(())
}

/// The message of the last error on `db`.
#[allow(unsafe_code)]
fn errmsg(db: *mut ffi::sqlite3) -> String {
    // SAFETY: `db` is an open connection's handle; sqlite3_errmsg returns a
    // NUL-terminated string owned by it, valid until its next call, and it
    // is copied before any other call.
    unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
        .to_string_lossy()
        .into_owned()
}

/// Prepares the first statement of `sql` with `sqlite3_prepare_v2`, steps
/// it to its end if `step`, and finalizes it: whether there was a statement
/// (not only whitespace and comments) and the byte offset of the tail.
#[allow(unsafe_code)]
fn prepare_step(conn: &Connection, sql: &str, step: bool) -> Result<(bool, usize), String> {
    let len = c_int::try_from(sql.len()).map_err(|_| "longer than 2 GB".to_string())?;
    // SAFETY: the handle is used only on this thread, while `conn` is
    // borrowed, and is not closed here.
    let db = unsafe { conn.handle() };
    let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    let mut tail: *const c_char = std::ptr::null();
    // SAFETY: `sql` is valid for `len` bytes (SQLite copies text that is
    // not NUL-terminated before parsing it); `stmt` and `tail` are valid
    // places for the results; `tail` points into `sql` (or is null).
    let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast(), len, &mut stmt, &mut tail) };
    if rc != ffi::SQLITE_OK {
        return Err(errmsg(db));
    }
    let next = if tail.is_null() {
        sql.len()
    } else {
        tail as usize - sql.as_ptr() as usize
    };
    if stmt.is_null() {
        return Ok((false, next));
    }
    let mut failed = None;
    if step {
        loop {
            // SAFETY: `stmt` is the statement just prepared, not finalized.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {}
                ffi::SQLITE_DONE => break,
                _ => {
                    failed = Some(errmsg(db));
                    break;
                }
            }
        }
    }
    // SAFETY: `stmt` was prepared above and is finalized exactly once.
    unsafe { ffi::sqlite3_finalize(stmt) };
    match failed {
        Some(msg) => Err(msg),
        None => Ok((true, next)),
    }
}

fn prepare_one(conn: &Connection, sql: &str) -> Result<(bool, usize), String> {
    prepare_step(conn, sql, false)
}

/// How running a migration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every statement ran.
    Applied,
    /// Statement `n` (1-based) failed, and nothing was applied.
    FailedAt(usize),
}

/// Runs `sql` as SQLite's own tail loop does: `sqlite3_prepare_v2`, step to
/// the end, go on at the tail; in one transaction, rolled back at the first
/// error, with foreign keys off as the migrator has them. Also returns how
/// many statements it found (up to the one that failed).
pub fn run_like_sqlite(conn: &Connection, sql: &str) -> (Outcome, usize) {
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")
        .expect("begin");
    let mut at = 0;
    let mut ran = 0;
    let outcome = loop {
        if at >= sql.len() {
            break Outcome::Applied;
        }
        match prepare_step(conn, &sql[at..], true) {
            Err(_) => break Outcome::FailedAt(ran + 1),
            Ok((had, next)) => {
                ran += usize::from(had);
                if next == 0 {
                    break Outcome::Applied;
                }
                at += next;
            }
        }
    };
    // A failed statement may have ended the transaction itself (a
    // constraint with ON CONFLICT ROLLBACK): roll back only what is open.
    if !conn.is_autocommit() {
        let end = if outcome == Outcome::Applied {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        conn.execute_batch(end).expect("end the transaction");
    }
    (outcome, ran)
}

/// What the crate does with `sql` as migration 1: refused when the set
/// loads (`Err`), or the outcome of `migrate`.
pub fn run_like_the_migrator(conn: &mut Connection, sql: &str) -> Result<Outcome, Error> {
    let set = Migrations::new(vec![Migration::new(1, "generated", sql)])?;
    match migrate_once::migrate(conn, &set) {
        Ok(_) => Ok(Outcome::Applied),
        Err(Error::Sql { index, .. }) => Ok(Outcome::FailedAt(index)),
        Err(other) => Err(other),
    }
}

/// What [`check_apply`] found both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Applied whole by both.
    Applied,
    /// Both failed at this statement (1-based), leaving the database as
    /// it was.
    FailedAt(usize),
    /// The loader refused it (a NUL byte, no statement, a forbidden
    /// statement), so nothing ran: on purpose, and checked as far as
    /// SQLite can say (the NUL's offset; no statement for SQLite either).
    Refused(String),
}

/// The migrator and SQLite's tail loop, each on a fresh in-memory database,
/// end the same way (applied, or failed at the same statement) and leave
/// the same database: schema, rows and `user_version`.
pub fn check_apply(sql: &str) -> Result<Checked, String> {
    let reference = Connection::open_in_memory().expect("open");
    let (expected, found) = run_like_sqlite(&reference, sql);
    let mut conn = Connection::open_in_memory().expect("open");
    let empty = dump(&conn);
    let got = match run_like_the_migrator(&mut conn, sql) {
        Ok(got) => got,
        Err(Error::NulByte { offset, .. }) => {
            let first = sql.find('\0');
            return if first == Some(offset) {
                Ok(Checked::Refused("a NUL byte".into()))
            } else {
                Err(format!(
                    "NulByte at {offset}, the first NUL is at {first:?}"
                ))
            };
        }
        Err(Error::EmptyMigration { .. }) => {
            return if found == 0 {
                Ok(Checked::Refused("no statement".into()))
            } else {
                Err(format!(
                    "refused as empty, SQLite's loop found {found} statements: {expected:?}"
                ))
            };
        }
        Err(Error::ForbiddenStatement { reason, .. }) => {
            return Ok(Checked::Refused(reason.to_string()));
        }
        Err(other) => return Err(format!("the migrator failed otherwise: {other}")),
    };
    let (got_db, expected_db) = (dump(&conn), dump(&reference));
    let checked = match (&got, &expected) {
        (Outcome::Applied, Outcome::Applied) => Checked::Applied,
        (Outcome::FailedAt(a), Outcome::FailedAt(b)) if a == b => Checked::FailedAt(*a),
        _ => {
            return Err(format!(
                "the migrator: {got:?}, SQLite's loop: {expected:?}\n--- migrator's database:\n{got_db}\n--- SQLite's:\n{expected_db}"
            ));
        }
    };
    if got_db != expected_db {
        return Err(format!(
            "same outcome ({got:?}), other databases\n--- migrator's:\n{got_db}\n--- SQLite's:\n{expected_db}"
        ));
    }
    if matches!(got, Outcome::FailedAt(_)) && got_db != empty {
        return Err(format!("a failed migration left:\n{got_db}"));
    }
    Ok(checked)
}

/// Every object of the main and temp schemas (but the crate's ledger) with
/// its SQL, every row of every table in rowid order, and `user_version`.
pub fn dump(conn: &Connection) -> String {
    let mut out = String::new();
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    writeln!(out, "user_version {user_version}").unwrap();
    let mut tables = Vec::new();
    for schema in ["main", "temp"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master
                 WHERE name NOT LIKE '\\_migrate\\_once%' ESCAPE '\\' ORDER BY type, name"
            ))
            .expect("schema");
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .expect("schema")
            .collect::<Result<Vec<_>, _>>()
            .expect("schema");
        for (kind, name, table, sql) in rows {
            writeln!(out, "{schema} {kind} {name:?} on {table:?}: {sql:?}").unwrap();
            if kind == "table" && !name.starts_with("sqlite_") {
                tables.push(format!("{schema}.\"{}\"", name.replace('"', "\"\"")));
            }
        }
    }
    for table in tables {
        writeln!(out, "rows of {table}:").unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .expect("rows");
        let n = stmt.column_count();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("row") {
            let values: Vec<String> = (0..n)
                .map(|i| value(row.get_ref(i).expect("value")))
                .collect();
            writeln!(out, "  {}", values.join(", ")).unwrap();
        }
    }
    out
}

fn value(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("{i}"),
        ValueRef::Real(f) => format!("{f:?}"),
        ValueRef::Text(t) => format!("text {:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob {b:?}"),
    }
}

/// What a normalizer case starts from: indexes, views and triggers name
/// these tables.
pub const BASE: &str = "CREATE TABLE base(a, b, c); CREATE TABLE other(x INT, y TEXT);";

/// Values inserted into every column of every table, one row each, after
/// a row of defaults: they show each column's affinity, `NOT NULL`,
/// `CHECK`, collation (a `UNIQUE … COLLATE NOCASE` refuses `'A'` after
/// `'a'`), and fire the triggers.
const PROBES: [&str; 14] = [
    "NULL", "0", "1", "-1", "1.5", "'1'", "'a'", "'A'", "'é'", "'É'", "'a\nb'", "'a\rb'", "x'00'",
    "'abc'",
];

/// Quotes an identifier for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string for SQL.
fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A pragma's value as plain text.
fn plain(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        other => value(other),
    }
}

/// The rows of `sql`, each value by `show`; a row `["error <code>"]` where
/// SQLite fails.
fn rows_of(conn: &Connection, sql: &str, show: fn(ValueRef<'_>) -> String) -> Vec<Vec<String>> {
    let failed = |e: migrate_once::rusqlite::Error| vec![vec![result_code(Err(e))]];
    let mut stmt = match conn.prepare(sql) {
        Ok(stmt) => stmt,
        Err(e) => return failed(e),
    };
    let n = stmt.column_count();
    let mut rows = match stmt.query([]) {
        Ok(rows) => rows,
        Err(e) => return failed(e),
    };
    let mut out = Vec::new();
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                out.push(
                    (0..n)
                        .map(|i| show(row.get_ref(i).expect("value")))
                        .collect(),
                );
            }
            Ok(None) => return out,
            Err(e) => {
                out.extend(failed(e));
                return out;
            }
        }
    }
}

/// How a statement ended: `ok`, or SQLite's extended result code (the
/// message names objects as written, which is not what is compared).
fn result_code(r: migrate_once::rusqlite::Result<usize>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(migrate_once::rusqlite::Error::SqliteFailure(e, _)) => {
            format!("code {}", e.extended_code)
        }
        Err(other) => format!("error {other}"),
    }
}

/// The declared type, collation sequence and autoincrement of a column, by
/// `sqlite3_table_column_metadata` (what SQLite resolved, not the text).
#[allow(unsafe_code)]
fn column_metadata(conn: &Connection, table: &str, column: &str) -> (String, String, bool) {
    let (t, c) = (
        CString::new(table).expect("no NUL"),
        CString::new(column).expect("no NUL"),
    );
    let (mut decl, mut coll): (*const c_char, *const c_char) = (std::ptr::null(), std::ptr::null());
    let (mut not_null, mut pk, mut autoinc): (c_int, c_int, c_int) = (0, 0, 0);
    // SAFETY: the handle is used on this thread while `conn` is borrowed;
    // the names are NUL-terminated and outlive the call; every out-pointer
    // points at a local of the type SQLite writes.
    let rc = unsafe {
        ffi::sqlite3_table_column_metadata(
            conn.handle(),
            c"main".as_ptr(),
            t.as_ptr(),
            c.as_ptr(),
            &mut decl,
            &mut coll,
            &mut not_null,
            &mut pk,
            &mut autoinc,
        )
    };
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null result is a NUL-terminated string SQLite
            // keeps until the next call on this connection; copied now.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    if rc != ffi::SQLITE_OK {
        return (format!("error {rc}"), String::new(), false);
    }
    (text(decl), text(coll), autoinc != 0)
}

/// `sql` without its `/* … */` and `-- …` comments (quoted runs kept as
/// they are: `[a--b]` is a name).
fn without_comments(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |p| &after[p + 2..]);
        } else if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |p| &after[p..]);
        } else if let Some(q) = ['\'', '"', '`', '[']
            .into_iter()
            .find(|&q| rest.starts_with(q))
        {
            let close = if q == '[' { ']' } else { q };
            let end = rest[1..].find(close).map_or(rest.len(), |p| p + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Turns SQLite's double-quoted string literals off on `conn` (its own
/// advice: <https://sqlite.org/quirks.html#dblquote>), so that a `"…"` name
/// no column has is an error rather than a string. The normalizer does not
/// see that difference on purpose: it folds the case of `"Users"` as a
/// name's (TESTING.md says so). `DEFAULT "x"` is a string either way.
#[allow(unsafe_code)]
fn without_double_quoted_strings(conn: &Connection) {
    const SQLITE_DBCONFIG_DQS_DML: c_int = 1013;
    const SQLITE_DBCONFIG_DQS_DDL: c_int = 1014;
    for op in [SQLITE_DBCONFIG_DQS_DML, SQLITE_DBCONFIG_DQS_DDL] {
        // SAFETY: an open handle used on this thread while `conn` is
        // borrowed; these two options take an int and an int pointer,
        // which may be null (the old value is not wanted).
        let rc = unsafe {
            ffi::sqlite3_db_config(conn.handle(), op, 0 as c_int, std::ptr::null_mut::<c_int>())
        };
        assert_eq!(rc, ffi::SQLITE_OK, "sqlite3_db_config({op})");
    }
}

/// What SQLite stores for the schema `sql` (run after [`BASE`] on a fresh
/// database), as SQLite itself compares it: names with their ASCII case
/// folded (SQLite folds no other), declared types without whitespace, what
/// each pragma reports, and how the objects behave on the same probe rows
/// (defaults, affinity, constraints, collations, indexes, views, triggers).
/// Not the text of `sqlite_master`, which keeps every space as written.
/// `Err` if SQLite refuses the text.
pub fn stored_schema(sql: &str) -> Result<String, String> {
    let conn = Connection::open_in_memory().expect("open");
    without_double_quoted_strings(&conn);
    conn.execute_batch(BASE).expect("base");
    conn.execute_batch(sql).map_err(|_| "refused".to_string())?;
    let lower = |s: &str| s.to_ascii_lowercase();
    let mut out = String::new();
    let mut tables = Vec::new();
    let mut views = Vec::new();
    for o in rows_of(
        &conn,
        "SELECT type, name, tbl_name FROM sqlite_master ORDER BY 1, lower(name)",
        plain,
    ) {
        writeln!(out, "{} {} on {}", o[0], lower(&o[1]), lower(&o[2])).unwrap();
        match o[0].as_str() {
            "table" if !o[1].starts_with("sqlite_") => tables.push(o[1].clone()),
            "view" => views.push(o[1].clone()),
            _ => {}
        }
    }
    let mut insertable = Vec::new();
    for name in tables.iter().chain(&views) {
        let is_table = tables.contains(name);
        writeln!(out, "columns of {}:", lower(name)).unwrap();
        let mut plain_columns = Vec::new();
        for c in rows_of(
            &conn,
            &format!(
                "SELECT name, \"notnull\", pk, hidden FROM pragma_table_xinfo({}) ORDER BY cid",
                lit(name)
            ),
            plain,
        ) {
            if c.len() < 4 {
                // The pragma failed (a view SQLite cannot resolve).
                writeln!(out, "  {c:?}").unwrap();
                continue;
            }
            let (decl, coll, autoinc) = if is_table {
                column_metadata(&conn, name, &c[0])
            } else {
                Default::default()
            };
            // A type spans its first word to its last, comments and quotes
            // included: what counts is its words (affinity is read from
            // them, and the probes below show it).
            let decl: String = without_comments(&decl)
                .chars()
                // SQLite's whitespace, which holds a vertical tab where
                // `is_ascii_whitespace` does not (a fuzz run found one).
                .filter(|c| {
                    !c.is_ascii_whitespace() && !matches!(c, '\x0b' | '"' | '[' | ']' | '`')
                })
                .collect();
            // A view's column without an alias is named by its expression as
            // written, spaces and comments included (`SELECT a+1` against
            // `a + 1`); the normalizer does not see that, a known difference
            // (TESTING.md), so it is not compared.
            let name = if is_table {
                lower(&c[0])
            } else {
                lower(&without_comments(&c[0]))
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect()
            };
            writeln!(
                out,
                "  {} {} notnull {} pk {} hidden {} collate {} autoinc {autoinc}",
                name,
                decl.to_ascii_uppercase(),
                c[1],
                c[2],
                c[3],
                lower(&coll)
            )
            .unwrap();
            if c[3] == "0" {
                plain_columns.push(c[0].clone());
            }
        }
        if !is_table {
            continue;
        }
        for fk in rows_of(
            &conn,
            &format!(
                "SELECT \"table\", \"from\", \"to\", on_update, on_delete, \"match\" \
                 FROM pragma_foreign_key_list({}) ORDER BY id, seq",
                lit(name)
            ),
            plain,
        ) {
            writeln!(out, "  foreign key {}", lower(&fk.join(" "))).unwrap();
        }
        for index in rows_of(
            &conn,
            &format!(
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list({}) \
                 ORDER BY lower(name)",
                lit(name)
            ),
            plain,
        ) {
            let columns: Vec<String> = rows_of(
                &conn,
                &format!(
                    "SELECT name, \"desc\", coll, \"key\" FROM pragma_index_xinfo({}) \
                     ORDER BY seqno",
                    lit(&index[0])
                ),
                plain,
            )
            .iter()
            .map(|c| lower(&c.join(" ")))
            .collect();
            writeln!(out, "  index {} {columns:?}", lower(&index.join(" "))).unwrap();
        }
        insertable.push((name.clone(), plain_columns));
    }
    // Behaviour: a row of defaults, then each probe in every column, an
    // update and a delete (which fire the triggers), then every row of
    // every table and view, sorted.
    for (table, columns) in &insertable {
        let t = ident(table);
        let r = conn.execute(&format!("INSERT INTO {t} DEFAULT VALUES"), []);
        writeln!(out, "defaults into {}: {}", lower(table), result_code(r)).unwrap();
        if columns.is_empty() {
            continue;
        }
        let names: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        for probe in PROBES {
            let values = vec![probe; columns.len()].join(", ");
            let r = conn.execute(
                &format!("INSERT INTO {t}({}) VALUES ({values})", names.join(", ")),
                [],
            );
            writeln!(out, "  {probe:?}: {}", result_code(r)).unwrap();
        }
        let r = conn.execute(
            &format!("UPDATE {t} SET {} = 'u' WHERE rowid % 3 = 0", names[0]),
            [],
        );
        writeln!(out, "  update: {}", result_code(r)).unwrap();
        let r = conn.execute(&format!("DELETE FROM {t} WHERE rowid % 4 = 0"), []);
        writeln!(out, "  delete: {}", result_code(r)).unwrap();
    }
    for name in tables.iter().chain(&views) {
        let mut rows: Vec<String> =
            rows_of(&conn, &format!("SELECT * FROM {}", ident(name)), value)
                .into_iter()
                .map(|r| r.join(", "))
                .collect();
        rows.sort();
        writeln!(out, "rows of {}: {rows:?}", lower(name)).unwrap();
    }
    Ok(out)
}

/// What [`check_normalized_pair`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// The normalizer found them equal, and SQLite stores equal schemas.
    Equal,
    /// The normalizer found them different: nothing to check (a false
    /// difference is a spurious report, never a missed one).
    Different,
    /// Equal to the normalizer, refused by SQLite one way or both: no
    /// schema to compare. The normalizer only ever reads what SQLite
    /// stored (`sqlite_master`, a column's default), never such a text.
    Refused,
}

/// If the normalizer finds `a` and `b` equal and SQLite accepts both,
/// SQLite stores equal schemas for them.
///
/// One equivalence is made on purpose, as the normalizer makes it: CRLF
/// reads as LF, inside literals too (a checkout with `core.autocrlf` turns
/// every LF of a migration into CRLF, and both are the same migration), so
/// SQLite is given both texts with CRLF as LF. A lone CR is not touched.
pub fn check_normalized_pair(a: &str, b: &str) -> Result<Pair, String> {
    let (_, key_a) = migrate_once::__private::normalized(a);
    let (_, key_b) = migrate_once::__private::normalized(b);
    if key_a != key_b {
        return Ok(Pair::Different);
    }
    let lf = |s: &str| s.replace("\r\n", "\n");
    match (stored_schema(&lf(a)), stored_schema(&lf(b))) {
        (Ok(sa), Ok(sb)) if sa == sb => Ok(Pair::Equal),
        (Ok(sa), Ok(sb)) => {
            let differ: Vec<String> = sa
                .lines()
                .zip(sb.lines())
                .filter(|(x, y)| x != y)
                .map(|(x, y)| format!("  {x}\n  {y}"))
                .collect();
            Err(format!(
                "the normalizer finds these equal (key {key_a:?}):\n  {a:?}\n  {b:?}\nSQLite stores them differently:\n{}",
                differ.join("\n")
            ))
        }
        _ => Ok(Pair::Refused),
    }
}
