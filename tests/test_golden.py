"""Golden files of generated code: the compiler's output for a few programs,
byte for byte. After a deliberate change, `make regen` rewrites them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlang.compiler import compile_source
from flowlang.source import SourceFile

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.flow"))


def generated(flow: Path) -> str:
    src = SourceFile(flow.name, flow.read_text(encoding="utf-8"))
    result = compile_source(src)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code


def regenerate() -> list[Path]:
    """Rewrite every golden module; returns the files written."""
    written = []
    for flow in CASES:
        target = flow.with_name(flow.stem + "_flow.py.golden")
        target.write_text(generated(flow), encoding="utf-8")
        written.append(target)
    return written


def test_there_are_golden_cases():
    assert len(CASES) >= 3


@pytest.mark.parametrize("flow", CASES, ids=lambda p: p.stem)
def test_generated_code_matches_golden(flow: Path):
    expected = flow.with_name(flow.stem + "_flow.py.golden").read_text(encoding="utf-8")
    assert generated(flow) == expected


@pytest.mark.parametrize("flow", CASES, ids=lambda p: p.stem)
def test_generated_code_is_stable_and_compiles(flow: Path):
    first, second = generated(flow), generated(flow)
    assert first == second
    compile(first, flow.stem + "_flow.py", "exec")
    assert first.startswith(f"# generated from {flow.name} by flowc")
