//! The template cache key of a set, spelled out: what `template` built and
//! what `status` would look for. A CI step that warms the cache helps the
//! tests only if the command and the tests make the same key, which needs
//! the same SQLite (the same `Cargo.lock`) and the same migrate-once source.

use migrate_once::{Migrations, TemplateKey};

use crate::out::outln;

/// Prints the key of `set`'s template and what it is made of, indented.
pub fn print(set: &Migrations) -> TemplateKey {
    let key = TemplateKey::of(set);
    outln!("  key:     {}, made of:", key.key);
    outln!("    set           {}", key.set_hash);
    outln!(
        "    SQLite        {} (the one this command links: tests find this template only if they link the same)",
        key.sqlite_version
    );
    outln!(
        "    migrate-once  {}, source {}",
        key.crate_version,
        key.source_fingerprint
    );
    key
}
