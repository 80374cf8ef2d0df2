//! One migrated database per migration set, built once, cached on disk and
//! held in memory, from which every test database is cloned.
//!
//! The cache lives in `MIGRATE_ONCE_CACHE_DIR` (default: `migrate-once` under
//! the system temp directory), in a directory named by a hash of everything
//! that shapes the template: the migration set's hash, the SQLite version
//! and this crate's version. Changing any migration changes the name, so a
//! stale template is never used.
//!
//! Building is guarded by an exclusive lock on a file beside the template
//! (released by the kernel if its holder dies), so across all processes of a
//! test run one builds and the others wait and then read. A template is
//! written to a temporary file and renamed into place only when complete,
//! with a sidecar file recording its length and schema digest; a cached file
//! that is truncated, corrupt, fails `PRAGMA quick_check`, lacks a migration
//! in its ledger or does not match its sidecar is rebuilt, never trusted.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, MAIN_DB};
use sha2::{Digest, Sha256};

use crate::connection::Setup;
use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::registry::OnceMap;
use crate::validate::Schema;

/// Environment variable that overrides where templates are cached.
pub const CACHE_DIR_ENV: &str = "MIGRATE_ONCE_CACHE_DIR";

const TEMPLATE_FILE: &str = "template.sqlite";
const SIDECAR_FILE: &str = "template.ok";
const LOCK_FILE: &str = "build.lock";

/// A migrated database held in memory, ready to be cloned.
#[derive(Debug)]
pub struct Template {
    bytes: Vec<u8>,
    schema: Arc<Schema>,
    path: PathBuf,
    built_here: bool,
}

impl Template {
    /// The template for `set`: from this process's memory if it was loaded
    /// before, else from the on-disk cache, else built (once across all
    /// processes) through the migrator.
    ///
    /// # Errors
    ///
    /// Any error of migrating the set ([`Error::Sql`] and so on), which is
    /// remembered for the rest of the process; [`Error::Io`] if the cache
    /// directory cannot be written (not remembered: the next call retries).
    ///
    /// The template is built with the [`on_connect`](crate::TestDbBuilder::on_connect)
    /// hook of the first caller in the process (or of the process that built
    /// the cached file): give every caller of one migration set the same hook.
    pub fn for_set(set: &Migrations) -> Result<Arc<Template>> {
        Self::for_set_with(set, &Setup::default())
    }

    pub(crate) fn for_set_with(set: &Migrations, setup: &Setup) -> Result<Arc<Template>> {
        crate::sqlite_config::before_first_connection();
        static LOADED: OnceMap<PathBuf, Arc<Template>> = OnceMap::new();
        let dir = cache_dir().join(cache_key(set));
        // I/O trouble with the cache directory is not remembered: the next
        // call tries again (a directory created meanwhile, space freed).
        LOADED.get_or_init_unless(
            dir.clone(),
            || load_or_build(&dir, set, setup).map(Arc::new),
            |e| matches!(e, Error::Io { .. }),
        )
    }

    /// The template's bytes: a complete SQLite database image.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The schema the migrations define, read from the template.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Where the template is cached on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process built the template (`false`: it was read from
    /// the cache another process, or an earlier run, left behind).
    pub fn built_by_this_process(&self) -> bool {
        self.built_here
    }
}

/// The directory templates are cached in: `MIGRATE_ONCE_CACHE_DIR`, or
/// `migrate-once` under the system temp directory.
pub fn cache_dir() -> PathBuf {
    std::env::var_os(CACHE_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| std::env::temp_dir().join("migrate-once"), PathBuf::from)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything that shapes a template: the set, the SQLite that builds it,
/// and the code that builds it.
fn cache_key(set: &Migrations) -> String {
    let mut h = Sha256::new();
    h.update(set.hash().as_bytes());
    h.update(rusqlite::version().as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    hex(&h.finalize()[..12])
}

/// What the sidecar records about a complete template: its length, its
/// modification time, SQLite's file change counter (header bytes 24..28,
/// bumped by every committed write) and its schema. Any write to the file
/// after it was published changes one of them.
fn digest(bytes: &[u8], modified: Option<std::time::SystemTime>, schema: &Schema) -> String {
    let mut h = Sha256::new();
    h.update((bytes.len() as u64).to_le_bytes());
    if let Some(t) = modified.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
        h.update(t.as_nanos().to_le_bytes());
    }
    h.update(bytes.get(24..28).unwrap_or_default());
    h.update(schema.fingerprint().as_bytes());
    hex(&h.finalize())
}

/// Opens `bytes` as an in-memory database.
pub(crate) fn deserialize(bytes: &[u8], setup: Option<&Setup>) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.deserialize_read_exact(MAIN_DB, bytes, bytes.len(), false)?;
    if let Some(setup) = setup {
        setup.apply(&conn)?;
    }
    Ok(conn)
}

/// Checks a cached template; `None` means "rebuild it".
fn verify(
    bytes: &[u8],
    modified: Option<std::time::SystemTime>,
    sidecar: &str,
    set: &Migrations,
) -> Option<Schema> {
    let conn = deserialize(bytes, None).ok()?;
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .ok()?;
    if ok != "ok" {
        return None;
    }
    let ledger = crate::ledger::ledger(&conn).ok()?;
    let complete = ledger.len() == set.len()
        && ledger
            .iter()
            .zip(set.iter())
            .all(|(row, m)| row.version == m.version() && row.checksum == m.checksum());
    if !complete {
        return None;
    }
    let schema = Schema::read(&conn).ok()?;
    (digest(bytes, modified, &schema) == sidecar.trim()).then_some(schema)
}

fn read_cached(dir: &Path, set: &Migrations) -> Option<Template> {
    let sidecar = fs::read_to_string(dir.join(SIDECAR_FILE)).ok()?;
    let path = dir.join(TEMPLATE_FILE);
    let modified = fs::metadata(&path).ok()?.modified().ok();
    let bytes = fs::read(&path).ok()?;
    let schema = verify(&bytes, modified, &sidecar, set)?;
    Some(Template {
        bytes,
        schema: Arc::new(schema),
        path,
        built_here: false,
    })
}

fn load_or_build(dir: &Path, set: &Migrations, setup: &Setup) -> Result<Template> {
    if let Some(t) = read_cached(dir, set) {
        return Ok(t);
    }
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io(&lock_path))?;
    // Blocks while another process builds; the kernel releases the lock if
    // that process dies, so a killed builder never wedges the cache.
    lock.lock().map_err(Error::io(&lock_path))?;
    let result = match read_cached(dir, set) {
        Some(t) => Ok(t),
        None => {
            sweep(dir);
            build(dir, set, setup)
        }
    };
    drop(lock);
    result
}

/// Removes what builders killed mid-build left behind. Only called with the
/// build lock held, so no live builder owns any of it.
fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("building-") || name.starts_with(&format!("{SIDECAR_FILE}.")) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn build(dir: &Path, set: &Migrations, setup: &Setup) -> Result<Template> {
    let tmp = dir.join(format!("building-{}.sqlite", uuid::Uuid::new_v4()));
    let result = build_at(&tmp, dir, set, setup);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(tmp.with_extension("sqlite-journal"));
    }
    result
}

fn build_at(tmp: &Path, dir: &Path, set: &Migrations, setup: &Setup) -> Result<Template> {
    {
        let mut conn = setup.open(tmp, Some(tmp.to_path_buf()))?;
        // A cache file needs no durability: a torn one fails verification
        // and is rebuilt. Skipping fsync makes the one build much cheaper.
        conn.execute_batch("PRAGMA synchronous = OFF")
            .map_err(Error::db("set up the template", Some(tmp.to_path_buf())))?;
        crate::migrate(&mut conn, set)?;
        // A hook may have switched the connection to WAL; a template must be
        // one self-contained file that can be deserialized and copied.
        conn.execute_batch("PRAGMA journal_mode = DELETE")
            .map_err(Error::db("set up the template", Some(tmp.to_path_buf())))?;
        conn.close()
            .map_err(|(_, e)| Error::db("close the template", Some(tmp.to_path_buf()))(e))?;
    }
    let bytes = fs::read(tmp).map_err(Error::io(tmp))?;
    let schema = {
        let conn = deserialize(&bytes, None)
            .map_err(Error::db("read the template", Some(tmp.to_path_buf())))?;
        Schema::read(&conn)?
    };
    let path = dir.join(TEMPLATE_FILE);
    let sidecar = dir.join(SIDECAR_FILE);
    // The template goes into place first and the sidecar that vouches for it
    // second; a reader that sees the new sidecar with an old template (or no
    // sidecar) fails verification and takes the build lock.
    let _ = fs::remove_file(&sidecar);
    fs::rename(tmp, &path).map_err(Error::io(&path))?;
    // A rename keeps the modification time, so it can be taken from the
    // published file.
    let modified = fs::metadata(&path)
        .map_err(Error::io(&path))?
        .modified()
        .ok();
    let sidecar_tmp = dir.join(format!("{SIDECAR_FILE}.{}", uuid::Uuid::new_v4()));
    fs::write(&sidecar_tmp, digest(&bytes, modified, &schema)).map_err(Error::io(&sidecar_tmp))?;
    fs::rename(&sidecar_tmp, &sidecar).map_err(Error::io(&sidecar))?;
    Ok(Template {
        bytes,
        schema: Arc::new(schema),
        path,
        built_here: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    fn set(sql: &str) -> Migrations {
        Migrations::new(vec![
            Migration::new(1, "a", "CREATE TABLE a(x); INSERT INTO a VALUES (1);"),
            Migration::new(2, "b", sql),
        ])
        .unwrap()
    }

    #[test]
    fn a_corrupt_or_truncated_cache_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        let s = set("CREATE TABLE b(y);");
        let first = load_or_build(&dir, &s, &Setup::default()).unwrap();
        assert!(first.built_here);
        let again = load_or_build(&dir, &s, &Setup::default()).unwrap();
        assert!(!again.built_here, "an intact cache is reused");
        assert_eq!(again.bytes, first.bytes);

        let path = dir.join(TEMPLATE_FILE);
        fs::write(&path, &first.bytes[..first.bytes.len() / 2]).unwrap();
        let rebuilt = load_or_build(&dir, &s, &Setup::default()).unwrap();
        assert!(rebuilt.built_here, "a truncated template is rebuilt");

        let mut garbage = first.bytes.clone();
        for b in &mut garbage[100..] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        fs::write(&path, &garbage).unwrap();
        assert!(
            load_or_build(&dir, &s, &Setup::default())
                .unwrap()
                .built_here
        );

        fs::remove_file(dir.join(SIDECAR_FILE)).unwrap();
        assert!(
            load_or_build(&dir, &s, &Setup::default())
                .unwrap()
                .built_here
        );
    }

    #[test]
    fn a_template_whose_schema_was_changed_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        let s = set("CREATE TABLE b(y);");
        load_or_build(&dir, &s, &Setup::default()).unwrap();
        let path = dir.join(TEMPLATE_FILE);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE b;").unwrap();
        drop(conn);
        assert!(
            load_or_build(&dir, &s, &Setup::default())
                .unwrap()
                .built_here
        );
    }

    #[test]
    fn a_template_whose_data_was_changed_in_place_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        let s = set("CREATE TABLE b(y); INSERT INTO b VALUES ('seed');");
        load_or_build(&dir, &s, &Setup::default()).unwrap();
        let conn = Connection::open(dir.join(TEMPLATE_FILE)).unwrap();
        conn.execute_batch("UPDATE b SET y = 'tampered';").unwrap();
        drop(conn);
        let again = load_or_build(&dir, &s, &Setup::default()).unwrap();
        assert!(again.built_here, "a changed template is not trusted");
        let conn = deserialize(&again.bytes, None).unwrap();
        let y: String = conn.query_row("SELECT y FROM b", [], |r| r.get(0)).unwrap();
        assert_eq!(y, "seed");
    }

    #[test]
    fn leftovers_of_a_killed_builder_are_swept_at_the_next_build() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        fs::create_dir_all(&dir).unwrap();
        for name in [
            "building-dead.sqlite",
            "building-dead.sqlite-journal",
            "template.ok.dead",
        ] {
            fs::write(dir.join(name), b"left behind").unwrap();
        }
        load_or_build(&dir, &set("CREATE TABLE b(y);"), &Setup::default()).unwrap();
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [LOCK_FILE, SIDECAR_FILE, TEMPLATE_FILE]);
    }

    #[test]
    fn the_cache_key_changes_with_the_set() {
        let key = cache_key(&set("CREATE TABLE b(y);"));
        assert_eq!(key, cache_key(&set("CREATE TABLE b(y);")));
        assert_eq!(key, cache_key(&set("CREATE TABLE b(y);").clone()));
        assert_ne!(key, cache_key(&set("CREATE TABLE b(z);")));
    }
}
