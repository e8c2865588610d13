"""dedup: repeats within the window are dropped; memory stays bounded."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import StageContext
from tests.flowrun import run_flow


class Clock:
    """A settable processing-time clock (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stage(fields=(("user",),), within=1000, capacity=100, clock=None):
    from flowlang.stages.dedup import Dedup

    return Dedup(
        StageContext("p", "dedup (t.flow:2)", "t.flow:2"),
        fields=fields,
        within=within,
        capacity=capacity,
        clock=clock,
    )


def test_repeats_within_the_window_are_dropped():
    clock = Clock()
    d = stage(clock=clock)
    assert d({"user": "a"}) == {"user": "a"}
    clock.now += 0.5
    assert d({"user": "a"}) is None
    assert d({"user": "b"}) == {"user": "b"}
    clock.now += 0.4999
    assert d({"user": "a"}) is None
    clock.now += 0.0001  # exactly `within` after "a" passed
    assert d({"user": "a"}) == {"user": "a"}


def test_a_dropped_repeat_does_not_extend_the_window():
    clock = Clock()
    d = stage(clock=clock)
    d({"user": "a"})
    for _ in range(9):
        clock.now += 0.1
        assert d({"user": "a"}) is None
    clock.now += 0.1
    assert d({"user": "a"}) is not None


def test_several_fields_nested_paths_null_and_unhashable_values():
    d = stage(fields=(("user",), ("req", "path")), clock=Clock())
    assert d({"user": "a", "req": {"path": "/"}}) is not None
    assert d({"user": "a", "req": {"path": "/x"}}) is not None
    assert d({"user": "a", "req": {"path": "/"}}) is None
    assert d({"user": None}) is not None
    assert d({"user": None, "req": None}) is None  # missing and null are the same value
    assert d({"user": ["x", {"k": 1}]}) is not None
    assert d({"user": ["x", {"k": 1}]}) is None
    assert d({"user": {"b": 2, "a": 1}}) is not None
    assert d({"user": {"a": 1, "b": 2}}) is None


def test_capacity_bounds_memory_and_evicts_the_oldest():
    clock = Clock()
    d = stage(capacity=3, clock=clock)
    for user in "abcd":
        assert d({"user": user}) is not None
    assert len(d.seen) == 3
    assert d.ctx.counters == {"evicted": 1}
    assert d({"user": "d"}) is None
    assert d({"user": "a"}) is not None  # forgotten, so it passes again
    assert d.ctx.counters == {"evicted": 2}


def test_expired_keys_are_forgotten():
    clock = Clock()
    d = stage(clock=clock)
    for i in range(50):
        d({"user": i})
    clock.now += 2
    d({"user": "new"})
    assert list(d.seen) == ["new"]


def test_real_clock_window():
    d = stage(within=50)
    assert d({"user": "a"}) is not None
    assert d({"user": "a"}) is None
    time.sleep(0.08)
    assert d({"user": "a"}) is not None


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 300)), max_size=60),
    within=st.integers(1, 500),
    capacity=st.integers(1, 8),
)
def test_matches_a_reference_model(events, within, capacity):
    """Against an unbounded model: a record passes iff its key did not pass in
    the last `within` ms, unless the key was evicted; memory never exceeds capacity."""
    clock = Clock()
    d = stage(within=within, capacity=capacity, clock=clock)
    passed_at: dict[int, float] = {}
    for key, gap_ms in events:
        clock.now += gap_ms / 1000
        out = d({"user": key})
        recent = key in passed_at and clock.now - passed_at[key] < within / 1000
        if recent:
            # dropped, unless capacity made it forget the key
            assert out is None or d.ctx.counters.get("evicted", 0) > 0
        else:
            assert out is not None
        if out is not None:
            passed_at[key] = clock.now
        assert len(d.seen) <= capacity
    if capacity >= 6:  # all keys fit: the model is exact
        assert d.ctx.counters.get("evicted", 0) == 0


def test_dedup_in_a_compiled_pipeline(tmp_path):
    program = (
        'source file("input.jsonl", format=json)\n'
        "  | dedup([user, action], within=1m)\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"user": "a", "action": "x", "n": i} for i in range(5)]
    records += [
        {"user": "b", "action": "x", "n": 5},
        {"user": "a", "action": "y", "n": 6},
    ]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    assert [r["n"] for r in result.output] == [0, 5, 6]
    stats = result.metrics["test"]
    assert (stats["in"], stats["out"], stats["dropped"], stats["errors"]) == (
        7,
        3,
        4,
        0,
    )


def test_bad_arguments_are_compile_time_errors(tmp_path):
    import pytest

    from tests.flowrun import CompileFailed

    for stage_code, message in [
        ("dedup(user, within=0s)", "positive duration"),
        ("dedup(user, capacity=0)", "at least 1"),
        ("dedup([])", "at least one field"),
    ]:
        with pytest.raises(CompileFailed, match=message):
            run_flow(f"source stdin | {stage_code} | sink stdout", tmp_path)
