//! A command's arguments: positional ones and `--name value` options,
//! parsed by hand (a parser crate would cost the first command's cold build
//! more than it saves here).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::out::{errln, out};
use migrate_once::Migrations;

/// A command line the command does not understand; the message says why.
/// An empty message means `--help` was asked for and printed.
#[derive(Debug)]
pub struct Usage(pub String);

/// One command's arguments, in order.
pub struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

/// Options that take no value.
const FLAGS: [&str; 8] = [
    "--quick",
    "--no-progress",
    "--require-downs",
    "--data",
    "--no-wait",
    "--dry-run",
    "--json",
    "--postgres",
];

impl Args {
    /// Splits `raw` into positional arguments and options; `--help` prints
    /// `help` and stops.
    pub fn parse(raw: &[String], help: &str) -> Result<Args, Usage> {
        let mut args = Args {
            positional: Vec::new(),
            options: Vec::new(),
        };
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                out!("{help}");
                return Err(Usage(String::new()));
            }
            if let Some((name, value)) = a.split_once('=').filter(|_| a.starts_with("--")) {
                args.options
                    .push((name.to_string(), Some(value.to_string())));
            } else if FLAGS.contains(&a.as_str()) {
                args.options.push((a.clone(), None));
            } else if a.starts_with("--") {
                let value = it
                    .next()
                    .ok_or_else(|| Usage(format!("{a} needs a value")))?;
                args.options.push((a.clone(), Some(value.clone())));
            } else if a.starts_with('-') && a.len() > 1 {
                return Err(Usage(format!("unknown option {a}; see --help")));
            } else {
                args.positional.push(a.clone());
            }
        }
        Ok(args)
    }

    /// The migrations directory: positional argument `at`, or `migrations`.
    pub fn dir(&self, at: usize) -> Result<PathBuf, Usage> {
        if self.positional.len() > at + 1 {
            return Err(Usage(format!(
                "unexpected argument `{}`; see --help",
                self.positional[at + 1]
            )));
        }
        Ok(self
            .positional
            .get(at)
            .map_or_else(|| PathBuf::from("migrations"), PathBuf::from))
    }

    /// Whether positional argument `at` was given.
    pub fn has_positional(&self, at: usize) -> bool {
        self.positional.len() > at
    }

    /// Positional argument `at`, which must be there.
    pub fn required(&self, at: usize, what: &str) -> Result<PathBuf, Usage> {
        self.positional
            .get(at)
            .map(PathBuf::from)
            .ok_or_else(|| Usage(format!("missing {what}; see --help")))
    }

    /// Refuses every option but those in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), Usage> {
        match self
            .options
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((n, _)) => Err(Usage(format!("unknown option {n}; see --help"))),
            None => Ok(()),
        }
    }

    /// Refuses every option.
    pub fn no_options(&self) -> Result<(), Usage> {
        self.only(&[])
    }

    /// Whether the flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, v)| n == name && v.is_none())
    }

    /// The value of option `name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The positive number given for `name`, or `default`.
    pub fn number(&self, name: &str, default: usize) -> Result<usize, Usage> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Usage(format!("{name} takes a positive number, not `{v}`"))),
        }
    }

    /// The duration given for `name` (`500ms`, `90s`, `1.5s`, `5m`, `1h`; a
    /// bare number is seconds), or `default`.
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, Usage> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => parse_duration(v).ok_or_else(|| {
                Usage(format!(
                    "{name} takes a duration such as 500ms, 90s or 5m, not `{v}`"
                ))
            }),
        }
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let at = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(at);
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let n: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(n * scale).ok()
}

/// `--database-url URL`, if given. A command built without the `postgres`
/// feature refuses it as a usage error that says how to get one with it,
/// rather than as an unknown option.
pub fn database_url(args: &Args) -> Result<Option<&str>, Usage> {
    let url = args.value("--database-url");
    if url.is_some() && !cfg!(feature = "postgres") {
        return Err(Usage(
            "this migrate-once was built without Postgres: --database-url needs the `postgres` \
             feature (cargo install --locked --path cli --features postgres)"
                .into(),
        ));
    }
    Ok(url)
}

/// The usage error for a command given neither `--database` nor
/// `--database-url`. `DATABASE_URL` is never read in their place (a
/// command meant for a SQLite file must not migrate whatever server the
/// environment happens to name); when it is set, the message says how to
/// use it.
pub fn no_database(what: &str) -> Usage {
    let hint = match std::env::var_os("DATABASE_URL") {
        Some(v) if !v.is_empty() => {
            "; DATABASE_URL is set but not read in their place: give --database-url \
             \"$DATABASE_URL\" to use it"
        }
        _ => "",
    };
    Usage(format!(
        "missing --database PATH (a SQLite file) or --database-url URL (Postgres){what}{hint}; \
         see --help"
    ))
}

/// Loads the migration set in `dir`, saying why it cannot on stderr and
/// giving exit status 1 then.
pub fn load(dir: &std::path::Path) -> Result<Migrations, ExitCode> {
    Migrations::from_dir(dir).map_err(|e| {
        errln!("migrate-once: cannot load {}: {e:?}", dir.display());
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_writes_them() {
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(parse_duration("500ms"), ms(500));
        assert_eq!(parse_duration("90s"), ms(90_000));
        assert_eq!(parse_duration("1.5s"), ms(1500));
        assert_eq!(parse_duration("2"), ms(2000));
        assert_eq!(parse_duration("5m"), ms(300_000));
        assert_eq!(parse_duration("1h"), ms(3_600_000));
        assert_eq!(parse_duration("0"), ms(0));
        for bad in ["", "s", "-1s", "1x", "1 s", "1.2.3s", "ten"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
