//! A schema's objects as `pg_catalog` describes them, recorded when the
//! migrator applies anything and compared on validation.
//!
//! Postgres has no template here to say what a set's schema should look
//! like, so the migrator records it: in the transaction that writes ledger
//! rows, after the migrations ran, each object of the schema (tables with
//! their columns and constraints, indexes, views, sequences, functions,
//! types, triggers) as kind, name and an MD5 of its definition, kept as the
//! comment on the ledger table. The record changes only with the ledger,
//! in the same transaction. Validation reads the objects again and names
//! each one missing or changed. The ledgers themselves are not objects.
//!
//! Definitions are read with `search_path` set to `pg_catalog` alone, so
//! that `pg_get_viewdef` and friends qualify every name alike, whatever the
//! reading connection's `search_path`.

use postgres::Client;

use crate::app_ledger::AppLedger;
use crate::bookkeeping::LEDGER_TABLE;
use crate::error::{Result, SchemaObject};

use super::migrator::{Target, literal};

/// The first line of a record, so that a comment someone else wrote is
/// not read as one.
const HEADER: &str = "migrate-once schema v1";

/// Every object of schema `$1` but the ledgers (`$2`), as kind, name and
/// the MD5 of its definition.
const OBJECTS: &str = "
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
SELECT kind, name, md5(coalesce(def, '')) FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
         c.relname::text AS name,
         CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)
              ELSE coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                 || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                                 || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''),
                               ', ' ORDER BY a.attnum)
                             FROM pg_attribute a
                             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                   || coalesce((SELECT '; ' || string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), '; '
                                                       ORDER BY k.conname)
                                FROM pg_constraint k WHERE k.conrelid = c.oid), '')
         END AS def
  FROM pg_class c
  WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    AND NOT c.relname = ANY($2)
  UNION ALL
  SELECT 'index', c.relname::text, pg_get_indexdef(c.oid)
  FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid
  WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT t.relname = ANY($2)
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         pg_get_function_result(p.oid) || ' ' || p.prosrc
  FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
  UNION ALL
  SELECT 'type', t.typname::text,
         CASE t.typtype
           WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                          FROM pg_enum e WHERE e.enumtypid = t.oid)
           WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
           ELSE t.typtype::text END
  FROM pg_type t
  WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'r', 'm')
  UNION ALL
  SELECT 'trigger', tg.tgname || ' on ' || c.relname, pg_get_triggerdef(tg.oid)
  FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
  WHERE c.relnamespace = (SELECT oid FROM ns) AND NOT tg.tgisinternal AND NOT c.relname = ANY($2)
) o ORDER BY kind, name";

/// The schema's objects: (kind, name, digest of the definition).
type Objects = Vec<(String, String, String)>;

/// Reads the objects of `target`'s schema. Inside a transaction already
/// open: `SET LOCAL` changes `search_path` for the rest of it only.
fn read_in_transaction(client: &mut Client, target: &Target) -> Result<Objects> {
    let ledgers: Vec<&str> = std::iter::once(LEDGER_TABLE)
        .chain(AppLedger::ALL.iter().map(|t| t.table()))
        .collect();
    client
        .batch_execute("SET LOCAL search_path TO pg_catalog")
        .and_then(|()| client.query(OBJECTS, &[&target.schema, &ledgers]))
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()
        })
        .map_err(target_err(target, "read the schema from pg_catalog"))
}

fn target_err<'t>(
    target: &'t Target,
    context: &'static str,
) -> impl FnOnce(postgres::Error) -> crate::Error + 't {
    move |source| crate::Error::Postgres {
        context,
        database: target.description.clone(),
        source: std::sync::Arc::new(source),
    }
}

/// Records the objects of `target`'s schema on its ledger table. Runs
/// inside the migrator's transaction, last: it changes `search_path` for
/// the rest of the transaction.
pub(crate) fn record(client: &mut Client, target: &Target) -> Result<()> {
    let objects = read_in_transaction(client, target)?;
    let mut text = String::from(HEADER);
    for (kind, name, digest) in &objects {
        text.push_str(&format!("\n{kind}\t{name}\t{digest}"));
    }
    client
        .batch_execute(&format!(
            "COMMENT ON TABLE {} IS {}",
            target.qualified(LEDGER_TABLE),
            literal(&text)
        ))
        .map_err(target_err(target, "record the migrated schema"))
}

/// How a schema differs from its record.
#[derive(Default)]
pub(crate) struct Diff {
    pub missing: Vec<SchemaObject>,
    pub differing: Vec<SchemaObject>,
    pub unexpected: Vec<SchemaObject>,
}

/// Compares `target`'s schema with its record; `required_tables` must
/// exist too, and with `exact` nothing unrecorded may.
pub(crate) fn compare(
    client: &mut Client,
    target: &Target,
    required_tables: &[String],
    exact: bool,
) -> Result<Diff> {
    let read = |client: &mut Client| -> Result<(Objects, Option<String>)> {
        client
            .batch_execute("BEGIN READ ONLY")
            .map_err(target_err(target, "read the schema from pg_catalog"))?;
        let objects = read_in_transaction(client, target)?;
        let comment = client
            .query_opt(
                "SELECT d.description FROM pg_description d
                 JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
                      AND d.objsubid = 0
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&target.schema, &LEDGER_TABLE],
            )
            .map_err(target_err(target, "read the recorded schema"))?
            .map(|r| r.get::<_, String>(0));
        client
            .batch_execute("COMMIT")
            .map_err(target_err(target, "read the schema from pg_catalog"))?;
        Ok((objects, comment))
    };
    let (objects, comment) = match read(client) {
        Ok(read) => read,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            return Err(e);
        }
    };
    let recorded: Objects = comment
        .as_deref()
        .and_then(|c| c.strip_prefix(HEADER))
        .map(|body| {
            body.lines()
                .filter_map(|l| {
                    let mut parts = l.splitn(3, '\t');
                    Some((
                        parts.next()?.to_string(),
                        parts.next()?.to_string(),
                        parts.next()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let object = |kind: &str, name: &str| SchemaObject {
        kind: kind.to_string(),
        name: name.to_string(),
    };
    let mut diff = Diff::default();
    for (kind, name, digest) in &recorded {
        match objects.iter().find(|(k, n, _)| k == kind && n == name) {
            None => diff.missing.push(object(kind, name)),
            Some((_, _, d)) if d != digest => diff.differing.push(object(kind, name)),
            Some(_) => {}
        }
    }
    for table in required_tables {
        let found = objects.iter().any(|(k, n, _)| k == "table" && n == table);
        if !found
            && !diff
                .missing
                .iter()
                .any(|o| o.kind == "table" && o.name == *table)
        {
            diff.missing.push(object("table", table));
        }
    }
    if exact {
        diff.unexpected = objects
            .iter()
            .filter(|(k, n, _)| !recorded.iter().any(|(rk, rn, _)| rk == k && rn == n))
            .filter(|(k, n, _)| !(k == "table" && required_tables.contains(n)))
            .map(|(k, n, _)| object(k, n))
            .collect();
    }
    Ok(diff)
}
