//! Turns on the peer cases of `benches/fresh_db.rs`, which this package
//! compiles with rusqlite_migration available.
fn main() {
    println!("cargo::rustc-cfg=migrate_once_peers");
}
