//! Running one test of this binary in a child process.
//!
//! Tests that need other processes (to race on one file, to be killed, to
//! start with an empty template cache, to panic) spawn copies of this test
//! binary that run exactly one child-mode test, selected with
//! `--ignored --exact` and its full name (module path included). The parent
//! passes what the child needs in environment variables, through
//! `Command::env`: it never changes its own environment, which other tests'
//! threads read. The child reports on one line of its standard output,
//! `RESULT key=value key=value ...`. The same arguments work under
//! `cargo test` and `cargo nextest run`, since both run this binary itself.
//!
//! A child-mode test is `#[ignore = "run as a child process by <parent>"]`,
//! so that an ordinary run skips it instead of passing it for doing nothing,
//! and reads its variables through [`ChildEnv`], so that running it on its
//! own (`--ignored`) fails and names the test to run instead.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Instant;

use super::{DEADLINE, poll_until};

/// The test `$test`, a function of the calling module, as a [`ChildTest`]
/// ready to be given its environment and spawned. Naming a function that
/// does not exist there does not compile.
macro_rules! child_test {
    ($test:ident) => {{
        let _: fn() = $test;
        $crate::support::child::ChildTest::new(concat!(module_path!(), "::", stringify!($test)))
    }};
}
pub(crate) use child_test;

/// One test of this binary, to be run in a child process.
pub struct ChildTest {
    name: String,
    cmd: Command,
}

impl ChildTest {
    /// The test at `path`, as `module_path!()` spells it (the crate's name
    /// first, which the test's own name does not have).
    pub fn new(path: &str) -> ChildTest {
        let name = path.split_once("::").map_or(path, |(_, name)| name);
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = Command::new(exe);
        cmd.args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        ChildTest {
            name: name.to_owned(),
            cmd,
        }
    }

    /// The child-mode tests whose paths start with `path` (the crate's name
    /// first, as `module_path!()` spells it), run one after another in one
    /// child process, in libtest's order.
    pub fn all_starting_with(path: &str) -> ChildTest {
        let name = path.split_once("::").map_or(path, |(_, name)| name);
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut cmd = Command::new(exe);
        cmd.args(["--ignored", name, "--nocapture", "--test-threads=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        ChildTest {
            name: name.to_owned(),
            cmd,
        }
    }

    /// Sets `key` in the child's environment.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> ChildTest {
        self.cmd.env(key, value);
        self
    }

    /// Removes `key` from the child's environment.
    pub fn env_remove(mut self, key: &str) -> ChildTest {
        self.cmd.env_remove(key);
        self
    }

    pub fn spawn(mut self) -> Running {
        let mut child = self.cmd.spawn().expect("spawn a child test process");
        let stdout = Some(drain(child.stdout.take().expect("piped stdout")));
        let stderr = Some(drain(child.stderr.take().expect("piped stderr")));
        Running {
            name: self.name,
            child,
            stdout,
            stderr,
        }
    }

    /// Runs the child as an unprivileged user (uid and gid 65534, no
    /// supplementary groups) through `setpriv`: tests run as root, which
    /// file permissions do not stop.
    pub fn unprivileged(self) -> ChildTest {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(self.cmd.get_program())
            .args(self.cmd.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in self.cmd.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        ChildTest {
            name: self.name,
            cmd,
        }
    }

    /// Runs the child to its end.
    pub fn run(self) -> Outcome {
        self.spawn().finish()
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut out = String::new();
        let _ = pipe.read_to_string(&mut out);
        out
    })
}

/// A running child, its output drained on threads so that a chatty child
/// cannot block on a full pipe. Dropping it kills the child if it is still
/// running, so that a failing test leaves no process behind.
pub struct Running {
    name: String,
    child: Child,
    stdout: Option<thread::JoinHandle<String>>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the child (SIGKILL on unix) if it is still running, and reaps it.
    pub fn kill(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Waits for the child to exit (within [`DEADLINE`]) and returns what it
    /// did.
    pub fn finish(mut self) -> Outcome {
        self.outcome()
    }

    fn outcome(&mut self) -> Outcome {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("poll a child") {
                break s;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the child process running {} hung",
                self.name
            );
            thread::sleep(std::time::Duration::from_millis(1));
        };
        let outcome = Outcome {
            test: self.name.clone(),
            status,
            stdout: take(&mut self.stdout),
            stderr: take(&mut self.stderr),
        };
        // libtest runs nothing, and succeeds, when no ignored test has the name.
        assert!(
            !outcome.stdout.contains("running 0 tests"),
            "the child process ran no test: {} is not an ignored test of this binary: {outcome:?}",
            outcome.test
        );
        outcome
    }
}

fn take(pipe: &mut Option<thread::JoinHandle<String>>) -> String {
    pipe.take()
        .map(|h| h.join().expect("a pipe reader"))
        .unwrap_or_default()
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a child-mode test was given by its parent.
pub struct ChildEnv {
    parent: &'static str,
}

impl ChildEnv {
    /// The environment of a child-mode test that `parent` (the test, or
    /// tests, that spawn it) runs.
    pub fn of(parent: &'static str) -> ChildEnv {
        ChildEnv { parent }
    }

    /// The variable `name` as a path; panics if it is not set, as when the
    /// test is run on its own rather than by its parent.
    pub fn path(&self, name: &str) -> PathBuf {
        std::env::var_os(name).map_or_else(
            || {
                panic!(
                    "{name} is not set: this test only runs as a child process of {}; \
                     run that instead",
                    self.parent
                )
            },
            PathBuf::from,
        )
    }

    /// The variable `name`; panics as [`ChildEnv::path`] does.
    pub fn var(&self, name: &str) -> String {
        self.path(name)
            .into_os_string()
            .into_string()
            .unwrap_or_else(|v| panic!("{name} is not UTF-8: {v:?}"))
    }
}

/// In a child: says it is ready (a file `ready-<pid>` in `ready`), then
/// waits for the parent to create `go`.
pub fn ready_then_wait(ready: &Path, go: &Path) {
    fs::write(ready.join(format!("ready-{}", std::process::id())), b"")
        .expect("write the ready file");
    poll_until("the start file", || go.exists());
}

/// In the parent: waits until every child has said it is ready in `ready`
/// (see [`ready_then_wait`]). If one exits first, or they take longer than
/// [`DEADLINE`], kills them all and fails with what each printed.
pub fn wait_until_ready(children: &mut [Running], ready: &Path, what: &str) {
    let start = Instant::now();
    loop {
        let count = fs::read_dir(ready).expect("read the ready dir").count();
        if count == children.len() {
            return;
        }
        if children.iter_mut().any(Running::exited) || start.elapsed() > DEADLINE {
            children.iter_mut().for_each(Running::kill);
            let outcomes: Vec<Outcome> = children.iter_mut().map(Running::outcome).collect();
            panic!("{what}: a child exited (or hung) before it was ready: {outcomes:#?}");
        }
        thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// What a child did: its exit status and output.
pub struct Outcome {
    pub test: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The fields of the child's `RESULT` line, if it printed one.
    pub fn result(&self) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.find("RESULT ").map(|i| &l[i + "RESULT ".len()..]))
    }

    /// The text after `key=` in the `RESULT` line, up to the next space.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.result()?
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }

    /// The number after `key=` in the `RESULT` line.
    pub fn field(&self, key: &str) -> Option<usize> {
        self.value(key)?.parse().ok()
    }
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.test, self.status, self.stdout, self.stderr
        )
    }
}
