"""sample: one record in `rate` kept, by a counter or by the hash of a key."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import StageContext
from flowlang.stages.sample import Sample, key_hash
from tests.flowrun import CompileFailed, run_flow

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)


def stage(rate: int, key=None) -> Sample:
    return Sample(StageContext("p", "sample (t.flow:2)", "t.flow:2"), rate=rate, key=key)


def kept(s: Sample, records: list[dict]) -> list[dict]:
    return [r for r in (s(dict(rec)) for rec in records) if r is not None]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 300), rate=st.integers(1, 40))
def test_without_a_key_the_first_and_then_every_rate_th_record_is_kept(n, rate):
    out = kept(stage(rate), [{"n": i} for i in range(n)])
    assert len(out) == math.ceil(n / rate)
    assert [r["n"] for r in out] == list(range(0, n, rate))


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(values, min_size=1, max_size=40),
    rate=st.integers(1, 8),
    order=st.randoms(use_true_random=False),
)
def test_with_a_key_a_value_is_always_kept_or_always_dropped(keys, rate, order):
    records = [{"k": k, "i": i} for i, k in enumerate(keys)]
    order.shuffle(records)
    s = stage(rate, key=("k",))
    decisions: dict = {}
    for rec in records:
        if rec["k"] is None:
            continue  # sampled by the counter, as in Vector
        decision = s(dict(rec)) is not None
        seen = decisions.setdefault(repr(rec["k"]), decision)
        assert seen == decision
        assert decision == (key_hash(rec["k"]) % rate == 0)  # the same in a fresh stage
        assert (stage(rate, key=("k",))(dict(rec)) is not None) == decision


def test_the_kept_share_of_many_distinct_keys_is_near_one_in_rate():
    n = 100_000
    for rate in (2, 10, 100):
        s = stage(rate, key=("id",))
        share = len(kept(s, [{"id": f"req-{i}"} for i in range(n)])) / n
        # a binomial share: within 5 standard deviations of 1/rate
        sigma = math.sqrt((1 / rate) * (1 - 1 / rate) / n)
        assert abs(share - 1 / rate) < 5 * sigma, (rate, share)


def test_the_hash_is_the_same_in_another_process():
    """Python's str hash is salted per process; the key's hash must not be."""
    words = ["ana", "bo", "café", "", "req-42"]
    here = [key_hash(w) for w in words]
    code = f"from flowlang.stages.sample import key_hash;print([key_hash(w) for w in {words!r}])"
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == repr(here)


def test_record_keys_and_value_kinds_hash_as_documented():
    assert key_hash({"a": 1, "b": 2}) == key_hash({"b": 2, "a": 1})
    assert key_hash("5") == key_hash(5)  # as Vector: the value's text is hashed
    assert key_hash("a") != key_hash('"a"')
    assert key_hash([1, 2]) != key_hash([2, 1])


def test_a_missing_or_null_key_is_sampled_by_the_counter():
    s = stage(3, key=("k",))
    out = kept(s, [{"n": i} for i in range(7)] + [{"k": None, "n": 7}])
    assert [r["n"] for r in out] == [0, 3, 6]


def test_sample_in_a_compiled_pipeline_counts_what_it_drops(tmp_path):
    program = (
        'source file("input.jsonl", format=json)\n'
        "  | sample(rate=4, key=user.id)\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"user": {"id": f"u{i % 25}"}, "n": i} for i in range(200)]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    ids = {r["user"]["id"] for r in result.output}
    assert ids == {f"u{i}" for i in range(25) if key_hash(f"u{i}") % 4 == 0}
    assert len(result.output) == 8 * len(ids)
    stats = result.metrics["test"]
    assert (stats["in"], stats["out"], stats["errors"]) == (200, len(result.output), 0)
    assert stats["dropped"] == 200 - len(result.output)


@pytest.mark.parametrize("rate", ["0", "-3"])
def test_a_rate_below_one_is_a_compile_time_error(tmp_path, rate):
    with pytest.raises(CompileFailed, match="at least 1"):
        run_flow(f"source stdin | sample(rate={rate}) | sink stdout", tmp_path)
