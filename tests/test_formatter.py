"""`flowc fmt`: the canonical layout, comments kept, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowlang import ast, codes
from flowlang.formatter import MAX_WIDTH, format_expr, format_program, format_source
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


CASES = Path(__file__).resolve().parent / "formatter"


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES.glob("*.flow"))


@pytest.mark.parametrize("name", case_names())
def test_case(name):
    """`tests/formatter/NAME.flow` formats to `NAME.out` (`make regen` rewrites
    the outputs after a deliberate change); the output is a fixed point, keeps
    every comment and the program, and wraps within MAX_WIDTH."""
    text = (CASES / f"{name}.flow").read_text("utf-8")
    expected = (CASES / f"{name}.out").read_text("utf-8")
    assert fmt(text) == expected
    assert fmt(expected) == expected
    before, after = parse_text(text)[0], parse_text(expected)[0]
    assert after == before
    # every comment is kept (those that end up on one line are joined there)
    assert all(c.text in expected for c in before.comments)
    assert all(len(line) <= MAX_WIDTH for line in expected.splitlines())


def test_there_are_cases_of_each_kind():
    names = case_names()
    assert len(names) >= 10
    assert all((CASES / f"{name}.out").exists() for name in names)
    assert sorted(p.stem for p in CASES.glob("*.out")) == names


def regenerate() -> list[Path]:
    """Rewrite every case's expected output from the formatter."""
    changed = []
    for name in case_names():
        out = CASES / f"{name}.out"
        text = fmt((CASES / f"{name}.flow").read_text("utf-8"))
        if not out.exists() or out.read_text("utf-8") != text:
            out.write_text(text, "utf-8")
            changed.append(out)
    return changed


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


def test_every_comment_survives_blank_lines():
    for name in case_names():
        text = (CASES / f"{name}.flow").read_text("utf-8")
        out = fmt(text.replace("\n", "\n\n"))
        assert all(c.text in out for c in parse_text(text)[0].comments), name


# ---------------------------------------------------------------- idempotence


def sample_files() -> list[tuple[str, str]]:
    """Every .flow file in the repository (the formatter cases among them)."""
    files = [
        (p.name, p.read_text("utf-8"))
        for p in sorted(REPO.glob("**/*.flow"))
        if ".venv" not in p.parts
    ]
    return files


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
