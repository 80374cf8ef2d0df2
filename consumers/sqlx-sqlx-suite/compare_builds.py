#!/usr/bin/env python3
"""Per-test set-up at 100 tables of two builds of `tests/generated_100.rs`,
in one run, interleaved: BEFORE and AFTER are test binaries (for instance
the same file built at two commits, `cargo test --release --no-run
--features migrate-once --test generated_100`, each into its own target
directory).

Each group of twenty tests is run whole (one process, as `cargo test` runs
it) with 1 and 2 test threads, and one process per test (as cargo-nextest
runs it); a group's wall time less its binary's no-database group's,
divided by twenty. Medians of ROUNDS rounds (default 7), the order rotated
each round. `#[sqlx::test]`'s row is AFTER's `sqlx_test_` group.

    python3 compare_builds.py BEFORE AFTER
"""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("ROUNDS", "7"))
before, after = sys.argv[1], sys.argv[2]


def names(binary, prefix):
    out = subprocess.run([binary, "--list"], capture_output=True, text=True, cwd=HERE).stdout
    return [l.split(":")[0] for l in out.splitlines() if l.startswith(prefix)]


def run(cmd):
    start = time.perf_counter()
    p = subprocess.run(cmd, cwd=HERE, capture_output=True)
    took = time.perf_counter() - start
    assert p.returncode == 0, p
    return took


def per_process(binary, prefix):
    return sum(run([binary, "--exact", n, "--test-threads=1"]) for n in names(binary, prefix))


cases = [
    ("before", before, "migrate_once_"),
    ("after", after, "migrate_once_"),
    ("after", after, "in_memory_"),
    ("after", after, "sqlx_test_"),
    ("after", after, "no_db_"),
    ("before", before, "no_db_"),
]
for _, binary, group in cases:
    run([binary, group])
results = {}
for r in range(ROUNDS):
    order = cases[r % len(cases):] + cases[: r % len(cases)]
    for mode in ("1 thread", "2 threads", "a process per test"):
        for label, binary, group in order:
            # sqlx's own is slow one process at a time: three rounds do.
            if mode == "a process per test" and group == "sqlx_test_" and r >= 3:
                continue
            if mode == "a process per test":
                took = per_process(binary, group)
            else:
                took = run([binary, group, f"--test-threads={mode[0]}"])
            results.setdefault((mode, label, group), []).append(took)
med = {k: statistics.median(v) * 1000 for k, v in results.items()}
print("| per test, 100 tables | `#[sqlx::test]` | before | after | after, `in_memory` |")
print("|---|---:|---:|---:|---:|")
for mode in ("1 thread", "2 threads", "a process per test"):
    sqlx = (med[(mode, "after", "sqlx_test_")] - med[(mode, "after", "no_db_")]) / 20
    row = [f"{sqlx:.1f} ms"]
    for label, group in (("before", "migrate_once_"), ("after", "migrate_once_"), ("after", "in_memory_")):
        ours = (med[(mode, label, group)] - med[(mode, label, "no_db_")]) / 20
        row.append(f"{ours:.2f} ms ({sqlx / ours:.0f}x)")
    print(f"| {mode} | " + " | ".join(row) + " |")
