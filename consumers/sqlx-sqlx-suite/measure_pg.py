#!/usr/bin/env python3
"""A Postgres database per test at 100 tables: `#[sqlx::test]`, a plain
template copy per test (pgtestdb's way), and `#[migrate_once::sqlx_test]`
without and with copies made ahead, side by side in one run
(`tests/pg_generated_100.rs`, twenty tests a group).

For each runner (the test binary as `cargo test` runs it, two threads; and
`cargo nextest run`, a process per test) and each test length (`BODY_MS`:
0, and 200 ms, longer than a copy), every group runs ROUNDS times (the
groups' order rotated). Printed per group:

- the wait a test sees: from its test function's start to its body's
  first line (the database, pool and connection made), median and p95
  over every test of every round;
- the wall time of the group less that of the no-database group, per test
  (what a test costs the run, its database's drop included);
- the server's CPU time per test (the postmaster's and its children's,
  from /proc; the group's less the no-database group's).

Needs a server: run it as

    cargo run --bin with-postgres -- python3 measure_pg.py

(DATABASE_URL's server, or migrate-once's shared throwaway one). Builds
first and never times a build. CARGO_TARGET_DIR is honoured. Prints
markdown.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("ROUNDS", "3"))
GROUPS = {
    "sqlx_test": "t_sqlx_test::",
    "plain_copy": "plain_copy_",
    "migrate_once_plain": "t_migrate_once::",
    "migrate_once_ahead": "t_migrate_once::",
    "no_db": "no_db_",
}
NEXTEST = {
    "sqlx_test": "test(/^t_sqlx_test::/)",
    "plain_copy": "test(/^plain_copy_/)",
    "migrate_once_plain": "test(/^t_migrate_once::/)",
    "migrate_once_ahead": "test(/^t_migrate_once::/)",
    "no_db": "test(/^no_db_/)",
}
# Copies made ahead: off for the plain row, on (the default) otherwise.
AHEAD = {"migrate_once_plain": "0"}
GROUP = 20
TICK = os.sysconf("SC_CLK_TCK")


def postmaster():
    """The server's process id, from its data directory (a local server)."""
    url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
    host = urllib.parse.unquote(url.hostname or "") if url.hostname else ""
    host = urllib.parse.unquote(url.netloc.split("@")[-1].rsplit(":", 1)[0])
    pid_file = Path(host) / "data" / "postmaster.pid"
    return int(pid_file.read_text().split()[0])


def server_cpu(pid):
    """Seconds of CPU the server has used: the postmaster, its reaped
    children, and the children alive now."""
    def fields(p):
        stat = Path(f"/proc/{p}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()
    total = 0
    f = fields(pid)
    total += sum(int(x) for x in f[11:15])
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            f = fields(p)
        except OSError:
            continue
        if int(f[1]) == pid:
            total += int(f[11]) + int(f[12])
    return total / TICK


def build():
    cmd = ["cargo", "test", "--no-run", "--message-format=json", "--features", "migrate-once",
           "--manifest-path", str(HERE / "Cargo.toml"), "--test", "pg_generated_100"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
                and msg["profile"]["test"] and msg["target"]["name"] == "pg_generated_100"):
            return msg["executable"]
    sys.exit("no test binary")


def p95(xs):
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * 95 // 100) - 1)]


def run_group(cmd, env):
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        env = dict(env, MEASURE_OUT=out.name)
        pid = postmaster()
        cpu0 = server_cpu(pid)
        start = time.perf_counter()
        p = subprocess.run(cmd, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        # Drops run off the tests' threads: let them land before reading.
        time.sleep(1.0)
        cpu = server_cpu(pid) - cpu0
        if p.returncode != 0:
            sys.exit(f"{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        waits = [int(line.split()[1]) / 1000 for line in open(out.name)]
    if len(waits) != GROUP:
        sys.exit(f"{cmd}: {len(waits)} timings, not {GROUP}")
    return wall, cpu, waits


def measure(title, runner, body_ms):
    env = dict(os.environ, BODY_MS=str(body_ms))
    walls = {g: [] for g in GROUPS}
    cpus = {g: [] for g in GROUPS}
    waits = {g: [] for g in GROUPS}
    names = list(GROUPS)
    for r in range(ROUNDS):
        for g in names[r % len(names):] + names[: r % len(names)]:
            wall, cpu, w = run_group(runner(g), dict(env, MIGRATE_ONCE_PG_AHEAD=AHEAD.get(g, "1")))
            walls[g].append(wall)
            cpus[g].append(cpu)
            waits[g].extend(w)
    base_wall = statistics.median(walls["no_db"])
    base_cpu = statistics.median(cpus["no_db"])
    print(f"\n### {title}, test body {body_ms} ms ({ROUNDS} rounds x {GROUP} tests)\n")
    print("| per test | wait, median | wait, p95 | run time less no-db | server CPU |")
    print("|---|---:|---:|---:|---:|")
    sqlx = None
    for g in ["sqlx_test", "plain_copy", "migrate_once_plain", "migrate_once_ahead", "no_db"]:
        med = statistics.median(waits[g])
        cost = (statistics.median(walls[g]) - base_wall) / GROUP * 1000
        cpu = (statistics.median(cpus[g]) - base_cpu) / GROUP * 1000
        if g == "sqlx_test":
            sqlx = med
        ratio = f" ({sqlx / med:.1f}x)" if g != "sqlx_test" and g != "no_db" and med > 0 else ""
        print(f"| {g} | {med:.1f} ms{ratio} | {p95(waits[g]):.1f} ms | {cost:.1f} ms | {cpu:.1f} ms |")


def main():
    binary = build()
    threads = str(os.cpu_count())
    nextest = subprocess.run(["cargo", "nextest", "--version"], capture_output=True).returncode == 0
    # Warm: the templates, the page cache.
    subprocess.run([binary, "--test-threads=2", "t_migrate_once::migrate_once_00", "plain_copy_00"],
                   cwd=HERE, check=True, stdout=subprocess.DEVNULL)
    for body_ms in [0, 200]:
        measure(f"`cargo test` ({threads} threads)",
                lambda g: [binary, f"--test-threads={threads}", GROUPS[g]], body_ms)
        if nextest:
            measure(f"`cargo nextest run` ({threads} threads)",
                    lambda g: ["cargo", "nextest", "run", "--features", "migrate-once", "--manifest-path",
                               str(HERE / "Cargo.toml"), "--test", "pg_generated_100", "--no-fail-fast",
                               "--status-level", "none", "--final-status-level", "none",
                               "-E", NEXTEST[g]], body_ms)


if __name__ == "__main__":
    main()
