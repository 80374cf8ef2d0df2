//! Where the crate keeps its files, and whether a directory is safe to keep
//! them in: the only code that decides either.
//!
//! Two kinds of directory: the template cache (`MIGRATE_ONCE_CACHE_DIR`) and
//! the one test databases are written to (`MIGRATE_ONCE_DIR`). A template
//! decides what every test runs against, so whoever can write the cache can
//! decide that; a test database directory that someone else owns can be
//! filled, replaced or taken away under the tests. Both are classic
//! shared-temp-directory faults (a `/tmp/migrate-once` that the first user
//! of a machine owns: every other user's new sets fail with "Permission
//! denied", and a template that user planted is cloned by everyone else).
//!
//! So, on Unix:
//!
//! - **By default** each lives in a directory of the user's own, named by
//!   their uid and created `0700`, as tmux keeps `/tmp/tmux-UID`:
//!   `$TMPDIR/migrate-once-UID` for the cache, and for test databases
//!   `/dev/shm/migrate-once-UID` where there is a `/dev/shm` (a file
//!   system in memory: a database file there costs no disk writes, and
//!   behaves as a file, which an in-memory database does not), else the
//!   cache's directory. Such a directory is used only if it is a real
//!   directory (not a symbolic link), owned by the user, that no one else
//!   can write. Anything else there (another user's directory, a file, a
//!   link) is an error that names the path and what is wrong: the name is
//!   the user's, so whatever squats it is hostile or a mistake, and no
//!   fallback could be trusted more.
//! - **A directory the user names** (the environment variables, or
//!   [`TestDbBuilder::dir`](crate::TestDbBuilder::dir)) is created if it
//!   does not exist, and may belong to someone else (a shared, pre-warmed
//!   cache); it is refused only if others can write it without the sticky
//!   bit (with the sticky bit, as on `/tmp`, no one can replace another's
//!   files).
//! - **A cached template** is used only if the user owns the file, wherever
//!   it is: a seal beside a file another user wrote proves nothing.
//!
//! Elsewhere (Windows, where the temp directory is the user's own) the
//! default is `migrate-once` under the temp directory and nothing is
//! checked.
//!
//! A directory is checked once per process; one that disappears meanwhile
//! (cleaned up while tests run) is made again by [`again`].

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use crate::error::{Error, Result};

/// Environment variable that overrides where templates are cached.
pub const CACHE_DIR_ENV: &str = "MIGRATE_ONCE_CACHE_DIR";

/// Environment variable naming the directory test databases are written to
/// (and where in-memory databases kept after a failed test go).
pub const TEST_DB_DIR_ENV: &str = "MIGRATE_ONCE_DIR";

/// What a directory is for: named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Purpose {
    /// The template cache.
    Cache,
    /// Test databases.
    TestDbs,
}

impl Purpose {
    fn what(self) -> &'static str {
        match self {
            Purpose::Cache => "template cache directory",
            Purpose::TestDbs => "test database directory",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Purpose::Cache => CACHE_DIR_ENV,
            Purpose::TestDbs => TEST_DB_DIR_ENV,
        }
    }
}

/// Who chose a directory: the crate (a name of the user's own, held to the
/// strict rule) or the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Chosen {
    /// The crate's default.
    ByDefault,
    /// An environment variable or a builder.
    ByUser,
    /// Made by the crate inside one of the others (a set's directory in
    /// the cache): held to the strict rule, wherever its parent is.
    Inside,
}

/// A directory and who chose it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Dir {
    pub path: PathBuf,
    pub chosen: Chosen,
    pub purpose: Purpose,
}

fn from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The user's own name for a directory of the crate's under `parent`.
fn own_name(parent: &Path) -> PathBuf {
    #[cfg(unix)]
    {
        parent.join(format!("migrate-once-{}", sys::euid()))
    }
    #[cfg(not(unix))]
    {
        parent.join("migrate-once")
    }
}

/// The template cache: `MIGRATE_ONCE_CACHE_DIR`, or the user's own
/// directory under the temp directory.
pub(crate) fn cache() -> Dir {
    match from_env(CACHE_DIR_ENV) {
        Some(path) => Dir {
            path,
            chosen: Chosen::ByUser,
            purpose: Purpose::Cache,
        },
        None => Dir {
            path: own_name(&std::env::temp_dir()),
            chosen: Chosen::ByDefault,
            purpose: Purpose::Cache,
        },
    }
}

/// Set once the default directory in `/dev/shm` was found full: test
/// databases go to the temp directory's from then on.
static SHM_FULL: AtomicBool = AtomicBool::new(false);

/// Where test databases go: `MIGRATE_ONCE_DIR`, or the user's own
/// directory in `/dev/shm` (else the cache's default directory).
pub(crate) fn test_dbs() -> Dir {
    if let Some(path) = from_env(TEST_DB_DIR_ENV) {
        return Dir {
            path,
            chosen: Chosen::ByUser,
            purpose: Purpose::TestDbs,
        };
    }
    let shm = Path::new("/dev/shm");
    let parent =
        if cfg!(target_os = "linux") && !SHM_FULL.load(Ordering::Relaxed) && shm_has_room(shm) {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
    Dir {
        path: own_name(&parent),
        chosen: Chosen::ByDefault,
        purpose: Purpose::TestDbs,
    }
}

/// Whether `/dev/shm` is there with room for test databases: at least
/// 256 MiB free when first asked (a container's is 64 MB by default, and
/// its pages count against the container's memory). Asked once per
/// process.
fn shm_has_room(shm: &Path) -> bool {
    static ROOM: once_cell::sync::OnceCell<bool> = once_cell::sync::OnceCell::new();
    *ROOM.get_or_init(|| shm.is_dir() && sys::free_bytes(shm).is_some_and(|free| free >= 256 << 20))
}

/// A directory the user named through a builder.
pub(crate) fn named(path: &Path, purpose: Purpose) -> Dir {
    Dir {
        path: path.to_path_buf(),
        chosen: Chosen::ByUser,
        purpose,
    }
}

/// Which directory a path is: device, inode, mode (file type and
/// permissions) and owner. Device and inode alone are not enough: a
/// directory removed frees its inode number for the next file made, a
/// symbolic link put in its place say, which then looked like the
/// directory that was checked (it failed CI once).
type Identity = (u64, u64, u32, u32);

/// Directories this process has made ready, and which directory each
/// was ([`Identity`]): one removed and put back since, by anyone, or
/// whose mode or owner changed, is checked again.
static READY: Lazy<Mutex<HashMap<Dir, Identity>>> = Lazy::new(Mutex::default);

impl Dir {
    /// Makes the directory exist and checks that it is safe to use (see the
    /// module docs), once per process; returns its path.
    ///
    /// # Errors
    ///
    /// [`Error::UnsafePath`] if it is not a directory or is not safe;
    /// [`Error::Io`] if it cannot be made or read.
    pub(crate) fn ready(&self) -> Result<&Path> {
        let known = READY.lock().get(self).copied();
        if known.is_some() && known == sys::identity(&self.path, self.follows_links()) {
            return Ok(&self.path);
        }
        self.make_and_check()?;
        if let Some(identity) = sys::identity(&self.path, self.follows_links()) {
            READY.lock().insert(self.clone(), identity);
        }
        Ok(&self.path)
    }

    /// A directory the user named is taken through links (they named it);
    /// one of the crate's own names never is.
    fn follows_links(&self) -> bool {
        self.chosen == Chosen::ByUser
    }

    /// For the default test database directory in `/dev/shm`, after a
    /// write there found it full (a container's is 64 MB by default): the
    /// default directory on disk, used from then on, and said once on
    /// stderr. `None` for any other directory.
    pub(crate) fn fallback(&self) -> Option<Dir> {
        if self.chosen != Chosen::ByDefault
            || self.purpose != Purpose::TestDbs
            || !self.path.starts_with("/dev/shm")
        {
            return None;
        }
        if !SHM_FULL.swap(true, Ordering::Relaxed) {
            eprintln!(
                "migrate-once: {} is full; test databases go to {} instead (set {} to choose)",
                self.path.display(),
                own_name(&std::env::temp_dir()).display(),
                TEST_DB_DIR_ENV
            );
        }
        Some(test_dbs())
    }

    /// A directory the crate makes inside this one: the strict rule, for
    /// in a cache directory others may own (a shared one the user named),
    /// a set's directory made by another user holds that user's template.
    pub(crate) fn child(&self, name: &str) -> Dir {
        Dir {
            path: self.path.join(name),
            chosen: Chosen::Inside,
            purpose: self.purpose,
        }
    }

    /// After an operation in the directory failed with `e`: if the
    /// directory is gone (removed while the process ran), makes it again
    /// and returns `true`, so the caller can try once more.
    pub(crate) fn again(&self, e: &io::Error) -> bool {
        if e.kind() != io::ErrorKind::NotFound || self.path.exists() {
            return false;
        }
        READY.lock().remove(self);
        self.ready().is_ok()
    }

    fn make_and_check(&self) -> Result<()> {
        let made = match self.chosen {
            // Only the last component is ours to make: its parent is the
            // system's (`/tmp`, `/dev/shm`), or was made ready first.
            Chosen::ByDefault | Chosen::Inside => sys::make_private(&self.path, false),
            Chosen::ByUser => sys::make_private(&self.path, true),
        };
        let made_here = match made {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::io(&self.path)(e)),
        };
        self.check(made_here)
    }

    fn check(&self, made_here: bool) -> Result<()> {
        let problem = match self.chosen {
            Chosen::ByDefault | Chosen::Inside => sys::problem_with_own(&self.path),
            Chosen::ByUser => sys::problem_with_named(&self.path),
        }
        .map_err(Error::io(&self.path))?;
        match problem {
            None => Ok(()),
            // This process made it a moment ago, and it has another owner:
            // the file system maps owners (NFS's root_squash, a folder
            // shared with a virtual machine), and no other user is to blame.
            Some(problem) if made_here && problem.starts_with("it belongs to uid") => {
                Err(Error::UnsafePath {
                    path: self.path.clone(),
                    what: self.purpose.what(),
                    problem: format!(
                        "{problem}, though this process made it just now: the file system \
                         gives files another owner (NFS with root_squash, a shared folder), \
                         so the crate cannot tell your files from another user's there; set \
                         {} to a directory on a local file system",
                        self.purpose.env()
                    ),
                })
            }
            Some(problem) => Err(Error::UnsafePath {
                path: self.path.clone(),
                what: self.purpose.what(),
                problem: format!(
                    "{problem}; {}",
                    match self.chosen {
                        Chosen::ByDefault => format!(
                            "this name is yours (your uid is in it), so remove what is there \
                             (its owner or root can), or set {} to a directory of your own",
                            self.purpose.env()
                        ),
                        Chosen::ByUser => format!(
                            "take away others' write permission (or set the sticky bit), \
                             or choose another directory ({})",
                            self.purpose.env()
                        ),
                        Chosen::Inside => format!(
                            "the crate makes this directory for you, so another user made \
                             it (for the same migration set); remove it, or set {} to a \
                             directory of your own",
                            self.purpose.env()
                        ),
                    }
                ),
            }),
        }
    }
}

/// Checks that a file the crate is about to trust (a cached template) is
/// the user's own: `Ok` if it is (or where nothing can be checked),
/// [`Error::UnsafePath`] naming it if another user owns it.
pub(crate) fn check_own_file(file: &fs::File, path: &Path) -> Result<()> {
    match sys::other_owner(file) {
        None => Ok(()),
        Some(owner) => Err(Error::UnsafePath {
            path: path.to_path_buf(),
            what: "cached template",
            problem: format!(
                "it belongs to uid {owner}, not to you (uid {}), so whoever wrote it decides \
                 what your tests run against; remove it (or its directory), or set {} \
                 to a directory of your own",
                sys::euid_text(),
                CACHE_DIR_ENV
            ),
        }),
    }
}

#[cfg(unix)]
mod sys {
    use std::fs::{self, DirBuilder};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use std::path::Path;

    /// The effective user id: who owns what this process creates.
    pub(super) fn euid() -> u32 {
        // SAFETY: `geteuid` takes no arguments, cannot fail and touches no
        // memory of ours (POSIX: "shall always be successful").
        #[allow(unsafe_code)]
        unsafe {
            libc::geteuid()
        }
    }

    pub(super) fn euid_text() -> String {
        euid().to_string()
    }

    /// Creates `path` with mode 0700 (and, with `parents`, its missing
    /// parents likewise).
    pub(super) fn make_private(path: &Path, parents: bool) -> io::Result<()> {
        DirBuilder::new()
            .recursive(parents)
            .mode(0o700)
            .create(path)
    }

    fn mode_text(mode: u32) -> String {
        format!("{:04o}", mode & 0o7777)
    }

    /// What is wrong with a directory of the user's own name, if anything:
    /// it must be a directory (not a link to one), theirs, that no one else
    /// can write.
    pub(super) fn problem_with_own(path: &Path) -> io::Result<Option<String>> {
        let meta = fs::symlink_metadata(path)?;
        let me = euid();
        Ok(if meta.file_type().is_symlink() {
            Some("it is a symbolic link, not a directory".into())
        } else if !meta.is_dir() {
            Some("it is not a directory".into())
        } else if meta.uid() != me {
            Some(format!(
                "it belongs to uid {}, not to you (uid {me})",
                meta.uid()
            ))
        } else {
            others_can_write(&meta)
                .map(|who| format!("{who} can write to it (mode {})", mode_text(meta.mode())))
        })
    }

    /// Who other than the owner can write `meta`'s directory, if anyone:
    /// everyone (`o+w`), or the members of its group (`g+w`) unless the
    /// group is the user's own (a umask of 002 with a group per user, as
    /// Fedora and Debian make them, gives every directory `g+w`).
    fn others_can_write(meta: &fs::Metadata) -> Option<&'static str> {
        if meta.mode() & 0o002 != 0 {
            Some("others")
        } else if meta.mode() & 0o020 != 0 && meta.gid() != egid() {
            Some("the members of its group")
        } else {
            None
        }
    }

    /// The effective group id: the group of what this process creates.
    fn egid() -> u32 {
        // SAFETY: `getegid` takes no arguments, cannot fail and touches no
        // memory of ours.
        #[allow(unsafe_code)]
        unsafe {
            libc::getegid()
        }
    }

    /// Which directory `path` is now; through a link only with `follow`.
    pub(super) fn identity(path: &Path, follow: bool) -> Option<super::Identity> {
        let meta = if follow {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        }
        .ok()?;
        Some((meta.dev(), meta.ino(), meta.mode(), meta.uid()))
    }

    /// What is wrong with a directory the user named, if anything: it must
    /// be a directory (links followed: the user named it), and if others
    /// can write it, it must have the sticky bit.
    pub(super) fn problem_with_named(path: &Path) -> io::Result<Option<String>> {
        let meta = fs::metadata(path)?;
        let mode = meta.permissions().mode();
        Ok(if !meta.is_dir() {
            Some("it is not a directory".into())
        } else if let (Some(who), 0) = (others_can_write(&meta), mode & 0o1000) {
            Some(format!(
                "{who} can write to it (mode {}) and it has no sticky bit, so they can \
                 replace what is in it",
                mode_text(mode)
            ))
        } else {
            None
        })
    }

    /// Bytes free for this user on the file system of `path`.
    pub(super) fn free_bytes(path: &Path) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a NUL-terminated string that lives through the
        // call, and `statvfs` writes a whole `statvfs` into `stat` when it
        // returns 0.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: initialized by the successful call above.
        #[allow(unsafe_code)]
        let stat = unsafe { stat.assume_init() };
        // Their integer types differ between systems.
        #[allow(clippy::unnecessary_cast)]
        Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
    }

    /// The owner of `file` if it is not this user (`None` if it is, or if
    /// it cannot be told).
    pub(super) fn other_owner(file: &fs::File) -> Option<u32> {
        let owner = file.metadata().ok()?.uid();
        (owner != euid()).then_some(owner)
    }
}

#[cfg(not(unix))]
mod sys {
    use std::fs;
    use std::io;
    use std::path::Path;

    pub(super) fn euid_text() -> String {
        "?".into()
    }

    pub(super) fn make_private(path: &Path, parents: bool) -> io::Result<()> {
        if parents {
            fs::create_dir_all(path)
        } else {
            fs::create_dir(path)
        }
    }

    pub(super) fn problem_with_own(path: &Path) -> io::Result<Option<String>> {
        problem_with_named(path)
    }

    pub(super) fn problem_with_named(path: &Path) -> io::Result<Option<String>> {
        Ok((!fs::metadata(path)?.is_dir()).then(|| "it is not a directory".into()))
    }

    pub(super) fn other_owner(_file: &fs::File) -> Option<u32> {
        None
    }

    pub(super) fn free_bytes(_path: &Path) -> Option<u64> {
        None
    }

    pub(super) fn identity(path: &Path, _follow: bool) -> Option<super::Identity> {
        // No inode to compare: once made ready, taken as it is.
        fs::metadata(path).ok().map(|_| (0, 0, 0, 0))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn own(path: &Path) -> Dir {
        Dir {
            path: path.to_path_buf(),
            chosen: Chosen::ByDefault,
            purpose: Purpose::Cache,
        }
    }

    fn unsafe_problem(r: Result<&Path>) -> String {
        match r {
            Err(Error::UnsafePath { problem, .. }) => problem,
            other => panic!("expected UnsafePath, got {other:?}"),
        }
    }

    #[test]
    fn a_default_directory_is_made_private_and_then_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = own(&tmp.path().join("migrate-once-x"));
        dir.ready().unwrap();
        let mode = fs::metadata(&dir.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Once more, from what is there.
        READY.lock().clear();
        dir.ready().unwrap();
    }

    #[test]
    fn a_default_name_taken_by_a_file_a_link_or_a_writable_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        assert!(unsafe_problem(own(&file).ready()).starts_with("it is not a directory"));

        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(unsafe_problem(own(&link).ready()).starts_with("it is a symbolic link"));

        let open = tmp.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let problem = unsafe_problem(own(&open).ready());
        assert!(
            problem.starts_with("others can write to it (mode 0777)"),
            "{problem}"
        );
    }

    #[test]
    fn a_named_directory_is_made_with_its_parents_and_may_be_shared_only_with_the_sticky_bit() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = named(&tmp.path().join("a/b/c"), Purpose::TestDbs);
        deep.ready().unwrap();
        assert!(deep.path.is_dir());

        let shared = tmp.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let problem = unsafe_problem(named(&shared, Purpose::TestDbs).ready());
        assert!(problem.contains("no sticky bit"), "{problem}");
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        named(&shared, Purpose::TestDbs).ready().unwrap();
    }

    #[test]
    fn group_write_is_refused_only_for_a_group_that_is_not_the_users_own() {
        use std::os::unix::fs::{MetadataExt, chown};
        let tmp = tempfile::tempdir().unwrap();
        // A umask of 002 with a group per user: g+w, the user's own group.
        let umask_002 = tmp.path().join("umask-002");
        fs::create_dir(&umask_002).unwrap();
        fs::set_permissions(&umask_002, fs::Permissions::from_mode(0o775)).unwrap();
        assert_eq!(fs::metadata(&umask_002).unwrap().gid(), sys_egid());
        named(&umask_002, Purpose::Cache).ready().unwrap();
        own(&umask_002).ready().unwrap();

        // The same, but the group is another one (65534, nogroup): its
        // members can write it.
        let shared_group = tmp.path().join("shared-group");
        fs::create_dir(&shared_group).unwrap();
        fs::set_permissions(&shared_group, fs::Permissions::from_mode(0o775)).unwrap();
        chown(&shared_group, None, Some(65534)).unwrap();
        let problem = unsafe_problem(named(&shared_group, Purpose::Cache).ready());
        assert!(
            problem.starts_with("the members of its group can write to it (mode 0775)"),
            "{problem}"
        );
        let problem = unsafe_problem(own(&shared_group).ready());
        assert!(
            problem.starts_with("the members of its group can write"),
            "{problem}"
        );
    }

    fn sys_egid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(tempfile::tempdir().unwrap().path())
            .unwrap()
            .gid()
    }

    #[test]
    fn a_directory_swapped_for_a_link_after_it_was_checked_is_checked_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = own(&tmp.path().join("swapped"));
        dir.ready().unwrap();
        // Removed (a cleaner) and put back as a link to somewhere else.
        fs::remove_dir(&dir.path).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir.path).unwrap();
        let problem = unsafe_problem(dir.ready());
        assert!(problem.starts_with("it is a symbolic link"), "{problem}");
    }

    #[test]
    fn a_directory_whose_mode_changed_after_it_was_checked_is_checked_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = own(&tmp.path().join("opened"));
        dir.ready().unwrap();
        // Same device and inode: only the mode tells.
        fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o777)).unwrap();
        let problem = unsafe_problem(dir.ready());
        assert!(problem.contains("others can write"), "{problem}");
    }

    #[test]
    fn a_directory_removed_while_the_process_runs_is_made_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = own(&tmp.path().join("gone"));
        dir.ready().unwrap();
        fs::remove_dir(&dir.path).unwrap();
        let e = fs::File::create(dir.path.join("x")).unwrap_err();
        assert!(dir.again(&e));
        assert!(dir.path.is_dir());
    }
}
