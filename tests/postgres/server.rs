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
