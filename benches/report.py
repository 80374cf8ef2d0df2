"""Turn criterion's results for benches/fresh_db.rs into BENCHMARKS.md tables
and an SVG bar chart (no plotting library needed).

    cargo bench --bench fresh_db
    python3 benches/report.py [CRITERION_DIR [SVG_PATH]] > /tmp/tables.md

CRITERION_DIR defaults to target/criterion, SVG_PATH to benches/fresh_db.svg.
"""
import json
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRIT = ROOT / "target" / "criterion"


def load(crit):
    """{tables: {case: median_ns}} from <crit>/**/new/estimates.json."""
    out = {}
    for est in crit.glob("fresh_db_*/**/new/estimates.json"):
        bench = json.loads((est.parent / "benchmark.json").read_text())
        group = bench["group_id"]  # fresh_db/100_tables
        case = bench["function_id"] or ""
        if bench.get("value_str"):
            case = f"{case}/{bench['value_str']}"
        tables = int(group.split("/")[1].split("_")[0])
        median = json.loads(est.read_text())["median"]["point_estimate"]
        out.setdefault(tables, {})[case] = median
    return out


def us(ns):
    return f"{ns / 1000:,.0f} µs" if ns >= 10_000 else f"{ns / 1000:,.1f} µs"


def table(results):
    lines = []
    for tables in sorted(results):
        r = results[tables]
        deser = r["floor: deserialize into :memory:"]
        fresh = r.get("floor: deserialize, new thread each")
        copy = r["floor: fs::copy template + open"]
        naive = r["naive: temp file, tx per migration"]
        lines.append(f"\n### {tables} tables\n")
        lines.append("| case | median per database | × deserialize floor | × copy floor | naive ÷ case |")
        lines.append("|---|---:|---:|---:|---:|")
        for case, ns in sorted(r.items(), key=lambda kv: kv[1]):
            if "threads" in case:
                continue
            lines.append(
                f"| {case} | {us(ns)} | {ns / deser:.2f} | {ns / copy:.2f} | {naive / ns:.1f} |"
            )
        mem_fresh = r.get("TestDb::in_memory, new thread each")
        if fresh and mem_fresh:
            lines.append(
                f"\nOn a new thread per test (as libtest runs them): `TestDb::in_memory` "
                f"{us(mem_fresh)} against the floor's {us(fresh)}: **{mem_fresh / fresh:.2f}x**."
            )
        one = r.get("TestDb::in_memory, threads/1")
        two = r.get("TestDb::in_memory, threads/2")
        if one and two:
            lines.append(
                f"\nThroughput of `TestDb::in_memory`: 1 thread {1e9 / one:,.0f}/s, "
                f"2 threads {1e9 / two:,.0f}/s: **{one / two:.2f}x**."
            )
    return "\n".join(lines)


def svg(results, path):
    """Horizontal bars, log scale, one panel per table count."""
    rows = []
    for tables in sorted(results):
        for case, ns in sorted(results[tables].items(), key=lambda kv: kv[1]):
            if "threads" not in case:
                rows.append((f"{tables} tables: {case}", ns))
    width, left, bar_h, gap = 900, 360, 16, 6
    height = 40 + len(rows) * (bar_h + gap)
    lo, hi = math.log10(50_000), math.log10(max(ns for _, ns in rows) * 1.5)
    def x(ns):
        return left + (math.log10(max(ns, 50_000)) - lo) / (hi - lo) * (width - left - 20)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="16" font-size="13">Fresh migrated database per test: median time (log scale), lower is better</text>',
    ]
    for tick in [0.1, 0.3, 1, 3, 10, 30, 100]:
        ns = tick * 1e6
        if math.log10(ns) <= hi:
            out.append(f'<line x1="{x(ns):.1f}" y1="24" x2="{x(ns):.1f}" y2="{height - 6}" stroke="#ddd"/>')
            out.append(f'<text x="{x(ns) + 2:.1f}" y="32" fill="#666">{tick:g} ms</text>')
    for i, (label, ns) in enumerate(rows):
        y = 40 + i * (bar_h + gap)
        colour = "#2a7" if "TestDb" in label else ("#999" if "floor" in label else "#c55")
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(ns) - left:.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{x(ns) + 4:.1f}" y="{y + 12}">{ns / 1e6:.3g} ms</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    crit = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else CRIT
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "benches" / "fresh_db.svg"
    results = load(crit)
    if not results:
        sys.exit(f"no criterion results under {crit}: run `cargo bench --bench fresh_db` first")
    svg(results, out)
    print(table(results))
