"""Laws of the front end: formatting round-trips, is idempotent, keeps
comments; parsing is deterministic and turns any text into diagnostics,
never into an exception."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlang import ast
from flowlang.formatter import format_program, format_source
from flowlang.parser import parse, parse_text
from flowlang.source import SourceFile
from tests.strategies import expressions, programs, strict_key

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# a rough tokenizer for mutating valid text; it need not match the grammar
TOKEN = re.compile(
    r'\s+|#[^\n]*|r?"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|[A-Za-z_0-9]+|==|!=|<=|>=|=~|\?\?|\.\.|.',
    re.S,
)


def assert_only_diagnostics(text: str) -> None:
    """Parsing and formatting `text` ends in a program or in diagnostics that
    point inside the text; formatting succeeds exactly when parsing does."""
    src = SourceFile("any.flow", text)
    program, diags = parse(src)
    assert (program is None) == any(d.is_error for d in diags)
    for d in diags:
        assert 0 <= d.span.start <= d.span.end <= len(text), d
        assert d.message and d.code.startswith("E")
        src.line_col(d.span.start)
    formatted, again = format_source(src)
    assert (formatted is None) == (program is None)
    assert again == diags


@FAST
@given(programs)
def test_parse_of_format_is_the_program(program):
    text = format_program(program)
    parsed, diags = parse_text(text)
    assert diags == [], (text, [d.message for d in diags])
    assert strict_key(parsed) == strict_key(program), text


@FAST
@given(programs)
def test_format_is_idempotent(program):
    text = format_program(program)
    out, diags = format_source(SourceFile("p.flow", text))
    assert out == text


@FAST
@given(expressions)
def test_expressions_round_trip_inside_every_expression_position(expr):
    call = ast.Call("f", (ast.Arg(None, expr), ast.Arg("k", expr)))
    program = ast.Program(
        (
            ast.Pipeline(
                "p",
                ast.Chain(
                    ast.SourceHead(call),
                    (
                        ast.WhereStage(expr),
                        ast.SetStage((ast.Assignment(ast.FieldRef(("x",)), expr),)),
                        ast.ProcessorStage(
                            ast.Call("g", (ast.Arg(None, ast.ListExpr((expr, expr))),))
                        ),
                        ast.SinkStage(call),
                    ),
                ),
            ),
        )
    )
    parsed, _ = parse_text(format_program(program))
    assert strict_key(parsed) == strict_key(program)


comment_texts = st.from_regex(r"#[ a-z0-9#`\"|()]{0,12}", fullmatch=True).map(str.rstrip)


@FAST
@given(programs, st.data())
def test_comments_are_kept_and_formatting_stays_idempotent(program, data):
    lines = format_program(program).split("\n")[:-1]
    inserted = []
    out_lines = []
    for line in lines + [""]:
        if data.draw(st.booleans(), label="comment before"):
            text = data.draw(comment_texts)
            indent = data.draw(st.sampled_from(["", "  ", "      "]))
            out_lines.append(indent + text)
            inserted.append(text)
        if line and data.draw(st.booleans(), label="comment after"):
            text = data.draw(comment_texts)
            line += "   " + text
            inserted.append(text)
        out_lines.append(line)
    text = "\n".join(out_lines)
    once, diags = format_source(SourceFile("c.flow", text))
    assert once is not None, [d.message for d in diags]
    reparsed, _ = parse_text(once)
    assert reparsed == program
    # end-of-line comments inside a wrapped stage join at its end; none is lost
    assert all(text in once for text in inserted)
    assert len(reparsed.comments) <= len(inserted)
    twice, _ = format_source(SourceFile("c.flow", once))
    assert twice == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_gives_diagnostics_not_exceptions(text):
    assert_only_diagnostics(text)


flow_alphabet = st.sampled_from(
    list('abxyz019 \t\n|()[]{}.,:=<>!?+-*/%#`"\\r')
    + [
        "source ",
        "from ",
        "where ",
        "sink ",
        "pipeline ",
        "schema ",
        "set ",
        "summarize ",
        " every ",
        "5m",
        'r"',
        "\x00",
        "\ud800",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(flow_alphabet, max_size=40).map("".join))
def test_text_made_of_flowlang_pieces_gives_diagnostics_not_exceptions(text):
    assert_only_diagnostics(text)


@FAST
@given(programs, st.data())
def test_mutated_programs_give_diagnostics_not_exceptions(program, data):
    tokens = TOKEN.findall(format_program(program))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        if not tokens:
            break
        i = data.draw(st.integers(0, len(tokens) - 1), label="at")
        j = data.draw(st.integers(0, len(tokens) - 1), label="other")
        action = data.draw(st.sampled_from(["delete", "duplicate", "swap"]), label="action")
        if action == "delete":
            del tokens[i]
        elif action == "duplicate":
            tokens.insert(i, tokens[i])
        else:
            tokens[i], tokens[j] = tokens[j], tokens[i]
    assert_only_diagnostics("".join(tokens))


@FAST
@given(st.one_of(programs.map(format_program), st.text(max_size=60)))
def test_parsing_is_deterministic(text):
    first = parse_text(text)
    second = parse_text(text)
    assert strict_key(first[0]) == strict_key(second[0])
    assert first[1] == second[1]
    if first[0] is not None:
        assert first[0].comments == second[0].comments
