//! Process-wide SQLite settings that have to be made before SQLite starts.
//!
//! With SQLite's default build, every allocation takes one global mutex to
//! keep memory statistics. Measured on 2 cores (`BENCHMARKS.md`):
//! deserializing test databases from 2 threads ran at 0.5–0.9x the speed of
//! one thread; with statistics off, 2.0x (and 2.0x for in-memory `TestDb`s). `cargo test` runs tests on threads, so the crate turns
//! statistics off before the first connection it opens — which works only
//! if nothing in the process has used SQLite yet. When something has, the
//! call is refused (SQLITE_MISUSE) and nothing changes; build with
//! `LIBSQLITE3_FLAGS="-DSQLITE_DEFAULT_MEMSTATUS=0"` to get the same effect
//! whatever runs first. A second global mutex, on the page cache every
//! connection shares when SQLite is built with
//! `SQLITE_ENABLE_MEMORY_MANAGEMENT` (the bundled build is), can only be
//! removed at build time (`-USQLITE_ENABLE_MEMORY_MANAGEMENT`); test
//! databases are not copied through the page cache, so it costs little here
//! (see the README's troubleshooting). Set
//! `MIGRATE_ONCE_KEEP_MEMSTATUS=1` to leave statistics on, for example to
//! read `sqlite3_memory_used`.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Environment variable that keeps SQLite's memory statistics on.
const KEEP_MEMSTATUS_ENV: &str = "MIGRATE_ONCE_KEEP_MEMSTATUS";

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Called before the crate opens a connection of its own (for a template,
/// a [`TestDb`](crate::TestDb) or a [`SharedDb`](crate::SharedDb)).
pub(crate) fn before_first_connection() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(KEEP_MEMSTATUS_ENV).is_some_and(|v| v != "0" && !v.is_empty()) {
            return;
        }
        // SAFETY: `sqlite3_config` must not run while another thread is
        // inside SQLite. If SQLite is already initialized it returns
        // SQLITE_MISUSE after reading one flag and changes nothing. If
        // another thread initializes SQLite at this very instant, the only
        // shared state written here is the `bMemstat` int, which SQLite reads
        // only to decide whether to count allocations: a miscount of
        // statistics, not memory unsafety. The variadic argument is the `int`
        // that SQLITE_CONFIG_MEMSTATUS takes.
        #[allow(unsafe_code)]
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        DISABLED.store(rc == rusqlite::ffi::SQLITE_OK, Ordering::SeqCst);
    });
}

/// Whether this crate switched SQLite's memory statistics off in this
/// process (it does so before the first connection it opens itself if SQLite
/// was not yet in use and `MIGRATE_ONCE_KEEP_MEMSTATUS` is not set).
pub fn memstatus_disabled() -> bool {
    DISABLED.load(Ordering::SeqCst)
}
