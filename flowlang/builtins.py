"""The builtin functions and the aggregates of `summarize`: names, parameter
types, return-type rules and docs, declared once.

The checker types calls with this table; each function names its
implementation in `flowlang.runtime.ops`, which generated code calls. `env`
is not here: it is read once when a program starts, never per record (see
`ir.EnvE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .runtime import ops
from .types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NULL,
    STR,
    TIME,
    ListT,
    Nullable,
    Type,
    is_nullable,
    nullable,
    strip_null,
)

REQUIRED: Any = object()  # default marker: the argument must be given

ANY_LIST = ListT(ANY)


@dataclass(frozen=True)
class FuncParam:
    name: str
    accepts: tuple[Type, ...]  # ANY among them: every type is accepted
    default: Any = REQUIRED  # a literal value; REQUIRED params come first

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Function:
    """A builtin function. `returns` is the result type when every argument is
    known and non-null; a nullable or `any` argument makes it nullable, since
    a null argument gives null. `impl` is its implementation, a function of
    `flowlang.runtime.ops` taking the arguments in parameter order. `relate`
    checks constraints between arguments and returns a message when they do
    not hold."""

    name: str
    params: tuple[FuncParam, ...]
    returns: Type
    impl: Callable[..., Any]
    doc: str
    relate: Callable[[list[Type]], str | None] | None = None

    def result_type(self, arg_types: list[Type]) -> Type:
        if any(is_nullable(t) for t in arg_types):
            return nullable(self.returns)
        return self.returns


def _contains_relation(types: list[Type]) -> str | None:
    haystack, needle = strip_null(types[0]), strip_null(types[1])
    if haystack == STR and needle not in (STR, ANY, NULL):
        return f"`contains` on a str looks for a str, not {needle}"
    return None


_S, _STR_OR_LIST = (STR,), (STR, ANY_LIST)

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("lower", (FuncParam("s", _S),), STR, ops.fn_lower, "the text in lower case"),
        Function("upper", (FuncParam("s", _S),), STR, ops.fn_upper, "the text in upper case"),
        Function("trim", (FuncParam("s", _S),), STR, ops.fn_trim,
                 "the text without surrounding white space"),
        Function("len", (FuncParam("value", _STR_OR_LIST),), INT, ops.fn_len,
                 "the number of characters of a str or items of a list"),
        Function("starts_with", (FuncParam("s", _S), FuncParam("prefix", _S)), BOOL,
                 ops.fn_starts_with, "does the text start with `prefix`?"),
        Function("ends_with", (FuncParam("s", _S), FuncParam("suffix", _S)), BOOL,
                 ops.fn_ends_with, "does the text end with `suffix`?"),
        Function("contains", (FuncParam("value", _STR_OR_LIST), FuncParam("item", (ANY,))),
                 BOOL, ops.fn_contains,
                 "is `item` a substring of the str, or an item of the list?",
                 relate=_contains_relation),
        Function("now", (), TIME, ops.fn_now, "the processing time (UTC)"),
        Function("to_int", (FuncParam("value", (ANY,)),), INT, ops.fn_to_int,
                 "the value as an int (numbers are truncated, text is parsed)"),
        Function("to_float", (FuncParam("value", (ANY,)),), FLOAT, ops.fn_to_float,
                 "the value as a float (text is parsed)"),
        Function("to_str", (FuncParam("value", (ANY,)),), STR, ops.fn_to_str,
                 "the value as text (time as ISO 8601 UTC)"),
        Function("parse_time", (FuncParam("s", _S), FuncParam("format", _S, default=None)),
                 TIME, ops.fn_parse_time, "the text parsed as a time: ISO 8601 when "
                 "`format` is omitted, else a strptime format; a time without zone is UTC"),
    )
}  # fmt: skip


def accepts(param: FuncParam, typ: Type) -> bool:
    """May an argument of type `typ` be passed for `param`? Null and `any`
    always may (null gives null; `any` is checked at run time)."""
    typ = strip_null(typ)
    if typ in (ANY, NULL) or ANY in param.accepts:
        return True
    for wanted in param.accepts:
        if typ == wanted or (wanted == ANY_LIST and isinstance(typ, ListT)):
            return True
        if wanted == FLOAT and typ == INT:
            return True
    return False


def describe(types: tuple[Type, ...]) -> str:
    """`str or [T]` style text for messages."""
    words = ["[T]" if t == ANY_LIST else str(t) for t in types]
    return " or ".join(words)


# ---------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Aggregate:
    """An aggregate of `summarize`. `takes_field` is False only for count().
    `numeric` aggregates need an int or float field; `result` maps the field's
    type (ANY for count) to the output field's type."""

    name: str
    takes_field: bool
    numeric: bool
    result: Callable[[Type], Type]
    doc: str


def _sum_type(t: Type) -> Type:
    t = strip_null(t)
    return t if t in (INT, FLOAT) else ANY


def _extreme_type(t: Type) -> Type:
    return nullable(strip_null(t))


_FLOAT_OR_NULL = Nullable(FLOAT)

AGGREGATES: dict[str, Aggregate] = {
    a.name: a
    for a in (
        Aggregate("count", False, False, lambda t: INT, "the number of records"),
        Aggregate("sum", True, True, _sum_type, "the sum of the non-null values"),
        Aggregate("avg", True, True, lambda t: _FLOAT_OR_NULL,
                  "the mean of the non-null values; null when there are none"),
        Aggregate("min", True, True, _extreme_type, "the least value; null when there are none"),
        Aggregate("max", True, True, _extreme_type, "the greatest value; null when there are none"),
        Aggregate("p50", True, True, lambda t: _FLOAT_OR_NULL, "the median of the non-null values"),
        Aggregate("p90", True, True, lambda t: _FLOAT_OR_NULL, "the 90th percentile"),
        Aggregate("p95", True, True, lambda t: _FLOAT_OR_NULL, "the 95th percentile"),
        Aggregate("p99", True, True, lambda t: _FLOAT_OR_NULL, "the 99th percentile"),
        Aggregate("distinct_count", True, False, lambda t: INT,
                  "the number of distinct non-null values"),
    )
}  # fmt: skip
