//! What every command needs to work on Postgres (`--database-url`): the URL
//! read and checked, a name for the database that never shows a password,
//! a connection that waits for a server still starting, the ledgers read in
//! a read-only transaction, and a server to make temporary databases on
//! (`check` and `stress`).
//!
//! Built with the `postgres` feature only; without it, `--database-url` is
//! a usage error that says how to get a command that has it
//! ([`crate::args::database_url`]).

use std::time::{Duration, Instant};

use migrate_once::LedgerRow;
use migrate_once::postgres::{TestDatabase, TestServer};
use postgres::config::Host;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::status::AppRows;

/// How long a command tries to connect before it gives up, unless told
/// (`migrate --connect-timeout`): sqlx-cli's default. A container that
/// migrates at start-up often starts with its database server, which
/// refuses connections for a second or two before it accepts them.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `--database-url`, read.
#[derive(Debug, Clone)]
pub struct Url {
    /// Never printed as given (it may hold a password): [`Url::name`] is
    /// what messages show.
    pub config: Config,
    /// `--schema`: migrate and read this schema instead of the
    /// connection's current one.
    pub schema: Option<String>,
}

impl Url {
    /// Reads `text`; the error says why it is not a Postgres URL, without
    /// repeating it.
    pub fn parse(text: &str, schema: Option<String>) -> Result<Url, String> {
        let lower = text.trim_start().to_ascii_lowercase();
        if lower.starts_with("sqlite:") || lower.starts_with("file:") {
            return Err(
                "--database-url takes a Postgres URL (postgres://… or key=value …), \
                        not a SQLite one; for a SQLite file give --database PATH"
                    .into(),
            );
        }
        if lower.contains("://")
            && !(lower.starts_with("postgres://") || lower.starts_with("postgresql://"))
        {
            return Err(
                "--database-url takes a Postgres URL: postgres://… or postgresql://… \
                 (or a key=value connection string)"
                    .into(),
            );
        }
        let config: Config = text
            .parse()
            .map_err(|e| format!("--database-url does not parse as a Postgres URL: {e}"))?;
        if schema.as_deref().is_some_and(str::is_empty) {
            return Err("--schema is empty; give the schema's name".into());
        }
        Ok(Url { config, schema })
    }

    /// The database as messages and `--json` name it: `database shop
    /// (schema public) on db:5432`. No user, no password.
    pub fn name(&self) -> String {
        let c = &self.config;
        let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = c
                    .get_ports()
                    .get(i)
                    .or(c.get_ports().first())
                    .unwrap_or(&5432);
                match h {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(dir) => format!("{}:{port}", dir.display()),
                }
            })
            .collect();
        let on = if hosts.is_empty() {
            "localhost:5432".to_string()
        } else {
            hosts.join(",")
        };
        match &self.schema {
            Some(s) => format!("database {db} (schema {s}) on {on}"),
            None => format!("database {db} on {on}"),
        }
    }

    /// A connection, tried again while the server is not up yet (refused,
    /// starting up, shutting down, too many clients) until `timeout`.
    pub fn connect(&self, timeout: Duration) -> Result<Client, String> {
        connect(&self.config, &self.name(), timeout)
    }
}

/// See [`Url::connect`].
fn connect(config: &Config, name: &str, timeout: Duration) -> Result<Client, String> {
    let started = Instant::now();
    loop {
        match config.connect(NoTls) {
            Ok(client) => return Ok(client),
            Err(e) if may_come_up(&e) && started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(250).min(timeout));
            }
            Err(e) => {
                let tried = if may_come_up(&e) && !timeout.is_zero() {
                    format!(" (tried for {:.1} s)", started.elapsed().as_secs_f64())
                } else {
                    String::new()
                };
                return Err(format!("cannot connect to {name}{tried}: {}", chain(&e)));
            }
        }
    }
}

/// Whether a failure to connect may pass once the server is up: no
/// answer at all (refused, no socket, a timeout), or the server says it is
/// starting, stopping or full. A wrong password or database does not.
fn may_come_up(e: &postgres::Error) -> bool {
    match e.code() {
        Some(code) => [
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::TOO_MANY_CONNECTIONS,
        ]
        .contains(code),
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// An error with its causes, on one line: the driver's own `Display`
/// says only "error connecting to server".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// What a Postgres database has applied, read in a read-only transaction
/// (the server refuses any write in it, so nothing can change): the crate's
/// ledger, and the rows of sqlx's and diesel's, in `schema` (default: the
/// current one). `None` when that schema does not exist (nothing applied).
pub fn read_ledgers(
    client: &mut Client,
    schema: Option<&str>,
) -> Result<Option<(Vec<LedgerRow>, AppRows)>, String> {
    let err = |e: postgres::Error| chain(&e);
    client
        .batch_execute("BEGIN TRANSACTION READ ONLY")
        .map_err(err)?;
    let read = (|| {
        let exists: Option<String> = match schema {
            Some(s) => client
                .query_one(
                    "SELECT (SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                    &[&s],
                )
                .map_err(err)?
                .get(0),
            None => client
                .query_one("SELECT current_schema()::text", &[])
                .map_err(err)?
                .get(0),
        };
        let Some(schema) = exists else {
            return Ok(None);
        };
        client
            .batch_execute(&format!("SET LOCAL search_path TO {}", ident(&schema)))
            .map_err(err)?;
        let rows = migrate_once::postgres::ledger(client).map_err(|e| format!("{e:?}"))?;
        let mut apps = Vec::new();
        for tool in [
            migrate_once::AppLedger::Sqlx,
            migrate_once::AppLedger::Diesel,
        ] {
            let table = format!("{}.{}", ident(&schema), ident(tool.table()));
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .map_err(err)?
                .get(0);
            if exists {
                let versions = client
                    .query(
                        &format!("SELECT version::text FROM {table} ORDER BY version"),
                        &[],
                    )
                    .map_err(err)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                apps.push((tool, versions));
            }
        }
        Ok(Some((rows, apps)))
    })();
    let _ = client.batch_execute("ROLLBACK");
    read
}

/// `name` as a quoted identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The server's version, as `SHOW server_version` says it.
pub fn server_version(client: &mut Client) -> String {
    client
        .query_one("SHOW server_version", &[])
        .map(|r| r.get::<_, String>(0))
        .ok()
        .and_then(|v| v.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "(unknown version)".into())
}

/// Where `check` and `stress` make their temporary databases: the server
/// of `--database-url` (its role must be allowed to create databases), or
/// with `--postgres` a throwaway one started for the run.
pub struct Server {
    pub server: TestServer,
    /// How the output names it.
    pub name: String,
    pub version: String,
}

impl Server {
    /// The server of `--database-url URL`, or with `None` (`--postgres`) a
    /// throwaway one. `DATABASE_URL` is not read: a command asked for a
    /// throwaway server gets one.
    pub fn start(url: Option<&str>) -> Result<Server, String> {
        let (server, name) = match url {
            Some(url) => Url::parse(url, None).and_then(|u| {
                // Reached first with the retry, then handed to the library.
                drop(u.connect(DEFAULT_CONNECT_TIMEOUT)?);
                let name = format!("the server of --database-url ({})", u.name());
                TestServer::at(url)
                    .map(|s| (s, name))
                    .map_err(|e| e.to_string())
            })?,
            None => TestServer::start_throwaway()
                .map(|s| {
                    (
                        s,
                        "a throwaway server (initdb, removed at exit)".to_string(),
                    )
                })
                .map_err(|e| e.to_string())?,
        };
        let mut client = server.connect().map_err(|e| format!("{e:?}"))?;
        let version = server_version(&mut client);
        Ok(Server {
            server,
            name,
            version,
        })
    }
}

/// Where `check` and `stress` work: a temporary database of their own on
/// the server, or, when the role may not create databases, a schema of the
/// URL's database. Either is dropped with this handle.
pub enum Scratch {
    Database(Box<TestDatabase>),
    Schema {
        url: String,
        admin: Box<Client>,
        schema: String,
    },
}

impl Scratch {
    /// A new database; when the server refuses for want of privilege, the
    /// schema `schema` of the URL's database instead (made by whoever
    /// migrates it first).
    pub fn make(server: &Server, schema: String) -> Result<Scratch, String> {
        match server.server.create_database() {
            Ok(db) => Ok(Scratch::Database(Box::new(db))),
            Err(migrate_once::Error::Postgres { source, .. })
                if source.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) =>
            {
                let admin = server.server.connect().map_err(|e| format!("{e:?}"))?;
                Ok(Scratch::Schema {
                    url: server.server.url().to_string(),
                    admin: Box::new(admin),
                    schema,
                })
            }
            Err(e) => Err(format!("cannot make a temporary database: {e:?}")),
        }
    }

    /// The connection string of the database.
    pub fn url(&self) -> &str {
        match self {
            Scratch::Database(db) => db.url(),
            Scratch::Schema { url, .. } => url,
        }
    }

    /// A new connection to the database.
    pub fn connect(&self) -> Result<Client, String> {
        Client::connect(self.url(), NoTls).map_err(|e| chain(&e))
    }

    /// As the output names it.
    pub fn describe(&self) -> String {
        match self {
            Scratch::Database(db) => format!("a temporary database ({})", db.name()),
            Scratch::Schema { schema, .. } => {
                format!("a temporary schema ({schema}; the role may not create databases)")
            }
        }
    }

    /// The schema to work in, when it is a schema.
    pub fn schema(&self) -> Option<&str> {
        match self {
            Scratch::Database(_) => None,
            Scratch::Schema { schema, .. } => Some(schema),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A database is dropped by its own handle (on a throwaway server,
        // with the server).
        if let Scratch::Schema { admin, schema, .. } = self {
            let _ =
                admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(schema)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_named_by_its_name_and_host_never_by_its_user_or_password() {
        let url = "postgres://app:s3cret@db.internal:6432/shop?sslmode=disable";
        let u = Url::parse(url, None).unwrap();
        assert_eq!(u.name(), "database shop on db.internal:6432");
        let url = "host=/run/postgresql user=app password=s3cret dbname=shop";
        let u = Url::parse(url, Some("tenant".into())).unwrap();
        assert_eq!(
            u.name(),
            "database shop (schema tenant) on /run/postgresql:5432"
        );
        // No database named: Postgres's default, the user's name.
        let u = Url::parse("postgres://app@db", None).unwrap();
        assert_eq!(u.name(), "database app on db:5432");
    }

    #[test]
    fn only_a_postgres_url_is_taken_and_the_refusal_does_not_repeat_it() {
        for ok in ["postgres://h/d", "postgresql://h/d", "host=h dbname=d"] {
            assert!(Url::parse(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "sqlite:app.db",
            "sqlite://app.db?mode=rwc",
            "file:app.db",
            "mysql://u:s3cret@h/d",
            "postgres://u:s3cret@h:notaport/d",
        ] {
            let why = Url::parse(bad, None).unwrap_err();
            assert!(!why.contains("s3cret"), "{bad}: {why}");
        }
        assert!(Url::parse("postgres://h/d", Some(String::new())).is_err());
    }
}
