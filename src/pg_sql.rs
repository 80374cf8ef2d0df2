//! Postgres's lexical rules, as far as the crate needs them: where a
//! statement ends, and its words.
//!
//! The set needs them to load (a Postgres function body holds `BEGIN … END;`
//! inside a dollar-quoted string, which SQLite's rules read as statements
//! of their own and refuse), and the Postgres migrator needs them to refuse
//! what cannot run in its transaction and to name the statement an error
//! position points into. The server itself still splits what it is sent.
//!
//! The split follows psql's (`src/fe_utils/psqlscan.l`): `;` ends a
//! statement outside strings, quoted identifiers, comments (which nest),
//! parentheses and the `BEGIN … END` of a `CREATE [OR REPLACE]
//! {FUNCTION|PROCEDURE} … BEGIN ATOMIC` body. Strings are standard-conforming
//! (`''` escapes a quote), `E'…'` strings take backslash escapes, and
//! `$tag$ … $tag$` quotes anything.

use crate::sql::Span;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    /// Whitespace or a comment.
    Ws,
    Semi,
    /// An unquoted identifier or keyword.
    Word,
    /// A `"quoted"` identifier.
    Quoted,
    /// A string or dollar-quoted literal.
    Str,
    Open,
    Close,
    Other,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// The end of a quoted run starting at `i` (on the opening `quote`), where a
/// doubled quote is an escaped one and, if `backslash`, `\` escapes the
/// next byte. Unterminated: the end of the text.
fn quoted_end(sql: &[u8], i: usize, quote: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < sql.len() {
        match sql[j] {
            b'\\' if backslash => j += 2,
            c if c == quote => {
                if sql.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            }
            _ => j += 1,
        }
    }
    sql.len()
}

/// The dollar-quote tag (`$$`, `$body$`) starting at `i`, if one does.
fn dollar_tag(sql: &[u8], i: usize) -> Option<&[u8]> {
    let rest = &sql[i + 1..];
    if rest.first() == Some(&b'$') {
        return Some(&sql[i..i + 2]);
    }
    if !rest.first().copied().is_some_and(is_ident_start) {
        return None;
    }
    let len = rest
        .iter()
        .take_while(|&&c| is_ident_start(c) || c.is_ascii_digit())
        .count();
    (rest.get(len) == Some(&b'$')).then(|| &sql[i..i + len + 2])
}

fn next_token(sql: &[u8], i: usize) -> (Token, usize) {
    let b = sql[i];
    match b {
        b';' => (Token::Semi, i + 1),
        b'(' => (Token::Open, i + 1),
        b')' => (Token::Close, i + 1),
        b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
            let len = sql[i..]
                .iter()
                .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
                .count();
            (Token::Ws, i + len)
        }
        b'-' if sql.get(i + 1) == Some(&b'-') => {
            let end = sql[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(sql.len(), |p| i + p + 1);
            (Token::Ws, end)
        }
        b'/' if sql.get(i + 1) == Some(&b'*') => {
            // Postgres's block comments nest.
            let (mut depth, mut j) = (1usize, i + 2);
            while j < sql.len() && depth > 0 {
                if sql[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if sql[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            (Token::Ws, j)
        }
        b'\'' => (Token::Str, quoted_end(sql, i, b'\'', false)),
        b'E' | b'e' if sql.get(i + 1) == Some(&b'\'') => {
            (Token::Str, quoted_end(sql, i + 1, b'\'', true))
        }
        b'"' => (Token::Quoted, quoted_end(sql, i, b'"', false)),
        b'$' => match dollar_tag(sql, i) {
            Some(tag) => {
                let body = i + tag.len();
                let end = sql[body..]
                    .windows(tag.len())
                    .position(|w| w == tag)
                    .map_or(sql.len(), |p| body + p + tag.len());
                (Token::Str, end)
            }
            // `$1`, a parameter.
            None => {
                let len = sql[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                (Token::Other, i + 1 + len)
            }
        },
        _ if is_ident_start(b) => {
            let len = sql[i..].iter().take_while(|&&c| is_ident_char(c)).count();
            (Token::Word, i + len)
        }
        _ if b.is_ascii_digit() => {
            let len = sql[i..]
                .iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
                .count();
            (Token::Other, i + len)
        }
        _ => (Token::Other, i + 1),
    }
}

/// Splits `sql` into statements as psql would. Text that is only
/// whitespace and comments yields none; a last statement without `;` is
/// still one.
pub(crate) fn split(sql: &str) -> Vec<Span> {
    let bytes = sql.as_bytes();
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let (mut parens, mut begins) = (0usize, 0usize);
    // psql's heuristic for `CREATE [OR REPLACE] {FUNCTION|PROCEDURE}`: the
    // first letters of the statement's first four words, where they are
    // one of those words.
    let mut first = [0u8; 4];
    let mut words = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let (token, next) = next_token(bytes, i);
        if !matches!(token, Token::Ws | Token::Semi) && start.is_none() {
            start = Some(i);
        }
        match token {
            Token::Open => parens += 1,
            Token::Close => parens = parens.saturating_sub(1),
            Token::Word => {
                let word = &sql[i..next];
                let tracked = ["create", "function", "procedure", "or", "replace"]
                    .iter()
                    .any(|w| word.eq_ignore_ascii_case(w));
                if tracked && words < first.len() {
                    first[words] = bytes[i].to_ascii_lowercase();
                }
                words += 1;
                let routine = first[0] == b'c'
                    && (matches!(first[1], b'f' | b'p')
                        || (first[1] == b'o'
                            && first[2] == b'r'
                            && matches!(first[3], b'f' | b'p')));
                if routine && parens == 0 {
                    // CASE ends with END too: counted once inside a BEGIN.
                    let opens = word.eq_ignore_ascii_case("begin")
                        || (word.eq_ignore_ascii_case("case") && begins > 0);
                    if opens {
                        begins += 1;
                    } else if word.eq_ignore_ascii_case("end") {
                        begins = begins.saturating_sub(1);
                    }
                }
            }
            Token::Semi if parens == 0 && begins == 0 => {
                if let Some(s) = start.take() {
                    spans.push(Span {
                        start: s,
                        end: next,
                    });
                }
                (first, words) = ([0; 4], 0);
            }
            _ => {}
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

/// The words of a statement, unquoted identifiers and keywords as written,
/// `"quoted"` ones without their quotes; strings, comments and punctuation
/// other than parentheses left out (`(` and `)` are words, so a rule can
/// skip an option list).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn words(statement: &str) -> impl Iterator<Item = Word<'_>> {
    let bytes = statement.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let (token, next) = next_token(bytes, i);
            let text = &statement[i..next];
            i = next;
            match token {
                Token::Word => return Some(Word::Plain(text)),
                Token::Quoted => {
                    return Some(Word::Quoted(text.trim_matches('"')));
                }
                Token::Open => return Some(Word::Plain("(")),
                Token::Close => return Some(Word::Plain(")")),
                _ => {}
            }
        }
        None
    })
}

/// A word of a statement.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Word<'a> {
    /// A keyword or unquoted identifier: compared without regard to case.
    Plain(&'a str),
    /// A quoted identifier: compared exactly.
    Quoted(&'a str),
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl Word<'_> {
    /// Whether this is the keyword `k` (never a quoted identifier).
    pub(crate) fn is(&self, k: &str) -> bool {
        matches!(self, Word::Plain(w) if w.eq_ignore_ascii_case(k))
    }
}

/// Whether Postgres's reading of `sql` finds no statement the crate refuses
/// in any migration (by [`crate::sql::forbidden_reason`]'s rules): then a
/// refusal by SQLite's reading is SQLite's alone (a dollar-quoted function
/// body, say), and the set loads.
pub(crate) fn accepts(sql: &str) -> bool {
    split(sql)
        .iter()
        .all(|s| crate::sql::forbidden_reason(&sql[s.start..s.end]).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(sql: &str) -> Vec<&str> {
        split(sql).iter().map(|s| &sql[s.start..s.end]).collect()
    }

    #[test]
    fn dollar_quoted_bodies_stay_whole() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.x := 1; RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\nDO $do$ BEGIN PERFORM 1; END $do$;\nSELECT 3";
        let got = statements(sql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].ends_with("plpgsql;"));
        assert!(got[1].starts_with("DO $do$") && got[1].ends_with("$do$;"));
        assert_eq!(got[2], "SELECT 3");
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; SELECT 2;";
        let got = statements(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], "SELECT 2;");
    }

    #[test]
    fn strings_escapes_comments_and_parentheses_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b', E'c\\';d', \"e;f\"); /* x /* y; */ z; */ CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2); SELECT $1;";
        let got = statements(sql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[1].starts_with("CREATE RULE") && got[1].ends_with("2);"));
        assert_eq!(got[2], "SELECT $1;");
    }

    #[test]
    fn a_function_body_loads_where_sqlite_would_refuse_it() {
        let body =
            "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;";
        assert!(accepts(body));
        assert!(!accepts("BEGIN; CREATE TABLE t(x int); COMMIT;"));
        assert!(!accepts("DELETE FROM _migrate_once_ledger;"));
    }

    #[test]
    fn words_unquote_identifiers_and_skip_literals() {
        let w: Vec<_> = words("CREATE INDEX \"Concurrently\" ON t ('x') -- c\n").collect();
        assert_eq!(
            w,
            [
                Word::Plain("CREATE"),
                Word::Plain("INDEX"),
                Word::Quoted("Concurrently"),
                Word::Plain("ON"),
                Word::Plain("t"),
                Word::Plain("("),
                Word::Plain(")"),
            ]
        );
        assert!(!w[2].is("concurrently"));
    }
}
