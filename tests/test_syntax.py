"""flowlang.syntax: what its writers write, the parser (or, for times, the
runtime) reads back as the same value, and every writer of source text uses them."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang import ast, stagedocs, syntax
from flowlang.formatter import format_expr
from flowlang.parser import parse_text
from flowlang.runtime import jsonl
from flowlang.runtime.coerce import coercer
from flowlang.syntax import (
    MAX_DURATION_MS,
    duration_text,
    field_label,
    field_name,
    parse_duration,
    quote,
    raw_literal,
    time_text,
    unquote,
)
from flowlang.testing.literals import value_literal
from flowlang.types import DURATION

SETTINGS = settings(max_examples=300, deadline=None)
# every code point, lone surrogates included
ANY_TEXT = st.text(st.characters(exclude_categories=()))


def parsed(text: str) -> ast.Expr:
    """The expression `text` as the parser reads it."""
    program, diags = parse_text(f"source f | set x = {text} | sink s")
    assert program is not None, [d.message for d in diags]
    (stage, _sink) = program.statements[0].chain.stages
    return stage.assignments[0].value


# ---------------------------------------------------------------- strings


def test_quote_escapes_what_a_reader_would_not_see_as_written():
    assert quote('a"\\\n\t\x00\ud800é') == '"a\\"\\\\\\n\\t\\u0000\\ud800é"'
    # line and paragraph separators and NEL: editors and terminals break lines there
    assert quote("a\u2028b\u2029c\x85d\re\x7f") == '"a\\u2028b\\u2029c\\u0085d\\u000de\\u007f"'


def test_the_stage_reference_writes_strings_as_the_formatter_does():
    # it once wrote U+2028 and U+0085 unescaped
    assert stagedocs.flow_value("a\u2028\x85") == '"a\\u2028\\u0085"' == quote("a\u2028\x85")


@SETTINGS
@given(ANY_TEXT)
def test_every_string_reads_back_from_its_literal(text):
    literal = quote(text)
    assert parsed(literal) == ast.Literal(text)
    assert unquote(literal) == text
    assert len(literal.splitlines()) == 1  # no line break of any kind inside


@SETTINGS
@given(ANY_TEXT)
def test_a_raw_literal_reads_back_raw_or_is_refused(text):
    literal = raw_literal(text)
    if literal is None:
        assert format_expr(ast.Literal(text, raw=True)) == quote(text)
        return
    assert parsed(literal) == ast.Literal(text, raw=True)
    assert unquote(literal) == text and len(literal.splitlines()) == 1


def test_unescape_reports_bad_escapes_where_they_are():
    found = []
    assert syntax.unescape(r"a\qb\u12", lambda *bad: found.append(bad)) == "ab12"
    assert found == [(1, 3, "q"), (4, 6, "u")]
    with pytest.raises(ValueError):
        unquote(r'"\q"')
    with pytest.raises(ValueError):
        unquote("no quotes")


# ---------------------------------------------------------------- durations


def test_durations_take_their_largest_exact_unit_and_zero_is_0s():
    written = [duration_text(ms) for ms in (0, 1, 250, 5000, 60_000, 7_200_000, 172_800_000, 1001)]
    assert written == ["0s", "1ms", "250ms", "5s", "1m", "2h", "2d", "1001ms"]
    assert stagedocs.flow_value(0, DURATION) == "0s"
    with pytest.raises(ValueError):
        duration_text(-1)


MILLIS = st.one_of(
    st.integers(0, MAX_DURATION_MS),
    *(
        st.integers(0, MAX_DURATION_MS // size).map(lambda n, size=size: n * size)
        for size in syntax.DURATION_UNITS.values()
    ),
)


@SETTINGS
@given(MILLIS)
def test_every_duration_reads_back_from_its_text(millis):
    text = duration_text(millis)
    assert parse_duration(text) == millis
    assert parsed(text) == ast.Duration(millis)


def test_parse_duration_reads_only_duration_literals():
    assert parse_duration("0007s") == 7000 and parse_duration("0ms") == 0
    assert [parse_duration(t) for t in ("5", "1.5s", "5sec", "s", "-5s", "5 s")] == [None] * 6
    assert parse_duration("9" * 5000 + "d") > MAX_DURATION_MS


# ---------------------------------------------------------------- field names


def test_field_names_are_bare_or_backticked():
    assert field_name("ok_1") == "ok_1" and field_name("where") == "`where`"
    assert (
        field_name("a-b") == "`a-b`"
        and syntax.field_path(("geo", "user-agent")) == "geo.`user-agent`"
    )
    for unwritable in ("back`tick", "line\nbreak", ""):
        with pytest.raises(ValueError):
            field_name(unwritable)
        assert field_label(unwritable) == f"`{unwritable}`"  # messages never refuse
    assert syntax.path_label(("a", "b`c")) == "a.`b`c`"


@SETTINGS
@given(ANY_TEXT)
def test_every_writable_field_name_reads_back(name):
    try:
        written = field_name(name)
    except ValueError:
        return
    assert parsed(f"{written}.{written}") == ast.FieldRef((name, name))


# ---------------------------------------------------------------- precedence


BINARY = sorted(syntax.BINARY_PRECEDENCE)


@pytest.mark.parametrize("first,second", list(itertools.product(BINARY, BINARY)))
def test_the_parser_groups_by_the_precedence_table(first, second):
    program, diags = parse_text(f"source f | set x = a {first} b {second} c | sink s")
    p1, p2 = syntax.BINARY_PRECEDENCE[first], syntax.BINARY_PRECEDENCE[second]
    if p1 == p2 == syntax.NON_ASSOCIATIVE:
        assert program is None and diags  # `a < b < c` is an error
        return
    tree = program.statements[0].chain.stages[0].assignments[0].value
    right_first = p2 > p1 or (p1 == p2 == syntax.RIGHT_ASSOCIATIVE)
    a, b, c = (ast.FieldRef((n,)) for n in "abc")
    if right_first:
        assert tree == ast.Binary(first, a, ast.Binary(second, b, c))
    else:
        assert tree == ast.Binary(second, ast.Binary(first, a, b), c)
    assert format_expr(tree) == f"a {first} b {second} c"


# ---------------------------------------------------------------- times


UTC = dt.timezone.utc


def test_time_text_is_utc_with_z():
    t = dt.datetime(2025, 1, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert time_text(t) == "2025-01-01T08:30:00Z"
    assert time_text(dt.datetime(2025, 1, 1, 0, 0, 0, 250_000)) == "2025-01-01T00:00:00.250000Z"
    # the runtime's times are in UTC (every producer converts), and orjson
    # writes those itself; a time in another zone is still its instant
    assert jsonl.dumps({"t": t.astimezone(UTC)}) == b'{"t":"2025-01-01T08:30:00Z"}'
    assert coercer("time")(orjson.loads(jsonl.dumps(t))) == t


@SETTINGS
@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.none()
    ),
    st.sampled_from([None, UTC, zoneinfo.ZoneInfo("UTC"), dt.timezone(dt.timedelta(0))]),
)
def test_a_time_in_a_record_is_written_as_its_text(t, zone):
    # a naive time is taken as UTC, as time_text takes it
    t = t if zone is None else t.replace(tzinfo=zone)
    assert jsonl.dumps({"t": t}) == b'{"t":"' + time_text(t).encode() + b'"}'
    assert jsonl.dumps_lines([[t]]) == b'["' + time_text(t).encode() + b'"]\n'


@SETTINGS
@given(st.datetimes(timezones=st.just(UTC)))
def test_every_time_reads_back_from_its_text(t):
    assert coercer("time")(time_text(t)) == t
    assert value_literal(t) == quote(time_text(t))


@SETTINGS
@given(st.integers(-(10**12), 10**12))
def test_test_literals_write_durations_as_source_does(millis):
    text = value_literal(dt.timedelta(milliseconds=millis))
    assert text == (duration_text(millis) if millis >= 0 else "-" + duration_text(-millis))


def test_the_runtime_imports_syntax_and_nothing_of_the_compiler():
    import subprocess
    import sys

    # every module of the runtime (the package itself loads its parts lazily)
    probe = (
        "import importlib, pkgutil, sys, flowlang.runtime as rt\n"
        "for m in pkgutil.iter_modules(rt.__path__):\n"
        "    importlib.import_module('flowlang.runtime.' + m.name)\n"
        "print(sorted(m for m in sys.modules if 'flowlang' in m))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    outside = [m for m in eval(out.stdout) if not m.startswith("flowlang.runtime")]
    assert outside == ["flowlang", "flowlang.names", "flowlang.syntax"]
