//! What a cached template is keyed by, spelled out: a CI step that warms the
//! cache (`migrate-once template`) helps only if it builds the key the
//! tests look for, and the two agree only if they were built from the same
//! SQLite and the same migrate-once source.

use std::fmt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::migrations::{Migrations, hex};

/// The key a migration set's template is cached under, and what it is made
/// of: the set's hash, the SQLite version this build links, this crate's
/// version and a fingerprint of its source. A change to any of them is
/// another key, so a template built by other migrations, another SQLite or
/// other code is never used.
///
/// Two builds (the `migrate-once` command and a test binary, say) find the
/// same template only if all four agree: the same migrations, the same
/// `libsqlite3-sys` (so the same `Cargo.lock`), and the same migrate-once
/// source.
///
/// ```
/// use migrate_once::{Migrations, Template, TemplateKey};
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// let key = TemplateKey::of(&set);
/// assert_eq!(key.sqlite_version, migrate_once::rusqlite::version());
/// assert!(Template::for_set(&set)?.path().starts_with(key.dir()));
/// println!("{key}"); // the key, then what it is made of
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateKey {
    /// The key: the name of the template's directory in
    /// [`cache_dir`](crate::cache_dir).
    pub key: String,
    /// [`Migrations::hash`] of the set.
    pub set_hash: String,
    /// The version of the SQLite this build links
    /// ([`rusqlite::version`](crate::rusqlite::version)).
    pub sqlite_version: &'static str,
    /// This crate's version.
    pub crate_version: &'static str,
    /// A fingerprint of this crate's source files: it tells apart two
    /// builds of one version from different code (a git or path
    /// dependency, a checkout with local changes).
    pub source_fingerprint: &'static str,
}

impl TemplateKey {
    /// The key `set`'s template is cached under by this build.
    pub fn of(set: &Migrations) -> TemplateKey {
        let sqlite_version = rusqlite::version();
        let crate_version = env!("CARGO_PKG_VERSION");
        let source_fingerprint = env!("MIGRATE_ONCE_SOURCE_HASH");
        let mut h = Sha256::new();
        h.update(set.hash().as_bytes());
        h.update(sqlite_version.as_bytes());
        h.update(crate_version.as_bytes());
        h.update(source_fingerprint.as_bytes());
        TemplateKey {
            key: hex(&h.finalize()[..12]),
            set_hash: set.hash().to_string(),
            sqlite_version,
            crate_version,
            source_fingerprint,
        }
    }

    /// The hash a [`TemplateFn`](crate::TemplateFn)'s template is cached
    /// under: the user's key with the SQLite version, this crate's version
    /// and its source fingerprint, as a set's.
    pub(crate) fn of_fn_key(user_key: &str) -> String {
        let mut h = Sha256::new();
        // Not a set hash: a set's key and a function's never collide.
        h.update(b"migrate-once template function\0");
        h.update((user_key.len() as u64).to_le_bytes());
        h.update(user_key.as_bytes());
        h.update(rusqlite::version().as_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(env!("MIGRATE_ONCE_SOURCE_HASH").as_bytes());
        hex(&h.finalize()[..12])
    }

    /// The directory the template of this key is cached in: the key under
    /// [`cache_dir`](crate::cache_dir), which reads `MIGRATE_ONCE_CACHE_DIR`
    /// now.
    pub fn dir(&self) -> PathBuf {
        crate::cache_dir().join(&self.key)
    }
}

/// `<key> (set <hash>, SQLite <version>, migrate-once <version>, source <fingerprint>)`.
impl fmt::Display for TemplateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (set {}, SQLite {}, migrate-once {}, source {})",
            self.key,
            self.set_hash,
            self.sqlite_version,
            self.crate_version,
            self.source_fingerprint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Migration;

    fn set(sql: &str) -> Migrations {
        Migrations::new(vec![Migration::new(1, "a", sql)]).unwrap()
    }

    #[test]
    fn the_key_changes_with_the_set_and_names_what_it_is_made_of() {
        let (a, b) = (
            TemplateKey::of(&set("CREATE TABLE a(x);")),
            TemplateKey::of(&set("CREATE TABLE b(x);")),
        );
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), 24);
        assert_eq!(a, TemplateKey::of(&set("CREATE TABLE a(x);")));
        let shown = a.to_string();
        for part in [
            a.key.as_str(),
            a.set_hash.as_str(),
            rusqlite::version(),
            env!("CARGO_PKG_VERSION"),
            env!("MIGRATE_ONCE_SOURCE_HASH"),
        ] {
            assert!(shown.contains(part), "{part}: {shown}");
        }
    }
}
