//! Copies every Rust block of the README into a module of
//! `tests/readme.rs`, as it is: the README's examples are tests a user
//! pastes into a file of `tests/`, so they are compiled and run as such,
//! with exactly the README's dependency lines. A README edit that breaks
//! one fails this crate's build or its tests.

use std::fmt::Write;
use std::fs;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let readme = Path::new(&manifest).join("../../README.md");
    println!("cargo::rerun-if-changed={}", readme.display());
    let text =
        fs::read_to_string(&readme).unwrap_or_else(|e| panic!("read {}: {e}", readme.display()));
    let mut out = String::new();
    let mut blocks = 0;
    let mut block: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        match &mut block {
            None => {
                let info = line.trim_start().strip_prefix("```").map(str::trim);
                if info.is_some_and(|i| i.starts_with("rust")) {
                    block = Some((number, String::new()));
                }
            }
            Some((start, code)) if line.trim_start().starts_with("```") => {
                writeln!(
                    out,
                    "/// README.md, the block from line {start}.\nmod readme_line_{start} {{\n{code}}}\n"
                )
                .unwrap();
                blocks += 1;
                block = None;
            }
            Some((_, code)) => {
                let trimmed = line.trim_start();
                // rustdoc hides these lines; a user who pastes the block
                // gets them as code, which does not compile.
                if trimmed == "#" || trimmed.starts_with("# ") {
                    panic!(
                        "README.md line {number}: `{line}` is a line rustdoc hides, which a user \
                         pastes as it is; write the example as a whole test instead"
                    );
                }
                code.push_str(line);
                code.push('\n');
            }
        }
    }
    assert!(block.is_none(), "README.md: a Rust block is not closed");
    assert!(blocks > 0, "README.md has no Rust block");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    fs::write(Path::new(&out_dir).join("readme_blocks.rs"), out).expect("write the blocks");
}
