//! Checking a database's `sqlite_master` against what its migrations define.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result, SchemaObject};

/// The tables, indexes, views and triggers of a database, with their SQL.
///
/// SQLite's internal objects (`sqlite_%`) and bookkeeping (the crate's
/// ledger, the app ledgers it keeps) are left out of the objects: a
/// database adopted from sqlx has `_sqlx_migrations` where the template may
/// not, and the reverse. Which bookkeeping tables exist is kept apart, so
/// that a caller may still require one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Schema {
    objects: BTreeMap<SchemaObject, Option<String>>,
    bookkeeping: Vec<String>,
}

/// Whitespace runs collapsed to one space, so re-indented SQL is not a difference.
fn squash(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) use crate::bookkeeping::is_bookkeeping;

impl Schema {
    /// Reads the schema of the `main` database of `conn`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] if `sqlite_master` cannot be read (for example the
    /// file is not a database).
    pub(crate) fn read(conn: &Connection) -> Result<Schema> {
        let read = || -> rusqlite::Result<Schema> {
            let mut stmt = conn.prepare_cached(
                "SELECT type, name, tbl_name, sql FROM sqlite_master
                 WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )?;
            let mut rows = stmt.query([])?;
            let mut schema = Schema::default();
            while let Some(r) = rows.next()? {
                let (kind, name, table): (String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                if is_bookkeeping(&table) {
                    if kind == "table" {
                        schema.bookkeeping.push(name);
                    }
                    continue;
                }
                let sql = r.get::<_, Option<String>>(3)?.map(|s| squash(&s));
                schema.objects.insert(SchemaObject { kind, name }, sql);
            }
            Ok(schema)
        };
        read().map_err(|e| {
            Error::db(
                "read sqlite_master",
                crate::sqlite::identity::file_of(conn).as_deref(),
            )(e)
        })
    }

    /// Whether the schema has a table named `name`, which SQLite compares
    /// without regard to ASCII case; bookkeeping tables count.
    fn has_table(&self, name: &str) -> bool {
        self.bookkeeping
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name))
            || self
                .objects
                .keys()
                .any(|o| o.kind == "table" && o.name.eq_ignore_ascii_case(name))
    }

    /// The objects, by type and name.
    #[cfg(test)]
    pub(crate) fn objects(&self) -> impl Iterator<Item = &SchemaObject> {
        self.objects.keys()
    }
}

/// What [`check`] compares against.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expectation<'a> {
    pub schema: Option<&'a Schema>,
    pub required_tables: &'a [String],
    pub exact: bool,
}

/// Compares `actual` with what is expected; the error lists every missing,
/// differing and (in exact mode) unexpected object.
pub(crate) fn check(
    actual: &Schema,
    want: &Expectation<'_>,
    database: Option<&Path>,
) -> Result<()> {
    let mut missing = Vec::new();
    let mut differing = Vec::new();
    let mut unexpected = Vec::new();
    if let Some(expected) = want.schema {
        for (object, sql) in &expected.objects {
            match actual.objects.get(object) {
                None => missing.push(object.clone()),
                Some(have) if have != sql => differing.push(object.clone()),
                Some(_) => {}
            }
        }
        if want.exact {
            unexpected.extend(
                actual
                    .objects
                    .keys()
                    .filter(|o| !expected.objects.contains_key(*o))
                    .filter(|o| {
                        !want
                            .required_tables
                            .iter()
                            .any(|t| o.kind == "table" && o.name.eq_ignore_ascii_case(t))
                    })
                    .cloned(),
            );
        }
    }
    for table in want.required_tables {
        let object = SchemaObject {
            kind: "table".into(),
            name: table.clone(),
        };
        if !actual.has_table(table) && !missing.contains(&object) {
            missing.push(object);
        }
    }
    if missing.is_empty() && differing.is_empty() && unexpected.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation {
            database: database.map(Path::to_path_buf),
            missing,
            differing,
            unexpected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(sql: &str) -> Schema {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        Schema::read(&conn).unwrap()
    }

    #[test]
    fn the_ledger_and_sqlite_internals_are_not_part_of_the_schema() {
        let s = schema_of(
            "CREATE TABLE _migrate_once_ledger(version INTEGER PRIMARY KEY);
             CREATE TABLE t(a TEXT UNIQUE); CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT);",
        );
        let names: Vec<_> = s.objects().map(|o| o.to_string()).collect();
        assert_eq!(names, ["table a", "table t"]);
    }

    #[test]
    fn missing_differing_and_unexpected_objects_are_all_listed() {
        let expected = schema_of(
            "CREATE TABLE a(x); CREATE TABLE b(y); CREATE INDEX bi ON b(y);
             CREATE VIEW v AS SELECT x FROM a;",
        );
        let actual = schema_of("CREATE TABLE a(x, z); CREATE TABLE extra(q);");
        let required = vec!["needed".to_string()];
        let want = Expectation {
            schema: Some(&expected),
            required_tables: &required,
            exact: true,
        };
        let Err(Error::Validation {
            missing,
            differing,
            unexpected,
            ..
        }) = check(&actual, &want, None)
        else {
            panic!("expected a validation error");
        };
        let names = |v: &[SchemaObject]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            names(&missing),
            ["index bi", "table b", "view v", "table needed"]
        );
        assert_eq!(names(&differing), ["table a"]);
        assert_eq!(names(&unexpected), ["table extra"]);
    }

    #[test]
    fn extras_are_allowed_unless_exact_and_whitespace_does_not_matter() {
        let expected = schema_of("CREATE TABLE a(x,   y);");
        let actual = schema_of("CREATE TABLE a(x,\n y); CREATE TABLE extra(q);");
        let want = Expectation {
            schema: Some(&expected),
            ..Expectation::default()
        };
        check(&actual, &want, None).unwrap();
    }
}
