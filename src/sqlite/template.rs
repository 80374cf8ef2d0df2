//! One migrated database per migration set, built once, cached on disk and
//! held in memory, from which every test database is cloned.
//!
//! The cache lives in `MIGRATE_ONCE_CACHE_DIR` (default: a directory of the
//! user's own under the system temp directory, `migrate-once-UID`; see
//! `dirs` for why, and for what is refused), in a directory named by a hash
//! of everything that shapes the template: the migration set's hash, the
//! SQLite version and this crate's version. Changing any migration changes
//! the name, so a stale template is never used. A template file another
//! user owns is never used, whatever its seal says.
//!
//! Each directory holds up to two templates of the set: the migrated
//! database (`template.sqlite`), and the same without the crate's own
//! ledger table (`template-noledger.sqlite`), for clones that must show the
//! application's tables and nothing else (`#[sqlx_test]`'s, as
//! `#[sqlx::test]`'s). The second is made from the first, under the same
//! lock, the first time it is asked for.
//!
//! Building is guarded by an exclusive lock on a file beside the template
//! (released by the kernel if its holder dies), so across all processes of a
//! test run one builds and the others wait and then read. A template is
//! built, checked (`PRAGMA quick_check`, a ledger row for every migration),
//! written to a temporary file and renamed into place only when complete,
//! then vouched for by a sidecar file recording its length and a 128-bit
//! hash of its bytes (XXH3). A cached file whose bytes do not match its
//! sidecar (truncated, corrupt, edited in place, half-copied) is rebuilt,
//! never trusted (with the one exception below).
//!
//! The check is what a test process pays before its first database, so it
//! is kept to reading the file and hashing it: at 100 tables (860 KB) that
//! is well under a millisecond, where checking the database itself (quick
//! check, ledger, schema) cost 2.8–3.6 ms. It depends on the bytes alone, not
//! on the file's path or modification time: a cache directory restored by a
//! CI cache (same bytes, new times, another place) is used as it is.
//!
//! Hashing is cheap in an optimized build, but a test suite is usually built
//! unoptimized, where hashing 1.5 MB took about 16 ms of every test process.
//! So on Linux the first process that reads the file whole and finds it
//! matching its seal records which file that was (`template.verified`: the
//! boot, device, inode, length, modification and change times, and the
//! seal). A later process that opens the very same, unchanged file streams
//! it without hashing it again, and checks after the read that it did not
//! change meanwhile. Any write to the file through the file system, a
//! truncation, a `touch` that sets its modification time back, or a copy
//! (`cp -a`, a CI restore) gives it a new change time (which the kernel
//! sets, from its clock, on every change) or a new inode, and it is hashed
//! whole again. What this gives up: a file damaged below the file system
//! (bad media) within one boot is no longer caught. Guarded against:
//! - a change that shares the recorded change time: a file is recorded only
//!   if its last change was at least 2 s before it was opened, longer than
//!   any file system's timestamp resolution, so a later change gets a later
//!   time;
//! - a crash or reboot, after which written pages may not have reached the
//!   disk while the metadata did: the record names the boot
//!   (`/proc/sys/kernel/random/boot_id`) and is void in the next one;
//! - file systems whose change time does not say every change (FUSE ones
//!   such as sshfs copy it from the modification time; NFS takes it from
//!   the server's clock and caches it): only a file on ext2/3/4, XFS,
//!   Btrfs, F2FS, tmpfs or overlayfs is ever recorded. Elsewhere, and on
//!   other systems, every process hashes as before.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use once_cell::sync::OnceCell;

use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::sqlite::connection::Setup;
use crate::sqlite::template_fn::{Body, TemplateFn};
use crate::sqlite::validate::Schema;

pub use crate::sqlite::dirs::CACHE_DIR_ENV;

/// Which of a set's two templates (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Flavor {
    /// The migrated database, the crate's ledger included.
    Full,
    /// The same without the crate's ledger table.
    WithoutLedger,
}

impl Flavor {
    /// The template file's name.
    fn file(self) -> &'static str {
        match self {
            Flavor::Full => "template.sqlite",
            Flavor::WithoutLedger => "template-noledger.sqlite",
        }
    }

    /// The name of the sidecar that seals it.
    fn sidecar(self) -> &'static str {
        match self {
            Flavor::Full => "template.ok",
            Flavor::WithoutLedger => "template-noledger.ok",
        }
    }

    /// The name of the record that the template file, as it is now, was
    /// read whole and matched its seal (see the module docs).
    fn verified(self) -> &'static str {
        match self {
            Flavor::Full => "template.verified",
            Flavor::WithoutLedger => "template-noledger.verified",
        }
    }

    const ALL: [Flavor; 2] = [Flavor::Full, Flavor::WithoutLedger];
}
/// How long ago a file's last change must be before it is recorded as
/// verified: longer than any file system's timestamp resolution.
const SETTLED: Duration = Duration::from_secs(2);
const LOCK_FILE: &str = "build.lock";
/// The name a template has while it is built: what an error about a
/// migration that fails while building it names as the database.
const BUILDING: &str = "template-being-built-";

/// Whether `path` is the file a template is being built in: an error about
/// a migration that fails there says so rather than naming the file, which
/// the failed build removes.
pub(crate) fn is_being_built(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(BUILDING))
}

/// A migrated database, cached on disk and held in memory, ready to be
/// cloned.
///
/// Made by [`Template::for_set`] (one per migration set per process) or
/// [`Template::for_fn`] (one per [`TemplateFn`] key per process).
#[derive(Debug)]
pub struct Template {
    seal: Seal,
    /// The bytes, read (and checked against the seal) when first needed. A
    /// test process that makes one in-memory clone (as under cargo-nextest)
    /// never reads them into memory: the clone is filled from the file
    /// directly, and checked as it is.
    bytes: OnceCell<Vec<u8>>,
    /// Whether a clone was already filled from the file: the next one reads
    /// the bytes into memory once, for every clone after it.
    streamed: AtomicBool,
    /// Read from the bytes when first asked for: only validation needs it,
    /// and reading it means parsing the whole schema.
    schema: OnceCell<Arc<Schema>>,
    path: PathBuf,
    flavor: Flavor,
    built_here: bool,
}

/// What the sidecar file vouches for: the template's length and a 128-bit
/// hash of its bytes (XXH3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seal {
    len: usize,
    hash: u128,
}

impl Seal {
    fn of(bytes: &[u8]) -> Seal {
        Seal {
            len: bytes.len(),
            hash: xxhash_rust::xxh3::xxh3_128(bytes),
        }
    }

    fn text(self) -> String {
        format!(
            "migrate-once template v2 len={} xxh3={:032x}\n",
            self.len, self.hash
        )
    }

    fn parse(text: &str) -> Option<Seal> {
        let rest = text.strip_prefix("migrate-once template v2 len=")?;
        let (len, rest) = rest.split_once(" xxh3=")?;
        let hash = rest.strip_suffix('\n')?;
        Some(Seal {
            len: len.parse().ok()?,
            hash: u128::from_str_radix(hash, 16).ok()?,
        })
    }
}

/// Which file a path names, and whether it changed: what `fstat` says of an
/// open file. Two equal states are the same file, unchanged, as far as the
/// kernel can tell (a write or a rename sets the change time to now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))] // never read there: no change time
struct FileState {
    /// The boot the state was read in (its `boot_id`).
    boot: u128,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

#[cfg_attr(not(unix), allow(dead_code))]
impl FileState {
    /// `None` where a file's change time cannot be trusted to say that it
    /// changed (see the module docs): then it is hashed on every read.
    #[cfg(target_os = "linux")]
    fn of(file: &fs::File) -> Option<FileState> {
        if !trusted_file_system(file) {
            return None;
        }
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let boot = u128::from_str_radix(&boot.trim().replace('-', ""), 16).ok()?;
        FileState::stat(file, boot)
    }

    /// `file`'s state in the boot `boot`: `fstat` alone, for a file whose
    /// file system and boot [`FileState::of`] already read.
    #[cfg(target_os = "linux")]
    fn stat(file: &fs::File, boot: u128) -> Option<FileState> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        Some(FileState {
            boot,
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// Elsewhere every read is hashed.
    #[cfg(not(target_os = "linux"))]
    fn of(_file: &fs::File) -> Option<FileState> {
        None
    }

    #[cfg(not(target_os = "linux"))]
    fn stat(_file: &fs::File, _boot: u128) -> Option<FileState> {
        None
    }

    /// Whether the last change to the file is at least [`SETTLED`] before
    /// `now`, so that any later change gives it another change time. A
    /// change time of zero (a file system that keeps none) never is.
    fn settled(self, now: SystemTime) -> bool {
        let (secs, nanos) = self.ctime;
        if secs <= 0 || !(0..1_000_000_000).contains(&nanos) {
            return false;
        }
        let changed = SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs.unsigned_abs())
            + Duration::from_nanos(nanos.unsigned_abs());
        now.duration_since(changed).is_ok_and(|age| age >= SETTLED)
    }

    /// The text of `template.verified` for this file and `seal`.
    fn record(self, seal: Seal) -> String {
        format!(
            "migrate-once verified v1 boot={:032x} dev={} ino={} len={} mtime={}.{:09} ctime={}.{:09} xxh3={:032x}\n",
            self.boot,
            self.dev,
            self.ino,
            self.len,
            self.mtime.0,
            self.mtime.1,
            self.ctime.0,
            self.ctime.1,
            seal.hash
        )
    }
}

/// File systems (`statfs` magic numbers) whose change time the kernel sets
/// on every change, from its own clock: ext2/3/4, XFS, Btrfs, F2FS, tmpfs,
/// overlayfs.
#[cfg(target_os = "linux")]
const TRUSTED_FILE_SYSTEMS: [u32; 6] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0xF2F5_2010,
    0x0102_1994,
    0x794C_7630,
];

/// Whether `file` is on one of [`TRUSTED_FILE_SYSTEMS`].
#[cfg(target_os = "linux")]
fn trusted_file_system(file: &fs::File) -> bool {
    use std::os::fd::AsRawFd;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `file` is open for the whole call, and `fstatfs` writes a
    // whole `statfs` into `buf` when it returns 0.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), buf.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: initialized by the successful call above.
    #[allow(unsafe_code)]
    let kind = unsafe { buf.assume_init() }.f_type;
    // Its integer type differs between architectures; every magic number
    // fits in 32 bits.
    #[allow(clippy::unnecessary_cast, clippy::cast_possible_truncation)]
    TRUSTED_FILE_SYSTEMS.contains(&(kind as u32))
}

/// Whether a template cached in `dir` can be recorded as verified: its
/// file system's change times are trusted, on a system where the boot can
/// be read (the rule [`FileState::of`] applies to the file itself).
pub(crate) fn records_verified(dir: &Path) -> bool {
    fs::File::open(dir)
        .ok()
        .and_then(|dir| FileState::of(&dir))
        .is_some()
}

/// The template file opened for reading, and whether it is the very file
/// an earlier read found whole (then its bytes need no hashing).
struct Opened {
    file: fs::File,
    state: Option<FileState>,
    /// When `state` was read: what the file's last change must be settled
    /// by for this read to be recorded.
    at: SystemTime,
    vouched: bool,
}

/// `Template::for_set`, which goes through the process's cache of
/// templates, is in `registry`, with the rest of the process-wide state.
impl Template {
    /// The template's bytes: a complete SQLite database image, read from
    /// the cache (and checked against its seal) the first time they are
    /// asked for.
    ///
    /// ```
    /// # let set = migrate_once::Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
    /// let template = migrate_once::Template::for_set(&set)?;
    /// assert_eq!(&template.bytes()?[..16], b"SQLite format 3\0");
    /// assert_eq!(template.bytes()?.len(), template.size());
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the cached file cannot be read;
    /// [`Error::TemplateDamaged`] if it no longer matches its seal (changed
    /// on disk since it was found; the next `Template::for_set` rebuilds it).
    pub fn bytes(&self) -> Result<&[u8]> {
        self.bytes
            .get_or_try_init(|| {
                let mut opened = self.open()?;
                let mut bytes = Vec::with_capacity(self.seal.len);
                std::io::Read::read_to_end(&mut opened.file, &mut bytes)
                    .map_err(Error::io(&self.path))?;
                if bytes.len() != self.seal.len {
                    return Err(self.damaged());
                }
                self.finish_read(&opened, || Seal::of(&bytes) == self.seal)?;
                Ok(bytes)
            })
            .map(Vec::as_slice)
    }

    /// The template's size in bytes.
    pub fn size(&self) -> usize {
        self.seal.len
    }

    fn damaged(&self) -> Error {
        Error::TemplateDamaged {
            path: self.path.clone(),
        }
    }

    fn verified_path(&self) -> PathBuf {
        self.path.with_file_name(self.flavor.verified())
    }

    /// Opens the template file and reads what `template.verified` says of it.
    fn open(&self) -> Result<Opened> {
        let file = fs::File::open(&self.path).map_err(Error::io(&self.path))?;
        crate::sqlite::dirs::check_own_file(&file, &self.path)?;
        let state = FileState::of(&file);
        let at = SystemTime::now();
        let vouched = state.is_some_and(|state| {
            fs::read_to_string(self.verified_path())
                .is_ok_and(|record| record == state.record(self.seal))
        });
        Ok(Opened {
            file,
            state,
            at,
            vouched,
        })
    }

    /// After the whole of `opened` was read, at its full length: a file
    /// that was vouched for must not have changed while it was read; any
    /// other must match the seal (`matches`), and is then recorded as
    /// verified.
    ///
    /// # Errors
    ///
    /// [`Error::TemplateDamaged`] if either fails.
    fn finish_read(&self, opened: &Opened, matches: impl FnOnce() -> bool) -> Result<()> {
        let now = opened
            .state
            .and_then(|state| FileState::stat(&opened.file, state.boot));
        let whole = if opened.vouched {
            now == opened.state
        } else {
            matches()
        };
        if !whole {
            return Err(self.damaged());
        }
        if !opened.vouched && now == opened.state {
            self.vouch(opened);
        }
        Ok(())
    }

    /// Records that the file `opened` was read whole and matched the seal,
    /// if its last change was settled when it was opened (a change after
    /// that, even one made during the read, has a later change time). Best
    /// effort: a cache directory that cannot be written to only means the
    /// next process hashes again.
    fn vouch(&self, opened: &Opened) {
        let Some(before) = opened.state else {
            return;
        };
        if !before.settled(opened.at) {
            return;
        }
        let record = self.verified_path();
        let tmp = record.with_file_name(format!(
            "{}.{}",
            self.flavor.verified(),
            uuid::Uuid::new_v4()
        ));
        if fs::write(&tmp, before.record(self.seal)).is_err() || fs::rename(&tmp, &record).is_err()
        {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// A new memdb-VFS database named `uri` holding a copy of the template,
    /// and the connection that keeps it alive. The first clone of a process
    /// is filled from the file directly, checked against the seal as it is
    /// read; later ones copy the bytes held in memory.
    pub(crate) fn copy_into_memory(&self, uri: &str) -> Result<rusqlite::Connection> {
        let copy = |bytes: &[u8]| {
            crate::sqlite::memdb::open(uri, bytes)
                .map_err(Error::db("copy the template into memory", None))
        };
        if let Some(bytes) = self.bytes.get() {
            return copy(bytes);
        }
        if self.streamed.swap(true, Ordering::Relaxed) {
            return copy(self.bytes()?);
        }
        let mut opened = self.open()?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let vouched = opened.vouched;
        let conn = crate::sqlite::memdb::open_from(uri, self.seal.len, &mut opened.file, |chunk| {
            if !vouched {
                hasher.update(chunk);
            }
        })
        .map_err(|e| match e {
            crate::sqlite::memdb::Either::Io(e)
                if e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                self.damaged()
            }
            crate::sqlite::memdb::Either::Io(e) => Error::io(&self.path)(e),
            crate::sqlite::memdb::Either::Sqlite(e) => {
                Error::db("copy the template into memory", None)(e)
            }
        })?;
        // A file longer than its seal says is damaged too.
        let longer = std::io::Read::read(&mut opened.file, &mut [0u8; 1])
            .map_err(Error::io(&self.path))?
            > 0;
        if longer {
            return Err(self.damaged());
        }
        self.finish_read(&opened, || hasher.digest128() == self.seal.hash)?;
        Ok(conn)
    }

    /// The schema the migrations define, read from the template the first
    /// time it is asked for.
    pub(crate) fn schema(&self) -> Result<Arc<Schema>> {
        self.schema
            .get_or_try_init(|| {
                let conn = crate::sqlite::memdb::private_copy(self.bytes()?)
                    .map_err(Error::db("read the template", Some(&self.path)))?;
                Schema::read(&conn).map(Arc::new)
            })
            .cloned()
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

/// The directory templates are cached in: `MIGRATE_ONCE_CACHE_DIR`, or, by
/// default, a directory of the user's own under the system temp directory
/// (`$TMPDIR/migrate-once-UID` on Unix, made `0700`; `migrate-once` under
/// the temp directory elsewhere). It is checked before it is used: see
/// [`Error::UnsafePath`] for what is refused.
///
/// ```
/// let dir = migrate_once::cache_dir();
/// if std::env::var_os("MIGRATE_ONCE_CACHE_DIR").is_none() {
///     assert!(dir.starts_with(std::env::temp_dir()));
///     assert!(dir.file_name().unwrap().to_str().unwrap().starts_with("migrate-once"));
/// }
/// ```
pub fn cache_dir() -> PathBuf {
    crate::sqlite::dirs::cache().path
}

/// Makes `dir` (and its missing parents) readable by this user alone.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The cache directory of `set`'s templates, made ready: the cache
/// directory and the set's own directory in it exist and are safe to use.
pub(crate) fn dir_for(set: &Migrations) -> Result<PathBuf> {
    let root = crate::sqlite::dirs::cache();
    root.ready()?;
    let dir = root.child(&cache_key(set));
    dir.ready()?;
    Ok(dir.path)
}

/// Everything that shapes a template: the set, the SQLite that builds it,
/// and the code that builds it (the crate's version, and a fingerprint of
/// its source, see `build.rs`); spelled out by [`crate::TemplateKey`].
fn cache_key(set: &Migrations) -> String {
    crate::TemplateKey::of(set).key
}

/// The template cached in `dir`, if its sidecar vouches for it. With
/// `check_now`, its bytes are read and checked against the seal here;
/// without, only its length is, and the bytes are checked when first read
/// (as a test process's first clone streams them, that costs no extra
/// read).
///
/// # Errors
///
/// [`Error::UnsafePath`] if the template file belongs to another user:
/// neither used nor rebuilt over.
fn read_cached(dir: &Path, check_now: bool, flavor: Flavor) -> Result<Option<Template>> {
    let Some(seal) = fs::read_to_string(dir.join(flavor.sidecar()))
        .ok()
        .and_then(|text| Seal::parse(&text))
    else {
        return Ok(None);
    };
    let path = dir.join(flavor.file());
    let Ok(file) = fs::File::open(&path) else {
        return Ok(None);
    };
    crate::sqlite::dirs::check_own_file(&file, &path)?;
    let bytes = OnceCell::new();
    if check_now {
        let mut read = Vec::with_capacity(seal.len);
        if std::io::Read::read_to_end(&mut &file, &mut read).is_err() || Seal::of(&read) != seal {
            return Ok(None);
        }
        let _ = bytes.set(read);
    } else if file.metadata().map(|m| m.len()).ok() != Some(seal.len as u64) {
        return Ok(None);
    }
    Ok(Some(Template {
        seal,
        bytes,
        streamed: AtomicBool::new(false),
        schema: OnceCell::new(),
        path,
        flavor,
        built_here: false,
    }))
}

/// The template of `set` cached in `dir`, built there first (once across
/// processes, under a file lock) if there is none that its sidecar vouches
/// for. With `check_now`, a cached one's bytes are checked against the seal
/// before it is trusted (after a clone found it damaged); without, when
/// first read.
#[cfg(test)]
pub(crate) fn load_or_build(
    dir: &Path,
    set: &Migrations,
    setup: &Setup,
    check_now: bool,
) -> Result<Template> {
    load_or_build_flavor(dir, set, setup, check_now, Flavor::Full)
}

/// [`load_or_build`] for either of the set's templates. The one without the
/// ledger is made from the full one (built first if need be).
pub(crate) fn load_or_build_flavor(
    dir: &Path,
    set: &Migrations,
    setup: &Setup,
    check_now: bool,
    flavor: Flavor,
) -> Result<Template> {
    load_or_build_recipe(dir, Recipe::Set(set), setup, check_now, flavor)
}

/// What a template is built by: a migration set, or a user's function.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Recipe<'a> {
    Set(&'a Migrations),
    Fn(&'a TemplateFn),
}

/// [`load_or_build_flavor`] for either recipe. A function's template has no
/// ledger, so it has one flavor only, [`Flavor::Full`].
pub(crate) fn load_or_build_recipe(
    dir: &Path,
    recipe: Recipe<'_>,
    setup: &Setup,
    check_now: bool,
    flavor: Flavor,
) -> Result<Template> {
    if let Some(t) = read_cached(dir, check_now, flavor)? {
        return Ok(t);
    }
    // Made ready by `dir_for`; made again, private, if it went meanwhile.
    make_private_dir(dir).map_err(Error::io(dir))?;
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
    // Under the lock: another process may have built it meanwhile; what it
    // wrote is checked whole.
    let result = (|| match read_cached(dir, true, flavor)? {
        Some(t) => Ok(t),
        None => {
            sweep(dir);
            match (recipe, flavor) {
                (Recipe::Fn(f), _) => build_fn(dir, f, setup),
                (Recipe::Set(set), Flavor::Full) => build(dir, set, setup),
                (Recipe::Set(set), Flavor::WithoutLedger) => {
                    let full = match read_cached(dir, true, Flavor::Full)? {
                        Some(full) => full,
                        None => build(dir, set, setup)?,
                    };
                    without_ledger(dir, &full, setup)
                }
            }
        }
    })();
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
        if name.starts_with(BUILDING)
            || Flavor::ALL.iter().any(|f| {
                name.starts_with(&format!("{}.", f.sidecar()))
                    || name.starts_with(&format!("{}.", f.verified()))
            })
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn build(dir: &Path, set: &Migrations, setup: &Setup) -> Result<Template> {
    in_temporary_file(dir, |tmp| build_at(tmp, dir, set, setup))
}

/// Runs `make` on a new temporary file name in `dir`, removing what it
/// leaves there if it fails.
fn in_temporary_file(dir: &Path, make: impl FnOnce(&Path) -> Result<Template>) -> Result<Template> {
    let tmp = dir.join(format!("{BUILDING}{}.sqlite", uuid::Uuid::new_v4()));
    let result = make(&tmp);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        // A function's own driver may have left a WAL behind.
        for suffix in ["sqlite-journal", "sqlite-wal", "sqlite-shm"] {
            let _ = fs::remove_file(tmp.with_extension(suffix));
        }
    }
    result
}

/// The template without the crate's ledger, made from `full`: the same
/// database with that one table dropped, and vacuumed, so that its pages
/// are those a database made without it would have.
fn without_ledger(dir: &Path, full: &Template, setup: &Setup) -> Result<Template> {
    in_temporary_file(dir, |tmp| {
        fs::write(tmp, full.bytes()?).map_err(Error::io(tmp))?;
        {
            // With the caller's hook, as the template was built: it may
            // register a collation an index uses, which dropping a table and
            // vacuuming need.
            let setup = Setup {
                on_connect: setup.on_connect.clone(),
                ..Setup::default()
            };
            let conn = setup.open(tmp, Some(tmp))?;
            conn.execute_batch(&format!(
                "PRAGMA synchronous = OFF; DROP TABLE {}; VACUUM;",
                crate::bookkeeping::LEDGER_TABLE
            ))
            .and_then(|()| {
                let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
                if ok == "ok" {
                    Ok(())
                } else {
                    Err(crate::error::sqlite_error(
                        rusqlite::ffi::SQLITE_CORRUPT,
                        format!("the template without its ledger failed its check: {ok}"),
                    ))
                }
            })
            .map_err(Error::db("drop the ledger from the template", Some(tmp)))?;
            conn.close()
                .map_err(|(_, e)| Error::db("close the template", Some(tmp))(e))?;
        }
        seal_into_place(tmp, dir, Flavor::WithoutLedger)
    })
}

fn build_at(tmp: &Path, dir: &Path, set: &Migrations, setup: &Setup) -> Result<Template> {
    // The template must not depend on which caller built it: only the hook
    // is the caller's (it may register functions the migrations call).
    // Foreign keys on, for instance, so that the migrator checks them.
    let setup = Setup {
        on_connect: setup.on_connect.clone(),
        ..Setup::default()
    };
    {
        let mut conn = setup.open(tmp, Some(tmp))?;
        // A cache file needs no durability: a torn one fails its seal and is
        // rebuilt. Skipping fsync makes the one build much cheaper.
        conn.execute_batch("PRAGMA synchronous = OFF")
            .map_err(Error::db("set up the template", Some(tmp)))?;
        crate::sqlite::migrator::migrate(&mut conn, set)?;
        // A hook may have switched the connection to WAL; a template must be
        // one self-contained file that can be copied as bytes.
        conn.execute_batch("PRAGMA journal_mode = DELETE")
            .map_err(Error::db("set up the template", Some(tmp)))?;
        check_built(&conn, set).map_err(Error::db("check the template", Some(tmp)))?;
        conn.close()
            .map_err(|(_, e)| Error::db("close the template", Some(tmp))(e))?;
    }
    seal_into_place(tmp, dir, Flavor::Full)
}

fn build_fn(dir: &Path, f: &TemplateFn, setup: &Setup) -> Result<Template> {
    in_temporary_file(dir, |tmp| build_fn_at(tmp, dir, f, setup))
}

/// Builds a function's template at `tmp`: the function runs (on a
/// connection the crate opened, or on the path), then the result is made
/// one self-contained file, checked and sealed as a set's template is.
fn build_fn_at(tmp: &Path, dir: &Path, f: &TemplateFn, setup: &Setup) -> Result<Template> {
    // As for a set: only the hook is the caller's.
    let setup = Setup {
        on_connect: setup.on_connect.clone(),
        ..Setup::default()
    };
    let conn = match f.body() {
        Body::Connection(_) => {
            let mut conn = setup.open(tmp, Some(tmp))?;
            conn.execute_batch("PRAGMA synchronous = OFF")
                .map_err(Error::db("set up the template", Some(tmp)))?;
            f.run(Some(&mut conn), tmp)?;
            conn
        }
        Body::Path(_) => {
            f.run(None, tmp)?;
            // Opened after the function closed its own connections: this
            // one checkpoints a WAL they left into the file.
            setup.open(tmp, Some(tmp))?
        }
    };
    // The function may have switched to WAL; a template must be one
    // self-contained file that can be copied as bytes.
    conn.execute_batch("PRAGMA journal_mode = DELETE")
        .map_err(Error::db("set up the template", Some(tmp)))?;
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(Error::db("check the template", Some(tmp)))?;
    if ok != "ok" {
        return Err(f.failed(format!("left a damaged database (quick_check: {ok})"), None));
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .map_err(Error::db("check the template", Some(tmp)))?;
    if tables == 0 {
        // Most likely a mistake (another file opened than the path given,
        // a migrator pointed elsewhere), and a clone of it would fail later
        // with "no such table" in every test.
        return Err(f.failed(
            "created no table (a template function that changes nothing is taken for a mistake: \
             did it open another database than the one it was given?)",
            None,
        ));
    }
    conn.close()
        .map_err(|(_, e)| Error::db("close the template", Some(tmp))(e))?;
    // Required tables are checked by the registry, on every use of the
    // template, built here or found cached.
    seal_into_place(tmp, dir, Flavor::Full)
}

/// The cache directory of a function's template, made ready.
pub(crate) fn dir_for_fn(f: &TemplateFn) -> Result<PathBuf> {
    let root = crate::sqlite::dirs::cache();
    root.ready()?;
    let dir = root.child(&f.cache_name());
    dir.ready()?;
    Ok(dir.path)
}

/// Takes the build lock of the template cached in `dir` for as long as
/// `work` runs: for filling a shared database from a function's template,
/// once across processes.
pub(crate) fn under_build_lock<T>(dir: &Path, work: impl FnOnce() -> Result<T>) -> Result<T> {
    make_private_dir(dir).map_err(Error::io(dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io(&lock_path))?;
    lock.lock().map_err(Error::io(&lock_path))?;
    let result = work();
    drop(lock);
    result
}

/// Moves the finished template `tmp` into place as `flavor`'s file in `dir`
/// and seals it.
fn seal_into_place(tmp: &Path, dir: &Path, flavor: Flavor) -> Result<Template> {
    let bytes = fs::read(tmp).map_err(Error::io(tmp))?;
    let path = dir.join(flavor.file());
    let sidecar = dir.join(flavor.sidecar());
    // The template goes into place first and the sidecar that vouches for it
    // second; a reader that sees the new sidecar with an old template (or no
    // sidecar) finds the seal broken and takes the build lock.
    let _ = fs::remove_file(&sidecar);
    fs::rename(tmp, &path).map_err(Error::io(&path))?;
    let sidecar_tmp = dir.join(format!("{}.{}", flavor.sidecar(), uuid::Uuid::new_v4()));
    let seal = Seal::of(&bytes);
    fs::write(&sidecar_tmp, seal.text()).map_err(Error::io(&sidecar_tmp))?;
    fs::rename(&sidecar_tmp, &sidecar).map_err(Error::io(&sidecar))?;
    Ok(Template {
        seal,
        bytes: OnceCell::with_value(bytes),
        streamed: AtomicBool::new(false),
        schema: OnceCell::new(),
        path,
        flavor,
        built_here: true,
    })
}

/// What is checked once, when a template is built, before it is sealed:
/// the database is whole and its ledger records the whole set.
fn check_built(conn: &rusqlite::Connection, set: &Migrations) -> rusqlite::Result<()> {
    let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    let complete = crate::sqlite::ledger::covers(&crate::sqlite::ledger::rows(conn)?, set);
    if ok == "ok" && complete {
        Ok(())
    } else {
        Err(crate::error::sqlite_error(
            rusqlite::ffi::SQLITE_CORRUPT,
            format!(
                "the freshly built template failed its check (quick_check: {ok}, ledger complete: {complete})"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;
    use rusqlite::Connection;

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
        let first = load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        assert!(first.built_here);
        let again = load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        assert!(!again.built_here, "an intact cache is reused");
        assert_eq!(again.bytes().unwrap(), first.bytes().unwrap());

        let path = dir.join(Flavor::Full.file());
        fs::write(&path, &first.bytes().unwrap()[..first.size() / 2]).unwrap();
        let rebuilt = load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        assert!(rebuilt.built_here, "a truncated template is rebuilt");

        let mut garbage = first.bytes().unwrap().to_vec();
        for b in &mut garbage[100..] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        fs::write(&path, &garbage).unwrap();
        assert!(
            load_or_build(&dir, &s, &Setup::default(), true)
                .unwrap()
                .built_here
        );

        fs::remove_file(dir.join(Flavor::Full.sidecar())).unwrap();
        assert!(
            load_or_build(&dir, &s, &Setup::default(), true)
                .unwrap()
                .built_here
        );
    }

    #[test]
    fn a_template_whose_schema_was_changed_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        let s = set("CREATE TABLE b(y);");
        load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        let path = dir.join(Flavor::Full.file());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE b;").unwrap();
        drop(conn);
        assert!(
            load_or_build(&dir, &s, &Setup::default(), true)
                .unwrap()
                .built_here
        );
    }

    #[test]
    fn a_template_whose_data_was_changed_in_place_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        let s = set("CREATE TABLE b(y); INSERT INTO b VALUES ('seed');");
        load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        let conn = Connection::open(dir.join(Flavor::Full.file())).unwrap();
        conn.execute_batch("UPDATE b SET y = 'tampered';").unwrap();
        drop(conn);
        let again = load_or_build(&dir, &s, &Setup::default(), true).unwrap();
        assert!(again.built_here, "a changed template is not trusted");
        let conn = crate::sqlite::memdb::private_copy(again.bytes().unwrap()).unwrap();
        let y: String = conn.query_row("SELECT y FROM b", [], |r| r.get(0)).unwrap();
        assert_eq!(y, "seed");
    }

    /// What a CI cache restore does: the same bytes in another directory,
    /// with new modification times.
    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
            fs::write(to.join(entry.file_name()), fs::read(entry.path()).unwrap()).unwrap();
        }
    }

    #[test]
    fn a_copied_cache_is_used_as_it_is_and_a_damaged_copy_is_rebuilt() {
        let cache = tempfile::tempdir().unwrap();
        let s = set("CREATE TABLE b(y);");
        let built = load_or_build(&cache.path().join("k"), &s, &Setup::default(), true).unwrap();
        assert!(built.built_here);

        let restored = cache.path().join("elsewhere/k");
        copy_dir(&cache.path().join("k"), &restored);
        let reused = load_or_build(&restored, &s, &Setup::default(), true).unwrap();
        assert!(
            !reused.built_here,
            "a restored copy with new times is reused"
        );
        assert_eq!(reused.bytes().unwrap(), built.bytes().unwrap());

        let damaged = cache.path().join("damaged/k");
        copy_dir(&cache.path().join("k"), &damaged);
        let file = damaged.join(Flavor::Full.file());
        let mut bytes = fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1; // one bit, in a page SQLite would not even read
        fs::write(&file, &bytes).unwrap();
        let rebuilt = load_or_build(&damaged, &s, &Setup::default(), true).unwrap();
        assert!(rebuilt.built_here, "a damaged copy is rebuilt");
        assert_eq!(rebuilt.size(), built.size());
    }

    #[test]
    fn the_template_does_not_depend_on_the_callers_connection_settings() {
        // Foreign keys off for the caller: the template is still built with
        // them on, so a migration that breaks one is refused, whoever builds.
        let s = Migrations::new(vec![Migration::new(
            1,
            "dangling",
            "CREATE TABLE p(id INTEGER PRIMARY KEY);
             CREATE TABLE c(p INTEGER REFERENCES p(id));
             INSERT INTO c VALUES (42);",
        )])
        .unwrap();
        let cache = tempfile::tempdir().unwrap();
        let lax = Setup {
            foreign_keys: false,
            ..Setup::default()
        };
        let err = load_or_build(&cache.path().join("k"), &s, &lax, true).unwrap_err();
        assert!(matches!(err, Error::ForeignKeyViolation { .. }), "{err:?}");
    }

    #[test]
    fn leftovers_of_a_killed_builder_are_swept_at_the_next_build() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join("k");
        fs::create_dir_all(&dir).unwrap();
        for name in [
            "template-being-built-dead.sqlite",
            "template-being-built-dead.sqlite-journal",
            "template.ok.dead",
            "template.verified.dead",
        ] {
            fs::write(dir.join(name), b"left behind").unwrap();
        }
        load_or_build(&dir, &set("CREATE TABLE b(y);"), &Setup::default(), true).unwrap();
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [LOCK_FILE, Flavor::Full.sidecar(), Flavor::Full.file()]
        );
    }

    #[test]
    fn a_change_time_is_settled_only_seconds_after_it() {
        let state = |ctime| FileState {
            boot: 7,
            dev: 1,
            ino: 2,
            len: 3,
            mtime: (0, 0),
            ctime,
        };
        let changed = (1_700_000_000, 500_000_000);
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500 + ms);
        assert!(!state(changed).settled(at(0)));
        assert!(!state(changed).settled(at(1_999)));
        assert!(state(changed).settled(at(2_000)));
        assert!(
            !state(changed).settled(at(0) - Duration::from_secs(60)),
            "a clock behind the file's change time"
        );
        assert!(!state((0, 0)).settled(at(0)), "no change time kept");
        assert!(!state((-5, 0)).settled(at(0)));
    }

    fn memdb_uri() -> String {
        format!("file:/migrate-once-unit-{}?vfs=memdb", uuid::Uuid::new_v4())
    }

    fn read_whole(dir: &Path) -> Result<()> {
        let t = read_cached(dir, false, Flavor::Full)
            .unwrap()
            .expect("a sealed template");
        t.bytes().map(drop)
    }

    fn stream(dir: &Path) -> Result<()> {
        let t = read_cached(dir, false, Flavor::Full)
            .unwrap()
            .expect("a sealed template");
        t.copy_into_memory(&memdb_uri()).map(drop)
    }

    fn vouched(dir: &Path) -> bool {
        read_cached(dir, false, Flavor::Full)
            .unwrap()
            .unwrap()
            .open()
            .unwrap()
            .vouched
    }

    /// Changes the file in place without changing its length, and sets its
    /// modification time back: only the bytes (or the change time) tell.
    fn tamper(file: &Path) {
        let mtime = fs::metadata(file).unwrap().modified().unwrap();
        let mut bytes = fs::read(file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(file, &bytes).unwrap();
        fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(fs::metadata(file).unwrap().modified().unwrap(), mtime);
    }

    /// As `cp -a`, `tar` or a CI cache restore copies: the modification
    /// times kept.
    fn copy_dir_keeping_times(from: &Path, to: &Path) {
        copy_dir(from, to);
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let mtime = entry.metadata().unwrap().modified().unwrap();
            let copy = fs::File::options()
                .write(true)
                .open(to.join(entry.file_name()))
                .unwrap();
            copy.set_modified(mtime).unwrap();
        }
    }

    fn damaged(r: Result<()>) -> bool {
        matches!(r, Err(Error::TemplateDamaged { .. }))
    }

    #[test]
    fn a_settled_file_read_whole_is_vouched_for_until_anything_changes_it() {
        for read in [read_whole as fn(&Path) -> Result<()>, stream] {
            let cache = tempfile::tempdir().unwrap();
            let dir = cache.path().join("k");
            let s = set("CREATE TABLE b(y); INSERT INTO b VALUES ('seed');");
            let started = std::time::Instant::now();
            load_or_build(&dir, &s, &Setup::default(), true).unwrap();
            let file = dir.join(Flavor::Full.file());
            let record = dir.join(Flavor::Full.verified());
            let trusted = FileState::of(&fs::File::open(&file).unwrap()).is_some();

            // Just written: its change time could be shared by a change
            // made right after, so nothing is recorded yet (unless this
            // machine took most of SETTLED to get here).
            read(&dir).unwrap();
            if started.elapsed() < SETTLED / 2 {
                assert!(!record.exists(), "a fresh file is not vouched for");
            }

            std::thread::sleep(SETTLED + Duration::from_millis(100));
            read(&dir).unwrap();
            if !trusted {
                // Not Linux, or a file system whose change time cannot be
                // trusted: never recorded, every read hashed.
                assert!(!record.exists());
                tamper(&file);
                assert!(damaged(read(&dir)));
                continue;
            }
            let text = fs::read_to_string(&record).unwrap();
            assert!(text.starts_with("migrate-once verified v1 boot="), "{text}");
            assert!(vouched(&dir), "the same file, unchanged");
            read(&dir).unwrap();
            read_whole(&dir).unwrap();
            stream(&dir).unwrap();

            // A copy of the directory, record and all, its modification
            // times kept, is another file.
            let copy = cache.path().join("copy/k");
            copy_dir_keeping_times(&dir, &copy);
            assert!(!vouched(&copy), "a copied record vouches for nothing");
            tamper(&copy.join(Flavor::Full.file()));
            assert!(damaged(read(&copy)));

            // Changed while a process that trusted the record reads it.
            let t = read_cached(&dir, false, Flavor::Full).unwrap().unwrap();
            let opened = t.open().unwrap();
            assert!(opened.vouched);
            tamper(&file);
            assert!(
                damaged(t.finish_read(&opened, || true)),
                "a change during a read without hashing is caught after it"
            );

            // And so, changed in place, its modification time set back.
            assert!(!vouched(&dir), "a change in place voids the record");
            assert!(damaged(read(&dir)));
            // What the registry does after a clone found it damaged.
            assert!(
                load_or_build(&dir, &s, &Setup::default(), true)
                    .unwrap()
                    .built_here,
                "and is rebuilt"
            );
        }
    }

    #[test]
    fn a_record_names_its_boot_and_only_some_file_systems_are_trusted() {
        let state = FileState {
            boot: 1,
            dev: 2,
            ino: 3,
            len: 4,
            mtime: (5, 6),
            ctime: (7, 8),
        };
        let seal = Seal { len: 4, hash: 9 };
        let after_reboot = FileState { boot: 10, ..state };
        assert_ne!(state.record(seal), after_reboot.record(seal));
        #[cfg(target_os = "linux")]
        {
            for (kind, trusted) in [
                (0xEF53, true),       // ext4
                (0x0102_1994, true),  // tmpfs
                (0x6573_5546, false), // FUSE (sshfs copies ctime from mtime)
                (0x6969, false),      // NFS (server's clock, cached)
                (0x0102_1997, false), // 9p
            ] {
                assert_eq!(TRUSTED_FILE_SYSTEMS.contains(&kind), trusted, "{kind:#x}");
            }
            // /proc is none of them: a file there is never recorded.
            let proc = fs::File::open("/proc/self/status").unwrap();
            assert!(FileState::of(&proc).is_none());
        }
    }

    #[test]
    fn the_cache_key_changes_with_the_set() {
        let key = cache_key(&set("CREATE TABLE b(y);"));
        assert_eq!(key, cache_key(&set("CREATE TABLE b(y);")));
        assert_eq!(key, cache_key(&set("CREATE TABLE b(y);").clone()));
        assert_ne!(key, cache_key(&set("CREATE TABLE b(z);")));
    }
}
