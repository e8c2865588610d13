"""Compiled `file(json) | where | set | drop | sink file` against a hand-written
loop doing the same work with the same libraries, in the same process."""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
import time
from pathlib import Path

import orjson

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


def _compiled(workdir: Path, src: Path, dst: Path):
    from flowlang.compiler import compile_source
    from flowlang.runner import load_module
    from flowlang.source import SourceFile

    text = PROGRAM.format(input=src, output=dst)
    result = compile_source(SourceFile("bench.flow", text))
    assert result.ok, result.diagnostics
    module_path = workdir / "bench_flow.py"
    module_path.write_text(result.code)
    return load_module(module_path).build


def _run_compiled(build, state: Path) -> None:
    from flowlang.runtime.cli import run_program
    from flowlang.runtime.context import Context

    with contextlib.redirect_stderr(io.StringIO()):
        outcome = run_program(build, Context(state_dir=str(state), status=False))
    assert outcome.exit_code == 0, outcome.failure


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "in.jsonl"
        _make_input(src, RECORDS)
        build = _compiled(work, src, work / "compiled.jsonl")
        best_compiled = best_hand = float("inf")
        for _ in range(ROUNDS):
            for out in ("compiled.jsonl", "hand.jsonl"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(work / out)
            t = time.perf_counter()
            _run_compiled(build, work / "state")
            best_compiled = min(best_compiled, time.perf_counter() - t)
            t = time.perf_counter()
            hand_written(src, work / "hand.jsonl")
            best_hand = min(best_hand, time.perf_counter() - t)
        # same work: the outputs hold the same records
        compiled = [orjson.loads(x) for x in open(work / "compiled.jsonl", "rb")]
        hand = [orjson.loads(x) for x in open(work / "hand.jsonl", "rb")]
        assert compiled == hand, "compiled and hand-written outputs differ"
    rps, base = RECORDS / best_compiled, RECORDS / best_hand
    return [{
        "benchmark": "file(json) | where | set | drop | sink file",
        "records_per_s": rps,
        "baseline_records_per_s": base,
        "ratio": rps / base,
        "note": f"{RECORDS:,} records, best of {ROUNDS}; target ratio >= 0.8",
    }]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
