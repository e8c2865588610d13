"""The builtin functions and the aggregates of `summarize`: names, parameter
types, return-type rules and docs, declared once.

The checker types calls with this table; each function names its
implementation in `flowlang.runtime.ops`, which generated code calls. `env`
is not here: it is read once when a program starts, never per record (see
`ir.EnvCall`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable

from .runtime import ops
from .runtime.digest import algorithm_problem
from .runtime.times import format_problem, parse_format_problem, unit_problem, zone_problem
from .stages.spec import Param, ParamKind
from .types import (
    ANY,
    BOOL,
    DURATION,
    FLOAT,
    INT,
    IP,
    NULL,
    OPEN_RECORD,
    STR,
    TIME,
    ListT,
    Nullable,
    RecordT,
    Type,
    is_nullable,
    nullable,
    strip_null,
)

ANY_LIST = ListT(ANY)


class SameAsFirst:
    """The return type of a function whose result has its first argument's
    type (`round` of an int is an int; `slice` of a list is a list)."""

    def __repr__(self) -> str:
        return "SAME_AS_FIRST"


SAME_AS_FIRST = SameAsFirst()


@dataclass(frozen=True)
class Function:
    """A builtin function. `returns` is the result type when every argument is
    known and non-null (SAME_AS_FIRST: the first argument's type); a nullable or `any` argument makes it nullable, since
    a null argument gives null, except for an optional parameter whose
    default is null (there null means the default). `impl` is its implementation, a function of
    `flowlang.runtime.ops` taking the arguments in parameter order. `relate`
    checks constraints between arguments and returns a message when they do
    not hold."""

    name: str
    params: tuple[Param, ...]  # ParamKind.EXPR
    returns: Type | SameAsFirst
    impl: Callable[..., Any]
    doc: str
    relate: Callable[[list[Type]], str | None] | None = None
    # parameters whose argument must be env("NAME") without a default: a
    # secret written in the program would be copied into the generated module
    from_env: tuple[str, ...] = ()

    @property
    def returns_text(self) -> str:
        """The return type as the docs write it."""
        if self.returns is SAME_AS_FIRST:
            return f"the type of `{self.params[0].name}`"
        return f"`{self.returns}`"

    def result_type(self, arg_types: list[Type]) -> Type:
        result = self.returns
        if result is SAME_AS_FIRST:
            # without its first argument (an error reported already) it is unknown
            result = strip_null(arg_types[0]) if arg_types else ANY
            if result == NULL:
                result = ANY
        if any(
            is_nullable(t)
            for param, t in zip(self.params, arg_types)
            if param.required or param.default is not None
        ):
            return nullable(result)
        return result


def _contains_relation(types: list[Type]) -> str | None:
    haystack, needle = strip_null(types[0]), strip_null(types[1])
    if haystack == STR and needle not in (STR, ANY, NULL):
        return f"`contains` on a str looks for a str, not {needle}"
    return None


def _arg(name: str, doc: str, *accepts: Type, **default: Any) -> Param:
    """An argument of a builtin function (`accepts`: its types; ANY: every type)."""
    return Param(name, ParamKind.EXPR, doc, accepts=accepts, **default)


_S = _arg("s", "the text", STR)
_VALUE = _arg("value", "the value", ANY)
_STR_OR_LIST = _arg("value", "a str or a list", STR, ANY_LIST)
_CASE = _arg("case_sensitive", "false: compare text ignoring case", BOOL, default=True)


_COUNT = _arg("count", "replacements at most (negative: all)", INT, default=-1)
_WITH = _arg("with", "the replacement", STR)
_PAD = (
    _S,
    _arg("length", "the length wanted, in characters", INT),
    _arg("with", "the fill text, repeated and cut", STR, default=" "),
)
# VRL's parse_url: the parts of an absolute URL
URL = RecordT(
    (
        ("scheme", STR),
        ("username", STR),
        ("password", STR),
        ("host", Nullable(STR)),
        ("port", Nullable(INT)),
        ("path", STR),
        ("query", OPEN_RECORD),
        ("fragment", Nullable(STR)),
    )
)
_NUMBER = _arg("value", "the number", INT, FLOAT)
_PRECISION = _arg("precision", "decimal places (negative: tens, hundreds, …)", INT, default=0)
_TIME = _arg("t", "the time", TIME)
_ZONE = _arg("timezone", "an IANA zone name", STR, default=None, check=zone_problem)
_UNIT = _arg(
    "unit",
    "seconds, milliseconds, microseconds or nanoseconds",
    STR,
    default="seconds",
    check=unit_problem,
)


def _step_problem(step: _dt.timedelta) -> str | None:
    return None if step > _dt.timedelta(0) else "the step must be a positive duration"


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("lower", (_S,), STR, ops.fn_lower, "the text in lower case"),
        Function("upper", (_S,), STR, ops.fn_upper, "the text in upper case"),
        Function("trim", (_S,), STR, ops.fn_trim, "the text without surrounding white space"),
        Function(
            "len",
            (_arg("value", "a str, a list or a record", STR, ANY_LIST, OPEN_RECORD),),
            INT,
            ops.fn_len,
            "the number of characters of a str, items of a list or fields of a record",
        ),
        Function(
            "starts_with",
            (_S, _arg("prefix", "the start looked for", STR), _CASE),
            BOOL,
            ops.fn_starts_with,
            "does the text start with `prefix`? (`case_sensitive=false`: ignoring case)",
        ),
        Function(
            "ends_with",
            (_S, _arg("suffix", "the end looked for", STR), _CASE),
            BOOL,
            ops.fn_ends_with,
            "does the text end with `suffix`? (`case_sensitive=false`: ignoring case)",
        ),
        Function(
            "contains",
            (_STR_OR_LIST, _arg("item", "the substring or item looked for", ANY), _CASE),
            BOOL,
            ops.fn_contains,
            "is `item` a substring of the str, or an item of the list? "
            "(`case_sensitive=false`: text compared ignoring case)",
            relate=_contains_relation,
        ),
        Function("now", (), TIME, ops.fn_now, "the processing time (UTC)"),
        Function(
            "to_int",
            (_VALUE,),
            INT,
            ops.fn_to_int,
            "the value as an int (numbers are truncated, text is parsed)",
        ),
        Function(
            "to_float", (_VALUE,), FLOAT, ops.fn_to_float, "the value as a float (text is parsed)"
        ),
        Function(
            "round",
            (_NUMBER, _PRECISION),
            SAME_AS_FIRST,
            ops.fn_round,
            "the number rounded to `precision` decimal places, halves away from zero "
            "(an int is itself)",
        ),
        Function(
            "floor",
            (_NUMBER, _PRECISION),
            SAME_AS_FIRST,
            ops.fn_floor,
            "the number rounded down to `precision` decimal places (an int is itself)",
        ),
        Function(
            "ceil",
            (_NUMBER, _PRECISION),
            SAME_AS_FIRST,
            ops.fn_ceil,
            "the number rounded up to `precision` decimal places (an int is itself)",
        ),
        Function(
            "to_str", (_VALUE,), STR, ops.fn_to_str, "the value as text (time as ISO 8601 UTC)"
        ),
        Function(
            "parse_time",
            (
                _S,
                _arg("format", "a strptime format", STR, default=None, check=parse_format_problem),
                _ZONE,
            ),
            TIME,
            ops.fn_parse_time,
            "the text parsed as a time: ISO 8601 when `format` "
            "is omitted, else a strptime format (`%s`: seconds since the epoch; "
            "without a year: the latest year that "
            "puts it at most a day after now); a time without offset is in `timezone` "
            "(an IANA name, default UTC)",
        ),
        Function(
            "format_time",
            (_TIME, _arg("format", "a strftime format", STR, check=format_problem), _ZONE),
            STR,
            ops.fn_format_time,
            "the time written with a strftime format (`%s`: seconds since the epoch), "
            "in `timezone` (an IANA name, default UTC); VRL's `format_timestamp`",
        ),
        Function(
            "to_unix_timestamp",
            (_TIME, _UNIT),
            INT,
            ops.fn_to_unix_timestamp,
            "whole `unit`s (default seconds) since 1970-01-01T00:00:00Z, rounded down",
        ),
        Function(
            "from_unix_timestamp",
            (_arg("n", "the number of units since the epoch", INT), _UNIT),
            TIME,
            ops.fn_from_unix_timestamp,
            "the time `n` `unit`s (default seconds) after 1970-01-01T00:00:00Z "
            "(nanoseconds are rounded down to the microsecond)",
        ),
        Function(
            "floor_time",
            (
                _TIME,
                _arg("step", "a positive duration", DURATION, check=_step_problem),
            ),
            TIME,
            ops.fn_floor_time,
            "the time rounded down to a multiple of `step` since the epoch "
            "(`floor_time(ts, 1h)`: the start of its hour, UTC)",
        ),
        Function(
            "slice",
            (
                _STR_OR_LIST,
                _arg("start", "the first position (negative: from the end)", INT),
                _arg(
                    "end", "the position after the last (negative: from the end)", INT, default=None
                ),
            ),
            SAME_AS_FIRST,
            ops.fn_slice,
            "the characters or items from `start` up to `end` (default: to the end)",
        ),
        Function(
            "split",
            (
                _S,
                _arg("pattern", "the separator (literal text)", STR),
                _arg("limit", "pieces at most, the last one the rest", INT, default=None),
            ),
            ListT(STR),
            ops.fn_split,
            "the text cut at each occurrence of `pattern`",
        ),
        Function(
            "split_regex",
            (
                _S,
                _arg("pattern", "an RE2 regular expression", STR, check=ops.regex_rule),
                _arg("limit", "pieces at most, the last one the rest", INT, default=None),
            ),
            ListT(STR),
            ops.fn_split_regex,
            "the text cut at each match of `pattern` (VRL's split with a regex)",
        ),
        Function(
            "join",
            (
                _arg("value", "a list of str", ListT(STR)),
                _arg("separator", "put between items", STR, default=""),
            ),
            STR,
            ops.fn_join,
            "the items of a list of text, joined by `separator`",
        ),
        Function(
            "replace",
            (_S, _arg("pattern", "the text replaced (literal)", STR), _WITH, _COUNT),
            STR,
            ops.fn_replace,
            "the text with occurrences of `pattern` replaced by `with`",
        ),
        Function(
            "replace_regex",
            (
                _S,
                _arg("pattern", "an RE2 regular expression", STR, check=ops.regex_rule),
                _arg("with", "the replacement: $1, ${name} for groups, $$ for $", STR),
                _COUNT,
            ),
            STR,
            ops.fn_replace_regex,
            "the text with matches of `pattern` replaced by `with` (VRL's replace with a regex)",
        ),
        Function(
            "pad_start",
            _PAD,
            STR,
            ops.fn_pad_start,
            "the text with `with` put before it up to `length` characters",
        ),
        Function(
            "pad_end",
            _PAD,
            STR,
            ops.fn_pad_end,
            "the text with `with` put after it up to `length` characters",
        ),
        Function("sha256", (_S,), STR, ops.fn_sha256, "the hex SHA-256 of the text's UTF-8"),
        Function(
            "hmac",
            (
                _S,
                _arg("key", 'the key: env("NAME")', STR),
                _arg(
                    "algorithm",
                    "SHA1, SHA-224, SHA-256, SHA-384 or SHA-512",
                    STR,
                    default="SHA-256",
                    check=algorithm_problem,
                ),
            ),
            STR,
            ops.fn_hmac,
            "the hex HMAC of the text's UTF-8, keyed with a key from the environment",
            from_env=("key",),
        ),
        Function(
            "parse_url",
            (
                _S,
                _arg(
                    "default_known_ports",
                    "true: the scheme's port when none is written",
                    BOOL,
                    default=False,
                ),
            ),
            URL,
            ops.fn_parse_url,
            "the parts of an absolute URL (VRL's parse_url)",
        ),
        Function(
            "parse_query_string",
            (_S,),
            OPEN_RECORD,
            ops.fn_parse_query_string,
            "a record of the pairs of a query string; a repeated key holds a list",
        ),
        Function(
            "ip_cidr_contains",
            (
                _arg(
                    "cidr",
                    "a CIDR block or a list of them",
                    STR,
                    ListT(STR),
                    check=ops.cidr_problem,
                ),
                _arg("value", "the address", STR, IP),
            ),
            BOOL,
            ops.fn_ip_cidr_contains,
            "is the address in the block (in any of the blocks)?",
        ),
        Function("get_hostname", (), STR, ops.fn_get_hostname, "the machine's host name"),
    )
}

# `env("NAME"[, "default"])`: literal strings, positionally (see checker.exprs.env_call)
ENV_PARAMS = (
    Param("name", ParamKind.VALUE, "the environment variable's name", type=STR),
    Param("default", ParamKind.VALUE, "its value when it is not set", type=STR, default=None),
)


def describe(types: tuple[Type, ...]) -> str:
    """`str or [T]` style text for messages."""
    words = ["[T]" if t == ANY_LIST else str(t) for t in types]
    return " or ".join(words)


# ---------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Aggregate:
    """An aggregate of `summarize`: `params` is the field it reads (none for
    count()); `result` maps the field's type (ANY for count) to the output
    field's type."""

    name: str
    params: tuple[Param, ...]  # ParamKind.FIELD
    result: Callable[[Type], Type]
    doc: str

    @property
    def takes_field(self) -> bool:
        return bool(self.params)


def _sum_type(t: Type) -> Type:
    t = strip_null(t)
    return t if t in (INT, FLOAT) else ANY


def _extreme_type(t: Type) -> Type:
    return nullable(strip_null(t))


_FLOAT_OR_NULL = Nullable(FLOAT)
_ANY_FIELD = (Param("field", ParamKind.FIELD, "the field to aggregate"),)
_NUMBER_FIELD = (
    Param(
        "field",
        ParamKind.FIELD,
        "the field to aggregate",
        accepts=(INT, FLOAT, Nullable(INT), Nullable(FLOAT)),
    ),
)

AGGREGATES: dict[str, Aggregate] = {
    a.name: a
    for a in (
        Aggregate("count", (), lambda t: INT, "the number of records"),
        Aggregate("sum", _NUMBER_FIELD, _sum_type, "the sum of the non-null values"),
        Aggregate(
            "avg",
            _NUMBER_FIELD,
            lambda t: _FLOAT_OR_NULL,
            "the mean of the non-null values; null when there are none",
        ),
        Aggregate("min", _NUMBER_FIELD, _extreme_type, "the least value; null when there are none"),
        Aggregate(
            "max", _NUMBER_FIELD, _extreme_type, "the greatest value; null when there are none"
        ),
        Aggregate(
            "p50", _NUMBER_FIELD, lambda t: _FLOAT_OR_NULL, "the median of the non-null values"
        ),
        Aggregate("p90", _NUMBER_FIELD, lambda t: _FLOAT_OR_NULL, "the 90th percentile"),
        Aggregate("p95", _NUMBER_FIELD, lambda t: _FLOAT_OR_NULL, "the 95th percentile"),
        Aggregate("p99", _NUMBER_FIELD, lambda t: _FLOAT_OR_NULL, "the 99th percentile"),
        Aggregate(
            "distinct_count", _ANY_FIELD, lambda t: INT, "the number of distinct non-null values"
        ),
    )
}
