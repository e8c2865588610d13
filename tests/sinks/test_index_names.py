"""Elasticsearch index names are checked when the program is checked: a
Logstash-style `%{+YYYY.MM.dd}` and names Elasticsearch refuses are errors
(E409) instead of a run that rejects every document and exits 0."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang import codes
from flowlang.checker import check_source
from flowlang.runtime.errors import FlowError
from flowlang.source import SourceFile
from flowlang.stages.elastic import INDEX_DIRECTIVES, ElasticSink, index_problem
from tests.flowrun import run_flow_cli
from tests.sinks.test_elastic import context


def diagnostics(index: str):
    text = f'source stdin | sink elastic("{index}")\n'
    _, diags = check_source(SourceFile("t.flow", text))
    return [(d.code, d.message, d.hint) for d in diags]


@pytest.mark.parametrize(
    ("index", "strftime"),
    [
        ("web-%{+YYYY.MM.dd}", "web-%Y.%m.%d"),
        ("logs-%{+yyyy.MM.dd}", "logs-%Y.%m.%d"),
        ("hourly-%{+YYYY.MM.dd.HH}", "hourly-%Y.%m.%d.%H"),
        ("a-%{+YYYY}-b-%{+MM}", "a-%Y-b-%m"),
        ("w-%{+xxxx.ww}", "w-%G.%V"),
    ],
)
def test_a_logstash_date_is_an_error_with_the_strftime_form(index, strftime):
    ((code, message, hint),) = diagnostics(index)
    assert code == codes.BAD_INDEX_NAME and "Logstash" in message
    assert hint == f'write it with strftime patterns: "{strftime}"'
    assert diagnostics(strftime) == []


def test_the_hint_says_what_it_could_not_translate():
    ((_, _, hint),) = diagnostics("web-%{+YYYY.MMM}")
    assert hint.endswith('"web-%Y.%mM" (translate the letters left over by hand)')
    ((_, _, hint),) = diagnostics("web-%{+HH:mm}")
    assert (
        hint
        == 'write it with strftime patterns: "web-%H:%M", but then an index name cannot hold `:`'
    )


def test_a_logstash_field_reference_is_an_error():
    ((code, message, _),) = diagnostics("web-%{host}")
    assert code == codes.BAD_INDEX_NAME and "field reference" in message


@pytest.mark.parametrize(
    ("index", "says"),
    [
        ("Web-%Y", "lowercase"),
        ("web-%b", "`%b` cannot be"),  # "Jan": upper case
        ("web-%x", "`%x` cannot be"),  # "01/02/24": slashes
        ("web-%", "lone `%`"),
        ("-web", "cannot start with `-`"),
        ("_web", "cannot start with `_`"),
        ("+web", "cannot start with `+`"),
        ("web logs", "a space"),
        ("a\\\\b", "`\\`"),
        ("a/b", "`/`"),
        ("a*b?c", "`*`, `?`"),
        ('a\\"b', '`"`'),
        ("a<b>c|d", "`<`, `>`, `|`"),
        ("a,b#c", "`,`, `#`"),
        ("a:b", "`:`"),
        ("..", "cannot be an index name"),
        ("", "empty"),
        ("x" * 256, "at most 255 bytes"),
    ],
)
def test_names_elasticsearch_refuses_are_errors(index, says):
    ((code, message, _),) = diagnostics(index)
    assert code == codes.BAD_INDEX_NAME and says in message, message


def test_the_lowercase_hint_keeps_the_patterns():
    ((_, _, hint),) = diagnostics("Web-%Y.%m")
    assert hint == 'write "web-%Y.%m"'


@pytest.mark.parametrize(
    "index", ["web", "web-%Y.%m.%d", "a.b_c-d+e", "x%%y", "é-%H", ".hidden", "x" * 255]
)
def test_valid_names_check_clean(index):
    assert diagnostics(index) == []


def _refused(name: str) -> bool:
    """Elasticsearch's index name rules, written out independently."""
    return (
        name != name.lower()
        or any(c in name for c in '\\/*?"<>| ,#:')
        or name[:1] in ("-", "_", "+", "")
        or name in (".", "..")
        or len(name.encode()) > 255
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(sorted(INDEX_DIRECTIVES)).map(lambda d: "%" + d)
        | st.text(st.characters(codec="utf-8", exclude_characters="%{"), max_size=4),
        max_size=6,
    ).map("".join),
    st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31)),
)
def test_a_name_that_checks_clean_is_accepted_whatever_the_time(index, when):
    if index_problem(index) is None:
        assert not _refused(when.strftime(index))


@pytest.mark.parametrize("index", ["\x00", "web-\x00-%Y", "a\tb", "logs\x7f"])
def test_control_characters_are_refused_at_check_time(index):
    # strftime cuts a name at its first NUL: "\x00" would become ""
    assert index_problem(index) == ("an index name cannot hold control characters", None)


@pytest.mark.parametrize("index", ["\ud800", "web-\udfff-%Y"])
def test_lone_surrogates_are_refused_not_a_crash(index):
    assert index_problem(index) == (
        "an index name cannot hold lone surrogates: it is not UTF-8 text",
        None,
    )


def test_the_sink_refuses_a_bad_name_at_start_up_too():
    with pytest.raises(FlowError, match=re.escape("Logstash's Joda-Time")):
        ElasticSink(context(), "web-%{+YYYY.MM.dd}")


def test_flowc_run_refuses_the_program_before_reading_anything(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"a": 1}\n')
    flow = tmp_path / "web.flow"
    flow.write_text(
        'source file("in.jsonl", format=json)\n  | sink elastic("web-%{+YYYY.MM.dd}")\n'
    )
    done = run_flow_cli(flow, cwd=tmp_path)
    assert done.returncode == 1
    assert b"error[E409]" in done.stderr and b'"web-%Y.%m.%d"' in done.stderr
