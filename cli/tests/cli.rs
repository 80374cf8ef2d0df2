//! The `migrate-once` command as a user runs it: the built binary, spawned,
//! its exit status and what it prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migrate-once"));
    // Templates of these tests in a cache of their own.
    cmd.env("MIGRATE_ONCE_CACHE_DIR", cache());
    cmd
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache")
}

/// The crate's own migrations.
fn crate_set() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations")
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run migrate-once");
    (
        status.code().expect("an exit code, not a signal"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

#[test]
fn stress_on_a_good_set_passes_with_exit_0() {
    let (code, out, err) = run(bin()
        .args(["stress", "--quick", "--no-progress"])
        .arg(crate_set()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("PASS: zero errors"), "{out}");
    for scenario in [
        "per-test dbs (400 x TestDb)",
        "shared db (8 rounds x 8 threads)",
        "processes (8 rounds x 4)",
        "SIGKILL mid-migration (8)",
    ] {
        assert!(out.contains(scenario), "{scenario}: {out}");
    }
    assert!(
        out.contains(" 32/32"),
        "every migration ran exactly as often as expected: {out}"
    );
}

/// A set whose third migration is a trigger with a stray comma on line 3
/// of its file: it loads, and fails when applied.
fn trigger_with_a_stray_comma(dir: &Path) -> &'static str {
    write(
        dir,
        "0001_users.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);",
    );
    write(
        dir,
        "0002_audit.sql",
        "CREATE TABLE audit(id INTEGER PRIMARY KEY, what TEXT);",
    );
    write(
        dir,
        "0003_audit_trigger.up.sql",
        "-- Every new user is audited.\n\
         CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN\n    \
         INSERT INTO audit (what) VALUES ('user ' || NEW.id,);\n\
         END;\n",
    );
    write(
        dir,
        "0003_audit_trigger.down.sql",
        "DROP TRIGGER users_audit;",
    );
    // Line 3 of the file, column 56: the `)` after the comma.
    "0003_audit_trigger.up.sql failed at line 3, column 56 (statement 1)"
}

#[test]
fn stress_on_a_broken_set_fails_with_exit_1_printing_the_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let at = trigger_with_a_stray_comma(dir.path());
    let (code, out, err) = run(bin()
        .args(["stress", "--quick", "--no-progress"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("FAIL"), "{out}");
    // Printed whole once, on stderr, however many operations it failed.
    assert_eq!(err.matches(at).count(), 1, "{err}");
    assert!(err.contains("near \")\": syntax error"), "{err}");
    // It failed while the template was built: said so, and the deleted
    // file it was built in is not named.
    assert!(
        err.contains("of the template being built for the set in"),
        "{err}"
    );
    assert!(!err.contains("template-being-built-"), "{err}");
    // The table counts it under the whole file name.
    let row = out
        .lines()
        .find(|l| l.contains(" x migration 3 (audit_trigger)"))
        .unwrap_or_else(|| panic!("no row counting the error: {out}"));
    assert!(
        row.contains(at) && row.ends_with("near \")\": syntax error"),
        "{row}"
    );
    assert!(!out.contains("cannot be built: migration"), "{out}");
}

#[test]
fn a_missing_an_empty_and_a_file_directory_are_each_said_plainly_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let file = dir.path().join("0001_a.sql");
    write(dir.path(), "0001_a.sql", "CREATE TABLE a(x);");
    for (given, says) in [
        (&missing, "does not exist"),
        (&empty, "holds no migration"),
        (&file, "is not a directory"),
    ] {
        for command in ["stress", "check", "template"] {
            let (code, out, err) = run(bin().arg(command).arg(given));
            assert_eq!(code, 1, "{command} {}: {out}\n{err}", given.display());
            assert!(err.contains(says), "{command} {}: {err}", given.display());
            assert!(err.contains(&given.display().to_string()), "{err}");
        }
    }
}

#[test]
fn template_builds_once_then_finds_it_and_prints_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "0001_a.sql",
        &format!("CREATE TABLE a{}(x);", std::process::id()),
    );
    let (code, first, err) = run(bin().arg("template").arg(dir.path()));
    assert_eq!(code, 0, "{first}\n{err}");
    // The key a test of this workspace makes (the same Cargo.lock, so the
    // same SQLite, and the same migrate-once source) is the one built.
    let key =
        migrate_once::TemplateKey::of(&migrate_once::Migrations::from_dir(dir.path()).unwrap());
    assert!(
        first.ends_with(&format!("built key {} by this run\n", key.key)),
        "{first}"
    );
    for ingredient in [
        format!("key:     {}, made of:", key.key),
        format!("set           {}", key.set_hash),
        format!("SQLite        {} (", key.sqlite_version),
        format!(
            "migrate-once  {}, source {}",
            key.crate_version, key.source_fingerprint
        ),
    ] {
        assert!(first.contains(&ingredient), "{ingredient}: {first}");
    }
    let path = first
        .lines()
        .find_map(|l| l.trim().strip_prefix("path:"))
        .map(|p| PathBuf::from(p.trim()))
        .expect("a path line");
    assert!(
        path.is_file() && path.parent() == Some(&*cache().join(&key.key)),
        "{}",
        path.display()
    );
    let (code, second, _) = run(bin().arg("template").arg(dir.path()));
    assert_eq!(code, 0);
    assert!(
        second.ends_with(&format!("found key {} in the cache\n", key.key)),
        "{second}"
    );
    // `status` against the set names the same key and cache directory.
    let db = dir.path().join("app.db");
    migrated(&db, dir.path());
    let (code, status, err) = run(bin().arg("status").arg(&db).arg(dir.path()));
    assert_eq!(code, 0, "{status}\n{err}");
    assert!(
        status.contains(&format!("key:     {}, made of:", key.key))
            && status.contains(&format!(
                "cache:   {} (there)",
                cache().join(&key.key).display()
            )),
        "{status}"
    );
}

/// A database migrated with `set` (by the library, as an app would).
fn migrated(db: &Path, set: &Path) {
    let set = migrate_once::Migrations::from_dir(set).unwrap();
    let mut conn = migrate_once::rusqlite::Connection::open(db).unwrap();
    migrate_once::migrate(&mut conn, &set).unwrap();
}

#[test]
fn status_lists_applied_and_pending_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    for d in [&old, &new] {
        write(d, "0001_a.sql", "CREATE TABLE a(x);");
    }
    write(&new, "0002_b.sql", "CREATE TABLE b(x);");
    let db = dir.path().join("app.db");
    migrated(&db, &old);
    let before = std::fs::read(&db).unwrap();
    let (code, out, err) = run(bin().arg("status").arg(&db).arg(&new));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 migration(s) in its ledger"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with('1') && l.ends_with("applied")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" b ") && l.ends_with("pending")),
        "{out}"
    );
    assert!(out.contains("1 pending, 0 drifted or unknown"), "{out}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "status changed the database"
    );
}

#[test]
fn status_of_a_database_ahead_of_the_set_or_drifted_is_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (full, older, edited) = (
        dir.path().join("full"),
        dir.path().join("older"),
        dir.path().join("edited"),
    );
    for d in [&full, &older, &edited] {
        std::fs::create_dir_all(d).unwrap();
    }
    write(&full, "0001_a.sql", "CREATE TABLE a(x);");
    write(&full, "0002_b.sql", "CREATE TABLE b(x);");
    write(&older, "0001_a.sql", "CREATE TABLE a(x);");
    write(&edited, "0001_a.sql", "CREATE TABLE a(x, y);");
    write(&edited, "0002_b.sql", "CREATE TABLE b(x);");
    let db = dir.path().join("app.db");
    migrated(&db, &full);

    let (code, out, _) = run(bin().arg("status").arg(&db).arg(&older));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains(" b ") && l.ends_with("unknown")),
        "{out}"
    );

    let (code, out, _) = run(bin().arg("status").arg(&db).arg(&edited));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains(" a ") && l.ends_with("drifted")),
        "{out}"
    );

    // Without a set there is nothing to compare with: the ledger, exit 0.
    let (code, out, _) = run(bin().arg("status").arg(&db));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 migration(s) in its ledger"), "{out}");
}

#[test]
fn status_of_a_missing_database_is_exit_1_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let (code, _, err) = run(bin().arg("status").arg(&db));
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read") && err.contains("no such file"),
        "{err}"
    );
    assert!(!db.exists());
}

#[test]
fn a_command_line_it_does_not_understand_is_exit_2() {
    for args in [
        vec!["frobnicate"],
        vec!["stress", "--bogus"],
        vec!["stress", "--threads", "zero"],
        vec!["stress", "a", "b"],
        vec!["status"],
        vec!["check", "--snapshot"],
        vec!["check", "--allow-everything"],
        vec![],
    ] {
        let (code, _, err) = run(bin().args(&args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?}: says why");
    }
}

#[test]
fn every_command_explains_itself() {
    for command in ["stress", "check", "template", "status", "migrate"] {
        let (code, out, _) = run(bin().args([command, "--help"]));
        assert_eq!(code, 0);
        assert!(out.starts_with(&format!("migrate-once {command}")), "{out}");
        assert!(out.contains("Exit status"), "{command}: {out}");
        let (code, same, _) = run(bin().args(["help", command]));
        assert_eq!((code, same), (0, out));
    }
    let (code, out, _) = run(bin().arg("help"));
    assert_eq!(code, 0);
    for command in ["stress", "check", "template", "status", "migrate"] {
        assert!(out.contains(command), "{out}");
    }
}

// ---- check ----

/// A set of reversible migrations in `dir`, sqlx's layout.
fn reversible_set(dir: &Path) {
    write(
        dir,
        "0001_users.up.sql",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);",
    );
    write(dir, "0001_users.down.sql", "DROP TABLE users;");
    write(
        dir,
        "0002_by_name.up.sql",
        "CREATE INDEX users_by_name ON users(name);",
    );
    write(dir, "0002_by_name.down.sql", "DROP INDEX users_by_name;");
}

#[test]
fn check_on_a_good_set_passes_every_step_with_exit_0() {
    let (code, out, err) = run(bin().arg("check").arg(crate_set()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("load: ok, 4 migrations"), "{out}");
    assert!(out.contains("4 with a down"), "{out}");
    assert!(out.contains("apply: ok, 4 migrations applied"), "{out}");
    assert!(
        out.contains("reversibility: ok, 4 down(s) undo their up"),
        "{out}"
    );
    assert!(out.contains("check: ok"), "{out}");
    assert!(
        !out.contains("snapshot"),
        "no snapshot was asked for: {out}"
    );
}

#[test]
fn check_on_a_broken_set_fails_at_the_step_that_breaks_naming_file_and_statement() {
    let dir = tempfile::tempdir().unwrap();
    let (unloadable, failing) = (dir.path().join("unloadable"), dir.path().join("failing"));
    for d in [&unloadable, &failing] {
        std::fs::create_dir_all(d).unwrap();
        write(d, "0001_a.sql", "CREATE TABLE a(x);");
    }
    // Loading refuses it: a statement that would end the migrator's transaction.
    write(&unloadable, "0002_b.sql", "CREATE TABLE b(x);\nCOMMIT;");
    // It loads, and its second statement fails when applied.
    write(
        &failing,
        "0002_b.sql",
        "CREATE TABLE b(x);\nINSERT INTO nowhere VALUES (1);",
    );

    let (code, out, err) = run(bin().arg("check").arg(&unloadable));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("check: FAIL at load"), "{err}");
    assert!(
        err.contains("0002_b.sql") && err.contains("COMMIT"),
        "{err}"
    );
    assert!(!out.contains("load: ok"), "{out}");

    let (code, out, err) = run(bin().arg("check").arg(&failing));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("load: ok, 2 migrations"), "{out}");
    assert!(err.ends_with("check: FAIL at apply\n"), "{err}");
    assert!(!err.contains("reversibility"), "{err}");
    assert!(
        err.contains("0002_b.sql")
            && err.contains("INSERT INTO nowhere VALUES (1);")
            && err.contains("no such table: nowhere"),
        "{err}"
    );
}

#[test]
fn check_of_a_syntax_error_names_the_apply_step_and_the_line_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let at = trigger_with_a_stray_comma(dir.path());
    let (code, out, err) = run(bin().arg("check").arg(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("load: ok, 3 migrations"), "{out}");
    assert!(!out.contains("apply: ok"), "{out}");
    assert!(err.contains(at), "{err}");
    assert!(
        !err.contains("byte"),
        "a position in the file, not in the statement: {err}"
    );
    assert!(err.ends_with("check: FAIL at apply\n"), "{err}");
}

#[test]
fn check_of_a_down_that_does_not_undo_its_up_is_exit_1_naming_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    reversible_set(dir.path());
    // The down forgets the index.
    write(dir.path(), "0002_by_name.down.sql", "SELECT 1;");
    let (code, out, err) = run(bin().arg("check").arg(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("check: FAIL at reversibility"), "{err}");
    assert!(
        err.contains("migration 2 (by_name)") && err.contains("index users_by_name: extra"),
        "{err}"
    );
    assert!(
        !err.contains("migration 1 (users)"),
        "1 is reversible: {err}"
    );
}

#[test]
fn check_lists_migrations_without_a_down_and_fails_on_them_only_when_required() {
    let dir = tempfile::tempdir().unwrap();
    reversible_set(dir.path());
    write(dir.path(), "0003_notes.up.sql", "CREATE TABLE notes(x);");
    let (code, out, err) = run(bin().arg("check").arg(dir.path()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("2 down(s) undo their up"), "{out}");
    assert!(
        out.contains("1 migration(s) without a down, not checked: 3"),
        "{out}"
    );

    let (code, out, err) = run(bin().args(["check", "--require-downs"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("FAIL at reversibility") && err.contains("migration 3 (notes)"),
        "{err}"
    );
}

#[test]
fn check_data_catches_a_down_that_loses_rows_the_schema_check_cannot_see() {
    let dir = tempfile::tempdir().unwrap();
    reversible_set(dir.path());
    // Right schema afterwards, but every user is gone.
    write(
        dir.path(),
        "0002_by_name.down.sql",
        "DROP INDEX users_by_name; DROP TABLE users; \
         CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);",
    );
    let (code, out, err) = run(bin().arg("check").arg(dir.path()));
    assert_eq!(code, 0, "schema alone: {out}\n{err}");
    let (code, out, err) = run(bin().args(["check", "--data"]).arg(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("migration 2 (by_name)") && err.contains("users"),
        "{err}"
    );
}

#[test]
fn check_snapshot_is_missing_then_written_then_matched_then_differs() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    std::fs::create_dir_all(&set).unwrap();
    reversible_set(&set);
    // A relative FILE is taken from the current directory.
    let snapshot = dir.path().join("schema.sql");
    let check = || {
        let mut cmd = bin();
        cmd.current_dir(dir.path())
            .env_remove("MIGRATE_ONCE_UPDATE_SNAPSHOTS")
            .env("CARGO_MANIFEST_DIR", "/nonexistent")
            .args(["check", "set", "--snapshot", "schema.sql"]);
        cmd
    };

    let (code, out, err) = run(&mut check());
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("no schema snapshot") && err.contains("MIGRATE_ONCE_UPDATE_SNAPSHOTS=1"),
        "{err}"
    );
    assert!(!snapshot.exists());

    let (code, out, err) = run(check().env("MIGRATE_ONCE_UPDATE_SNAPSHOTS", "1"));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("snapshot: written to"), "{out}");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    assert!(
        text.contains("CREATE INDEX users_by_name ON users(name);"),
        "{text}"
    );

    let (code, out, err) = run(&mut check());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("snapshot: ok"), "{out}");

    write(
        &set,
        "0003_age.up.sql",
        "ALTER TABLE users ADD COLUMN age INTEGER;",
    );
    write(
        &set,
        "0003_age.down.sql",
        "ALTER TABLE users DROP COLUMN age;",
    );
    let (code, out, err) = run(&mut check());
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("check: FAIL at snapshot"), "{err}");
    assert!(err.contains("+    age INTEGER"), "a unified diff: {err}");
    assert_eq!(
        std::fs::read_to_string(&snapshot).unwrap(),
        text,
        "the file is left alone"
    );
}

// ---- pipes ----

/// A pipe whose reader has gone away, as `| head -1` leaves it once it has
/// its line: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// `migrate-once stress --quick migrations | head -1`: the reader goes
/// away, and the command ends with its own exit status (0: the run passed),
/// no panic and no stack trace; with stderr gone too (`2>&1 | head -1`),
/// a broken set is still exit 1, not a panic's 101.
#[test]
fn a_closed_pipe_ends_the_command_quietly_with_its_own_exit_status() {
    let stress = [
        "stress",
        "--iterations",
        "20",
        "--rounds",
        "1",
        "--processes",
        "2",
        "--kills",
        "1",
    ];
    for args in [&["check"][..], &["template"][..], &stress[..]] {
        let out = bin()
            .args(args)
            .arg(crate_set())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .expect("run migrate-once");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "0001_a.sql", "CREATE TABLE a(x,);");
    let status = bin()
        .arg("check")
        .arg(dir.path())
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("run migrate-once");
    assert_eq!(
        status.code(),
        Some(1),
        "the check's own failure, not a panic"
    );
}
