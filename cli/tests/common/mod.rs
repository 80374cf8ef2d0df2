//! What the tests of the built command share: running it, reading the
//! exit statuses from `migrate --help`, releasing many processes at once.
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_migrate-once"))
}

/// What one run of the command did.
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
    pub took: Duration,
}

impl Run {
    pub fn of(output: Output, took: Duration) -> Run {
        Run {
            code: output.status.code().expect("an exit code, not a signal"),
            out: String::from_utf8_lossy(&output.stdout).into_owned(),
            err: String::from_utf8_lossy(&output.stderr).into_owned(),
            took,
        }
    }

    /// stdout as the one JSON document `--json` prints.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.took, self.out, self.err
        )
    }
}

/// `migrate-once ARGS...`.
pub fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let output = bin().args(args).output().expect("run migrate-once");
    Run::of(output, started.elapsed())
}

/// The exit statuses `migrate --help` documents, by name.
pub fn statuses() -> &'static Vec<(String, i32)> {
    static TABLE: OnceLock<Vec<(String, i32)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let help = run(&["migrate", "--help"]);
        assert_eq!(help.code, 0, "{help:?}");
        help_table(&help.out)
    })
}

/// The rows of the "Exit status:" table of a help text: `  N  name  meaning`,
/// meanings wrapped onto indented lines.
pub fn help_table(help: &str) -> Vec<(String, i32)> {
    let table = help
        .split_once("\nExit status:\n")
        .unwrap_or_else(|| panic!("no exit status table: {help}"))
        .1;
    table
        .lines()
        .filter_map(|l| {
            let row = l.strip_prefix("  ")?;
            let (code, rest) = row.split_once("  ")?;
            let code = code.parse().ok()?;
            let (name, _meaning) = rest.trim_start().split_once("  ")?;
            Some((name.to_string(), code))
        })
        .collect()
}

/// The exit status `migrate --help` gives for `name`.
pub fn status(name: &str) -> i32 {
    statuses()
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| {
            panic!(
                "`migrate --help` has no status `{name}`: {statuses:?}",
                statuses = statuses()
            )
        })
        .1
}

/// A migration set in `dir`, one file per `(name, sql)`.
pub fn set(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, sql) in files {
        std::fs::write(dir.join(name), sql).unwrap();
    }
    dir.to_path_buf()
}

pub fn versions(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|m| m["version"].as_i64().unwrap())
        .collect()
}

/// Processes that wait, each in a shell, until a start file exists and then
/// `exec` the command: released together, the command's own exit status.
/// Dropping it releases and kills whatever still runs, so that a failing
/// test leaves no process polling forever.
pub struct Racers {
    children: Vec<Child>,
    go: PathBuf,
}

impl Racers {
    /// `n` processes of `migrate-once ARGS`, each ready (polling) when this
    /// returns.
    pub fn ready(n: usize, args: &[OsString], work: &Path) -> Racers {
        let ready = work.join("ready");
        std::fs::create_dir_all(&ready).unwrap();
        let go = work.join("go");
        let script = r#"touch "$READY/$$"; while [ ! -e "$GO" ]; do sleep 0.002; done; exec "$@""#;
        let mut racers = Racers {
            children: Vec::new(),
            go: go.clone(),
        };
        for _ in 0..n {
            let child = Command::new("sh")
                .args(["-c", script, "racer"])
                .arg(env!("CARGO_BIN_EXE_migrate-once"))
                .args(args)
                .env("READY", &ready)
                .env("GO", &go)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn sh");
            racers.children.push(child);
        }
        let waiting = Instant::now();
        while std::fs::read_dir(&ready).unwrap().count() < n {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "the processes did not all start"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        racers
    }

    /// Creates the start file and waits for every process.
    pub fn go(mut self) -> Vec<Run> {
        std::fs::write(&self.go, b"").unwrap();
        let released = Instant::now();
        let children = std::mem::take(&mut self.children);
        children
            .into_iter()
            .map(|c| {
                let output = c.wait_with_output().expect("wait for a racer");
                Run::of(output, released.elapsed())
            })
            .collect()
    }
}

impl Drop for Racers {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.go, b"");
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
