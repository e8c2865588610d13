"""Differential test: a compiled pipeline behaves exactly like the reference
interpreter (tests/reference.py) on generated programs and records.

Programs are generated as text, one stage per line, type-directed so that most
of them check clean: after each stage the checker itself says which fields
are in scope and of what type. Records are generated to fit the schema, or,
for sources without one, as arbitrary JSON, so that `any` fields hold values
of every kind and run-time type errors happen. The compiled module runs in
this process on the real runtime; its output, the records that reach the
error stream (and at which stage) and the records each `where` dropped must
equal the reference's. tests/test_operator_matrix.py complements it with
every operator on every mix of value kinds.
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from flowlang import ir
from flowlang.formatter import field_name, quote
from flowlang.source import SourceFile
from flowlang.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    STR,
    TIME,
    ListT,
    Nullable,
    RecordT,
    Type,
    field_type,
    strip_null,
)
from tests.flowrun import read_jsonl, run_flow
from tests.reference import run_reference_detailed

UTC = dt.timezone.utc
FLOW_NAME = "test.flow"
PIPELINE = "test"

# field names records and programs draw from; some need backticks
POOL = ("a", "b", "n", "s", "x", "r", "class", "user-agent")
NESTED = ("a", "n", "s")
NEW_NAMES = ("z", "out", "total", "a", "n")
ENV = {"FLOWTEST_SITE": "Main Site", "FLOWTEST_EMPTY": ""}

Path = tuple[str, ...]


# ---------------------------------------------------------------- rendering


def field_text(path: Path) -> str:
    """A field path as written in a program (backticks where needed)."""
    return ".".join(field_name(p) for p in path)


def num_lit(value: int | float) -> str:
    return repr(value)


# ---------------------------------------------------------------- scope


@dataclass
class Scope:
    """The fields a stage may use: known paths with their static types.

    `declared` are the paths the record type names; in an open record other
    pool names are usable too (as `any`)."""

    types: dict[Path, Type] = field(default_factory=dict)
    declared: set[Path] = field(default_factory=set)
    open: bool = True

    def having(self, pred: Callable[[Type], bool]) -> list[Path]:
        return sorted(p for p, t in self.types.items() if pred(t))

    def without(self, path: Path) -> "Scope":
        """This scope with `path` and everything under it removed."""
        keep = {p: t for p, t in self.types.items() if p[: len(path)] != path}
        declared = {p for p in self.declared if p[: len(path)] != path}
        return Scope(keep, declared, self.open)


def scope_of(record: Type) -> Scope:
    """The usable paths of a record type, two levels deep."""
    scope = Scope(open=isinstance(record, RecordT) and record.open)
    if not isinstance(record, RecordT):
        return scope
    for name, _ in record.fields:
        scope.declared.add((name,))
        scope.types[(name,)] = field_type(record, (name,))
    if record.open:
        for name in POOL:
            scope.types.setdefault((name,), ANY)
    for (name,), typ in list(scope.types.items()):
        inner = strip_null(typ)
        if isinstance(inner, RecordT):
            for sub, _ in inner.fields:
                scope.declared.add((name, sub))
                scope.types[(name, sub)] = field_type(record, (name, sub)) or ANY
            if inner.open:
                for sub in NESTED:
                    scope.types.setdefault((name, sub), ANY)
        elif typ == ANY and name in ("r", "x"):
            for sub in NESTED:
                scope.types[(name, sub)] = ANY
    return scope


# ---------------------------------------------------------------- expressions

STRINGS = (
    "",
    "1_000",
    "\u0661\u0662",
    "-7",
    " +2.5e1 ",
    "12abc",
    "a",
    "b",
    "A b",
    " 2 ",
    "1.5",
    "x@y.z",
    "é",
    'q"q',
    "back\\slash",
    "nan",
    "2024-01-02T03:04:05Z",
    "line\nbreak",
)
PATTERNS = (r"^a", r"b$", r"[0-9]+", r"(?i)x", r"a|b", r".", r"^$", r"\d\.\d", r"\s")
TIMES = ("2024-01-02T03:04:05Z", "2023-12-31T23:59:59+02:00", "2024-06-01 12:00:00")
URLS = (
    "ftp://foo:bar@example.com:4343/foobar?hello=world&hello=2#123",
    "https://Example.COM",
    "https://[::1]:443/p?a=%2B+b",
    "mailto:a@b.c",
    "http://",
    "x/y",
    "http://h:70000/",
)
QUERIES = ("foo=%2B1&bar=2&bar=3&xyz", "?a[]=1&a[]=2", "=&=", "", "k=%zz%e9")
UNITS = ["seconds", "milliseconds", "microseconds", "nanoseconds"]
TIME_FORMATS = ["%Y-%m-%d %H:%M:%S.%f%z", "%s", "%s.%f", "%d/%b/%Y:%H:%M:%S %z", "%a %j %%"]
SMALL_INTS = st.integers(-5, 12)
FLOATS = st.sampled_from((0.0, -0.0, 0.5, 1.0, 2.5, -3.25, 1e-3, 1e300, 100.0))


class ExprGen:
    """Draws expression text whose static type fits what is asked for."""

    def __init__(self, draw, scope: Scope):
        self.draw = draw
        self.scope = scope

    def pick(self, options: list[str]) -> str:
        return self.draw(st.sampled_from(options))

    def path_of(self, pred: Callable[[Type], bool]) -> str | None:
        paths = self.scope.having(pred)
        if not paths:
            return None
        return field_text(self.draw(st.sampled_from(paths)))

    # ---- leaves

    def str_literal(self) -> str:
        return quote(self.draw(st.sampled_from(STRINGS) | st.text('ab"\\ é\n', max_size=4)))

    def int_literal(self) -> str:
        big = st.sampled_from((1000, -(2**31), 2**40))
        return num_lit(self.draw(st.one_of(SMALL_INTS, SMALL_INTS, big)))

    def float_literal(self) -> str:
        return num_lit(self.draw(FLOATS))

    def scalar_literal(self) -> str:
        kind = self.pick(["int", "str", "null", "bool", "float"])
        return {
            "int": self.int_literal,
            "str": self.str_literal,
            "float": self.float_literal,
            "null": lambda: "null",
            "bool": lambda: self.pick(["true", "false"]),
        }[kind]()

    # ---- typed

    def int_(self, depth: int) -> str:
        options = ["lit"]
        if self.scope.having(lambda t: t == INT):
            options.append("field")
        if self.scope.having(lambda t: t == Nullable(INT)):
            options.append("coalesce")
        if depth > 0:
            options += ["arith", "arith", "arith", "neg", "len", "if", "to_int", "unix", "round"]
        kind = self.pick(options)
        d = depth - 1
        if kind == "lit":
            return self.int_literal()
        if kind == "field":
            return self.path_of(lambda t: t == INT)
        if kind == "coalesce":
            return f"({self.path_of(lambda t: t == Nullable(INT))} ?? {self.int_literal()})"
        if kind == "arith":
            return f"({self.int_(d)} {self.pick(['+', '-', '*', '%'])} {self.int_(d)})"
        if kind == "neg":
            return f"-({self.int_(d)})"
        if kind == "len":
            return f"len({self.str_(d)})"
        if kind == "if":
            return f"(if {self.bool_(d)} then {self.int_(d)} else {self.int_(d)})"
        if kind == "round":
            return f"{self.pick(['round', 'floor', 'ceil'])}({self.int_(d)}, {self.int_literal()})"
        if kind == "unix":
            return f"to_unix_timestamp({self.time_(d)}, {quote(self.pick(UNITS))})"
        return f"to_int({self.pick([self.str_(d), self.float_(d)])})"

    def float_(self, depth: int) -> str:
        options = ["lit"]
        if self.scope.having(lambda t: t == FLOAT):
            options.append("field")
        if self.scope.having(lambda t: t == Nullable(FLOAT)):
            options.append("coalesce")
        if depth > 0:
            options += ["div", "arith", "arith", "mixed", "neg", "to_float", "if", "round"]
        kind = self.pick(options)
        d = depth - 1
        if kind == "lit":
            return self.float_literal()
        if kind == "field":
            return self.path_of(lambda t: t == FLOAT)
        if kind == "coalesce":
            return f"({self.path_of(lambda t: t == Nullable(FLOAT))} ?? {self.float_literal()})"
        if kind == "div":
            return f"({self.int_(d)} / {self.int_(d)})"
        if kind == "arith":
            return f"({self.float_(d)} {self.pick(['+', '-', '*', '/', '%'])} {self.float_(d)})"
        if kind == "mixed":
            return f"({self.int_(d)} {self.pick(['+', '-', '*'])} {self.float_(d)})"
        if kind == "neg":
            return f"-({self.float_(d)})"
        if kind == "round":
            fn = self.pick(["round", "floor", "ceil"])
            digits = self.pick(["", ", 1", ", precision=2", ", -1", ", 400", ", -400"])
            return f"{fn}({self.float_(d)}{digits})"
        if kind == "to_float":
            return f"to_float({self.pick([self.int_(d), self.str_(d)])})"
        return f"(if {self.bool_(d)} then {self.float_(d)} else {self.float_(d)})"

    def str_(self, depth: int) -> str:
        options = ["lit"]
        if self.scope.having(lambda t: t == STR):
            options.append("field")
        if self.scope.having(lambda t: t == Nullable(STR)):
            options.append("coalesce")
        if depth > 0:
            options += [
                "case",
                "concat",
                "to_str",
                "if",
                "env",
                "format_time",
            ] + ["text_fn"] * 4
        kind = self.pick(options)
        d = depth - 1
        if kind == "lit":
            return self.str_literal()
        if kind == "field":
            return self.path_of(lambda t: t == STR)
        if kind == "coalesce":
            return f"({self.path_of(lambda t: t == Nullable(STR))} ?? {self.str_literal()})"
        if kind == "case":
            return f"{self.pick(['lower', 'upper', 'trim'])}({self.str_(d)})"
        if kind == "concat":
            return f"({self.str_(d)} + {self.str_(d)})"
        if kind == "to_str":
            return f"to_str({self.pick([self.int_(d), self.float_(d), self.bool_(d)])})"
        if kind == "env":
            return f'env("{self.pick(sorted(ENV))}", "unset")'
        if kind == "text_fn":
            return self.text_fn(d)
        if kind == "format_time":
            zone = self.pick(["", ', timezone="Europe/Prague"', ', timezone="Asia/Kolkata"'])
            return f"format_time({self.time_(d)}, {quote(self.pick(TIME_FORMATS))}{zone})"
        return f"(if {self.bool_(d)} then {self.str_(d)} else {self.str_(d)})"

    def text_fn(self, d: int) -> str:
        """A call of a text builtin: slicing, splitting, replacing, padding, hashing."""
        fn = self.pick(["slice", "split", "replace", "regex", "pad", "hash", "hmac"])
        s, lit = self.str_(d), self.str_literal()
        if fn == "slice":
            end = self.pick(["", ", 2", ", -1", ", null", ", 40"])
            return f"slice({s}, {self.pick(['0', '1', '-2', '5'])}{end})"
        if fn == "split":
            limit = self.pick(["", ", 2", ", limit=0", ", -1"])
            if self.pick([False, True]):
                pattern = quote(self.pick(list(PATTERNS)))
                return f'join(split_regex({s}, r{pattern}{limit}), "|")'
            return f'join(split({s}, {self.pick([lit, chr(34) * 2])}{limit}), "|")'
        if fn == "replace":
            return f"replace({s}, {lit}, {self.str_literal()}, count={self.int_literal()})"
        if fn == "regex":
            template = quote(self.pick(["<$0>", "$1$1", "${x}", "$$", "-"]))
            return f"replace_regex({s}, r{quote(self.pick(list(PATTERNS)))}, {template})"
        if fn == "pad":
            side = self.pick(["pad_start", "pad_end"])
            return f"{side}({s}, {self.pick(['0', '3', '6'])}, {self.pick([lit, quote('ab')])})"
        if fn == "hash":
            return f"sha256({s})"
        algorithm = self.pick(["", ', algorithm="SHA1"', ', algorithm="sha-512"'])
        return f'hmac({s}, env("FLOWTEST_SITE"){algorithm})'

    def time_(self, depth: int) -> str:
        options = ["parse"]
        if self.scope.having(lambda t: t == TIME):
            options.append("field")
        if depth > 0:
            options += ["plus", "minus", "floor", "from_unix", "reparse"]
        kind = self.pick(options)
        d = depth - 1
        if kind == "parse":
            return f"parse_time({quote(self.pick(list(TIMES)))})"
        if kind == "floor":
            return (
                f"floor_time({self.time_(d)}, {self.pick(['1ms', '1s', '15m', '1h', '1d', '7d'])})"
            )
        if kind == "from_unix":
            return f"from_unix_timestamp({self.int_(d)}, {quote(self.pick(UNITS))})"
        if kind == "reparse":
            fmt = quote(self.pick(TIME_FORMATS[:4]))
            return f"parse_time(format_time({self.time_(d)}, {fmt}), {fmt})"
        if kind == "field":
            return self.path_of(lambda t: t == TIME)
        if kind == "plus":
            return f"({self.time_(d)} + {self.duration_(d)})"
        return f"({self.time_(d)} - {self.duration_(d)})"

    def duration_(self, depth: int) -> str:
        kind = self.pick(["lit", "diff", "sum"] if depth > 0 else ["lit"])
        d = depth - 1
        if kind == "lit":
            return self.pick(["250ms", "5s", "1m", "2h", "1d"])
        if kind == "diff":
            return f"({self.time_(d)} - {self.time_(d)})"
        return f"({self.duration_(d)} {self.pick(['+', '-'])} {self.duration_(d)})"

    def any_(self, depth: int) -> str:
        """An expression of static type `any` (its value's kind is known only at run time)."""
        options = ["mixed_if"]
        if self.scope.having(lambda t: t == ANY):
            options[:0] = ["field", "field"]
            if depth > 0:
                options += ["arith", "arith", "arith", "neg", "coalesce", "arith_any"]
        kind = self.pick(options)
        d = depth - 1
        if kind == "field":
            return self.path_of(lambda t: t == ANY)
        if kind == "arith":
            op = self.pick(["+", "-", "*", "/", "%"])
            other = self.pick(
                [
                    self.int_literal(),
                    self.float_literal(),
                    self.str_literal(),
                    self.path_of(lambda t: t == ANY),
                    self.int_(d),
                ]
            )
            if self.draw(st.booleans()):
                return f"({self.any_(d)} {op} {other})"
            return f"({other} {op} {self.any_(d)})"
        if kind == "arith_any":
            return f"({self.any_(d)} {self.pick(['+', '-', '*'])} {self.any_(d)})"
        if kind == "neg":
            return f"-({self.any_(d)})"
        if kind == "coalesce":
            return f"({self.any_(d)} ?? {self.scalar_literal()})"
        return f"(if {self.bool_(max(d, 0))} then {self.int_literal()} else {self.str_literal()})"

    def weak_bool(self, depth: int) -> str:
        """A condition: a bool, or a value that may be null or of any kind."""
        paths = self.scope.having(lambda t: t in (Nullable(BOOL), ANY))
        if paths and self.draw(st.integers(0, 3)) == 0:
            return field_text(self.draw(st.sampled_from(paths)))
        return self.bool_(depth)

    def bool_(self, depth: int) -> str:
        # constant conditions only at the leaves, so most `where`s depend on the record
        options = ["lit"] if depth <= 0 else []
        if self.scope.having(lambda t: t == BOOL):
            options.append("field")
        if self.scope.having(lambda t: t == Nullable(BOOL)):
            options.append("coalesce")
        if depth > 0:
            options += [
                "cmp_num",
                "cmp_str",
                "cmp_any",
                "eq_mixed",
                "in_list",
                "in_str",
                "match",
                "and",
                "or",
                "not",
                "fn",
                "if",
                "cidr",
            ]
            if self.scope.types:
                options.append("eq_null")
            if self.scope.having(lambda t: t == ANY):
                # where run-time kinds meet: weigh these up
                options += ["cmp_any", "eq_mixed", "in_list", "match"] * 2
            if self.scope.having(lambda t: strip_null(t) == TIME):
                options.append("cmp_time")
            if self.scope.having(lambda t: isinstance(t, ListT)):
                options.append("in_field")
        kind = self.pick(options)
        d = depth - 1
        if kind == "lit":
            return self.pick(["true", "false"])
        if kind == "field":
            return self.path_of(lambda t: t == BOOL)
        if kind == "coalesce":
            return (
                f"({self.path_of(lambda t: t == Nullable(BOOL))} ?? {self.pick(['true', 'false'])})"
            )
        cmp = ["==", "!=", "<", "<=", ">", ">="]
        if kind == "cmp_num":
            left = self.pick([self.int_(d), self.float_(d)])
            return f"({left} {self.pick(cmp)} {self.pick([self.int_(d), self.float_(d)])})"
        if kind == "cmp_str":
            return f"({self.str_(d)} {self.pick(cmp)} {self.str_(d)})"
        if kind == "cmp_time":
            return f"({self.time_(d)} {self.pick(cmp)} {self.time_(d)})"
        if kind == "cmp_any":
            right = self.pick([self.scalar_literal(), self.any_(d)])
            return f"({self.any_(d)} {self.pick(cmp)} {right})"
        if kind == "eq_null":
            path = self.draw(st.sampled_from(sorted(self.scope.types)))
            return f"({field_text(path)} {self.pick(['==', '!='])} null)"
        if kind == "eq_mixed":
            value = self.pick(["1", "1.0", "true", '"1"', "null", "0", "false"])
            return f"({self.any_(d)} {self.pick(['==', '!='])} {value})"
        if kind == "in_list":
            which = self.pick(["int", "str", "any"])
            if which == "int":
                items = [self.int_literal() for _ in range(self.draw(st.integers(0, 3)))]
                return f"({self.int_(d)} in [{', '.join(items)}])"
            if which == "str":
                items = [self.str_literal() for _ in range(self.draw(st.integers(0, 3)))]
                return f"({self.str_(d)} in [{', '.join(items)}])"
            items = [self.scalar_literal() for _ in range(self.draw(st.integers(0, 3)))]
            return f"({self.any_(d)} in [{', '.join(items)}])"
        if kind == "in_str":
            left = self.pick([self.str_(d), self.any_(d)])
            return f"({left} in {self.str_literal()})"
        if kind == "in_field":
            container = self.path_of(lambda t: isinstance(t, ListT))
            return f"({self.pick([self.int_(d), self.str_(d), self.any_(d)])} in {container})"
        if kind == "match":
            paths = self.scope.having(lambda t: t in (STR, Nullable(STR), ANY))
            left = field_text(self.draw(st.sampled_from(paths))) if paths else self.str_(d)
            return f"({left} =~ r{quote(self.pick(list(PATTERNS)))})"
        if kind == "cidr":
            blocks = self.pick(['"10.0.0.0/8"', '["192.168.0.0/16", "::/0"]', '"1.2.3.4"'])
            address = self.pick(['"10.1.2.3"', '"192.168.7.7"', '"::1"', self.str_(d)])
            return f"ip_cidr_contains({blocks}, {address})"
        if kind in ("and", "or"):
            return f"({self.weak_bool(d)} {kind} {self.weak_bool(d)})"
        if kind == "not":
            return f"not ({self.weak_bool(d)})"
        if kind == "fn":
            fn = self.pick(["starts_with", "ends_with", "contains", "contains_list"])
            if fn == "contains_list":
                items = [self.scalar_literal() for _ in range(self.draw(st.integers(0, 3)))]
                return f"contains([{', '.join(items)}], {self.pick([self.any_(d), self.int_(d)])})"
            return f"{fn}({self.str_(d)}, {self.str_literal()})"
        return f"(if {self.weak_bool(d)} then {self.bool_(d)} else {self.bool_(d)})"

    def value(self, depth: int) -> str:
        """Anything `set` may assign."""
        options = [
            "int",
            "int",
            "float",
            "float",
            "str",
            "bool",
            "any",
            "any",
            "any",
            "null",
            "list",
            "time",
            "duration",
            "copy",
            "nullable",
            "url",
            "query",
        ]
        kind = self.pick(options)
        if kind == "null":
            return "null"
        if kind == "url":
            return f"parse_url({self.pick([quote(u) for u in URLS] + [self.str_(depth)])})"
        if kind == "query":
            return f"parse_query_string({self.pick([quote(q) for q in QUERIES])})"
        if kind == "list":
            items = [self.scalar_literal() for _ in range(self.draw(st.integers(0, 3)))]
            return f"[{', '.join(items)}]"
        if kind == "copy":
            path = self.draw(st.sampled_from(sorted(self.scope.types) or [("a",)]))
            return field_text(path)
        if kind == "nullable":
            fn = self.pick(["lower", "upper", "trim", "len", "to_int", "to_float", "to_str"])
            return f"{fn}({self.any_(depth)})"
        return getattr(self, f"{kind}_")(depth)


# ---------------------------------------------------------------- stages


def _new_path(draw, scope: Scope, taken: set[Path]) -> Path | None:
    """A path that a closed record does not declare (for rename targets)."""
    tops = [(n,) for n in NEW_NAMES + POOL if (n,) not in scope.declared and (n,) not in taken]
    nested = [
        (p[0], sub)
        for p, t in scope.types.items()
        if len(p) == 1 and (isinstance(strip_null(t), RecordT) or t == ANY)
        for sub in NESTED
        if (p[0], sub) not in scope.declared and (p[0], sub) not in taken
    ]
    options = tops + sorted(nested)
    return draw(st.sampled_from(options)) if options else None


def _set_target(draw, scope: Scope) -> Path:
    tops = [(n,) for n in NEW_NAMES + POOL]
    nested = [
        (p[0], sub)
        for p, t in scope.types.items()
        if len(p) == 1 and (isinstance(strip_null(t), RecordT) or t == ANY)
        for sub in NESTED
    ] + [(n, "a") for n in NEW_NAMES if (n,) not in scope.types]
    return draw(st.sampled_from(tops + sorted(nested)))


def _disjoint(paths: list[Path]) -> list[Path]:
    """Paths none of which is a prefix of another (first one wins)."""
    out: list[Path] = []
    for p in paths:
        if all(p[: len(q)] != q and q[: len(p)] != p for q in out):
            out.append(p)
    return out


def draw_stage(draw, scope: Scope) -> str:
    kind = draw(st.sampled_from(["where", "set", "set", "set", "drop", "keep", "rename"]))
    gen = ExprGen(draw, scope)
    depth = draw(st.integers(1, 3))
    paths = sorted(scope.types)
    if kind == "where" or not paths:
        return f"where {gen.weak_bool(depth)}"
    if kind == "set":
        parts, current, taken = [], scope, set()
        for _ in range(draw(st.integers(1, 3))):
            target = _set_target(draw, current)
            if any(target[: len(t)] == t or t[: len(target)] == target for t in taken):
                continue
            taken.add(target)
            value = ExprGen(draw, current).value(depth)
            parts.append(f"{field_text(target)} = {value}")
            current = current.without(target)
        return "set " + ", ".join(parts)
    if kind in ("drop", "keep"):
        chosen = _disjoint(draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)))
        return f"{kind} " + ", ".join(field_text(p) for p in chosen)
    pairs, taken = [], set()
    for old in _disjoint(draw(st.lists(st.sampled_from(paths), min_size=1, max_size=2))):
        new = _new_path(draw, scope, taken | {old})
        if new is None or new[: len(old)] == old or old[: len(new)] == new:
            continue
        taken |= {old, new}
        pairs.append(f"{field_text(old)} as {field_text(new)}")
    assume(pairs)
    return "rename " + ", ".join(pairs)


# ---------------------------------------------------------------- schemas and records

SCHEMA_TYPES = (
    "int",
    "float",
    "str",
    "bool",
    "time",
    "any",
    "int?",
    "float?",
    "str?",
    "bool?",
    "[int]",
    "[str]",
    "{a: int, s: str?}",
    "{n: float, ..}?",
)

# small values that collide with the literals programs use, so that `==`,
# `in` and arithmetic meet every mix of kinds
COMMON = st.sampled_from((None, 0, 1, 2, -3, 1.0, 0.5, -0.0, True, False, "", "1", "a", "b", " 2 "))
JSON_SCALARS = (
    COMMON
    | COMMON
    | st.none()
    | st.booleans()
    | st.integers(-20, 20)
    | st.sampled_from((2**31, -(2**40), 10**15))
    | st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: abs(f) < 1e200)
    | st.sampled_from(STRINGS)
    | st.text("ab1 .é", max_size=4)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(NESTED + ("b",)), inner, max_size=3)
    ),
    max_leaves=6,
)
TIME_VALUES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2035, 1, 1),
    timezones=st.just(UTC),
).map(lambda t: t.replace(microsecond=0))


def values_of(typ: Type) -> st.SearchStrategy:
    """Records' values that conform to a schema type."""
    if isinstance(typ, Nullable):
        return st.none() | values_of(typ.inner)
    if isinstance(typ, ListT):
        return st.lists(values_of(typ.item), max_size=3)
    if isinstance(typ, RecordT):
        fixed = st.fixed_dictionaries({k: values_of(t) for k, t in typ.fields})
        if not typ.open:
            return fixed
        extra = st.dictionaries(st.sampled_from(NESTED), JSON_VALUES, max_size=2)
        return st.tuples(extra, fixed).map(lambda pair: {**pair[0], **pair[1]})
    return {
        INT: st.integers(-5, 5) | st.integers(-20, 20) | st.sampled_from((2**31, -(2**40))),
        FLOAT: st.floats(-1e6, 1e6).map(float) | st.sampled_from((0.5, -0.0, 2.0)),
        STR: st.sampled_from(STRINGS) | st.text("ab1 é", max_size=4),
        BOOL: st.booleans(),
        TIME: TIME_VALUES,
        ANY: JSON_VALUES,
    }[typ]


@st.composite
def open_records(draw) -> dict:
    rec = {}
    for name in POOL:
        if draw(st.integers(0, 3)) > 0:
            rec[name] = draw(st.one_of(COMMON, COMMON, JSON_SCALARS, JSON_VALUES))
    return rec


# ---------------------------------------------------------------- programs


@dataclass
class Generated:
    text: str
    stage_lines: dict[int, int]  # .flow line -> stage index
    source_type: Type | None  # the schema, or None for an open record


def check_text(text: str) -> ir.Plan | None:
    """The plan of a program, or None when it has errors."""
    from flowlang.checker import check
    from flowlang.parser import parse

    src = SourceFile(FLOW_NAME, text)
    program, diags = parse(src)
    if program is None or any(d.is_error for d in diags):
        return None
    plan, diags = check(program, src)
    if plan is None or any(d.is_error for d in diags):
        return None
    return plan


@st.composite
def programs(
    draw, source: str = "file", sink: str = 'sink file("output.jsonl")', routes: bool = False
) -> Generated:
    """A checked program: an optional schema, a source, 1-6 relational stages,
    a sink; with `routes`, a `route { … }` of 1-3 conditions (and maybe an
    `else`) instead of the sink, whose route k writes `route{k}.jsonl`."""
    lines = []
    schema = None
    if draw(st.integers(0, 2)) == 0:
        names = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True))
        decls = ", ".join(
            f"{field_text((n,))}: {draw(st.sampled_from(SCHEMA_TYPES))}" for n in names
        )
        lines.append(f"schema S {{ {decls} }}")
        schema = "S"
    options = "format=json" + (f", schema={schema}" if schema else "")
    if source == "file":
        lines.append(f'source file("input.jsonl", {options})')
    else:
        lines.append(f"source stdin({options})")
    head_line = len(lines)
    plan = check_text("\n".join(lines) + "\n  | sink null\n")
    assert plan is not None, lines
    source_type = plan.pipelines[0].output_type
    scope = scope_of(source_type)
    stage_lines = {}
    for index in range(1, draw(st.integers(1, 6)) + 1):
        lines.append("  | " + draw_stage(draw, scope))
        stage_lines[head_line + index] = index
        plan = check_text("\n".join(lines) + "\n  | sink null\n")
        assume(plan is not None)
        scope = scope_of(plan.pipelines[0].output_type)
    if not routes:
        lines.append("  | " + sink)
        return Generated("\n".join(lines) + "\n", stage_lines, source_type if schema else None)
    gen = ExprGen(draw, scope)
    conds = [gen.weak_bool(draw(st.integers(1, 3))) for _ in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        conds.append("else")
    entries = ", ".join(f"r{k}: {cond}" for k, cond in enumerate(conds))
    lines.append(f"  | route {{ {entries} }}")
    stage_lines[len(lines)] = len(stage_lines) + 1
    for k in range(len(conds)):
        lines.append(f'pipeline r{k} = from {PIPELINE} | sink file("route{k}.jsonl")')
    assume(check_text("\n".join(lines) + "\n") is not None)
    return Generated("\n".join(lines) + "\n", stage_lines, source_type if schema else None)


@st.composite
def programs_and_records(draw, routes: bool = False):
    gen = draw(programs(routes=routes))
    if gen.source_type is None:
        records = draw(st.lists(open_records(), min_size=1, max_size=12))
    else:
        records = draw(st.lists(values_of(gen.source_type), min_size=1, max_size=12))
    return gen, records


# ---------------------------------------------------------------- comparison


def as_written(value: Any) -> Any:
    """A reference value as a file sink writes it and JSON reads it back."""
    if isinstance(value, dict):
        return {k: as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_written(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values of the same kinds (1 and 1.0 differ, so do 1 and true)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


_LOCATION = re.compile(re.escape(FLOW_NAME) + r":(\d+)\)$")


def stage_of(error: dict, stage_lines: dict[int, int]) -> int:
    """The stage index an error record names (by its .flow line)."""
    match = _LOCATION.search(error["stage"])
    assert match, error["stage"]
    return stage_lines.get(int(match.group(1)), 0)


def compare(gen: Generated, records: list[dict]) -> None:
    """Run the program both ways and assert they agree."""
    plan = check_text(gen.text)
    assert plan is not None, gen.text
    pipeline = next(p for p in plan.pipelines if p.name == PIPELINE)
    expected = run_reference_detailed(pipeline, records, env=ENV)
    last = pipeline.steps[-1]
    routes = len(last.routes) if isinstance(last, ir.RouteStep) else 0
    with tempfile.TemporaryDirectory() as tmp:
        result = run_flow(gen.text, tmp, records=records, env=ENV, name=FLOW_NAME)
        routed = [read_jsonl(pathlib.Path(tmp, f"route{k}.jsonl")) for k in range(routes)]
    note(result.code)
    assert result.exit_code == 0, result.stderr
    outputs = [(result.output, expected.output)]
    if routes:
        # each route's file holds, in order, the records the reference sent it
        assert len(expected.routes) == len(expected.output)
        outputs = [
            (got, [r for r, took in zip(expected.output, expected.routes) if took == k])
            for k, got in enumerate(routed)
        ]
    for got_out, want in outputs:
        want_out = [as_written(r) for r in want]
        assert len(got_out) == len(want_out), (got_out, want_out)
        for got, want in zip(got_out, want_out):
            assert same(got, want), (got, want)
    got_errors = [
        (stage_of(e, gen.stage_lines), e["record"])
        for e in result.errors
        if e["pipeline"] == PIPELINE
    ]
    want_errors = [(index, as_written(rec)) for index, rec in expected.errors]
    assert [i for i, _ in got_errors] == [i for i, _ in want_errors], (
        result.errors,
        want_errors,
    )
    for (_, got), (_, want) in zip(got_errors, want_errors):
        assert same(got, want), (got, want)
    stages = result.metrics[PIPELINE]["stages"]
    dropped = {s["index"]: s["dropped"] for s in stages if s["dropped"]}
    assert dropped == expected.dropped


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(programs_and_records())
def test_compiled_pipeline_equals_reference(case):
    gen, records = case
    note(gen.text)
    note(repr(records))
    compare(gen, records)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(programs_and_records(routes=True))
def test_routed_pipeline_sends_each_record_where_the_reference_does(case):
    """`route { … }`: the first route whose condition holds takes a record,
    in the compiled program as in the reference; errors and drops agree."""
    gen, records = case
    note(gen.text)
    note(repr(records))
    compare(gen, records)
