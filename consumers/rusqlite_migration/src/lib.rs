//! The application's migrations, written the way rusqlite_migration's docs
//! show: SQL strings with their down migrations, and one migration with a
//! hook in Rust that fills a column from existing rows.

use rusqlite::Transaction;
use rusqlite_migration::{HookResult, Migrations, M};

/// The SQL of each migration, also what the test template's key is made of
/// (see `tests/`), so that an edit to any of them builds a new template.
pub const SQL: [&str; 3] = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
     INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com');",
    "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), title TEXT NOT NULL);",
    "ALTER TABLE users ADD COLUMN domain TEXT;",
];

/// Fills `users.domain` from each email: a migration rusqlite_migration
/// runs in Rust, inside the migration's transaction.
fn fill_domains(tx: &Transaction) -> HookResult {
    let mut select = tx.prepare("SELECT id, email FROM users")?;
    let rows: Vec<(i64, String)> = select
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, email) in rows {
        let domain = email.split_once('@').map_or("", |(_, d)| d);
        tx.execute("UPDATE users SET domain = ?1 WHERE id = ?2", (domain, id))?;
    }
    Ok(())
}

/// The migrations, newest last.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(SQL[0]).down("DROP TABLE users;"),
        M::up(SQL[1]).down("DROP TABLE posts;"),
        M::up_with_hook(SQL[2], fill_domains).down("ALTER TABLE users DROP COLUMN domain;"),
    ])
}

/// The version `to_latest` leaves in `PRAGMA user_version`.
pub const LATEST: i64 = SQL.len() as i64;
