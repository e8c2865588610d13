"""Start-up: the wall time of whole processes, median of ROUNDS runs each.

- a compiled module (file -> set -> file) reading 100 records, beside a
  hand-written script doing the same with orjson (target: 0.25 s);
- `flowc check` of that small file (target: 0.3 s), and of bench.frontend's
  5,000-line file (no target of its own: bench.frontend times its front end).

`seconds` is measured with the modules' bytecode cached, as for an
installed package (the cache lives in a temporary PYTHONPYCACHEPREFIX and
is filled by one run first); `no_pyc_s` under PYTHONDONTWRITEBYTECODE=1,
where a module without bytecode beside its source (flowlang's own, in a
checkout) is compiled from source by every process. `cpu_s` (user +
system) varies less than wall time with the machine's load. `python_s` is
the bare interpreter's start-up.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 9
RECORDS = 100
RUN_TARGET_S = 0.25
CHECK_TARGET_S = 0.3
ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """schema R {
  id: int,
  name: str,
  v: float,
}

pipeline main =
  source file("in.jsonl", format=json, schema=R)
  | set w = v * 2.0, tag = upper(name)
  | sink file("out.jsonl")
"""

HAND_WRITTEN = """import orjson
with open("in.jsonl", "rb") as src, open("hand.jsonl", "wb") as dst:
    out = []
    for line in src:
        rec = orjson.loads(line)
        rec["w"] = rec["v"] * 2.0
        rec["tag"] = rec["name"].upper()
        out.append(orjson.dumps(rec))
    dst.write(b"\\n".join(out) + b"\\n")
"""


def _env(work: Path, bytecode: bool = True) -> dict[str, str]:
    """The environment of a measured process: this checkout's flowlang;
    flowc's own cache (the parser's tables) in `work`, filled by the first
    run and shared with no other version of flowc; bytecode cached in `work`
    too, or (`bytecode=False`) none at all."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), FLOWC_CACHE_DIR=str(work / "flowc-cache"))
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pyc")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def median_times(
    argv: list[str], cwd: Path, env: dict[str, str], rounds: int = ROUNDS
) -> tuple[float, float]:
    """The median wall time and CPU time (user + system) of `rounds` runs of
    `argv` in `cwd` (after one run that fills the bytecode cache); each run
    must succeed, and each starts without the outputs and state of the one
    before. The CPU time varies less with the load of the machine."""
    from flowlang.runtime.context import DEFAULT_STATE_DIR

    walls, cpus = [], []
    for i in range(rounds + 1):
        for name in ("out.jsonl", "hand.jsonl"):
            (cwd / name).unlink(missing_ok=True)
        shutil.rmtree(cwd / DEFAULT_STATE_DIR, ignore_errors=True)
        t = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:
            walls.append(time.perf_counter() - t)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _setup(work: Path) -> Path:
    import orjson

    from bench import frontend
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    with open(work / "in.jsonl", "wb") as f:
        for i in range(RECORDS):
            f.write(orjson.dumps({"id": i, "name": f"n{i}", "v": i * 1.5}) + b"\n")
    (work / "small.flow").write_text(PROGRAM)
    (work / "big.flow").write_text(frontend.generate())
    (work / "hand.py").write_text(HAND_WRITTEN)
    result = compile_source(SourceFile("small.flow", PROGRAM))
    assert result.ok, result.diagnostics
    module = work / f"{result.module_name}.py"
    module.write_text(result.code)
    return module


def _figures(work: Path, argv: list[str], rounds: int) -> dict[str, float]:
    wall, cpu = median_times(argv, work, _env(work), rounds)
    no_pyc, _ = median_times(argv, work, _env(work, bytecode=False), rounds)
    return {"seconds": wall, "cpu_s": cpu, "no_pyc_s": no_pyc}


def measure(rounds: int = ROUNDS) -> list[dict]:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        module = _setup(work)
        python_s, _ = median_times([py, "-c", "pass"], work, _env(work), rounds)
        hand = _figures(work, [py, "hand.py"], rounds)
        compiled = _figures(work, [py, module.name, "--no-status"], rounds)
        compiled_table, _ = median_times([py, module.name], work, _env(work), rounds)
        written = (work / "out.jsonl").read_bytes().splitlines()
        assert len(written) == RECORDS, len(written)
        check = _figures(work, [py, "-m", "flowlang.cli", "check", "small.flow"], rounds)
        big, big_cpu = median_times(
            [py, "-m", "flowlang.cli", "check", "big.flow"], work, _env(work), rounds
        )
    return [
        {
            "benchmark": f"start-up: compiled module reading {RECORDS} records",
            **compiled,
            "with_table_s": compiled_table,
            "hand_s": hand["seconds"],
            "ratio_vs_hand": compiled["seconds"] / hand["seconds"],
            "python_s": python_s,
            "note": f"median of {rounds} processes (--no-status; with_table_s prints the "
            f"summary); target {RUN_TARGET_S} s "
            f"({'met' if max(compiled['seconds'], compiled_table) <= RUN_TARGET_S else 'missed'})",
        },
        {
            "benchmark": "start-up: flowc check of a 10-line file",
            **check,
            "python_s": python_s,
            "note": f"median of {rounds} processes; target {CHECK_TARGET_S} s "
            f"({'met' if check['seconds'] <= CHECK_TARGET_S else 'missed'})",
        },
        {
            "benchmark": "start-up: flowc check of the 5,000-line file",
            "seconds": big,
            "cpu_s": big_cpu,
            "note": f"median of {rounds} processes; the whole process, beside "
            "bench.frontend's parse + check in one process",
        },
    ]


def run() -> list[dict]:
    return measure()


if __name__ == "__main__":
    for row in run():
        print(row)
