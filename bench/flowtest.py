"""`flowc test`'s cost: the property tests of the shipped examples at the
default example count (wall time per file), and the throughput of one run of
the quickstart pipelines on 20,000 generated records (records/s of the run,
generation excluded, and of generation alone)."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent
RECORDS = 20_000


def _generate(strategy, n: int) -> list:
    out: list = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(rec):
        out.append(rec)

    draw()
    return out


def run() -> list[dict]:
    from flowlang.testing import load

    rows = []
    for path in sorted((ROOT / "examples").glob("*.flow")):
        program = load(path)
        began = time.perf_counter()
        outcomes = program.run_tests(seed=1)
        seconds = time.perf_counter() - began
        props = [o for o in outcomes if o.property]
        rows.append(
            {
                "benchmark": f"flowc test {path.name}",
                "tests": len(outcomes),
                "properties": len(props),
                "runs": sum(o.examples for o in outcomes),
                "records": sum(o.records for o in outcomes),
                "seconds": seconds,
                "note": "all passed" if all(o.passed for o in outcomes) else "FAILED",
            }
        )
    program = load(ROOT / "examples" / "quickstart.flow")
    began = time.perf_counter()
    records = _generate(program.records("events"), RECORDS)
    made = time.perf_counter() - began
    began = time.perf_counter()
    result = program.run({"events": records})
    took = time.perf_counter() - began
    rows.append(
        {
            "benchmark": "generated-input run (quickstart)",
            "records": len(records),
            "run_rps": len(records) / took,
            "generate_rps": len(records) / made,
            "note": f"{len(result.outputs['events'])} out, exit {result.exit_code}",
        }
    )
    return rows
