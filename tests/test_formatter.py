"""`flowc fmt`: the canonical layout, comments kept, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlang import ast, codes
from flowlang.formatter import format_expr, format_program, format_source
from flowlang.parser import parse_text
from flowlang.source import SourceFile

REPO = Path(__file__).resolve().parent.parent


def fmt(text: str) -> str:
    out, diags = format_source(SourceFile("t.flow", text))
    assert out is not None, [d.message for d in diags]
    return out


def fmt_expr(text: str) -> str:
    """The canonical text of one expression, by way of a where stage."""
    out = fmt(f"source f | where {text}")
    prefix = "source f\n  | where "
    assert out.startswith(prefix) and out.endswith("\n")
    return out[len(prefix) : -1]


MESSY = """
schema Access {ip:ip
  `user-agent` : str?   tags:[str],geo:{city:str?,lat:float,..}?,
  extra : {..} }
pipeline web=source file( "access.log" ,format = json,schema=Access)|geoip
|where status>=500 and(country=="NL"or country=="BE")|anonymize(email,method=mask)
| summarize n=count,p95=p95(latency_ms)by host,c=geo.country every 60s on ts
|sink elastic("web-%Y.%m.%d")
from web.errors|sink file("errors.jsonl")
"""

CANONICAL = """\
schema Access {
  ip: ip,
  `user-agent`: str?,
  tags: [str],
  geo: {city: str?, lat: float, ..}?,
  extra: {..},
}

pipeline web =
  source file("access.log", format=json, schema=Access)
  | geoip
  | where status >= 500 and (country == "NL" or country == "BE")
  | anonymize(email, method=mask)
  | summarize n = count(), p95 = p95(latency_ms) by host, c = geo.country every 1m on ts
  | sink elastic("web-%Y.%m.%d")

from web.errors
  | sink file("errors.jsonl")
"""


def test_canonical_layout():
    assert fmt(MESSY) == CANONICAL
    assert fmt(CANONICAL) == CANONICAL


def test_the_seed_example():
    seed = 'source file("x.log") | geoip | anonymize(email) | sink elastic("idx")'
    assert fmt(seed) == (
        'source file("x.log")\n  | geoip\n  | anonymize(email)\n  | sink elastic("idx")\n'
    )


def test_empty_things():
    assert fmt("") == ""
    assert fmt("schema S {}") == "schema S {}\n"
    assert fmt("source f") == "source f\n"
    assert fmt("source f() | g() | sink null()") == "source f\n  | g\n  | sink null\n"


def test_every_stage_kind_is_written_canonically():
    text = (
        "pipeline p = from a | set x=1,`y z`=x.y | drop a,b.c | keep `from` "
        "| rename a as b,c as `d-e` | summarize n = count() every 1500ms allowed_lateness=2h "
        '| parse(csv(header=true)) | sink influx("b",tags=[host,dc])'
    )
    assert fmt(text) == (
        "pipeline p =\n"
        "  from a\n"
        "  | set x = 1, `y z` = x.y\n"
        "  | drop a, b.c\n"
        "  | keep `from`\n"
        "  | rename a as b, c as `d-e`\n"
        "  | summarize n = count() every 1500ms allowed_lateness = 2h\n"
        "  | parse(csv(header=true))\n"
        '  | sink influx("b", tags=[host, dc])\n'
    )


@pytest.mark.parametrize(
    "messy,canonical",
    [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("(a - b) - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a ?? b) ?? c", "(a ?? b) ?? c"),
        ("a ?? (b ?? c)", "a ?? b ?? c"),
        ("(a == b) == c", "(a == b) == c"),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("not (a or b)", "not (a or b)"),
        ("(not a) and b", "not a and b"),
        ("-(a + b)", "-(a + b)"),
        ("-(5)", "-(5)"),
        ("- 5", "-5"),
        ("-(-5)", "--5"),
        ("(-5) * 2", "-5 * 2"),
        ("-(5m)", "-5m"),
        ("1 + (if a then b else c)", "1 + (if a then b else c)"),
        ("if (a or b) then (c) else (d + 1)", "if a or b then c else d + 1"),
        ("f( a ,k = [ 1,2 ] )", "f(a, k=[1, 2])"),
        ("(((x)))", "x"),
        ("x in[1,2]", "x in [1, 2]"),
        ("f(schema = S,by=[a])", "f(schema=S, by=[a])"),
        ('x=~r"\\d"', 'x =~ r"\\d"'),
    ],
)
def test_minimal_parentheses_and_spacing(messy, canonical):
    assert fmt_expr(messy) == canonical
    assert (
        parse_text(f"source f | where {messy}")[0] == parse_text(f"source f | where {canonical}")[0]
    )


@pytest.mark.parametrize(
    "written,canonical",
    [
        ('"tab\tand \\u0009"', '"tab\\tand \\t"'),
        ('"\\u000d \\u001b \\u007f \\u0085"', '"\\u000d \\u001b \\u007f \\u0085"'),
        ('"\\ud800"', '"\\ud800"'),
        ('"line\u2028sep\u2029"', '"line\\u2028sep\\u2029"'),
        ('"\\u00e9 é 😀"', '"é é 😀"'),
        ('"q\\"b\\\\"', '"q\\"b\\\\"'),
        ('r"\\d+\\"x"', 'r"\\d+\\"x"'),
        ('r"tab\there"', 'r"tab\there"'),
        ("1.50", "1.5"),
        ("1e3", "1000.0"),
        ("1e16", "1e+16"),
        ("0.0001", "0.0001"),
        ("007", "7"),
        ("120s", "2m"),
        ("90s", "90s"),
        ("86400000ms", "1d"),
        ("0ms", "0s"),
        ("1001ms", "1001ms"),
        ("`a`", "a"),
        ("`in`", "`in`"),
        ("geo.`city`.`user-agent`", "geo.city.`user-agent`"),
    ],
)
def test_literals_are_written_canonically(written, canonical):
    assert fmt_expr(written) == canonical


def test_raw_strings_that_cannot_stay_raw_are_escaped():
    raw = ast.Literal("a\nb", raw=True)
    assert format_expr(raw) == '"a\\nb"'
    assert format_expr(ast.Literal("ends with \\", raw=True)) == '"ends with \\\\"'
    assert format_expr(ast.Literal('a"b', raw=True)) == '"a\\"b"'
    assert format_expr(ast.Literal("\\d", raw=True)) == 'r"\\d"'


def test_what_flowlang_cannot_write_is_a_value_error():
    with pytest.raises(ValueError):
        format_program(ast.Program((ast.Schema("not an identifier", ()),)))
    with pytest.raises(ValueError):
        format_expr(ast.Literal(float("inf")))


def test_syntax_errors_give_no_text():
    out, diags = format_source(SourceFile("t.flow", "source f | | sink s"))
    assert out is None and diags[0].code == codes.SYNTAX


# ---------------------------------------------------------------- comments

COMMENTED = """\
# the access log
schema Access {  # fields we read
  # the client
  ip: ip,
  status: int,  # HTTP status
  # more to come
}  # end of schema

# errors only
pipeline web =  # named
  # read it
  source file("access.log")  # input
  # keep server errors
  | where status >= 500
  | sink elastic("web")  # output

source stdin
  # just print
  | sink stdout

# trailing remark
# and another
"""


def test_comments_are_kept_in_place():
    assert fmt(COMMENTED) == COMMENTED


def test_comments_move_with_their_element_into_canonical_places():
    messy = (
        "#top\n"
        "pipeline p = source f | geoip # eol for geoip\n"
        "      # before where\n"
        "| where a   # inside where\n"
        "   and b # also inside\n"
        "| sink s\n"
        "# at the end"
    )
    assert fmt(messy) == (
        "#top\n"
        "pipeline p =\n"
        "  source f\n"
        "  | geoip  # eol for geoip\n"
        "  # before where\n"
        "  | where a and b  # inside where # also inside\n"
        "  | sink s\n"
        "\n"
        "# at the end\n"
    )


def test_an_open_schema_ends_with_dotdot_on_its_own_line():
    messy = (
        "schema Event { ts: time, # the time\n"
        "  # others are allowed\n"
        "  .. # open\n"
        "  # last\n"
        "}\n"
        "schema Any {..}\n"
    )
    canonical = (
        "schema Event {\n"
        "  ts: time,  # the time\n"
        "  # others are allowed\n"
        "  ..  # open\n"
        "  # last\n"
        "}\n"
        "\n"
        "schema Any { .. }\n"
    )
    assert fmt(messy) == canonical
    assert fmt(canonical) == canonical


def test_a_file_of_comments_only():
    assert fmt("  # one\n# two   \n") == "# one\n# two\n"
    assert fmt("  # one\n\n\n# two   \n\n") == "# one\n\n# two\n"


def test_a_blank_line_after_a_comment_before_a_statement_is_kept():
    text = "# header\n\n\n# about s\nschema S {}\n# banner\n\nsource f\n\n  # x\n\n  | sink s\n"
    assert fmt(text) == (
        "# header\n\n# about s\nschema S {}\n\n# banner\n\nsource f\n  # x\n  | sink s\n"
    )


def test_long_item_lists_wrap_one_per_line():
    names = ", ".join(f"field_number_{i} = {i}" for i in range(6))
    assert fmt(f"source f | set {names} | drop a, b") == (
        "source f\n"
        "  | set field_number_0 = 0,\n"
        "        field_number_1 = 1,\n"
        "        field_number_2 = 2,\n"
        "        field_number_3 = 3,\n"
        "        field_number_4 = 4,\n"
        "        field_number_5 = 5\n"
        "  | drop a, b\n"
    )
    aggregates = ", ".join(f"total_number_{i} = sum(value_{i})" for i in range(3))
    out = fmt(f"source f # eol\n| summarize {aggregates} by host every 1m  # the window\n")
    assert out == (
        "source f  # eol\n"
        "  | summarize total_number_0 = sum(value_0),\n"
        "              total_number_1 = sum(value_1),\n"
        "              total_number_2 = sum(value_2)\n"
        "      by host every 1m  # the window\n"
    )
    assert fmt(out) == out
    out = fmt(
        "source f | summarize n = count() by host, country = geo.country_iso_code every 1m on ts allowed_lateness = 30s"
    )
    assert out == (
        "source f\n"
        "  | summarize n = count()\n"
        "      by host, country = geo.country_iso_code every 1m on ts allowed_lateness = 30s\n"
    )


def test_long_stage_calls_fill_continuation_lines():
    text = (
        'pipeline p = source file("/var/log/a-very-long-directory-name/access.log", format=json, '
        'schema=Access, follow=true) | sink influx(env("FLOW_INFLUX_BUCKET", "metrics"), '
        'measurement="requests", tags=[country], fields=[requests, p95_latency_ms], time=window_start)'
    )
    out = fmt(text)
    assert out == (
        "pipeline p =\n"
        '  source file("/var/log/a-very-long-directory-name/access.log", format=json,\n'
        "      schema=Access, follow=true)\n"
        '  | sink influx(env("FLOW_INFLUX_BUCKET", "metrics"), measurement="requests",\n'
        "      tags=[country], fields=[requests, p95_latency_ms], time=window_start)\n"
    )
    assert fmt(out) == out
    assert all(len(line) <= 88 for line in out.splitlines())


def test_every_comment_survives():
    out = fmt(COMMENTED.replace("\n", "\n\n"))
    assert sorted(c.text for c in parse_text(out)[0].comments) == sorted(
        c.text for c in parse_text(COMMENTED)[0].comments
    )


# ---------------------------------------------------------------- idempotence


def sample_files() -> list[tuple[str, str]]:
    """Every .flow file in the repository, plus the texts of this module."""
    files = [
        (p.name, p.read_text("utf-8"))
        for p in sorted(REPO.glob("**/*.flow"))
        if ".venv" not in p.parts
    ]
    return files + [("messy", MESSY), ("commented", COMMENTED)]


def test_formatting_is_idempotent_and_keeps_the_program():
    for name, text in sample_files():
        program, diags = parse_text(text, name)
        if program is None:
            continue  # files that test diagnostics on purpose
        once = format_program(program)
        twice = fmt(once)
        assert twice == once, name
        assert parse_text(once)[0] == program, name
        assert all(c.text in once for c in program.comments), name
