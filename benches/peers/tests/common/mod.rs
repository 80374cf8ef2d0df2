//! What the per-process contenders (`pp_*.rs`) share: reading the
//! harness's environment, and reporting the process's peak resident memory.
//! `benches/per_process.rs` runs them; see there.

use std::path::PathBuf;

/// The path in environment variable `var`, which `benches/per_process.rs`
/// sets for every contender it runs.
#[allow(dead_code)] // `pp_empty` needs none
pub fn env_path(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: this test is a contender of benches/per_process.rs, \
             run it with `cargo bench --manifest-path benches/peers/Cargo.toml --bench per_process`"
        )
    })
}

/// With `PP_PEAK_RSS_FILE` set (the harness's memory runs only), writes the
/// process's peak resident set so far (`VmHWM` of `/proc/self/status`, in
/// KiB) to that file. Without it (the timed runs) this is one environment
/// lookup.
///
/// The process reports it itself because the parent cannot read it: the
/// `ru_maxrss` that `wait4` returns for a child is at least the parent's own
/// peak (Linux carries the spawning process's high-water mark across
/// `exec`), so it measures the harness, not the test.
pub fn report_peak_rss() {
    let Some(out) = std::env::var_os("PP_PEAK_RSS_FILE") else {
        return;
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
        .expect("VmHWM in /proc/self/status");
    std::fs::write(out, kib).unwrap();
}
