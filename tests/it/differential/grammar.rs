//! A grammar of hostile SQL: every way text can hide a `;` or end a
//! statement early, in pieces the properties put together.
//!
//! - `soup`: tokens in any order, for the splitter: quoted strings of
//!   every kind (`'…'` with `''`, `x'…'`), identifiers in `"…"`, `[…]` and
//!   `` `…` ``, both comment forms (unterminated ones too, and `/*` as the
//!   last two bytes), `;`, the words the splitter's state machine reads
//!   (`CREATE`, `TEMP`, `TEMPORARY`, `TRIGGER`, `BEGIN`, `END`, `CASE`,
//!   `EXPLAIN`) in any case and next to words one letter longer or shorter,
//!   whole `CREATE [TEMP] TRIGGER … BEGIN … END` bodies, `CASE … END`,
//!   `EXPLAIN [QUERY PLAN]`, CR, lone CR line ends, form feeds, vertical
//!   tabs, NUL, non-ASCII text, and long inputs (a fragment repeated
//!   hundreds of times, literals of tens of kilobytes).
//! - `migration`: statements that mostly run (tables, inserts, updates,
//!   deletes, triggers, views, `EXPLAIN`, savepoints, `user_version`)
//!   with the same hostile lexical pieces inside them, and broken ones.
//! - `schema_pair`: one schema spelled two ways, piece by piece: names in
//!   every quoting and case (ASCII and not), keywords in any case (and
//!   quoted), literals with CR, CRLF or LF, with another case, double-quoted,
//!   whitespace and comments anywhere.
//!
//! - `directory`: directories for the loader (`loading.rs`): migrations in
//!   every layout, editor backups beside them, names without a version,
//!   contents that are not UTF-8 (a lone surrogate as CESU-8 bytes, a cut
//!   character, Latin-1, UTF-16), a NUL, a BOM, CRLF and lone CR.
//!
//! Invalid UTF-8 cannot reach the splitter (it takes `&str`): the loader
//! sees it, in `directory`.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// Text inside a quoted token: `;`, quotes of the other kinds, comment
/// openers, line ends of every kind, non-ASCII.
fn quoted_inner() -> impl Strategy<Value = String> {
    vec(
        select(vec![
            "a", "b", ";", " ", "\"", "'", "`", "[", "]", "--", "/*", "*/", "\r", "\n", "\r\n",
            "é", "END", "END;", "x", "\t", "\u{2028}",
        ]),
        0..6,
    )
    .prop_map(|p| p.concat())
}

/// A string literal, a blob, or a quoted identifier of any kind, each
/// with its own quote doubled inside.
fn quoted() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => quoted_inner().prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        2 => quoted_inner().prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
        1 => quoted_inner().prop_map(|s| format!("[{}]", s.replace(']', ""))),
        1 => quoted_inner().prop_map(|s| format!("`{}`", s.replace('`', "``"))),
        1 => Just("x'00ff'".to_string()),
        1 => Just("X'3B'".to_string()),
    ]
}

/// Words, keywords in any case, and their near misses (`tempo`, `ends`,
/// `triggers`, `temporar`: one letter more or less).
const WORDS: [&str; 48] = [
    "a",
    "b",
    "t",
    "x1",
    "_",
    "$a",
    "é",
    "日本",
    "create",
    "CREATE",
    "Create",
    "temp",
    "TEMP",
    "temporary",
    "TEMPORARY",
    "TeMpOrArY",
    "trigger",
    "TRIGGER",
    "end",
    "END",
    "End",
    "explain",
    "EXPLAIN",
    "begin",
    "BEGIN",
    "case",
    "CASE",
    "when",
    "then",
    "else",
    "select",
    "SELECT",
    "insert",
    "into",
    "values",
    "tempo",
    "tem",
    "ends",
    "en",
    "triggers",
    "trigge",
    "created",
    "creat",
    "explains",
    "explai",
    "temporar",
    "temporarys",
    "query",
];

/// Whitespace and comments: what the splitter reads as nothing.
fn blank() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(" ".to_string()),
        2 => select(vec!["\n", "\t", "\r\n", "\r", "\x0c", "  \n  "]).prop_map(str::to_string),
        1 => quoted_inner().prop_map(|s| format!("-- {}\n", s.replace(['\n', '\r'], " "))),
        1 => quoted_inner().prop_map(|s| format!("/* {} */", s.replace("*/", "* /"))),
        1 => Just("/**/".to_string()),
        1 => Just("/*/;*/".to_string()),
    ]
}

/// One token of the soup.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(WORDS.to_vec()).prop_map(str::to_string),
        6 => quoted(),
        5 => blank(),
        5 => Just(";".to_string()),
        3 => select(vec!["(", ")", ",", "=", "-", "/", "*", "+", ".", "1", "12.5", "0x1f", "?", ":a", "@b", "#", "\x0b", "\u{a0}", "\u{feff}"])
            .prop_map(str::to_string),
        // Unterminated: each runs to the end of the text.
        1 => select(vec!["'a;b", "\"a;b", "[a;b", "`a;b", "-- a;b", "/* a;b", "/*", "'", "\""])
            .prop_map(str::to_string),
    ]
}

/// A statement of a trigger body, ending in `;`.
fn trigger_body_statement() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("SELECT 1;".to_string()),
        quoted().prop_map(|q| format!("SELECT CASE WHEN 1 THEN {q} END;")),
        Just("UPDATE t SET a = CASE a WHEN 1 THEN 'END;' ELSE 2 END;".to_string()),
        vec(atom(), 0..4).prop_map(|a| format!("INSERT INTO t VALUES({});", a.concat())),
    ]
}

/// `CREATE [TEMP|TEMPORARY] TRIGGER … BEGIN …; …; END;`, keywords in any
/// case, whitespace and comments between them.
fn trigger() -> impl Strategy<Value = String> {
    (
        select(vec!["CREATE", "create", "Create"]),
        select(vec![
            "",
            "TEMP ",
            "temp ",
            "TEMPORARY ",
            "temporary ",
            "TeMpOrArY ",
        ]),
        select(vec!["TRIGGER", "trigger"]),
        blank(),
        vec(trigger_body_statement(), 1..4),
        blank(),
        select(vec!["END", "end", "End"]),
        select(vec![";", " ;", "/* c */;", ""]),
    )
        .prop_map(|(c, temp, trig, b1, body, b2, end, semi)| {
            format!(
                "{c} {temp}{trig} IF NOT EXISTS tr AFTER INSERT ON t BEGIN{b1}{}{b2}{end}{semi}",
                body.join(" ")
            )
        })
}

/// Fragments the state machine has states for.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => trigger(),
        1 => quoted().prop_map(|q| format!("SELECT CASE WHEN a THEN {q} ELSE 'END;' END;")),
        1 => select(vec!["EXPLAIN ", "explain QUERY PLAN ", "EXPLAIN\n"]).prop_flat_map(|e| {
            prop_oneof![
                trigger().prop_map(move |t| format!("{e}{t}")),
                Just(format!("{e}SELECT 1;")),
            ]
        }),
    ]
}

/// Long text: a fragment repeated hundreds of times, or a literal of tens
/// of kilobytes.
fn long() -> impl Strategy<Value = String> {
    prop_oneof![
        (fragment(), 100..400usize).prop_map(|(f, n)| f.repeat(n)),
        (quoted_inner(), 1000..5000usize).prop_map(|(s, n)| format!(
            "SELECT '{}';",
            format!("{s};").repeat(n).replace('\'', "''")
        )),
        (1000..5000usize).prop_map(|n| format!("SELECT 1; -- {}", "x;".repeat(n))),
    ]
}

/// Input for the splitter: atoms and fragments in any order, sometimes
/// long, sometimes with a NUL.
pub fn soup() -> impl Strategy<Value = String> {
    let part = prop_oneof![8 => atom(), 2 => fragment(), 1 => Just("\0".to_string())];
    prop_oneof![
        30 => vec(part, 0..40).prop_map(|p| p.concat()),
        1 => long(),
    ]
}

/// A name, in every quoting of it.
fn table() -> impl Strategy<Value = String> {
    select(vec![
        "t",
        "T",
        "\"t\"",
        "[t]",
        "`t`",
        "main.t",
        "\"a;b\"",
        "[a;b]",
        "`a;b`",
        "\"end\"",
        "[temp]",
        "\"trigger\"",
    ])
    .prop_map(str::to_string)
}

/// A literal for a value.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => quoted_inner().prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        2 => select(vec!["1", "-2", "1.5", "NULL", "x'00'", "'a' || ';'", "CASE WHEN 1 THEN 'END' END"]).prop_map(str::to_string),
    ]
}

/// One statement of a migration, without its `;`.
fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => table().prop_map(|t| format!("CREATE TABLE IF NOT EXISTS {t}(a, b)")),
        4 => (table(), literal(), literal()).prop_map(|(t, a, b)| format!("INSERT INTO {t} VALUES ({a}, {b})")),
        2 => (table(), literal(), literal(), literal()).prop_map(|(t, a, b, c)| {
            format!("INSERT INTO {t}(a, b) SELECT {a}, CASE WHEN {b} THEN {c} ELSE 'END;' END")
        }),
        2 => (table(), literal(), literal()).prop_map(|(t, a, b)| format!("UPDATE {t} SET b = {a} WHERE a = {b}")),
        2 => (table(), literal()).prop_map(|(t, a)| format!("DELETE FROM {t} WHERE a = {a}")),
        3 => (
            select(vec!["", "TEMP ", "temporary ", "TEMPORARY "]),
            select(vec!["tr1", "\"tr;2\"", "[end]"]),
            table(),
            vec(
                prop_oneof![
                    literal().prop_map(|l| format!("INSERT INTO log VALUES (new.a, {l});")),
                    literal().prop_map(|l| format!("UPDATE log SET v = CASE WHEN {l} THEN 'END;' END;")),
                    Just("SELECT CASE WHEN new.a THEN 1 END;".to_string()),
                    Just("DELETE FROM log WHERE k = new.b;".to_string()),
                ],
                1..4,
            ),
            blank(),
        )
            .prop_map(|(temp, name, t, body, b)| {
                format!("CREATE {temp}TRIGGER IF NOT EXISTS {name} AFTER INSERT ON {t} BEGIN{b}{}{b}END", body.join(&b))
            }),
        1 => (table(), literal()).prop_map(|(t, l)| {
            format!("CREATE VIEW IF NOT EXISTS v AS SELECT a, CASE WHEN a THEN {l} END AS c FROM {t}")
        }),
        2 => (select(vec!["EXPLAIN ", "EXPLAIN QUERY PLAN ", "explain "]), table(), literal())
            .prop_map(|(e, t, l)| format!("{e}SELECT * FROM {t} WHERE a = {l}")),
        1 => (table(), literal()).prop_map(|(t, l)| format!("EXPLAIN INSERT INTO {t} VALUES ({l}, 1)")),
        1 => (literal(), literal()).prop_map(|(a, b)| format!("SELECT {a}, CASE {b} WHEN 1 THEN 2 END")),
        1 => (0..100i32).prop_map(|n| format!("PRAGMA user_version = {n}")),
        1 => select(vec!["SAVEPOINT s1", "RELEASE s1", "ROLLBACK TO s1"]).prop_map(str::to_string),
        1 => (table(), literal()).prop_map(|(t, l)| format!("ALTER TABLE {t} ADD COLUMN c DEFAULT {l}")),
        1 => vec(atom(), 1..6).prop_map(|a| a.concat()),
    ]
}

/// What ends a statement and comes before the next: `;`, then blanks.
fn separator() -> impl Strategy<Value = String> {
    (select(vec![";", ";", ";", ";;", " ;"]), vec(blank(), 0..3))
        .prop_map(|(s, b)| format!("{s}{}", b.concat()))
}

/// A migration: usually the tables it uses first, then statements, with
/// what may follow the last one (nothing, a `;`, a comment, an
/// unterminated one, a lone `/*`).
pub fn migration() -> impl Strategy<Value = String> {
    (
        prop_oneof![3 => Just("CREATE TABLE log(k, v); CREATE TABLE t(a, b);\n"), 1 => Just("")],
        vec((statement(), separator()), 1..7),
        select(vec![
            "",
            ";",
            "\n",
            "-- end",
            "/* end */",
            "/* end",
            "/*",
            ";/*",
            "; --",
            "\r",
        ]),
        prop_oneof![20 => Just(None), 1 => (0..200usize).prop_map(Some)],
    )
        .prop_map(|(prelude, statements, tail, nul)| {
            let mut sql = prelude.to_string();
            for (s, sep) in statements {
                sql.push_str(&s);
                sql.push_str(&sep);
            }
            // The last separator stands for the text's end.
            sql.push_str(tail);
            if let Some(at) = nul {
                let mut at = at.min(sql.len());
                while !sql.is_char_boundary(at) {
                    at -= 1;
                }
                sql.insert(at, '\0');
            }
            sql
        })
}

/// One piece of a schema and its spellings: every alternative is the same
/// token to a reader who folds case and quoting, which the normalizer is
/// claimed to be; SQLite decides whether it is.
type Piece = Vec<String>;

fn one(s: &str) -> Piece {
    vec![s.to_string()]
}

/// A name: bare, in each quoting, in other ASCII case, and (for a
/// non-ASCII name) in other Unicode case.
fn name_piece() -> impl Strategy<Value = Piece> {
    select(vec!["a", "b", "Col", "é", "ß", "key", "end", "sel ect"]).prop_map(|n| {
        let upper = n.to_uppercase();
        let mut p = vec![
            format!("\"{n}\""),
            format!("[{n}]"),
            format!("`{n}`"),
            format!("\"{upper}\""),
        ];
        if !n.contains(' ') && n != "end" {
            p.push(n.to_string());
            p.push(upper);
        }
        p
    })
}

/// A keyword in three cases, and now and then quoted.
fn keyword(k: &str) -> Piece {
    vec![
        k.to_string(),
        k.to_ascii_lowercase(),
        format!("{}{}", &k[..1], k[1..].to_ascii_lowercase()),
        k.to_string(),
        format!("\"{k}\""),
    ]
}

/// Blanks between two tokens that need one, or may have none.
fn gap(required: bool) -> Piece {
    let mut p: Piece = [" ", "\n", "  ", "\t", " /* ; */ ", " -- c;\n", "\r\n"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !required {
        p.push(String::new());
    }
    p
}

/// A literal and its spellings that differ in bytes: the normalizer must
/// tell these apart, all but CRLF and LF.
fn literal_piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        Just(vec!["'a\r\nb'".into(), "'a\nb'".into(), "'a\rb'".into()]),
        Just(vec!["'x'".into(), "'X'".into()]),
        Just(vec!["'é'".into(), "'É'".into()]),
        Just(vec!["\"x\"".into(), "\"X\"".into(), "'x'".into()]),
        Just(vec!["1".into(), "01".into(), "1.0".into(), "+1".into()]),
        Just(vec!["x'0a'".into(), "X'0A'".into()]),
        Just(vec!["NULL".into(), "null".into()]),
    ]
}

/// A column definition's pieces.
fn column() -> impl Strategy<Value = Vec<Piece>> {
    (
        name_piece(),
        select(vec![
            vec![],
            // SQLite takes a type whose first word is quoted as that word
            // alone (`[TEXT] INT` is TEXT, `TEXT INT` INTEGER).
            vec!["INT", "int", "\"INT\"", "[INT]"],
            vec!["TEXT INT", "text int", "[TEXT] INT", "\"TEXT\" INT"],
            vec!["TEXT", "text", "Text"],
            vec!["VARCHAR(10)", "varchar ( 10 )", "VarChar(10)"],
            vec!["REAL", "real"],
            vec!["NUMERIC", "numeric"],
        ]),
        vec(
            prop_oneof![
                Just(vec![keyword("NOT"), gap(true), keyword("NULL")]),
                literal_piece().prop_map(|l| vec![keyword("DEFAULT"), gap(true), l]),
                Just(vec![
                    keyword("DEFAULT"),
                    gap(true),
                    vec!["abc".into(), "ABC".into(), "\"abc\"".into()]
                ]),
                Just(vec![
                    keyword("DEFAULT"),
                    gap(false),
                    one("("),
                    one("1"),
                    gap(false),
                    one("+"),
                    gap(false),
                    one("2"),
                    one(")")
                ]),
                (name_piece(), literal_piece()).prop_map(|(n, l)| vec![
                    keyword("CHECK"),
                    gap(false),
                    one("("),
                    n,
                    gap(false),
                    vec!["<>".into(), "!=".into()],
                    gap(false),
                    l,
                    one(")")
                ]),
                Just(vec![
                    keyword("COLLATE"),
                    gap(true),
                    vec![
                        "NOCASE".into(),
                        "nocase".into(),
                        "\"NOCASE\"".into(),
                        "RTRIM".into()
                    ]
                ]),
                Just(vec![keyword("UNIQUE")]),
                Just(vec![
                    keyword("REFERENCES"),
                    gap(true),
                    vec!["other".into(), "OTHER".into(), "\"other\"".into()],
                    gap(false),
                    one("("),
                    one("x"),
                    one(")")
                ]),
            ],
            0..3,
        ),
    )
        .prop_map(|(name, ty, constraints)| {
            let mut pieces = vec![name];
            if !ty.is_empty() {
                pieces.push(gap(true));
                pieces.push(ty.iter().map(|s| s.to_string()).collect());
            }
            for c in constraints {
                pieces.push(gap(true));
                pieces.extend(c);
            }
            pieces
        })
}

/// A CREATE statement as pieces.
fn schema() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        3 => (name_piece(), vec(column(), 1..4)).prop_map(|(name, columns)| {
            let mut p = vec![keyword("CREATE"), gap(true), keyword("TABLE"), gap(true), name, gap(false), one("(")];
            for (i, c) in columns.into_iter().enumerate() {
                if i > 0 {
                    p.push(one(","));
                    p.push(gap(false));
                }
                p.extend(c);
            }
            p.push(one(")"));
            p
        }),
        1 => (
            select(vec!["a", "b", "c"]),
            prop::option::of(literal_piece()),
            any::<bool>(),
        )
            .prop_map(|(col, filter, unique)| {
                let mut p = vec![keyword("CREATE"), gap(true)];
                if unique {
                    p.extend([keyword("UNIQUE"), gap(true)]);
                }
                p.extend([
                    keyword("INDEX"), gap(true), vec!["ix".into(), "IX".into(), "\"ix\"".into()], gap(true),
                    keyword("ON"), gap(true), one("base"), gap(false), one("("),
                    vec![col.to_string(), col.to_uppercase(), format!("\"{col}\"")],
                    gap(true), vec!["".into(), "COLLATE NOCASE".into(), "collate nocase".into(), "DESC".into(), "desc".into()],
                    one(")"),
                ]);
                if let Some(l) = filter {
                    p.extend([gap(true), keyword("WHERE"), gap(true), one("a"), gap(false), one("="), gap(false), l]);
                }
                p
            }),
        1 => (literal_piece(), name_piece()).prop_map(|(l, alias)| vec![
            keyword("CREATE"), gap(true), keyword("VIEW"), gap(true), one("v"), gap(true), keyword("AS"), gap(true),
            keyword("SELECT"), gap(true), one("a"), one(","), gap(false), l, gap(true), keyword("AS"), gap(true), alias,
            gap(true), keyword("FROM"), gap(true), vec!["base".into(), "BASE".into(), "\"base\"".into(), "[Base]".into()],
        ]),
        1 => literal_piece().prop_map(|l| vec![
            keyword("CREATE"), gap(true), keyword("TRIGGER"), gap(true), one("tr"), gap(true), keyword("AFTER"), gap(true),
            keyword("INSERT"), gap(true), keyword("ON"), gap(true), one("base"), gap(true), keyword("BEGIN"), gap(true),
            keyword("INSERT"), gap(true), keyword("INTO"), gap(true), one("other"), gap(true), keyword("VALUES"), gap(false),
            one("("), one("new.a"), one(","), gap(false), l, one(")"), one(";"), gap(true), keyword("END"),
        ]),
    ]
}

/// One schema spelled two ways: for each piece, two of its spellings.
pub fn schema_pair() -> impl Strategy<Value = (String, String)> {
    schema()
        .prop_flat_map(|pieces| {
            let n = pieces.len();
            (
                Just(pieces),
                vec((any::<u8>(), any::<u8>(), any::<u8>()), n),
            )
        })
        .prop_map(|(pieces, picks)| {
            let (mut a, mut b) = (String::new(), String::new());
            for (piece, (i, j, same)) in pieces.iter().zip(picks) {
                let i = usize::from(i) % piece.len();
                // Mostly the same spelling (7 in 8), so that a pair differs in
                // a few pieces and the normalizer often finds it equal.
                let j = if same < 224 {
                    i
                } else {
                    usize::from(j) % piece.len()
                };
                a.push_str(&piece[i]);
                b.push_str(&piece[j]);
            }
            (a, b)
        })
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
fn spec() -> impl Strategy<Value = super::loading::Spec> {
    prop_oneof![
        5 => (file_name(), contents()).prop_map(|(n, c)| super::loading::Spec::File(n, c)),
        2 => (
            select(vec!["0003_c", "0002_b", "0001_a", "2024-01-01-120000_d", "notes", ".git", "0003_c.sql", "0004_d.sql~"]),
            vec((select(vec!["up.sql", "down.sql", "README.md", "UP.sql"]), contents()), 0..3),
        )
            .prop_map(|(n, files)| super::loading::Spec::Dir(n.to_string(), files.into_iter().map(|(f, c)| (f.to_string(), c)).collect())),
    ]
}

/// A directory: its entries, unique by name.
pub fn directory() -> impl Strategy<Value = Vec<super::loading::Spec>> {
    vec(spec(), 0..5).prop_map(|specs| {
        let mut seen = std::collections::BTreeSet::new();
        specs
            .into_iter()
            .filter(|s| seen.insert(super::loading::name_of(s).to_string()))
            .map(|s| match s {
                super::loading::Spec::Dir(n, files) => {
                    let mut seen = std::collections::BTreeSet::new();
                    super::loading::Spec::Dir(
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
