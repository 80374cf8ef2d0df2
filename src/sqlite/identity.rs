//! Deciding whether two handles name the same database.
//!
//! This is the only code that answers "same database?". Never a connection
//! or pointer address (addresses are reused after a free), never the path as
//! spelled (`db.sqlite`, `./x/../db.sqlite`, an absolute path and a symlink
//! all name one file).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::Connection;

/// The database file behind a connection, `None` for an in-memory database.
/// (rusqlite reports `Some("")` for those: a reason never to key anything by
/// a connection's path as it reports it.)
pub(crate) fn file_of(conn: &Connection) -> Option<PathBuf> {
    conn.path().filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// The identity of a database file: its canonical path together with its
/// device, inode and creation time.
///
/// Two spellings of one file (relative, absolute, through a symlink, with
/// `..` in it) have equal identities. A file deleted and created again at the
/// same path is a different database, even if the file system hands out the
/// same inode number again: the creation time differs. (Where the file system
/// does not record creation times, the inode and path decide.) In-memory
/// databases need no identity: every one the crate makes is private to its
/// `TestDb`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DbIdentity {
    canonical: PathBuf,
    device: u64,
    inode: u64,
    created: Option<SystemTime>,
}

impl DbIdentity {
    /// The identity of the database file at `path`, which must exist; the
    /// I/O error from resolving the path or reading its metadata otherwise.
    pub(crate) fn of_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let canonical = fs::canonicalize(path.as_ref())?;
        let meta = fs::metadata(&canonical)?;
        let (device, inode) = dev_ino(&meta);
        Ok(DbIdentity {
            canonical,
            device,
            inode,
            created: meta.created().ok(),
        })
    }

    /// The canonical path of the file.
    pub(crate) fn path(&self) -> &Path {
        &self.canonical
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
        assert_eq!(id.path(), fs::canonicalize(&file).unwrap());
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
    fn different_files_differ() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"").unwrap();
        fs::write(&b, b"").unwrap();
        assert_ne!(
            DbIdentity::of_file(&a).unwrap(),
            DbIdentity::of_file(&b).unwrap()
        );
    }

    #[test]
    fn a_missing_file_has_no_identity() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DbIdentity::of_file(dir.path().join("nope")).is_err());
    }
}
