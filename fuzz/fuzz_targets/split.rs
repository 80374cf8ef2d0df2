//! The splitter against SQLite: each statement it returns is complete by
//! `sqlite3_complete` and no shorter prefix is, the text between them holds
//! no statement; and (for inputs up to 4 KB) the migrator applies the text
//! as SQLite's own `sqlite3_prepare_v2` tail loop runs it: same outcome,
//! same database. The checks are the property tests' own
//! (`tests/it/differential/oracle.rs`). A divergence panics: a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migrate_once::rusqlite::Connection;

#[path = "../../tests/it/differential/oracle.rs"]
mod oracle;

thread_local! {
    static CONN: Connection = Connection::open_in_memory().expect("open");
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return; // The loader refuses it (the `load` target).
    };
    CONN.with(|conn| oracle::check_split(conn, sql))
        .unwrap_or_else(|e| panic!("{e}"));
    if sql.len() <= 4096 {
        oracle::check_apply(sql).unwrap_or_else(|e| panic!("{e}"));
    }
});
