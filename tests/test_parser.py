"""The parser: every construct, spans, precedence, literals, comments, and
readable diagnostics for broken text."""

from __future__ import annotations

import gc
import re
import time
from pathlib import Path

import pytest

from flowlang import ast, codes
from flowlang.ast import (
    Arg,
    Binary,
    Call,
    Duration,
    FieldRef,
    IfExpr,
    ListExpr,
    Literal,
    Unary,
)
from flowlang.diagnostics import render_all
from flowlang.names import KEYWORDS
from flowlang.parser import MAX_NESTING, parse, parse_text
from flowlang.parser.grammar import _grammar_text, grammar_keywords, lark_parser
from flowlang.parser.syntax_errors import _example_table
from flowlang.source import SourceFile

SEED = 'source file("x.log") | geoip | anonymize(email) | sink elastic("idx")'


def ok(text: str) -> ast.Program:
    program, diags = parse_text(text, "t.flow")
    assert program is not None, [d.message for d in diags]
    assert diags == []
    return program


def bad(text: str) -> list:
    program, diags = parse_text(text, "t.flow")
    assert program is None
    assert diags
    return diags


def chain(text: str) -> ast.Chain:
    (statement,) = ok(text).statements
    return statement.chain


def expr(text: str) -> ast.Expr:
    (stage,) = chain(f"source f | where {text}").stages
    return stage.cond


def f(*path: str) -> FieldRef:
    return FieldRef(path)


def lit(value) -> Literal:
    return Literal(value)


# ---------------------------------------------------------------- programs


def test_seed_parses_to_the_expected_tree():
    program = ok(SEED)
    assert program.statements == (
        ast.Pipeline(
            None,
            ast.Chain(
                ast.SourceHead(Call("file", (Arg(None, lit("x.log")),))),
                (
                    ast.ProcessorStage(Call("geoip")),
                    ast.ProcessorStage(Call("anonymize", (Arg(None, f("email")),))),
                    ast.SinkStage(Call("elastic", (Arg(None, lit("idx")),))),
                ),
            ),
        ),
    )
    geoip = program.statements[0].chain.stages[0].call
    assert geoip.parens is False


def test_keywords_equal_the_grammars_reserved_words():
    assert set(grammar_keywords()) == KEYWORDS


def test_the_grammar_is_the_repositorys_file():
    repo_grammar = Path(__file__).resolve().parent.parent / "grammar" / "flow.lark"
    assert _grammar_text() == repo_grammar.read_text(encoding="utf-8")


def test_statements_of_every_kind():
    program = ok("""
        schema Access { ip: ip, `user-agent`: str? tags: [str],
                        geo: {city: str?, lat: float}?, extra: {a: int, ..}, any: {..}, none: {} }
        pipeline web = source file("a.log", schema=Access) | sink stdout
        from web.errors | sink null
        from web | sink null()
        """)
    schema, web, errors, reader = program.statements
    assert schema == ast.Schema(
        "Access",
        (
            ast.FieldDecl("ip", ast.TypeName("ip")),
            ast.FieldDecl("user-agent", ast.NullableType(ast.TypeName("str"))),
            ast.FieldDecl("tags", ast.ListType(ast.TypeName("str"))),
            ast.FieldDecl(
                "geo",
                ast.NullableType(
                    ast.RecordTypeExpr(
                        (
                            ast.FieldDecl("city", ast.NullableType(ast.TypeName("str"))),
                            ast.FieldDecl("lat", ast.TypeName("float")),
                        )
                    )
                ),
            ),
            ast.FieldDecl(
                "extra",
                ast.RecordTypeExpr((ast.FieldDecl("a", ast.TypeName("int")),), open=True),
            ),
            ast.FieldDecl("any", ast.RecordTypeExpr((), open=True)),
            ast.FieldDecl("none", ast.RecordTypeExpr(())),
        ),
    )
    assert web.name == "web"
    assert web.chain.head == ast.SourceHead(
        Call("file", (Arg(None, lit("a.log")), Arg("schema", f("Access"))))
    )
    assert errors == ast.Pipeline(
        None,
        ast.Chain(ast.FromHead("web", errors=True), (ast.SinkStage(Call("null")),)),
    )
    assert reader.chain.head == ast.FromHead("web")
    assert reader.chain.stages[0].call.parens is True


def test_every_stage_kind():
    stages = chain("""source stdin
        | where x > 1
        | set a = 1, geo.city = "x"
        | drop a, b.c
        | keep `a b`
        | rename a as b, c.d as e
        | summarize n = count(), p = p95(latency_ms) by host, country = geo.country
            every 1m on ts allowed_lateness = 30s
        | summarize n = count every 5s
        | parse(csv(header=true))
        | sink influx("b", tags=[host, dc], format=json)""").stages
    assert stages == (
        ast.WhereStage(Binary(">", f("x"), lit(1))),
        ast.SetStage((ast.Assignment(f("a"), lit(1)), ast.Assignment(f("geo", "city"), lit("x")))),
        ast.DropStage((f("a"), f("b", "c"))),
        ast.KeepStage((f("a b"),)),
        ast.RenameStage((ast.RenamePair(f("a"), f("b")), ast.RenamePair(f("c", "d"), f("e")))),
        ast.SummarizeStage(
            (
                ast.Aggregate("n", Call("count")),
                ast.Aggregate("p", Call("p95", (Arg(None, f("latency_ms")),))),
            ),
            (
                ast.GroupKey(None, f("host")),
                ast.GroupKey("country", f("geo", "country")),
            ),
            Duration(60_000),
            f("ts"),
            Duration(30_000),
        ),
        ast.SummarizeStage((ast.Aggregate("n", Call("count")),), (), Duration(5000)),
        ast.ProcessorStage(Call("parse", (Arg(None, Call("csv", (Arg("header", lit(True)),))),))),
        ast.SinkStage(
            Call(
                "influx",
                (
                    Arg(None, lit("b")),
                    Arg("tags", ListExpr((f("host"), f("dc")))),
                    Arg("format", f("json")),
                ),
            )
        ),
    )


def test_sink_is_accepted_anywhere_in_a_chain():
    stages = chain("source f | sink a | geoip | sink b").stages
    assert [type(s).__name__ for s in stages] == [
        "SinkStage",
        "ProcessorStage",
        "SinkStage",
    ]


def test_a_chain_may_span_lines_and_statements_follow_each_other():
    program = ok("source a\n| sink b\nsource c | sink d pipeline p = from x | sink y")
    assert [s.name for s in program.statements] == [None, None, "p"]


def test_empty_and_comment_only_programs():
    assert ok("").statements == ()
    program = ok("# nothing here\n   \n")
    assert program.statements == () and [c.text for c in program.comments] == ["# nothing here"]


# ---------------------------------------------------------------- spans


def test_spans_point_at_the_source():
    text = 'pipeline web =\n  source file("a.log")\n  | where status >= 500\n  | sink elastic("w")'
    program = ok(text)
    (pipeline,) = program.statements
    at = lambda span: text[span.start : span.end]  # noqa: E731
    assert at(pipeline.span) == text
    assert at(pipeline.name_span) == "web"
    head = pipeline.chain.head
    assert at(head.span) == 'source file("a.log")'
    assert at(head.call.span) == 'file("a.log")'
    assert at(head.call.name_span) == "file"
    assert at(head.call.args[0].span) == '"a.log"'
    where, sink = pipeline.chain.stages
    assert at(where.span) == "where status >= 500"
    assert at(where.cond.span) == "status >= 500"
    assert at(where.cond.left.span) == "status"
    assert at(where.cond.right.span) == "500"
    assert at(sink.call.name_span) == "elastic"
    assert at(program.span) == text


def test_spans_of_schemas_bare_chains_and_folded_literals():
    text = "schema S {\n  a: [int]?,\n}\nsource f | set x = -5, y = (a + b)"
    schema, bare = ok(text).statements
    at = lambda span: text[span.start : span.end]  # noqa: E731
    assert at(schema.name_span) == "S"
    assert at(schema.fields[0].span) == "a: [int]?"
    assert at(schema.fields[0].type.span) == "[int]?"
    assert at(bare.span) == "source f | set x = -5, y = (a + b)"
    assert bare.name is None and at(bare.name_span) == "source f"
    first, second = bare.chain.stages[0].assignments
    assert at(first.value.span) == "-5"
    assert at(second.value.span) == "a + b"
    assert at(second.target.span) == "y"


# ---------------------------------------------------------------- expressions

PRECEDENCE = [
    ("a or b and c", Binary("or", f("a"), Binary("and", f("b"), f("c")))),
    ("not a and b", Binary("and", Unary("not", f("a")), f("b"))),
    ("not a == b", Unary("not", Binary("==", f("a"), f("b")))),
    ("a == b ?? c", Binary("==", f("a"), Binary("??", f("b"), f("c")))),
    ("a ?? b ?? c", Binary("??", f("a"), Binary("??", f("b"), f("c")))),
    ("a ?? b + c", Binary("??", f("a"), Binary("+", f("b"), f("c")))),
    ("a - b - c", Binary("-", Binary("-", f("a"), f("b")), f("c"))),
    ("a + b * c % d", Binary("+", f("a"), Binary("%", Binary("*", f("b"), f("c")), f("d")))),
    ("-a * b", Binary("*", Unary("-", f("a")), f("b"))),
    ("(a + b) * c", Binary("*", Binary("+", f("a"), f("b")), f("c"))),
    ("a in [1, 2]", Binary("in", f("a"), ListExpr((lit(1), lit(2))))),
    ('a =~ r"\\d+"', Binary("=~", f("a"), lit("\\d+"))),
    (
        "x <= 1 and y != 2",
        Binary("and", Binary("<=", f("x"), lit(1)), Binary("!=", f("y"), lit(2))),
    ),
    ("if a then b else c or d", IfExpr(f("a"), f("b"), Binary("or", f("c"), f("d")))),
    ("if a then if b then c else d else e", IfExpr(f("a"), IfExpr(f("b"), f("c"), f("d")), f("e"))),
    (
        'lower(trim(name)) == "x"',
        Binary("==", Call("lower", (Arg(None, Call("trim", (Arg(None, f("name")),))),)), lit("x")),
    ),
    ("now() - ts > 5m", Binary(">", Binary("-", Call("now"), f("ts")), Duration(300_000))),
    ("geo.`user-agent`", f("geo", "user-agent")),
    ("`from`.x", f("from", "x")),
]


@pytest.mark.parametrize("text,tree", PRECEDENCE, ids=[t for t, _ in PRECEDENCE])
def test_precedence_and_associativity(text, tree):
    assert expr(text) == tree


def test_unary_minus_folds_only_directly_into_a_number():
    assert expr("-5").value == -5 and isinstance(expr("-5"), Literal)
    assert expr("-2.5") == lit(-2.5)
    assert expr("-(5)") == Unary("-", lit(5))
    assert expr("--5") == Unary("-", lit(-5))
    assert expr("-5m") == Unary("-", Duration(300_000))
    assert expr("-x") == Unary("-", f("x"))
    assert expr("-9223372036854775808") == lit(-(2**63))


@pytest.mark.parametrize(
    "text",
    [
        "source f | where a < b < c",
        "source f | where a == b == c",
        "source f | where a < b >= c",
        "pipeline p = from x | where a != b == c",
        "source f | set x = 1 < 2 > 3",
        "source f | where (a < b < c)",
    ],
)
def test_comparisons_do_not_chain(text):
    (d,) = bad(text + " | sink stdout")
    assert d.code == codes.SYNTAX and d.message == "comparisons cannot be chained"


def test_if_needs_parentheses_inside_an_operator():
    bad("source f | where 1 + if a then b else c")
    assert expr("1 + (if a then b else c)") == Binary("+", lit(1), IfExpr(f("a"), f("b"), f("c")))


# ---------------------------------------------------------------- literals


@pytest.mark.parametrize(
    "text,value",
    [
        ('"plain"', "plain"),
        ('"q\\"uote"', 'q"uote'),
        ('"back\\\\slash"', "back\\slash"),
        ('"a\\nb\\tc"', "a\nb\tc"),
        ('"\\u00e9\\u0000"', "é\x00"),
        ('"\\ud83d\\ude00"', "\ud83d\ude00"),
        ('"😀 ünï"', "😀 ünï"),
        ('"# not a comment"', "# not a comment"),
        ('""', ""),
    ],
)
def test_string_escapes(text, value):
    result = expr(text)
    assert result == lit(value) and result.raw is False


def test_raw_strings_keep_backslashes_and_a_quoted_quote():
    result = expr(r'r"(?P<ip>\S+) \"x\""')
    assert result == lit(r"(?P<ip>\S+) \"x\"") and result.raw is True
    assert expr(r'r"\\"') == lit("\\\\")


@pytest.mark.parametrize("escape", ["\\q", "\\x41", "\\r", "\\'", "\\u12", "\\u00g0"])
def test_bad_escapes_are_e003_with_the_escape_underlined(escape):
    text = f'source f | where x == "ab{escape}!z"'
    (d,) = bad(text)
    assert d.code == codes.BAD_ESCAPE
    assert text[d.span.start : d.span.end] in (escape, escape[:2])
    assert "\\" in d.message


def test_every_bad_escape_is_reported():
    diags = bad('source f | set a = "\\q\\z", b = "\\y"')
    assert [d.code for d in diags] == [codes.BAD_ESCAPE] * 3


@pytest.mark.parametrize(
    "text,value",
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("9223372036854775807", 2**63 - 1),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("1e+2", 100.0),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_numbers_and_constants(text, value):
    result = expr(text)
    assert result == lit(value) and type(result.value) is type(value)


@pytest.mark.parametrize(
    "text,millis",
    [
        ("250ms", 250),
        ("5s", 5000),
        ("1m", 60_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("0s", 0),
    ],
)
def test_durations(text, millis):
    assert expr(text) == Duration(millis)


@pytest.mark.parametrize(
    "number", ["5sec", "1.5s", "12abc", "9223372036854775808", "1e999", "3e", "1_000"]
)
def test_bad_numbers_are_e006(number):
    diags = bad(f"source f | set x = {number}")
    assert [d.code for d in diags] == [codes.BAD_NUMBER]
    assert number in diags[0].message


@pytest.mark.parametrize(
    "number", ["9" * 5000, "-" + "9" * 5000, "7" * 5000 + "ms", "0" * 5000 + "1s"]
)
def test_numbers_of_thousands_of_digits_are_e006_or_read(number):
    # int() of a string of more than 4300 digits raises; the parser must not
    program, diags = parse_text(f"source f | set x = {number} | sink s")
    if number.startswith("0"):
        assert diags == [] and program is not None
        assert program.statements[0].chain.stages[0].assignments[0].value == Duration(1000)
    else:
        assert [d.code for d in diags] == [codes.BAD_NUMBER]
        assert "out of range" in diags[0].message or "too long" in diags[0].message


def test_every_and_lateness_need_durations():
    diags = bad("source f | summarize n = count() every 5 allowed_lateness = 1.5 | sink s")
    assert [d.code for d in diags] == [codes.BAD_NUMBER, codes.BAD_NUMBER]
    assert "expected a duration after `every`" in diags[0].message


def test_backtick_names_and_reserved_words():
    assert expr("`user-agent` == `from`") == Binary("==", f("user-agent"), f("from"))
    d, *_ = bad("source f | drop from")
    assert "backticks" in d.hint
    (d,) = bad("source f | drop ``")
    assert d.message == "empty field name in backticks"
    for word in ("where", "in", "null", "allowed_lateness"):
        bad(f"source f | set {word} = 1")
    # stage and type names are ordinary identifiers
    ok("source file | errors | sink geoip")
    ok("schema str { int: str }")


@pytest.mark.parametrize(
    "text",
    [
        "source f | where from",
        "source f | where x == schema",
        "source f | where not pipeline",
        "source f | g(sink)",
        "source f | set a = [1, where]",
        "schema S { a: [in] }",
    ],
)
def test_reserved_words_are_reserved_in_every_position(text):
    diags = bad(text)
    assert diags[0].code == codes.SYNTAX


def test_keyword_arguments_may_be_named_by_reserved_words():
    call = chain('source file("a", schema=Access, by=[host], on=ts, null=1, if=true)').head.call
    assert [a.name for a in call.args] == [None, "schema", "by", "on", "null", "if"]
    assert call.args[1].value == f("Access")


def test_null_is_a_sink_name():
    (stage,) = chain("source f | sink null").stages
    assert stage == ast.SinkStage(Call("null"))


def test_call_arguments_positional_then_keyword():
    (stage,) = chain("source f | g(a, 1, k=v, j=[1])").stages
    assert [a.name for a in stage.call.args] == [None, None, "k", "j"]
    (d,) = bad("source f | g(k=1, a)")
    assert d.message == "positional argument after a keyword argument"


def test_trailing_commas_are_accepted():
    assert chain("source f(a, b,) | where x in [1, 2,]").head.call.args[1].value == f("b")


# ---------------------------------------------------------------- comments


def test_comments_are_collected_with_their_placement():
    text = "# top\nsource f  # after the head\n  # own line\n  | sink g #last   \n"
    program = ok(text)
    assert [(c.text, c.own_line) for c in program.comments] == [
        ("# top", True),
        ("# after the head", False),
        ("# own line", True),
        ("#last", False),
    ]
    for c in program.comments:
        assert text[c.span.start : c.span.end] == c.text


def test_hash_inside_strings_and_backticks_is_not_a_comment():
    program = ok('source f("a#b") | set `x#y` = r"#"')
    assert program.comments == ()


def test_crlf_line_endings():
    program = ok("source f # c\r\n| sink g\r\n")
    assert program.comments[0].text == "# c"


# ---------------------------------------------------------------- syntax errors

TERMINAL_NAMES = {t.name for t in lark_parser().terminals} | {"$END"}


def raw_terminals(text: str) -> set[str]:
    """Lark's internal terminal names (RPAR, __ANON_0, $END) that leaked into text."""
    return {w for w in re.findall(r"[$\w]+", text) if w in TERMINAL_NAMES or "ANON" in w}


def single_error(text: str):
    diags = bad(text)
    assert len(diags) == 1, [d.message for d in diags]
    d = diags[0]
    assert not raw_terminals(d.message), d.message
    assert not raw_terminals(d.hint or ""), d.hint
    return d, text[d.span.start : d.span.end]


def test_missing_pipe_between_stages():
    d, at = single_error('source file("x.log") geoip | sink s')
    assert d.message == "missing `|` before `geoip`" and at == "geoip"
    d, at = single_error("source f | where x > 1 sink s")
    assert d.message == "missing `|` before `sink`"


def test_misspelt_keywords_get_did_you_mean():
    d, at = single_error("source f | wher x > 1 | sink s")
    assert (d.message, d.hint, at) == (
        "misspelt keyword `wher`",
        "did you mean `where`?",
        "wher",
    )
    d, at = single_error('souce file("x") | sink s')
    assert (d.hint, at) == ("did you mean `source`?", "souce")
    d, at = single_error("pipelin p = from a | sink s")
    assert d.hint == "did you mean `pipeline`?"
    d, at = single_error("source f | summarize n = count() evry 1m | sink s")
    assert d.hint == "did you mean `every`?" and at == "evry"


def test_assignment_instead_of_comparison():
    d, at = single_error("source f | where status = 500 | sink s")
    assert d.message == "`=` is not a comparison" and "==" in d.hint and at == "="


def test_trailing_pipe():
    d, at = single_error("source f | geoip |")
    assert d.message == "expected a stage after `|`" and at == "|"


def test_unclosed_parenthesis_points_at_the_opening():
    d, at = single_error('source file("x.log" | geoip | sink s')
    assert d.message == "unclosed `(`" and at == "("
    assert d.labels and "expected `)`" in d.labels[0].message
    d, at = single_error("source f | where x in [1, 2 | sink s")
    assert d.message == "unclosed `[`"


def test_unterminated_string_and_backtick():
    d, at = single_error('source file("x.log) | sink s\n')
    assert d.code == codes.UNCLOSED_STRING and at == '"x.log) | sink s'
    d, at = single_error('source f | where x =~ r"abc')
    assert d.code == codes.UNCLOSED_STRING and at == 'r"abc'
    d, at = single_error("source f | drop `a b")
    assert d.code == codes.UNCLOSED_BACKTICK


def test_generic_errors_say_what_was_expected_in_words():
    d, _ = single_error("source f | sink s )")
    assert d.message == "expected `(`, `|` or the end of the pipeline, found `)`"
    d, _ = single_error("pipeline = from a")
    assert d.message == "expected a name, found `=`"
    d, _ = single_error("source f | where x >")
    assert d.message.startswith("expected an expression, found the end of the file")
    d, _ = single_error("from a.b")
    assert d.message == "expected `errors` after `from a.`, found `b`"


def test_unexpected_characters():
    d, at = single_error("source f | where a && b")
    assert d.code == codes.BAD_CHARACTER and at == "&" and "and" in d.hint
    d, at = single_error("source f | where !a")
    assert d.code == codes.BAD_CHARACTER and "not" in d.hint
    d, _ = single_error("source f\u00a0| sink s")
    assert "U+00A0" in d.message and "NO-BREAK SPACE" in d.message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\ud800", "\udfff"])
def test_control_characters_and_lone_surrogates_anywhere_are_e005(char):
    for text in (
        f"source f{char} | sink s",
        f'source f("a{char}b")',
        f"source f # c{char}",
    ):
        diags = bad(text)
        assert codes.BAD_CHARACTER in [d.code for d in diags]
        assert any(d.span.start == text.index(char) for d in diags)


def test_every_example_mistake_is_an_error():
    table = _example_table()
    assert {label for label, _ in table} >= {
        "missing_pipe",
        "eq_for_compare",
        "trailing_pipe",
        "unclosed",
        "misspelt_statement",
    }
    for _, examples in table:
        for example in examples:
            bad(example)


def test_a_syntax_error_renders_like_a_compilers():
    text = 'source file("x.log")\n  | wher status > 1\n  | sink s\n'
    rendered = render_all(bad(text), SourceFile("t.flow", text))
    assert rendered == (
        "t.flow:2:5: error[E001]: misspelt keyword `wher`\n"
        "  |\n"
        "2 |   | wher status > 1\n"
        "  |     ^^^^ did you mean `where`?"
    )


def test_one_error_per_broken_statement():
    text = (
        "source a | geoip |\n"
        "pipeline good = from x | sink y\n"
        "pipeline p = source f | where x = 1 | sink s\n"
        "schema S { a int }\n"
        'source b | set x = "\\q"\n'
    )
    diags = bad(text)
    src = SourceFile("t.flow", text)
    assert [(src.line_col(d.span.start)[0], d.code) for d in diags] == [
        (1, codes.SYNTAX),
        (3, codes.SYNTAX),
        (4, codes.SYNTAX),
        (5, codes.BAD_ESCAPE),
    ]
    assert diags[0].message == "expected a stage after `|`"
    assert all(d.file is not None and d.file.text == text for d in diags)


def test_an_error_before_any_statement():
    diags = bad("= = =\nsource f | sink g")
    assert len(diags) == 1 and diags[0].span.start == 0


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "text",
    [
        "source f | where " + "(" * 10_000 + "x" + ")" * 10_000,
        "source f | where " + "not " * 10_000 + "x",
        "source f | where " + "-" * 10_000 + "x",
        "source f | where " + "[" * 10_000 + "]" * 10_000,
        "source f | where " + "f(" * 5_000 + ")" * 5_000,
        "source f | where " + " + ".join(["x"] * 2_000),
        "schema S { a: " + "[" * 5_000 + "int" + "]" * 5_000 + " }",
        "schema S { a: int" + "?" * 5_000 + " }",
    ],
    ids=["parens", "not", "minus", "lists", "calls", "chain", "list types", "nullable"],
)
def test_deep_nesting_is_e004_not_a_crash(text):
    (d,) = bad(text)
    assert d.code == codes.TOO_DEEP


def test_nesting_up_to_the_limit_is_fine():
    # parentheses and the minus are one level each
    result = expr("(" * (MAX_NESTING - 1) + "-x" + ")" * (MAX_NESTING - 1))
    assert result == Unary("-", f("x"))
    (d,) = bad("source f | where " + "(" * MAX_NESTING + "-x" + ")" * MAX_NESTING)
    assert d.code == codes.TOO_DEEP
    tree = expr(" + ".join(["x"] * MAX_NESTING))
    assert isinstance(tree, Binary)


def test_unclosed_deep_nesting_is_a_syntax_error():
    (d,) = bad("source f | where " + "(" * 10_000)
    assert d.code == codes.SYNTAX


def test_a_5000_line_file_parses_quickly():
    block = (
        "# pipeline {i}\n"
        "pipeline p{i} =\n"
        '  source file("x{i}.log", format=json)  # the input\n'
        '  | where status >= 500 and geo.city != null or `user-agent` =~ r"bot"\n'
        '  | set a = if x > 1 then "big" else "small", b = 5m\n'
        "  | summarize n = count(), p = p95(latency_ms) by host every 1m on ts\n"
        '  | sink elastic("idx-{i}")\n'
        "\n"
    )
    text = "".join(block.format(i=i) for i in range(625))
    assert text.count("\n") == 5000
    ok("source f | sink g")  # builds the parser
    started = time.process_time()
    program = ok(text)
    elapsed = time.process_time() - started
    assert len(program.statements) == 625 and len(program.comments) == 1250
    # about a second of CPU on a slow shared machine; the bound leaves room for a busier one
    assert elapsed < 5.0, elapsed


def test_parse_takes_a_source_file_and_never_raises_on_odd_text():
    for text in [
        "\ufeff",
        "\x00" * 3,
        "`",
        '"',
        "r",
        "#",
        "|",
        "..",
        "-",
        "{" * 50,
        "\\",
    ]:
        program, diags = parse(SourceFile("odd.flow", text))
        assert (program is None) == any(d.is_error for d in diags)


def test_parse_restores_the_garbage_collectors_state():
    assert gc.isenabled()
    ok(SEED)
    bad("source f |")
    assert gc.isenabled()
    gc.disable()
    try:
        ok(SEED)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_schema_ending_in_dotdot_is_open():
    open_, bare, empty, closed = ok("""
        schema Event { ts: time, host: str, .. }
        schema Bare { ts: time .. }
        schema Anything { .. }
        schema Closed { ts: time }
        """).statements
    fields = (ast.FieldDecl("ts", ast.TypeName("time")),)
    host = ast.FieldDecl("host", ast.TypeName("str"))
    assert open_ == ast.Schema("Event", fields + (host,), True)
    assert bare == ast.Schema("Bare", fields, True)
    assert empty == ast.Schema("Anything", (), True)
    assert closed == ast.Schema("Closed", fields, False)
    assert open_.open_span.start > 0


@pytest.mark.parametrize("text", ["schema S { .., a: int }", "schema S { a: int, .., .. }"])
def test_dotdot_ends_a_schema(text):
    program, diags = parse_text(text, "t.flow")
    assert program is None and [d.code for d in diags] == [codes.SYNTAX]
