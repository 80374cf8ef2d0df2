//! One directory, loaded both ways (shared, by `#[path]`, with the fuzz
//! target `fuzz/fuzz_targets/load.rs`; `grammar.rs` generates them): `Migrations::from_dir` reads it at run
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

/// One entry of a generated directory.
#[derive(Debug, Clone)]
pub enum Spec {
    File(String, Vec<u8>),
    Dir(String, Vec<(String, Vec<u8>)>),
}

pub fn name_of(spec: &Spec) -> &str {
    match spec {
        Spec::File(n, _) | Spec::Dir(n, _) => n,
    }
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

/// A temporary directory, in memory where there is `/dev/shm`: thousands
/// of them are made per run.
fn scratch_dir() -> tempfile::TempDir {
    match Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::TempDir::new_in(shm),
        _ => tempfile::TempDir::new(),
    }
    .expect("a temporary directory")
}

/// Loads `specs` written into a temporary directory and embedded, and
/// returns both answers (from_dir's, from_embedded's).
pub fn load_both(specs: &[Spec]) -> (String, String) {
    let tmp = scratch_dir();
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
    let tmp = scratch_dir();
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
