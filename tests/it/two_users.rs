//! Two users of one machine (a shared CI runner, a team's server): the
//! template cache and the test database directory are never a way for one
//! user to break, or decide, the other's tests.
//!
//! The tests run as root; the other user is `nobody` (uid 65534), through
//! `setpriv` (`ChildTest::unprivileged`). Each child sees a temp directory
//! of the test's own (`TMPDIR`, mode 1777 as `/tmp` is), so that the
//! default directories, `$TMPDIR/migrate-once-UID`, are fresh.

#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::path::{Path, PathBuf};

use migrate_once::{Error, Migration, Migrations, Template, TestDb};
use tempfile::TempDir;

use crate::support::child::{ChildEnv, Outcome, child_test};
use crate::support::count;

const NOBODY: u32 = 65534;
const PARENT: &str = "two_users::*";
/// Set by the parent: the child runs only as one.
const MARK: &str = "MIGRATE_ONCE_TEST_TWO_USERS";

/// What a child does: a file and an in-memory database of the crate's set,
/// with whatever directories its environment gives. Prints `RESULT ok=1
/// built=… users=…`, and `CACHE <dir>`; or `RESULT ok=0` and `ERROR <text>`.
#[test]
#[ignore = "run as a child process by the tests of two_users"]
fn child_makes_test_databases() {
    let _ = ChildEnv::of(PARENT).path(MARK);
    // Built in code: the other user may not be able to read the checkout.
    let set = &two_user_set();
    let made = TestDb::new(set).and_then(|file| {
        let memory = TestDb::in_memory(set)?;
        let users = count(&file.connect()?, "users") + count(&memory.connect()?, "users");
        Ok((Template::for_set(set)?, users))
    });
    match made {
        Ok((template, users)) => {
            println!(
                "RESULT ok=1 built={} users={users}",
                u8::from(template.built_by_this_process())
            );
            println!("CACHE {}", template.path().parent().unwrap().display());
        }
        Err(e) => {
            let unsafe_path = matches!(e, Error::UnsafePath { .. });
            println!("RESULT ok=0 unsafe_path={}", u8::from(unsafe_path));
            println!("ERROR {e}");
        }
    }
}

/// The set both users run: two tables and two seed rows.
fn two_user_set() -> Migrations {
    Migrations::new(vec![
        Migration::new(
            1,
            "users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL); \
             INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com');",
        ),
        Migration::new(
            2,
            "posts",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);",
        ),
    ])
    .unwrap()
}

/// A temp directory as `/tmp` is: anyone may create in it, the sticky bit
/// keeps each one's files their own.
fn shared_tmp() -> TempDir {
    let tmp = TempDir::new().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    tmp
}

fn my_uid() -> u32 {
    fs::metadata(shared_tmp().path()).unwrap().uid()
}

/// The child, as root or as nobody, with `TMPDIR` and more variables.
fn child(as_nobody: bool, tmp: &Path, vars: &[(&str, &Path)]) -> Outcome {
    let mut test = child_test!(child_makes_test_databases)
        .env("TMPDIR", tmp)
        .env(MARK, tmp);
    for (key, value) in vars {
        test = test.env(key, value);
    }
    if as_nobody {
        test = test.unprivileged();
    }
    test.run()
}

fn cache_of(out: &Outcome) -> PathBuf {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("CACHE "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no CACHE line: {out:?}"))
}

fn error_of(out: &Outcome) -> &str {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("ERROR "))
        .unwrap_or_else(|| panic!("no ERROR line: {out:?}"))
}

fn assert_refused(out: &Outcome, path: &Path, problem: &str) {
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.field("ok"), Some(0), "{out:?}");
    assert_eq!(out.field("unsafe_path"), Some(1), "{out:?}");
    let error = error_of(out);
    assert!(
        error.contains(&format!("refusing to use {}", path.display())) && error.contains(problem),
        "expected {problem:?} about {}: {error}",
        path.display()
    );
}

#[test]
fn either_user_may_go_first_and_each_gets_a_cache_of_their_own() {
    for nobody_first in [false, true] {
        let tmp = shared_tmp();
        let first = child(nobody_first, tmp.path(), &[]);
        let second = child(!nobody_first, tmp.path(), &[]);
        for (out, nobody) in [(&first, nobody_first), (&second, !nobody_first)] {
            assert!(out.status.success(), "{out:?}");
            assert_eq!(out.field("ok"), Some(1), "{out:?}");
            // Each built its own template: nothing of the other's was used.
            assert_eq!(out.field("built"), Some(1), "{out:?}");
            assert_eq!(out.field("users"), Some(4), "{out:?}");
            let uid = if nobody { NOBODY } else { my_uid() };
            let root = tmp.path().join(format!("migrate-once-{uid}"));
            assert!(cache_of(out).starts_with(&root), "{out:?}");
            let meta = fs::symlink_metadata(&root).unwrap();
            assert!(meta.is_dir());
            assert_eq!(meta.uid(), uid);
            assert_eq!(meta.mode() & 0o777, 0o700, "{}", root.display());
        }
    }
}

#[test]
fn a_template_of_another_users_is_never_cloned_even_with_a_valid_seal() {
    let tmp = shared_tmp();
    let shared = tmp.path().join("shared-cache");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let vars = [("MIGRATE_ONCE_CACHE_DIR", shared.as_path())];

    // nobody builds the set's template in a cache both name: its set
    // directory is nobody's, and root refuses it.
    let by_nobody = child(true, tmp.path(), &vars);
    assert_eq!(by_nobody.field("built"), Some(1), "{by_nobody:?}");
    let set_dir = cache_of(&by_nobody);
    let refused = child(false, tmp.path(), &vars);
    assert_refused(&refused, &set_dir, "it belongs to uid 65534");

    // A template file another user owns, with the seal its builder wrote,
    // in a directory that is root's own: refused, and not rebuilt over.
    fs::remove_dir_all(&set_dir).unwrap();
    let by_root = child(false, tmp.path(), &vars);
    assert_eq!(by_root.field("built"), Some(1), "{by_root:?}");
    let template = cache_of(&by_root).join("template.sqlite");
    chown(&template, Some(NOBODY), Some(NOBODY)).unwrap();
    let before = fs::read(&template).unwrap();
    let refused = child(false, tmp.path(), &vars);
    assert_refused(&refused, &template, "it belongs to uid 65534");
    assert_eq!(fs::read(&template).unwrap(), before);
    assert_eq!(fs::metadata(&template).unwrap().uid(), NOBODY);
}

#[test]
fn a_default_directory_squatted_by_another_user_or_taken_by_a_file_is_a_clear_error() {
    let uid = my_uid();
    // Another user made the directory by this user's name.
    let tmp = shared_tmp();
    let squatted = tmp.path().join(format!("migrate-once-{uid}"));
    fs::create_dir(&squatted).unwrap();
    chown(&squatted, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = child(false, tmp.path(), &[]);
    assert_refused(&out, &squatted, "it belongs to uid 65534, not to you");
    assert!(error_of(&out).contains("MIGRATE_ONCE_CACHE_DIR"), "{out:?}");

    // A file where the directory should be.
    let tmp = shared_tmp();
    let file = tmp.path().join(format!("migrate-once-{uid}"));
    fs::write(&file, b"not a directory").unwrap();
    let out = child(false, tmp.path(), &[]);
    assert_refused(&out, &file, "it is not a directory");
    assert_eq!(fs::read(&file).unwrap(), b"not a directory");

    // A symbolic link to a directory of the user's own is still a link.
    let tmp = shared_tmp();
    let target = tmp.path().join("elsewhere");
    fs::create_dir(&target).unwrap();
    let link = tmp.path().join(format!("migrate-once-{uid}"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = child(false, tmp.path(), &[]);
    assert_refused(&out, &link, "it is a symbolic link");
}

#[test]
fn a_named_directory_others_can_write_without_the_sticky_bit_is_refused() {
    let tmp = shared_tmp();
    let open = tmp.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    for var in ["MIGRATE_ONCE_CACHE_DIR", "MIGRATE_ONCE_DIR"] {
        let out = child(false, tmp.path(), &[(var, open.as_path())]);
        assert_refused(
            &out,
            &open,
            "others can write to it (mode 0777) and it has no sticky bit",
        );
        assert!(error_of(&out).contains(var), "{out:?}");
    }
    assert_eq!(fs::read_dir(&open).unwrap().count(), 0, "nothing written");
}

#[test]
fn named_directories_that_do_not_exist_are_made_and_the_portable_cache_still_works() {
    let tmp = shared_tmp();
    let cache = tmp.path().join("ci/cache");
    let dbs = tmp.path().join("ci/dbs");
    let vars = [
        ("MIGRATE_ONCE_CACHE_DIR", cache.as_path()),
        ("MIGRATE_ONCE_DIR", dbs.as_path()),
    ];
    let first = child(false, tmp.path(), &vars);
    assert_eq!(first.field("built"), Some(1), "{first:?}");
    assert!(dbs.is_dir());
    // A CI cache restored elsewhere by the same user: copied, used as it is.
    let restored = tmp.path().join("restored");
    let status = std::process::Command::new("cp")
        .args(["-r"])
        .arg(&cache)
        .arg(&restored)
        .status()
        .unwrap();
    assert!(status.success());
    let again = child(
        false,
        tmp.path(),
        &[("MIGRATE_ONCE_CACHE_DIR", restored.as_path())],
    );
    assert_eq!(again.field("ok"), Some(1), "{again:?}");
    assert_eq!(again.field("built"), Some(0), "{again:?}");
}
