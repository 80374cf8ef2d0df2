"""Fail if any dependency declares a rust-version newer than ours.

Only one toolchain is available where CI runs, so the MSRV is checked two
ways: clippy's `incompatible_msrv` lint (which reads `rust-version`) catches
our own use of newer std APIs, and this script catches dependencies that
would not build on it. Only what a user's build compiles counts: normal and
build dependencies, not dev-dependencies (benches compare against peers that
need a newer Rust, and users never build them).

One optional dependency is exempt, and says so where it is declared: the
`sqlx-0_9` feature brings sqlx 0.9, which itself needs Rust 1.94; a user on
sqlx 0.9 has that Rust already.
"""
import json
import subprocess
import sys


def parse(v):
    return tuple(int(x) for x in v.split(".")) + (0,) * (3 - len(v.split(".")))


meta = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"]
    )
)
ours = next(p for p in meta["packages"] if p["name"] == "migrate-once")
msrv = ours["rust_version"]
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
EXEMPT = {"sqlx09"}
resolved, todo = set(), [ours["id"]]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        if node["id"] == ours["id"] and dep["name"] in EXEMPT:
            continue
        if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]) and dep["pkg"] not in resolved:
            resolved.add(dep["pkg"])
            todo.append(dep["pkg"])
too_new = [
    (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p["id"] in resolved and p.get("rust_version") and parse(p["rust_version"]) > parse(msrv)
]
if too_new:
    for name, version, rv in too_new:
        print(f"{name} {version} needs Rust {rv}, newer than rust-version {msrv}")
    sys.exit(1)
print(f"rust-version {msrv}: every dependency that declares one accepts it")
