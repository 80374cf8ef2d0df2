//! Test databases dropped off the test's thread: `DROP DATABASE` costs tens
//! of milliseconds of a test that has already passed. One thread drops what
//! it is given; at exit (`atexit`: nothing in safe Rust runs then) the
//! process waits up to [`AT_EXIT`] for it to finish, so a `cargo test` or
//! nextest process leaves nothing behind. What a killed process leaves is
//! swept by a later one (see `template`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};

use super::template::Server;

/// How long an exiting process waits for the drops still queued.
const AT_EXIT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Queue {
    jobs: VecDeque<(Arc<Server>, String)>,
    /// A drop is running.
    busy: bool,
}

struct State {
    queue: Mutex<Queue>,
    wake: Condvar,
    idle: Condvar,
}

static STATE: Lazy<State> = Lazy::new(|| {
    let _ = std::thread::Builder::new()
        .name("migrate-once-pg-drop".into())
        .spawn(work);
    at_exit();
    State {
        queue: Mutex::new(Queue::default()),
        wake: Condvar::new(),
        idle: Condvar::new(),
    }
});

/// Drops the database `name` soon, off this thread.
pub(crate) fn drop_later(server: Arc<Server>, name: String) {
    let mut queue = STATE.queue.lock();
    queue.jobs.push_back((server, name));
    STATE.wake.notify_one();
}

fn work() {
    loop {
        let (server, name) = {
            let mut queue = STATE.queue.lock();
            loop {
                if let Some(job) = queue.jobs.pop_front() {
                    queue.busy = true;
                    break job;
                }
                queue.busy = false;
                STATE.idle.notify_all();
                STATE.wake.wait(&mut queue);
            }
        };
        let _ = server.drop_database(&name);
    }
}

/// Waits (bounded) for the queue to empty.
fn wait_for_drops() {
    let deadline = Instant::now() + AT_EXIT;
    let mut queue = STATE.queue.lock();
    while queue.busy || !queue.jobs.is_empty() {
        if STATE.idle.wait_until(&mut queue, deadline).timed_out() {
            break;
        }
    }
}

fn at_exit() {
    // SAFETY: `atexit` only records a function pointer; `finish` is a
    // plain `extern "C" fn` with no captured state that never unwinds (a
    // panic inside is caught), as a C caller requires. It fails only for
    // want of memory, and then what is queued at exit is left to a sweep.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::atexit(finish) };
}

extern "C" fn finish() {
    let _ = std::panic::catch_unwind(wait_for_drops);
}

/// Copies made ahead: templates to make one for, each at most once in the
/// queue. Not waited for at exit: a copy under way when the process exits
/// is finished by the server (it does not look at the client until it
/// answers), and is there for the next process.
struct Ahead {
    queue: Mutex<VecDeque<(Arc<Server>, String)>>,
    wake: Condvar,
}

static AHEAD: Lazy<Ahead> = Lazy::new(|| {
    let _ = std::thread::Builder::new()
        .name("migrate-once-pg-ahead".into())
        .spawn(prepare);
    Ahead {
        queue: Mutex::new(VecDeque::new()),
        wake: Condvar::new(),
    }
});

/// Makes a copy of `template` ready for a later test, off this thread
/// (unless one is queued already).
pub(crate) fn prepare_later(server: Arc<Server>, template: String) {
    let mut queue = AHEAD.queue.lock();
    if !queue
        .iter()
        .any(|(s, t)| Arc::ptr_eq(s, &server) && *t == template)
    {
        queue.push_back((server, template));
        AHEAD.wake.notify_one();
    }
}

fn prepare() {
    loop {
        let (server, template) = {
            let mut queue = AHEAD.queue.lock();
            loop {
                if let Some(job) = queue.pop_front() {
                    break job;
                }
                AHEAD.wake.wait(&mut queue);
            }
        };
        let _ = server.prepare(&template);
    }
}
