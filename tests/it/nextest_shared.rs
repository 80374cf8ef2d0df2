//! Many tests, one shared file, migrated once per suite run.
//!
//! Under cargo-nextest every test below is its own process, so the
//! per-process registry cannot help: only the migrator's write lock keeps the
//! migrations from running twice. Under `cargo test` they are threads of one
//! process and the registry is the fast path. Either way, every test checks
//! after its own open that the extra migration ran exactly once in the file,
//! so a second execution by any process or thread fails whichever test checks
//! after it. A start gate makes the first callers of a run open together,
//! so that they really race (see `start_gate`).
//!
//! The file lives under `CARGO_TARGET_TMPDIR/nextest_shared/<run>`, where
//! `<run>` is `NEXTEST_RUN_ID` (the same for every test process of one
//! nextest run) or, under `cargo test`, a uuid made once per process.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use migrate_once::{Migration, Migrations, SharedDb};
use once_cell::sync::Lazy;

use crate::support::{count, crate_migrations, ledger_versions, set_versions};

static RUN_DIR: Lazy<PathBuf> = Lazy::new(|| {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nextest_shared");
    std::fs::create_dir_all(&root).unwrap();
    remove_old_runs(&root);
    let run = std::env::var("NEXTEST_RUN_ID")
        .ok()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(
            || format!("cargo-test-{}", uuid::Uuid::new_v4()),
            |id| format!("nextest-{id}"),
        );
    let dir = root.join(run);
    // Every test process of a nextest run gets here; creating is idempotent.
    std::fs::create_dir_all(&dir).unwrap();
    dir
});

/// Best effort: runs from more than a day ago are finished; their files go.
fn remove_old_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let day_ago = SystemTime::now() - Duration::from_secs(24 * 60 * 60);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < day_ago);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The crate's own migrations plus one that records each execution of it in
/// a table without a unique constraint, so a second execution adds a row.
static SET: Lazy<Migrations> = Lazy::new(|| {
    let mut list: Vec<Migration> = crate_migrations().iter().cloned().collect();
    list.push(Migration::new(
        9999,
        "count_executions",
        "CREATE TABLE executions(at TEXT);
         INSERT INTO executions VALUES (strftime('%f', 'now'));
         -- Keep the transaction open a little (tens of ms), so that
         -- processes arriving together really overlap with it.
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
         SELECT count(*) FROM c;",
    ));
    Migrations::new(list).unwrap()
});

/// How many callers the start gate waits for.
const GATE: usize = 8;

/// Makes the first callers of a run open at the same moment: each one
/// registers its arrival in the run directory and waits until [`GATE`]
/// callers (processes under nextest, threads under `cargo test`) have
/// arrived, or one second has passed since the first arrival of the run,
/// whichever is first. Without it, processes start a few milliseconds apart
/// and a migration of a few milliseconds would rarely see a competitor.
fn start_gate() {
    let gate = RUN_DIR.join("gate");
    std::fs::create_dir_all(&gate).unwrap();
    let first = gate.join("first");
    if let Err(e) = std::fs::File::create_new(&first)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        panic!("create {first:?}: {e}");
    }
    let opened = std::fs::metadata(&first).unwrap().modified().unwrap();
    std::fs::write(gate.join(uuid::Uuid::new_v4().to_string()), b"").unwrap();
    let deadline = opened + Duration::from_secs(1);
    // Arrivals are the entries besides `first`.
    while std::fs::read_dir(&gate).unwrap().count() - 1 < GATE && SystemTime::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn open_and_check() {
    start_gate();
    let path = RUN_DIR.join("shared.sqlite");
    let db = SharedDb::open(&path, &SET).unwrap_or_else(|e| panic!("open {path:?}: {e}"));
    let conn = db.connect().unwrap();

    let ledger = ledger_versions(&conn);
    assert_eq!(ledger.len(), SET.len());
    assert_eq!(ledger, set_versions(&SET));
    let executions = count(&conn, "executions");
    assert_eq!(executions, 1, "the extra migration ran {executions} times");
    // The seed migration ran once too.
    assert_eq!(count(&conn, "users"), 2);
}

macro_rules! shared_tests {
    ($($name:ident)*) => {
        $(
            #[test]
            fn $name() {
                open_and_check();
            }
        )*
    };
}

shared_tests! {
    shared_01 shared_02 shared_03 shared_04 shared_05
    shared_06 shared_07 shared_08 shared_09 shared_10
    shared_11 shared_12 shared_13 shared_14 shared_15
    shared_16 shared_17 shared_18 shared_19 shared_20
    shared_21 shared_22 shared_23 shared_24
}
