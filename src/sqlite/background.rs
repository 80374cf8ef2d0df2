//! File work done off a test's own thread: the next clone of a template
//! written before it is asked for, and a finished test's file removed, or
//! rewritten into the next clone.
//!
//! A test database that is a file (`TestDb::new`, `#[sqlx_test]`'s, in
//! `/dev/shm` where there is one) costs, at 100 tables, about 0.4 ms to
//! write (the kernel allocates and zeroes its 1.5 MB of pages as they are
//! written) and 0.2 ms to remove (it frees them): where a memdb clone is a
//! 0.07 ms `memcpy`. So, in a process that makes many clones of one
//! template into one directory (not under cargo-nextest, where a process
//! makes one):
//!
//! - **Written ahead.** From the second clone on, a thread keeps one more
//!   ready, and the next test takes it. A spare is a clone like any other:
//!   written whole, created exclusively, named with a fresh uuid.
//! - **Removed or rewritten off the test's thread** (for databases whose
//!   test is over and cannot look: `#[sqlx_test]`'s). Rather than freeing
//!   the file's pages and allocating new ones for the next clone, the
//!   thread rewrites the finished file as the next spare, under a fresh
//!   uuid name: about 0.3 ms for both instead of 0.6 ms. Only a file no one
//!   has open is rewritten: the thread takes a write lease on it
//!   (`F_SETLEASE`), which the kernel grants only when no other file
//!   descriptor, in any process, is open on it, and which makes any later
//!   `open` wait until the rewrite is done; and only one with no journal,
//!   WAL or shared-memory file beside it, in the mode and of the owner a
//!   fresh clone has. Any other file is removed.
//!
//! Whatever is left when the process exits (files to remove, spares) is
//! removed then, on Unix by `atexit` (nothing in safe Rust runs at exit).
//! Elsewhere files are removed at once and nothing is written ahead. A
//! process killed outright leaves at most one spare (and one file being
//! rewritten) per template, beside its tests' own databases.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};

/// How many finished files this process rewrote as clones (for its tests).
pub(crate) static REWRITTEN: AtomicUsize = AtomicUsize::new(0);

/// What a spare is made for: the template file, the directory, and the
/// first twenty bytes written (the header, which a WAL clone changes).
pub(crate) type SpareKey = (PathBuf, PathBuf, Vec<u8>);

/// Makes clones for one [`SpareKey`].
pub(crate) trait Cloner: Send + Sync {
    /// A new clone, written into a new file; `None` if that failed.
    fn fresh(&self) -> Option<PathBuf>;
    /// `old`, a finished clone no one has open, rewritten as a new clone
    /// under a new name; `None` if it cannot be (then it is removed).
    fn reuse(&self, old: &Path) -> Option<PathBuf>;
}

enum Job {
    Remove(PathBuf),
    /// Readies the spare of a key, from a finished file if one is waiting.
    Make(SpareKey),
}

#[derive(Default)]
struct Slot {
    cloner: Option<Arc<dyn Cloner>>,
    /// Clones taken for this key in this process.
    clones: u32,
    /// A spare being made.
    pending: bool,
    ready: Option<PathBuf>,
    /// Finished files waiting to be rewritten as the next spare.
    finished: Vec<PathBuf>,
}

struct State {
    jobs: Mutex<VecDeque<Job>>,
    wake: Condvar,
    spares: Mutex<HashMap<SpareKey, Slot>>,
}

static STATE: Lazy<State> = Lazy::new(|| {
    // The thread and the exit hook are set up with the state, once.
    let _ = std::thread::Builder::new()
        .name("migrate-once-files".into())
        .spawn(work);
    at_exit();
    State {
        jobs: Mutex::new(VecDeque::new()),
        wake: Condvar::new(),
        spares: Mutex::new(HashMap::new()),
    }
});

fn push(job: Job, first: bool) {
    let mut jobs = STATE.jobs.lock();
    if first {
        jobs.push_front(job);
    } else {
        jobs.push_back(job);
    }
    drop(jobs);
    STATE.wake.notify_one();
}

/// A clone for `key` written ahead, if one is ready; and, from the second
/// clone of `key` on, the thread readies the next with `cloner`.
pub(crate) fn spare(key: SpareKey, cloner: Arc<dyn Cloner>) -> Option<PathBuf> {
    if !cfg!(unix) {
        return None;
    }
    let mut spares = STATE.spares.lock();
    let slot = spares.entry(key.clone()).or_default();
    slot.cloner.get_or_insert(cloner);
    slot.clones += 1;
    let ready = slot.ready.take();
    if slot.clones >= 2 && !slot.pending {
        slot.pending = true;
        drop(spares);
        // Before any removal: a test may be waiting for it.
        push(Job::Make(key), true);
    }
    ready
}

/// A finished clone of `key` whose test is over: rewritten as the next
/// spare if it can be, else removed, off this thread (at once where
/// nothing can run at exit). `files` are the database and the journal,
/// WAL and shared-memory files beside it; a file already gone is fine.
pub(crate) fn finished(key: Option<SpareKey>, files: [PathBuf; 4]) {
    if !cfg!(unix) {
        for file in files {
            let _ = fs::remove_file(file);
        }
        return;
    }
    let [database, sidecars @ ..] = files;
    // A journal or WAL beside it: not a clean database to rewrite.
    let clean = sidecars.iter().all(|f| !f.exists());
    if let (Some(key), true) = (key, clean) {
        let mut spares = STATE.spares.lock();
        if let Some(slot) = spares.get_mut(&key).filter(|s| s.finished.len() < 2) {
            slot.finished.push(database);
            let make = slot.ready.is_none() && !slot.pending;
            slot.pending |= make;
            drop(spares);
            if make {
                push(Job::Make(key), false);
            }
            return;
        }
    }
    let mut jobs = STATE.jobs.lock();
    jobs.extend(std::iter::once(database).chain(sidecars).map(Job::Remove));
    drop(jobs);
    STATE.wake.notify_one();
}

fn work() {
    loop {
        let job = {
            let mut jobs = STATE.jobs.lock();
            loop {
                match jobs.pop_front() {
                    Some(job) => break job,
                    None => STATE.wake.wait(&mut jobs),
                }
            }
        };
        match job {
            Job::Remove(file) => {
                let _ = fs::remove_file(file);
            }
            Job::Make(key) => make(key),
        }
    }
}

/// Readies `key`'s spare: a finished file rewritten if one is waiting and
/// can be, else a new file.
fn make(key: SpareKey) {
    let (cloner, old) = {
        let mut spares = STATE.spares.lock();
        let slot = spares.entry(key.clone()).or_default();
        (slot.cloner.clone(), slot.finished.pop())
    };
    let made = cloner.and_then(|cloner| {
        old.and_then(|old| {
            let reused = cloner.reuse(&old);
            match reused {
                Some(_) => {
                    REWRITTEN.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    let _ = fs::remove_file(&old);
                }
            }
            reused
        })
        .or_else(|| cloner.fresh())
    });
    let mut spares = STATE.spares.lock();
    let slot = spares.entry(key.clone()).or_default();
    let surplus = match (made, &slot.ready) {
        (Some(file), None) => {
            slot.ready = Some(file);
            None
        }
        (made, _) => made,
    };
    // Another finished file came meanwhile, and no spare is wanted: it goes.
    let more = std::mem::take(&mut slot.finished);
    slot.pending = false;
    drop(spares);
    for file in surplus.into_iter().chain(more) {
        let _ = fs::remove_file(file);
    }
}

/// Rewrites `old` (a finished clone in `dir`) as a new clone holding
/// `bytes` (`header` first), under a new name made by `new_name`, if no one
/// has it open and it has `mode` and belongs to this user: see the module
/// docs. `None` if it cannot be; `old` is then as it was. Linux only
/// (leases are Linux's); elsewhere finished files are removed.
#[cfg(target_os = "linux")]
pub(crate) fn rewrite(
    old: &Path,
    new_name: PathBuf,
    header: &[u8],
    bytes: &[u8],
    mode: u32,
) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, MetadataExt};

    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(old)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.mode() & 0o7777 != mode || meta.nlink() != 1 {
        return None;
    }
    // SAFETY: `file` is open for the whole call; F_SETLEASE takes an int
    // and touches no memory of ours. It fails (EAGAIN) if any other file
    // descriptor is open on the file, in this process or another.
    #[allow(unsafe_code)]
    let leased = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) } == 0;
    if !leased {
        return None;
    }
    let done = (|| {
        fs::rename(old, &new_name).ok()?;
        let written = file
            .write_all_at(header, 0)
            .and_then(|()| {
                file.write_all_at(
                    bytes.get(header.len()..).unwrap_or_default(),
                    header.len() as u64,
                )
            })
            .and_then(|()| file.set_len(bytes.len() as u64));
        if written.is_err() {
            let _ = fs::remove_file(&new_name);
            return None;
        }
        Some(new_name)
    })();
    // SAFETY: as above; releasing the lease lets waiting opens go on.
    #[allow(unsafe_code)]
    unsafe {
        libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK);
    }
    done
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn rewrite(
    _old: &Path,
    _new_name: PathBuf,
    _header: &[u8],
    _bytes: &[u8],
    _mode: u32,
) -> Option<PathBuf> {
    None
}

#[cfg(unix)]
fn at_exit() {
    // SAFETY: `atexit` only records a function pointer; `clean_up` is a
    // plain `extern "C" fn` with no captured state that never unwinds (a
    // panic inside is caught), as a C caller requires. It fails only for
    // want of memory, and then what is left at exit stays, as after a kill.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::atexit(clean_up) };
}

#[cfg(not(unix))]
fn at_exit() {}

/// Run by `exit`: removes what the thread has not, and the spares.
/// `try_lock`: a thread holding either at exit must not deadlock it; what
/// it holds then stays.
#[cfg(unix)]
extern "C" fn clean_up() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(mut jobs) = STATE.jobs.try_lock() {
            for job in jobs.drain(..) {
                if let Job::Remove(file) = job {
                    let _ = fs::remove_file(file);
                }
            }
        }
        if let Some(mut spares) = STATE.spares.try_lock() {
            for slot in spares.values_mut() {
                for file in slot.ready.take().into_iter().chain(slot.finished.drain(..)) {
                    let _ = fs::remove_file(file);
                }
            }
        }
    });
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_rewritten_only_when_no_one_has_it_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        fs::write(&old, b"a finished database, longer than the template").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o600)).unwrap();
        let template = b"HEADER-and-the-template";

        // Open elsewhere (another connection still there): left alone.
        let open = fs::File::open(&old).unwrap();
        assert_eq!(
            rewrite(&old, dir.path().join("new"), b"HEADER", template, 0o600),
            None
        );
        assert!(old.exists());
        drop(open);

        // Another mode than a fresh clone's: left alone.
        assert_eq!(
            rewrite(&old, dir.path().join("new"), b"HEADER", template, 0o644),
            None
        );

        // No one has it open: renamed, rewritten whole, cut to length.
        let new = rewrite(&old, dir.path().join("new"), b"HEADER", template, 0o600).unwrap();
        assert!(!old.exists());
        assert_eq!(fs::read(&new).unwrap(), template);
    }
}
