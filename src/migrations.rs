//! An ordered, validated set of migrations, from a directory, an embedded
//! directory or a list built in code.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::app_ledger::AppLedger;
use crate::error::{Error, Origin, Result};
use crate::sql;

/// One migration: a version, a name, the SQL that applies it and, when
/// present, the SQL that reverts it.
///
/// Its [checksum](Migration::checksum) is the SHA-256 of its up SQL with
/// CRLF line endings read as `\n` (and a leading byte-order mark removed),
/// so a checkout with CRLF line endings is not mistaken for an edit; a lone
/// CR is not a line ending to it (`'a\rb'` edited to `'a\nb'` is an edit).
/// The SQL that runs is the SQL as written (without the byte-order mark): a
/// `\r\n` inside a string literal stays one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    /// The version as the file name spells it (`0001`; dashes of a diesel
    /// date removed): diesel records this text.
    version_text: String,
    name: String,
    up: String,
    /// Whether the up SQL started with a byte-order mark: sqlx's checksum
    /// covers it.
    bom: bool,
    /// sqlx's checksum when sqlx computed it (a migration taken from its
    /// `Migrator`), rather than the SHA-384 of `up`.
    sqlx_checksum: Option<Vec<u8>>,
    down: Option<String>,
    /// Whether the down SQL started with a byte-order mark (taken off).
    down_bom: bool,
    /// Where the down came from: its own file, beside the up's.
    down_origin: Option<Origin>,
    checksum: String,
    origin: Origin,
    statements: Vec<sql::Span>,
    /// A statement SQLite's rules refuse (its index and why) in a migration
    /// that Postgres reads otherwise (`BEGIN … END;` inside a dollar-quoted
    /// function body): the set loads, and SQLite's migrator refuses it
    /// before running anything.
    sqlite_refusal: Option<(usize, &'static str)>,
}

/// Without a leading byte-order mark, which SQLite would not parse.
fn without_bom(sql: &str) -> &str {
    sql.strip_prefix('\u{feff}').unwrap_or(sql)
}

/// CRLF to LF: the text the checksum is taken over. Only CRLF, what a
/// checkout with `core.autocrlf` makes of LF: a lone CR is a byte of the
/// migration (in a literal, data), and changing it is an edit.
fn normalize(sql: &str) -> std::borrow::Cow<'_, str> {
    let sql = without_bom(sql);
    if sql.contains('\r') {
        sql.replace("\r\n", "\n").into()
    } else {
        sql.into()
    }
}

/// Lower-case hex, as checksums and cache keys are written.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

impl Migration {
    /// A migration built in code. The SQL may hold any number of statements.
    ///
    /// ```
    /// let m = migrate_once::Migration::new(1, "create_users", "CREATE TABLE users(id INTEGER PRIMARY KEY);");
    /// assert_eq!(m.version(), 1);
    /// ```
    pub fn new(version: i64, name: impl Into<String>, up: impl AsRef<str>) -> Self {
        Self::with_origin(
            version,
            version.to_string(),
            name.into(),
            up.as_ref(),
            None,
            Origin::Code,
        )
    }

    /// Adds the SQL that reverts this migration. The migrator never runs
    /// it; [`assert_reversible`](crate::assert_reversible) runs it to check
    /// that it undoes the up.
    ///
    /// ```
    /// let m = migrate_once::Migration::new(1, "create_users", "CREATE TABLE users(id INTEGER PRIMARY KEY);")
    ///     .with_down("DROP TABLE users;");
    /// assert_eq!(m.down_sql(), Some("DROP TABLE users;"));
    /// ```
    #[must_use]
    pub fn with_down(mut self, down: impl AsRef<str>) -> Self {
        self.down_bom = down.as_ref().starts_with('\u{feff}');
        self.down = Some(without_bom(down.as_ref()).to_string());
        self.down_origin = Some(Origin::Code);
        self
    }

    fn with_origin(
        version: i64,
        version_text: String,
        name: String,
        up: &str,
        down: Option<(&str, Origin)>,
        origin: Origin,
    ) -> Self {
        let checksum = hex(&Sha256::digest(normalize(up).as_bytes()));
        let bom = up.starts_with('\u{feff}');
        let up = without_bom(up).to_string();
        let statements = sql::split(&up);
        Migration {
            version,
            version_text,
            name,
            bom,
            sqlx_checksum: None,
            down: down.as_ref().map(|(d, _)| without_bom(d).to_string()),
            down_bom: down
                .as_ref()
                .is_some_and(|(d, _)| d.starts_with('\u{feff}')),
            down_origin: down.map(|(_, o)| o),
            checksum,
            origin,
            statements,
            sqlite_refusal: None,
            up,
        }
    }

    /// The version: the integer prefix of the file name, or the number given in code.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name: the file name after the version and separator, without extensions.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL that applies the migration, as written (a leading byte-order
    /// mark removed). This is the SQL that runs.
    pub fn up_sql(&self) -> &str {
        &self.up
    }

    /// The SQL that reverts the migration, if the set has one.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// Where the down SQL came from (its own file), if there is one.
    pub(crate) fn down_origin(&self) -> Option<&Origin> {
        self.down_origin.as_ref()
    }

    /// Lower-case hex SHA-256 of [`up_sql`](Self::up_sql) with its CRLF
    /// line endings read as `\n`.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Where the migration came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The same migration with `checksum` as sqlx's: for one taken from
    /// sqlx's own `Migrator`, which computed it (over the SQL without the
    /// characters a `sqlx.toml` tells it to ignore, if any), so that the
    /// ledger holds what sqlx compares, whatever its configuration.
    #[cfg(any(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
    pub(crate) fn with_sqlx_checksum(mut self, checksum: &[u8]) -> Self {
        self.sqlx_checksum = Some(checksum.to_vec());
        self
    }

    /// sqlx's checksum of this migration: the SHA-384 of its SQL exactly as
    /// sqlx reads the file (byte-order mark and line endings included), or
    /// the one sqlx computed.
    pub(crate) fn sqlx_checksum(&self) -> Vec<u8> {
        if let Some(checksum) = &self.sqlx_checksum {
            return checksum.clone();
        }
        let mut h = sha2::Sha384::new();
        if self.bom {
            h.update("\u{feff}".as_bytes());
        }
        h.update(self.up.as_bytes());
        h.finalize().to_vec()
    }

    /// What an app's ledger records of this migration.
    pub(crate) fn app_ledger_entry(&self) -> crate::app_ledger::Entry<'_> {
        crate::app_ledger::Entry {
            version: self.version,
            diesel_version: self.diesel_version(),
            description: self.sqlx_description(),
            checksum: self.sqlx_checksum(),
        }
    }

    /// sqlx's description: the name with `_` read as spaces.
    pub(crate) fn sqlx_description(&self) -> String {
        self.name.replace('_', " ")
    }

    /// The version as diesel records it: the file name's prefix, dashes
    /// removed (`0001`, `20240101120000`).
    pub(crate) fn diesel_version(&self) -> &str {
        &self.version_text
    }

    /// The statements of the up SQL, with their 1-based index and the byte
    /// offset at which each starts.
    pub(crate) fn statements(&self) -> impl Iterator<Item = (usize, usize, &str)> {
        self.statements
            .iter()
            .enumerate()
            .map(|(i, s)| (i + 1, s.start, &self.up[s.start..s.end]))
    }

    /// The error SQLite's migrator gives for this migration before running
    /// anything, if SQLite's rules refuse a statement that Postgres's
    /// reading accepts.
    pub(crate) fn sqlite_refusal(&self) -> Option<Error> {
        let (index, reason) = self.sqlite_refusal?;
        self.refusal(index, reason)
    }

    /// [`Error::ForbiddenStatement`] for statement `index` (1-based).
    fn refusal(&self, index: usize, reason: &'static str) -> Option<Error> {
        let (_, _, statement) = self.statements().nth(index - 1)?;
        Some(Error::ForbiddenStatement {
            version: self.version,
            name: self.name.clone(),
            origin: self.origin.clone(),
            index,
            statement: statement.to_string(),
            reason,
        })
    }

    fn check_statements(&mut self) -> Result<()> {
        // The offset is the file's: the byte-order mark taken off counts.
        let bom = |had: bool| if had { '\u{feff}'.len_utf8() } else { 0 };
        for (sql, skipped) in std::iter::once((&self.up, bom(self.bom)))
            .chain(self.down.as_ref().map(|d| (d, bom(self.down_bom))))
        {
            if let Some(offset) = sql.bytes().position(|b| b == 0) {
                return Err(Error::NulByte {
                    version: self.version,
                    origin: self.origin.clone(),
                    offset: offset + skipped,
                });
            }
        }
        if self.statements.is_empty() {
            return Err(Error::EmptyMigration {
                version: self.version,
                name: self.name.clone(),
                origin: self.origin.clone(),
            });
        }
        let refused = self
            .statements()
            .find_map(|(index, _, st)| sql::forbidden_reason(st).map(|r| (index, r)));
        if let Some((index, reason)) = refused {
            // Refused by SQLite's reading only: a Postgres set whose
            // function bodies SQLite's splitter cuts apart still loads.
            if crate::pg_sql::accepts(&self.up) {
                self.sqlite_refusal = Some((index, reason));
                return Ok(());
            }
            return Err(self
                .refusal(index, reason)
                .expect("the statement was just found"));
        }
        Ok(())
    }
}

/// An ordered set of migrations with unique versions.
///
/// Build one with [`from_dir`](Self::from_dir) (read at run time),
/// [`embed_migrations!`](crate::embed_migrations) (read at compile time) or
/// [`new`](Self::new) (a list built in code). Directory layouts that load as
/// they are:
///
/// | layout | example | [app ledger](Self::with_app_ledgers) kept by default |
/// |---|---|---|
/// | one file per migration (also sqlx's plain layout) | `0001_create_users.sql`, optionally `0001_create_users.down.sql` | none |
/// | timestamp versions | `20240101120000_create_users.sql` | none |
/// | sqlx-style up/down files | `0001_create_users.up.sql`, `0001_create_users.down.sql` | sqlx's |
/// | diesel-style directories | `0001_create_users/up.sql`, `0001_create_users/down.sql` | diesel's |
///
/// The version is the integer before the first `_` (or `-`); the name is the
/// rest, without extensions. Files that do not end in `.sql` and names that
/// start with `.` are ignored, as are directories with neither a version
/// nor an `up.sql`; a name that starts with a version and holds `.sql`
/// without ending in it (an editor's backup: `0002_b.sql~`, `.bak`,
/// `.orig`) is refused. `from_dir` and `embed_migrations!` follow the same
/// rule, in name order, so one directory gives the same set (or the same
/// error) both ways.
///
/// ```
/// use migrate_once::Migrations;
///
/// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?;
/// assert!(set.len() >= 3);
/// assert_eq!(set.hash().len(), 64);
/// # Ok::<(), migrate_once::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Migrations {
    list: Vec<Migration>,
    hash: String,
    dir: Option<PathBuf>,
    app_ledgers: Vec<AppLedger>,
}

impl fmt::Debug for Migrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrations")
            .field("dir", &self.dir)
            .field(
                "versions",
                &self.list.iter().map(|m| m.version).collect::<Vec<_>>(),
            )
            .field("app_ledgers", &self.app_ledgers)
            .field("hash", &self.hash)
            .finish()
    }
}

/// One file found while reading a directory, before pairing.
struct Found {
    version: i64,
    version_text: String,
    name: String,
    kind: Kind,
    path: PathBuf,
    origin: Origin,
    bytes: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Up,
    Down,
}

/// Splits `0001_name` into (1, "0001", "name"). diesel-cli's dated prefix
/// `2024-01-01-120000_name` reads as the version 20240101120000.
fn parse_stem(stem: &str, path: &Path) -> Result<(i64, String, String)> {
    let b = stem.as_bytes();
    let dated = b.len() >= 17
        && [4, 7, 10].iter().all(|&i| b[i] == b'-')
        && b[..17]
            .iter()
            .enumerate()
            .all(|(i, c)| [4, 7, 10].contains(&i) || c.is_ascii_digit());
    let (digits, rest) = if dated {
        (stem[..17].replace('-', ""), &stem[17..])
    } else {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        (stem[..n].to_string(), &stem[n..])
    };
    if digits.is_empty() {
        return Err(Error::MissingVersion {
            path: path.to_path_buf(),
        });
    }
    let version: i64 = digits.parse().map_err(|_| Error::InvalidVersion {
        path: path.to_path_buf(),
        reason: format!("{digits} does not fit in a 64-bit integer"),
    })?;
    let b = rest.as_bytes();
    let date_like = b.len() >= 6
        && b[0] == b'-'
        && b[3] == b'-'
        && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit());
    if date_like {
        return Err(Error::InvalidVersion {
            path: path.to_path_buf(),
            reason: format!(
                "{digits}{} looks like a date, which would read as version {digits}; \
                 write the version as {digits}{}{} (or diesel's {digits}{}-000000)",
                &rest[..6],
                &rest[1..3],
                &rest[4..6],
                &rest[..6]
            ),
        });
    }
    let name = match rest.chars().next() {
        None => "",
        Some('_' | '-') => &rest[1..],
        Some(c) => {
            return Err(Error::InvalidVersion {
                path: path.to_path_buf(),
                reason: format!("expected `_` after the version {version}, found `{c}`"),
            });
        }
    };
    Ok((version, digits, name.to_string()))
}

/// What a directory entry's name says it is, before anything is read.
#[derive(Clone, Copy)]
enum ByName {
    /// Not a migration: a dot file, a file that is not SQL, a directory
    /// without a version.
    Skip,
    /// A `.sql` file, whatever the case of the extension.
    SqlFile,
    /// Starts with a version: a migration directory if it is one.
    Versioned,
    /// Looks like a migration but is not one: refused, never skipped.
    Suspicious(&'static str),
}

fn classify(name: &str) -> ByName {
    if name.starts_with('.') {
        return ByName::Skip;
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".sql") {
        return ByName::SqlFile;
    }
    if !name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return ByName::Skip;
    }
    if lower.contains(".sql") {
        return ByName::Suspicious(
            "it looks like a migration but its name does not end in .sql \
             (an editor's backup?); rename or remove it",
        );
    }
    ByName::Versioned
}

/// Whether `dir` holds an `up.sql`; a directory that cannot be read does not.
fn has_up_sql(dir: &Path) -> bool {
    fs::metadata(dir.join("up.sql")).is_ok_and(|m| m.is_file())
}

fn not_a_file(path: PathBuf) -> Error {
    Error::UnusableFile {
        path,
        reason: "it is not a regular file (a directory, FIFO, socket or device); \
                 a migration must be a file",
    }
}

/// What a directory entry is, once its name says it may matter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    /// A directory, and whether it holds a file `up.sql`.
    Dir {
        has_up_sql: bool,
    },
    /// A FIFO, socket or device (only a real directory has these).
    Other,
}

/// What loading does with a directory entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Not a migration: ignored.
    Skip,
    /// A migration file: read it.
    File,
    /// A migration directory: read its `up.sql` and `down.sql`.
    Dir,
}

/// The one rule for which entries of a migrations directory are
/// migrations, which are ignored and which are refused, shared by
/// [`Migrations::from_dir`] and [`embed_migrations!`](crate::embed_migrations)
/// so that one directory loads the same both ways. `by_name` is
/// [`classify`]'s reading of `name`; `path` names the entry in an error.
///
/// Refused: a name that looks like a migration but does not end in `.sql`
/// (an editor's backup, `0002_b.sql~`, `.bak`, `.orig`, `.swp`: it may be
/// the only copy of a migration, and is never silently skipped); a `.sql`
/// name that is not a file; a directory with an `up.sql` but no version.
/// Ignored: dot files (`.#0002_b.sql`), names that do not start with a
/// version (`#0002_b.sql#`, `README.md`), versioned files that are not SQL
/// (`0002_notes.txt`).
fn take(
    name: &str,
    by_name: ByName,
    kind: EntryKind,
    path: impl FnOnce() -> PathBuf,
) -> Result<Take> {
    match by_name {
        ByName::Skip => match kind {
            EntryKind::Dir { has_up_sql: true } if !name.starts_with('.') => {
                Err(Error::MissingVersion { path: path() })
            }
            _ => Ok(Take::Skip),
        },
        ByName::Suspicious(reason) => Err(Error::UnusableFile {
            path: path(),
            reason,
        }),
        ByName::SqlFile if kind == EntryKind::File => Ok(Take::File),
        ByName::SqlFile => Err(not_a_file(path())),
        ByName::Versioned if matches!(kind, EntryKind::Dir { .. }) => Ok(Take::Dir),
        ByName::Versioned => Ok(Take::Skip),
    }
}

/// `s` without `suffix`, compared without regard to ASCII case.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    (s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix)).then(|| &s[..cut])
}

/// What a directory entry is, independent of where the bytes live.
enum Entry {
    File {
        name: String,
        bytes: Vec<u8>,
    },
    Dir {
        name: String,
        files: Vec<(String, Vec<u8>)>,
    },
}

impl Migrations {
    /// A set built in code.
    ///
    /// # Errors
    ///
    /// [`Error::NoMigrations`] for an empty list, [`Error::DuplicateVersion`]
    /// if two migrations share a version, [`Error::EmptyMigration`] for one
    /// without a statement, [`Error::ForbiddenStatement`] if a
    /// migration holds `BEGIN`, `COMMIT`, `ROLLBACK`, `VACUUM` or
    /// `PRAGMA journal_mode`. (Where only SQLite's reading of a migration
    /// finds one, as in the `BEGIN … END;` of a dollar-quoted Postgres
    /// function body, the set loads, and SQLite's [`migrate`](crate::migrate)
    /// refuses it with that error before running anything.)
    ///
    /// ```
    /// use migrate_once::{Migration, Migrations};
    ///
    /// let set = Migrations::new(vec![
    ///     Migration::new(2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT;"),
    ///     Migration::new(1, "create_users", "CREATE TABLE users(id INTEGER PRIMARY KEY);"),
    /// ])?;
    /// assert_eq!(set.iter().map(|m| m.version()).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    pub fn new(migrations: Vec<Migration>) -> Result<Self> {
        Self::assemble(migrations, None, Vec::new())
    }

    fn assemble(
        mut list: Vec<Migration>,
        dir: Option<PathBuf>,
        app_ledgers: Vec<AppLedger>,
    ) -> Result<Self> {
        if list.is_empty() {
            return Err(Error::NoMigrations { path: dir });
        }
        list.sort_by_key(|m| m.version);
        for pair in list.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(Error::DuplicateVersion {
                    version: pair[0].version,
                    first: pair[0].origin.clone(),
                    second: pair[1].origin.clone(),
                });
            }
        }
        for m in &mut list {
            m.check_statements()?;
        }
        let mut set = Migrations {
            list,
            hash: String::new(),
            dir,
            app_ledgers: Vec::new(),
        };
        set.set_app_ledgers(app_ledgers);
        Ok(set)
    }

    /// Sets the app ledgers and computes the hash, which covers everything
    /// that shapes a migrated database: each migration's version, name and
    /// checksum, which app ledgers are kept and what they record (diesel the
    /// version as written, sqlx a checksum that covers a byte-order mark, or
    /// the one sqlx computed).
    fn set_app_ledgers(&mut self, mut app_ledgers: Vec<AppLedger>) {
        app_ledgers.sort();
        app_ledgers.dedup();
        let mut hasher = Sha256::new();
        let diesel = app_ledgers.contains(&AppLedger::Diesel);
        let sqlx = app_ledgers.contains(&AppLedger::Sqlx);
        for m in &self.list {
            hasher.update(m.version.to_le_bytes());
            for text in [&m.name, &m.checksum] {
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            if diesel {
                hasher.update((m.version_text.len() as u64).to_le_bytes());
                hasher.update(m.version_text.as_bytes());
            }
            if sqlx {
                hasher.update([u8::from(m.bom)]);
                if let Some(checksum) = &m.sqlx_checksum {
                    hasher.update([2]);
                    hasher.update((checksum.len() as u64).to_le_bytes());
                    hasher.update(checksum);
                }
            }
        }
        for tool in &app_ledgers {
            hasher.update(tool.table().as_bytes());
        }
        self.hash = hex(&hasher.finalize());
        self.app_ledgers = app_ledgers;
    }

    /// Keep the ledgers of these migration tools too, in every database
    /// this set migrates (templates and their clones included), so that the
    /// application's own migrator, run on such a database, finds every
    /// migration applied and runs nothing. Replaces the ledgers chosen
    /// before (by [`from_dir`](Self::from_dir)'s inference, say); an empty
    /// list keeps none. See [`AppLedger`].
    ///
    /// ```
    /// use migrate_once::{AppLedger, Migrations};
    ///
    /// // sqlx's plain layout (`<version>_<name>.sql`) reads like this crate's
    /// // own, so sqlx's ledger is asked for by name.
    /// let set = Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?
    ///     .with_app_ledgers([AppLedger::Sqlx]);
    /// assert_eq!(set.app_ledgers(), [AppLedger::Sqlx]);
    ///
    /// let mut conn = rusqlite::Connection::open_in_memory()?;
    /// migrate_once::migrate(&mut conn, &set)?;
    /// let recorded: i64 = conn.query_row("SELECT count(*) FROM _sqlx_migrations", [], |r| r.get(0))?;
    /// assert_eq!(recorded, set.len() as i64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_app_ledgers(mut self, tools: impl IntoIterator<Item = AppLedger>) -> Self {
        self.set_app_ledgers(tools.into_iter().collect());
        self
    }

    /// The ledgers of other migration tools this set keeps besides its own
    /// (see [`with_app_ledgers`](Self::with_app_ledgers)).
    pub fn app_ledgers(&self) -> &[AppLedger] {
        &self.app_ledgers
    }

    /// Reads every migration in `dir` now, in any of the layouts listed on
    /// [`Migrations`]. Symbolic links are followed.
    ///
    /// # Errors
    ///
    /// [`Error::DirNotFound`] if `dir` does not exist, [`Error::NotADirectory`]
    /// if it is a file, [`Error::Io`] if it
    /// or a file in it cannot be read, [`Error::NoMigrations`] if it holds
    /// no migration, [`Error::MissingVersion`] / [`Error::InvalidVersion`]
    /// for a `.sql` file whose name does not start with a version,
    /// [`Error::DuplicateVersion`] (naming both files), [`Error::NotUtf8`],
    /// [`Error::MissingUp`], [`Error::DownWithoutUp`],
    /// [`Error::EmptyMigration`] and [`Error::ForbiddenStatement`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        match fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::DirNotFound {
                    path: dir.to_path_buf(),
                    // `absolute` only joins the current directory; it fails
                    // only if there is none, and then the path is all there is.
                    looked_at: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
                });
            }
            Err(e) => return Err(Error::io(dir)(e)),
            Ok(m) if !m.is_dir() => {
                return Err(Error::NotADirectory {
                    path: dir.to_path_buf(),
                });
            }
            Ok(_) => {}
        }
        // In name order, as the embedded directory is read: of two bad
        // entries, the same one is reported both ways, on every machine.
        let mut listed = Vec::new();
        for entry in fs::read_dir(dir).map_err(Error::io(dir))? {
            listed.push(entry.map_err(Error::io(dir))?);
        }
        listed.sort_by_key(fs::DirEntry::file_name);
        let mut entries = Vec::new();
        for entry in listed {
            let path = entry.path();
            // Decided by name first: nothing that cannot be a migration
            // (a README, `lost+found`, a dangling link called `notes`) is
            // touched, so it cannot make loading fail.
            let os_name = entry.file_name();
            let lossy = os_name.to_string_lossy();
            let by_name = classify(&lossy);
            if matches!(by_name, ByName::Skip) {
                // Only a directory could matter (one with an `up.sql`).
                let kind = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    EntryKind::Dir {
                        has_up_sql: has_up_sql(&path),
                    }
                } else {
                    EntryKind::Other
                };
                take(&lossy, by_name, kind, || path.clone())?;
                continue;
            }
            let Some(name) = os_name.to_str().map(str::to_string) else {
                return Err(Error::UnusableFile {
                    path,
                    reason: "its name is not valid UTF-8 (shown here with a replacement character); \
                             rename it",
                });
            };
            if let ByName::Suspicious(_) = by_name {
                take(&name, by_name, EntryKind::Other, || path.clone())?;
            }
            // A regular file is read without asking again what it is (a
            // test process loads the set once per test under cargo-nextest).
            // Anything else is asked with `metadata`, which follows symbolic
            // links: a dangling one or a loop is an I/O error naming the link.
            let kind = match entry.file_type() {
                Ok(t) if t.is_file() => EntryKind::File,
                _ => {
                    let meta = fs::metadata(&path).map_err(Error::io(&path))?;
                    if meta.is_file() {
                        EntryKind::File
                    } else if meta.is_dir() {
                        EntryKind::Dir { has_up_sql: false }
                    } else {
                        EntryKind::Other
                    }
                }
            };
            match take(&name, by_name, kind, || path.clone())? {
                Take::Skip => {}
                Take::File => {
                    let bytes = fs::read(&path).map_err(Error::io(&path))?;
                    entries.push(Entry::File { name, bytes });
                }
                Take::Dir => {
                    let mut files = Vec::new();
                    for f in ["up.sql", "down.sql"] {
                        let p = path.join(f);
                        match fs::metadata(&p) {
                            Ok(m) if m.is_file() => {
                                files.push((f.to_string(), fs::read(&p).map_err(Error::io(&p))?));
                            }
                            Ok(_) => return Err(not_a_file(p)),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(Error::io(&p)(e)),
                        }
                    }
                    entries.push(Entry::Dir { name, files });
                }
            }
        }
        Self::from_entries(entries, dir, |p| Origin::File(dir.join(p)))
    }

    /// Builds a set from the entries of an embedded directory. Used by
    /// [`embed_migrations!`](crate::embed_migrations); call that instead.
    ///
    /// # Errors
    ///
    /// As [`from_dir`](Self::from_dir), naming files by their path inside the
    /// embedded directory.
    #[doc(hidden)]
    pub fn from_embedded(dir: &include_dir::Dir<'_>) -> Result<Self> {
        let file_name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        // The same rule as `from_dir`, in the same (name) order.
        let mut listed: Vec<(String, &include_dir::DirEntry<'_>)> = dir
            .entries()
            .iter()
            .map(|e| (file_name(e.path()), e))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = Vec::new();
        for (name, entry) in listed {
            let path = || dir.path().join(&name);
            let kind = match entry {
                include_dir::DirEntry::File(_) => EntryKind::File,
                include_dir::DirEntry::Dir(d) => EntryKind::Dir {
                    has_up_sql: d.entries().iter().any(|e| {
                        matches!(e, include_dir::DirEntry::File(_))
                            && file_name(e.path()) == "up.sql"
                    }),
                },
            };
            match (take(&name, classify(&name), kind, path)?, entry) {
                (Take::File, include_dir::DirEntry::File(f)) => entries.push(Entry::File {
                    name,
                    bytes: f.contents().to_vec(),
                }),
                (Take::Dir, include_dir::DirEntry::Dir(d)) => {
                    let mut files = Vec::new();
                    for f in ["up.sql", "down.sql"] {
                        match d.entries().iter().find(|e| file_name(e.path()) == f) {
                            Some(include_dir::DirEntry::File(file)) => {
                                files.push((f.to_string(), file.contents().to_vec()));
                            }
                            Some(include_dir::DirEntry::Dir(_)) => {
                                return Err(not_a_file(dir.path().join(&name).join(f)));
                            }
                            None => {}
                        }
                    }
                    entries.push(Entry::Dir { name, files });
                }
                _ => {}
            }
        }
        Self::from_entries(entries, dir.path(), |p| {
            Origin::Embedded(dir.path().join(p))
        })
    }

    fn from_entries(
        mut entries: Vec<Entry>,
        dir: &Path,
        origin: impl Fn(&Path) -> Origin,
    ) -> Result<Self> {
        let entry_name = |e: &Entry| match e {
            Entry::File { name, .. } | Entry::Dir { name, .. } => name.clone(),
        };
        entries.sort_by_key(entry_name);
        let mut found = Vec::new();
        // The layout says which tool's ledger the set keeps by default:
        // `.up.sql` files are sqlx's reversible layout, directories with
        // `up.sql` diesel's.
        let mut app_ledgers = Vec::new();
        for entry in entries {
            match entry {
                Entry::File { name, bytes } => {
                    let rel = PathBuf::from(&name);
                    let path = dir.join(&rel);
                    let stem = strip_suffix_ci(&name, ".sql").unwrap_or(&name);
                    let (stem, kind) = if let Some(s) = strip_suffix_ci(stem, ".up") {
                        app_ledgers.push(AppLedger::Sqlx);
                        (s, Kind::Up)
                    } else if let Some(s) = strip_suffix_ci(stem, ".down") {
                        // A down beside a plain `.sql` up is not sqlx's
                        // layout (sqlx reads `.sql` without a down); only an
                        // `.up.sql` says sqlx.
                        (s, Kind::Down)
                    } else {
                        (stem, Kind::Up)
                    };
                    let (version, version_text, name) = parse_stem(stem, &path)?;
                    found.push(Found {
                        version,
                        version_text,
                        name,
                        kind,
                        origin: origin(&rel),
                        path,
                        bytes,
                    });
                }
                Entry::Dir { name, files } => {
                    let has_version = name.bytes().next().is_some_and(|b| b.is_ascii_digit());
                    if !has_version && files.is_empty() {
                        continue;
                    }
                    let (version, version_text, mig_name) = parse_stem(&name, &dir.join(&name))?;
                    if files.is_empty() {
                        return Err(Error::MissingUp {
                            path: dir.join(&name),
                        });
                    }
                    app_ledgers.push(AppLedger::Diesel);
                    for (file, bytes) in files {
                        let rel = Path::new(&name).join(&file);
                        let kind = if file == "up.sql" {
                            Kind::Up
                        } else {
                            Kind::Down
                        };
                        found.push(Found {
                            version,
                            version_text: version_text.clone(),
                            name: mig_name.clone(),
                            kind,
                            origin: origin(&rel),
                            path: dir.join(&rel),
                            bytes,
                        });
                    }
                }
            }
        }
        Self::pair(found, dir, app_ledgers)
    }

    /// Pairs up and down files by version and builds the set.
    fn pair(found: Vec<Found>, dir: &Path, app_ledgers: Vec<AppLedger>) -> Result<Self> {
        let text = |f: &Found| -> Result<String> {
            String::from_utf8(f.bytes.clone()).map_err(|e| Error::NotUtf8 {
                path: f.path.clone(),
                valid_up_to: e.utf8_error().valid_up_to(),
            })
        };
        let mut ups: BTreeMap<i64, &Found> = BTreeMap::new();
        let mut downs: BTreeMap<i64, &Found> = BTreeMap::new();
        for f in &found {
            let slot = if f.kind == Kind::Up {
                &mut ups
            } else {
                &mut downs
            };
            if let Some(first) = slot.get(&f.version) {
                return Err(Error::DuplicateVersion {
                    version: f.version,
                    first: first.origin.clone(),
                    second: f.origin.clone(),
                });
            }
            slot.insert(f.version, f);
        }
        let mut list = Vec::with_capacity(ups.len());
        for (version, down) in &downs {
            match ups.get(version) {
                None => {
                    return Err(Error::DownWithoutUp {
                        path: down.path.clone(),
                    });
                }
                Some(up) if up.name != down.name => {
                    return Err(Error::UpDownMismatch {
                        version: *version,
                        up: up.origin.clone(),
                        down: down.origin.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for (version, up) in ups {
            let down = downs
                .get(&version)
                .map(|d| Ok::<_, Error>((text(d)?, d.origin.clone())))
                .transpose()?;
            list.push(Migration::with_origin(
                version,
                up.version_text.clone(),
                up.name.clone(),
                &text(up)?,
                down.as_ref()
                    .map(|(sql, origin)| (sql.as_str(), origin.clone())),
                up.origin.clone(),
            ));
        }
        Self::assemble(list, Some(dir.to_path_buf()), app_ledgers)
    }

    /// The migrations in version order.
    pub fn iter(&self) -> std::slice::Iter<'_, Migration> {
        self.list.iter()
    }

    /// How many migrations the set holds (never zero).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Always `false`: an empty set cannot be built. Present for symmetry with [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The error SQLite's migrator gives for this set before running
    /// anything: a statement SQLite's rules refuse in a migration that
    /// Postgres reads otherwise (see [`Migration`]'s loading).
    pub(crate) fn sqlite_refusal(&self) -> Option<Error> {
        self.list.iter().find_map(Migration::sqlite_refusal)
    }

    /// The migration with this version, if the set has it.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.list
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.list[i])
    }

    /// The newest version in the set.
    pub fn latest_version(&self) -> i64 {
        self.list.last().map_or(0, |m| m.version)
    }

    /// Lower-case hex SHA-256 over every migration's version, name and
    /// checksum, in order: two sets with the same hash apply the same SQL.
    /// Templates are cached under it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The directory the set was read from, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The set of the first `n` migrations (at least one), keeping the same
    /// app ledgers: migrating with it brings a database to the `n`-th
    /// version and no further.
    pub(crate) fn prefix(&self, n: usize) -> Migrations {
        let mut set = Migrations {
            list: self.list[..n.clamp(1, self.list.len())].to_vec(),
            hash: String::new(),
            dir: self.dir.clone(),
            app_ledgers: Vec::new(),
        };
        set.set_app_ledgers(self.app_ledgers.clone());
        set
    }
}

impl<'a> IntoIterator for &'a Migrations {
    type Item = &'a Migration;
    type IntoIter = std::slice::Iter<'a, Migration>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// Embeds a migrations directory in the binary at compile time and builds a
/// [`Migrations`] from it at run time, so tests do not depend on the working
/// directory. Write the path as `"$CARGO_MANIFEST_DIR/migrations"`:
/// environment variables in it are expanded, and a path relative to the
/// crate's `Cargo.toml` is what a test needs.
///
/// Evaluates to `Result<Migrations>`, with the same errors as
/// [`Migrations::from_dir`].
///
/// Cargo does not watch the directory for new files: after adding a
/// migration, `touch` the file that calls the macro (or run `cargo clean -p`)
/// so the new file is embedded.
///
/// ```
/// let set = migrate_once::embed_migrations!("$CARGO_MANIFEST_DIR/migrations")?;
/// assert!(set.len() >= 3);
/// # Ok::<(), migrate_once::Error>(())
/// ```
#[macro_export]
macro_rules! embed_migrations {
    ($dir:tt) => {{
        // include_dir's own expansion names `include_dir::Dir` and friends:
        // this makes that name resolve to the crate's copy, so a user needs
        // no include_dir dependency of their own.
        use $crate::__private::include_dir;
        static DIR: include_dir::Dir<'static> = include_dir::include_dir!($dir);
        $crate::Migrations::from_embedded(&DIR)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_do_not_change_the_checksum() {
        let lf = Migration::new(1, "a", "CREATE TABLE a(x);\nINSERT INTO a VALUES (1);\n");
        let crlf = Migration::new(
            1,
            "a",
            "CREATE TABLE a(x);\r\nINSERT INTO a VALUES (1);\r\n",
        );
        let bom = Migration::new(
            1,
            "a",
            "\u{feff}CREATE TABLE a(x);\nINSERT INTO a VALUES (1);\n",
        );
        assert_eq!(lf.checksum(), crlf.checksum());
        assert_eq!(lf.checksum(), bom.checksum());
        // A lone CR is a byte of the migration, not a line ending.
        let cr = Migration::new(1, "a", "CREATE TABLE a(x);\rINSERT INTO a VALUES (1);\r");
        assert_ne!(lf.checksum(), cr.checksum());
        assert_ne!(
            Migration::new(1, "a", "INSERT INTO a VALUES ('a\rb');").checksum(),
            Migration::new(1, "a", "INSERT INTO a VALUES ('a\nb');").checksum()
        );
        assert_ne!(
            lf.checksum(),
            Migration::new(1, "a", "CREATE TABLE a(y);").checksum()
        );
    }

    #[test]
    fn a_nul_byte_is_reported_at_its_offset_in_the_file_byte_order_mark_included() {
        // Found by the `split` fuzz target: the offset left out the BOM.
        for (up, down, offset) in [
            ("\u{feff}CR;\0", None, 6),
            ("CR;\0", None, 3),
            ("SELECT 1;", Some("\u{feff}\0"), 3),
        ] {
            let mut m = Migration::new(1, "a", up);
            if let Some(d) = down {
                m = m.with_down(d);
            }
            match Migrations::new(vec![m]) {
                Err(Error::NulByte { offset: o, .. }) => assert_eq!(o, offset, "{up:?}"),
                other => panic!("{up:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_set_hash_covers_version_name_and_sql() {
        let base = || vec![Migration::new(1, "a", "CREATE TABLE a(x);")];
        let h = Migrations::new(base()).unwrap().hash().to_string();
        for other in [
            Migration::new(2, "a", "CREATE TABLE a(x);"),
            Migration::new(1, "b", "CREATE TABLE a(x);"),
            Migration::new(1, "a", "CREATE TABLE a(y);"),
        ] {
            assert_ne!(Migrations::new(vec![other]).unwrap().hash(), h);
        }
        assert_eq!(Migrations::new(base()).unwrap().hash(), h);
    }

    #[test]
    fn stems_parse_into_version_and_name() {
        let p = Path::new("x");
        assert_eq!(
            parse_stem("0001_create_users", p).unwrap(),
            (1, "0001".into(), "create_users".into())
        );
        assert_eq!(
            parse_stem("20240101120000_init", p).unwrap(),
            (20_240_101_120_000, "20240101120000".into(), "init".into())
        );
        assert_eq!(parse_stem("7", p).unwrap(), (7, "7".into(), String::new()));
        assert!(matches!(
            parse_stem("init", p),
            Err(Error::MissingVersion { .. })
        ));
        assert!(matches!(
            parse_stem("99999999999999999999_x", p),
            Err(Error::InvalidVersion { .. })
        ));
        assert!(matches!(
            parse_stem("1a_x", p),
            Err(Error::InvalidVersion { .. })
        ));
    }

    #[test]
    fn code_built_duplicates_are_refused() {
        let err = Migrations::new(vec![
            Migration::new(1, "a", "SELECT 1;"),
            Migration::new(1, "b", "SELECT 2;"),
        ])
        .unwrap_err();
        assert!(
            matches!(err, Error::DuplicateVersion { version: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert!(matches!(
            Migrations::new(vec![]),
            Err(Error::NoMigrations { path: None })
        ));
    }
}
