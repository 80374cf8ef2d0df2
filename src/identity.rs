//! Deciding whether two handles name the same database.
//!
//! This is the only code that answers "same database?". Never a connection
//! or pointer address (addresses are reused after a free), never the path as
//! spelled (`db.sqlite`, `./x/../db.sqlite`, an absolute path and a symlink
//! all name one file).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The identity of a database: for a file, its canonical path together with
/// its device, inode and creation time; for a named in-memory database, its
/// name.
///
/// Two spellings of one file (relative, absolute, through a symlink, with
/// `..` in it) have equal identities. A file deleted and created again at the
/// same path is a different database, even if the file system hands out the
/// same inode number again: the creation time differs. (Where the file system
/// does not record creation times, the inode and path decide.)
///
/// ```
/// use migrate_once::DbIdentity;
///
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("db.sqlite");
/// std::fs::write(&file, b"")?;
/// let spelled_oddly = dir.path().join(".").join("db.sqlite");
/// assert_eq!(DbIdentity::of_file(&file)?, DbIdentity::of_file(&spelled_oddly)?);
/// assert_ne!(DbIdentity::of_file(&file)?, DbIdentity::memory("db.sqlite"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DbIdentity(Kind);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Kind {
    File {
        canonical: PathBuf,
        device: u64,
        inode: u64,
        created: Option<SystemTime>,
    },
    Memory(String),
}

impl DbIdentity {
    /// The identity of the database file at `path`, which must exist.
    ///
    /// # Errors
    ///
    /// The I/O error from resolving the path or reading the file's metadata
    /// (for example, the file does not exist).
    pub fn of_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let canonical = fs::canonicalize(path.as_ref())?;
        let meta = fs::metadata(&canonical)?;
        let (device, inode) = dev_ino(&meta);
        Ok(DbIdentity(Kind::File {
            canonical,
            device,
            inode,
            created: meta.created().ok(),
        }))
    }

    /// The identity of a named in-memory database (a memdb VFS name).
    pub fn memory(name: impl Into<String>) -> Self {
        DbIdentity(Kind::Memory(name.into()))
    }

    /// The canonical path of a file database; `None` for an in-memory one.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Kind::File { canonical, .. } => Some(canonical),
            Kind::Memory(_) => None,
        }
    }
}

#[cfg(unix)]
fn dev_ino(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_meta: &fs::Metadata) -> (u64, u64) {
    // Without inode numbers the canonical path and creation time decide.
    (0, 0)
}

impl fmt::Debug for DbIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::File {
                canonical,
                device,
                inode,
                ..
            } => write!(
                f,
                "DbIdentity({} dev={device} ino={inode})",
                canonical.display()
            ),
            Kind::Memory(name) => write!(f, "DbIdentity(memory {name})"),
        }
    }
}

impl fmt::Display for DbIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::File { canonical, .. } => write!(f, "{}", canonical.display()),
            Kind::Memory(name) => write!(f, "in-memory database {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_file_is_one_identity() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("x");
        fs::create_dir(&sub).unwrap();
        let file = dir.path().join("db.sqlite");
        fs::write(&file, b"").unwrap();
        let id = DbIdentity::of_file(&file).unwrap();
        assert_eq!(id, DbIdentity::of_file(sub.join("../db.sqlite")).unwrap());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.sqlite");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(id, DbIdentity::of_file(&link).unwrap());
        }
        assert_eq!(id.path(), Some(fs::canonicalize(&file).unwrap().as_path()));
    }

    #[test]
    fn a_recreated_file_is_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.sqlite");
        fs::write(&file, b"").unwrap();
        let before = DbIdentity::of_file(&file).unwrap();
        fs::remove_file(&file).unwrap();
        // Give the clock a chance to move on where creation times are coarse.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&file, b"").unwrap();
        assert_ne!(before, DbIdentity::of_file(&file).unwrap());
    }

    #[test]
    fn different_files_and_names_differ() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"").unwrap();
        fs::write(&b, b"").unwrap();
        assert_ne!(
            DbIdentity::of_file(&a).unwrap(),
            DbIdentity::of_file(&b).unwrap()
        );
        assert_eq!(DbIdentity::memory("m"), DbIdentity::memory("m"));
        assert_ne!(DbIdentity::memory("m"), DbIdentity::memory("n"));
    }

    #[test]
    fn a_missing_file_has_no_identity() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DbIdentity::of_file(dir.path().join("nope")).is_err());
    }
}
