//! A shared or test Postgres database as other drivers name it: sqlx's
//! `PgConnectOptions` and `PgPool` (0.8 and 0.9), and tokio-postgres's
//! `Config`. Each connects to the database (and schema) the `SharedDb` was
//! opened on and validated, or the `TestDb` was copied into. (diesel's
//! `PgConnection` needs the system's libpq, which this crate does not bring
//! in.)

use postgres::config::Host;

use super::SharedDb;
#[cfg(unix)]
use super::TestDb;

/// The handles of one database type, written once for `SharedDb` and
/// `TestDb` (each has `config()`, `schema()` and `pool_size()`).
macro_rules! handles {
    ($ty:ident, $example:literal) => {
        impl $ty {
            /// A tokio-postgres `Config` for this database; with a
            /// [`schema`](super::SharedDbBuilder::schema), its connections start with
            /// `search_path` set to it.
            ///
            #[doc = $example]
            pub fn tokio_postgres_config(&self) -> tokio_postgres::Config {
                let c = self.config();
                let mut t = tokio_postgres::Config::new();
                for host in c.get_hosts() {
                    match host {
                        Host::Tcp(h) => t.host(h),
                        Host::Unix(p) => t.host_path(p),
                    };
                }
                for port in c.get_ports() {
                    t.port(*port);
                }
                if let Some(user) = c.get_user() {
                    t.user(user);
                }
                if let Some(password) = c.get_password() {
                    t.password(password);
                }
                if let Some(dbname) = c.get_dbname() {
                    t.dbname(dbname);
                }
                if let Some(name) = c.get_application_name() {
                    t.application_name(name);
                }
                if let Some(options) = self.startup_options() {
                    t.options(&options);
                }
                t
            }

            /// `-c search_path=…` for the shared schema, added to the connection
            /// string's own options; `None` when there is neither.
            fn startup_options(&self) -> Option<String> {
                let own = self.config().get_options().map(str::to_string);
                let schema = self.schema().map(|s| {
                    format!(
                        "-c search_path={}",
                        s.replace('\\', "\\\\").replace(' ', "\\ ")
                    )
                });
                match (own, schema) {
                    (Some(a), Some(b)) => Some(format!("{a} {b}")),
                    (a, b) => a.or(b),
                }
            }
        }
    };
}

handles!(
    SharedDb,
    "```
# let db = migrate_once::postgres::TestServer::shared()?.create_database()?;
# let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, \"users\",
#     \"CREATE TABLE users (id bigserial PRIMARY KEY, email text);\")])?;
let shared = migrate_once::postgres::SharedDb::builder(db.url()).schema(\"s\").open(&set)?;
let config = shared.tokio_postgres_config();
assert_eq!(config.get_options(), Some(\"-c search_path=s\"));
# Ok::<(), Box<dyn std::error::Error>>(())
```"
);
#[cfg(unix)]
handles!(
    TestDb,
    "```
# let set = migrate_once::Migrations::new(vec![migrate_once::Migration::new(1, \"users\",
#     \"CREATE TABLE users (id bigserial PRIMARY KEY, email text);\")])?;
let db = migrate_once::postgres::TestDb::new(&set)?;
let config = db.tokio_postgres_config();
assert_eq!(config.get_dbname(), Some(db.name()));
# Ok::<(), Box<dyn std::error::Error>>(())
```"
);

/// One module per sqlx version, as on the SQLite side.
macro_rules! sqlx_handles {
    ($ty:ident, $feature:literal, $sqlx:ident, $options:ident, $pool:ident, $version:literal) => {
        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        impl $ty {
            #[doc = concat!("sqlx ", $version, "'s `PgConnectOptions` for this database;")]
            /// with a schema of its own (a `SharedDb`'s
            /// [`schema`](super::SharedDbBuilder::schema)), `search_path` is
            /// set to it.
            pub fn $options(&self) -> $sqlx::postgres::PgConnectOptions {
                let c = self.config();
                let mut o = $sqlx::postgres::PgConnectOptions::new_without_pgpass();
                if let Some(host) = c.get_hosts().first() {
                    o = match host {
                        Host::Tcp(h) => o.host(h),
                        Host::Unix(p) => o.socket(p),
                    };
                }
                if let Some(port) = c.get_ports().first() {
                    o = o.port(*port);
                }
                if let Some(user) = c.get_user() {
                    o = o.username(user);
                }
                if let Some(password) = c.get_password() {
                    o = o.password(&String::from_utf8_lossy(password));
                }
                if let Some(dbname) = c.get_dbname() {
                    o = o.database(dbname);
                }
                if let Some(schema) = self.schema() {
                    o = o.options([("search_path", schema)]);
                }
                o
            }

            #[doc = concat!("A lazy sqlx ", $version, " `PgPool` over [`", stringify!($options), "`](Self::", stringify!($options), "):")]
            /// it connects on first use, at most as many connections as the
            /// builder's `pool_size` (4 by default).
            /// Call it inside the async runtime (sqlx starts the pool's
            /// maintenance task there).
            pub fn $pool(&self) -> $sqlx::PgPool {
                $sqlx::postgres::PgPoolOptions::new()
                    .max_connections(self.pool_size())
                    .connect_lazy_with(self.$options())
            }
        }
    };
}

sqlx_handles!(
    SharedDb,
    "postgres-sqlx-0_8",
    sqlx08,
    sqlx_0_8_options,
    sqlx_0_8_pool,
    "0.8"
);
sqlx_handles!(
    SharedDb,
    "postgres-sqlx-0_9",
    sqlx09,
    sqlx_0_9_options,
    sqlx_0_9_pool,
    "0.9"
);
#[cfg(unix)]
sqlx_handles!(
    TestDb,
    "postgres-sqlx-0_8",
    sqlx08,
    sqlx_0_8_options,
    sqlx_0_8_pool,
    "0.8"
);
#[cfg(unix)]
sqlx_handles!(
    TestDb,
    "postgres-sqlx-0_9",
    sqlx09,
    sqlx_0_9_options,
    sqlx_0_9_pool,
    "0.9"
);
