//! File work done off a test's own thread: removing a finished test
//! database, and writing the next clone of a template before it is asked
//! for.
//!
//! A `#[sqlx_test]` database is a file (in `/dev/shm` where there is one),
//! and at 100 tables writing its 1.5 MB costs about 0.4 ms and removing it
//! 0.2 ms (the kernel allocates, then frees, its pages): a third of what a
//! test's database costs in all. Neither needs the test's thread:
//!
//! - **Removing**: a passing test's file has a fresh uuid name, never used
//!   again, so nothing can open it meanwhile; one thread removes what it is
//!   given.
//! - **Writing ahead**: once a process has made two clones of one template
//!   into one directory (so not under cargo-nextest, where a process makes
//!   one), the thread keeps one more ready, and the next test takes it. A
//!   spare is a file like any other clone: written whole, exclusively
//!   created, named with a uuid.
//!
//! Whatever is left when the process exits (files to remove, a spare) is
//! removed then, on Unix by `atexit` (nothing in safe Rust runs at exit).
//! Elsewhere files are removed at once and nothing is written ahead. A
//! process killed outright leaves at most one spare per template, beside
//! its test's own database.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::PathBuf;

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};

/// What a spare is made for: the template file, the directory, and the
/// first twenty bytes written (the header, which a WAL clone changes).
pub(crate) type SpareKey = (PathBuf, PathBuf, Vec<u8>);

/// Writes a new clone and returns its path.
pub(crate) type Make = Box<dyn FnOnce() -> Option<PathBuf> + Send>;

enum Job {
    Remove(PathBuf),
    Make(SpareKey, Make),
}

#[derive(Default)]
struct Slot {
    /// Clones made for this key in this process.
    clones: u32,
    /// A spare being written.
    pending: bool,
    ready: Option<PathBuf>,
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

/// Removes `files` soon, off this thread (at once where nothing can run at
/// exit). A file already gone is fine.
pub(crate) fn remove_later(files: impl IntoIterator<Item = PathBuf>) {
    if !cfg!(unix) {
        for file in files {
            let _ = fs::remove_file(file);
        }
        return;
    }
    STATE.jobs.lock().extend(files.into_iter().map(Job::Remove));
    STATE.wake.notify_one();
}

/// A clone for `key` written ahead, if one is ready; and, from the second
/// clone of `key` on, `make` runs on the thread to ready the next.
pub(crate) fn spare(key: SpareKey, make: Make) -> Option<PathBuf> {
    if !cfg!(unix) {
        return None;
    }
    let mut spares = STATE.spares.lock();
    let slot = spares.entry(key.clone()).or_default();
    slot.clones += 1;
    let ready = slot.ready.take();
    if slot.clones >= 2 && !slot.pending {
        slot.pending = true;
        drop(spares);
        // Writing comes before removing: a test may be waiting for it.
        STATE.jobs.lock().push_front(Job::Make(key, make));
        STATE.wake.notify_one();
    }
    ready
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
            Job::Make(key, make) => {
                let made = make();
                let mut spares = STATE.spares.lock();
                let slot = spares.entry(key).or_default();
                slot.pending = false;
                match (made, &slot.ready) {
                    (Some(file), None) => slot.ready = Some(file),
                    (Some(file), Some(_)) => {
                        let _ = fs::remove_file(file);
                    }
                    (None, _) => {}
                }
            }
        }
    }
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
                if let Some(file) = slot.ready.take() {
                    let _ = fs::remove_file(file);
                }
            }
        }
    });
}
