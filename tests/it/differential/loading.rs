//! One directory, loaded both ways: `Migrations::from_dir` reads it at run
//! time, `embed_migrations!` (`Migrations::from_embedded`) from the bytes
//! the macro embedded. Generated directories hold migrations in every
//! layout, editor backups beside them (`0002_b.sql~`, `.bak`, `.orig`,
//! `.swp`, `#0002_b.sql#`, `.#0002_b.sql`), names without a version,
//! directories with and without `up.sql`, and contents that are not UTF-8
//! (lone surrogates as CESU bytes, a cut multi-byte character, a UTF-16
//! file), hold a NUL, a byte-order mark, CRLF or lone CR line ends. Both ways
//! must give the same set (versions, names, SQL, checksums, hash, origins)
//! or the same error naming the same entry.

use std::fs;
use std::path::Path;

use include_dir::{Dir, DirEntry, File};
use migrate_once::__private::include_dir;
use migrate_once::{Error, Migrations};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// One entry of a generated directory.
#[derive(Debug, Clone)]
pub enum Spec {
    File(String, Vec<u8>),
    Dir(String, Vec<(String, Vec<u8>)>),
}

fn name_of(spec: &Spec) -> &str {
    match spec {
        Spec::File(n, _) | Spec::Dir(n, _) => n,
    }
}

/// Contents: SQL that loads (mostly), and bytes that must not.
fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => select(vec![
            b"CREATE TABLE a(x);".to_vec(),
            b"CREATE TABLE b(x);\r\nINSERT INTO b VALUES ('a\r\nb');\r\n".to_vec(),
            b"CREATE TABLE f(x); INSERT INTO f VALUES ('a\rb');".to_vec(),
            "\u{feff}CREATE TABLE c(x);".as_bytes().to_vec(),
            b"DROP TABLE a;".to_vec(),
        ]),
        1 => select(vec![
            b"-- nothing\n".to_vec(),
            b"SELECT 1;\0 DELETE FROM a;".to_vec(),
            b"BEGIN; CREATE TABLE d(x); COMMIT;".to_vec(),
            // A lone surrogate (U+D800) as CESU-8 / WTF-8 bytes: not UTF-8.
            b"SELECT '\xed\xa0\x80';".to_vec(),
            // A multi-byte character cut short, and Latin-1.
            b"SELECT '\xc3';".to_vec(),
            b"SELECT 'caf\xe9';".to_vec(),
            "CREATE TABLE e(x);".encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Vec::new(),
        ]),
    ]
}

/// A name: a version (or none, or one that does not parse), a name and an
/// extension, with what editors add around them.
fn file_name() -> impl Strategy<Value = String> {
    (
        prop_oneof![12 => Just(""), 1 => select(vec![".", "#", ".#"])],
        prop_oneof![
            12 => select(vec!["0001", "0002", "0003", "0004", "0005", "20240101120000", "2024-01-01-120000"]),
            1 => select(vec!["", "1a", "99999999999999999999", "2024-01-15"]),
        ],
        select(vec!["_", "_", "_", "-", ""]),
        select(vec!["a", "b", "b", "é x", ""]),
        prop_oneof![
            12 => select(vec![".sql", ".SQL", ".up.sql", ".down.sql", ".Down.sql"]),
            2 => select(vec![".sql~", ".sql.bak", ".sql.orig", ".SQL.swp", ".txt", "", ".sql#"]),
        ],
    )
        .prop_map(|(pre, version, sep, name, ext)| {
            let ext = if pre == "#" && ext == ".sql" { ".sql#" } else { ext };
            format!("{pre}{version}{sep}{name}{ext}")
        })
        .prop_filter("a file name", |n| !n.is_empty() && n != "." && n != "..")
}

/// A directory entry: a file, or a directory of `up.sql`/`down.sql` (and
/// others), named like a migration or not.
fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        5 => (file_name(), contents()).prop_map(|(n, c)| Spec::File(n, c)),
        2 => (
            select(vec!["0003_c", "0002_b", "0001_a", "2024-01-01-120000_d", "notes", ".git", "0003_c.sql", "0004_d.sql~"]),
            vec((select(vec!["up.sql", "down.sql", "README.md", "UP.sql"]), contents()), 0..3),
        )
            .prop_map(|(n, files)| Spec::Dir(n.to_string(), files.into_iter().map(|(f, c)| (f.to_string(), c)).collect())),
    ]
}

/// A directory: its entries, unique by name.
pub fn directory() -> impl Strategy<Value = Vec<Spec>> {
    vec(spec(), 0..5).prop_map(|specs| {
        let mut seen = std::collections::BTreeSet::new();
        specs
            .into_iter()
            .filter(|s| seen.insert(name_of(s).to_string()))
            .map(|s| match s {
                Spec::Dir(n, files) => {
                    let mut seen = std::collections::BTreeSet::new();
                    Spec::Dir(
                        n,
                        files
                            .into_iter()
                            .filter(|(f, _)| seen.insert(f.clone()))
                            .collect(),
                    )
                }
                file => file,
            })
            .collect()
    })
}

/// A set or an error, as text that does not depend on where the
/// directory was read from (a temporary directory or the embedded root).
fn answer(result: Result<Migrations, Error>, root: &Path) -> String {
    let text = match result {
        Ok(set) => {
            let mut text = format!("hash {} ledgers {:?}\n", set.hash(), set.app_ledgers());
            for m in &set {
                text.push_str(&format!(
                    "{} {:?} {} {:?} up {:?} down {:?}\n",
                    m.version(),
                    m.name(),
                    m.checksum(),
                    m.origin(),
                    m.up_sql(),
                    m.down_sql()
                ));
            }
            text
        }
        Err(e) => format!("error {e:?}"),
    };
    let root = root.display().to_string();
    let text = if root.is_empty() {
        text
    } else {
        text.replace(&format!("{root}/"), "").replace(&root, "")
    };
    text.replace("File(\"", "At(\"")
        .replace("Embedded(\"", "At(\"")
        .replace(" (embedded)", "")
}

/// Loads `specs` written into a temporary directory and embedded, and
/// returns both answers (from_dir's, from_embedded's).
pub fn load_both(specs: &[Spec]) -> (String, String) {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    for s in specs {
        match s {
            Spec::File(n, c) => fs::write(tmp.path().join(n), c).expect("write"),
            Spec::Dir(n, files) => {
                fs::create_dir(tmp.path().join(n)).expect("mkdir");
                for (f, c) in files {
                    fs::write(tmp.path().join(n).join(f), c).expect("write");
                }
            }
        }
    }
    let from_dir = answer(Migrations::from_dir(tmp.path()), tmp.path());

    // What `include_dir!` would have embedded: the same tree, paths
    // relative to the embedded root.
    let paths: Vec<(String, Vec<String>)> = specs
        .iter()
        .map(|s| match s {
            Spec::File(n, _) => (n.clone(), Vec::new()),
            Spec::Dir(n, files) => (
                n.clone(),
                files.iter().map(|(f, _)| format!("{n}/{f}")).collect(),
            ),
        })
        .collect();
    let inner: Vec<Vec<DirEntry<'_>>> = specs
        .iter()
        .zip(&paths)
        .map(|(s, (_, file_paths))| match s {
            Spec::File(..) => Vec::new(),
            Spec::Dir(_, files) => files
                .iter()
                .zip(file_paths)
                .map(|((_, c), p)| DirEntry::File(File::new(p, c)))
                .collect(),
        })
        .collect();
    let entries: Vec<DirEntry<'_>> = specs
        .iter()
        .zip(&paths)
        .zip(&inner)
        .map(|((s, (n, _)), inner)| match s {
            Spec::File(_, c) => DirEntry::File(File::new(n, c)),
            Spec::Dir(..) => DirEntry::Dir(Dir::new(n, inner)),
        })
        .collect();
    let embedded = answer(
        Migrations::from_embedded(&Dir::new("", &entries)),
        Path::new(""),
    );
    (from_dir, embedded)
}

/// Where the loader reports a file that is not UTF-8, its offset is where
/// the standard library finds the first invalid byte.
pub fn check_not_utf8(specs: &[Spec]) -> Result<(), String> {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    for s in specs {
        if let Spec::File(n, c) = s {
            fs::write(tmp.path().join(n), c).expect("write");
        }
    }
    if let Err(Error::NotUtf8 { path, valid_up_to }) = Migrations::from_dir(tmp.path()) {
        let bytes = fs::read(&path).map_err(|e| format!("{path:?}: {e}"))?;
        let expected = std::str::from_utf8(&bytes).map_err(|e| e.valid_up_to());
        if expected != Err(valid_up_to) {
            return Err(format!(
                "{path:?}: valid up to {valid_up_to}, std says {expected:?}"
            ));
        }
    }
    Ok(())
}
