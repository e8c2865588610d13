"""Running a compiled program against a hand-written loop, in one process."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Callable

import orjson


def compile_flow(workdir: Path, name: str, text: str):
    """Compile `text` with the real compiler; the generated module's `build`."""
    from flowlang.compile_cache import load_module
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    result = compile_source(SourceFile(f"{name}.flow", text))
    assert result.ok, result.diagnostics
    module_path = workdir / f"{result.module_name}.py"
    module_path.write_text(result.code)
    return load_module(module_path).build


def run_compiled(build, state: Path) -> None:
    from flowlang.runtime.context import Context
    from flowlang.runtime.launch import run_program

    with contextlib.redirect_stderr(io.StringIO()):
        outcome = run_program(build, Context(state_dir=str(state), status=False))
    assert outcome.exit_code == 0, outcome.failure


def race(
    program: str,
    make_input: Callable[[Path, int], None],
    hand_written: Callable[[Path, Path], int],
    records: int,
    rounds: int,
    name: str,
) -> tuple[float, float]:
    """Best-of-`rounds` seconds of the compiled `program` (with `{input}` and
    `{output}` placeholders) and of `hand_written(src, dst)` on the same
    input; both must write the same records."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "in.jsonl"
        make_input(src, records)
        build = compile_flow(work, name, program.format(input=src, output=work / "compiled.jsonl"))
        best_compiled = best_hand = float("inf")
        for _ in range(rounds):
            for out in ("compiled.jsonl", "hand.jsonl"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(work / out)
            t = time.perf_counter()
            run_compiled(build, work / "state")
            best_compiled = min(best_compiled, time.perf_counter() - t)
            t = time.perf_counter()
            hand_written(src, work / "hand.jsonl")
            best_hand = min(best_hand, time.perf_counter() - t)
        compiled = [orjson.loads(x) for x in open(work / "compiled.jsonl", "rb")]
        hand = [orjson.loads(x) for x in open(work / "hand.jsonl", "rb")]
        assert compiled == hand, "compiled and hand-written outputs differ"
    return best_compiled, best_hand


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM belongs to the process image, whereas
    ru_maxrss keeps the high-water mark of the parent it was forked from."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
