//! Loading migration sets: every directory layout users already have loads as
//! it is (versions, names, up and down SQL, checksums), line endings do not
//! change a checksum, and every kind of bad input gets its own error variant
//! naming the file — in the variant's fields and in its `Display` text.
//!
//! Good layouts live in `tests/fixtures/layouts/<layout>/`, bad inputs in
//! `tests/fixtures/bad/<failure>/`. Inputs that git cannot keep faithfully
//! (CRLF line endings under `core.autocrlf`, invalid UTF-8, empty
//! directories) are written into a temporary directory at run time.

use std::fs;
use std::path::{Path, PathBuf};

use migrate_once::{Error, Migration, Migrations, Origin};
use tempfile::TempDir;

use crate::support::{fixture, load_err, sha256_hex};

/// What a loaded migration is: version, name, up SQL, down SQL.
type Summary = (i64, String, String, Option<String>);

fn summary(set: &Migrations) -> Vec<Summary> {
    set.iter()
        .map(|m| {
            (
                m.version(),
                m.name().to_string(),
                m.up_sql().to_string(),
                m.down_sql().map(str::to_string),
            )
        })
        .collect()
}

fn expect(version: i64, name: &str, up: &str, down: Option<&str>) -> Summary {
    (
        version,
        name.to_string(),
        up.to_string(),
        down.map(str::to_string),
    )
}

/// Every migration's checksum is the SHA-256 of its up SQL.
fn assert_checksums_are_sha256_of_up_sql(set: &Migrations) {
    for m in set {
        assert_eq!(
            m.checksum(),
            sha256_hex(m.up_sql()),
            "checksum of migration {}",
            m.version()
        );
    }
}

fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create fixture directory");
    }
    fs::write(&path, bytes).expect("write fixture file");
    path
}

// ---------------------------------------------------------------------------
// Layouts that load as they are
// ---------------------------------------------------------------------------

#[test]
fn plain_layout_loads_one_file_per_migration_and_ignores_readme_and_hidden_files() {
    let dir = fixture("layouts/plain");
    let set = Migrations::from_dir(&dir).unwrap();

    assert_eq!(
        summary(&set),
        [
            expect(
                1,
                "create_users",
                "-- The first migration.\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
                None,
            ),
            expect(
                2,
                "add_email",
                "ALTER TABLE users ADD COLUMN email TEXT;\nCREATE UNIQUE INDEX users_email ON users(email);\n",
                None,
            ),
            expect(
                10,
                "seed",
                "INSERT INTO users (id, name) VALUES (1, 'ada');\n",
                None,
            ),
        ]
    );
    // README.md and .0003_hidden.sql are in the folder and must not be loaded.
    assert!(dir.join("README.md").is_file() && dir.join(".0003_hidden.sql").is_file());
    assert_eq!(set.get(3), None);
    assert_eq!(set.len(), 3);
    assert_eq!(set.latest_version(), 10);
    assert_eq!(set.dir(), Some(dir.as_path()));
    assert_eq!(
        set.get(2).unwrap().origin(),
        &Origin::File(dir.join("0002_add_email.sql"))
    );
    assert_checksums_are_sha256_of_up_sql(&set);
    assert_eq!(set.hash().len(), 64);
}

#[test]
fn timestamp_layout_uses_the_whole_timestamp_as_the_version() {
    let dir = fixture("layouts/timestamp");
    let set = Migrations::from_dir(&dir).unwrap();

    assert_eq!(
        summary(&set),
        [
            expect(
                20_240_101_120_000,
                "create_users",
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
                None,
            ),
            expect(
                20_240_215_093_000,
                "create_posts",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));\n",
                None,
            ),
            expect(
                20_241_231_235_959,
                "index_posts",
                "CREATE INDEX posts_by_user ON posts(user_id);\n",
                None,
            ),
        ]
    );
    assert!(dir.join("notes.txt").is_file());
    assert_eq!(set.latest_version(), 20_241_231_235_959);
    assert_checksums_are_sha256_of_up_sql(&set);
}

#[test]
fn sqlx_layout_pairs_up_and_down_files_by_version() {
    let dir = fixture("layouts/sqlx");
    let set = Migrations::from_dir(&dir).unwrap();

    assert_eq!(
        summary(&set),
        [
            expect(
                1,
                "create_users",
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
                Some("DROP TABLE users;\n"),
            ),
            expect(
                2,
                "create_posts",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\nCREATE INDEX posts_title ON posts(title);\n",
                Some("DROP INDEX posts_title;\nDROP TABLE posts;\n"),
            ),
            // An up file without a down file is a migration that cannot be reverted.
            expect(
                3,
                "seed",
                "INSERT INTO users (id, name) VALUES (1, 'ada');\n",
                None,
            ),
        ]
    );
    // The hidden `.0004_hidden.down.sql` would be a DownWithoutUp if it were read.
    assert!(dir.join(".0004_hidden.down.sql").is_file());
    assert_eq!(
        set.get(1).unwrap().origin(),
        &Origin::File(dir.join("0001_create_users.up.sql"))
    );
    assert_checksums_are_sha256_of_up_sql(&set);
}

fn expected_diesel() -> Vec<Summary> {
    vec![
        expect(
            1,
            "create_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
            Some("DROP TABLE users;\n"),
        ),
        expect(
            2,
            "create_posts",
            "CREATE TABLE posts (\n    id INTEGER PRIMARY KEY,\n    user_id INTEGER NOT NULL REFERENCES users(id)\n);\n",
            Some("DROP TABLE posts;\n"),
        ),
        expect(
            3,
            "seed",
            "INSERT INTO users (id, name) VALUES (1, 'ada');\n",
            None,
        ),
    ]
}

#[test]
fn diesel_layout_reads_up_and_down_sql_from_one_directory_per_migration() {
    let dir = fixture("layouts/diesel");
    let set = Migrations::from_dir(&dir).unwrap();

    assert_eq!(summary(&set), expected_diesel());
    // README.md, notes/README.md and .0004_hidden/up.sql are present and ignored.
    assert!(dir.join("notes/README.md").is_file());
    assert!(dir.join(".0004_hidden/up.sql").is_file());
    assert_eq!(
        set.get(2).unwrap().origin(),
        &Origin::File(dir.join("0002_create_posts").join("up.sql"))
    );
    assert_checksums_are_sha256_of_up_sql(&set);
}

#[test]
fn embedded_diesel_layout_equals_the_same_directory_read_at_run_time() {
    let embedded =
        migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/tests/fixtures/layouts/diesel")
            .unwrap();
    let read = Migrations::from_dir(fixture("layouts/diesel")).unwrap();

    assert_eq!(summary(&embedded), expected_diesel());
    assert_eq!(summary(&embedded), summary(&read));
    let checksums = |s: &Migrations| {
        s.iter()
            .map(|m| m.checksum().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(checksums(&embedded), checksums(&read));
    assert_eq!(embedded.hash(), read.hash());
    // Embedded files are named by their path inside the embedded directory.
    assert_eq!(
        embedded.get(1).unwrap().origin(),
        &Origin::Embedded(Path::new("0001_create_users").join("up.sql"))
    );
}

#[test]
fn embedded_plain_layout_ignores_readme_and_hidden_files_too() {
    let embedded =
        migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/tests/fixtures/layouts/plain")
            .unwrap();
    let read = Migrations::from_dir(fixture("layouts/plain")).unwrap();

    assert_eq!(
        embedded.iter().map(Migration::version).collect::<Vec<_>>(),
        [1, 2, 10]
    );
    assert_eq!(summary(&embedded), summary(&read));
    assert_eq!(embedded.hash(), read.hash());
}

#[test]
fn the_same_sql_as_sqlx_files_or_diesel_directories_has_the_same_hash() {
    // diesel and sqlx fixtures hold migration 1 and 3 with identical SQL, but
    // migration 2 differs: the hash must tell them apart.
    let sqlx = Migrations::from_dir(fixture("layouts/sqlx")).unwrap();
    let diesel = Migrations::from_dir(fixture("layouts/diesel")).unwrap();
    assert_eq!(
        sqlx.get(1).unwrap().checksum(),
        diesel.get(1).unwrap().checksum()
    );
    assert_ne!(sqlx.hash(), diesel.hash());

    // The same SQL written as sqlx files and as diesel directories: same hash.
    let tmp = TempDir::new().unwrap();
    let (a, b) = (tmp.path().join("sqlx"), tmp.path().join("diesel"));
    for (version, name, up, down) in expected_diesel() {
        write(&a, &format!("{version:04}_{name}.up.sql"), &up);
        write(&b, &format!("{version:04}_{name}/up.sql"), &up);
        if let Some(down) = down {
            write(&a, &format!("{version:04}_{name}.down.sql"), &down);
            write(&b, &format!("{version:04}_{name}/down.sql"), &down);
        }
    }
    let (a, b) = (
        Migrations::from_dir(&a).unwrap(),
        Migrations::from_dir(&b).unwrap(),
    );
    assert_eq!(b.hash(), diesel.hash());
    // Each layout keeps its tool's ledger, so their templates differ and so
    // do the hashes; asked to keep the same ledgers, they are one set.
    assert_eq!(a.app_ledgers(), [migrate_once::AppLedger::Sqlx]);
    assert_eq!(b.app_ledgers(), [migrate_once::AppLedger::Diesel]);
    assert_ne!(a.hash(), b.hash());
    for ledgers in [vec![], vec![migrate_once::AppLedger::Sqlx]] {
        assert_eq!(
            a.clone().with_app_ledgers(ledgers.clone()).hash(),
            b.clone().with_app_ledgers(ledgers).hash()
        );
    }
}

/// Real `diesel migration generate` names directories
/// `YYYY-MM-DD-HHMMSS_name` (and `00000000000000_diesel_initial_setup`).
/// Read as "integer before the first `-`", every migration of one year gets
/// the same version.
#[test]

fn diesel_cli_dated_directories_keep_their_whole_timestamp_as_the_version() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "00000000000000_diesel_initial_setup/up.sql",
        "SELECT 1;\n",
    );
    write(
        tmp.path(),
        "2024-01-01-120000_create_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    );
    write(
        tmp.path(),
        "2024-02-15-093000_create_posts/up.sql",
        "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n",
    );
    let set = Migrations::from_dir(tmp.path()).unwrap();
    assert_eq!(
        set.iter()
            .map(|m| (m.version(), m.name().to_string()))
            .collect::<Vec<_>>(),
        [
            (0, "diesel_initial_setup".to_string()),
            (20_240_101_120_000, "create_users".to_string()),
            (20_240_215_093_000, "create_posts".to_string()),
        ]
    );
}

// ---------------------------------------------------------------------------
// Line endings
// ---------------------------------------------------------------------------

const LF_UP: &str =
    "-- users\nCREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    name TEXT\n);\n";
const LF_DOWN: &str = "DROP TABLE users;\n";
const LF_SEED: &str =
    "INSERT INTO users (name) VALUES ('a');\nINSERT INTO users (name) VALUES ('b');\n";

/// Writes the same two migrations (one sqlx pair, one plain file) into `dir`,
/// with `\n` replaced by `eol`.
fn write_set(dir: &Path, eol: &str) -> Migrations {
    let conv = |s: &str| s.replace('\n', eol);
    write(dir, "0001_create_users.up.sql", conv(LF_UP));
    write(dir, "0001_create_users.down.sql", conv(LF_DOWN));
    write(dir, "0002_seed.sql", conv(LF_SEED));
    Migrations::from_dir(dir).unwrap()
}

#[test]
fn crlf_files_have_the_checksums_and_set_hash_of_their_lf_versions() {
    let tmp = TempDir::new().unwrap();
    let lf = write_set(&tmp.path().join("lf"), "\n");
    let crlf = write_set(&tmp.path().join("crlf"), "\r\n");

    // The bytes on disk really differ.
    let raw = fs::read(tmp.path().join("crlf/0002_seed.sql")).unwrap();
    assert!(raw.windows(2).any(|w| w == b"\r\n"));

    assert_eq!(lf.get(1).unwrap().checksum(), sha256_hex(LF_UP));
    assert_eq!(lf.get(2).unwrap().checksum(), sha256_hex(LF_SEED));
    for (a, b) in lf.iter().zip(&crlf) {
        assert_eq!(a.checksum(), b.checksum(), "migration {}", a.version());
        // The SQL that runs is the SQL as written: only the checksum ignores
        // line endings, so a CRLF inside a string literal would survive.
        assert_eq!(a.up_sql().replace('\n', "\r\n"), b.up_sql());
        assert_eq!(
            a.down_sql().map(|d| d.replace('\n', "\r\n")).as_deref(),
            b.down_sql()
        );
    }
    assert_eq!(
        crlf.get(1).unwrap().down_sql(),
        Some(LF_DOWN.replace('\n', "\r\n").as_str())
    );
    assert_eq!(lf.hash(), crlf.hash());
}

#[test]
fn a_byte_order_mark_does_not_change_the_checksum_but_an_edit_does() {
    let tmp = TempDir::new().unwrap();
    let lf = write_set(&tmp.path().join("lf"), "\n");

    let bom = tmp.path().join("bom");
    write(&bom, "0001_create_users.up.sql", format!("\u{feff}{LF_UP}"));
    write(&bom, "0001_create_users.down.sql", LF_DOWN);
    write(&bom, "0002_seed.sql", LF_SEED);
    let bom = Migrations::from_dir(&bom).unwrap();
    assert_eq!(bom.get(1).unwrap().up_sql(), LF_UP);
    assert_eq!(
        bom.get(1).unwrap().checksum(),
        lf.get(1).unwrap().checksum()
    );
    // The up/down layout keeps sqlx's ledger, whose checksum (sqlx's rule)
    // covers the mark: that shapes the template, so the set hash differs.
    // Without it, nothing that shapes a database differs.
    assert_ne!(bom.hash(), lf.hash());
    assert_eq!(
        bom.clone().with_app_ledgers([]).hash(),
        lf.clone().with_app_ledgers([]).hash()
    );

    // One changed character in one migration changes its checksum and the hash.
    let edited = tmp.path().join("edited");
    write(&edited, "0001_create_users.up.sql", LF_UP);
    write(&edited, "0002_seed.sql", LF_SEED.replace("'b'", "'c'"));
    let edited = Migrations::from_dir(&edited).unwrap();
    assert_eq!(
        edited.get(1).unwrap().checksum(),
        lf.get(1).unwrap().checksum()
    );
    assert_ne!(
        edited.get(2).unwrap().checksum(),
        lf.get(2).unwrap().checksum()
    );
    assert_ne!(edited.hash(), lf.hash());
}

// ---------------------------------------------------------------------------
// Bad input: one folder (or run-time directory) per failure
// ---------------------------------------------------------------------------

#[test]
fn duplicate_version_names_both_files() {
    let dir = fixture("bad/duplicate_version");
    let err = load_err(&dir);
    let first = dir.join("0001_create_accounts.sql");
    let second = dir.join("0001_create_users.sql");
    assert!(
        matches!(
            &err,
            Error::DuplicateVersion { version: 1, first: Origin::File(a), second: Origin::File(b) }
                if *a == first && *b == second
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "version 1 is used twice: {} and {}",
            first.display(),
            second.display()
        )
    );
    assert!(!err.is_transient());
}

#[test]
fn a_plain_file_and_an_up_file_with_one_version_are_a_duplicate() {
    let tmp = TempDir::new().unwrap();
    let plain = write(tmp.path(), "0007_add_x.sql", "SELECT 1;");
    let up = write(tmp.path(), "0007_add_x.up.sql", "SELECT 2;");
    let err = load_err(tmp.path());
    assert!(
        matches!(
            &err,
            Error::DuplicateVersion { version: 7, first: Origin::File(a), second: Origin::File(b) }
                if *a == plain && *b == up
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&plain.display().to_string()), "{text}");
    assert!(text.contains(&up.display().to_string()), "{text}");
}

#[test]
fn missing_version_names_the_file_without_one() {
    let dir = fixture("bad/missing_version");
    let err = load_err(&dir);
    let path = dir.join("create_posts.sql");
    assert!(
        matches!(&err, Error::MissingVersion { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: a migration's name must start with its version number, as in 0001_create_users.sql",
            path.display()
        )
    );
}

#[test]
fn invalid_version_names_the_file_and_the_character_after_the_digits() {
    let dir = fixture("bad/invalid_version");
    let err = load_err(&dir);
    let path = dir.join("1a_x.sql");
    let Error::InvalidVersion { path: p, reason } = &err else {
        panic!("expected InvalidVersion, got {err:?}");
    };
    assert_eq!(*p, path);
    assert!(reason.contains("`a`"), "{reason}");
    assert_eq!(
        err.to_string(),
        format!("{}: invalid version: {reason}", path.display())
    );
}

#[test]
fn a_version_too_large_for_i64_is_an_invalid_version() {
    let tmp = TempDir::new().unwrap();
    let path = write(tmp.path(), "99999999999999999999_big.sql", "SELECT 1;");
    let err = load_err(tmp.path());
    let Error::InvalidVersion { path: p, reason } = &err else {
        panic!("expected InvalidVersion, got {err:?}");
    };
    assert_eq!(*p, path);
    assert!(reason.contains("99999999999999999999"), "{reason}");
    assert!(err.to_string().starts_with(&path.display().to_string()));
}

#[test]
fn invalid_utf8_names_the_file_and_the_offset_of_the_first_bad_byte() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "0001_ok.sql", "CREATE TABLE t (x);\n");
    let bytes = b"-- caf\xe9 in Latin-1\nCREATE TABLE u (x);\n";
    let path = write(tmp.path(), "0002_latin1.sql", bytes);

    let err = load_err(tmp.path());
    assert!(
        matches!(&err, Error::NotUtf8 { path: p, valid_up_to: 6 } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not valid UTF-8 (first invalid byte at offset 6)",
            path.display()
        )
    );
}

#[test]
fn an_invalid_utf8_down_file_is_named_too() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "0001_x.up.sql", "CREATE TABLE x (a);\n");
    let down = write(tmp.path(), "0001_x.down.sql", b"DROP TABLE x; -- \xff\n");
    let err = load_err(tmp.path());
    assert!(
        matches!(&err, Error::NotUtf8 { path: p, valid_up_to: 17 } if *p == down),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&down.display().to_string()));
}

#[test]
fn a_missing_directory_is_dir_not_found() {
    let dir = fixture("bad/does_not_exist");
    assert!(!dir.exists());
    let err = load_err(&dir);
    assert!(
        matches!(&err, Error::DirNotFound { path, looked_at } if *path == dir && *looked_at == dir),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("migrations directory {} does not exist", dir.display())
    );
}

/// `from_dir("db/migrations")` is relative to the current directory, which
/// differs between `cargo test` and an IDE: the error says where it looked.
#[test]
fn a_missing_relative_directory_says_where_it_was_looked_for() {
    let relative = std::path::Path::new("db/migrations");
    let err = load_err(relative);
    let looked_at = std::env::current_dir().unwrap().join(relative);
    assert!(
        matches!(&err, Error::DirNotFound { path, looked_at: l } if path == relative && *l == looked_at),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "migrations directory db/migrations does not exist (looked for {}: ",
            looked_at.display()
        )),
        "{shown}"
    );
    assert!(shown.contains("CARGO_MANIFEST_DIR"), "{shown}");
}

#[test]
fn a_file_given_as_the_directory_is_not_a_directory() {
    let file = fixture("layouts/plain/0001_create_users.sql");
    let err = load_err(&file);
    assert!(
        matches!(&err, Error::NotADirectory { path } if *path == file),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("is not a directory; give the directory that holds the migrations")
    );
}

#[test]
fn an_empty_directory_is_no_migrations_naming_it() {
    let tmp = TempDir::new().unwrap();
    let err = load_err(tmp.path());
    assert!(
        matches!(&err, Error::NoMigrations { path: Some(p) } if p == tmp.path()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "migrations directory {} holds no migration",
            tmp.path().display()
        )
    );
}

#[test]
fn a_directory_with_only_non_sql_files_is_no_migrations() {
    let dir = fixture("bad/no_sql_files");
    assert!(dir.join("README.md").is_file());
    let err = load_err(&dir);
    assert!(
        matches!(&err, Error::NoMigrations { path: Some(p) } if *p == dir),
        "{err:?}"
    );
}

#[test]
fn a_down_file_without_its_up_file_is_down_without_up() {
    let dir = fixture("bad/down_without_up");
    let err = load_err(&dir);
    let path = dir.join("0002_create_posts.down.sql");
    assert!(
        matches!(&err, Error::DownWithoutUp { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} is a down migration without its up migration",
            path.display()
        )
    );
}

#[test]
fn a_diesel_directory_with_only_down_sql_is_down_without_up() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "0001_create_users/up.sql",
        "CREATE TABLE users (id);",
    );
    let down = write(
        tmp.path(),
        "0002_create_posts/down.sql",
        "DROP TABLE posts;",
    );
    let err = load_err(tmp.path());
    assert!(
        matches!(&err, Error::DownWithoutUp { path } if *path == down),
        "{err:?}"
    );
}

/// The docs of `Migrations` say only directories "with neither a version nor
/// an `up.sql`" are ignored. A directory that has a version but no `up.sql`
/// (a typo such as `Up.sql` or `migration.sql`) is silently skipped today, so
/// the migration vanishes from the set without a word.
#[test]

fn a_versioned_directory_without_up_sql_is_an_error_naming_it() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "0001_create_users/up.sql",
        "CREATE TABLE users (id);",
    );
    write(
        tmp.path(),
        "0002_create_posts/migration.sql",
        "CREATE TABLE posts (id);",
    );
    let dir = tmp.path().join("0002_create_posts");
    match Migrations::from_dir(tmp.path()) {
        Ok(set) => panic!(
            "loaded without migration 2: versions {:?}",
            set.iter().map(Migration::version).collect::<Vec<_>>()
        ),
        Err(e) => assert!(e.to_string().contains(&dir.display().to_string()), "{e}"),
    }
}

#[test]
fn begin_and_commit_in_a_migration_file_are_forbidden_statements() {
    let dir = fixture("bad/forbidden_statement");
    let err = load_err(&dir);
    let path = dir.join("0002_transactional.sql");
    let Error::ForbiddenStatement {
        version,
        name,
        origin,
        index,
        statement,
        reason,
    } = &err
    else {
        panic!("expected ForbiddenStatement, got {err:?}");
    };
    assert_eq!(*version, 2);
    assert_eq!(name, "transactional");
    assert_eq!(*origin, Origin::File(path.clone()));
    // Statement 1 is the CREATE TABLE after the comment; BEGIN is statement 2.
    assert_eq!(*index, 2);
    assert_eq!(statement, "BEGIN TRANSACTION;");
    assert!(!reason.is_empty());
    assert_eq!(
        err.to_string(),
        format!(
            "migration 2 (transactional) in {}, statement 2: `BEGIN TRANSACTION;` is not allowed: {reason}",
            path.display()
        )
    );
}

#[test]
fn a_commit_in_a_migration_built_in_code_is_a_forbidden_statement() {
    let err = Migrations::new(vec![
        Migration::new(1, "a", "CREATE TABLE a (x);"),
        Migration::new(
            2,
            "b",
            "CREATE TABLE b (x);\nINSERT INTO b VALUES (1);\n/* done */ COMMIT;",
        ),
    ])
    .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ForbiddenStatement { version: 2, index: 3, origin: Origin::Code, statement, .. }
                if statement == "COMMIT;"
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("migration 2 (b) in <built in code>, statement 3: `COMMIT;`"),
        "{err}"
    );
}

#[test]
fn savepoints_and_semicolons_inside_strings_and_triggers_are_allowed() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "0001_ok.sql",
        "CREATE TABLE t (x TEXT);\n\
         SAVEPOINT s;\n\
         INSERT INTO t VALUES ('BEGIN; COMMIT;');\n\
         RELEASE s;\n\
         CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n    SELECT 1;\nEND;\n",
    );
    let set = Migrations::from_dir(tmp.path()).unwrap();
    assert_eq!(set.len(), 1);
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_an_io_error_naming_the_link() {
    let tmp = TempDir::new().unwrap();
    write(tmp.path(), "0001_ok.sql", "SELECT 1;");
    let link = tmp.path().join("0002_loop.sql");
    std::os::unix::fs::symlink(&link, &link).unwrap();
    let err = load_err(tmp.path());
    assert!(
        matches!(&err, Error::Io { path, .. } if *path == link),
        "{err:?}"
    );
    assert!(
        format!("{err:?}").starts_with(&format!(
            "I/O error on {}\n\nCaused by:\n    Too many levels of symbolic links",
            link.display()
        )),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
