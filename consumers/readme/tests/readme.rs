//! The README's Rust examples, each a module of its own (see `build.rs`),
//! and a check that this crate's dependency lines are the README's.

include!(concat!(env!("OUT_DIR"), "/readme_blocks.rs"));

use std::collections::{BTreeMap, BTreeSet};

/// `(section, name)` → the dependency's specification, whitespace
/// collapsed, of every `name = spec` line under `[dependencies]` or
/// `[dev-dependencies]` in `toml`; comments dropped.
fn dependency_lines(toml: &str) -> Vec<((String, String), String)> {
    let mut section = String::new();
    let mut lines = Vec::new();
    for line in toml.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.to_string();
            continue;
        }
        if section != "dependencies" && section != "dev-dependencies" {
            continue;
        }
        let (name, spec) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a dependency line: {line}"));
        let spec = spec.split_whitespace().collect::<Vec<_>>().join(" ");
        lines.push(((section.clone(), name.trim().to_string()), spec));
    }
    lines
}

/// The README's dependency lines: those of its `toml` blocks.
fn readme_lines() -> Vec<((String, String), String)> {
    let readme = include_str!("../../../README.md");
    let mut toml = String::new();
    let mut inside = false;
    for line in readme.lines() {
        if inside && line.starts_with("```") {
            inside = false;
            // Each block starts again with no section.
            toml.push_str("[end of block]\n");
        } else if inside {
            toml.push_str(line);
            toml.push('\n');
        } else if line.trim() == "```toml" {
            inside = true;
        }
    }
    dependency_lines(&toml)
}

/// A migrate-once specification without its features, and its features.
fn features(spec: &str) -> (String, BTreeSet<String>) {
    let Some((before, rest)) = spec.split_once("features = [") else {
        return (spec.to_string(), BTreeSet::new());
    };
    let (list, after) = rest.split_once(']').expect("a closed feature list");
    let features = list
        .split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .filter(|f| !f.is_empty())
        .collect();
    (format!("{before}features = []{after}"), features)
}

#[test]
fn the_dependency_lines_are_exactly_the_readmes() {
    let ours: BTreeMap<_, _> = dependency_lines(include_str!("../Cargo.toml"))
        .into_iter()
        .collect();
    let mut theirs = BTreeMap::new();
    let mut wanted_features = BTreeSet::new();
    let mut readme_migrate_once = BTreeSet::new();
    for (key, spec) in readme_lines() {
        if key.1 == "migrate-once" {
            // The README's path is to a checkout beside the user's crate;
            // this crate is inside the checkout.
            let spec = spec.replace(r#"path = "../migrate-once""#, r#"path = "../..""#);
            let (without, features) = features(&spec);
            wanted_features.extend(features);
            readme_migrate_once.insert((key, without));
            continue;
        }
        if let Some(other) = theirs.insert(key.clone(), spec.clone()) {
            assert_eq!(other, spec, "the README gives two lines for {key:?}");
        }
    }
    let mut ours_without = ours.clone();
    let key = ("dev-dependencies".to_string(), "migrate-once".to_string());
    let (our_spec, our_features) =
        features(&ours_without.remove(&key).expect("a migrate-once line"));
    assert_eq!(
        ours_without, theirs,
        "every other line as the README gives it"
    );
    assert_eq!(
        readme_migrate_once,
        BTreeSet::from([(key, our_spec)]),
        "migrate-once as the README gives it, with the path to this checkout"
    );
    assert_eq!(
        our_features, wanted_features,
        "the features the README's sections ask for, together"
    );
}
