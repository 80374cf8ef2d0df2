//! What both backends' `TemplateFn` share: the error a user's function
//! returns, and the key made of migration sources. Neither depends on a
//! backend.

use sha2::{Digest, Sha256};

use crate::migrations::hex;

/// The error a template function returns: any error, boxed (`?` converts
/// rusqlite's, postgres's, sqlx's, an `io::Error` or a `String` into it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A key made of `sources`: the hex SHA-256 of each, in order, its length
/// first (24 hex digits). See `TemplateFn::key_of` on either backend.
pub(crate) fn key_of<I, S>(sources: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut h = Sha256::new();
    for source in sources {
        let source = source.as_ref();
        // Lengths first: ["ab", "c"] and ["a", "bc"] are other keys.
        h.update((source.len() as u64).to_le_bytes());
        h.update(source);
    }
    hex(&h.finalize()[..12])
}

/// The text of a panic's payload, for an error that names it.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
