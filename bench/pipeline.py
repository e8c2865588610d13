"""Compiled `file(json) | where | set | drop | sink file` against a hand-written
loop doing the same work with the same libraries, in the same process."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from ._harness import race

RECORDS = 300_000
ROUNDS = 3

PROGRAM = """
pipeline bench =
  source file("{input}", format=json)
  | where status >= 500 or latency > 250.0
  | set slow = latency > 1000.0, kind = "server"
  | drop agent
  | sink file("{output}")
"""


def _make_input(path: Path, n: int) -> None:
    rnd = random.Random(1)
    with open(path, "wb") as f:
        for i in range(n):
            rec = {
                "id": i,
                "status": rnd.choice((200, 200, 200, 404, 500, 503)),
                "latency": round(rnd.uniform(1, 2000), 2),
                "path": "/api/items/%d" % rnd.randrange(1000),
                "agent": "Mozilla/5.0 (X11; Linux x86_64)",
            }
            f.write(orjson.dumps(rec) + b"\n")


def hand_written(src: Path, dst: Path) -> int:
    """The baseline: what one would write by hand for this pipeline."""
    loads, dumps = orjson.loads, orjson.dumps
    n = 0
    with open(src, "rb") as inp, open(dst, "ab") as out:
        batch = []
        for line in inp:
            rec = loads(line)
            if not (rec["status"] >= 500 or rec["latency"] > 250.0):
                continue
            rec["slow"] = rec["latency"] > 1000.0
            rec["kind"] = "server"
            rec.pop("agent", None)
            batch.append(dumps(rec))
            n += 1
            if len(batch) >= 1024:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return n


def run() -> list[dict]:
    best_compiled, best_hand = race(PROGRAM, _make_input, hand_written, RECORDS, ROUNDS, "bench")
    rps, base = RECORDS / best_compiled, RECORDS / best_hand
    return [
        {
            "benchmark": "file(json) | where | set | drop | sink file",
            "records_per_s": rps,
            "baseline_records_per_s": base,
            "ratio": rps / base,
            "note": f"{RECORDS:,} records, best of {ROUNDS}; target ratio >= 0.8",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
