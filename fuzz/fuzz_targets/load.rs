//! The loader: a directory of generated entries (names and contents) gives
//! the same answer through `Migrations::from_dir` and `embed_migrations!`
//! (`Migrations::from_embedded`), and a file that is not UTF-8 is reported
//! at the offset the standard library finds. The checks are the property
//! tests' own (`tests/it/differential/loading.rs`).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/differential/loading.rs"]
mod loading;

/// Parts of a name the fuzzer picks (so that it reaches `.sql`, versions
/// and backups at once) around text of its own.
#[derive(Arbitrary, Debug)]
struct Name {
    prefix: u8,
    version: u8,
    middle: String,
    suffix: u8,
}

impl Name {
    fn build(&self) -> Option<String> {
        const PREFIX: [&str; 4] = ["", ".", "#", ".#"];
        const VERSION: [&str; 8] = [
            "0001_",
            "0002_",
            "2-",
            "",
            "20240101120000_",
            "2024-01-01-120000_",
            "1a_",
            "99999999999999999999_",
        ];
        const SUFFIX: [&str; 12] = [
            ".sql",
            ".SQL",
            ".up.sql",
            ".down.sql",
            ".sql~",
            ".sql.bak",
            ".sql.orig",
            ".swp",
            ".txt",
            "",
            ".sql#",
            "/up.sql",
        ];
        let pick = |list: &[&'static str], i: u8| list[usize::from(i) % list.len()];
        let middle: String = self
            .middle
            .chars()
            .filter(|&c| c != '/' && c != '\0')
            .take(40)
            .collect();
        let suffix = pick(&SUFFIX, self.suffix);
        let name = format!(
            "{}{}{middle}{}",
            pick(&PREFIX, self.prefix),
            pick(&VERSION, self.version),
            if suffix == "/up.sql" { "" } else { suffix }
        );
        (!name.is_empty() && name != "." && name != ".." && name.len() < 200).then_some(name)
    }
}

#[derive(Arbitrary, Debug)]
enum Entry {
    File(Name, Vec<u8>),
    Dir(Name, Vec<(u8, Vec<u8>)>),
}

fuzz_target!(|entries: Vec<Entry>| {
    const IN_DIR: [&str; 4] = ["up.sql", "down.sql", "README.md", "UP.sql"];
    let mut seen = std::collections::BTreeSet::new();
    let mut specs = Vec::new();
    for entry in entries.iter().take(8) {
        let spec = match entry {
            Entry::File(name, bytes) => name.build().map(|n| loading::Spec::File(n, bytes.clone())),
            Entry::Dir(name, files) => name.build().map(|n| {
                let mut inner = std::collections::BTreeSet::new();
                loading::Spec::Dir(
                    n,
                    files
                        .iter()
                        .map(|(i, b)| {
                            (
                                IN_DIR[usize::from(*i) % IN_DIR.len()].to_string(),
                                b.clone(),
                            )
                        })
                        .filter(|(f, _)| inner.insert(f.clone()))
                        .collect(),
                )
            }),
        };
        if let Some(spec) = spec
            && seen.insert(loading::name_of(&spec).to_string())
        {
            specs.push(spec);
        }
    }
    let (from_dir, embedded) = loading::load_both(&specs);
    assert_eq!(
        from_dir, embedded,
        "from_dir and embed_migrations! disagree on {specs:?}"
    );
    loading::check_not_utf8(&specs).unwrap_or_else(|e| panic!("{e}"));
});
