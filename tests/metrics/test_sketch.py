"""The bounded-memory sketches keep the error bounds their docs state."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.sketch import (
    DISTINCT_BOUND,
    DISTINCT_SLACK,
    QUANTILE_ACCURACY,
    DistinctSketch,
    QuantileSketch,
    nearest_rank,
    stable_hash64,
)

PERCENTS = (1, 25, 50, 90, 95, 99, 100)


@given(n=st.integers(1, 10_000), percent=st.integers(1, 100))
def test_nearest_rank_is_the_smallest_rank_covering_the_share(n, percent):
    k = nearest_rank(n, percent)
    assert 0 <= k < n
    # k + 1 values cover at least `percent`% of n; k values do not.
    assert (k + 1) * 100 >= percent * n
    assert k == 0 or k * 100 < percent * n


def test_nearest_rank_on_a_known_case():
    values = list(range(1, 21))  # 1..20
    assert values[nearest_rank(20, 95)] == 19
    assert values[nearest_rank(20, 50)] == 10
    assert values[nearest_rank(20, 100)] == 20
    assert values[nearest_rank(1, 1)] == 1


def _within(estimate: float, exact: float, accuracy: float) -> bool:
    return abs(estimate - exact) <= accuracy * abs(exact) * (1 + 1e-9)


# magnitudes within 15 orders of magnitude: inside the default 2048 buckets
magnitude = st.floats(min_value=1e-6, max_value=1e9)
finite = st.one_of(
    magnitude,
    magnitude.map(lambda v: -v),
    st.integers(-1000, 1000).map(float),
    st.just(0.0),
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=400))
def test_quantiles_are_within_the_relative_bound(values):
    sketch = QuantileSketch()
    for v in values:
        sketch.add(v)
    ordered = sorted(values)
    assert sketch.count == len(values)
    assert not sketch.collapsed
    for percent in PERCENTS:
        exact = ordered[nearest_rank(len(values), percent)]
        assert _within(sketch.quantile(percent), exact, QUANTILE_ACCURACY), (
            percent,
            exact,
        )


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=200),
    accuracy=st.sampled_from([0.001, 0.02, 0.05]),
)
def test_the_bound_follows_the_chosen_accuracy(values, accuracy):
    sketch = QuantileSketch(relative_accuracy=accuracy, max_buckets=100_000)
    for v in values:
        sketch.add(v)
    ordered = sorted(values)
    for percent in PERCENTS:
        exact = ordered[nearest_rank(len(values), percent)]
        assert _within(sketch.quantile(percent), exact, accuracy)


def test_an_empty_sketch_has_no_quantile():
    assert QuantileSketch().quantile(50) is None


def test_memory_stays_bounded_and_large_values_keep_the_bound():
    rnd = random.Random(7)
    sketch = QuantileSketch(max_buckets=256)
    # 1 .. 1e6 needs about 700 buckets at 1% accuracy: the 256 kept ones cover
    # the values from about 1e6 / 167 upwards
    values = [float(rnd.randint(1, 1_000_000)) for _ in range(200_000)]
    for v in values:
        sketch.add(v)
    for v in values[:50_000]:
        sketch.add(-v)
    assert len(sketch._pos.counts) <= 256 and len(sketch._neg.counts) <= 256
    assert sketch.collapsed
    positive = QuantileSketch(max_buckets=256)
    for v in values:
        positive.add(v)
    ordered = sorted(values)
    for percent in (50, 90, 99, 100):
        exact = ordered[nearest_rank(len(values), percent)]
        assert _within(positive.quantile(percent), exact, QUANTILE_ACCURACY)


def test_distinct_sketch_counts_small_sets_exactly_enough():
    sketch = DistinctSketch()
    assert sketch.estimate() == 0
    for v in ["a", "b", "a", "c", "b"]:
        sketch.add(v)
    assert sketch.estimate() == 3


def test_equal_values_count_once_and_kinds_stay_apart():
    sketch = DistinctSketch()
    for v in [1, 1.0, True, "1", None, 2.5, [1, 2], {"a": 1}]:
        sketch.add(v)
    # 1 and 1.0 are equal; true, "1", null, 2.5, the list and the record are not
    assert sketch.estimate() == 7
    assert stable_hash64(1) == stable_hash64(1.0)
    assert stable_hash64(True) != stable_hash64(1)
    assert stable_hash64({"a": 1, "b": 2}) == stable_hash64({"b": 2, "a": 1})


def _distinct_error(n: int, seed: int) -> float:
    sketch = DistinctSketch()
    base = random.Random(seed).randrange(10**12)
    for i in range(n):
        sketch.add(f"user-{base + i}")
        if i % 3 == 0:
            sketch.add(f"user-{base + i // 2}")  # repeats never count
    return abs(sketch.estimate() - n) - (DISTINCT_BOUND * n + DISTINCT_SLACK)


@pytest.mark.parametrize("n", [1_500, 12_000, 40_000, 45_000, 120_000])
def test_distinct_estimate_is_within_the_stated_bound_at_every_scale(n):
    # 40k-45k is where the classic estimator's small-range correction hands over
    assert _distinct_error(n, seed=n) <= 0


@settings(max_examples=60, deadline=None)
@given(values=st.sets(st.one_of(st.integers(), st.text(max_size=12)), max_size=2_000))
def test_distinct_estimate_bound_on_generated_sets(values):
    sketch = DistinctSketch()
    for v in values:
        sketch.add(v)
        sketch.add(v)
    n = len(values)
    assert abs(sketch.estimate() - n) <= DISTINCT_BOUND * n + DISTINCT_SLACK


def test_the_hash_is_the_same_in_another_process():
    code = (
        "from flowlang.runtime.sketch import stable_hash64\n"
        "print(stable_hash64('abc'), stable_hash64(12.5))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert [int(x) for x in out] == [stable_hash64("abc"), stable_hash64(12.5)]


def test_distinct_sketch_memory_is_fixed():
    sketch = DistinctSketch(precision=12)
    for i in range(50_000):
        sketch.add(i)
    assert len(sketch._registers) == 4096
    assert math.isclose(sketch.estimate(), 50_000, rel_tol=0.06)
