//! SQL text in a canonical form, so that two definitions of one object
//! compare equal however they were written, and a schema dump reads the
//! same on every machine.
//!
//! What SQLite keeps in `sqlite_master` is the statement as it was written,
//! edited in place by `ALTER TABLE`: an added column is appended after the
//! last one, a renamed table is written `"products"` with quotes, a dropped
//! column leaves the whitespace around it. The same schema reached by other
//! migrations, another SQLite version or a checkout with CRLF line endings
//! has other text. So the text is read as tokens, and written back with:
//!
//! - comments dropped and one space (or none) between tokens, by fixed rules;
//! - an identifier written bare when it can be (`"products"`, `[products]`
//!   and `` `products` `` are all `products`), in double quotes otherwise;
//! - CRLF inside string literals read as LF (a lone CR is kept).
//!
//! Case is kept as written for display; the comparison key folds the ASCII
//! case of keywords and identifiers, as SQLite itself does (and no other
//! case: `"é"` and `"É"` are two names), but not of a word after `DEFAULT`,
//! which SQLite reads as a string. One difference is not seen: SQLite's
//! double-quoted string literals (a `"…"` name that no column has is a
//! string), whose case the key folds as a name's (`"Users"` and `users`
//! are one table, which is worth more). The rules are the crate's own and fixed (a keyword list
//! included), not SQLite's, so no SQLite version changes the output.

/// What a token is, as far as spacing and comparing go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare word: a keyword or an identifier.
    Word,
    /// A quoted identifier; the token's text is its unquoted content.
    Quoted,
    /// A string or blob literal, as written (line endings normalized).
    Literal,
    /// A number.
    Number,
    /// A bound parameter (`?1`, `:name`): rare in a schema, kept as written.
    Param,
    /// An operator or punctuation: `(`, `)`, `,`, `;`, `.`, `||`, `<=`, ...
    Punct,
}

/// One token of normalized SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub text: String,
}

impl Token {
    pub fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    /// Whether this is the bare word `word`, in any case.
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(word)
    }
}

/// SQLite's keywords (<https://sqlite.org/lang_keywords.html>), fixed here
/// so that the output does not depend on which SQLite reads it.
const KEYWORDS: [&str; 147] = [
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GENERATED",
    "GLOB",
    "GROUP",
    "GROUPS",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "MATERIALIZED",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OTHERS",
    "OUTER",
    "OVER",
    "PARTITION",
    "PLAN",
    "PRAGMA",
    "PRECEDING",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RANGE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TIES",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNBOUNDED",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

/// Keywords that are also called like functions (`replace(x, 'a', 'b')`,
/// `RAISE(ABORT, '...')`): no space before their `(`.
const CALLED: [&str; 7] = [
    "CAST", "GLOB", "LIKE", "MATCH", "RAISE", "REGEXP", "REPLACE",
];

pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// Whether `name` can be written without quotes: identifier characters
/// only, not starting with a digit or `$`, and no keyword.
fn is_bare(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| is_id_char(c) && !c.is_ascii_digit() && c != '$')
        && chars.all(is_id_char)
        && !is_keyword(name)
}

/// CRLF as LF: what a checkout with `core.autocrlf` changed. A lone CR is
/// a byte of the literal, kept: `'a\rb'` and `'a\nb'` are other data.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// The end (exclusive) of a quoted run starting at `start` (the opening
/// quote), where a doubled `close` stands for one; the end of the text if
/// it is unterminated.
fn quoted_end(s: &str, start: usize, close: char, doubles: bool) -> usize {
    let mut i = start + 1;
    while let Some(off) = s[i..].find(close) {
        let at = i + off;
        if doubles && s[at + 1..].starts_with(close) {
            i = at + 2;
            continue;
        }
        return at + 1;
    }
    s.len()
}

/// Where the content of a quoted run from `start` to `end` ends: before
/// its closing `close`, or at `end` if it has none (unterminated; the last
/// character may then be any, `é` included).
fn inner_end(s: &str, start: usize, end: usize, close: char) -> usize {
    if end > start + 1 && s[..end].ends_with(close) {
        end - close.len_utf8()
    } else {
        end
    }
}

const OPERATORS: [&str; 11] = [
    "->>", "->", "||", "<=", ">=", "<>", "!=", "==", "<<", ">>", "~",
];

/// The tokens of `sql`, without whitespace and comments.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    lex(sql).into_iter().map(|(t, _, _)| t).collect()
}

/// A token, the opening quote of a quoted name (`"`, `` ` `` or `[`; a
/// space for every other token) and where the token is in the text.
type Lexed = (Token, char, std::ops::Range<usize>);

/// The tokens of `sql` (see [`Lexed`]).
fn lex(sql: &str) -> Vec<Lexed> {
    let mut out = Vec::new();
    let b = sql.as_bytes();
    let mut i = 0;
    // Its place in the text is set below, once pushed.
    let push = |out: &mut Vec<Lexed>, kind, text: String, quote: char| {
        out.push((Token { kind, text }, quote, 0..0));
    };
    while i < sql.len() {
        let (start, before) = (i, out.len());
        let c = sql[i..].chars().next().expect("i is on a char boundary");
        let rest = &sql[i..];
        if c.is_whitespace() {
            i += c.len_utf8();
        } else if rest.starts_with("--") {
            i = rest.find('\n').map_or(sql.len(), |p| i + p + 1);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            i = comment.find("*/").map_or(sql.len(), |p| i + 2 + p + 2);
        } else if c == '\'' {
            let end = quoted_end(sql, i, '\'', true);
            push(&mut out, Kind::Literal, lf(&sql[i..end]), ' ');
            i = end;
        } else if (c == 'x' || c == 'X') && b.get(i + 1) == Some(&b'\'') {
            let end = quoted_end(sql, i + 1, '\'', true);
            push(&mut out, Kind::Literal, sql[i..end].to_string(), ' ');
            i = end;
        } else if c == '"' || c == '`' {
            let end = quoted_end(sql, i, c, true);
            let inner = &sql[i + 1..inner_end(sql, i, end, c)];
            let doubled: String = [c, c].iter().collect();
            push(
                &mut out,
                Kind::Quoted,
                inner.replace(&doubled, &c.to_string()),
                c,
            );
            i = end;
        } else if c == '[' {
            let end = rest.find(']').map_or(sql.len(), |p| i + p + 1);
            push(
                &mut out,
                Kind::Quoted,
                sql[i + 1..inner_end(sql, i, end, ']')].to_string(),
                '[',
            );
            i = end;
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let mut j = i;
            let hex = rest.len() > 2 && (rest.starts_with("0x") || rest.starts_with("0X"));
            if hex {
                j += 2;
                while b.get(j).is_some_and(u8::is_ascii_hexdigit) {
                    j += 1;
                }
            } else {
                while b
                    .get(j)
                    .is_some_and(|d| d.is_ascii_digit() || *d == b'.' || *d == b'_')
                {
                    j += 1;
                }
                if b.get(j).is_some_and(|e| *e == b'e' || *e == b'E') {
                    let sign = usize::from(b.get(j + 1).is_some_and(|s| *s == b'+' || *s == b'-'));
                    if b.get(j + 1 + sign).is_some_and(u8::is_ascii_digit) {
                        j += 1 + sign;
                        while b.get(j).is_some_and(u8::is_ascii_digit) {
                            j += 1;
                        }
                    }
                }
            }
            push(&mut out, Kind::Number, sql[i..j].to_string(), ' ');
            i = j;
        } else if matches!(c, '?' | ':' | '@' | '$') {
            let len = rest[1..]
                .find(|ch: char| !is_id_char(ch))
                .unwrap_or(rest.len() - 1);
            push(&mut out, Kind::Param, rest[..1 + len].to_string(), ' ');
            i += 1 + len;
        } else if is_id_char(c) {
            let len = rest.find(|ch: char| !is_id_char(ch)).unwrap_or(rest.len());
            push(&mut out, Kind::Word, rest[..len].to_string(), ' ');
            i += len;
        } else {
            let op = OPERATORS
                .iter()
                .find(|op| rest.starts_with(**op))
                .map_or_else(|| c.to_string(), |op| (*op).to_string());
            i += op.len();
            push(&mut out, Kind::Punct, op, ' ');
        }
        if out.len() > before
            && let Some(last) = out.last_mut()
        {
            last.2 = start..i;
        }
    }
    out
}

/// How a token is written: a quoted identifier bare when it can be.
fn write_token(t: &Token, out: &mut String) {
    match t.kind {
        Kind::Quoted if is_bare(&t.text) => out.push_str(&t.text),
        Kind::Quoted => {
            out.push('"');
            out.push_str(&t.text.replace('"', "\"\""));
            out.push('"');
        }
        _ => out.push_str(&t.text),
    }
}

/// Whether a token ends an operand, so that a `-` or `+` after it is binary.
fn ends_operand(t: &Token) -> bool {
    match t.kind {
        Kind::Word => !is_keyword(&t.text),
        Kind::Quoted | Kind::Literal | Kind::Number | Kind::Param => true,
        Kind::Punct => t.text == ")",
    }
}

/// Whether a space goes between `prev` and `next`; `unary` says `prev` is a
/// sign rather than a binary operator.
fn space_between(prev: &Token, next: &Token, unary: bool) -> bool {
    if unary || prev.is("(") || prev.is(".") {
        return false;
    }
    if next.is(",") || next.is(")") || next.is(";") || next.is(".") {
        return false;
    }
    if next.is("(") {
        return match prev.kind {
            Kind::Quoted => false,
            Kind::Word => is_keyword(&prev.text) && !CALLED.iter().any(|k| prev.is_word(k)),
            _ => true,
        };
    }
    true
}

/// `tokens` written on one line by the spacing rules.
pub(crate) fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut unary = false;
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && space_between(&tokens[i - 1], t, unary) {
            out.push(' ');
        }
        write_token(t, &mut out);
        unary = (t.is("-") || t.is("+")) && (i == 0 || !ends_operand(&tokens[i - 1]));
    }
    out
}

/// The key two texts are compared by: tokens with the ASCII case of
/// keywords and identifiers folded, string literals as they are.
///
/// Only ASCII case is folded, as SQLite folds it: `"é"` and `"É"` name two
/// columns. A quoted identifier is written as [`render`] writes it, so that
/// a keyword in quotes (`"NOT"`, a name) never equals the keyword itself.
/// A word after `DEFAULT` keeps its case: SQLite reads `DEFAULT abc` (and
/// `DEFAULT "abc"`) as the string `'abc'` (`true` and `false` excepted,
/// which are 1 and 0).
fn key(sql: &str, lexed: &[Lexed]) -> String {
    let mut out = String::new();
    let tokens: Vec<&Token> = lexed.iter().map(|(t, _, _)| t).collect();
    let name_like =
        |t: &Token| t.kind == Kind::Quoted || (t.kind == Kind::Word && !is_keyword(&t.text));
    let mut i = 0;
    while i < lexed.len() {
        let (t, _, span) = &lexed[i];
        if i > 0 {
            out.push(' ');
        }
        let a_string = i > 0
            && tokens[i - 1].is_word("DEFAULT")
            && (t.kind == Kind::Quoted
                || (t.kind == Kind::Word
                    && !is_keyword(&t.text)
                    && !t.text.eq_ignore_ascii_case("true")
                    && !t.text.eq_ignore_ascii_case("false")));
        // Between two names, a quoted name starts a column's type (a column
        // may be named by a keyword: `key [TEXT] INT`). SQLite then stores
        // the type as the text from that quote to the type's last token,
        // comments and spacing included, less its first and last character
        // (`b [TEXT] /* c */ INT` is `TEXT] /* c */ IN`), and reads its
        // affinity from that: so the type is keyed as written, its ASCII
        // case folded and CRLF read as LF, as everywhere.
        let starts_a_type = i > 0
            && matches!(tokens[i - 1].kind, Kind::Word | Kind::Quoted)
            && tokens.get(i + 1).is_some_and(|t| name_like(t));
        match t.kind {
            Kind::Word if a_string => out.push_str(&t.text),
            Kind::Word => out.push_str(&t.text.to_ascii_lowercase()),
            Kind::Quoted if starts_a_type => {
                // The type's names, then `(n)` or `(n, m)` if it has them.
                let mut last = i + 1;
                while tokens.get(last + 1).is_some_and(|t| name_like(t)) {
                    last += 1;
                }
                if tokens.get(last + 1).is_some_and(|t| t.is("("))
                    && let Some(close) = tokens[last + 1..].iter().position(|t| t.is(")"))
                {
                    last += 1 + close;
                }
                let end = lexed[last].2.end;
                out.push_str(&lf(&sql[span.start..end]).to_ascii_lowercase());
                i = last + 1;
                continue;
            }
            Kind::Quoted => {
                let mut quoted = String::new();
                write_token(t, &mut quoted);
                if a_string {
                    out.push_str(&quoted);
                } else {
                    out.push_str(&quoted.to_ascii_lowercase());
                }
            }
            _ => out.push_str(&t.text),
        }
        i += 1;
    }
    out
}

/// SQL text with its display form and its comparison key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sql {
    /// One line, by the spacing rules.
    pub text: String,
    /// What two texts are compared by.
    pub key: String,
}

impl Sql {
    pub fn new(sql: &str) -> Sql {
        let lexed = lex(sql);
        let t: Vec<Token> = lexed.iter().map(|(t, _, _)| t.clone()).collect();
        Sql {
            text: render(&t),
            key: key(sql, &lexed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(sql: &str) -> String {
        render(&tokens(sql))
    }

    #[test]
    fn whitespace_comments_and_quoting_do_not_count() {
        let a = "CREATE TABLE \"products\" (\r\n  id INTEGER PRIMARY KEY, -- the id\n  [sku] TEXT /* code */ NOT NULL)";
        let b = "CREATE TABLE products(id INTEGER PRIMARY KEY,`sku` TEXT NOT NULL)";
        assert_eq!(norm(a), norm(b));
        assert_eq!(
            norm(b),
            "CREATE TABLE products(id INTEGER PRIMARY KEY, sku TEXT NOT NULL)"
        );
        assert_eq!(Sql::new(a).key, Sql::new(&b.to_lowercase()).key);
    }

    #[test]
    fn keywords_and_odd_names_stay_quoted_and_literals_stay_as_written() {
        assert_eq!(
            norm(
                "CREATE TABLE \"order\" (\"the id\" INT, \"a\"\"b\" TEXT DEFAULT 'it''s; -- fine')"
            ),
            "CREATE TABLE \"order\"(\"the id\" INT, \"a\"\"b\" TEXT DEFAULT 'it''s; -- fine')"
        );
        assert_eq!(norm("SELECT 'a\r\nb'"), norm("SELECT 'a\nb'"));
        assert_ne!(Sql::new("SELECT 'A'").key, Sql::new("SELECT 'a'").key);
    }

    fn same_key(a: &str, b: &str) -> bool {
        Sql::new(a).key == Sql::new(b).key
    }

    #[test]
    fn a_lone_cr_in_a_literal_is_data_and_only_crlf_reads_as_lf() {
        assert!(same_key("SELECT 'a\r\nb'", "SELECT 'a\nb'"));
        assert!(!same_key("SELECT 'a\rb'", "SELECT 'a\nb'"));
        assert!(!same_key("SELECT 'a\rb'", "SELECT 'a\r\nb'"));
    }

    #[test]
    fn only_ascii_case_is_folded_as_sqlite_folds_it() {
        assert!(same_key("CREATE TABLE T(Col)", "create table t(col)"));
        assert!(!same_key("CREATE TABLE t(\"É\")", "CREATE TABLE t(\"é\")"));
        assert!(!same_key("CREATE TABLE t(É)", "CREATE TABLE t(é)"));
    }

    #[test]
    fn a_keyword_in_quotes_is_a_name_not_the_keyword() {
        assert!(!same_key(
            "CREATE TABLE t(x NOT NULL)",
            "CREATE TABLE t(x \"NOT\" NULL)"
        ));
        assert!(same_key("CREATE TABLE t([x] INT)", "CREATE TABLE t(x INT)"));
    }

    #[test]
    fn a_quoted_first_word_of_a_longer_type_is_not_the_bare_word() {
        // SQLite takes `[TEXT] INT` as the type TEXT, `TEXT INT` as INTEGER.
        assert!(!same_key(
            "CREATE TABLE t(b [TEXT] INT)",
            "CREATE TABLE t(b TEXT INT)"
        ));
        assert!(same_key(
            "CREATE TABLE t(b [TEXT] INT)",
            "CREATE TABLE t(B [text] int)"
        ));
        assert!(!same_key(
            "CREATE TABLE t(b [TEXT] INT)",
            "CREATE TABLE t(b \"TEXT\" INT)"
        ));
        // A quoted name elsewhere is the name.
        assert!(same_key(
            "CREATE TABLE t([b] TEXT)",
            "CREATE TABLE t(b TEXT)"
        ));
        assert!(same_key(
            "CREATE TABLE t(b [TEXT])",
            "CREATE TABLE t(b TEXT)"
        ));
    }

    #[test]
    fn a_type_that_starts_with_a_quote_is_keyed_as_written_to_its_last_token() {
        // SQLite stores `TEXT] /* INT */ IN`: comments and spacing count, and
        // this comment makes the affinity INTEGER.
        assert!(!same_key(
            "CREATE TABLE t(b [x] REA)",
            "CREATE TABLE t(b [x] /* INT */ REA)"
        ));
        assert!(!same_key(
            "CREATE TABLE t(b [s] REA)",
            "CREATE TABLE t(b [s]  REA)"
        ));
        assert!(same_key(
            "CREATE TABLE t(b [x] REAL(10, 2) NOT NULL)",
            "CREATE TABLE t(B [X] real(10, 2) /* c */ not null)"
        ));
        assert!(!same_key(
            "CREATE TABLE t(b [x] REAL(10, 2))",
            "CREATE TABLE t(b [x] REAL(10,2))"
        ));
        // CRLF reads as LF, as everywhere.
        assert!(same_key(
            "CREATE TABLE t(b [x]\r\nREAL)",
            "CREATE TABLE t(b [x]\nREAL)"
        ));
    }

    #[test]
    fn a_word_after_default_is_a_string_and_keeps_its_case() {
        assert!(!same_key("a DEFAULT abc", "a DEFAULT ABC"));
        assert!(!same_key("a DEFAULT \"NULL\"", "a DEFAULT NULL"));
        assert!(same_key("a DEFAULT abc", "a default \"abc\""));
        assert!(same_key("a DEFAULT TRUE", "a default true"));
    }

    #[test]
    fn an_unterminated_quote_ending_in_a_multibyte_character_is_read_to_the_end() {
        // Found by the `normalize` fuzz target: a panic slicing inside `é`.
        for sql in ["x \"é", "x [é", "x `é", "x \"ab", "x \""] {
            let t = tokens(sql);
            assert_eq!(t.last().unwrap().kind, Kind::Quoted, "{sql}");
            assert_eq!(t.last().unwrap().text, sql[3..], "{sql}");
        }
        Sql::new("ABLE e(\"é\" CREATE TAB\"é");
    }

    #[test]
    fn spacing_follows_fixed_rules() {
        assert_eq!(
            norm("x INTEGER NOT NULL DEFAULT(strftime ( '%s' ,'now' )) CHECK(x IN(0,1) AND x>=-1)"),
            "x INTEGER NOT NULL DEFAULT (strftime('%s', 'now')) CHECK (x IN (0, 1) AND x >= -1)"
        );
        assert_eq!(
            norm("SELECT count( * ), p.*, a-1, - 2, replace(a,'x','y') FROM t"),
            "SELECT count(*), p.*, a - 1, -2, replace(a, 'x', 'y') FROM t"
        );
        assert_eq!(norm("x'00ff' || 1.5e-3"), "x'00ff' || 1.5e-3");
    }
}
