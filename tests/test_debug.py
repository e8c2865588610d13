"""`flowc debug ast|plan FILE`: the intermediate forms as text."""

from __future__ import annotations

import re

from hypothesis import given, settings

from flowlang.debug import dump
from tests.strategies import programs, strict_key
from tests.test_cli import flowc, write

PROGRAM = """\
schema Hit { ts: time, status: int }

pipeline hits =
  source file("hits.jsonl", format=json, schema=Hit)
  | where status >= 500
  | sink stdout
"""


def test_ast_shows_every_node_with_its_span(tmp_path):
    write(tmp_path, "hits.flow", PROGRAM)
    done = flowc("debug", "ast", "hits.flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Program @1:1-")
    where = next(line for line in lines if "WhereStage" in line)
    assert where.strip() == "[0] WhereStage @5:5-5:24"
    assert "Literal value=500 @5:21-5:24" in done.stdout
    assert "Literal value='hits.jsonl' @4:15-4:27" in done.stdout


def test_plan_shows_types_and_bound_arguments(tmp_path):
    write(tmp_path, "hits.flow", PROGRAM)
    done = flowc("debug", "plan", "hits.flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("Plan file='hits.flow'\n")
    assert re.search(r"CallStep role='source' name='file' .*output_type=Hit", text)
    # defaults filled in by the binder
    assert "follow: False" in text and "start: Choice option='beginning'" in text
    assert "Binary op='>=' type=bool" in text
    assert "FieldRef path=('status',) type=int" in text
    assert "Literal value=500 type=int" in text


def test_a_file_with_errors_prints_the_diagnostics_and_no_form(tmp_path):
    write(tmp_path, "bad.flow", 'source file("x") | where status >=\n')
    for form in ("ast", "plan"):
        done = flowc("debug", form, "bad.flow", cwd=tmp_path)
        assert done.returncode == 1
        assert done.stdout == ""
        assert "bad.flow:1:" in done.stderr and "error[E001]" in done.stderr


def test_a_type_error_has_an_ast_but_no_plan(tmp_path):
    write(tmp_path, "typo.flow", 'source file("x") | where 1 + "a" > 1 | sink stdout\n')
    assert flowc("debug", "ast", "typo.flow", cwd=tmp_path).returncode == 0
    done = flowc("debug", "plan", "typo.flow", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert "error[" in done.stderr


def test_an_unreadable_file_is_a_usage_error(tmp_path):
    done = flowc("debug", "ast", "missing.flow", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot read missing.flow" in done.stderr


@settings(max_examples=200, deadline=None)
@given(programs, programs)
def test_two_trees_print_the_same_exactly_when_they_are_equal(a, b):
    assert (dump(a) == dump(b)) == (strict_key(a) == strict_key(b))


@settings(max_examples=50, deadline=None)
@given(programs)
def test_a_tree_prints_the_same_every_time(a):
    assert dump(a) == dump(a)
    assert dump(a).endswith("\n")
