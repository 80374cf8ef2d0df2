//! Not sqlx's: runs a command with `DATABASE_URL` naming a Postgres server,
//! as `#[sqlx::test]` needs one: `DATABASE_URL`'s own if set, else the
//! throwaway server migrate-once shares between this user's processes
//! (which stops once no process uses it).
//!
//! ```sh
//! cargo run --bin with-postgres -- cargo test --test postgres-test-attr
//! ```

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: with-postgres COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let server = match migrate_once::postgres::TestServer::shared() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("with-postgres: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = Command::new(program)
        .args(args)
        .env("DATABASE_URL", server.url())
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("with-postgres: {e}");
            ExitCode::FAILURE
        }
    }
}
