//! Just enough JSON for `migrate --json`: one object of strings, numbers,
//! booleans, nested objects and arrays, written by hand. serde_json would
//! add serde and its derive to every cold build of the command for one
//! small document; the tests parse what this writes with serde_json (a
//! dev-dependency), so a mistake here fails them.

use std::fmt::Write;

/// A JSON value, already written out.
#[derive(Debug, Clone)]
pub struct Json(String);

impl Json {
    pub fn str(text: &str) -> Json {
        let mut out = String::with_capacity(text.len() + 2);
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
        Json(out)
    }

    pub fn int(n: i64) -> Json {
        Json(n.to_string())
    }

    /// A duration in milliseconds, to the microsecond.
    pub fn ms(d: std::time::Duration) -> Json {
        Json(format!("{:.3}", d.as_secs_f64() * 1e3))
    }

    pub fn bool(b: bool) -> Json {
        Json(b.to_string())
    }

    pub fn array(items: impl IntoIterator<Item = Json>) -> Json {
        let items: Vec<String> = items.into_iter().map(|j| j.0).collect();
        Json(format!("[{}]", items.join(",")))
    }

    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{}:{}", Json::str(k).0, v.0))
            .collect();
        Json(format!("{{{}}}", fields.join(",")))
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_values_nest() {
        let doc = Json::object([
            ("a", Json::str("quote \" back \\ nl \n bell \u{7} é")),
            ("b", Json::array([Json::int(-1), Json::bool(true)])),
            ("c", Json::ms(std::time::Duration::from_micros(1500))),
        ]);
        assert_eq!(
            doc.to_string(),
            r#"{"a":"quote \" back \\ nl \n bell \u0007 é","b":[-1,true],"c":1.500}"#
        );
    }
}
