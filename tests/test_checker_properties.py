"""Properties of the checker: it never fails on any program (every problem is
a diagnostic, never an exception or an internal error), its output is
deterministic, and the plans it produces keep their promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flowlang import ast, codes, ir
from flowlang.builtins import AGGREGATES, FUNCTIONS
from flowlang.checker import check
from flowlang.diagnostics import sort_key
from flowlang.formatter import format_program
from flowlang.parser import parse, parse_text
from flowlang.source import SourceFile
from flowlang.stages import CATALOGUE
from flowlang.stages.spec import ParamKind

from .strategies import durations, expressions, literals, programs

CASES = sorted((Path(__file__).parent / "cases").glob("*.flow"))
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _no_anon_key(monkeypatch):
    monkeypatch.delenv("FLOW_ANON_KEY", raising=False)


def checked_soundly(program: ast.Program, src: SourceFile) -> tuple[ir.Plan | None, list]:
    """Check, and assert what holds of every result."""
    plan, diags = check(program, src)
    assert [d.code for d in diags if d.code == codes.INTERNAL] == [], diags[-1].message
    assert diags == sorted(diags, key=sort_key)
    assert (plan is None) == any(d.is_error for d in diags)
    if plan is not None:
        assert_plan_invariants(plan)
    return plan, diags


def assert_plan_invariants(plan: ir.Plan) -> None:
    seen: set[str] = set()
    names = [p.name for p in plan.pipelines]
    assert len(names) == len(set(names))
    for p in plan.pipelines:
        if isinstance(p.head, ir.FromStep):
            assert p.head.pipeline in seen, "a reader comes before its producer"
        for reader in p.readers + p.error_readers:
            assert reader in names
        sinks = [
            i for i, s in enumerate(p.steps) if isinstance(s, ir.CallStep) and s.role == "sink"
        ]
        assert sinks in ([], [len(p.steps) - 1])
        assert sinks or p.readers, f"{p.name} has no sink and no reader"
        indexes = [p.head.info.index] + [s.info.index for s in p.steps]
        assert indexes == list(range(len(indexes)))
        seen.add(p.name)


# ---------------------------------------------------------------- any AST


@SETTINGS
@given(programs)
def test_checking_any_program_never_fails(program):
    checked_soundly(program, SourceFile("gen.flow", ""))


# ---------------------------------------------------------------- programs that reach deep

FIELDS = ("ip", "email", "geo", "status", "ts", "message", "latency_ms", "host", "x")
PATHS = st.one_of(
    st.sampled_from(FIELDS).map(lambda f: (f,)),
    st.tuples(st.sampled_from(FIELDS), st.sampled_from(("city", "lat", "country_iso", "y"))),
)
REQ = ast.Schema(
    "Req",
    tuple(
        ast.FieldDecl(n, t)
        for n, t in (
            ("ts", ast.TypeName("time")),
            ("host", ast.TypeName("str")),
            ("status", ast.TypeName("int")),
            ("ip", ast.TypeName("ip")),
            ("email", ast.NullableType(ast.TypeName("str"))),
            ("latency_ms", ast.NullableType(ast.TypeName("float"))),
            ("message", ast.TypeName("str")),
        )
    ),
)

field_refs = PATHS.map(ast.FieldRef)


def _deep_extend(children):
    return st.one_of(
        st.builds(ast.Binary, st.sampled_from(ast.BINARY_OPS), children, children),
        st.builds(ast.Unary, st.sampled_from(["-", "not"]), children),
        st.builds(ast.IfExpr, children, children, children),
        st.builds(ast.ListExpr, st.lists(children, max_size=3).map(tuple)),
        st.builds(
            ast.Call,
            st.sampled_from(sorted(FUNCTIONS) + ["env", "count"]),
            st.lists(st.builds(ast.Arg, st.none(), children), max_size=3).map(tuple),
        ),
    )


deep_exprs = st.recursive(st.one_of(literals, durations, field_refs), _deep_extend, max_leaves=8)


@st.composite
def argument_value(draw, param):
    """A value for a stage parameter: usually right for its kind, sometimes not."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.one_of(deep_exprs, expressions))
    if param.kind is ParamKind.VALUE:
        return draw(
            st.one_of(
                literals, durations, st.just(ast.Call("env", (ast.Arg(None, ast.Literal("X")),)))
            )
        )
    if param.kind in (ParamKind.FIELD, ParamKind.NEW_FIELD):
        return draw(field_refs)
    if param.kind is ParamKind.FIELDS:
        return draw(
            st.one_of(
                field_refs,
                st.lists(field_refs, max_size=3).map(lambda refs: ast.ListExpr(tuple(refs))),
            )
        )
    if param.kind is ParamKind.SCHEMA:
        return ast.FieldRef((draw(st.sampled_from(["Req", "Nope"])),))
    option = draw(st.sampled_from(sorted(param.options) + ["bogus"]))
    sub = param.options.get(option, ())
    args = tuple(ast.Arg(p.name, draw(argument_value(p))) for p in sub if draw(st.booleans()))
    return ast.Call(option, args) if args or draw(st.booleans()) else ast.FieldRef((option,))


@st.composite
def catalogue_call(draw, role):
    spec = draw(st.sampled_from([s for s in CATALOGUE if s.role == role]))
    args = []
    for i, param in enumerate(spec.params):
        if param.required or draw(st.integers(0, 3)) == 0:
            positional = len(args) == i and draw(st.booleans())
            args.append(ast.Arg(None if positional else param.name, draw(argument_value(param))))
    name = spec.name if draw(st.integers(0, 9)) else draw(st.sampled_from(["geoipp", "file"]))
    return ast.Call(name, tuple(args), parens=bool(args))


aggregates = st.builds(
    ast.Aggregate,
    st.sampled_from(["n", "total", "host", "window_end"]),
    st.builds(
        ast.Call,
        st.sampled_from(sorted(AGGREGATES) + ["lower"]),
        st.lists(st.builds(ast.Arg, st.none(), st.one_of(field_refs, deep_exprs)), max_size=2).map(
            tuple
        ),
    ),
)

deep_stages = st.one_of(
    catalogue_call("processor").map(ast.ProcessorStage),
    st.builds(ast.WhereStage, deep_exprs),
    st.builds(
        ast.SetStage,
        st.lists(st.builds(ast.Assignment, field_refs, deep_exprs), min_size=1, max_size=3).map(
            tuple
        ),
    ),
    st.builds(ast.DropStage, st.lists(field_refs, min_size=1, max_size=2).map(tuple)),
    st.builds(ast.KeepStage, st.lists(field_refs, min_size=1, max_size=3).map(tuple)),
    st.builds(
        ast.RenameStage,
        st.lists(st.builds(ast.RenamePair, field_refs, field_refs), min_size=1, max_size=2).map(
            tuple
        ),
    ),
    st.builds(
        ast.SummarizeStage,
        st.lists(aggregates, min_size=1, max_size=3).map(tuple),
        st.lists(st.builds(ast.GroupKey, st.none() | st.just("k"), field_refs), max_size=2).map(
            tuple
        ),
        durations,
        st.none() | field_refs,
        st.none() | durations,
    ),
)

PIPELINE_NAMES = ("a", "b", "c", "d")


@st.composite
def deep_programs(draw):
    statements: list[ast.Statement] = [REQ] if draw(st.booleans()) else []
    for name in draw(st.lists(st.sampled_from(PIPELINE_NAMES), min_size=1, max_size=4)):
        if draw(st.booleans()):
            head = ast.SourceHead(draw(catalogue_call("source")))
        else:
            head = ast.FromHead(draw(st.sampled_from(PIPELINE_NAMES)), draw(st.booleans()))
        body = draw(st.lists(deep_stages, max_size=4))
        if draw(st.integers(0, 3)):
            body.insert(
                draw(st.integers(len(body) // 2, len(body))),
                ast.SinkStage(draw(catalogue_call("sink"))),
            )
        statements.append(ast.Pipeline(name, ast.Chain(head, tuple(body))))
    return ast.Program(tuple(statements))


@SETTINGS
@given(deep_programs())
def test_checking_catalogue_programs_never_fails(program):
    checked_soundly(program, SourceFile("deep.flow", ""))


@SETTINGS
@given(deep_programs())
def test_checking_is_deterministic(program):
    src = SourceFile("deep.flow", "")
    assert check(program, src) == check(program, src)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deep_programs())
def test_checking_depends_on_meaning_not_layout(program):
    # the same program written out and parsed back has the same diagnostics
    # (up to where they point) and the same plan
    text = format_program(program)
    src = SourceFile("deep.flow", text)
    reparsed, syntax = parse(src)
    assume(reparsed is not None and not syntax and reparsed == program)
    plan, diags = checked_soundly(reparsed, src)
    plan0, diags0 = check(program, SourceFile("deep.flow", ""))
    assert sorted((d.code, d.message) for d in diags) == sorted((d.code, d.message) for d in diags0)
    assert (plan is None) == (plan0 is None)
    if plan is not None:
        assert [p.output_type for p in plan.pipelines] == [p.output_type for p in plan0.pipelines]


# ---------------------------------------------------------------- mutated programs

PROGRAMS = [p.read_text(encoding="utf-8").split("# --- expected ---")[0] for p in CASES]
TOKENS = (
    "|",
    ")",
    "(",
    ",",
    "where ",
    "x",
    '"',
    "1m",
    " ?? ",
    ".errors",
    "sink stdout",
    " from a",
    "=",
    "[",
    "]",
    "`",
    "null",
    "geoip",
    " as ",
    "{",
    "}",
    "?",
    ".",
    "-",
)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(PROGRAMS))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.integers(0, 2))
        if action == 0:
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif action == 1:
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            start = draw(st.integers(0, len(text)))
            text = text[:at] + text[start : start + draw(st.integers(1, 20))] + text[at:]
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_checking_mutated_programs_never_fails(text):
    src = SourceFile("mutant.flow", text)
    program, syntax = parse_text(text, "mutant.flow")
    if program is None:
        assert any(d.is_error for d in syntax)
        return
    checked_soundly(program, src)


def test_the_mutation_corpus_is_the_case_files():
    assert len(PROGRAMS) >= 60
