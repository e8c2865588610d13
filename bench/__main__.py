"""Run every benchmark module listed here and print one table."""

from __future__ import annotations

import importlib
import sys
import time
import traceback

# an explicit list: add a module here to have `make bench` run it
MODULES = [
    "bench.frontend",
    "bench.startup",
    "bench.pipeline",
    "bench.enrich",
    "bench.parse",
    "bench.summarize",
    "bench.nats",
    "bench.kafka",
    "bench.elastic",
    "bench.flowtest",
]


def _figure(value: object) -> str:
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Rows as a plain table: benchmark, its figures (`name=value`), note."""
    cells = []
    for row in rows:
        figures = "  ".join(
            f"{k}={_figure(v)}" for k, v in row.items() if k not in ("benchmark", "note")
        )
        cells.append((str(row.get("benchmark", "?")), figures, str(row.get("note", ""))))
    header = ("benchmark", "figures", "note")
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(3)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip() for cell in cells]
    return "\n".join(lines)


def main(names: list[str]) -> int:
    """Run the modules named in `names` (all of MODULES when empty)."""
    rows: list[dict] = []
    failed = False
    for name in names or MODULES:
        started = time.perf_counter()
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            module_rows = importlib.import_module(name).run()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the rest
            traceback.print_exc()
            failed = True
            module_rows = [{"benchmark": name, "note": f"FAILED: {type(exc).__name__}: {exc}"}]
        rows.extend(module_rows)
        print(f"  {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    print(format_table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
