"""Removes the optional sqlx and diesel integrations from a copy of the
crate's Cargo.toml (see suite_on_rusqlite.sh): their dependencies (the
attribute's macros crate and runtime included), the dev dependencies their
examples use, and their features. Fails unless exactly
those lines go and the result still parses."""
import sys
import tomllib

path = sys.argv[1]
lines = open(path).read().split("\n")
drop_prefixes = (
    "sqlx08 =", "sqlx09 =", "diesel2 =", "migrate-once-macros =", "tokio =",
    "sqlx-0_8 =", "sqlx-0_9 =", "diesel-2 =", "postgres-sqlx-0_8 =", "postgres-sqlx-0_9 =",
)
kept = [l for l in lines if not l.startswith(drop_prefixes)]
dropped = len(lines) - len(kept)
# sqlx08, sqlx09, diesel2, migrate-once-macros and tokio (`#[sqlx_test]`)
# (dependencies); tokio, sqlx08, sqlx09 (dev); five features.
if dropped != 13:
    sys.exit(f"expected to drop 13 lines from {path}, dropped {dropped}")
text = "\n".join(kept)
manifest = tomllib.loads(text)
assert not any("sqlx0" in f for f in manifest["features"].get("postgres", [])), "postgres feature"
for section in ("dependencies", "dev-dependencies"):
    for name in ("sqlx08", "sqlx09", "diesel2", "migrate-once-macros", "tokio"):
        assert name not in manifest.get(section, {}), (section, name)
open(path, "w").write(text)
