"""What a process loads: a compiled module imports only the stage modules
it uses and none of the libraries of the stages it does not use; `flowc
check` loads neither the code generator nor the runtime's engine.

Each process runs under `python -X importtime`, whose report (on stderr)
names every module the process imported."""

from __future__ import annotations

import os
import re
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
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.M)


def imported(argv: list[str], cwd: Path) -> set[str]:
    """The modules a `python -X importtime` run of `argv` imported (it must succeed)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set(_IMPORTED.findall(done.stderr))
    assert "flowlang" in names  # the report was read
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
    assert not any(
        n.split(".")[0] in ("elasticsearch", "aiohttp", "nats", "aiokafka") for n in names
    )
