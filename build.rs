//! Fingerprints the crate's own source for the template cache key.
//!
//! A cached template is reused only if nothing that shapes it changed: the
//! migrations, the SQLite that built it, and the code that built it. A
//! published version's code is its version number; but while the crate's
//! code changes under one version (in development, or from a git or path
//! dependency), a template built by the old code must not be reused. A test
//! that ran against such a stale template once hid a broken change here.

use std::fs;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=src");
    let mut files: Vec<_> = fs::read_dir(Path::new("src"))
        .expect("read src/")
        .map(|e| e.expect("read src/").path())
        .collect();
    files.sort();
    // FNV-1a, 64 bits: enough to tell one source tree from another.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        for byte in file
            .file_name()
            .into_iter()
            .flat_map(|n| n.as_encoded_bytes().to_vec())
            .chain(fs::read(&file).unwrap_or_default())
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo::rustc-env=MIGRATE_ONCE_SOURCE_HASH={hash:016x}");
}
