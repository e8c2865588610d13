"""Golden files of generated code: the compiler's output for a few programs,
byte for byte, the checked plan each one lowers to (`NAME.plan`, as `flowc
debug plan` prints it), and what each golden module writes when it runs on
its sample input (`NAME.input/` → `NAME.expected/`, see tests/golden_runs.py).
After a deliberate change, `make regen` rewrites them."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from flowlang.compiler import compile_source
from flowlang.debug import dump
from flowlang.source import SourceFile
from tests import golden_runs

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.flow"))


def generated(flow: Path) -> str:
    src = SourceFile(flow.name, flow.read_text(encoding="utf-8"))
    result = compile_source(src)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.code


def plan_text(flow: Path) -> str:
    src = SourceFile(flow.name, flow.read_text(encoding="utf-8"))
    result = compile_source(src)
    assert result.ok, [d.message for d in result.diagnostics]
    return dump(result.plan, src)


def regenerate() -> list[Path]:
    """Rewrite every golden module, plan and expected output; returns the
    files written."""
    import tempfile

    written = []
    for flow in CASES:
        target = flow.with_name(flow.stem + "_flow.py.golden")
        target.write_text(generated(flow), encoding="utf-8")
        plan = flow.with_suffix(".plan")
        plan.write_text(plan_text(flow), encoding="utf-8")
        written += [target, plan]
    with contextlib.ExitStack() as servers:
        url = None
        for flow in golden_runs.run_cases():
            if golden_runs.indices(flow) and url is None:
                from osmem_server import OsmemServer

                from tests.fixtures.search import SearchProxy

                server = OsmemServer.start(japanese=False, addr="127.0.0.1:0")
                servers.callback(server.close)
                url = servers.enter_context(SearchProxy(server.url)).url
            with tempfile.TemporaryDirectory() as work:
                produced = golden_runs.run(flow, Path(work), url)
            written += golden_runs.write_expected(flow, produced)
    return written


def test_there_are_golden_cases():
    assert len(CASES) >= 4
    # every golden module also runs: on input with repeats, records a stage
    # drops, windows and records that go to an error stream
    assert golden_runs.run_cases() == CASES


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


@pytest.mark.parametrize("flow", CASES, ids=lambda p: p.stem)
def test_the_plan_matches_its_snapshot(flow: Path):
    assert plan_text(flow) == flow.with_suffix(".plan").read_text(encoding="utf-8")


@pytest.mark.parametrize("flow", golden_runs.run_cases(), ids=lambda p: p.stem)
def test_the_golden_module_writes_the_expected_output(flow: Path, tmp_path: Path, request):
    url = request.getfixturevalue("elastic_url") if golden_runs.indices(flow) else None
    produced = golden_runs.run(flow, tmp_path, url)
    assert produced == golden_runs.expected(flow)
    assert any(text for text in produced.values())
