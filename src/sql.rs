//! Splitting migration SQL into statements the way SQLite itself would.
//!
//! The migrator executes a migration one statement at a time so that an error
//! can name the statement that failed (its number, its line and its text),
//! and so that statements that would end the migrator's transaction can be
//! refused before anything runs. The split follows the state machine of
//! SQLite's own `sqlite3_complete()` (`src/complete.c`), so a `;` inside a
//! string, an identifier, a comment or a `CREATE TRIGGER … BEGIN … END` body
//! never splits a statement.

/// One statement of a migration, as a slice of its SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Byte offset of the statement's first byte that is not whitespace or a comment.
    pub start: usize,
    /// Byte offset one past the statement's terminating `;` (or the end of the text).
    pub end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    Semi,
    Ws,
    Other,
    Explain,
    Create,
    Temp,
    Trigger,
    End,
}

/// `trans[state][token]` from SQLite's `complete.c`. States: 0 invalid,
/// 1 start, 2 normal, 3 explain, 4 create, 5 trigger, 6 semi, 7 end.
const TRANS: [[u8; 8]; 8] = [
    //  SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
    [1, 0, 2, 3, 4, 2, 2, 2], // 0 invalid
    [1, 1, 2, 3, 4, 2, 2, 2], // 1 start
    [1, 2, 2, 2, 2, 2, 2, 2], // 2 normal
    [1, 3, 3, 2, 4, 2, 2, 2], // 3 explain
    [1, 4, 2, 2, 2, 4, 5, 2], // 4 create
    [6, 5, 5, 5, 5, 5, 5, 5], // 5 trigger
    [6, 6, 5, 5, 5, 5, 5, 7], // 6 semi
    [1, 7, 5, 5, 5, 5, 5, 5], // 7 end
];

const START: u8 = 1;

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Reads one token at `i`, returning it and the offset after it.
fn next_token(sql: &[u8], i: usize) -> (Token, usize) {
    let b = sql[i];
    match b {
        b';' => (Token::Semi, i + 1),
        // A run of whitespace is one token: the state machine stays where it
        // is on whitespace, so this splits as byte by byte would, faster.
        // A vertical tab (0x0b) goes on a run, as in SQLite's tokenizer
        // (`sqlite3Isspace`), but cannot start one: there it is an
        // unrecognized token (`sqlite3_complete` never reads it as blank).
        b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
            let len = sql[i..]
                .iter()
                .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
                .count();
            (Token::Ws, i + len)
        }
        // A byte-order mark where a token starts is whitespace to SQLite's
        // tokenizer (anywhere, not only at the start of the text); inside a
        // word it is part of the word, as any byte above 0x7f.
        0xef if sql.get(i + 1..i + 3) == Some(&[0xbb, 0xbf]) => (Token::Ws, i + 3),
        // `/*` as the text's last two bytes is a `/` and a `*` to SQLite's
        // tokenizer (`sqlite3GetToken`), a syntax error, although
        // `sqlite3_complete` reads it as an unterminated comment: the
        // migrator follows the tokenizer, which decides what runs.
        b'/' if sql.get(i + 1) == Some(&b'*') && i + 2 < sql.len() => {
            // An unterminated comment runs to the end of the text.
            let end = sql[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(sql.len(), |p| i + 2 + p + 2);
            (Token::Ws, end)
        }
        // Up to the newline, not through it: the newline starts a run of
        // whitespace, which a vertical tab after it continues (SQLite's
        // tokenizer ends the comment there too).
        b'-' if sql.get(i + 1) == Some(&b'-') => {
            let end = sql[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(sql.len(), |p| i + p);
            (Token::Ws, end)
        }
        b'[' => {
            let end = sql[i + 1..]
                .iter()
                .position(|&c| c == b']')
                .map_or(sql.len(), |p| i + 1 + p + 1);
            (Token::Other, end)
        }
        b'`' | b'"' | b'\'' => {
            // A doubled quote inside is an escaped quote: scanning to the next
            // quote and going on from there reads it as two adjacent tokens,
            // which is the same as far as statement boundaries go.
            let end = sql[i + 1..]
                .iter()
                .position(|&c| c == b)
                .map_or(sql.len(), |p| i + 1 + p + 1);
            (Token::Other, end)
        }
        _ if is_id_char(b) => {
            let len = sql[i..].iter().take_while(|&&c| is_id_char(c)).count();
            let word = &sql[i..i + len];
            // Only words of 3 to 9 letters can be keywords that matter here.
            let token = if b.is_ascii_digit() || !(3..=9).contains(&len) {
                Token::Other
            } else if word.eq_ignore_ascii_case(b"create") {
                Token::Create
            } else if word.eq_ignore_ascii_case(b"trigger") {
                Token::Trigger
            } else if word.eq_ignore_ascii_case(b"temp") || word.eq_ignore_ascii_case(b"temporary")
            {
                Token::Temp
            } else if word.eq_ignore_ascii_case(b"end") {
                Token::End
            } else if word.eq_ignore_ascii_case(b"explain") {
                Token::Explain
            } else {
                Token::Other
            };
            (token, i + len)
        }
        _ => (Token::Other, i + 1),
    }
}

/// Splits `sql` into statements. Text that is only whitespace and comments
/// yields no statement; a final statement without a `;` is still returned.
pub(crate) fn split(sql: &str) -> Vec<Span> {
    let bytes = sql.as_bytes();
    let mut spans = Vec::new();
    let mut state = START;
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let (token, next) = next_token(bytes, i);
        if token != Token::Ws && token != Token::Semi && start.is_none() {
            start = Some(i);
        }
        state = TRANS[usize::from(state)][token as usize];
        if token == Token::Semi
            && state == START
            && let Some(s) = start.take()
        {
            spans.push(Span {
                start: s,
                end: next,
            });
        }
        i = next;
    }
    if let Some(s) = start {
        spans.push(Span {
            start: s,
            end: bytes.len(),
        });
    }
    spans
}

/// The words of a statement (tokens that are not whitespace, comments or
/// `;`), identifier quotes taken off (a `'string'` keeps its quotes: it is
/// data, not a name): enough to tell what a statement is.
/// Borrowed, not copied: the set is checked this way each time it loads,
/// which under cargo-nextest is once per test process.
fn words(statement: &str) -> impl Iterator<Item = &str> {
    let bytes = statement.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let (token, next) = next_token(bytes, i);
            let text = &statement[i..next];
            i = next;
            if token != Token::Ws && token != Token::Semi {
                return Some(text.trim_matches(|c| matches!(c, '"' | '`' | '[' | ']')));
            }
        }
        None
    })
}

/// Pragmas a migration may use in any form: they read, or they change the
/// database inside the transaction, or (`foreign_keys`) do nothing inside
/// it, or (`legacy_alter_table`) the migrator sets them back afterwards.
const PRAGMAS_ANY: [&str; 26] = [
    "APPLICATION_ID",
    "COLLATION_LIST",
    "COMPILE_OPTIONS",
    "DATA_VERSION",
    "DATABASE_LIST",
    "DEFER_FOREIGN_KEYS",
    "FOREIGN_KEY_CHECK",
    "FOREIGN_KEY_LIST",
    "FOREIGN_KEYS",
    "FREELIST_COUNT",
    "FUNCTION_LIST",
    "INCREMENTAL_VACUUM",
    "INDEX_INFO",
    "INDEX_LIST",
    "INDEX_XINFO",
    "INTEGRITY_CHECK",
    "LEGACY_ALTER_TABLE",
    "MODULE_LIST",
    "OPTIMIZE",
    "PAGE_COUNT",
    "PRAGMA_LIST",
    "QUICK_CHECK",
    "TABLE_INFO",
    "TABLE_LIST",
    "TABLE_XINFO",
    "USER_VERSION",
];

/// Pragmas a migration may read but not set, and why.
fn pragma_set_reason(name: &str) -> Option<&'static str> {
    const FILE: &str = "it has no effect inside a transaction or once the database has tables; \
                        set it on the connection that creates the database";
    const CONNECTION: &str = "it changes the connection, not the database, and would still be in \
                              effect after the migration; set it where connections are set up \
                              (on_connect)";
    const CORRUPT: &str = "setting it by hand can corrupt the database";
    match name {
        "ENCODING" | "PAGE_SIZE" | "AUTO_VACUUM" => Some(FILE),
        "SCHEMA_VERSION" | "WRITABLE_SCHEMA" => Some(CORRUPT),
        "LOCKING_MODE"
        | "SYNCHRONOUS"
        | "CACHE_SIZE"
        | "TEMP_STORE"
        | "MMAP_SIZE"
        | "BUSY_TIMEOUT"
        | "QUERY_ONLY"
        | "READ_UNCOMMITTED"
        | "RECURSIVE_TRIGGERS"
        | "REVERSE_UNORDERED_SELECTS"
        | "SECURE_DELETE"
        | "CELL_SIZE_CHECK"
        | "AUTOMATIC_INDEX"
        | "CACHE_SPILL"
        | "TRUSTED_SCHEMA"
        | "MAX_PAGE_COUNT"
        | "JOURNAL_SIZE_LIMIT"
        | "WAL_AUTOCHECKPOINT"
        | "THREADS"
        | "SOFT_HEAP_LIMIT"
        | "HARD_HEAP_LIMIT"
        | "ANALYSIS_LIMIT"
        | "IGNORE_CHECK_CONSTRAINTS"
        | "CASE_SENSITIVE_LIKE"
        | "WAL_CHECKPOINT"
        | "SHRINK_MEMORY"
        | "TEMP_STORE_DIRECTORY"
        | "DATA_STORE_DIRECTORY"
        | "CHECKPOINT_FULLFSYNC"
        | "FULLFSYNC"
        | "COUNT_CHANGES"
        | "EMPTY_RESULT_CALLBACKS"
        | "FULL_COLUMN_NAMES"
        | "SHORT_COLUMN_NAMES" => Some(CONNECTION),
        _ => None,
    }
}

/// Why a statement may not appear in a migration, or `None` if it may.
///
/// The migrator runs every pending migration inside one `BEGIN IMMEDIATE`
/// transaction, each in a savepoint of its own, and reports what it applied.
/// Refused: statements that would end that transaction (and so commit half
/// a migration) or cannot run inside one, and statements that reach outside
/// the migration: into the ledgers, other databases, or the connection's
/// settings, which would outlive it.
pub(crate) fn forbidden_reason(statement: &str) -> Option<&'static str> {
    if touches_bookkeeping(statement) {
        return Some(
            "it names a ledger table (_migrate_once_ledger, _sqlx_migrations or \
             __diesel_schema_migrations), which only the migrator writes",
        );
    }
    let mut words = words(statement);
    let first = words.next()?.to_ascii_uppercase();
    let is =
        |word: Option<&str>, keyword: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    match first.as_str() {
        "BEGIN" => Some(
            "migrations run inside the migrator's transaction; a BEGIN of their own would fail",
        ),
        "COMMIT" | "END" => Some(
            "migrations run inside the migrator's transaction; a COMMIT would commit a partial migration",
        ),
        "ROLLBACK" => {
            // `ROLLBACK TO s` and `ROLLBACK TRANSACTION TO s` stay inside.
            let (second, third) = (words.next(), words.next());
            (!is(second, "TO") && !is(third, "TO")).then_some(
                "migrations run inside the migrator's transaction; a ROLLBACK would end it",
            )
        }
        "VACUUM" => Some("VACUUM cannot run inside a transaction"),
        "ATTACH" | "DETACH" => Some(
            "attaching a database changes the connection, not this database, and would outlive \
             the migration",
        ),
        "PRAGMA" => {
            // `PRAGMA name ...` or `PRAGMA schema.name ...`
            let mut name = words.next().unwrap_or_default();
            let mut after = words.next();
            if after == Some(".") {
                name = words.next().unwrap_or_default();
                after = words.next();
            }
            let name = name.to_ascii_uppercase();
            let sets = matches!(after, Some("=" | "("));
            if name == "JOURNAL_MODE" {
                Some(
                    "PRAGMA journal_mode cannot change inside a transaction; set it when opening connections",
                )
            } else if PRAGMAS_ANY.contains(&name.as_str()) {
                None
            } else if let Some(reason) = pragma_set_reason(&name) {
                sets.then_some(reason)
            } else {
                Some("SQLite ignores a pragma it does not know, so it would silently do nothing")
            }
        }
        _ => None,
    }
}

/// Whether an identifier in `statement` names a bookkeeping table. Every
/// such name holds `migrat`: a statement without it (nearly all) is not
/// tokenized again.
fn touches_bookkeeping(statement: &str) -> bool {
    let bytes = statement.as_bytes();
    let has_migrat = bytes.iter().enumerate().any(|(i, &b)| {
        (b | 0x20) == b'm'
            && bytes
                .get(i..i + 6)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"migrat"))
    });
    has_migrat && words(statement).any(crate::bookkeeping::is_bookkeeping)
}

/// 1-based line number of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Where an error in a statement is, as someone reading the file looks for
/// it: the 1-based line and column (in characters) of byte `offset` of the
/// statement that starts at byte `start` of `text`. SQLite's offset is a
/// byte count within the statement it was given; an offset past the end
/// (an incomplete statement) is the end.
pub(crate) fn position_in_file(text: &str, start: usize, offset: usize) -> (usize, usize) {
    let mut at = start.saturating_add(offset).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (line_of(text, at), text[line_start..at].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(sql: &str) -> Vec<&str> {
        split(sql).iter().map(|s| &sql[s.start..s.end]).collect()
    }

    #[test]
    fn splits_on_semicolons_between_statements() {
        assert_eq!(
            statements("CREATE TABLE a(x);\n  INSERT INTO a VALUES (1);"),
            ["CREATE TABLE a(x);", "INSERT INTO a VALUES (1);"]
        );
    }

    #[test]
    fn a_final_statement_without_semicolon_is_kept() {
        assert_eq!(statements("SELECT 1; SELECT 2"), ["SELECT 1;", "SELECT 2"]);
    }

    #[test]
    fn semicolons_in_strings_identifiers_and_comments_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b', \"c;d\", [e;f], `g;h`); -- x;y\n/* z; */ SELECT 1;";
        assert_eq!(
            statements(sql),
            [
                "INSERT INTO t VALUES ('a;b', \"c;d\", [e;f], `g;h`);",
                "SELECT 1;"
            ]
        );
    }

    #[test]
    fn doubled_quotes_inside_strings_do_not_split() {
        assert_eq!(
            statements("INSERT INTO t VALUES ('it''s; fine'); SELECT 2;"),
            ["INSERT INTO t VALUES ('it''s; fine');", "SELECT 2;"]
        );
    }

    #[test]
    fn trigger_bodies_stay_whole() {
        let sql = "CREATE TEMP TRIGGER tr AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  SELECT CASE WHEN 1 THEN 2 END;\nEND;\nSELECT 3;";
        let got = statements(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("CREATE TEMP TRIGGER") && got[0].ends_with("END;"));
        assert_eq!(got[1], "SELECT 3;");
    }

    #[test]
    fn a_comment_opener_that_ends_the_text_is_a_statement_as_sqlite_reads_it() {
        // SQLite's tokenizer reads a final `/*` as `/` and `*` (a syntax
        // error), `sqlite3_complete` as an unterminated comment.
        assert_eq!(statements("SELECT 1;/*"), ["SELECT 1;", "/*"]);
        assert_eq!(statements("SELECT 1;/* x"), ["SELECT 1;"]);
        assert_eq!(statements("SELECT 1 /*"), ["SELECT 1 /*"]);
    }

    #[test]
    fn a_vertical_tab_is_blank_after_whitespace_only_and_a_bom_anywhere_a_token_starts() {
        assert_eq!(
            statements("SELECT 1;\n\x0b;SELECT 2;"),
            ["SELECT 1;", "SELECT 2;"]
        );
        assert_eq!(statements("SELECT 1;\x0b;"), ["SELECT 1;", "\x0b;"]);
        assert_eq!(
            statements("SELECT 1;\u{feff};\u{feff}SELECT 2;"),
            ["SELECT 1;", "SELECT 2;"]
        );
        // Inside a word a BOM is part of it, as any byte above 0x7f.
        assert_eq!(statements("SELECT a\u{feff};"), ["SELECT a\u{feff};"]);
        // After a line comment's newline too (found by a long run).
        assert_eq!(
            statements("SELECT 1;-- c\n\x0b;SELECT 2;"),
            ["SELECT 1;", "SELECT 2;"]
        );
        // Blank, so a trigger whose keywords it separates is one statement.
        let trigger = "CREATE\n\x0bTRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;";
        assert_eq!(statements(trigger), [trigger]);
    }

    #[test]
    fn comments_and_whitespace_alone_are_no_statement() {
        assert!(statements("  -- nothing\n/* at all */\n;;\n").is_empty());
    }

    #[test]
    fn transaction_control_is_forbidden_but_savepoints_are_not() {
        assert!(forbidden_reason("BEGIN;").is_some());
        assert!(forbidden_reason("begin immediate;").is_some());
        assert!(forbidden_reason("COMMIT").is_some());
        assert!(forbidden_reason("END TRANSACTION;").is_some());
        assert!(forbidden_reason("ROLLBACK;").is_some());
        assert!(forbidden_reason("VACUUM;").is_some());
        assert!(forbidden_reason("PRAGMA journal_mode = WAL;").is_some());
        assert!(forbidden_reason("PRAGMA main.journal_mode=WAL;").is_some());
        assert!(forbidden_reason("SAVEPOINT s;").is_none());
        assert!(forbidden_reason("ROLLBACK TO s;").is_none());
        assert!(forbidden_reason("ROLLBACK TRANSACTION TO SAVEPOINT s;").is_none());
        assert!(forbidden_reason("PRAGMA foreign_keys = OFF;").is_none());
        assert!(forbidden_reason("PRAGMA user_version = 7;").is_none());
        assert!(forbidden_reason("PRAGMA main.table_info(t);").is_none());
        assert!(forbidden_reason("PRAGMA page_size;").is_none());
        assert!(forbidden_reason("PRAGMA page_size = 8192;").is_some());
        assert!(forbidden_reason("PRAGMA main.locking_mode = EXCLUSIVE;").is_some());
        assert!(forbidden_reason("PRAGMA cache_size(-2000);").is_some());
        assert!(forbidden_reason("PRAGMA no_such_pragma = 1;").is_some());
        assert!(forbidden_reason("ATTACH 'x.db' AS x;").is_some());
        assert!(forbidden_reason("DELETE FROM \"_MIGRATE_ONCE_LEDGER\";").is_some());
        assert!(forbidden_reason("DROP TABLE main.[_sqlx_migrations];").is_some());
        assert!(forbidden_reason("INSERT INTO notes VALUES ('_migrate_once_ledger');").is_none());
        assert!(forbidden_reason("CREATE TABLE begin_x(a);").is_none());
    }

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }

    #[test]
    fn a_position_in_a_statement_is_a_line_and_column_of_the_file() {
        let text = "-- note\r\nCREATE TABLE a(x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1,;\nEND;";
        let start = text.find("CREATE TRIGGER").unwrap();
        let comma = text.find(",;").unwrap() + 1 - start;
        assert_eq!(position_in_file(text, start, comma), (4, 12));
        assert_eq!(position_in_file(text, start, 0), (3, 1));
        // Past the end (an incomplete statement): the end of the text.
        assert_eq!(position_in_file(text, start, 10_000), (5, 5));
        // Columns count characters, not bytes.
        assert_eq!(position_in_file("SELECT 'é',;", 0, 12), (1, 12));
    }
}
