//! A progress bar on stderr, drawn by hand: `label [=====>    ] 45/100 3s`.
//! Only on a terminal (a CI log gets no carriage-return noise), at most ten
//! times a second, and cleared when done.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub struct Progress {
    label: String,
    len: usize,
    done: AtomicUsize,
    started: Instant,
    shown: Mutex<Instant>,
    on: bool,
}

impl Progress {
    pub fn new(len: usize, label: &str, wanted: bool) -> Progress {
        Progress {
            label: label.to_string(),
            len,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            shown: Mutex::new(Instant::now()),
            on: wanted && std::io::stderr().is_terminal(),
        }
    }

    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.on {
            return;
        }
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        if shown.elapsed().as_millis() < 100 && done < self.len {
            return;
        }
        *shown = Instant::now();
        const WIDTH: usize = 40;
        let filled = (done * WIDTH).checked_div(self.len).unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| match i.cmp(&filled) {
                std::cmp::Ordering::Less => '=',
                std::cmp::Ordering::Equal => '>',
                std::cmp::Ordering::Greater => ' ',
            })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{:>18} [{bar}] {done}/{} {}s",
            self.label,
            self.len,
            self.started.elapsed().as_secs()
        );
        let _ = err.flush();
    }

    pub fn finish(&self) {
        if self.on {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{:80}\r", "");
            let _ = err.flush();
        }
    }
}
