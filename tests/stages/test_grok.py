"""grok: the shipped patterns, their rewriting into RE2, patterns files, and
the law that what a pattern captures from joined values is those values."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.compiler import compile_source
from flowlang.source import SourceFile
from flowlang.stages import _grok
from flowlang.stages.parse import compile_regex, group_spans
from tests.flowrun import run_flow
from tests.stages.stagebind import bound_args, make_stage

# the names the docs promise
PROMISED = (
    "IP IPV4 IPV6 HOSTNAME IPORHOST HOSTPORT NUMBER BASE10NUM INT POSINT NONNEGINT WORD "
    "NOTSPACE SPACE DATA GREEDYDATA QS QUOTEDSTRING UUID MAC PATH UNIXPATH URIPATHPARAM "
    "URIPATH URIPARAM URI USER USERNAME EMAILADDRESS HTTPDATE MONTH MONTHDAY YEAR HOUR "
    "MINUTE SECOND TIME DATE DATESTAMP SYSLOGTIMESTAMP SYSLOGHOST SYSLOGPROG SYSLOGBASE "
    "TIMESTAMP_ISO8601 ISO8601_TIMEZONE LOGLEVEL COMMONAPACHELOG COMBINEDAPACHELOG "
    "HTTPD_COMMONLOG HTTPD_COMBINEDLOG"
).split()


def grok(pattern: str, text: str, extra=()) -> dict | None:
    """What `pattern` captures from `text` (None: no match), through the
    same expansion and search the stage uses."""
    expanded = _grok.expand(pattern, extra)
    spans = group_spans(compile_regex(expanded.regex))(text.encode())
    if spans is None:
        return None
    out: dict = {}
    for name, (a, b) in zip(expanded.groups, spans[1:]):
        if out.get(name) is None:
            out[name] = None if a < 0 else text.encode()[a:b].decode()
    return out


@pytest.mark.parametrize("name", PROMISED)
def test_every_promised_pattern_is_shipped_and_compiles(name):
    assert name in _grok.builtin_definitions()
    expanded = _grok.expand(f"%{{{name}:x}}")
    compile_regex(expanded.regex)
    assert expanded.groups[0] == "x"


def test_every_shipped_pattern_expands_into_re2():
    for name in _grok.builtin_definitions():
        compile_regex(_grok.expand(f"%{{{name}:x}}").regex)


@pytest.mark.parametrize(
    ("name", "text", "whole"),
    [
        ("IPV4", "192.0.2.255", "192.0.2.255"),
        ("IPV6", "2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
        ("IPV6", "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("IP", "fe80::1%eth0", "fe80::1%eth0"),
        ("HOSTPORT", "db-1.example:5432", "db-1.example:5432"),
        ("UUID", "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174000"),
        ("MAC", "00:1A:2b:3c:4D:5e", "00:1A:2b:3c:4D:5e"),
        ("MAC", "001a.2b3c.4d5e", "001a.2b3c.4d5e"),
        ("EMAILADDRESS", "jane.doe+tag@example.com", "jane.doe+tag@example.com"),
        ("UNIXPATH", "/var/log/nginx/access.log", "/var/log/nginx/access.log"),
        (
            "URI",
            "https://user@shop.example:8443/a/b?c=1&d=2",
            "https://user@shop.example:8443/a/b?c=1&d=2",
        ),
        ("HTTPDATE", "10/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:36 -0700"),
        ("TIMESTAMP_ISO8601", "2020-10-02T23:22:12.223222Z", "2020-10-02T23:22:12.223222Z"),
        ("TIMESTAMP_ISO8601", "2024-03-02 10:00:00+01:00", "2024-03-02 10:00:00+01:00"),
        ("SYSLOGTIMESTAMP", "Mar  2 10:00:00", "Mar  2 10:00:00"),
        ("DATESTAMP", "03/02/2024 10:00:00", "03/02/2024 10:00:00"),
        ("LOGLEVEL", "WARNING", "WARNING"),
        ("QS", r'"say \"hi\""', r'"say \"hi\""'),
        ("QUOTEDSTRING", "'single'", "'single'"),
        ("NUMBER", "-12.5", "-12.5"),
        ("MONTH", "März", "März"),
    ],
)
def test_shipped_patterns_match_what_they_name(name, text, whole):
    out = grok(f"^%{{{name}:x}}$", text)
    assert out is not None and out["x"] == whole


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("IPV4", "256.1.1.1"),
        ("UUID", "123e4567-e89b-12d3-a456"),
        ("POSINT", "0"),
        ("LOGLEVEL", "loud"),
        ("TIME", "25:00:00"),
    ],
)
def test_shipped_patterns_refuse_what_they_do_not_name(name, text):
    assert grok(f"^%{{{name}:x}}$", text) is None


def test_named_captures_only_and_nested_captures_of_shipped_patterns():
    # %{WORD} matches without being kept; SYSLOGPROG captures program and pid itself
    assert grok("%{WORD} %{INT:n}", "abc 12") == {"n": "12"}
    out = grok("%{SYSLOGBASE} %{GREEDYDATA:msg}", "Mar  2 10:00:00 web-1 sshd[9]: hi")
    assert out == {
        "timestamp": "Mar  2 10:00:00",
        "facility": None,
        "priority": None,
        "logsource": "web-1",
        "program": "sshd",
        "pid": "9",
        "msg": "hi",
    }


def test_the_search_is_unanchored_as_vrl_parse_grok():
    assert grok("%{INT:n}", "id=42;") == {"n": "42"}
    assert grok("^%{INT:n}$", "id=42;") is None


def test_a_name_captured_twice_takes_the_group_that_took_part():
    assert grok("(?:%{IPV4:host}|%{HOSTNAME:host})!", "web-1!") == {"host": "web-1"}
    assert grok("(?:%{IPV4:host}|%{HOSTNAME:host})!", "192.0.2.1!") == {"host": "192.0.2.1"}


@pytest.mark.parametrize(
    ("oniguruma", "re2"),
    [
        ("(?>a+)b", "(?:a+)b"),  # atomic group
        ("a++b*+c?+", "a+b*c?"),  # possessive quantifiers
        ("x{2}+", "x{2}"),
        ("(a|b)", "(?:a|b)"),  # unnamed groups are not captures
        ("[[[:alnum:]]_-]", "[[:alnum:]_-]"),  # a POSIX class nested in a class
        ("[^]a]", "[^\\]a]"),
        (r"\(x\)", r"\(x\)"),
        ("[(]", "[(]"),
    ],
)
def test_oniguruma_constructs_are_rewritten(oniguruma, re2):
    assert _grok.expand(oniguruma).regex == re2


def test_user_named_groups_are_captures():
    expanded = _grok.expand("(?<a>x)(?P<b>y)")
    assert expanded.regex == "(x)(y)"
    assert expanded.fields == (("a", "str"), ("b", "str"))


def test_lookaround_is_dropped_from_shipped_patterns_only():
    shipped = _grok.builtin_definitions()["IPV4"].regex
    assert shipped.startswith("(?<![0-9])")
    assert "(?<" not in _grok.expand("%{IPV4:x}").regex
    with pytest.raises(_grok.GrokError, match="lookaround"):
        _grok.expand("%{MINE:x}", (("MINE", "(?<![0-9])1", "mine.grok:1"),))


@pytest.mark.parametrize(
    ("pattern", "extra", "message", "hint"),
    [
        ("%{NOG}", (), "unknown grok pattern %{NOG}", None),
        ("%{IPV5:x}", (), "unknown grok pattern %{IPV5}", "did you mean %{IPV6}?"),
        ("%{word:x}", (), "unknown grok pattern %{word}", "did you mean %{WORD}?"),
        ("%{A:x}", (("A", "%{B}", "f:1"), ("B", "%{A}", "f:2")), "A → B → A", None),
        ("%{A:x}", (("A", "%{A}", "f:1"),), "refers to itself: A → A", None),
        ("%{WORD:a-b}", (), "capture name `a-b` is not a field name", "nested fields"),
        ("%{WORD:[a][b]}", (), "capture name `[a][b]` is not a field name", "nested fields"),
        ("%{WORD", (), "`%{WORD` is not a pattern reference", "%{NAME:field}"),
        ("%{WORD::int}", (), "has a type but no field", None),
        ("%{INT:n:integer}", (), "unknown type `integer`", "int and float"),
        ("%{A:x}", (("A", "(", "f:3"),), "pattern A (in f:3) is not valid RE2: missing )", None),
        ("[a", (), "unclosed bracket class", None),
    ],
)
def test_bad_patterns_are_reported(pattern, extra, message, hint):
    with pytest.raises(_grok.GrokError) as raised:
        _grok.expand(pattern, extra)
    assert message in raised.value.message
    if hint is not None:
        assert hint in raised.value.hint


def test_patterns_files_read_in_logstash_format():
    text = "# comment\n\nMYNUM \\d+\nMYPAIR %{WORD:k}=%{MYNUM:v:int}\n"
    found = _grok.read_definitions(text, "app.grok")
    assert {k: d.regex for k, d in found.items()} == {
        "MYNUM": "\\d+",
        "MYPAIR": "%{WORD:k}=%{MYNUM:v:int}",
    }
    assert found["MYPAIR"].origin == "app.grok:4"
    with pytest.raises(_grok.GrokError, match="app.grok:1: expected `NAME regex`"):
        _grok.read_definitions("NO-REGEX\n", "app.grok")


def test_output_type_is_the_captures_typed():
    step, _ = bound_args(
        'parse(grok("%{IP:client} %{NUMBER:bytes:int} %{NUMBER:secs:float} %{WORD}"))',
    )
    assert str(step.output_type) == "{client: str?, bytes: int?, secs: float?, ..}"


def test_a_patterns_file_is_read_relative_to_the_flow_file_and_carried_by_the_code(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "app.grok").write_text("APPLEVEL (?:INFO|WARN|ERROR)\n", encoding="utf-8")
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | parse(grok("^%{APPLEVEL:level} %{GREEDYDATA:msg}$", patterns="app.grok"))\n'
        '  | sink file("output.jsonl")\n'
    )
    flow = str(conf / "app.flow")
    result = compile_source(SourceFile(flow, program))
    assert result.ok, result.diagnostics
    assert "(?:INFO|WARN|ERROR)" in result.code  # the run does not read the file
    # run from tmp_path: the working directory holds no app.grok
    out = run_flow(
        program, tmp_path, records=[{"message": "WARN disk"}, {"message": "x"}], name=flow
    )
    assert out.output == [{"message": "WARN disk", "level": "WARN", "msg": "disk"}]
    assert [e["code"] for e in out.errors] == ["parse"]


def test_a_float_capture_reads_exponents_and_refuses_other_text():
    stage = make_stage('parse(grok("^%{NOTSPACE:v:float}$"))')
    assert stage({"message": "1.5e3"})["v"] == 1500.0
    with pytest.raises(Exception, match="expected float"):
        stage({"message": "abc"})


_WORDS = st.from_regex(re.compile(r"[A-Za-z0-9_]{1,12}", re.ASCII), fullmatch=True)
_IPS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: a.compressed),
)


@settings(max_examples=300, deadline=None)
@given(ip=_IPS, word=_WORDS, number=st.integers(-(10**30), 10**30))
def test_captures_recover_joined_values(ip, word, number):
    """Law: for any address, word and integer joined by spaces,
    `%{IP:a} %{WORD:b} %{INT:c:int}` gives them back."""
    stage = _law_stage()
    out = stage({"message": f"{ip} {word} {number}"})
    assert ipaddress.ip_address(out["a"]) == ipaddress.ip_address(ip)
    assert out["a"] == ip
    assert out["b"] == word
    assert out["c"] == number


_LAW_STAGE = []


def _law_stage():
    if not _LAW_STAGE:
        _LAW_STAGE.append(make_stage('parse(grok("^%{IP:a} %{WORD:b} %{INT:c:int}$"))'))
    return _LAW_STAGE[0]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_group_spans_agree_with_the_public_interface(text):
    program = compile_regex(_grok.expand("%{WORD:w}(?: %{INT:n})?|%{GREEDYDATA:rest}").regex)
    data = text.encode("utf-8", "surrogatepass")
    found = program.search(data)
    spans = group_spans(program)(data)
    if found is None:
        assert spans is None
    else:
        assert list(spans) == [found.span(i) for i in range(program.groups + 1)]


def test_flowc_run_recompiles_when_a_patterns_file_changes(tmp_path, monkeypatch):
    from flowlang.compile_cache import compile_cached

    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "app.grok").write_text("LEVEL (?:INFO|WARN)\n", encoding="utf-8")
    flow = SourceFile(
        str(tmp_path / "app.flow"),
        'source stdin | parse(grok("%{LEVEL:level}", patterns="app.grok")) | sink stdout\n',
    )
    first, _ = compile_cached(flow)
    assert first is not None and "(?:INFO|WARN)" in first.read_text()
    assert compile_cached(flow)[0] == first  # unchanged: the cached module
    (tmp_path / "app.grok").write_text("LEVEL (?:DEBUG|ERROR)\n", encoding="utf-8")
    second, _ = compile_cached(flow)
    assert second is not None and "(?:DEBUG|ERROR)" in second.read_text()
    (tmp_path / "app.grok").unlink()
    missing, notes = compile_cached(flow)
    assert missing is None and "E412" in notes


def test_dropped_digit_guards_are_what_the_docs_say():
    # docs/language.md: without IPV4's lookahead a lone search finds a prefix
    assert grok("%{IPV4:ip}", "12.34.56.789") == {"ip": "12.34.56.78"}
    assert grok("%{IPV4:ip} ", "12.34.56.789 ") is None
    assert grok("^%{IPV4:ip}$", "12.34.56.789") is None
