//! The application's database set-up, as many projects write it: a schema
//! run with `execute_batch`, then reference rows inserted in Rust. Safe to
//! run on every start (`IF NOT EXISTS`, `INSERT OR IGNORE`).

use rusqlite::Connection;

/// The schema, run whole at start-up.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS roles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role_id INTEGER NOT NULL REFERENCES roles(id)
);
CREATE INDEX IF NOT EXISTS accounts_by_role ON accounts(role_id);
";

/// The roles every installation has.
pub const ROLES: [&str; 3] = ["admin", "editor", "viewer"];

/// Creates the schema and seeds the roles: what the application runs when
/// it opens its database.
pub fn init(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let mut insert = conn.prepare("INSERT OR IGNORE INTO roles (name) VALUES (?1)")?;
    for role in ROLES {
        insert.execute([role])?;
    }
    Ok(())
}

/// Opens the database at `path` and sets it up.
pub fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    init(&conn)?;
    Ok(conn)
}
