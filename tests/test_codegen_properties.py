"""Properties of generated code, over generated programs: it always compiles,
Black leaves it as it is, and the same program always gives the same bytes
(also in another process with another hash seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import black
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlang.compiler import compile_source
from flowlang.source import SourceFile
from tests.test_differential import FLOW_NAME, programs

ROOT = Path(__file__).resolve().parent.parent
BLACK_MODE = black.Mode(target_versions={black.TargetVersion.PY311})

SINKS = (
    'sink file("output.jsonl")',
    "sink stdout",
    "sink stdout(format=pretty)",
    "sink null",
)
PROGRAMS = st.builds(
    lambda source, sink: programs(source=source, sink=sink),
    st.sampled_from(("file", "stdin")),
    st.sampled_from(SINKS),
).flatmap(lambda strategy: strategy)

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def generate(text: str) -> str:
    result = compile_source(SourceFile(FLOW_NAME, text))
    assert result.ok, result.diagnostics
    return result.code


@SETTINGS
@given(PROGRAMS)
def test_generated_code_compiles_is_black_stable_and_deterministic(gen):
    code = generate(gen.text)
    compile(code, "generated.py", "exec")
    assert code.startswith(f"# generated from {FLOW_NAME}")
    assert black.format_str(code, mode=BLACK_MODE) == code
    assert generate(gen.text) == code


def test_black_is_the_pinned_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("black")]
    assert pins == [f"black=={black.__version__}"]


_GENERATE_IN_CHILD = """
import json, sys
from flowlang.compiler import compile_source
from flowlang.source import SourceFile
texts = json.load(sys.stdin)
json.dump([compile_source(SourceFile("test.flow", t)).code for t in texts], sys.stdout)
"""


def test_same_bytes_in_processes_with_different_hash_seeds():
    texts = []

    @settings(
        max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(PROGRAMS)
    def collect(gen):
        texts.append(gen.text)

    collect()
    outputs = []
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", _GENERATE_IN_CHILD],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
            env=dict(os.environ, PYTHONHASHSEED=seed),
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1] == [generate(t) for t in texts]
