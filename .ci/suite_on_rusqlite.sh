#!/usr/bin/env bash
# Runs the crate's own test suite (unit, integration, doc tests) against one
# rusqlite version, in a copy of the checkout.
#
# The crate accepts rusqlite >=0.32, <0.44, and its own Cargo.lock resolves
# to the oldest, 0.32.1: the optional sqlx 0.8 dependency pins
# libsqlite3-sys 0.30 (a lockfile holds every optional dependency). To test
# another version, the copy drops the optional sqlx/diesel integrations
# (their suites are the consumer crates under consumers/) and resolves
# rusqlite to the version asked for.
#
# Usage: .ci/suite_on_rusqlite.sh VERSION   (e.g. 0.43.0)
set -euo pipefail
version=$1
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The checkout as git sees it (tracked and new files), without build output.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && tar --null -cf - -T -) | tar -xf - -C "$work"
python3 "$root/.ci/without_integrations.py" "$work/Cargo.toml"
cd "$work"
rm -f Cargo.lock
cargo generate-lockfile --quiet
cargo update --quiet -p rusqlite --precise "$version"
got=$(cargo tree -e normal -p migrate-once --depth 1 --prefix none | grep '^rusqlite ' | awk '{print $2}')
echo "rusqlite in this run: $got"
[ "$got" = "v$version" ] || { echo "expected rusqlite $version, got $got"; exit 1; }
CARGO_TARGET_DIR="$root/target/rusqlite-$version" cargo test --all-features
