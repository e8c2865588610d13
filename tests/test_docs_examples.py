"""The examples in docs/*.md, README.md and ARCHITECTURE.md are real: every fenced ```flow block checks
clean, every ```flow-error block produces at least one error diagnostic, and a
```flow block followed by ```jsonl input and ```jsonl output blocks, run on
that input, writes exactly that output."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowlang.checker import check
from flowlang.diagnostics import render_all
from flowlang.parser import parse
from flowlang.source import SourceFile
from tests.flowrun import run_flow

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    where: str  # page:line
    info: str  # the fence's info string: "flow", "flow-error", "jsonl input", …
    text: str


def blocks() -> list[Block]:
    """Every fenced block of every doc page, in order."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(f"{page.name}:{line}", match.group(1).strip(), match.group(2)))
    return found


BLOCKS = blocks()
PROGRAMS = [b for b in BLOCKS if b.info in ("flow", "flow-error")]
RUNS = [
    (program, given.text, expected.text)
    for program, given, expected in zip(BLOCKS, BLOCKS[1:], BLOCKS[2:])
    if program.info == "flow" and given.info == "jsonl input" and expected.info == "jsonl output"
]


def diagnostics_of(name: str, text: str):
    src = SourceFile(name, text)
    program, diags = parse(src)
    diags = list(diags)
    if program is not None and not any(d.is_error for d in diags):
        _, more = check(program, src)
        diags.extend(more)
    return src, diags


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_language_reference_has_examples_of_every_kind():
    page = [b for b in PROGRAMS if b.where.startswith("language.md")]
    assert {b.info for b in page} == {"flow", "flow-error"}
    assert sum(1 for p, _, _ in RUNS if p.where.startswith("language.md")) >= 5


@pytest.mark.parametrize("block", PROGRAMS, ids=[b.where for b in PROGRAMS])
def test_doc_example_checks(block):
    src, diags = diagnostics_of("example.flow", block.text)
    errors = [d for d in diags if d.is_error]
    if block.info == "flow":
        assert not errors, f"{block.where}\n{render_all(errors, src)}"
    else:
        assert errors, f"{block.where}: this example should be rejected but checks clean"


@pytest.mark.parametrize(("program", "given", "expected"), RUNS, ids=[r[0].where for r in RUNS])
def test_doc_example_output(program, given, expected, tmp_path):
    result = run_flow(program.text, tmp_path, records=jsonl(given))
    assert result.exit_code == 0, result.stderr
    assert result.output == jsonl(expected), program.where


FLOW_TESTS = [b for b in BLOCKS if b.info == "flow-test"]


@pytest.mark.parametrize("block", FLOW_TESTS, ids=[b.where for b in FLOW_TESTS])
def test_doc_flow_tests_pass(block):
    from flowlang.testing import load_text

    outcomes = load_text(block.text, "example.flow").run_tests(seed=1)
    assert outcomes, f"{block.where} has no tests"
    assert [o.failure for o in outcomes if not o.passed] == [], block.where


def test_testing_page_python_example_runs(tmp_path, monkeypatch):
    page = [b for b in BLOCKS if b.where.startswith("testing.md")]
    program = next(b for b in page if b.info == "flow-test")
    (python,) = [b for b in page if b.info == "python"]
    (tmp_path / "events.flow").write_text(program.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(python.text, f"docs/{python.where}", "exec"), namespace)
    tests = [fn for name, fn in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for fn in tests:
        fn()


SCRAPES = [
    (program, given, scraped)
    for program, given, scraped in zip(BLOCKS, BLOCKS[1:], BLOCKS[2:])
    if program.info == "flow"
    and given.info == "jsonl input"
    and scraped.info.startswith("prometheus ")
]


def test_operations_page_has_a_scrape():
    assert [p.where.split(":")[0] for p, _, _ in SCRAPES] == ["operations.md"]


@pytest.mark.parametrize(
    ("program", "given", "scraped"), SCRAPES, ids=[s[0].where for s in SCRAPES]
)
def test_doc_scrape_shows_what_metrics_serves(program, given, scraped, tmp_path):
    """A ```prometheus FILE block after a program and its input: `flowc run
    FILE --http` on that input (its source followed) serves every sample shown."""
    import time

    from tests.runtime.test_monitor import samples_of, scrape, served_url, start_flowc, stop

    (tmp_path / "input.jsonl").write_text(given.text)
    name = scraped.info.split()[1]
    wanted = samples_of(scraped.text)
    run = start_flowc(tmp_path, program.text, "--http", "127.0.0.1:0", name=name)
    try:
        base = served_url(tmp_path, run)
        deadline = time.monotonic() + 60
        while True:  # until the input is read and written, and acknowledged
            got = scrape(base)
            shown = {k: got.get(k) for k in wanted}
            if shown == wanted or time.monotonic() > deadline or run.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        stderr = stop(run, tmp_path)
    assert run.returncode == 0, stderr
    assert shown == wanted, scraped.where
