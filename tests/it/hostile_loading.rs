//! Hostile input, round 2: files in a migrations directory that look like
//! migrations and are not, or are not what they look like. Each is loaded
//! and refused with a typed error naming the file, or loaded as it should
//! be; none is skipped silently, none hangs, none is touched if its name
//! says it cannot be a migration.

use std::fs;
use std::path::Path;

use migrate_once::{Error, Migrations, Origin};
use tempfile::TempDir;

use crate::support::child::{ChildEnv, child_test};
use crate::support::{DEADLINE, load_err};

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    fs::write(dir.join(name), text).unwrap();
}

/// A directory with one good migration (`0001_ok.sql`) and `name` holding `text`.
fn with(name: &str, text: impl AsRef<[u8]>) -> TempDir {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "0001_ok.sql", "CREATE TABLE ok(x);");
    write(tmp.path(), name, text);
    tmp
}

#[test]
fn a_nul_byte_inside_a_statement_is_refused_naming_the_file_and_offset() {
    // SQLite would stop at the NUL: `DELETE FROM a` with no WHERE.
    let sql = "CREATE TABLE a(x);\nDELETE FROM a\0 WHERE x = 2;\n";
    let tmp = with("0002_delete.sql", sql);
    let err = load_err(tmp.path());
    match &err {
        Error::NulByte {
            version: 2,
            origin: Origin::File(p),
            offset,
        } => {
            assert_eq!(p, &tmp.path().join("0002_delete.sql"));
            assert_eq!(*offset, sql.find('\0').unwrap());
        }
        other => panic!("expected NulByte, got {other:?}"),
    }
    assert!(err.to_string().contains("NUL byte at offset 32"), "{err}");
}

#[test]
fn a_nul_byte_at_the_start_of_a_statement_or_in_a_down_is_refused_too() {
    let tmp = with("0002_b.sql", "\0SELECT 1;");
    assert!(matches!(
        load_err(tmp.path()),
        Error::NulByte { offset: 0, .. }
    ));

    let tmp = with("0002_b.up.sql", "CREATE TABLE b(x);");
    write(
        tmp.path(),
        "0002_b.down.sql",
        "DROP TABLE b;\0 DROP TABLE ok;",
    );
    assert!(matches!(
        load_err(tmp.path()),
        Error::NulByte {
            version: 2,
            offset: 13,
            ..
        }
    ));

    // Built in code, the same.
    let err =
        Migrations::new(vec![migrate_once::Migration::new(1, "a", "SELECT 1;\0")]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NulByte {
                origin: Origin::Code,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_file_saved_as_utf16_is_refused_with_a_hint() {
    let utf16: Vec<u8> = "CREATE TABLE a(x);"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    // Without a byte-order mark it is valid UTF-8, full of NULs.
    let tmp = with("0002_a.sql", &utf16);
    let err = load_err(tmp.path());
    assert!(matches!(err, Error::NulByte { offset: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("UTF-16"), "{err}");
    // With one, it is not UTF-8 at all.
    let mut bom = vec![0xff, 0xfe];
    bom.extend(&utf16);
    let tmp = with("0002_a.sql", &bom);
    assert!(matches!(
        load_err(tmp.path()),
        Error::NotUtf8 { valid_up_to: 0, .. }
    ));
}

#[test]
fn an_upper_or_mixed_case_sql_extension_is_a_migration() {
    let tmp = with("0002_b.SQL", "CREATE TABLE b(x);");
    write(tmp.path(), "0003_c.Sql", "CREATE TABLE c(x);");
    write(tmp.path(), "0004_d.UP.SQL", "CREATE TABLE d(x);");
    write(tmp.path(), "0004_d.Down.sql", "DROP TABLE d;");
    let set = Migrations::from_dir(tmp.path()).unwrap();
    let loaded: Vec<(i64, &str)> = set.iter().map(|m| (m.version(), m.name())).collect();
    assert_eq!(loaded, [(1, "ok"), (2, "b"), (3, "c"), (4, "d")]);
    assert_eq!(set.get(4).unwrap().down_sql(), Some("DROP TABLE d;"));
}

#[test]
fn a_file_that_looks_like_a_migration_but_is_not_sql_is_refused_by_name() {
    for name in [
        "0002_b.sql~",
        "0002_b.sql.bak",
        "0002_b.sql.orig",
        "0002_b.SQL.swp",
    ] {
        let tmp = with(name, "CREATE TABLE b(x);");
        match load_err(tmp.path()) {
            Error::UnusableFile { path, reason } => {
                assert_eq!(path, tmp.path().join(name));
                assert!(reason.contains("does not end in .sql"), "{name}: {reason}");
            }
            other => panic!("{name}: expected UnusableFile, got {other:?}"),
        }
    }
    // Files that do not look like migrations are still ignored.
    let tmp = with("README.md", "# notes");
    write(tmp.path(), "0002_notes.txt", "not SQL");
    write(tmp.path(), "schema.sql.bak", "a backup without a version");
    assert_eq!(Migrations::from_dir(tmp.path()).unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_migration_is_refused_without_hanging() {
    for name in ["0002_b.sql", "0002_b/up.sql"] {
        let tmp = with("placeholder.txt", "");
        let fifo = tmp.path().join(name);
        fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Reading a FIFO with no writer blocks forever: load on a thread and
        // give up after the deadline instead of hanging the suite.
        let dir = tmp.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(Migrations::from_dir(&dir).map(|s| s.len())));
        let got = rx.recv_timeout(DEADLINE).expect("loading hung on a FIFO");
        match got {
            Err(Error::UnusableFile { path, reason }) => {
                assert_eq!(path, fifo, "{name}");
                assert!(reason.contains("not a regular file"), "{name}: {reason}");
            }
            other => panic!("{name}: expected UnusableFile, got {other:?}"),
        }
    }
}

#[test]
fn a_directory_named_like_a_sql_file_is_refused() {
    let tmp = with("placeholder.txt", "");
    fs::create_dir(tmp.path().join("0002_b.sql")).unwrap();
    assert!(matches!(
        load_err(tmp.path()),
        Error::UnusableFile { reason, .. } if reason.contains("not a regular file")
    ));
}

#[cfg(unix)]
#[test]
fn a_dangling_link_is_an_error_only_if_its_name_is_a_migrations() {
    let tmp = with("placeholder.txt", "");
    std::os::unix::fs::symlink("/nonexistent/README.md", tmp.path().join("README.md")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/notes", tmp.path().join("notes")).unwrap();
    assert_eq!(Migrations::from_dir(tmp.path()).unwrap().len(), 1);

    let link = tmp.path().join("0002_b.sql");
    std::os::unix::fs::symlink("/nonexistent/0002_b.sql", &link).unwrap();
    assert!(matches!(load_err(tmp.path()), Error::Io { path, .. } if path == link));
}

#[cfg(target_os = "linux")]
#[test]
fn a_non_utf8_file_name_is_refused_by_a_path_that_exists() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = with("placeholder.txt", "");
    let name = std::ffi::OsStr::from_bytes(b"0002_caf\xe9.sql");
    fs::write(tmp.path().join(name), "CREATE TABLE b(x);").unwrap();
    match load_err(tmp.path()) {
        Error::UnusableFile { path, reason } => {
            assert!(
                fs::symlink_metadata(&path).is_ok(),
                "{path:?} does not exist"
            );
            assert_eq!(path.file_name(), Some(name));
            assert!(reason.contains("not valid UTF-8"), "{reason}");
        }
        other => panic!("expected UnusableFile, got {other:?}"),
    }
}

#[test]
fn a_date_prefix_is_refused_instead_of_read_as_a_year() {
    let tmp = with("2024-01-15_users.sql", "CREATE TABLE users(x);");
    match load_err(tmp.path()) {
        Error::InvalidVersion { path, reason } => {
            assert_eq!(path, tmp.path().join("2024-01-15_users.sql"));
            assert!(reason.contains("2024-01-15 looks like a date"), "{reason}");
            assert!(reason.contains("20240115"), "{reason}");
        }
        other => panic!("expected InvalidVersion, got {other:?}"),
    }
    // diesel's full stamp is a version, and so is a plain `-` separator.
    let tmp = TempDir::new().unwrap();
    fs::create_dir(tmp.path().join("2024-01-15-093000_users")).unwrap();
    write(
        &tmp.path().join("2024-01-15-093000_users"),
        "up.sql",
        "CREATE TABLE u(x);",
    );
    write(tmp.path(), "20240116000000-more.sql", "CREATE TABLE m(x);");
    let set = Migrations::from_dir(tmp.path()).unwrap();
    assert_eq!(
        set.iter().map(|m| m.version()).collect::<Vec<_>>(),
        [20240115093000, 20240116000000]
    );
}

#[test]
fn an_up_and_down_pair_with_a_typo_says_so() {
    let tmp = with("0002_users.up.sql", "CREATE TABLE users(x);");
    write(tmp.path(), "0002_user.down.sql", "DROP TABLE users;");
    match load_err(tmp.path()) {
        Error::UpDownMismatch {
            version: 2,
            up,
            down,
        } => {
            assert_eq!(up, Origin::File(tmp.path().join("0002_users.up.sql")));
            assert_eq!(down, Origin::File(tmp.path().join("0002_user.down.sql")));
        }
        other => panic!("expected UpDownMismatch, got {other:?}"),
    }
}

const UNREADABLE_DIR: &str = "MIGRATE_ONCE_UNREADABLE_DIR";

/// Run as an unprivileged user by the test below: root reads everything.
#[test]
#[ignore = "run as a child process by hostile_loading::a_directory_that_is_not_a_migration_is_not_opened"]
fn child_loads_past_an_unreadable_directory() {
    let env = ChildEnv::of("hostile_loading::a_directory_that_is_not_a_migration_is_not_opened");
    let dir = env.path(UNREADABLE_DIR);
    let loaded = Migrations::from_dir(&dir).map(|s| s.len());
    println!("RESULT loaded={}", loaded.as_ref().map_or(0, |n| *n));
    loaded.unwrap();
}

/// `lost+found` and other directories that cannot be migrations are not
/// opened: as a user who may not read them, loading still works.
#[cfg(target_os = "linux")]
#[test]
fn a_directory_that_is_not_a_migration_is_not_opened() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = with("README.md", "# notes");
    let lost = tmp.path().join("lost+found");
    fs::create_dir(&lost).unwrap();
    fs::set_permissions(&lost, fs::Permissions::from_mode(0o700)).unwrap();
    // Readable for everyone else; the unreadable one stays root's.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["0001_ok.sql", "README.md"] {
        fs::set_permissions(tmp.path().join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = child_test!(child_loads_past_an_unreadable_directory)
        .env(UNREADABLE_DIR, tmp.path())
        .unprivileged()
        .run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("loaded"), Some(1), "{out:?}");
}
