"""env() wherever a constant of its type goes: the text is read when the
program starts, converted to the parameter's type and held to the rule a
literal is held to when the program is checked. A value that breaks it stops
the run with exit status 2 and a message naming the variable and the rule,
never the value; a good one is what the stage uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowlang.compile_cache import load_module
from flowlang.compiler import compile_source
from flowlang.runtime.context import ENV_TYPES, Context, environment
from flowlang.runtime.errors import FlowError
from flowlang.source import SourceFile
from flowlang.syntax import MAX_DURATION_MS, duration_text
from tests.fixtures.search import read_all
from tests.flowrun import run_flow

FLOWC = str(Path(sys.executable).with_name("flowc"))

RECORDS = [{"line": "GET /a?x=1"}, {"line": "POST /b"}, {"line": "PUT /c"}]

PROGRAM = """
source file("input.jsonl", format=json)
  | where line =~ env("KEEP", r"^(GET|POST) ")
  | parse(regex(env("LINE", r"^(?P<method>\\w+) (?P<path>\\S+)")), field=line)
  | set path = replace_regex(path ?? "", env("STRIP", r"\\?.*$"), "")
  | dedup([method], within=env("WINDOW", "1m"), capacity=env("KEYS", "100"))
  | sink file("output.jsonl")
"""

# (variable, a value that breaks its parameter's rule, words of the rule)
BAD = [
    ("KEEP", "(unclosed-secret", "invalid regular expression: missing )"),
    ("LINE", "(?P<verb>\\w+) (?P<path>\\S+)", "named groups are not the default's"),
    ("LINE", "(?P<method>[", "invalid regular expression"),
    ("STRIP", "(?<=lookbehind)", "invalid regular expression: invalid perl operator"),
    ("WINDOW", "ninety seconds", "must be a duration"),
    ("WINDOW", "0ms", "`within` must be a positive duration"),
    ("KEYS", "lots", "must be an integer"),
    ("KEYS", "0", "`capacity` must be at least 1"),
]


@pytest.mark.parametrize("name, value, rule", BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_stops_the_start_naming_the_variable_not_the_value(tmp_path, name, value, rule):
    result = run_flow(PROGRAM, tmp_path, records=RECORDS, env={name: value})
    assert result.exit_code == 2, result.stderr
    assert f"environment variable {name}" in result.stderr
    assert rule in result.stderr
    assert value not in result.stderr
    assert result.output == []


def test_good_values_are_what_the_stages_use(tmp_path):
    env = {
        "KEEP": "^(GET|PUT) ",
        "LINE": r"^(?P<method>[A-Z]+) /(?P<path>\S+)",  # the default's groups
        "STRIP": "=1$",
        "WINDOW": "2h",
    }
    result = run_flow(PROGRAM, tmp_path, records=RECORDS, env=env)
    assert result.exit_code == 0, result.stderr
    assert [(r["method"], r["path"]) for r in result.output] == [("GET", "a?x"), ("PUT", "c")]


def test_the_defaults_are_used_when_the_variables_are_unset(tmp_path):
    result = run_flow(PROGRAM, tmp_path, records=RECORDS)
    assert result.exit_code == 0, result.stderr
    assert [(r["method"], r["path"]) for r in result.output] == [("GET", "/a"), ("POST", "/b")]


def _declared(text: str, env: dict[str, str], tmp_path) -> dict:
    """The arguments each stage of the one pipeline is built with, by stage label."""
    result = compile_source(SourceFile("t.flow", text))
    assert result.ok, result.diagnostics
    path = tmp_path / "t_flow.py"
    path.write_text(result.code, encoding="utf-8")
    module = load_module(path)
    with environment(env):
        program = module.build(Context(status=False))
    (pipe,) = program.pipelines.values()
    return {stage.label.split("(")[0]: stage.args for stage in pipe.stages if stage.cls}


def test_values_are_converted_to_the_parameters_types(tmp_path):
    text = (
        'source file(env("IN"), format=json, follow=env("FOLLOW", "false"))\n'
        '  | dedup([a], within=env("WINDOW", "1m"), capacity=env("KEYS", "10"))\n'
        '  | anomaly(x, threshold=env("LIMIT", "3"))\n'
        '  | sink elastic(env("INDEX", "logs"), batch_size=env("BATCH", "5"))'
    )
    env = {"IN": "in.jsonl", "FOLLOW": "true", "WINDOW": "90s", "KEYS": "7", "LIMIT": "2.5"}
    env |= {"INDEX": "web-%Y.%m", "BATCH": "50"}
    args = _declared(text, env, tmp_path)
    assert args["source file"]["path"] == "in.jsonl" and args["source file"]["follow"] is True
    assert (args["dedup"]["within"], args["dedup"]["capacity"]) == (90_000, 7)
    assert args["anomaly"]["threshold"] == 2.5
    assert (args["sink elastic"]["index"], args["sink elastic"]["batch_size"]) == ("web-%Y.%m", 50)
    defaults = _declared(text, {"IN": "x"}, tmp_path)
    assert defaults["dedup"]["within"] == 60_000 and defaults["anomaly"]["threshold"] == 3.0


@pytest.mark.parametrize(
    "name, value, rule",
    [
        ("INDEX", "Upper-Case-Index", "an index name must be lowercase"),
        ("INDEX", "", "the index name is empty"),
        ("LIMIT", "-1", "`threshold` must be greater than 0"),
        ("FOLLOW", "yes", "must be true or false"),
    ],
)
def test_other_rules_hold_at_start_up(tmp_path, name, value, rule):
    text = (
        'source file("in.jsonl", format=json, follow=env("FOLLOW", "false"))\n'
        '  | anomaly(x, threshold=env("LIMIT", "3"))\n'
        '  | sink elastic(env("INDEX", "logs"))'
    )
    with pytest.raises(FlowError) as raised:
        _declared(text, {name: value}, tmp_path)
    message = str(raised.value)
    assert message.startswith(f"environment variable {name} (the `")
    assert rule in message
    assert not value or value not in message


def test_an_index_name_from_the_environment_is_where_documents_go(
    tmp_path, elastic_url, es_index, es_reader
):
    text = 'source file("input.jsonl", format=json) | sink elastic(env("INDEX"), url=env("ES"))'
    records = [{"n": 1}, {"n": 2}]
    result = run_flow(text, tmp_path, records=records, env={"INDEX": es_index, "ES": elastic_url})
    assert result.exit_code == 0, result.stderr
    assert sorted(d["n"] for d in read_all(es_reader, es_index)) == [1, 2]


def test_a_secret_is_never_quoted(tmp_path):
    """A key has no rule but its type; a missing one is named, never shown."""
    text = 'source file("input.jsonl", format=json) | anonymize(email, key=env("K")) | sink null'
    result = run_flow(text, tmp_path, records=[{"email": "a@b.c"}], env={})
    assert result.exit_code == 2 and "environment variable K is not set" in result.stderr


@given(st.integers(min_value=0, max_value=MAX_DURATION_MS))
def test_a_duration_reads_back_as_it_is_written(millis):
    assert ENV_TYPES["duration"](duration_text(millis)) == millis


@given(st.integers())
def test_an_integer_reads_back_as_it_is_written(n):
    assert ENV_TYPES["int"](str(n)) == n


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_reads_back_as_it_is_written(x):
    assert ENV_TYPES["float"](repr(x)) == x


def test_a_flow_test_sets_the_values_and_its_conditions_may_read_them(tmp_path):
    """`env NAME = "…"` in a test is what the pipeline's pattern reads; a bad
    one fails that test, saying why. A condition of the test may hold an
    env() pattern too."""
    (tmp_path / "t.flow").write_text(
        'pipeline p = source stdin(format=json) | where line =~ env("KEEP", "^a") | sink stdout\n'
        'test "b only" {\n  env KEEP = "^b"\n  given p = [{line: "a"}, {line: "b"}]\n'
        '  expect every p: line =~ env("EXPECTED", "^b$")\n  expect count(p) == 1\n}\n'
        'test "bad" {\n  env KEEP = "(b"\n  given p = [{line: "a"}]\n  expect count(p) == 0\n}\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [FLOWC, "test", "t.flow"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "t.flow::b only PASSED" in done.stdout and "t.flow::bad FAILED" in done.stdout
    assert "environment variable KEEP (the pattern of `=~`)" in done.stdout
    assert "(b" not in done.stdout.replace('env KEEP = "(b"', "")
