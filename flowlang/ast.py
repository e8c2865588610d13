"""The abstract syntax of a .flow program.

Frozen dataclasses; every node carries a `span` that is excluded from `==`,
so two programs are equal when they mean the same, wherever they were written.
Lark never appears here: `flowlang.parser` builds these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .source import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


FieldPath = tuple[str, ...]
"""A field path such as ("geo", "city"); each part is a field name (any text)."""


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal:
    """str, int, float, bool or None. `raw` only records how a string was written."""

    value: str | int | float | bool | None
    raw: bool = field(default=False, compare=False)
    span: Span = _span()


@dataclass(frozen=True)
class Duration:
    """A duration literal such as 250ms or 5m, kept in milliseconds."""

    millis: int
    span: Span = _span()


@dataclass(frozen=True)
class FieldRef:
    """A (possibly nested) field of the current record: `geo.city`, `` `user-agent` ``.

    In a stage's argument list a single bare name may also be an enumerated
    option (`format=json`); the checker decides which from the stage catalogue.
    """

    path: FieldPath
    span: Span = _span()


@dataclass(frozen=True)
class ListExpr:
    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    """`not x` or `-x`."""

    op: str
    operand: "Expr"
    span: Span = _span()


BINARY_OPS = (
    "or",
    "and",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "=~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "??",
)


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class IfExpr:
    cond: "Expr"
    then: "Expr"
    else_: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Arg:
    """A call argument; `name` is None for a positional one."""

    name: str | None
    value: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """`name(args)`: a builtin function in an expression, or a stage, or an
    enumerated option with arguments (`csv(header=true)`). `parens` records
    whether parentheses were written (they are optional without arguments)."""

    name: str
    args: tuple[Arg, ...] = ()
    parens: bool = field(default=True, compare=False)
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class RecordEntry:
    name: str
    value: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class RecordExpr:
    """`{status: 500, path: "/"}`: a record literal (tests' given and
    expected records)."""

    entries: tuple[RecordEntry, ...]
    span: Span = _span()


Expr = Union[Literal, Duration, FieldRef, ListExpr, RecordExpr, Unary, Binary, IfExpr, Call]


# ---------------------------------------------------------------- types


@dataclass(frozen=True)
class TypeName:
    """str int float bool time ip duration any, or a schema name."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class NullableType:
    inner: "TypeExpr"
    span: Span = _span()


@dataclass(frozen=True)
class ListType:
    inner: "TypeExpr"
    span: Span = _span()


@dataclass(frozen=True)
class FieldDecl:
    name: str
    type: "TypeExpr"
    span: Span = _span()


@dataclass(frozen=True)
class RecordTypeExpr:
    fields: tuple[FieldDecl, ...]
    open: bool = False
    span: Span = _span()


TypeExpr = Union[TypeName, NullableType, ListType, RecordTypeExpr]


# ---------------------------------------------------------------- stages


@dataclass(frozen=True)
class Assignment:
    target: FieldRef
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class RenamePair:
    old: FieldRef
    new: FieldRef
    span: Span = _span()


@dataclass(frozen=True)
class Aggregate:
    """`name = fn(args)` inside summarize."""

    name: str
    call: Call
    span: Span = _span()


@dataclass(frozen=True)
class GroupKey:
    """`by` key: a field, optionally renamed (`by country = geo.country`).
    `name` is None when the output field takes the path's last part."""

    name: str | None
    field: FieldRef
    span: Span = _span()


@dataclass(frozen=True)
class ProcessorStage:
    call: Call
    span: Span = _span()


@dataclass(frozen=True)
class WhereStage:
    cond: Expr
    span: Span = _span()


@dataclass(frozen=True)
class SetStage:
    assignments: tuple[Assignment, ...]
    span: Span = _span()


@dataclass(frozen=True)
class DropStage:
    fields: tuple[FieldRef, ...]
    span: Span = _span()


@dataclass(frozen=True)
class KeepStage:
    fields: tuple[FieldRef, ...]
    span: Span = _span()


@dataclass(frozen=True)
class RenameStage:
    pairs: tuple[RenamePair, ...]
    span: Span = _span()


@dataclass(frozen=True)
class SummarizeStage:
    aggregates: tuple[Aggregate, ...]
    by: tuple[GroupKey, ...]
    every: Duration
    on: FieldRef | None = None
    allowed_lateness: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True)
class SinkStage:
    call: Call
    span: Span = _span()


@dataclass(frozen=True)
class Route:
    """One route of `route { … }`: `NAME: cond`, or `NAME: else` (cond None).
    NAME is the pipeline that receives the records the route takes."""

    target: str
    cond: Expr | None
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class RouteStage:
    """`route { … }`: each record goes to the first route whose condition
    holds, else to the `else` route."""

    routes: tuple[Route, ...]
    span: Span = _span()


Stage = Union[
    ProcessorStage,
    WhereStage,
    SetStage,
    DropStage,
    KeepStage,
    RenameStage,
    SummarizeStage,
    SinkStage,
    RouteStage,
]


# ---------------------------------------------------------------- heads


@dataclass(frozen=True)
class SourceHead:
    call: Call
    span: Span = _span()


@dataclass(frozen=True)
class FromHead:
    """`from NAME` or, with errors=True, `from NAME.errors`."""

    name: str
    errors: bool = False
    span: Span = _span()


Head = Union[SourceHead, FromHead]


@dataclass(frozen=True)
class Chain:
    head: Head
    stages: tuple[Stage, ...]
    span: Span = _span()


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Schema:
    """`schema NAME { fields }`; `open` when it ends with `..` (other fields
    are allowed, as in an open record type)."""

    name: str
    fields: tuple[FieldDecl, ...]
    open: bool = False
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)
    open_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Pipeline:
    """`pipeline NAME = chain`; a bare chain has name None (named after the file)."""

    name: str | None
    chain: Chain
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ---------------------------------------------------------------- tests


@dataclass(frozen=True)
class Given:
    """`given P = [records]` (records set) or, in a property test,
    `given P [where C]` (records generated from P's source type)."""

    pipeline: str
    records: Expr | None = None
    where: Expr | None = None
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Setting:
    """`now = "…"`, `env NAME = "…"` or `examples N` inside a test."""

    name: str  # "now" | "env" | "examples"
    value: Expr
    variable: str | None = None  # for env
    span: Span = _span()


@dataclass(frozen=True)
class Expect:
    """One expectation of a test.

    form "that":    `expect C` (C over outputs and counts)
    form "every":   `expect every P: C` (C holds for every record P emits;
                    `P.errors` for its error records)
    form "reaches": `expect every given G [where C] reaches P [by k, …]`
    form "absent":  `expect no given G [where C] reaches P [by k, …]`
    """

    form: str
    cond: Expr | None = None
    target: FieldRef | None = None  # every
    given: str | None = None  # reaches / absent
    pipeline: str | None = None  # reaches / absent
    by: tuple[FieldRef, ...] = ()
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)
    pipeline_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


TestItem = Union[Given, Setting, Expect]


@dataclass(frozen=True)
class Test:
    """`test "name" { … }` (example) or `property "name" { … }`."""

    name: str
    property: bool
    items: tuple[TestItem, ...]
    span: Span = _span()
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Import:
    """`import "schemas.flow"`: the schemas of another file (its path taken
    from the directory of the importing file) join this program's."""

    path: str
    span: Span = _span()
    path_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


Statement = Union[Import, Schema, Pipeline, Test]


@dataclass(frozen=True)
class Comment:
    """A `#` comment; kept beside the tree so that `flowc fmt` can keep it.
    `own_line` is False for a comment that follows code on its line;
    `blank_after` is True when a blank line follows it."""

    text: str
    span: Span = _span()
    own_line: bool = field(default=True, compare=False, kw_only=True)
    blank_after: bool = field(default=False, compare=False, kw_only=True)


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()
