"""Hypothesis strategies that build valid `flowlang.ast` programs directly.

They cover everything the grammar can express: every expression and stage
kind, schemas with nested types, named and bare pipelines, field names that
need backticks, and strings with quotes, escapes, unicode, control characters
and lone surrogates. `strict_key` compares trees more strictly than `==`
(which treats 1, 1.0 and True alike).
"""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from flowlang import ast
from flowlang.names import KEYWORDS, is_identifier

_COMMON_NAMES = (
    "file",
    "geoip",
    "errors",
    "str",
    "int",
    "count",
    "p95",
    "elastic",
    "x",
    "_",
)

identifiers = st.one_of(
    st.sampled_from(_COMMON_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(is_identifier),
)

# characters a backtick field name may hold: anything but a backtick, a line
# break, a lone surrogate, or a control character other than tab, CR and FF
_NAME_CHARS = st.characters(
    exclude_categories=("Cs",),
    exclude_characters="`\n" + "".join(map(chr, [*range(0, 9), 0x0B, *range(0x0E, 0x20), 0x7F])),
)

field_names = st.one_of(
    identifiers,
    st.sampled_from(sorted(KEYWORDS)),
    st.sampled_from(["user-agent", "a.b", "with space", "日本", "1st", "é", "x\ty"]),
    st.text(_NAME_CHARS, min_size=1, max_size=8),
)

field_refs = st.builds(ast.FieldRef, st.lists(field_names, min_size=1, max_size=3).map(tuple))

string_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ['"', "\\", '\\"', "\n", "\t", "\r", "\x00", "\ud800", "\udfff", "😀", "\u2028"]
    ),
    st.text(st.sampled_from('ab"\\\n\tr'), max_size=8),
)

literals = st.one_of(
    st.builds(ast.Literal, string_values, raw=st.booleans()),
    st.builds(ast.Literal, st.integers(-(2**63), 2**63 - 1)),
    st.builds(ast.Literal, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(ast.Literal, st.sampled_from([True, False, None])),
)

durations = st.builds(ast.Duration, st.integers(0, 10**12))

_BINARY_OPS = st.sampled_from(ast.BINARY_OPS)


def _args(values: st.SearchStrategy) -> st.SearchStrategy:
    """Positional arguments first, then keyword arguments."""
    positional = st.lists(st.builds(ast.Arg, st.none(), values), max_size=2)
    names = st.one_of(identifiers, st.sampled_from(sorted(KEYWORDS)))
    keyword = st.lists(st.builds(ast.Arg, names, values), max_size=2)
    return st.tuples(positional, keyword).map(lambda pk: tuple(pk[0] + pk[1]))


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.builds(ast.Binary, _BINARY_OPS, children, children),
        st.builds(ast.Unary, st.sampled_from(["-", "not"]), children),
        st.builds(ast.IfExpr, children, children, children),
        st.builds(ast.ListExpr, st.lists(children, max_size=3).map(tuple)),
        st.builds(ast.Call, identifiers, _args(children)),
    )


expressions = st.recursive(st.one_of(literals, durations, field_refs), _extend, max_leaves=8)

stage_names = st.one_of(identifiers, st.just("null"))
stage_calls = st.builds(ast.Call, stage_names, _args(expressions))

type_exprs = st.recursive(
    st.builds(ast.TypeName, identifiers),
    lambda inner: st.one_of(
        st.builds(ast.NullableType, inner),
        st.builds(ast.ListType, inner),
        st.builds(
            ast.RecordTypeExpr,
            st.lists(st.builds(ast.FieldDecl, field_names, inner), max_size=3).map(tuple),
            st.booleans(),
        ),
    ),
    max_leaves=6,
)


def _some(strategy: st.SearchStrategy, most: int = 3) -> st.SearchStrategy:
    return st.lists(strategy, min_size=1, max_size=most).map(tuple)


summarize_stages = st.builds(
    ast.SummarizeStage,
    _some(st.builds(ast.Aggregate, field_names, stage_calls)),
    st.lists(st.builds(ast.GroupKey, st.none() | field_names, field_refs), max_size=2).map(tuple),
    durations,
    st.none() | field_refs,
    st.none() | durations,
)

stages = st.one_of(
    st.builds(ast.ProcessorStage, stage_calls),
    st.builds(ast.WhereStage, expressions),
    st.builds(ast.SetStage, _some(st.builds(ast.Assignment, field_refs, expressions))),
    st.builds(ast.DropStage, _some(field_refs)),
    st.builds(ast.KeepStage, _some(field_refs)),
    st.builds(ast.RenameStage, _some(st.builds(ast.RenamePair, field_refs, field_refs))),
    summarize_stages,
    st.builds(ast.SinkStage, stage_calls),
    st.builds(ast.RouteStage, _some(st.builds(ast.Route, identifiers, st.none() | expressions), 4)),
)

heads = st.one_of(
    st.builds(ast.SourceHead, stage_calls),
    st.builds(ast.FromHead, identifiers, st.booleans()),
)

chains = st.builds(ast.Chain, heads, st.lists(stages, max_size=3).map(tuple))

pipelines = st.builds(ast.Pipeline, st.none() | identifiers, chains)

schemas = st.builds(
    ast.Schema,
    identifiers,
    st.lists(st.builds(ast.FieldDecl, field_names, type_exprs), max_size=4).map(tuple),
    st.booleans(),
)

programs = st.builds(ast.Program, st.lists(st.one_of(pipelines, schemas), max_size=3).map(tuple))


def strict_key(node: object) -> object:
    """A comparable view of an ast value that, unlike `==`, tells 1, 1.0, True
    and 0.0, -0.0 apart; fields excluded from `==` are left out here too."""
    if isinstance(node, tuple):
        return tuple(strict_key(item) for item in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            strict_key(getattr(node, f.name)) for f in dataclasses.fields(node) if f.compare
        )
    if isinstance(node, float):
        return ("float", repr(node))
    return (type(node).__name__, node)
