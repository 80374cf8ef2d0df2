//! Template databases, one per set, and the clones made from them: what a
//! Postgres [`TestDb`](super::TestDb) is built on. pgtestdb's scheme, with
//! what it leaves to chance written down.
//!
//! # Names
//!
//! - `migrate_once_tpl_<key>`: the template of a set, `<key>` 24 hex digits
//!   of a SHA-256 over everything that shapes it (the set's hash, which
//!   covers every migration's bytes and the app ledgers kept; whether the
//!   crate's own ledger stays in it; this crate's version). A changed set
//!   is a new name; an old template is never reused for it.
//!   The template of a user's function ([`TemplateFn`](super::TemplateFn))
//!   has a name of the same form, its hash over the user's key and this
//!   crate's version, under a first part of its own (no set's name is a
//!   function's): a changed key is a new name.
//! - `migrate_once_bld_<owner>_<key>`: a template while it is built.
//! - `migrate_once_db_<owner>_<16 hex>`: a test's clone.
//!
//! `<owner>` is 8 hex digits that a process picks at random and holds, for
//! its life, as a shared advisory lock (`pg_advisory_lock_shared(OWNERS,
//! owner)`) on one session of its own (the keeper). Every clone and every
//! build is made after that lock is held.
//!
//! # Built once, never used half-built
//!
//! A process that finds no template takes a session advisory lock for its
//! key (waiting while another process builds), looks again, and if there
//! is still none: creates `…_bld_…`, migrates it with the crate's migrator
//! (the same transaction, lock and checks as anywhere), validates it, drops
//! the crate's ledger if the clones must not show it (or, for a
//! [`TemplateFn`](super::TemplateFn), runs the user's function and checks
//! that it left a table), disconnects, marks it
//! `IS_TEMPLATE true ALLOW_CONNECTIONS false`, and only then renames it to
//! its template name: the last step publishes it. A template is whatever
//! has that name and `datistemplate`; a build killed at any instant leaves
//! at most a `…_bld_…` database of a dead owner, which the next process
//! drops. Two builders that do not share a lock (two maintenance
//! databases) both build, and the second's rename fails: it drops its copy
//! and uses the first one's.
//!
//! # Copies
//!
//! `CREATE DATABASE … TEMPLATE` fails while anyone is connected to the
//! template ("source database is being accessed by other users"). A
//! template refuses connections (`ALLOW_CONNECTIONS false`, which binds
//! superusers too), and its builder disconnected before it was published,
//! so only a lingering backend or autovacuum can be in it; the server
//! waits up to 5 s for those itself, and a copy that still finds one tries
//! again for up to 30 s. Copies of one template at the same time are
//! allowed by the server (they share its lock).
//!
//! # Sweeping
//!
//! - A clone or a build whose owner's lock is gone (its process died, or
//!   ended before its clones were dropped) is dropped by the first
//!   [`TestDb`](super::TestDb) of each later process on that server: the
//!   databases are listed first, then `pg_locks` (which shows every
//!   database's locks), so a clone listed was made after its owner's lock
//!   was taken, and a lock not held then is gone for good. A clone kept
//!   after a failed test (its comment says so) stays until you drop it.
//! - A template records on its comment the day it was last used (written
//!   at most once a day). When a process builds a template, it drops the
//!   templates of this crate not used for [`TEMPLATE_TTL_DAYS`] days.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use postgres::{Client, Config, NoTls};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::registry::OnceMap;
use crate::report::Report;

use super::migrator::{Migrator, ident, literal, validate};

/// The advisory-lock namespace (first key) of the owners' locks: "moc1".
const OWNERS: i32 = 0x6d6f_6331;
/// The advisory-lock namespace of template builds: "mot1".
const BUILDS: i32 = 0x6d6f_7431;

/// Templates not used for this many days are dropped when a process builds
/// a template on that server.
pub const TEMPLATE_TTL_DAYS: u32 = 7;

const TEMPLATE_PREFIX: &str = "migrate_once_tpl_";
const BUILD_PREFIX: &str = "migrate_once_bld_";
const CLONE_PREFIX: &str = "migrate_once_db_";
const READY_PREFIX: &str = "migrate_once_rdy_";
/// Copies of one template kept ready on a server, at most.
const READY_MAX: i64 = 2;
/// The first words of the comment on a kept clone.
const KEPT: &str = "migrate-once: kept";
/// The first words of the comment on a template.
const TEMPLATE_NOTE: &str = "migrate-once template";

/// How long a copy keeps trying while the template is being accessed.
const BUSY_FOR: Duration = Duration::from_secs(30);

/// A server as the templates see it: its maintenance database (the one the
/// URL names, where databases are created from), its version, and this
/// process's owner lock on it.
pub(crate) struct Server {
    pub url: String,
    pub config: Config,
    /// `server_version_num`.
    version: u32,
    /// This process's owner number on this server.
    owner: u32,
    /// The session that holds the owner lock, for the process's life.
    _keeper: Mutex<Client>,
    /// Connections to the maintenance database, reused.
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &super::redacted(&self.url))
            .field("owner", &format_args!("{:08x}", self.owner))
            .finish()
    }
}

/// The servers this process made clones on, by URL.
static SERVERS: OnceMap<String, Arc<Server>> = OnceMap::new();

/// Templates this process found or built, by server URL and name; the
/// value is the migrator's report when this process built it.
static TEMPLATES: OnceMap<(String, String), Option<Report>> = OnceMap::new();

pub(crate) fn pg_err<'u>(
    url: &'u str,
    context: &'static str,
) -> impl FnOnce(postgres::Error) -> Error + 'u {
    move |source| Error::Postgres {
        context,
        database: super::redacted(url),
        source: Arc::new(source),
    }
}

/// The server at `url`, once per process: connects the keeper, takes the
/// owner lock, and sweeps what dead owners left.
pub(crate) fn server(url: &str) -> Result<Arc<Server>> {
    SERVERS.get_or_init(
        url.to_string(),
        || {
            let config: Config = url
                .parse()
                .map_err(pg_err(url, "read the connection string"))?;
            let mut keeper = config
                .connect(NoTls)
                .map_err(pg_err(url, "connect to the server"))?;
            let version: u32 = keeper
                .query_one("SELECT current_setting('server_version_num')::int", &[])
                .map_err(pg_err(url, "ask the server's version"))?
                .get::<_, i32>(0)
                .try_into()
                .unwrap_or(0);
            let owner = u32::from_le_bytes(
                uuid::Uuid::new_v4().as_bytes()[..4]
                    .try_into()
                    .expect("4 bytes"),
            );
            keeper
                .execute(
                    "SELECT pg_advisory_lock_shared($1, $2)",
                    &[&OWNERS, &(owner as i32)],
                )
                .map_err(pg_err(url, "take this process's owner lock"))?;
            let server = Server {
                url: url.to_string(),
                config,
                version,
                owner,
                _keeper: Mutex::new(keeper),
                idle: Mutex::new(Vec::new()),
            };
            let _ = server.sweep_dead_owners();
            Ok(Arc::new(server))
        },
        |_| false,
    )
}

impl Server {
    /// A connection to the maintenance database, from the idle ones if any.
    fn admin(&self) -> Result<Admin<'_>> {
        let client = match self.idle.lock().pop() {
            Some(c) if !c.is_closed() => c,
            _ => self
                .config
                .connect(NoTls)
                .map_err(pg_err(&self.url, "connect to the server"))?,
        };
        Ok(Admin {
            server: self,
            client: Some(client),
        })
    }

    fn err(&self, context: &'static str) -> impl FnOnce(postgres::Error) -> Error + '_ {
        pg_err(&self.url, context)
    }

    /// `DROP DATABASE`, terminating connections still in it where the
    /// server can (13 and later).
    fn drop_sql(&self, name: &str) -> String {
        let force = if self.version >= 130_000 {
            " WITH (FORCE)"
        } else {
            ""
        };
        format!("DROP DATABASE IF EXISTS {}{force}", ident(name))
    }

    /// Drops `name` (a clone of this process's).
    pub(crate) fn drop_database(&self, name: &str) -> Result<()> {
        let mut admin = self.admin()?;
        admin
            .batch_execute(&self.drop_sql(name))
            .map_err(self.err("drop a test database"))
    }

    /// Marks the clone `name` as kept, so that no sweep drops it.
    pub(crate) fn keep(&self, name: &str, why: &str) -> Result<()> {
        let mut admin = self.admin()?;
        admin
            .batch_execute(&format!(
                "COMMENT ON DATABASE {} IS {}",
                ident(name),
                literal(&format!("{KEPT}: {why}"))
            ))
            .map_err(self.err("mark a test database as kept"))
    }

    /// A new name for a clone of this process's.
    fn clone_name(&self) -> String {
        format!(
            "{CLONE_PREFIX}{:08x}_{}",
            self.owner,
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        )
    }

    /// A new clone of `template` (or an empty database), named for this
    /// process.
    pub(crate) fn clone_of(&self, template: Option<&str>) -> Result<String> {
        let name = self.clone_name();
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {} TEMPLATE {}", ident(&name), ident(t)),
            None => format!("CREATE DATABASE {}", ident(&name)),
        };
        let mut admin = self.admin()?;
        copy_into(&mut admin, &sql)
            .map(|()| name)
            .map_err(self.err("copy the template into a test database"))
    }

    /// A copy of `template` made ahead (by this process or another),
    /// renamed to a name of this process's: the rename is atomic, so two
    /// processes never take the same one. `None` if none is ready: the
    /// caller copies for itself. (Waiting instead for a copy under way,
    /// seen in `pg_stat_activity`, was measured and dropped: the polling
    /// cost the server more than it saved, and the median wait grew.)
    pub(crate) fn claim_ready(&self, template: &str) -> Option<String> {
        let mut admin = self.admin().ok()?;
        let ready: Vec<String> = admin
            .query(
                "SELECT datname::text FROM pg_database
                 WHERE starts_with(datname::text, $1) ORDER BY oid",
                &[&ready_prefix(template)],
            )
            .ok()?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for copy in ready {
            let name = self.clone_name();
            let taken = admin.batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                ident(&copy),
                ident(&name)
            ));
            // Otherwise another process took it first: the next one.
            if taken.is_ok() {
                return Some(name);
            }
        }
        None
    }

    /// Makes one copy of `template` ready for a later test, unless
    /// [`READY_MAX`] are ready.
    pub(crate) fn prepare(&self, template: &str) -> Result<()> {
        let mut admin = self.admin()?;
        let prefix = ready_prefix(template);
        let ready: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_database WHERE starts_with(datname::text, $1)",
                &[&prefix],
            )
            .map_err(self.err("count the copies made ahead"))?
            .get(0);
        if ready >= READY_MAX {
            return Ok(());
        }
        let name = format!(
            "{prefix}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        copy_into(
            &mut admin,
            &format!(
                "CREATE DATABASE {} TEMPLATE {}",
                ident(&name),
                ident(template)
            ),
        )
        .map_err(self.err("copy the template ahead"))
    }

    /// Drops the clones and builds of owners whose lock is gone.
    fn sweep_dead_owners(&self) -> Result<usize> {
        let mut admin = self.admin()?;
        // Databases first, then the locks: see the module docs.
        let rows = admin
            .query(
                "SELECT datname::text, coalesce(shobj_description(oid, 'pg_database'), '')
                 FROM pg_database WHERE datname LIKE 'migrate\\_once\\_db\\_%'
                                     OR datname LIKE 'migrate\\_once\\_bld\\_%'",
                &[],
            )
            .map_err(self.err("list test databases"))?;
        let live: Vec<u32> = admin
            .query(
                "SELECT objid::text FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = $1::int::oid AND objsubid = 2
                   AND granted",
                &[&OWNERS],
            )
            .map_err(self.err("read the owners' locks"))?
            .iter()
            .filter_map(|r| r.get::<_, String>(0).parse().ok())
            .collect();
        let mut dropped = 0;
        for row in rows {
            let (name, comment): (String, String) = (row.get(0), row.get(1));
            let Some(owner) = owner_of(&name) else {
                continue;
            };
            if live.contains(&owner) || comment.starts_with(KEPT) {
                continue;
            }
            if admin.batch_execute(&self.drop_sql(&name)).is_ok() {
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Drops the templates of this crate not used for [`TEMPLATE_TTL_DAYS`]
    /// days; one in use is left (the drop gives up after a second).
    fn sweep_old_templates(&self) -> Result<()> {
        let mut admin = self.admin()?;
        let old: Vec<String> = admin
            .query(
                "SELECT datname::text FROM pg_database
                 WHERE datname LIKE 'migrate\\_once\\_tpl\\_%'
                   AND coalesce(substring(shobj_description(oid, 'pg_database')
                                          FROM 'last used (\\d{4}-\\d{2}-\\d{2})'), '0001-01-01')::date
                       < current_date - $1::int",
                &[&(TEMPLATE_TTL_DAYS as i32)],
            )
            .map_err(self.err("list old templates"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for name in old {
            // One statement at a time: a multi-statement query is one
            // transaction, and DROP DATABASE cannot run in one.
            let _ = admin.batch_execute("SET lock_timeout = '1s'");
            let _ = admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} WITH IS_TEMPLATE false",
                    ident(&name)
                ))
                .and_then(|()| admin.batch_execute(&self.drop_sql(&name)));
            let _ = admin.batch_execute("RESET lock_timeout");
            // Its copies made ahead go with it.
            let ready: Vec<String> = admin
                .query(
                    "SELECT datname::text FROM pg_database WHERE starts_with(datname::text, $1)",
                    &[&ready_prefix(&name)],
                )
                .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                .unwrap_or_default();
            for copy in ready {
                let _ = admin.batch_execute(&self.drop_sql(&copy));
            }
        }
        Ok(())
    }

    /// Whether the template `name` is there, published; and records today
    /// as the day it was last used if it is not recorded yet.
    fn template_ready(&self, admin: &mut Client, name: &str) -> Result<bool> {
        let row = admin
            .query_opt(
                "SELECT datistemplate, coalesce(shobj_description(oid, 'pg_database'), '')
                        LIKE '%last used ' || current_date::text || '%'
                 FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .map_err(self.err("look for the template"))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let (is_template, touched): (bool, bool) = (row.get(0), row.get(1));
        if is_template && !touched {
            // Once a day, for the sweep; a failure only delays it.
            let note = format!("{TEMPLATE_NOTE}; last used {}", today(admin));
            let _ = admin.batch_execute(&format!(
                "SET lock_timeout = '1s'; COMMENT ON DATABASE {} IS {}; RESET lock_timeout",
                ident(name),
                literal(&note)
            ));
            let _ = admin.batch_execute("RESET lock_timeout");
        }
        Ok(is_template)
    }

    /// The template of `set` on this server, found or built; once per
    /// process. With it, the migrator's report if this call built it.
    pub(crate) fn template(
        &self,
        set: &Migrations,
        ledger: bool,
    ) -> Result<(String, Option<Report>)> {
        let name = template_name(set, ledger);
        let note = format!("set {}", set.hash());
        self.template_filled_by(&name, &note, |_| false, &|client, _, url| {
            let report = Migrator::new(set).migrate(client)?;
            validate(client, set)?;
            if !ledger {
                client
                    .batch_execute(&format!(
                        "DROP TABLE {}",
                        ident(crate::bookkeeping::LEDGER_TABLE)
                    ))
                    .map_err(pg_err(url, "leave the crate's ledger out of the template"))?;
            }
            Ok(Some(report))
        })
    }

    /// The template of a user's function on this server, found or built
    /// (the function run) once per process while it succeeds; a failure is
    /// not remembered.
    pub(crate) fn template_of_fn(&self, f: &super::TemplateFn) -> Result<String> {
        let note = format!("function, key {:?}", f.key());
        let (name, _) = self.template_filled_by(
            &f.template_name(),
            &note,
            |_| true,
            &|client, config, url| f.fill(client, config, url).map(|()| None),
        )?;
        Ok(name)
    }

    /// The template `name` on this server, found or built, once per
    /// process: built by `fill`, given a connection to the database being
    /// built (and that database's URL, for errors), which migrates and
    /// checks it and returns what to report. `note` goes on the template's
    /// comment; a failure `retry` picks out is not remembered (the next
    /// call builds again). With the name, `fill`'s report if this call
    /// built it.
    pub(crate) fn template_filled_by(
        &self,
        name: &str,
        note: &str,
        retry: impl Fn(&Error) -> bool,
        fill: &Fill<'_>,
    ) -> Result<(String, Option<Report>)> {
        let mut here = false;
        let report = TEMPLATES.get_or_init(
            (self.url.clone(), name.to_string()),
            || {
                here = true;
                self.find_or_build(name, note, fill)
            },
            retry,
        )?;
        // Only the call that built it reports it.
        Ok((name.to_string(), report.filter(|_| here)))
    }

    /// Forgets that this process found the template: it was dropped
    /// meanwhile (swept), and is to be built again.
    pub(crate) fn forget_template(&self, name: &str) {
        TEMPLATES.forget(&(self.url.clone(), name.to_string()));
    }

    fn find_or_build(&self, name: &str, note: &str, fill: &Fill<'_>) -> Result<Option<Report>> {
        let mut admin = self.admin()?;
        if self.template_ready(&mut admin, name)? {
            return Ok(None);
        }
        // A session of its own holds the build lock: it dies with it.
        let mut lock = self
            .config
            .connect(NoTls)
            .map_err(self.err("connect to the server"))?;
        let key = u32::from_str_radix(&name[TEMPLATE_PREFIX.len()..][..8], 16).unwrap_or(0) as i32;
        lock.batch_execute("SET lock_timeout = '10min'")
            .and_then(|()| lock.execute("SELECT pg_advisory_lock($1, $2)", &[&BUILDS, &key]))
            .map_err(self.err("wait for the template's build lock"))?;
        if self.template_ready(&mut admin, name)? {
            return Ok(None);
        }
        let building = format!(
            "{BUILD_PREFIX}{:08x}_{}",
            self.owner,
            &name[TEMPLATE_PREFIX.len()..]
        );
        admin
            .batch_execute(&self.drop_sql(&building))
            .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {}", ident(&building))))
            .map_err(self.err("create the template database"))?;
        let built = self.build_in(&mut admin, fill, note, &building, name);
        if built.is_err() {
            let _ = admin.batch_execute(&self.drop_sql(&building));
        }
        let report = built?;
        drop(lock);
        let _ = self.sweep_old_templates();
        Ok(report)
    }

    /// Fills `building` with `fill`, and publishes it as `name`; `None` if
    /// another builder published one first.
    fn build_in(
        &self,
        admin: &mut Client,
        fill: &Fill<'_>,
        note: &str,
        building: &str,
        name: &str,
    ) -> Result<Option<Report>> {
        let mut config = self.config.clone();
        config.dbname(building);
        let url = super::server::with_dbname(&self.url, building);
        let mut client = config
            .connect(NoTls)
            .map_err(pg_err(&url, "connect to the template database"))?;
        let report = fill(&mut client, &config, &url)?;
        drop(client);
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {0} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true",
                ident(building)
            ))
            .map_err(self.err("mark the template"))?;
        match admin.batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(building),
            ident(name)
        )) {
            Ok(()) => {}
            // Published meanwhile by a builder that did not share our lock.
            Err(e) if is_code(&e, "42P04") => {
                let _ = admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {} WITH IS_TEMPLATE false",
                        ident(building)
                    ))
                    .and_then(|()| admin.batch_execute(&self.drop_sql(building)));
                return Ok(None);
            }
            Err(e) => return Err(self.err("publish the template")(e)),
        }
        let note = format!("{TEMPLATE_NOTE}; {note}; last used {}", today(admin));
        let _ = admin.batch_execute(&format!(
            "COMMENT ON DATABASE {} IS {}",
            ident(name),
            literal(&note)
        ));
        Ok(report)
    }
}

/// How a template's build database is filled: given a connection to it,
/// its parsed connection string and its URL (for errors), migrates it and
/// checks the result; returns what to report. The set's migrator, or a user's function
/// ([`TemplateFn`](super::TemplateFn)).
pub(crate) type Fill<'a> = dyn Fn(&mut Client, &Config, &str) -> Result<Option<Report>> + 'a;

/// Runs `CREATE DATABASE … TEMPLATE …` (`sql`), trying again for up to
/// [`BUSY_FOR`] while someone is in the template (a backend on its way
/// out, autovacuum; the server itself waited 5 s before saying so).
fn copy_into(admin: &mut Client, sql: &str) -> std::result::Result<(), postgres::Error> {
    let deadline = Instant::now() + BUSY_FOR;
    let mut pause = Duration::from_millis(5);
    loop {
        match admin.batch_execute(sql) {
            Err(e) if is_code(&e, "55006") && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            done => return done,
        }
    }
}

/// The name prefix of `template`'s copies made ahead.
fn ready_prefix(template: &str) -> String {
    format!(
        "{READY_PREFIX}{}_",
        template.strip_prefix(TEMPLATE_PREFIX).unwrap_or(template)
    )
}

/// A maintenance connection, back to the idle ones when done.
struct Admin<'s> {
    server: &'s Server,
    client: Option<Client>,
}

impl std::ops::Deref for Admin<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Admin<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("held until dropped")
    }
}

impl Drop for Admin<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take()
            && !c.is_closed()
        {
            let mut idle = self.server.idle.lock();
            if idle.len() < 8 {
                idle.push(c);
            }
        }
    }
}

/// The server's date, as the template comments record it.
fn today(client: &mut Client) -> String {
    client
        .query_one("SELECT current_date::text", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|_| "0001-01-01".into())
}

fn is_code(e: &postgres::Error, code: &str) -> bool {
    e.code().is_some_and(|c| c.code() == code)
}

/// The owner of a clone's or a build's name.
fn owner_of(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix(CLONE_PREFIX)
        .or_else(|| name.strip_prefix(BUILD_PREFIX))?;
    let hex = rest.get(..8)?;
    (rest.as_bytes().get(8) == Some(&b'_')).then_some(())?;
    u32::from_str_radix(hex, 16).ok()
}

/// The template name of `set`: see the module docs.
pub(crate) fn template_name(set: &Migrations, ledger: bool) -> String {
    name_of(&[
        "migrate-once postgres template 1",
        env!("CARGO_PKG_VERSION"),
        set.hash(),
        if ledger { "ledger" } else { "no ledger" },
    ])
}

/// The template name of a user's function under `key`: its own first part,
/// so that no set's name is ever a function's.
pub(crate) fn fn_template_name(key: &str) -> String {
    name_of(&[
        "migrate-once postgres template fn 1",
        env!("CARGO_PKG_VERSION"),
        key,
    ])
}

/// `migrate_once_tpl_` and 24 hex digits of a SHA-256 over `parts`, each
/// after its length.
fn name_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{TEMPLATE_PREFIX}{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    #[test]
    fn names_fit_postgres_and_owners_are_read_back() {
        let set = Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t (x int)")]).unwrap();
        let a = template_name(&set, true);
        assert!(a.starts_with(TEMPLATE_PREFIX) && a.len() == TEMPLATE_PREFIX.len() + 24);
        assert_ne!(a, template_name(&set, false));
        let other =
            Migrations::new(vec![Migration::new(1, "t", "CREATE TABLE t (y int)")]).unwrap();
        assert_ne!(a, template_name(&other, true));
        assert_eq!(
            owner_of("migrate_once_db_0000abcd_0123456789abcdef"),
            Some(0xabcd)
        );
        assert_eq!(owner_of("migrate_once_bld_ffffffff_0123"), Some(u32::MAX));
        assert_eq!(
            owner_of("migrate_once_0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(owner_of("migrate_once_db_xyz"), None);
        let longest = format!("{BUILD_PREFIX}{:08x}_{}", 1, &a[TEMPLATE_PREFIX.len()..]);
        // A function's name: its own, changed by its key, never a set's.
        let f = fn_template_name("v1");
        assert!(f.starts_with(TEMPLATE_PREFIX) && f.len() == a.len());
        assert_ne!(f, fn_template_name("v2"));
        assert_eq!(f, fn_template_name("v1"));
        assert_ne!(f, a);
        assert!(longest.len() <= 63, "{longest}");
    }
}
