//! The normalizer: it never panics, and two texts it keys alike are stored
//! alike by SQLite (`tests/it/differential/oracle.rs`). The second text is
//! the first respelled as the normalizer claims not to matter: ASCII case
//! of words, quoting of names, whitespace and comments, CRLF, or the
//! normalizer's own one-line text of it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/differential/oracle.rs"]
mod oracle;

/// `sql` with `f` applied to each run of text outside quotes and comments.
fn outside_quotes(sql: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while !rest.is_empty() {
        let quoted = ['\'', '"', '`', '['].iter().find(|&&q| rest.starts_with(q));
        let comment = rest.starts_with("--") || rest.starts_with("/*");
        let end = if let Some(&q) = quoted {
            let close = if q == '[' { ']' } else { q };
            rest[1..].find(close).map_or(rest.len(), |p| p + 2)
        } else if comment {
            let close = if rest.starts_with("--") { "\n" } else { "*/" };
            rest[2..]
                .find(close)
                .map_or(rest.len(), |p| p + 2 + close.len())
        } else {
            let next = rest
                .find(['\'', '"', '`', '[', '-', '/'])
                .unwrap_or(rest.len());
            let next = if next == 0 {
                rest.chars().next().map_or(0, char::len_utf8)
            } else {
                next
            };
            out.push_str(&f(&rest[..next]));
            rest = &rest[next..];
            continue;
        };
        out.push_str(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, text)) = data.split_first() else {
        return;
    };
    let Ok(a) = std::str::from_utf8(text) else {
        return;
    };
    if a.contains('\0') || a.len() > 2000 {
        return;
    }
    let _ = migrate_once::__private::normalized(a);
    let b = match how % 6 {
        0 => outside_quotes(a, str::to_ascii_uppercase),
        1 => outside_quotes(a, str::to_ascii_lowercase),
        2 => outside_quotes(a, |s| s.replace(' ', " /* c */\n")),
        3 => a.replace('\n', "\r\n"),
        4 => outside_quotes(a, |s| s.to_string()).replace("\"", "`"),
        _ => migrate_once::__private::normalized(a).0,
    };
    oracle::check_normalized_pair(a, &b).unwrap_or_else(|e| panic!("{e}"));
});
