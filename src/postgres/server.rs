//! A Postgres server for tests: the user's, named by `DATABASE_URL`, or a
//! throwaway cluster started from `initdb` and gone when the process is.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};

/// The environment variable naming the server tests use (sqlx's, so one
/// setting serves both): a `postgres://` URL or a `key=value` connection
/// string. Unset or empty: [`TestServer::start`] starts a throwaway server.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";

/// A Postgres server for a test run, and fresh databases on it.
///
/// [`TestServer::start`] uses the server `DATABASE_URL` names, if set.
/// Otherwise it starts a throwaway cluster: `initdb` into a new directory
/// under the temporary directory, a server that listens only on a unix
/// socket in that directory (no TCP), `fsync` off, trust authentication for
/// the user `postgres`. When run as root it runs the server as the
/// unprivileged user `postgres` (or `nobody`), as Postgres requires. The
/// binaries are found on `PATH`, through `pg_config --bindir`, or under
/// `/usr/lib/postgresql/*/bin` (the newest).
///
/// A throwaway server stops, and its directory is removed, when the
/// `TestServer` is dropped or, at the latest, when the process that started
/// it exits, however it exits (SIGKILL included): a small supervisor
/// process holds the server and waits for the end of a pipe that only the
/// starting process holds open.
///
/// ```
/// use migrate_once::postgres::TestServer;
///
/// let server = TestServer::shared()?; // one per process, started on first use
/// let db = server.create_database()?;
/// let mut client = db.connect()?;
/// client.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TestServer {
    url: String,
    config: Config,
    throwaway: Option<Throwaway>,
}

/// The directory and supervisor of a throwaway cluster: this process's
/// own (a supervisor it holds by a pipe), or the one this user's processes
/// share (a lease: a shared lock on its `users.lock` for as long as the
/// handle lives).
#[derive(Debug)]
struct Throwaway {
    dir: PathBuf,
    supervisor: Mutex<Option<(Child, ChildStdin)>>,
    /// Held (a shared `flock`) while this process uses the shared server.
    _lease: Option<fs::File>,
}

/// The environment variable naming the directory of the throwaway server
/// this user's test processes share (see [`TestServer::shared`]). Unset
/// or empty: `/tmp/migrate-once-pg-<uid>` (under `TMPDIR` if that is
/// short enough for a socket path).
pub const SHARED_DIR_ENV: &str = "MIGRATE_ONCE_PG_DIR";

/// How long the shared throwaway server runs on with no process using it
/// before it stops and its directory is removed.
pub const SHARED_IDLE: Duration = Duration::from_secs(2);

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.supervisor.lock().take() {
            // End of the pipe: the supervisor stops the server and removes
            // the directory. Waited for, so the server is gone on return.
            drop(stdin);
            let _ = child.wait();
        }
    }
}

static SHARED: OnceCell<TestServer> = OnceCell::new();

/// A failure to start or reach the server, with its reason.
fn no_server(reason: impl Into<String>) -> Error {
    Error::TestServer {
        reason: reason.into(),
    }
}

impl TestServer {
    /// The server `DATABASE_URL` names, or else a new throwaway one.
    ///
    /// ```
    /// let server = migrate_once::postgres::TestServer::start()?;
    /// let mut client = server.connect()?;
    /// client.simple_query("SELECT 1")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::TestServer`] saying why there is no server: `DATABASE_URL`
    /// does not parse or its server cannot be reached, no Postgres binaries
    /// were found (and where they were looked for), or `initdb` or the
    /// server failed (with the end of their output).
    pub fn start() -> Result<TestServer> {
        match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Self::at(&url),
            _ => Self::start_throwaway(),
        }
    }

    /// One server for the whole process: the one `DATABASE_URL` names, or
    /// else the throwaway server this user's test processes share, so that
    /// a run of many test processes (cargo-nextest starts one per test)
    /// starts one cluster, not one each. A failure is not kept: the next
    /// call tries again.
    ///
    /// The shared server lives in [`SHARED_DIR_ENV`] (default
    /// `/tmp/migrate-once-pg-<uid>`). A process that finds no server there
    /// starts one under an exclusive lock on `start.lock` (others wait for
    /// it, then use it); every process using it holds a shared lock on
    /// `users.lock` until it exits, however it exits (the kernel releases
    /// it). A supervisor process stops the server and removes the
    /// directory once no process has held that lock for [`SHARED_IDLE`]
    /// (2 s), checking again under `start.lock`, so a process never joins a
    /// server that is stopping. Nothing is left running after a test run.
    /// Where sharing is not possible (no `flock` command), each process
    /// starts its own, as [`start`](Self::start) does.
    ///
    /// ```
    /// let a = migrate_once::postgres::TestServer::shared()?;
    /// let b = migrate_once::postgres::TestServer::shared()?;
    /// assert_eq!(a.url(), b.url());
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn shared() -> Result<&'static TestServer> {
        SHARED.get_or_try_init(|| match std::env::var(DATABASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Self::at(&url),
            _ => match find_flock() {
                Some(flock) => join_shared(&flock),
                None => Self::start_throwaway(),
            },
        })
    }

    /// The server at `url`, which must answer.
    ///
    /// # Errors
    ///
    /// [`Error::TestServer`] if `url` does not parse or the server cannot
    /// be reached.
    pub fn at(url: &str) -> Result<TestServer> {
        let config: Config = url
            .parse()
            .map_err(|e| no_server(format!("{DATABASE_URL_ENV} does not parse ({e})")))?;
        config.connect(NoTls).map_err(|e| {
            no_server(format!(
                "the server at {DATABASE_URL_ENV} cannot be reached: {e}"
            ))
        })?;
        Ok(TestServer {
            url: url.to_string(),
            config,
            throwaway: None,
        })
    }

    /// A new throwaway cluster, whatever `DATABASE_URL` says.
    ///
    /// ```
    /// let server = migrate_once::postgres::TestServer::start_throwaway()?;
    /// assert!(server.is_throwaway());
    /// let dir = server.dir().unwrap().to_path_buf();
    /// drop(server);
    /// assert!(!dir.exists());
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::TestServer`] if no binaries are found, or `initdb` or the
    /// server fails.
    pub fn start_throwaway() -> Result<TestServer> {
        let bin = find_binaries()?;
        let owner = unprivileged_owner()?;
        let dir = make_dir(owner)?;
        match start_in(&bin, &dir, owner) {
            Ok(server) => Ok(server),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// The connection string of the server's `postgres` database (the
    /// maintenance database; tests use [`create_database`](Self::create_database)).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a throwaway cluster (rather than `DATABASE_URL`'s
    /// server).
    pub fn is_throwaway(&self) -> bool {
        self.throwaway.is_some()
    }

    /// The throwaway cluster's directory (its data and its socket), removed
    /// when the server stops; `None` for `DATABASE_URL`'s server.
    pub fn dir(&self) -> Option<&Path> {
        self.throwaway.as_ref().map(|t| t.dir.as_path())
    }

    /// A new connection to the server's maintenance database.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server cannot be reached.
    pub fn connect(&self) -> Result<Client> {
        connect(&self.config, &self.url)
    }

    /// A new, empty database with a unique name (`migrate_once_` and a
    /// uuid). On a throwaway server it goes with the server; on
    /// `DATABASE_URL`'s it is dropped when the [`TestDatabase`] is.
    ///
    /// ```
    /// let server = migrate_once::postgres::TestServer::shared()?;
    /// let (a, b) = (server.create_database()?, server.create_database()?);
    /// assert_ne!(a.name(), b.name());
    /// # Ok::<(), migrate_once::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server refuses (the role may not create
    /// databases).
    pub fn create_database(&self) -> Result<TestDatabase> {
        let name = format!("migrate_once_{}", uuid::Uuid::new_v4().simple());
        let mut admin = self.connect()?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|source| Error::Postgres {
                context: "create a test database",
                database: super::redacted(&self.url),
                source: Arc::new(source),
            })?;
        let mut config = self.config.clone();
        config.dbname(&name);
        Ok(TestDatabase {
            url: with_dbname(&self.url, &name),
            name,
            config,
            // A throwaway server (this process's, or the one this user's
            // processes share) takes its databases with it when it stops;
            // DATABASE_URL's outlives them, so they are dropped with their
            // handle.
            admin: (!self.is_throwaway()).then(|| self.config.clone()),
        })
    }
}

/// A database made by [`TestServer::create_database`].
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    config: Config,
    /// The maintenance database's config, where the database is dropped
    /// with this handle.
    admin: Option<Config>,
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its connection string, for [`SharedDb::open`](super::SharedDb::open)
    /// or another driver.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to it.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] if the server cannot be reached.
    pub fn connect(&self) -> Result<Client> {
        connect(&self.config, &self.url)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin
            && let Ok(mut client) = admin.connect(NoTls)
        {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn connect(config: &Config, url: &str) -> Result<Client> {
    config.connect(NoTls).map_err(|source| Error::Postgres {
        context: "connect to the server",
        database: super::redacted(url),
        source: Arc::new(source),
    })
}

/// `url` with its database changed to `name`: a `postgres://` URL's path,
/// or a `dbname=` appended to a `key=value` string (the last one counts).
pub(crate) fn with_dbname(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return format!("{url} dbname={name}");
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after = &rest[authority_end..];
    let query = after.find('?').map_or("", |q| &after[q..]);
    format!(
        "{}{}/{name}{query}",
        &url[..scheme_end + 3],
        &rest[..authority_end]
    )
}

/// The directory holding `initdb` and `postgres`: on `PATH`, from
/// `pg_config --bindir`, or the newest `/usr/lib/postgresql/*/bin`.
fn find_binaries() -> Result<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let mut looked = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_both(&d) {
                return Ok(d);
            }
        }
        looked.push("PATH".to_string());
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_both(&d) {
            return Ok(d);
        }
        looked.push(format!("{} (pg_config --bindir)", d.display()));
    } else {
        looked.push("pg_config (not found)".to_string());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_both(d))
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Ok(d);
    }
    looked.push("/usr/lib/postgresql/*/bin".to_string());
    Err(no_server(format!(
        "no Postgres server binaries (initdb and postgres) in {}; install them (Debian: \
         apt-get install postgresql) or set {DATABASE_URL_ENV}",
        looked.join(", ")
    )))
}

/// The user and group to run the server as: `None` when not root (the
/// current user), else `postgres` if that user exists, else `nobody`.
fn unprivileged_owner() -> Result<Option<(u32, u32)>> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's effective user.
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = |user: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == user).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
    };
    Ok(Some(
        entry("postgres")
            .or_else(|| entry("nobody"))
            .unwrap_or((65534, 65534)),
    ))
}

/// A new directory for a cluster, owned by `owner`. Short enough for a
/// unix socket path (about 100 bytes) inside it.
fn make_dir(owner: Option<(u32, u32)>) -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    let dir = tempfile::Builder::new()
        .prefix("migrate-once-pg-")
        .tempdir_in(&base)
        .map_err(Error::io(&base))?
        .keep();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(Error::io(&dir))?;
    }
    Ok(dir)
}

/// Runs `bin/name` as `owner`.
fn command(bin: &Path, name: &str, owner: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(bin.join(name));
    if let Some((uid, gid)) = owner {
        // std drops supplementary groups when root changes user.
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// The supervisor: starts the server, waits for the end of its standard
/// input (the starting process's end of a pipe: closed when that process
/// drops the server or exits in any way), then stops the server at once and
/// removes the directory.
const SUPERVISOR: &str = r#"
bin=$1; dir=$2
"$bin/postgres" -D "$dir/data" -k "$dir" -p 5432 -c listen_addresses= -c fsync=off \
  -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 \
  -c shared_buffers=16MB -c max_locks_per_transaction=256 >"$dir/server.log" 2>&1 &
pid=$!
cat >/dev/null
kill -QUIT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;

fn start_in(bin: &Path, dir: &Path, owner: Option<(u32, u32)>) -> Result<TestServer> {
    init_cluster(bin, &dir.join("data"), owner)?;
    let mut sh = Command::new("/bin/sh");
    if let Some((uid, gid)) = owner {
        use std::os::unix::process::CommandExt;
        sh.uid(uid).gid(gid);
    }
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C to the test run must not kill
        // the supervisor before it has cleaned up.
        sh.process_group(0);
    }
    let mut child = sh
        .args(["-c", SUPERVISOR, "migrate-once-pg"])
        .arg(bin)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| no_server(format!("/bin/sh could not run: {e}")))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    // A URL (not `key=value`) so that sqlx, psql and rust-postgres all
    // read it: the socket's directory is the host, percent-encoded.
    let url = format!(
        "postgres://postgres@{}:5432/postgres",
        percent_encoded(&dir.to_string_lossy())
    );
    let config: Config = url.parse().expect("a valid connection string");
    let server = TestServer {
        url,
        config,
        throwaway: Some(Throwaway {
            dir: dir.to_path_buf(),
            supervisor: Mutex::new(Some((child, stdin))),
            _lease: None,
        }),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match server.config.connect(NoTls) {
            Ok(_) => return Ok(server),
            Err(e) => {
                let exited = server
                    .throwaway
                    .as_ref()
                    .and_then(|t| t.supervisor.lock().as_mut().map(|(c, _)| c.try_wait()))
                    .and_then(|w| w.ok().flatten())
                    .is_some();
                let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                // Refused connections while it starts are logged as FATAL
                // too; any other FATAL line means it will not start.
                let fatal = log
                    .lines()
                    .any(|l| l.contains("FATAL") && !l.contains("starting up"));
                let gave_up = fatal || exited || Instant::now() > deadline;
                if gave_up {
                    return Err(no_server(format!(
                        "the server did not start ({e}); its log: {}",
                        tail(&log)
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// `text` with every byte but letters, digits and `-._~` percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `initdb` into `data`, as `owner`.
fn init_cluster(bin: &Path, data: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    let out = command(bin, "initdb", owner)
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            no_server(format!(
                "{} could not run: {e}",
                bin.join("initdb").display()
            ))
        })?;
    if !out.status.success() {
        return Err(no_server(format!(
            "initdb failed ({}): {}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    Ok(())
}

/// The `flock` command (util-linux, busybox), which the shared server's
/// supervisor locks with.
fn find_flock() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|d| d.join("flock"))
        .find(|f| f.is_file())
}

/// The shared server's directory: [`SHARED_DIR_ENV`], or a name of this
/// user's own, short enough for the socket path in it.
fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(SHARED_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let uid = fs::metadata("/proc/self").map_or_else(
        |_| std::process::id(),
        |m| std::os::unix::fs::MetadataExt::uid(&m),
    );
    let base = std::env::temp_dir();
    let base = if base.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    base.join(format!("migrate-once-pg-{uid}"))
}

/// The shared server's supervisor: starts the server, then every 0.2 s
/// asks whether any process holds `users.lock`; after `$4` quiet checks
/// in a row it takes `start.lock` (no process is joining then), asks once
/// more, and if still no one: stops the server and removes the directory.
/// If the server dies on its own, the directory goes too, under the lock.
const SHARED_SUPERVISOR: &str = r#"
bin=$1; dir=$2; flock=$3; idle=$4
"$bin/postgres" -D "$dir/data" -k "$dir" -p 5432 -c listen_addresses= -c fsync=off \
  -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 \
  -c shared_buffers=32MB -c max_locks_per_transaction=256 >"$dir/server.log" 2>&1 &
pid=$!
quiet=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 0.2
  if "$flock" -n -x "$dir/users.lock" true; then quiet=$((quiet + 1)); else quiet=0; fi
  if [ "$quiet" -ge "$idle" ]; then
    exec 8<"$dir/start.lock"
    "$flock" -x 8
    exec 9<"$dir/users.lock"
    if "$flock" -n -x 9; then
      kill -INT "$pid" 2>/dev/null
      wait "$pid"
      rm -rf "$dir"
      exit 0
    fi
    exec 8<&- 9<&-
    quiet=0
  fi
done
exec 8<"$dir/start.lock"
"$flock" -x 8
rm -rf "$dir"
"#;

fn server_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    no_server(format!("{what} {}: {e}", path.display()))
}

/// Joins the throwaway server this user's processes share, starting it if
/// there is none (see [`TestServer::shared`]).
fn join_shared(flock: &Path) -> Result<TestServer> {
    use std::os::unix::fs::MetadataExt;
    let bin = find_binaries()?;
    let owner = unprivileged_owner()?;
    let dir = shared_dir();
    let me = fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if Instant::now() > deadline {
            return Err(no_server(format!(
                "the shared server in {} did not become ready",
                dir.display()
            )));
        }
        match fs::symlink_metadata(&dir) {
            Err(_) => {
                if let Err(e) = fs::create_dir(&dir) {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        continue;
                    }
                    return Err(server_err("could not make", &dir, e));
                }
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                        .map_err(|e| server_err("could not hand over", &dir, e))?;
                }
            }
            Ok(m) => {
                let allowed = [Some(me), owner.map(|o| o.0)];
                if !m.is_dir() || !allowed.contains(&Some(m.uid())) {
                    return Err(no_server(format!(
                        "refusing to use {} for the shared server: it is not a directory of \
                         yours (owner uid {}); remove it, or set {SHARED_DIR_ENV}",
                        dir.display(),
                        m.uid()
                    )));
                }
            }
        }
        let start_path = dir.join("start.lock");
        let start = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&start_path)
        {
            Ok(f) => f,
            // Removed by a supervisor that is stopping: try again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(server_err("could not open", &start_path, e)),
        };
        start
            .lock()
            .map_err(|e| server_err("could not lock", &start_path, e))?;
        // The file may have been removed while we waited for it.
        let same = fs::metadata(&start_path)
            .ok()
            .zip(start.metadata().ok())
            .is_some_and(|(a, b)| (a.dev(), a.ino()) == (b.dev(), b.ino()));
        if !same {
            continue;
        }
        let users_path = dir.join("users.lock");
        let url = format!(
            "postgres://postgres@{}:5432/postgres",
            percent_encoded(&dir.to_string_lossy())
        );
        let config: Config = url.parse().expect("a valid URL");
        if config.connect(NoTls).is_err() {
            start_shared(&bin, &dir, owner, flock, &config)?;
        }
        let lease = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&users_path)
            .map_err(|e| server_err("could not open", &users_path, e))?;
        if let Some((uid, gid)) = owner {
            let _ = std::os::unix::fs::chown(&start_path, Some(uid), Some(gid));
            let _ = std::os::unix::fs::chown(&users_path, Some(uid), Some(gid));
        }
        lease
            .lock_shared()
            .map_err(|e| server_err("could not lock", &users_path, e))?;
        drop(start);
        return Ok(TestServer {
            url,
            config,
            throwaway: Some(Throwaway {
                dir,
                supervisor: Mutex::new(None),
                _lease: Some(lease),
            }),
        });
    }
}

/// Starts the shared server in `dir` (under `start.lock`): a new cluster,
/// and a supervisor that outlives this process.
fn start_shared(
    bin: &Path,
    dir: &Path,
    owner: Option<(u32, u32)>,
    flock: &Path,
    config: &Config,
) -> Result<()> {
    // What a server that died left (no supervisor is alive: it would hold
    // the server up, and we hold the start lock).
    let data = dir.join("data");
    let _ = fs::remove_dir_all(&data);
    init_cluster(bin, &data, owner)?;
    let idle = (SHARED_IDLE.as_millis() / 200).max(1).to_string();
    // `sh -c '… &'`: the supervisor is orphaned at once (init reaps it),
    // in a process group of its own (a Ctrl-C to the test run does not
    // reach it).
    let mut sh = Command::new("/bin/sh");
    if let Some((uid, gid)) = owner {
        use std::os::unix::process::CommandExt;
        sh.uid(uid).gid(gid);
    }
    {
        use std::os::unix::process::CommandExt;
        sh.process_group(0);
    }
    let status = sh
        .args([
            "-c",
            r#"sh -c "$0" migrate-once-pg-shared "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &"#,
            SHARED_SUPERVISOR,
        ])
        .arg(bin)
        .arg(dir)
        .arg(flock)
        .arg(&idle)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| no_server(format!("/bin/sh could not run: {e}")))?;
    if !status.success() {
        return Err(no_server(format!(
            "the supervisor did not start ({status})"
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match config.connect(NoTls) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                let fatal = log
                    .lines()
                    .any(|l| l.contains("FATAL") && !l.contains("starting up"));
                if fatal || Instant::now() > deadline {
                    return Err(no_server(format!(
                        "the shared server did not start ({e}); its log: {}",
                        tail(&log)
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The last lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_or_a_connection_string_is_replaced() {
        assert_eq!(
            with_dbname("postgres://u:p@h:5432/app?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(
            with_dbname("host=/tmp/d dbname=postgres", "x"),
            "host=/tmp/d dbname=postgres dbname=x"
        );
    }
}
