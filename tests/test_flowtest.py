"""`flowc test`, `flowlang.testing` and the .flow pytest plugin: tests written in
the language run on the real generated pipelines, find real bugs (mutants of
the shipped examples), shrink what they find, and report like pytest."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.testing import CompileError, load, load_text
from flowlang.testing.literals import value_literal
from flowlang.testing.suite import conformance
from flowlang.types import ANY, DURATION, FLOAT, INT, IP, STR, TIME, ListT, Nullable, RecordT

from .flowrun import FLOWC

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
UTC = dt.timezone.utc

PROGRAM = """\
schema Event { ts: time, status: int, path: str, latency_ms: float, email: str? }
pipeline events = source file("in.jsonl", format=json, schema=Event)
  | set slow = latency_ms > 250.0
  | sink file("out.jsonl")
pipeline failures = from events | where status >= 500 | keep ts, status, path | sink stdout
"""


def flowc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWC, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------- examples and properties


def test_example_test_runs_the_real_pipelines():
    program = load_text(
        PROGRAM
        + """
test "a failure is kept" {
  given events = [{ts: "2025-01-01T00:00:00Z", status: 503, path: "/a", latency_ms: 300.0},
                  {ts: "2025-01-01T00:00:01Z", status: 200, path: "/b", latency_ms: 1.0}]
  expect failures == [{ts: "2025-01-01T00:00:00Z", status: 503, path: "/a"}]
  expect {path: "/a", slow: true} in events
  expect not {path: "/b", slow: true} in events
  expect count(events) == 2 and count(failures.errors) == 0 and count(failures.dropped) == 1
}
"""
    )
    (outcome,) = program.run_tests()
    assert outcome.passed, outcome.failure


@pytest.mark.parametrize(
    "expect, words",
    [
        ("failures == []", "has 1 record(s), expected 0"),
        ('{path: "/b"} in failures', "no record of `failures` matches"),
        ('not {path: "/a"} in failures', "has a record matching"),
        ("every failures: status == 500", "does not satisfy it"),
        ("count(failures) == 2", "count(failures) = 1"),
        ("every given events where status >= 500 reaches failures by ts, path and false", None),
    ],
)
def test_a_failing_expectation_says_why(expect, words):
    text = (
        PROGRAM
        + f"""
test "t" {{
  given events = [{{ts: "2025-01-01T00:00:00Z", status: 503, path: "/a", latency_ms: 300.0}}]
  expect {expect}
}}
"""
    )
    if words is None:  # not an expectation at all: a compile error, with a code
        with pytest.raises(CompileError) as info:
            load_text(text)
        assert info.value.diagnostics[0].code == "E001"
        return
    (outcome,) = load_text(text).run_tests()
    assert not outcome.passed
    assert words in outcome.failure


def test_property_failure_is_shrunk_to_a_pasteable_record():
    program = load_text(
        PROGRAM
        + """
property "wrong bound" {
  given events where status >= 400
  expect every failures: status > 500
}
"""
    )
    (outcome,) = program.run_tests(seed=7)
    assert not outcome.passed
    # the smallest input that breaks it: one record, status exactly 500
    assert outcome.counterexample.startswith("given events = [{")
    assert outcome.counterexample.count("status:") == 1 and "status: 500" in outcome.counterexample
    pasted = (
        PROGRAM
        + f"""
test "pasted" {{
  {outcome.counterexample}
  expect every failures: status > 500
}}
"""
    )
    (again,) = load_text(pasted).run_tests()
    assert not again.passed and "status: 500" in again.failure


def test_a_seed_replays_the_same_run():
    text = (
        PROGRAM
        + """
property "p" {
  given events
  expect every failures: status != 777
}
"""
    )
    first = load_text(text).run_tests(seed=11)[0]
    second = load_text(text).run_tests(seed=11)[0]
    assert (first.passed, first.counterexample, first.examples) == (
        second.passed,
        second.counterexample,
        second.examples,
    )
    assert not first.passed and "status: 777" in first.counterexample


def test_value_sets_and_ranges_constrain_generated_records():
    program = load_text(
        PROGRAM
        + """
property "constrained" {
  given events where status in [200, 503] and latency_ms >= 10.0 and latency_ms < 20.0
  expect every events: (status == 200 or status == 503) and latency_ms >= 10.0 and latency_ms < 20.0
  expect every events: not slow
  expect count(events) == count(events.input)
}
"""
    )
    (outcome,) = program.run_tests(seed=1, examples=60)
    assert outcome.passed, outcome.failure
    assert outcome.records > 0


def test_now_and_env_are_fixed_by_the_test():
    program = load_text("""
pipeline events = source file("in.jsonl") | set at = now(), region = env("REGION") | sink stdout
test "fixed" {
  given events = [{id: 1}]
  now = "2030-05-01T12:00:00Z"
  env REGION = "eu"
  expect events == [{id: 1, at: "2030-05-01T12:00:00Z", region: "eu"}]
}
test "missing variable" {
  given events = [{id: 1}]
  expect count(events) == 1
}
""")
    fixed, missing = program.run_tests()
    assert fixed.passed, fixed.failure
    assert not missing.passed and "REGION" in missing.failure


# ---------------------------------------------------------------- the built-in laws


def test_laws_hold_on_every_example_and_every_property_runs_twice():
    program = load(EXAMPLES / "quickstart.flow")
    outcomes = program.run_tests("only slow", seed=5, examples=30)
    assert [o.passed for o in outcomes] == [True]
    # each example runs the program twice (determinism) and counts its input
    assert outcomes[0].examples >= 30 and outcomes[0].records > 0


def test_an_exception_escaping_a_stage_breaks_a_law(monkeypatch):
    from flowlang.runtime import ops

    program = load_text("""
pipeline events = source file("in.jsonl") | set n = len(name) | sink stdout
property "laws only" {
  given events
  expect count(events) >= 0
}
""")

    def broken(value):
        raise ZeroDivisionError("a bug in a stage")

    monkeypatch.setattr(ops, "fn_len", broken)
    (outcome,) = program.run_tests(seed=1, examples=10)
    assert not outcome.passed
    assert "law broken: an exception escaped stage" in outcome.failure
    assert "ZeroDivisionError" in outcome.failure


def test_conformance_names_the_field_that_breaks_the_type():
    typ = RecordT((("a", INT), ("b", Nullable(STR)), ("c", ListT(IP))), open=False)
    assert conformance({"a": 1, "c": ["10.0.0.1"]}, typ) is None
    assert "field `a`" in conformance({"a": "1", "c": []}, typ)
    assert "field `c[0]`" in conformance({"a": 1, "c": ["010.0.0.1"]}, typ)
    assert "not in the closed type" in conformance({"a": 1, "c": [], "d": 1}, typ)
    assert conformance({"a": 1, "c": [], "d": 1}, RecordT(typ.fields, open=True)) is None
    assert conformance(2, FLOAT) is None and conformance(True, INT) is not None
    assert conformance(dt.datetime(2025, 1, 1), TIME) is not None  # naive is not a time


ROUND_TRIP = """
schema T { ts: time, ip: ip, n: int, x: float, d: duration, tags: [str], note: str?, extra: any }
pipeline p = source file("x", format=json, schema=T) | sink stdout
"""
ROUND_TRIP_TYPE = RecordT(
    (
        ("ts", TIME),
        ("ip", IP),
        ("n", INT),
        ("x", FLOAT),
        ("d", DURATION),
        ("tags", ListT(STR)),
        ("note", Nullable(STR)),
        ("extra", ANY),
    ),
    open=False,
    name="T",
)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_generated_records_conform_and_their_literals_read_back_as_them(data):
    from flowlang.testing import records

    rec = data.draw(records(ROUND_TRIP_TYPE))
    assert conformance(rec, ROUND_TRIP_TYPE) is None
    literal = value_literal(rec)
    program = load_text(
        ROUND_TRIP + f'test "t" {{\n  given p = [{literal}]\n  expect p == [{literal}]\n}}\n'
    )
    (outcome,) = program.run_tests()
    assert outcome.passed, outcome.failure
    assert program.run({"p": [rec]}).outputs["p"][0]["ts"] == rec["ts"]


# ---------------------------------------------------------------- the shipped examples and mutants


def test_shipped_examples_pass_their_tests():
    proc = flowc("test", "examples/", "--seed", "1", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed in " in proc.stdout and "FAILED" not in proc.stdout


MUTANTS = [
    ("quickstart.flow", "latency_ms > 250.0,", "latency_ms >= 250.0,"),
    ("quickstart.flow", "where slow and status >= 500", "where slow and status > 500"),
    ("quickstart.flow", "where slow and status >= 500", "where slow or status >= 500"),
    ("quickstart.flow", "  | where slow and status >= 500\n", ""),
    ("quickstart.flow", "keep ts, country, method,", "keep ts, method,"),
    ("quickstart.flow", "anonymize(email, method=mask)", "anonymize(email, method=redact)"),
    ("quickstart.flow", 'country = geo.country_iso ?? "unknown"', "country = geo.country_iso"),
    ("access.flow", "  | anonymize(client)\n", ""),
    ("access.flow", "  | anonymize(user)\n", "  | anonymize(user, method=mask)\n"),
    ("access.flow", '  | parse(regex(r"^(?P<path>[^?]*)"), field=path)\n', ""),
    ("access.flow", "anonymize(email, method=mask)", "anonymize(email, method=hash)"),
    ("metrics.flow", "by country every 1m on ts", "by country every 2m on ts"),
    ("metrics.flow", "by country every 1m", "every 1m"),
    ("seed.flow", "anonymize(email)", "anonymize(email, method=mask)"),
    ("scale_worker.flow", 'where path != "/healthz"', 'where path == "/healthz"'),
    (
        "scale_edge.flow",
        '| sink nats("logs.web", stream="LOGS")',
        '| where message != "" | sink nats("logs.web", stream="LOGS")',
    ),
]


def caught_by(name: str, old: str, new: str, seed: int) -> str | None:
    """How the shipped tests of `name` catch the mutant: "compile" (a typed
    expectation no longer fits the pipeline), "example", "property", or None."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert text.count(old) >= 1, "the mutant no longer applies"
    try:
        outcomes = load_text(text.replace(old, new, 1), f"examples/{name}").run_tests(seed=seed)
    except CompileError:
        return "compile"
    failed = [o for o in outcomes if not o.passed]
    for o in failed:
        if o.property:  # a property failure always comes with its shrunk input
            assert o.counterexample and o.counterexample.startswith("given "), o.failure
    if not failed:
        return None
    return "property" if all(o.property for o in failed) else "example"


@pytest.mark.parametrize("name, old, new", MUTANTS)
def test_each_mutant_of_an_example_is_caught(name, old, new):
    assert caught_by(name, old, new, seed=1) is not None, f"{name}: {old!r} -> {new!r} survived"


def test_mutation_score():
    found = [caught_by(name, old, new, seed=2) for name, old, new in MUTANTS]
    caught = sum(how is not None for how in found)
    print(
        f"mutation score: {caught}/{len(MUTANTS)}; by property tests: {found.count('property')},"
        f" example tests: {found.count('example')}, at compile time: {found.count('compile')}"
    )
    assert caught / len(MUTANTS) >= 0.9
    # most are found by running the pipelines, not by the checker alone
    assert found.count("compile") <= 2


# ---------------------------------------------------------------- the command line


def test_flowc_test_exit_codes_output_and_junit(tmp_path):
    good = tmp_path / "good.flow"
    good.write_text(
        PROGRAM
        + """
test "kept" {
  given events = [{ts: "2025-01-01T00:00:00Z", status: 503, path: "/a", latency_ms: 1.0}]
  expect count(failures) == 1
}
property "bound" {
  given events
  expect every failures: status > 500
}
"""
    )
    proc = flowc(
        "test", str(good), "--seed", "3", "--junit-xml", str(tmp_path / "j.xml"), cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "good.flow::kept PASSED" in proc.stdout
    assert "good.flow::property bound FAILED" in proc.stdout
    assert "expect every failures: status > 500" in proc.stdout  # the failing line…
    assert "^^^^" in proc.stdout  # …with carets under it
    assert "replay: flowc test" in proc.stdout and "--seed 3" in proc.stdout
    suite = ET.parse(tmp_path / "j.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.find(".//testcase[@name='bound']/failure")
    assert failure is not None and "given events" in failure.text

    proc = flowc("test", str(good), "-k", "kept", cwd=tmp_path)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout

    bad = tmp_path / "bad.flow"
    bad.write_text(
        PROGRAM + 'test "t" {\n  given events = [{status: "x"}]\n  expect count(nope) == 1\n}\n'
    )
    proc = flowc("test", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert "error[E301]" in proc.stderr and "error[E102]" in proc.stderr
    assert "^" in proc.stderr  # a span, like any compile error

    empty = tmp_path / "empty.flow"
    empty.write_text(PROGRAM)
    assert flowc("test", str(empty), cwd=tmp_path).returncode == 2


def test_pytest_collects_flow_tests(tmp_path):
    (tmp_path / "pipes.flow").write_text(
        PROGRAM
        + """
test "kept" {
  given events = [{ts: "2025-01-01T00:00:00Z", status: 503, path: "/a", latency_ms: 1.0}]
  expect count(failures) == 1
}
test "wrong" {
  given events = []
  expect count(failures) == 1
}
"""
    )
    (tmp_path / "test_python.py").write_text("def test_python():\n    assert True\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout
    assert "pipes.flow::wrong" in proc.stdout


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.flow")), ids=lambda p: p.name)
def test_fmt_keeps_tests_and_is_stable(path):
    from flowlang.formatter import format_source
    from flowlang.parser import parse
    from flowlang.source import SourceFile

    text = path.read_text(encoding="utf-8")
    formatted, _ = format_source(SourceFile(path.name, text))
    assert formatted == text, "the shipped examples are in canonical layout"
    again, _ = format_source(SourceFile(path.name, formatted))
    assert again == formatted
    before, _ = parse(SourceFile(path.name, text))
    after, _ = parse(SourceFile(path.name, formatted))
    assert before == after and any(
        isinstance(s, type(before.statements[-1])) for s in after.statements
    )


def test_fmt_lays_out_a_test_and_keeps_its_comments():
    from flowlang.formatter import format_source
    from flowlang.source import SourceFile

    text = (
        'pipeline p = source file("x") | sink stdout\n'
        'test "t" { given p = [{a: 1}, {a: 2}]   # two\n expect   count(p)==2 }\n'
    )
    formatted, _ = format_source(SourceFile("t.flow", text))
    assert formatted.endswith(
        'test "t" {\n  given p = [\n    {a: 1},\n    {a: 2},\n  ]  # two\n'
        "  expect count(p) == 2\n}\n"
    ), formatted
