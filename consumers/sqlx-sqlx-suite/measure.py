#!/usr/bin/env python3
"""What the two attributes cost, measured on this crate's tests.

1. Per-test database set-up at 100 tables, `#[sqlx::test]` against
   `#[migrate_once::sqlx_test]` (its default, a file, and `in_memory`), in
   one run: the four groups of `tests/generated_100.rs` (twenty tests
   each), each group's wall time less the no-database group's, divided by
   twenty. Under `cargo test`'s
   model (the test binary, one process, `--test-threads=1` and the default)
   and under cargo-nextest's (a process per test).
2. The converted suite (`sqlite-test-attr` and `sqlite-migrate`, nine tests)
   under `cargo test` and `cargo nextest run`, with each attribute.
3. Two runs of the converted suite (and of the twenty 100-table tests of
   its attribute) at once in this checkout: how many tests fail.

Every timing is the median of ROUNDS runs (default 7), the groups' order
rotated each round. Builds first (`cargo test --no-run`, both feature
sets) and never times a build. Run from anywhere:

    python3 consumers/sqlx-sqlx-suite/measure.py

CARGO_TARGET_DIR is honoured. Prints markdown.
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("ROUNDS", "7"))
# RELEASE=1: the release profile (optimized SQLite, sha2, xxh3 and sqlx);
# default: the dev profile a test suite is built with.
PROFILE = ["--release"] if os.environ.get("RELEASE") else []
# OPTIMIZED=1: the dev profile with the packages a test process spends its
# set-up in optimized, as the README suggests (migrate-once, sha2,
# xxhash-rust, libsqlite3-sys), for both attributes alike.
OPTIMIZED = [
    arg
    for package in ["migrate-once", "sha2", "xxhash-rust", "libsqlite3-sys"]
    for arg in ["--config", f"profile.dev.package.{package}.opt-level=3"]
] if os.environ.get("OPTIMIZED") else []


def cargo(*args):
    """A cargo command line with the profile's configuration (which
    cargo-nextest takes after `run`, not before)."""
    if args[:2] == ("nextest", "run"):
        return ["cargo", "nextest", "run"] + OPTIMIZED + list(args[2:])
    return ["cargo"] + OPTIMIZED + list(args)
GROUP = 20


def build(features):
    """The test binaries for `features`, by target name."""
    cmd = cargo("test", "--no-run", "--message-format=json", "--manifest-path", str(HERE / "Cargo.toml"), *PROFILE)
    if features:
        cmd += ["--features", features]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    bins = {}
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["profile"]["test"]:
            bins[msg["target"]["name"]] = msg["executable"]
    return bins


def timed(cmd, check=True):
    start = time.perf_counter()
    p = subprocess.run(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if check and p.returncode != 0:
        sys.exit(f"{cmd} failed:\n{p.stdout}\n{p.stderr}")
    return took, p


def median_ms(samples):
    return statistics.median(samples) * 1000


def per_test_groups(runner):
    """Median wall time of each group (ms), `runner(prefix)` timing one run."""
    groups = ["sqlx_test_", "migrate_once_", "in_memory_", "no_db_"]
    samples = {g: [] for g in groups}
    for r in range(ROUNDS):
        order = groups[r % 4:] + groups[: r % 4]
        for g in order:
            samples[g].append(runner(g))
    return {g: median_ms(s) for g, s in samples.items()}


def report_groups(title, walls):
    base = walls["no_db_"]
    sqlx = (walls["sqlx_test_"] - base) / GROUP
    ours = (walls["migrate_once_"] - base) / GROUP
    memory = (walls["in_memory_"] - base) / GROUP
    print(f"| {title} | {walls['sqlx_test_']:.0f} | {walls['migrate_once_']:.0f} | {base:.0f} "
          f"| {sqlx:.2f} | {ours:.2f} | {sqlx / ours:.0f}x | {memory:.2f} | {sqlx / memory:.0f}x |")


def main():
    plain = build("")
    ours = build("migrate-once")
    gen = plain["generated_100"]
    nextest = subprocess.run(["cargo", "nextest", "--version"], capture_output=True).returncode == 0

    profile = "release" if PROFILE else "dev, set-up packages optimized" if OPTIMIZED else "dev"
    print(f"## Per-test database set-up at 100 tables ({profile} profile, {ROUNDS} rounds, medians)\n")
    print("| model | 20 x `#[sqlx::test]` (ms) | 20 x `#[migrate_once::sqlx_test]` (ms) | 20 x no database (ms) "
          "| set-up per test, sqlx (ms) | set-up per test, migrate-once (ms) | ratio "
          "| `in_memory` (ms) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    # Warm: the template cache, the page cache.
    timed([gen, "--test-threads=1"])
    for threads in ["1", str(os.cpu_count())]:
        walls = per_test_groups(lambda g: timed([gen, g, f"--test-threads={threads}"])[0])
        report_groups(f"cargo test, {threads} thread(s)", walls)
    if nextest:
        def nextest_group(g):
            return timed(cargo("nextest", "run", "--manifest-path", str(HERE / "Cargo.toml"), *PROFILE) + [
                          "--test", "generated_100", "--no-fail-fast", "--status-level", "none",
                          "--final-status-level", "none", "-E", f"test(/^{g}/)"])[0]
        walls = per_test_groups(nextest_group)
        report_groups(f"cargo nextest run, {os.cpu_count()} threads", walls)

    print(f"\n## The converted suite: 9 tests ({ROUNDS} rounds, medians, ms)\n")
    print("| command | `#[sqlx::test]` | `#[migrate_once::sqlx_test]` |")
    print("|---|---|---|")
    suite = ["--test", "sqlite-test-attr", "--test", "sqlite-migrate"]
    for name, cmd in [("cargo test", cargo("test", "--manifest-path", str(HERE / "Cargo.toml"), *PROFILE, *suite)),
                      ("cargo nextest run", cargo("nextest", "run", "--manifest-path", str(HERE / "Cargo.toml"), *PROFILE, *suite))]:
        if name.startswith("cargo nextest") and not nextest:
            continue
        walls = {"": [], "migrate-once": []}
        for r in range(ROUNDS):
            for f in (["", "migrate-once"] if r % 2 == 0 else ["migrate-once", ""]):
                walls[f].append(timed(cmd + (["--features", f] if f else []))[0])
        print(f"| {name} | {median_ms(walls['']):.0f} | {median_ms(walls['migrate-once']):.0f} |")

    print(f"\n## Two runs at once in this checkout ({ROUNDS} rounds): failed tests\n")
    print("| attribute | tests per run | failed, of all tests in both runs |")
    print("|---|---|---|")
    for label, bins, gen_filter in [("`#[sqlx::test]`", plain, "sqlx_test_"),
                                    ("`#[migrate_once::sqlx_test]`", ours, "migrate_once_")]:
        cmds = [[bins["sqlite-test-attr"]], [bins["sqlite-migrate"]], [bins["generated_100"], gen_filter]]
        failed = total = 0

        def one_run(results):
            # One run is what `cargo test` does once built: each binary in turn.
            for cmd in cmds:
                out = subprocess.run(cmd, cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True).stdout
                results.extend(line for line in out.splitlines()
                               if line.startswith("test ") and line.endswith(("... ok", "... FAILED")))

        for _ in range(ROUNDS):
            results = [[], []]
            runs = [threading.Thread(target=one_run, args=(r,)) for r in results]
            for t in runs:
                t.start()
            for t in runs:
                t.join()
            for lines in results:
                total += len(lines)
                failed += sum(line.endswith("FAILED") for line in lines)
        print(f"| {label} | {total // ROUNDS // 2} | {failed} of {total} |")


if __name__ == "__main__":
    main()
