//! A rusqlite 0.32 project's tests with migrate-once: the connections are the
//! project's own rusqlite type.

#[path = "../../rusqlite-tests.rs"]
mod rusqlite_tests;
