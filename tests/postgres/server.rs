//! The throwaway server: gone with the process that started it, however
//! it ends; and `DATABASE_URL` wins over starting one.

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use migrate_once::postgres::{DATABASE_URL_ENV, TestServer};

use crate::support::{Running, child, server};

/// Runs only in a child: starts a throwaway server, prints its directory
/// and URL, then waits to be killed.
#[test]
#[ignore = "run as a child process by server::a_throwaway_server_is_stopped_and_removed_when_its_process_is_sigkilled"]
fn child_start_throwaway() {
    let server = TestServer::start_throwaway().expect("start a throwaway server");
    println!("DIR {}", server.dir().unwrap().display());
    println!("URL {}", server.url());
    thread::sleep(Duration::from_secs(120));
}

/// Runs only in a child: `TestServer::start`, telling whether it is a
/// throwaway one.
#[test]
#[ignore = "run as a child process by server::database_url_names_the_server_and_none_is_started"]
fn child_start() {
    let server = TestServer::start().expect("a server");
    println!("RESULT throwaway={}", u8::from(server.is_throwaway()));
}

#[test]
fn a_throwaway_server_is_stopped_and_removed_when_its_process_is_sigkilled() {
    // Only where a throwaway server can start at all.
    let _ = server!();
    let mut running = Running::spawn(child("server::child_start_throwaway"));
    let dir = PathBuf::from(running.line("DIR"));
    let url = running.line("URL");
    assert!(dir.join("data").is_dir());
    postgres::Client::connect(&url, postgres::NoTls)
        .expect("the server answers")
        .simple_query("SELECT 1")
        .unwrap();
    let _ = running.child.kill();
    let _ = running.child.wait();
    let killed = Instant::now();
    while dir.exists() {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "{} is still there",
            dir.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
    println!("removed {:?} after the SIGKILL", killed.elapsed());
    assert!(
        postgres::Client::connect(&url, postgres::NoTls).is_err(),
        "the server still answers"
    );
}

#[test]
fn dropping_a_throwaway_server_stops_it_before_drop_returns() {
    let _ = server!();
    let server = TestServer::start_throwaway().unwrap();
    let dir = server.dir().unwrap().to_path_buf();
    let url = server.url().to_string();
    drop(server);
    assert!(!dir.exists());
    assert!(postgres::Client::connect(&url, postgres::NoTls).is_err());
}

#[test]
fn database_url_names_the_server_and_none_is_started() {
    let server = server!();
    let mut cmd = child("server::child_start");
    cmd.env(DATABASE_URL_ENV, server.url());
    assert_eq!(
        crate::support::field(&Running::spawn(cmd).result(), "throwaway"),
        0
    );
    let mut cmd = child("server::child_start");
    cmd.env(DATABASE_URL_ENV, "host=/nonexistent port=1");
    let mut running = Running::spawn(cmd);
    let status = running.child.wait().unwrap();
    assert!(
        !status.success(),
        "a DATABASE_URL that does not answer is an error, not a fallback"
    );
}

/// Runs only in a child: joins the shared throwaway server (of
/// `SHARED_DIR_ENV`, set by the parent), makes a test database on it,
/// prints the server's process id, then holds it for `HOLD` seconds.
#[test]
#[ignore = "run as a child process by server::processes_share_one_throwaway_server_which_stops_after_the_last"]
fn child_join_shared() {
    let server = TestServer::shared().expect("the shared server");
    let db = migrate_once::postgres::TestDb::empty_builder()
        .open()
        .expect("a database on it");
    let pid: i32 = db
        .connect()
        .unwrap()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert!(pid > 0);
    let postmaster = std::fs::read_to_string(server.dir().unwrap().join("data/postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    println!("RESULT pid={postmaster}");
    let hold: u64 = std::env::var("HOLD").map_or(0, |h| h.parse().unwrap());
    thread::sleep(Duration::from_secs(hold));
}

#[test]
fn processes_share_one_throwaway_server_which_stops_after_the_last() {
    let _ = server!();
    let dir = PathBuf::from(format!("/tmp/mo-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spawn = |hold: &str| {
        let mut cmd = child("server::child_join_shared");
        cmd.env(migrate_once::postgres::SHARED_DIR_ENV, &dir)
            .env_remove(DATABASE_URL_ENV)
            .env("HOLD", hold);
        Running::spawn(cmd)
    };
    // Two at once: one starts the server, the other waits and joins it.
    let (mut first, second) = (spawn("60"), spawn("0"));
    let pid = crate::support::field(&first.line("RESULT"), "pid");
    let result = second.result();
    assert_eq!(crate::support::field(&result, "pid"), pid, "one server");
    // The one that left did not stop it: another still uses it.
    thread::sleep(migrate_once::postgres::SHARED_IDLE + Duration::from_secs(1));
    assert!(
        PathBuf::from(format!("/proc/{pid}")).exists(),
        "stopped under a user"
    );
    let third = spawn("0").result();
    assert_eq!(
        crate::support::field(&third, "pid"),
        pid,
        "joined, not restarted"
    );
    // The last user killed outright: the kernel drops its lock, and the
    // server stops and its directory goes.
    let _ = first.child.kill();
    let _ = first.child.wait();
    let killed = Instant::now();
    while PathBuf::from(format!("/proc/{pid}")).exists() || dir.exists() {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the server {pid} or {} is still there",
            dir.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
    println!(
        "stopped and removed {:?} after the last user",
        killed.elapsed()
    );
}
