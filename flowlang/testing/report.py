"""`flowc test`: find the tests in files and directories, run them, and
report like pytest (one line per test, then each failure with the line of
the expectation that failed, the shrunk counterexample and the seed), and
optionally as JUnit XML for CI systems."""

from __future__ import annotations

import os
import shlex
import time
from typing import TextIO

from ..diagnostics import snippet
from . import CompileError, FlowProgram, TestOutcome

OK, FAILED, USAGE = 0, 1, 2


def flow_files(paths: list[str]) -> list[str]:
    """The .flow files named, and those under the directories named (sorted)."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".flow")]
        else:
            found.append(path)
    return found


def run_paths(
    paths: list[str],
    *,
    pattern: str | None,
    examples: int | None,
    seed: int | None,
    junit: str | None,
    out: TextIO,
    err: TextIO,
    colour: bool = False,
) -> int:
    """Run the tests of `paths`; the exit status of `flowc test`."""
    from ..cli import read_source
    from ..diagnostics import render_all

    began = time.perf_counter()
    outcomes: list[tuple[FlowProgram, TestOutcome]] = []
    status = OK
    for path in flow_files(paths):
        src = read_source(path)
        if src is None:
            status = USAGE
            continue
        try:
            program = FlowProgram(src)
        except CompileError as exc:
            print(render_all(exc.diagnostics, src, colour=colour) + "\n", file=err)
            status = USAGE
            continue
        for outcome in program.run_tests(pattern, examples=examples, seed=seed):
            outcomes.append((program, outcome))
            print(_line(outcome), file=out, flush=True)
    failed = [(p, o) for p, o in outcomes if not o.passed]
    if failed:
        print("\n" + " FAILURES ".center(72, "="), file=out)
        for program, outcome in failed:
            print(failure_text(program, outcome, colour), file=out)
    seconds = time.perf_counter() - began
    passed = len(outcomes) - len(failed)
    summary = ", ".join(
        part
        for part in (
            f"{passed} passed" if passed else "",
            f"{len(failed)} failed" if failed else "",
        )
        if part
    )
    if not outcomes and status == OK:
        print(f"flowc: no tests in {' '.join(paths)}", file=err)
        status = USAGE
    print(f" {summary or 'no tests ran'} in {seconds:.2f}s ".center(72, "="), file=out)
    if junit:
        write_junit(junit, [o for _, o in outcomes], seconds)
    if status != OK:
        return status
    return FAILED if failed else OK


def _line(outcome: TestOutcome) -> str:
    verdict = "PASSED" if outcome.passed else "FAILED"
    kind = "property " if outcome.property else ""
    detail = f"{outcome.examples} examples, " if outcome.property else ""
    return f"{outcome.file}::{kind}{outcome.name} {verdict} ({detail}{outcome.seconds:.2f}s)"


def failure_text(program: FlowProgram, outcome: TestOutcome, colour: bool = False) -> str:
    """A failure as `flowc test` shows it."""
    src = program.src
    title = f" {outcome.id} ".center(72, "_")
    span = _first_line(src, outcome.span)
    line, col = src.line_col(span.start)
    written = " ".join(src.text[span.start : span.end].split())
    parts = [
        title,
        f"{src.name}:{line}:{col}: failed: {written}",
        snippet(src, span, None, colour),
        outcome.failure or "",
    ]
    if outcome.counterexample:
        parts.append("counterexample (shrunk; paste it into a `test` to keep it):")
        parts += ["  " + text for text in outcome.counterexample.splitlines()]
    if outcome.seed is not None:
        replay = f"flowc test {shlex.quote(outcome.file)} -k {shlex.quote(outcome.name)}"
        parts.append(f"replay: {replay} --seed {outcome.seed}")
    return "\n".join(parts) + "\n"


def _first_line(src, span):
    from ..source import Span

    end = src.text.find("\n", span.start)
    return Span(span.start, span.end if end < 0 else min(span.end, end))


def write_junit(path: str, outcomes: list[TestOutcome], seconds: float) -> None:
    """JUnit XML: one testsuite per file, one testcase per test."""
    import xml.etree.ElementTree as ET

    root = ET.Element(
        "testsuites",
        tests=str(len(outcomes)),
        failures=str(sum(not o.passed for o in outcomes)),
        time=f"{seconds:.3f}",
    )
    suites: dict[str, ET.Element] = {}
    for o in outcomes:
        suite = suites.get(o.file)
        if suite is None:
            suite = suites[o.file] = ET.SubElement(root, "testsuite", name=o.file)
        case = ET.SubElement(
            suite, "testcase", classname=o.file, name=o.name, time=f"{o.seconds:.3f}"
        )
        if not o.passed:
            failure = ET.SubElement(case, "failure", message=(o.failure or "").splitlines()[0])
            failure.text = "\n".join(
                filter(
                    None,
                    (o.failure, o.counterexample, f"seed {o.seed}" if o.seed is not None else None),
                )
            )
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
        suite.set("time", f"{sum(float(c.get('time')) for c in cases):.3f}")
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
