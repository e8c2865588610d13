"""The type language of flowlang and its rules (assignability, join, field access).

Types are immutable values. Run-time representation of each primitive:

    str -> str        int -> int         float -> float     bool -> bool
    time -> datetime.datetime (aware, UTC)                  ip -> str (canonical text)
    duration -> datetime.timedelta        any -> anything    null -> None
    [T] -> list       records -> dict

Checking is gradual: `any` is compatible with everything in both directions, and
what the checker cannot prove is checked at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

from .syntax import field_label as _field_label

PRIMITIVE_NAMES = ("str", "int", "float", "bool", "time", "ip", "duration", "any")


@dataclass(frozen=True)
class Prim:
    name: str  # one of PRIMITIVE_NAMES, or "null" (the type of the literal null)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Nullable:
    inner: "Type"  # never Nullable, never any, never null

    def __str__(self) -> str:
        return f"{self.inner}?"


@dataclass(frozen=True)
class ListT:
    item: "Type"

    def __str__(self) -> str:
        return f"[{self.item}]"


@dataclass(frozen=True)
class RecordT:
    """A record type. Closed records have exactly `fields`; open ones (`..`) may
    carry other fields, which are `any`. `name` is the schema's name, if any,
    used only for messages."""

    fields: tuple[tuple[str, "Type"], ...]
    open: bool = False
    name: str | None = None

    def get(self, name: str) -> "Type | None":
        for key, typ in self.fields:
            if key == name:
                return typ
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.fields)

    def with_field(self, name: str, typ: "Type") -> "RecordT":
        """This record with `name` added or replaced (kept in place if present)."""
        if self.get(name) is None:
            return RecordT(self.fields + ((name, typ),), self.open)
        return RecordT(tuple((k, typ if k == name else t) for k, t in self.fields), self.open)

    def without(self, name: str) -> "RecordT":
        return RecordT(tuple((k, t) for k, t in self.fields if k != name), self.open)

    def __eq__(self, other: object) -> bool:
        # the schema name is a label, not part of the type
        return (
            isinstance(other, RecordT)
            and self.open == other.open
            and dict(self.fields) == dict(other.fields)
        )

    def __hash__(self) -> int:
        return hash((frozenset(self.fields), self.open))

    def __str__(self) -> str:
        if self.name:
            return self.name
        parts = [f"{_field_label(k)}: {t}" for k, t in self.fields]
        if self.open:
            parts.append("..")
        return "{" + ", ".join(parts) + "}"


Type = Union[Prim, Nullable, ListT, RecordT]

STR = Prim("str")
INT = Prim("int")
FLOAT = Prim("float")
BOOL = Prim("bool")
TIME = Prim("time")
IP = Prim("ip")
DURATION = Prim("duration")
ANY = Prim("any")
NULL = Prim("null")
OPEN_RECORD = RecordT((), open=True)


def nullable(t: Type) -> Type:
    """`T?`; idempotent; any? is any and null? is null."""
    if isinstance(t, Nullable) or t in (ANY, NULL):
        return t
    return Nullable(t)


def strip_null(t: Type) -> Type:
    """T for T? (and for T itself)."""
    return t.inner if isinstance(t, Nullable) else t


def is_nullable(t: Type) -> bool:
    return isinstance(t, Nullable) or t in (ANY, NULL)


def is_numeric(t: Type, allow_null: bool = False) -> bool:
    if allow_null:
        t = strip_null(t)
    return t in (INT, FLOAT, ANY)


def assignable(src: Type, dst: Type) -> bool:
    """May a value of type `src` be used where `dst` is expected?

    `any` goes both ways (checked at run time); int widens to float; null goes
    to any nullable; T goes to T?; lists are covariant; a record goes to a
    record type when every field the target names is assignable (missing
    fields are fine only where the target field is nullable), and to a closed
    target only if it has no extra fields and is itself closed.
    """
    if src == dst or src == ANY or dst == ANY:
        return True
    if src == NULL:
        return isinstance(dst, Nullable)
    if isinstance(dst, Nullable):
        return assignable(strip_null(src), dst.inner)
    if isinstance(src, Nullable):
        return False
    if src == INT and dst == FLOAT:
        return True
    if isinstance(src, ListT) and isinstance(dst, ListT):
        return assignable(src.item, dst.item)
    if isinstance(src, RecordT) and isinstance(dst, RecordT):
        for key, dtype in dst.fields:
            stype = src.get(key)
            if stype is None:
                if src.open:
                    continue  # an open record may carry it; checked at run time
                if not is_nullable(dtype):
                    return False
            elif not assignable(stype, dtype):
                return False
        if not dst.open:
            if src.open:
                return False
            return all(dst.get(k) is not None for k in src.names)
        return True
    return False


def join(a: Type, b: Type) -> Type:
    """The least type both `a` and `b` are assignable to (branches of `if`, `??`)."""
    if a == b:
        return a
    if ANY in (a, b):
        return ANY
    if a == NULL:
        return nullable(b)
    if b == NULL:
        return nullable(a)
    if isinstance(a, Nullable) or isinstance(b, Nullable):
        inner = join(strip_null(a), strip_null(b))
        return inner if inner == ANY else nullable(inner)
    if {a, b} == {INT, FLOAT}:
        return FLOAT
    if isinstance(a, ListT) and isinstance(b, ListT):
        return ListT(join(a.item, b.item))
    if isinstance(a, RecordT) and isinstance(b, RecordT):
        fields = []
        for key, at in a.fields:
            bt = b.get(key)
            if bt is not None:
                fields.append((key, join(at, bt)))
            elif b.open:
                fields.append((key, ANY))
            else:
                fields.append((key, nullable(at)))
        for key, bt in b.fields:
            if a.get(key) is None:
                fields.append((key, ANY if a.open else nullable(bt)))
        return RecordT(tuple(fields), a.open or b.open)
    return ANY


def join_all(types: Iterable[Type]) -> Type:
    result: Type | None = None
    for t in types:
        result = t if result is None else join(result, t)
    return NULL if result is None else result


def field_type(record: Type, path: tuple[str, ...]) -> Type | None:
    """The type of `path` inside `record`, or None when a closed record lacks it.

    A path through a nullable record is nullable; through `any` or an open
    record's unknown field it is `any`.
    """
    return walk_path(record, path)[0]


def walk_path(record: Type, path: tuple[str, ...]) -> tuple[Type | None, int, Type]:
    """`(field_type(record, path), i, at)`: where the walk ended, for messages.
    When the type is None, `path[i]` could not be read from `at`: `at` is not
    a record, or a closed record without that field."""
    current: Type = record
    through_null = False
    for i, name in enumerate(path):
        if current == ANY:
            return ANY, i, current
        if isinstance(current, Nullable):
            through_null = True
            current = current.inner
        if not isinstance(current, RecordT):
            return None, i, current
        found = current.get(name)
        if found is None:
            return (ANY if current.open else None), i, current
        current = found
    return (nullable(current) if through_null else current), len(path), current


# ---------------------------------------------------------------- operators


@dataclass(frozen=True)
class OperatorRule:
    """An operator is defined on operands of these types (known, not null) and
    gives `result`. `python`: Python's own operator on the run-time values
    computes exactly that, so generated code uses it directly (the fast path);
    otherwise it calls the runtime.ops helper."""

    operands: tuple[Type, ...]
    result: Type
    python: bool = True


def _numbers(result: Type | None, python: bool = True) -> tuple[OperatorRule, ...]:
    """The four mixes of int and float; `result` None: int for two ints, else float."""
    pairs = ((INT, INT), (INT, FLOAT), (FLOAT, INT), (FLOAT, FLOAT))
    return tuple(
        OperatorRule(p, result or (INT if p == (INT, INT) else FLOAT), python) for p in pairs
    )


_ORDERING = _numbers(BOOL) + (
    OperatorRule((STR, STR), BOOL),  # by code point
    OperatorRule((TIME, TIME), BOOL),
    OperatorRule((DURATION, DURATION), BOOL),
    OperatorRule((IP, IP), BOOL, python=False),  # by address (runtime.ops.ip_key), not as text
)
_EQUALITY = (
    _numbers(BOOL)
    + tuple(OperatorRule((t, t), BOOL) for t in (STR, BOOL, TIME, DURATION, IP))
    + (
        OperatorRule((IP, STR), BOOL),  # an ip is its canonical text
        OperatorRule((STR, IP), BOOL),
    )
)

# Every binary operator but `and or in =~ ??` (whose operands are conditions,
# containers, patterns and anything), and unary `-` (one operand). Lists and
# records compare for equality item by item (`may_equal`).
OPERATORS: dict[str, tuple[OperatorRule, ...]] = {
    "+": _numbers(None)
    + (
        OperatorRule((STR, STR), STR),
        OperatorRule((TIME, DURATION), TIME),
        OperatorRule((DURATION, TIME), TIME),
        OperatorRule((DURATION, DURATION), DURATION),
    ),
    "-": _numbers(None)
    + (
        OperatorRule((TIME, TIME), DURATION),
        OperatorRule((TIME, DURATION), TIME),
        OperatorRule((DURATION, DURATION), DURATION),
    ),
    "*": _numbers(None)
    + (  # scaling a duration
        OperatorRule((DURATION, INT), DURATION),
        OperatorRule((DURATION, FLOAT), DURATION),
        OperatorRule((INT, DURATION), DURATION),
        OperatorRule((FLOAT, DURATION), DURATION),
    ),
    # by zero is a record error, not Python's ZeroDivisionError
    "/": _numbers(FLOAT, python=False),
    "%": _numbers(None, python=False),
    "<": _ORDERING,
    "<=": _ORDERING,
    ">": _ORDERING,
    ">=": _ORDERING,
    "==": _EQUALITY,
    "!=": _EQUALITY,
}
NEGATION: tuple[OperatorRule, ...] = tuple(OperatorRule((t,), t) for t in (INT, FLOAT, DURATION))

# a null operand makes these null; the others are comparisons, where null is a value
NULL_GIVES_NULL = frozenset(("+", "-", "*", "/", "%"))


def _rules(op: str, operands: tuple[Type, ...]) -> tuple[OperatorRule, ...]:
    return NEGATION if len(operands) == 1 else OPERATORS[op]


def operator_rule(op: str, *operands: Type) -> OperatorRule | None:
    """The rule of `op` for exactly these operand types (one operand: unary `-`)."""
    for rule in _rules(op, operands):
        if rule.operands == operands:
            return rule
    return None


def python_operator(op: str, *operands: Type) -> bool:
    """May generated code apply Python's own `op` to operands of these static types?"""
    rule = operator_rule(op, *operands)
    return rule is not None and rule.python


def operator_type(op: str, *operands: Type) -> Type | None:
    """The type of `op` applied to operands of these types (null taken off:
    the checker reports nullable operands of arithmetic itself), or None when
    no values of these types can be its operands.

    An `any` operand matches every rule; the result is then the one type
    every rule of `op` gives (nullable where null gives null), else `any`.
    A null operand gives null in arithmetic and false in a comparison.
    """
    if op in ("==", "!="):
        return BOOL if may_equal(*operands) else None
    operands = tuple(strip_null(t) for t in operands)
    if NULL in operands:
        return BOOL if op not in NULL_GIVES_NULL else NULL
    rules = _rules(op, operands)
    if ANY not in operands:
        found = operator_rule(op, *operands)
        return None if found is None else found.result
    fits = [r for r in rules if all(t in (ANY, want) for t, want in zip(operands, r.operands))]
    if not fits:
        return None
    results = {r.result for r in rules}
    if len(results) > 1:
        return ANY
    result = results.pop()
    return nullable(result) if op in NULL_GIVES_NULL else result


def may_equal(a: Type, b: Type) -> bool:
    """Can a value of type `a` ever equal one of type `b`?"""
    a, b = strip_null(a), strip_null(b)
    if ANY in (a, b) or NULL in (a, b):
        return True
    if isinstance(a, ListT) and isinstance(b, ListT):
        return may_equal(a.item, b.item)
    if isinstance(a, RecordT) and isinstance(b, RecordT):
        return True
    return operator_rule("==", a, b) is not None


# the error-record type of every pipeline (SPEC section 7)
ERROR_RECORD = RecordT(
    (
        ("pipeline", STR),
        ("stage", STR),
        ("code", STR),
        ("message", STR),
        ("at", TIME),
        ("record", ANY),
        ("raw", Nullable(STR)),
    ),
    open=False,
    name="error record",
)


def to_descriptor(t: Type):
    """A plain, literal-only description of a type for the runtime (which does
    not import this module): "int", ("?", d), ("[]", d), ("{}", open, ((name, d), ...))."""
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, Nullable):
        return ("?", to_descriptor(t.inner))
    if isinstance(t, ListT):
        return ("[]", to_descriptor(t.item))
    return ("{}", t.open, tuple((k, to_descriptor(v)) for k, v in t.fields))
