"""What a process loads: a compiled module imports only the stage modules
it uses and none of the libraries of the stages it does not use; `flowc
check` loads the declarations of the stages the program uses, and neither
the code generator nor the runtime's engine.

Each process writes the names in its `sys.modules` when it exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowlang.compiler import compile_source
from flowlang.source import SourceFile

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """schema R {
  id: int,
  name: str,
}

pipeline main =
  source file("in.jsonl", format=json, schema=R)
  | set tag = upper(name)
  | sink file("out.jsonl")
"""

# libraries of stages, the compiler, editors and tests; none is needed to
# run (or check) a file -> set -> file program
HEAVY = (
    "elasticsearch",
    "aiohttp",
    "nats",
    "aiokafka",
    "influxdb_client",
    "maxminddb",
    "ua_parser",
    "jinja2",
    "black",
    "lark",
    "hypothesis",
    "pygls",
    "pytest",
)
# stage modules the program does not use
OTHER_STAGES = (
    "flowlang.stages.elastic",
    "flowlang.stages.nats_source",
    "flowlang.stages.kafka_sink",
    "flowlang.stages.geoip",
    "flowlang.stages.summarize",
    "flowlang.stages.http_source",
)
# runs `argv` as `python` would (a script, or `-m module`) and, at exit,
# writes the names of every module the process imported
_RUN = """
import atexit, runpy, sys
out, argv = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
if argv[0] == "-m":
    sys.argv = argv[1:]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
"""


def imported(argv: list[str], cwd: Path) -> set[str]:
    """The modules a run of `argv` (it must succeed) had imported when it
    exited (sys.modules: also those loaded by importlib.import_module)."""
    out = cwd / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(out), *argv],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set(out.read_text().split())
    assert "flowlang" in names  # the list was written
    return names


def heavy_among(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY or n in OTHER_STAGES)


@pytest.fixture
def compiled(tmp_path: Path) -> Path:
    (tmp_path / "in.jsonl").write_text(
        "".join(f'{{"id": {i}, "name": "n{i}"}}\n' for i in range(100)), encoding="utf-8"
    )
    (tmp_path / "small.flow").write_text(PROGRAM, encoding="utf-8")
    result = compile_source(SourceFile("small.flow", PROGRAM))
    assert result.ok, result.diagnostics
    module = tmp_path / f"{result.module_name}.py"
    module.write_text(result.code, encoding="utf-8")
    return module


def test_a_compiled_module_imports_only_what_it_uses(compiled: Path):
    names = imported([compiled.name, "--no-status"], compiled.parent)
    assert len((compiled.parent / "out.jsonl").read_text().splitlines()) == 100
    assert {"flowlang.stages.file_source", "flowlang.stages.file_sink"} <= names
    assert heavy_among(names) == []
    # no summary table asked for: no rich
    assert not any(n.split(".")[0] == "rich" for n in names)


def test_the_summary_table_is_the_only_reason_for_rich(compiled: Path):
    names = imported([compiled.name], compiled.parent)
    assert "rich" in names
    assert heavy_among(names) == []


def test_check_loads_neither_the_generator_nor_the_engine(compiled: Path):
    names = imported(["-m", "flowlang.cli", "check", "small.flow"], compiled.parent)
    assert "lark" in names  # checking parses
    assert not {"jinja2", "black", "flowlang.codegen", "flowlang.runtime.engine"} & names
    # the declarations of the stages the program uses, and no others; nor
    # asyncio, which only running needs
    assert {"flowlang.stages.file_source", "flowlang.stages.file_sink"} <= names
    assert [n for n in heavy_among(names) if not n.startswith("lark")] == []
    assert "asyncio" not in names


def test_a_run_from_the_compile_cache_loads_neither_the_generator_nor_black(
    compiled: Path, monkeypatch
):
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(compiled.parent / "cache"))
    first = imported(["-m", "flowlang.cli", "run", "small.flow"], compiled.parent)
    assert "black" in first  # compiled: the generator formats with Black
    again = imported(["-m", "flowlang.cli", "run", "small.flow"], compiled.parent)
    assert not {"black", "jinja2", "flowlang.codegen"} & again
    assert len((compiled.parent / "out.jsonl").read_text().splitlines()) == 200
