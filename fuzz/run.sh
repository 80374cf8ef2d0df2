#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and coverage instrumentation, on
# the stable toolchain, and runs each for a bounded time; exits non-zero on
# a crash or a divergence (a target panics on one), leaving the input in
# fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [SECONDS [TARGET...]]   # default: 60 s each, every target, run side by side
#
# The instrumentation is what `cargo fuzz build --sanitizer none` passes to
# rustc (sancov: inline 8-bit counters, PC table, compare tracing), all of it
# stable `-C` flags: no nightly, no install. `cargo fuzz run <target>` works
# too where cargo-fuzz is installed (TESTING.md).
#
# New inputs go to fuzz/corpus/<target>/ (not committed); the committed seeds
# in fuzz/seeds/<target>/ are read, never written.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(split load normalize)

triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# --target: instrument the targets, not build scripts and proc-macros.
cargo build --locked --release --bins --target "$triple"

pids=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  "target/$triple/release/$t" "corpus/$t" "seeds/$t" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=8192 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"artifacts/$t.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "fuzz target $t FAILED (a crash or a divergence); its input is in fuzz/artifacts/$t/:"
    grep -E -A20 "panicked|ERROR: libFuzzer|SUMMARY" "artifacts/$t.log" | head -60
  fi
  done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "artifacts/$t.log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "artifacts/$t.log" | tail -1)
  echo "fuzz target $t: ${seconds}s, ${execs:-?} executions, ${done_line:-no DONE line}"
done
exit $failed
