//! Fingerprints the crate's own source for the template cache key, and
//! writes the README's doctest version.
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
    // Every file under src/ (the backends are directories of their own),
    // by its path relative to src/, in a stable order.
    let mut files = Vec::new();
    let mut dirs = vec![Path::new("src").to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("read src/") {
            let path = entry.expect("read src/").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    // FNV-1a, 64 bits: enough to tell one source tree from another.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file.strip_prefix("src").unwrap_or(&file).to_path_buf();
        for byte in name
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .copied()
            .chain(fs::read(&file).unwrap_or_default())
        {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo::rustc-env=MIGRATE_ONCE_SOURCE_HASH={hash:016x}");

    println!("cargo::rerun-if-changed=README.md");
    let readme = fs::read_to_string("README.md").unwrap_or_default();
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    fs::write(
        Path::new(&out).join("README.doctest.md"),
        readme_doctests(&readme),
    )
    .expect("write the README's doctests");
}

/// The README as `src/lib.rs` compiles it (`cargo test --doc`): its Rust
/// examples are whole tests a user pastes into a file of `tests/` (CI runs
/// them so in `consumers/readme`), which a doctest would not compile as
/// written. Per block, in lines rustdoc hides:
///
/// - the test attributes (`#[test]`, `#[tokio::test]`, `#[rstest]`) go:
///   outside `cargo test`'s harness an item under `#[test]` is not even
///   compiled, so the function is left to be type-checked instead;
/// - `sqlx` and `diesel` are this crate's renamed dev-dependencies
///   (`sqlx09`, `diesel2`), so a block that names them gets the alias;
/// - a block of functions gets an empty `main`, so that they are items of
///   the doctest's crate rather than of a `main` rustdoc would wrap them in.
fn readme_doctests(readme: &str) -> String {
    let mut out = String::with_capacity(readme.len() + 1024);
    let mut block: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match &mut block {
            None => {
                out.push_str(line);
                out.push('\n');
                if line.trim_start().starts_with("```rust") {
                    block = Some(Vec::new());
                }
            }
            Some(lines) if line.trim_start().starts_with("```") => {
                let code = lines.join("\n");
                for (name, renamed) in [("sqlx", "sqlx09"), ("diesel", "diesel2")] {
                    let alias = format!("use {renamed} as {name};");
                    if names_crate(&code, name) && !code.contains(&alias) {
                        out.push_str(&format!("# {alias}\n"));
                    }
                }
                for l in lines.iter() {
                    if !matches!(l.trim(), "#[test]" | "#[tokio::test]" | "#[rstest]") {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                let has_fn = lines.iter().any(|l| {
                    let l = l.trim_start();
                    l.starts_with("fn ") || l.starts_with("async fn ") || l.starts_with("pub fn ")
                });
                if has_fn && !code.contains("fn main(") {
                    out.push_str("# fn main() {}\n");
                }
                out.push_str(line);
                out.push('\n');
                block = None;
            }
            Some(lines) => lines.push(line),
        }
    }
    out
}

/// Whether `code` names the crate `name` as a path's first segment
/// (`sqlx::query`, `use sqlx::SqlitePool`), not as part of a longer name
/// (`migrate_once::sqlx_0_9`).
fn names_crate(code: &str, name: &str) -> bool {
    let path = format!("{name}::");
    code.match_indices(&path).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}
