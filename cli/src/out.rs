//! Printing that a closed pipe cannot turn into a panic.
//!
//! `println!` panics when stdout is gone ("failed printing to stdout:
//! Broken pipe"), which is what `migrate-once stress | head -1` does to it
//! after one line. Rust ignores SIGPIPE, so the write fails instead of
//! killing the process; these macros drop what cannot be written and the
//! command goes on to finish its work (removing its temporary files) and
//! exits with its own status. Nothing in the command prints otherwise
//! (`clippy::print_stdout` and `print_stderr` are denied in `main.rs`).

use std::fmt;
use std::io::Write;

/// Writes to stdout; a write that fails (the reader went away) is dropped.
pub fn to_stdout(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args).and_then(|()| out.flush());
}

/// Writes to stderr; a write that fails is dropped.
pub fn to_stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `print!` that does not panic on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::to_stdout(format_args!($($arg)*)) };
}

/// `println!` that does not panic on a closed stdout.
macro_rules! outln {
    () => { $crate::out::to_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::to_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that does not panic on a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => { $crate::out::to_stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that does not panic on a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::to_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {err, errln, out, outln};
