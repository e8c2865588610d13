"""`summarize` equals a brute-force group-by over the same records.

The reference below is written from the documented semantics alone: every
record is placed in its window, late ones (a window that an earlier record
already closed: its end plus `allowed_lateness` is at or before the latest
time seen) and bad ones are set aside, and each group is aggregated from the
plain list of its records. Exact aggregates must agree exactly; with a small
`exact_limit`, percentiles and distinct counts must be within the sketches'
stated bounds. How the records are split up (ticks between batches) must not
matter.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import RecordError, StageContext
from flowlang.runtime.sketch import DISTINCT_BOUND, DISTINCT_SLACK, QUANTILE_ACCURACY
from flowlang.stages.summarize import Summarize

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
BASE = dt.datetime(2024, 3, 10, 23, 58, tzinfo=UTC)
PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}
SKETCHED = {"p50", "p90", "p95", "p99", "distinct_count"}

AGGREGATES = (
    ("n", "count", None),
    ("total", "sum", ("v",)),
    ("mean", "avg", ("v",)),
    ("lo", "min", ("v",)),
    ("hi", "max", ("v",)),
    ("p50", "p50", ("v",)),
    ("p90", "p90", ("v",)),
    ("p95", "p95", ("v",)),
    ("p99", "p99", ("v",)),
    ("users", "distinct_count", ("user",)),
    ("nested_max", "max", ("m", "x")),
)
KEYS = (("host", ("host",)), ("country", ("geo", "country")))


# ---------------------------------------------------------------- the reference


def micros(t: dt.datetime) -> int:
    delta = t - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def identity(v):
    """What makes two key or distinct values the same: true is not 1, 1 is 1.0."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, (int, float)):
        return ("number", v)
    return ("other", v)


def order(v):
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v)
    return (3, v)


def nested(rec, path):
    for name in path:
        if not isinstance(rec, dict):
            return None
        rec = rec.get(name)
    return rec


def aggregate(function, records, path):
    if function == "count":
        return len(records) if path is None else sum(nested(r, path) is not None for r in records)
    values = [nested(r, path) for r in records]
    values = [v for v in values if v is not None]
    if function == "distinct_count":
        return len({identity(v) for v in values})
    if function == "sum":
        total = 0
        for v in values:
            total += v
        return total
    if not values:
        return None
    if function == "avg":
        total = 0
        for v in values:
            total += v
        return total / len(values)
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    ordered = sorted(float(v) for v in values)
    rank = math.ceil(Fraction(PERCENTILES[function] * len(ordered), 100))
    return ordered[max(rank, 1) - 1]


def is_number(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and math.isfinite(v)
    )


def reference(records, every_ms, lateness_ms, aggregates=AGGREGATES, keys=KEYS):
    """(output records, [(index, error code)])."""
    every, lateness = every_ms * 1000, lateness_ms * 1000
    latest = None
    groups: dict[tuple, list] = {}
    first_keys: dict[tuple, tuple] = {}
    errors = []
    numeric_paths = {
        path for _, f, path in aggregates if path and f not in ("count", "distinct_count")
    }
    for i, rec in enumerate(records):
        t = rec.get("ts")
        if not isinstance(t, dt.datetime):
            errors.append((i, "window"))
            continue
        window = micros(t) // every
        if latest is not None and (window + 1) * every + lateness <= latest:
            errors.append((i, "late"))
            continue
        if any(nested(rec, p) is not None and not is_number(nested(rec, p)) for p in numeric_paths):
            errors.append((i, "type"))
            continue
        latest = micros(t) if latest is None else max(latest, micros(t))
        key_values = tuple(nested(rec, path) for _, path in keys)
        group = (window, tuple(identity(v) for v in key_values))
        groups.setdefault(group, []).append(rec)
        first_keys.setdefault(group, key_values)
    out = []
    for group in sorted(groups, key=lambda g: (g[0], tuple(order(v) for v in first_keys[g]))):
        start = EPOCH + dt.timedelta(microseconds=group[0] * every)
        row = {
            "window_start": start,
            "window_end": start + dt.timedelta(microseconds=every),
        }
        row.update(zip((name for name, _ in keys), first_keys[group]))
        for name, function, path in aggregates:
            row[name] = aggregate(function, groups[group], path)
        out.append(row)
    return out, errors


# ---------------------------------------------------------------- running the stage


def run_stage(
    records, every_ms, lateness_ms, cuts=(), exact_limit=None, aggregates=AGGREGATES, keys=KEYS
):
    """Feed `records`, calling tick() at each cut (a batch boundary)."""
    extra = {} if exact_limit is None else {"exact_limit": exact_limit}
    proc = Summarize(
        StageContext("p", "summarize (t.flow:2)", "t.flow:2"),
        aggregates=aggregates,
        keys=keys,
        every=every_ms,
        on=("ts",),
        allowed_lateness=lateness_ms,
        **extra,
    )
    out, errors = [], []
    for i, rec in enumerate(records):
        if i in cuts:
            out.extend(proc.tick(dt.datetime.now(UTC)))
        try:
            out.extend(proc.add(rec))
        except RecordError as exc:
            errors.append((i, exc.code))
    return out + proc.flush(), errors


# ---------------------------------------------------------------- generated input


every_ms = st.sampled_from([1, 250, 1000, 60_000, 300_000])
key_value = st.sampled_from([None, "a", "b", "", "ü", 0, 1, 2.0, True, False])
number = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.floats(0.001, 1e4),
)


@st.composite
def inputs(draw, bad=True, max_size=60):
    every = draw(every_ms)
    lateness = draw(st.sampled_from([0, every // 2, every, 3 * every]))
    span = every * 6 * 1000  # records spread over about six windows
    n = draw(st.integers(0, max_size))
    records = []
    cursor = 0
    for _ in range(n):
        # mostly forward, sometimes back by up to two windows
        cursor += draw(st.integers(-2 * every * 1000, span // max(n, 1)))
        t = BASE + dt.timedelta(microseconds=cursor)
        rec = {
            "ts": t,
            "host": draw(key_value),
            "v": draw(number),
            "user": draw(key_value),
        }
        shape = draw(st.integers(0, 9))
        if shape == 0:
            rec["geo"] = None
        elif shape < 6:
            rec["geo"] = {"country": draw(st.sampled_from(["CZ", "DE", None]))}
        if draw(st.booleans()):
            rec["m"] = {"x": draw(number)}
        if bad:
            trouble = draw(st.integers(0, 30))
            if trouble == 0:
                rec["ts"] = draw(st.sampled_from([None, "2024-03-10T00:00:00Z", 17]))
            elif trouble == 1:
                rec["v"] = draw(st.sampled_from(["12", float("nan"), float("inf"), [1], True]))
        records.append(rec)
    return records, every, lateness


# ---------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(data=inputs())
def test_summarize_equals_a_brute_force_group_by(data):
    records, every, lateness = data
    expected_out, expected_errors = reference(records, every, lateness)
    out, errors = run_stage(records, every, lateness)
    assert errors == expected_errors
    assert out == expected_out
    # types, not only values: 1 == 1.0 and True == 1 in Python
    for got, want in zip(out, expected_out):
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
        assert list(got) == list(want)


@settings(max_examples=100, deadline=None)
@given(data=inputs(), cuts=st.sets(st.integers(0, 60)))
def test_the_result_does_not_depend_on_how_the_input_is_split(data, cuts):
    records, every, lateness = data
    whole = run_stage(records, every, lateness)
    split = run_stage(records, every, lateness, cuts=cuts)
    assert split == whole


def within_sketch_range(v):
    """The quantile sketch's bound holds for magnitudes within 17 orders of
    magnitude of each other (see flowlang.runtime.sketch)."""
    return not isinstance(v, (int, float)) or v == 0 or 1e-6 <= abs(v) <= 1e9


@settings(max_examples=100, deadline=None)
@given(data=inputs(bad=False, max_size=120), limit=st.integers(1, 6))
def test_sketched_aggregates_stay_within_the_stated_bounds(data, limit):
    records, every, lateness = data
    records = [r for r in records if within_sketch_range(r["v"])]
    expected, expected_errors = reference(records, every, lateness)
    out, errors = run_stage(records, every, lateness, exact_limit=limit)
    assert errors == expected_errors
    assert len(out) == len(expected)
    for got, want in zip(out, expected):
        for name in want:
            if name not in SKETCHED:
                assert got[name] == want[name], name
            elif name == "users":
                continue
        for name in ("p50", "p90", "p95", "p99"):
            if want[name] is None:
                assert got[name] is None
            else:
                bound = QUANTILE_ACCURACY * abs(want[name]) * (1 + 1e-9)
                assert abs(got[name] - want[name]) <= bound, name
        n = want["users"]
        assert abs(got["users"] - n) <= DISTINCT_BOUND * n + DISTINCT_SLACK


@settings(max_examples=60, deadline=None)
@given(data=inputs(bad=False), keyless=st.booleans())
def test_without_keys_there_is_one_record_per_window(data, keyless):
    records, every, lateness = data
    keys = () if keyless else (("host", ("host",)),)
    aggregates = (("n", "count", None),)
    out, errors = run_stage(records, every, lateness, aggregates=aggregates, keys=keys)
    assert (out, errors) == reference(records, every, lateness, aggregates=aggregates, keys=keys)
    accepted = len(records) - len(errors)
    assert sum(r["n"] for r in out) == accepted  # nothing lost, nothing counted twice
    starts = [r["window_start"] for r in out]
    assert starts == sorted(starts)
    if keyless:
        assert len(set(starts)) == len(starts)


class Clock:
    def __init__(self):
        self.now = BASE

    def __call__(self):
        return self.now


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 90_000_000), key_value), max_size=60),
    cuts=st.sets(st.integers(0, 60)),
    every=st.sampled_from([1000, 60_000]),
)
def test_processing_time_groups_by_the_clock_whatever_the_ticks(steps, cuts, every):
    clock = Clock()
    proc = Summarize(
        StageContext("p", "s", "t.flow:1"),
        aggregates=(("n", "count", None),),
        keys=(("k", ("k",)),),
        every=every,
        on=None,
        clock=clock,
    )
    out, stamped = [], []
    for i, (advance, k) in enumerate(steps):
        clock.now += dt.timedelta(microseconds=advance)
        if i in cuts:
            out.extend(proc.tick(clock.now))
        out.extend(proc.add({"k": k}))
        stamped.append({"ts": clock.now, "k": k})
    out.extend(proc.flush())
    # the same as event time on the clock's readings, with nothing late
    expected, errors = reference(
        stamped, every, 0, aggregates=(("n", "count", None),), keys=(("k", ("k",)),)
    )
    assert errors == [] and out == expected
