//! A database's schema as a fingerprint that two states can be compared
//! by, object by object, and the differences named as a reviewer would.
//!
//! `sqlite_master` alone tells that a table's SQL changed, not how: a table
//! re-created by a down with its columns in another order, another default
//! or without a foreign key has other SQL, and so has one merely re-indented
//! or renamed back (`CREATE TABLE "users"`). So each table is also read
//! through `table_xinfo` (columns in order, declared type, `NOT NULL`,
//! default, primary key), `foreign_key_list` and `index_list`/`index_xinfo`
//! (the `UNIQUE` and `PRIMARY KEY` constraints behind automatic indexes);
//! a difference is named by what differs, and only a change none of them
//! explains is reported as the SQL itself. SQL is compared in the
//! [normalized](crate::sqlite::normalize) form, so whitespace, comments, quoting and
//! line endings do not count; names are compared without regard to ASCII
//! case, as SQLite does.
//!
//! The bookkeeping tables (the crate's ledger and the app ledgers) and
//! SQLite's own (`sqlite_%`) are not part of a fingerprint, as in
//! [`validate`](crate::sqlite::validate).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rusqlite::Connection;

use crate::error::{Error, Result, SchemaObject};
use crate::sqlite::normalize::Sql;

/// One way an object differs from what was expected; see [`Difference`].
///
/// "Expected" is the state compared against: the database before the up,
/// when a down is checked; after the first up, when the up is applied
/// again.
///
/// ```
/// use migrate_once::Change;
///
/// let lost = Change::NotNull { column: "email".into(), expected: true };
/// assert_eq!(lost.to_string(), "column email: NOT NULL missing");
/// let moved = Change::ColumnOrder {
///     expected: vec!["id".into(), "email".into(), "name".into()],
///     actual: vec!["id".into(), "name".into(), "email".into()],
/// };
/// assert_eq!(moved.to_string(), "columns in the order (id, name, email), expected (id, email, name)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The object is not there.
    Missing,
    /// The object is there and was not expected.
    Extra,
    /// The object's SQL differs in a way no more specific change explains
    /// (a `CHECK`, a collation, a view's query, a trigger's body), both
    /// normalized.
    Definition {
        /// The expected SQL.
        expected: String,
        /// The SQL found.
        actual: String,
    },
    /// A column of the table is not there.
    ColumnMissing {
        /// The column.
        column: String,
    },
    /// The table has a column that was not expected.
    ColumnExtra {
        /// The column.
        column: String,
    },
    /// The table's columns are in another order.
    ColumnOrder {
        /// The expected columns, in order.
        expected: Vec<String>,
        /// The columns found, in order.
        actual: Vec<String>,
    },
    /// A column's declared type differs.
    ColumnType {
        /// The column.
        column: String,
        /// The expected type (empty: none).
        expected: String,
        /// The type found.
        actual: String,
    },
    /// A column's `NOT NULL` constraint was lost (`expected` true) or added.
    NotNull {
        /// The column.
        column: String,
        /// Whether the column should be `NOT NULL`.
        expected: bool,
    },
    /// A column's default differs (normalized SQL; `None`: no default).
    Default {
        /// The column.
        column: String,
        /// The expected default.
        expected: Option<String>,
        /// The default found.
        actual: Option<String>,
    },
    /// The table's primary key is on other columns.
    PrimaryKey {
        /// The expected key columns, in key order.
        expected: Vec<String>,
        /// The key columns found.
        actual: Vec<String>,
    },
    /// A foreign key was lost (`actual` is `None`), added (`expected` is
    /// `None`) or changed, as `(columns) REFERENCES table(columns)` with
    /// its actions.
    ForeignKey {
        /// The expected foreign key.
        expected: Option<String>,
        /// The foreign key found.
        actual: Option<String>,
    },
    /// A `UNIQUE` or `PRIMARY KEY` constraint (one SQLite backs with an
    /// automatic index) was lost (`actual` is `None`) or added.
    Constraint {
        /// The expected constraint.
        expected: Option<String>,
        /// The constraint found.
        actual: Option<String>,
    },
    /// The table holds another number of rows.
    Rows {
        /// The expected count.
        expected: i64,
        /// The count found.
        actual: i64,
    },
    /// Rows that were in the table before the up, and that the up left as
    /// they were, are gone (the data check of
    /// [`Reversibility::check_data`](crate::Reversibility::check_data)).
    RowsLost {
        /// How many of them are gone.
        lost: usize,
        /// How many there were.
        of: usize,
    },
}

/// One object that differs between two states of a database, and how.
///
/// ```
/// use migrate_once::{Change, Difference, SchemaObject};
///
/// let d = Difference {
///     object: SchemaObject { kind: "index".into(), name: "posts_by_user".into() },
///     change: Change::Extra,
/// };
/// assert_eq!(d.to_string(), "index posts_by_user: extra");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The table, index, view or trigger.
    pub object: SchemaObject,
    /// How it differs.
    pub change: Change,
}

fn list(names: &[String]) -> String {
    names.join(", ")
}

fn or_none(s: Option<&String>) -> &str {
    s.map_or("none", String::as_str)
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Missing => f.write_str("missing"),
            Change::Extra => f.write_str("extra"),
            Change::Definition { expected, actual } => {
                write!(f, "definition is `{actual}`, expected `{expected}`")
            }
            Change::ColumnMissing { column } => write!(f, "column {column} missing"),
            Change::ColumnExtra { column } => write!(f, "column {column} extra"),
            Change::ColumnOrder { expected, actual } => write!(
                f,
                "columns in the order ({}), expected ({})",
                list(actual),
                list(expected)
            ),
            Change::ColumnType {
                column,
                expected,
                actual,
            } => write!(f, "column {column}: type `{actual}`, expected `{expected}`"),
            Change::NotNull {
                column,
                expected: true,
            } => write!(f, "column {column}: NOT NULL missing"),
            Change::NotNull {
                column,
                expected: false,
            } => write!(f, "column {column}: NOT NULL extra"),
            Change::Default {
                column,
                expected,
                actual,
            } => write!(
                f,
                "column {column}: default {}, expected {}",
                or_none(actual.as_ref()),
                or_none(expected.as_ref())
            ),
            Change::PrimaryKey { expected, actual } => write!(
                f,
                "primary key ({}), expected ({})",
                list(actual),
                list(expected)
            ),
            Change::ForeignKey {
                expected: Some(e),
                actual: None,
            } => write!(f, "foreign key {e} missing"),
            Change::ForeignKey {
                expected: None,
                actual: Some(a),
            } => write!(f, "foreign key {a} extra"),
            Change::ForeignKey { expected, actual } => write!(
                f,
                "foreign key {}, expected {}",
                or_none(actual.as_ref()),
                or_none(expected.as_ref())
            ),
            Change::Constraint {
                expected: Some(e),
                actual: None,
            } => write!(f, "constraint {e} missing"),
            Change::Constraint {
                expected: None,
                actual: Some(a),
            } => write!(f, "constraint {a} extra"),
            Change::Constraint { expected, actual } => write!(
                f,
                "constraint {}, expected {}",
                or_none(actual.as_ref()),
                or_none(expected.as_ref())
            ),
            Change::Rows { expected, actual } => {
                write!(f, "{actual} row(s), expected {expected}")
            }
            Change::RowsLost { lost, of } => write!(
                f,
                "{lost} of the {of} row(s) it held before the up (and the up left alone) are gone"
            ),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.change)
    }
}

/// A column as `table_xinfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    /// Declared type, normalized, upper case.
    decl: String,
    not_null: bool,
    default: Option<Sql>,
    /// 1-based position in the primary key; 0 if not part of it.
    pk: i64,
}

/// A table's structure, beyond its SQL: what the pragmas say, which its
/// `CREATE TABLE` text decides (ALTER TABLE rewrites the text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Structure {
    columns: Vec<Column>,
    /// Foreign keys by their columns (lower case), each described.
    foreign_keys: BTreeMap<String, Sql>,
    /// `UNIQUE` and `PRIMARY KEY` constraints with an automatic index.
    constraints: BTreeMap<String, String>,
}

/// A table: its structure, and how many rows it holds if they were counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Table {
    structure: std::sync::Arc<Structure>,
    rows: Option<i64>,
}

/// The structures of the tables read so far, by the exact text of their
/// `CREATE TABLE`: equal text, equal structure. Asking the pragmas costs a
/// statement per table and pragma (SQLite compiles one behind each call);
/// a round trip changes a few tables of many, so a check that reads its
/// states through one cache asks for those few only.
/// Normalized SQL is kept the same way, by its raw text.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    structures: std::collections::HashMap<String, std::sync::Arc<Structure>>,
    sql: std::collections::HashMap<String, Sql>,
}

impl Cache {
    fn sql(&mut self, raw: String) -> Sql {
        if let Some(sql) = self.sql.get(&raw) {
            return sql.clone();
        }
        let sql = Sql::new(&raw);
        self.sql.insert(raw, sql.clone());
        sql
    }
}

/// One object of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    object: SchemaObject,
    sql: Option<Sql>,
    table: Option<Table>,
}

/// What a database's schema is, read so that two states can be compared;
/// see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// By kind and lower-case name.
    objects: BTreeMap<(String, String), Object>,
}

/// What the pragmas say about table `name`.
fn read_structure(conn: &Connection, name: &str) -> rusqlite::Result<Structure> {
    let mut t = Structure::default();
    let mut stmt = conn.prepare_cached(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1, 'main')
         WHERE hidden IN (0, 2, 3) ORDER BY cid",
    )?;
    let mut q = stmt.query([name])?;
    while let Some(r) = q.next()? {
        let decl: String = r.get(1)?;
        t.columns.push(Column {
            name: r.get(0)?,
            decl: crate::sqlite::normalize::render(&crate::sqlite::normalize::tokens(&decl))
                .to_uppercase(),
            not_null: r.get(2)?,
            default: r.get::<_, Option<String>>(3)?.map(|d| Sql::new(&d)),
            pk: r.get(4)?,
        });
    }
    drop(q);

    let mut stmt = conn.prepare_cached(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete, \"match\"
         FROM pragma_foreign_key_list(?1, 'main') ORDER BY id, seq",
    )?;
    let mut q = stmt.query([name])?;
    // id -> (parent, from columns, to columns, actions)
    type Fk = (String, Vec<String>, Vec<Option<String>>, String);
    let mut fks: BTreeMap<i64, Fk> = BTreeMap::new();
    while let Some(r) = q.next()? {
        let entry = fks.entry(r.get(0)?).or_insert_with(|| {
            let mut actions = String::new();
            for (label, i) in [("ON UPDATE", 4), ("ON DELETE", 5)] {
                let action: String = r.get(i).unwrap_or_default();
                if !action.eq_ignore_ascii_case("NO ACTION") && !action.is_empty() {
                    actions.push_str(&format!(" {label} {action}"));
                }
            }
            let matching: String = r.get(6).unwrap_or_default();
            if !matching.eq_ignore_ascii_case("NONE") && !matching.is_empty() {
                actions.push_str(&format!(" MATCH {matching}"));
            }
            (
                r.get(1).unwrap_or_default(),
                Vec::new(),
                Vec::new(),
                actions,
            )
        });
        entry.1.push(r.get(2)?);
        entry.2.push(r.get(3)?);
    }
    drop(q);
    for (parent, from, to, actions) in fks.into_values() {
        let to = if to.iter().all(Option::is_none) {
            String::new()
        } else {
            format!(
                "({})",
                to.iter()
                    .map(|c| c.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let text = format!(
            "({}) REFERENCES {}{to}{actions}",
            from.join(", "),
            quote(&parent)
        );
        t.foreign_keys
            .insert(from.join(",").to_lowercase(), Sql::new(&text));
    }

    let mut stmt = conn.prepare_cached(
        "SELECT l.name, l.origin, x.name, x.\"desc\", x.coll
         FROM pragma_index_list(?1, 'main') l, pragma_index_xinfo(l.name, 'main') x
         WHERE l.origin IN ('u', 'pk') AND x.\"key\"
         ORDER BY l.name, x.seqno",
    )?;
    let mut q = stmt.query([name])?;
    let mut constraints: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    while let Some(r) = q.next()? {
        let origin: String = r.get(1)?;
        let entry = constraints
            .entry(r.get(0)?)
            .or_insert_with(|| (origin, Vec::new()));
        let mut column = crate::sqlite::normalize::render(&[crate::sqlite::normalize::Token {
            kind: crate::sqlite::normalize::Kind::Quoted,
            text: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        }]);
        let coll: String = r.get(4)?;
        if !coll.eq_ignore_ascii_case("BINARY") {
            column.push_str(&format!(" COLLATE {coll}"));
        }
        if r.get::<_, bool>(3)? {
            column.push_str(" DESC");
        }
        entry.1.push(column);
    }
    drop(q);
    for (origin, columns) in constraints.into_values() {
        let label = if origin == "pk" {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        let text = format!("{label} ({})", columns.join(", "));
        t.constraints.insert(text.to_lowercase(), text);
    }
    Ok(t)
}

const NOT_INTERNAL: &str = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

/// `name` as a quoted SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Fingerprint {
    /// Reads the fingerprint of `conn`'s main database; with `rows`, the
    /// row count of every table too. Table structures already in `cache`
    /// are taken from it.
    pub(crate) fn read(conn: &Connection, rows: bool, cache: &mut Cache) -> Result<Fingerprint> {
        Self::read_sqlite(conn, rows, cache).map_err(|e| {
            Error::db(
                "read the schema's fingerprint",
                crate::sqlite::identity::file_of(conn).as_deref(),
            )(e)
        })
    }

    fn read_sqlite(
        conn: &Connection,
        rows: bool,
        cache: &mut Cache,
    ) -> rusqlite::Result<Fingerprint> {
        let mut fp = Fingerprint::default();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT m.type, m.name, m.tbl_name, m.sql FROM main.sqlite_master m WHERE {NOT_INTERNAL}"
        ))?;
        let mut q = stmt.query([])?;
        let mut tables = Vec::new();
        while let Some(r) = q.next()? {
            let (kind, name, table): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if crate::sqlite::validate::is_bookkeeping(&table) {
                continue;
            }
            let raw: Option<String> = r.get(3)?;
            let is_table = kind == "table";
            if is_table {
                tables.push((name.clone(), raw.clone().unwrap_or_default()));
            }
            fp.objects.insert(
                (kind.clone(), name.to_lowercase()),
                Object {
                    object: SchemaObject { kind, name },
                    sql: raw.map(|s| cache.sql(s)),
                    table: is_table.then(Table::default),
                },
            );
        }
        drop(q);
        for (name, raw) in &tables {
            let structure = match cache.structures.get(raw) {
                Some(s) => std::sync::Arc::clone(s),
                None => {
                    let s = std::sync::Arc::new(read_structure(conn, name)?);
                    cache
                        .structures
                        .insert(raw.clone(), std::sync::Arc::clone(&s));
                    s
                }
            };
            if let Some(t) = fp.table_mut(name) {
                t.structure = structure;
            }
        }
        if rows && !tables.is_empty() {
            // One statement for every count: compiled once, not per table.
            let sql = tables
                .iter()
                .map(|(name, _)| format!("SELECT count(*) FROM main.{}", quote(name)))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut stmt = conn.prepare(&sql)?;
            let counts: Vec<i64> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for ((name, _), n) in tables.iter().zip(counts) {
                if let Some(t) = fp.table_mut(name) {
                    t.rows = Some(n);
                }
            }
        }
        Ok(fp)
    }

    fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.objects
            .get_mut(&("table".to_string(), name.to_lowercase()))
            .and_then(|o| o.table.as_mut())
    }

    /// The names of the tables, as written.
    pub(crate) fn tables(&self) -> impl Iterator<Item = &str> {
        self.objects
            .values()
            .filter(|o| o.table.is_some())
            .map(|o| o.object.name.as_str())
    }

    /// The columns of table `name` (any case), in order, if it exists.
    pub(crate) fn columns(&self, name: &str) -> Option<Vec<String>> {
        self.objects
            .get(&("table".to_string(), name.to_lowercase()))
            .and_then(|o| o.table.as_ref())
            .map(|t| t.structure.columns.iter().map(|c| c.name.clone()).collect())
    }

    /// How `actual` differs from `self`, object by object, sorted by
    /// object.
    pub(crate) fn differences(&self, actual: &Fingerprint) -> Vec<Difference> {
        let mut out = Vec::new();
        let keys: BTreeSet<&(String, String)> =
            self.objects.keys().chain(actual.objects.keys()).collect();
        for key in keys {
            match (self.objects.get(key), actual.objects.get(key)) {
                (Some(e), None) => out.push(Difference {
                    object: e.object.clone(),
                    change: Change::Missing,
                }),
                (None, Some(a)) => out.push(Difference {
                    object: a.object.clone(),
                    change: Change::Extra,
                }),
                (Some(e), Some(a)) => {
                    let changes = object_changes(e, a);
                    out.extend(changes.into_iter().map(|change| Difference {
                        object: e.object.clone(),
                        change,
                    }));
                }
                (None, None) => unreachable!("the key came from one of the maps"),
            }
        }
        out.sort_by(|a, b| a.object.cmp(&b.object));
        out
    }
}

fn object_changes(e: &Object, a: &Object) -> Vec<Change> {
    let mut changes = match (&e.table, &a.table) {
        (Some(et), Some(at)) => table_changes(et, at),
        _ => Vec::new(),
    };
    let sql_differs = e.sql.as_ref().map(|s| &s.key) != a.sql.as_ref().map(|s| &s.key);
    let structural = changes.iter().any(|c| !matches!(c, Change::Rows { .. }));
    if sql_differs && !structural {
        changes.insert(
            0,
            Change::Definition {
                expected: e.sql.as_ref().map(|s| s.text.clone()).unwrap_or_default(),
                actual: a.sql.as_ref().map(|s| s.text.clone()).unwrap_or_default(),
            },
        );
    }
    changes
}

fn table_changes(et: &Table, at: &Table) -> Vec<Change> {
    let mut out = Vec::new();
    let (e, a) = (&*et.structure, &*at.structure);
    let lower =
        |cols: &[Column]| -> Vec<String> { cols.iter().map(|c| c.name.to_lowercase()).collect() };
    let (el, al) = (lower(&e.columns), lower(&a.columns));
    for c in &e.columns {
        if !al.contains(&c.name.to_lowercase()) {
            out.push(Change::ColumnMissing {
                column: c.name.clone(),
            });
        }
    }
    for c in &a.columns {
        if !el.contains(&c.name.to_lowercase()) {
            out.push(Change::ColumnExtra {
                column: c.name.clone(),
            });
        }
    }
    let common_e: Vec<&String> = el.iter().filter(|n| al.contains(n)).collect();
    let common_a: Vec<&String> = al.iter().filter(|n| el.contains(n)).collect();
    if common_e != common_a {
        out.push(Change::ColumnOrder {
            expected: e.columns.iter().map(|c| c.name.clone()).collect(),
            actual: a.columns.iter().map(|c| c.name.clone()).collect(),
        });
    }
    for ec in &e.columns {
        let Some(ac) = a
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&ec.name))
        else {
            continue;
        };
        if ec.decl != ac.decl {
            out.push(Change::ColumnType {
                column: ec.name.clone(),
                expected: ec.decl.clone(),
                actual: ac.decl.clone(),
            });
        }
        if ec.not_null != ac.not_null {
            out.push(Change::NotNull {
                column: ec.name.clone(),
                expected: ec.not_null,
            });
        }
        if ec.default.as_ref().map(|d| &d.key) != ac.default.as_ref().map(|d| &d.key) {
            out.push(Change::Default {
                column: ec.name.clone(),
                expected: ec.default.as_ref().map(|d| d.text.clone()),
                actual: ac.default.as_ref().map(|d| d.text.clone()),
            });
        }
    }
    let pk = |t: &Structure| -> Vec<String> {
        let mut key: Vec<&Column> = t.columns.iter().filter(|c| c.pk > 0).collect();
        key.sort_by_key(|c| c.pk);
        key.iter().map(|c| c.name.clone()).collect()
    };
    let (epk, apk) = (pk(e), pk(a));
    let lower_all = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
    if lower_all(&epk) != lower_all(&apk) {
        out.push(Change::PrimaryKey {
            expected: epk,
            actual: apk,
        });
    }
    let from: BTreeSet<&String> = e.foreign_keys.keys().chain(a.foreign_keys.keys()).collect();
    for k in from {
        let (ef, af) = (e.foreign_keys.get(k), a.foreign_keys.get(k));
        if ef.map(|s| &s.key) != af.map(|s| &s.key) {
            out.push(Change::ForeignKey {
                expected: ef.map(|s| s.text.clone()),
                actual: af.map(|s| s.text.clone()),
            });
        }
    }
    for (k, text) in &e.constraints {
        if !a.constraints.contains_key(k) {
            out.push(Change::Constraint {
                expected: Some(text.clone()),
                actual: None,
            });
        }
    }
    for (k, text) in &a.constraints {
        if !e.constraints.contains_key(k) {
            out.push(Change::Constraint {
                expected: None,
                actual: Some(text.clone()),
            });
        }
    }
    if let (Some(en), Some(an)) = (et.rows, at.rows)
        && en != an
    {
        out.push(Change::Rows {
            expected: en,
            actual: an,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(sql: &str) -> Fingerprint {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        Fingerprint::read(&conn, true, &mut Cache::default()).unwrap()
    }

    fn diffs(expected: &str, actual: &str) -> Vec<String> {
        fp(expected)
            .differences(&fp(actual))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_same_schema_written_otherwise_has_no_difference() {
        assert!(
            diffs(
                "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
                 CREATE INDEX users_email ON users(email);",
                "CREATE TABLE \"Users\" (\n  id INTEGER PRIMARY KEY, -- key\n  [email] TEXT NOT NULL UNIQUE\n);
                 create index users_email on users (email);",
            )
            .is_empty()
        );
    }

    #[test]
    fn each_kind_of_difference_is_named_by_object() {
        let base = "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, state TEXT DEFAULT 'new');
                    CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id) ON DELETE CASCADE);";
        assert_eq!(
            diffs(
                base,
                "CREATE TABLE users(id INTEGER PRIMARY KEY, state TEXT DEFAULT 'old', email TEXT);
                 CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INTEGER);
                 CREATE VIEW v AS SELECT 1;"
            ),
            [
                "table posts: foreign key (user_id) REFERENCES users(id) ON DELETE CASCADE missing",
                "table users: columns in the order (id, state, email), expected (id, email, state)",
                "table users: column email: NOT NULL missing",
                "table users: column state: default 'old', expected 'new'",
                "table users: constraint UNIQUE (email) missing",
                "view v: extra",
            ]
        );
        assert_eq!(
            diffs(
                "CREATE TABLE t(a CHECK (a > 0)); INSERT INTO t VALUES (1);",
                "CREATE TABLE t(a CHECK (a >= 0));"
            ),
            [
                "table t: definition is `CREATE TABLE t(a CHECK (a >= 0))`, expected `CREATE TABLE t(a CHECK (a > 0))`",
                "table t: 0 row(s), expected 1",
            ]
        );
    }
}
