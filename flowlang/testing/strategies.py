"""Hypothesis strategies for flowlang types: the run-time values a source of
that type produces (time an aware UTC datetime, ip its canonical text,
duration a timedelta of whole milliseconds).

Edge values come often: empty strings and lists, zero, -0.0, the 64-bit
integer bounds, huge and tiny floats, IPv6 and IPv4 addresses, absent
nullable fields, and extra fields of any type in open records. A property's
`given P where …` narrows the strategy where it can read the condition
(`f in [...]`, `f == v`, `f >= v` and the other comparisons with a constant,
`f != null`, joined by `and`) and filters by the whole condition in any case.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Callable

from hypothesis import strategies as st

from .. import ir
from ..types import (
    ANY,
    BOOL,
    DURATION,
    FLOAT,
    INT,
    IP,
    STR,
    TIME,
    ListT,
    Nullable,
    RecordT,
    Type,
)

UTC = _dt.timezone.utc
INT64 = (-(2**63), 2**63 - 1)
_MS = _dt.timedelta(milliseconds=1)
_TIMES = (_dt.datetime(1970, 1, 1), _dt.datetime(2099, 12, 31, 23, 59, 59))
_DURATIONS_MS = (-86_400_000, 30 * 86_400_000)

Path = tuple[str, ...]


# field names a test can write back (in backticks when they are not identifiers)
_KEYS = st.text("abcdefghijklmnopqrstuvwxyz_-0123456789 .", min_size=1, max_size=6)


def _json_values() -> st.SearchStrategy:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(10**6), 10**6)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
        max_leaves=6,
    )


def _ints(lo: int, hi: int, pool: "Pool | None" = None) -> st.SearchStrategy:
    # Hypothesis's integers already favour small values and the bounds; the
    # program's own constants (and their neighbours) find off-by-one mistakes
    if lo > hi:
        return st.nothing()
    near = sorted(
        {v for c in (pool.ints if pool else ()) for v in (c - 1, c, c + 1) if lo <= v <= hi}
    )
    base = st.integers(lo, hi)
    return st.sampled_from(near) | base if near else base


class Pool:
    """The constants a program mentions, by kind, to try as field values."""

    def __init__(self, ints=(), floats=(), strs=()) -> None:
        self.ints = sorted(set(ints))
        self.floats = sorted(set(floats))
        self.strs = sorted(set(strs))


def program_constants(plan: ir.Plan) -> Pool:
    """The int, float and str literals in the plan's pipelines and tests."""
    ints, floats, strs = set(), set(), set()

    def walk(node: Any) -> None:
        if isinstance(node, ir.Literal):
            v = node.value
            if isinstance(v, bool) or v is None:
                return
            if isinstance(v, int) and INT64[0] <= v <= INT64[1]:
                ints.add(v)
                floats.add(float(v))
            elif isinstance(v, float) and math.isfinite(v):
                floats.add(v)
                if v.is_integer():
                    ints.add(int(v))
            elif isinstance(v, str) and len(v) <= 64:
                strs.add(v)
            return
        if isinstance(node, (tuple, list)):
            for item in node:
                walk(item)
        elif hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                walk(getattr(node, name))

    walk(plan.pipelines)
    walk(plan.tests)
    return Pool(ints, floats, strs)


def _floats(
    lo: float | None, hi: float | None, exclude_lo: bool, exclude_hi: bool, pool: Pool | None = None
):
    def inside(v: float) -> bool:
        return (lo is None or v > lo or (v == lo and not exclude_lo)) and (
            hi is None or v < hi or (v == hi and not exclude_hi)
        )

    near = sorted(
        {
            v
            for c in (pool.floats if pool else ())
            for v in (math.nextafter(c, -math.inf), c, math.nextafter(c, math.inf))
            if inside(v)
        }
    )
    base = st.floats(
        min_value=lo,
        max_value=hi,
        exclude_min=exclude_lo and lo is not None,
        exclude_max=exclude_hi and hi is not None,
        allow_nan=False,
        allow_infinity=False,
    )
    return st.sampled_from(near) | base if near else base


class Bounds:
    """What a condition says about one field."""

    def __init__(self) -> None:
        self.values: list[Any] | None = None
        self.lo: Any = None
        self.hi: Any = None
        self.exclude_lo = False
        self.exclude_hi = False
        self.not_null = False


def constraints(cond: ir.TExpr | None) -> dict[Path, Bounds]:
    """The per-field bounds a `given … where` condition states."""
    found: dict[Path, Bounds] = {}
    if cond is not None:
        _gather(cond, found)
    return found


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _constant(e: ir.TExpr) -> tuple[bool, Any]:
    if isinstance(e, ir.Literal):
        return True, e.value
    if isinstance(e, ir.Duration):
        return True, _dt.timedelta(milliseconds=e.millis)
    if isinstance(e, ir.ListExpr) and all(isinstance(i, ir.Literal) for i in e.items):
        return True, [i.value for i in e.items]
    return False, None


def _gather(e: ir.TExpr, found: dict[Path, Bounds]) -> None:
    if not isinstance(e, ir.Binary):
        return
    if e.op == "and":
        _gather(e.left, found)
        _gather(e.right, found)
        return
    op, left, right = e.op, e.left, e.right
    if not isinstance(left, ir.FieldRef) and isinstance(right, ir.FieldRef):
        if op not in _FLIP:
            return
        op, left, right = _FLIP[op], right, left
    if not isinstance(left, ir.FieldRef):
        return
    ok, value = _constant(right)
    if not ok:
        return
    b = found.setdefault(left.path, Bounds())
    if op == "in" and isinstance(value, list):
        b.values = list(value)
    elif op == "==":
        b.values = [value]
    elif op == "!=" and value is None:
        b.not_null = True
    elif op in (">", ">=") and value is not None and not isinstance(value, (bool, list)):
        b.lo, b.exclude_lo = value, op == ">"
        b.not_null = True
    elif op in ("<", "<=") and value is not None and not isinstance(value, (bool, list)):
        b.hi, b.exclude_hi = value, op == "<"
        b.not_null = True


def _bounded(t: Type, b: Bounds, pool: Pool | None) -> st.SearchStrategy | None:
    if b.values is not None:
        return st.sampled_from(b.values) if b.values else st.nothing()
    if b.lo is None and b.hi is None:
        return None
    if t == INT and all(isinstance(v, (int, float)) or v is None for v in (b.lo, b.hi)):
        lo, hi = INT64
        if b.lo is not None:
            lo = math.floor(b.lo) + 1 if b.exclude_lo else math.ceil(b.lo)
        if b.hi is not None:
            hi = math.ceil(b.hi) - 1 if b.exclude_hi else math.floor(b.hi)
        return _ints(max(lo, INT64[0]), min(hi, INT64[1]), pool)
    if t == FLOAT and all(isinstance(v, (int, float)) or v is None for v in (b.lo, b.hi)):
        return _floats(b.lo, b.hi, b.exclude_lo, b.exclude_hi, pool)
    if t == DURATION and all(isinstance(v, _dt.timedelta) or v is None for v in (b.lo, b.hi)):
        lo = _DURATIONS_MS[0] if b.lo is None else b.lo // _MS + (1 if b.exclude_lo else 0)
        hi = _DURATIONS_MS[1] if b.hi is None else b.hi // _MS - (1 if b.exclude_hi else 0)
        return st.integers(lo, hi).map(lambda ms: _dt.timedelta(milliseconds=ms))
    return None  # the filter alone keeps the condition


def values(
    t: Type, bounds: dict[Path, Bounds] | None = None, path: Path = (), pool: Pool | None = None
) -> st.SearchStrategy:
    """Values of type `t`; `bounds` narrows the fields they name; `pool`
    holds constants to try often."""
    bounds = bounds or {}
    b = bounds.get(path)
    if isinstance(t, Nullable):
        inner = values(t.inner, bounds, path, pool)
        if b is not None and (b.not_null or (b.values is not None and None not in b.values)):
            return inner
        return st.none() | inner
    if b is not None:
        narrowed = _bounded(t, b, pool)
        if narrowed is not None:
            return narrowed
    if isinstance(t, RecordT):
        return _records(t, bounds, path, pool)
    if isinstance(t, ListT):
        return st.lists(values(t.item, bounds, path + ("[]",), pool), max_size=4)
    if pool is not None and t == INT:
        return _ints(*INT64, pool)
    if pool is not None and t == FLOAT:
        return _floats(None, None, False, False, pool)
    if pool is not None and t == STR and pool.strs:
        return st.sampled_from(pool.strs) | _PRIMITIVES["str"]()
    return _PRIMITIVES[t.name]()


def _records(t: RecordT, bounds: dict[Path, Bounds], path: Path, pool) -> st.SearchStrategy:
    required: dict[str, st.SearchStrategy] = {}
    optional: dict[str, st.SearchStrategy] = {}
    for name, ftype in t.fields:
        strategy = values(ftype, bounds, path + (name,), pool)
        b = bounds.get(path + (name,))
        absent_ok = (isinstance(ftype, Nullable) or ftype == ANY) and not (b and b.not_null)
        (optional if absent_ok else required)[name] = strategy
    # fields a condition names on an open record are generated too
    for bpath, b in bounds.items():
        if len(bpath) == len(path) + 1 and bpath[:-1] == path and t.get(bpath[-1]) is None:
            narrowed = _bounded(ANY, b, pool)
            required[bpath[-1]] = _json_values() if narrowed is None else narrowed
    base = st.fixed_dictionaries(required, optional=optional)
    if not t.open:
        return base
    names = set(t.names) | set(required)
    extra = st.dictionaries(_KEYS.filter(lambda k: k not in names), _json_values(), max_size=2)
    return st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})


_PRIMITIVES: dict[str, Callable[[], st.SearchStrategy]] = {
    "str": lambda: st.text(max_size=16),
    "int": lambda: _ints(*INT64),
    "float": lambda: _floats(None, None, False, False),
    "bool": st.booleans,
    "time": lambda: st.datetimes(min_value=_TIMES[0], max_value=_TIMES[1], timezones=st.just(UTC)),
    "ip": lambda: (st.ip_addresses(v=4) | st.ip_addresses(v=6)).map(str),
    "duration": lambda: st.integers(*_DURATIONS_MS).map(lambda ms: _dt.timedelta(milliseconds=ms)),
    "any": _json_values,
    "null": st.none,
}

assert set(_PRIMITIVES) >= {p.name for p in (STR, INT, FLOAT, BOOL, TIME, IP, DURATION, ANY)}


def records(
    t: Type,
    where: ir.TExpr | None = None,
    predicate: Callable[[dict], Any] | None = None,
    pool: Pool | None = None,
) -> st.SearchStrategy:
    """Records of type `t`; with `where` (typed condition) and its compiled
    `predicate`, only records that satisfy it; `pool`: constants to try."""
    strategy = values(t, constraints(where), (), pool)
    if predicate is not None:
        strategy = strategy.filter(lambda rec: bool(predicate(rec)))
    return strategy
