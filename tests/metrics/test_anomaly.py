"""`anomaly(...)`: spikes are flagged, steady series are not, and the scores
match a straightforward reference computation."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import RecordError, StageContext
from flowlang.stages.anomaly import SPEC, Anomaly


def make(**args) -> Anomaly:
    args.setdefault("field", ("v",))
    return Anomaly(StageContext("p", "anomaly (t.flow:2)", "t.flow:2"), **args)


def scores(proc, values, key=None):
    out = []
    for v in values:
        rec = proc({"v": v, "k": key})
        out.append((rec["anomaly"], rec["anomaly_score"]))
    return out


# ---------------------------------------------------------------- references


def zscore_reference(values, keys, window, warmup, threshold):
    """Per key: the population z-score of each value against the last
    `window` values before it, computed with `statistics` (exact sums)."""
    seen = defaultdict(list)
    out = []
    for x, k in zip(values, keys):
        if x is None:
            out.append((False, None))
            continue
        before = seen[k][-window:]
        if len(before) < warmup:
            out.append((False, None))
        elif len(set(before)) == 1:
            out.append((x != before[0], None))
        else:
            z = (x - statistics.fmean(before)) / statistics.pstdev(before)
            out.append((abs(z) > threshold, z))
        seen[k].append(float(x))
    return out


def ewma_reference(values, keys, alpha, warmup, threshold):
    """Per key: the exponentially weighted mean and variance written as
    weighted sums over all earlier values (weights (1-a)^(n-1) for the first,
    a(1-a)^(n-k) for the k-th), in exact rational arithmetic."""
    a = Fraction(alpha)
    seen = defaultdict(list)
    out = []
    for x, k in zip(values, keys):
        if x is None:
            out.append((False, None))
            continue
        before = seen[k]
        n = len(before)
        if n < warmup:
            out.append((False, None))
        elif len(set(before)) == 1:
            out.append((x != before[0], None))
        else:
            weights = [(1 - a) ** (n - 1)] + [a * (1 - a) ** (n - i) for i in range(2, n + 1)]
            mean = sum(w * v for w, v in zip(weights, before))
            var = sum(w * (v - mean) ** 2 for w, v in zip(weights, before))
            z = (Fraction(x) - mean) / Fraction(math.sqrt(var))
            out.append((abs(z) > threshold, float(z)))
        before.append(Fraction(x))
    return out


def assert_matches(got, want, threshold):
    assert len(got) == len(want)
    for i, ((flag, score), (ref_flag, ref_score)) in enumerate(zip(got, want)):
        if ref_score is None:
            assert score is None and flag == ref_flag, i
            continue
        assert score is not None and math.isclose(score, ref_score, rel_tol=1e-6, abs_tol=1e-6), (
            i,
            score,
            ref_score,
        )
        if abs(abs(ref_score) - threshold) > 1e-6:  # not on the edge of the threshold
            assert flag == ref_flag, i


# ---------------------------------------------------------------- properties


def representable(v: float) -> bool:
    """Spreads whose squares do not underflow (see Anomaly._score)."""
    return v == 0 or abs(v) >= 1e-100


floats = st.floats(-1e3, 1e3).filter(representable)
value = st.one_of(
    st.none(),
    st.integers(-3, 3),  # few distinct values: constant stretches, zero variance
    floats,
    # large offset, small spread: a float z-score is then only as exact as
    # ulp(1e9) / spread (1.2e-7 for a spread of 1), so spreads are whole
    # numbers; closer values would test float resolution, not the stage
    st.integers(0, 10).map(lambda i: 1e9 + i),
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(value, max_size=120),
    keys=st.lists(st.sampled_from(["a", "b", None])),
    window=st.integers(2, 20),
    warmup=st.integers(2, 20),
    threshold=st.sampled_from([1.0, 2.5, 3.0]),
)
def test_zscore_matches_the_reference(values, keys, window, warmup, threshold):
    warmup = min(warmup, window)
    keys = (keys or [None]) * (len(values) // max(len(keys), 1) + 1)
    proc = make(window=window, warmup=warmup, threshold=threshold, by=(("k",),))
    got = [proc({"v": v, "k": k}) for v, k in zip(values, keys)]
    want = zscore_reference(values, keys, window, warmup, threshold)
    assert_matches([(r["anomaly"], r["anomaly_score"]) for r in got], want, threshold)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-3, 3), floats), max_size=60),
    keys=st.lists(st.sampled_from(["a", "b"]), min_size=1),
    alpha=st.sampled_from([0.05, 0.1, 0.3, 0.9]),
    warmup=st.integers(2, 8),
    threshold=st.sampled_from([1.0, 3.0]),
)
def test_ewma_matches_the_reference(values, keys, alpha, warmup, threshold):
    keys = keys * (len(values) // len(keys) + 1)
    proc = make(
        method="ewma",
        method_args={"alpha": alpha},
        warmup=warmup,
        threshold=threshold,
        by=(("k",),),
    )
    got = [proc({"v": v, "k": k}) for v, k in zip(values, keys)]
    want = ewma_reference(values, keys, alpha, warmup, threshold)
    assert_matches([(r["anomaly"], r["anomaly_score"]) for r in got], want, threshold)


@st.composite
def steady_series(draw, length=400):
    """A repeating pattern (up to 4 values, at least two different) around a level."""
    pattern = draw(
        st.lists(st.floats(-1, 1).filter(representable), min_size=2, max_size=4).filter(
            lambda p: len(set(p)) > 1
        )
    )
    level = draw(st.floats(-1e4, 1e4))
    scale = draw(st.floats(0.01, 100))
    return (
        [level + scale * pattern[i % len(pattern)] for i in range(length)],
        level,
        scale,
    )


detectors = st.one_of(
    st.builds(lambda w: {"method": "zscore", "window": w, "warmup": 10}, st.integers(10, 200)),
    st.builds(
        lambda a: {"method": "ewma", "method_args": {"alpha": a}, "warmup": math.ceil(3 / a)},
        st.sampled_from([0.02, 0.05, 0.1, 0.2]),
    ),
)


@settings(max_examples=100, deadline=None)
@given(series=steady_series(), detector=detectors)
def test_a_steady_series_flags_nothing(series, detector):
    values, _, _ = series
    proc = make(**detector)
    assert not any(flag for flag, _ in scores(proc, values))


def spike_gap(detector: dict) -> int:
    """How far apart spikes must be for each to have left the statistics
    before the next comes: a z-score window forgets at once; an EWMA keeps
    (1 - alpha)^n of a spike, so a 1000x spike needs about 12/alpha values
    to weigh less than a 30x one's threshold."""
    if detector["method"] == "zscore":
        return detector["window"] + 200
    return math.ceil(12 / detector["method_args"]["alpha"])


@settings(max_examples=100, deadline=None)
@given(series=steady_series(length=2000), detector=detectors, data=st.data())
def test_injected_spikes_are_flagged_and_nothing_else(series, detector, data):
    values, level, scale = series
    # one to three spikes after the warm-up, far enough apart (spike_gap)
    count = data.draw(st.integers(1, 3))
    gap = spike_gap(detector)
    assert detector["warmup"] + 100 + (gap + 150) * 2 + 150 < len(values)
    positions = [
        detector["warmup"] + 100 + (gap + 150) * j + data.draw(st.integers(0, 150))
        for j in range(count)
    ]
    for p in positions:
        sign = data.draw(st.sampled_from([-1, 1]))
        values[p] = level + sign * scale * data.draw(st.floats(30, 1000))
    proc = make(**detector)
    flagged = [i for i, (flag, _) in enumerate(scores(proc, values)) if flag]
    assert flagged == positions


# ---------------------------------------------------------------- behaviour


def test_the_documented_example():
    example = SPEC.examples[0]
    proc = make(field=("latency_ms",), window=4, warmup=4)
    assert [proc(dict(r)) for r in example.input] == list(example.output)


def test_the_warm_up_never_flags():
    out = scores(make(warmup=5, window=10), [1, 2, 1, 2, 1000])
    assert out == [(False, None)] * 5
    out = scores(make(warmup=5, window=10), [1, 2, 1, 2, 1, 1000])
    assert out[5][0] is True and out[5][1] > 3


def test_zero_variance_flags_only_a_different_value_and_has_no_score():
    proc = make(warmup=3)
    out = scores(proc, [5, 5, 5, 5, 6, 5])
    assert out[3] == (False, None)  # same as everything before it
    assert out[4] == (True, None)  # differs from a constant history: infinitely far
    # 6 has joined the history: the variance is no longer zero
    assert out[5][0] is False and out[5][1] is not None and out[5][1] < 0


def test_zero_variance_with_ewma():
    proc = make(method="ewma", method_args={"alpha": 0.5}, warmup=2)
    assert scores(proc, [0.1, 0.1, 0.1, 0.2]) == [(False, None)] * 3 + [(True, None)]


def test_scores_are_signed():
    proc = make(warmup=4)
    out = scores(proc, [10, 12, 10, 12, 16, 10, 12, 10, 12, -40])
    assert out[4] == (True, 5.0)
    assert out[9][0] is True and out[9][1] < -3


def test_null_values_are_not_anomalies_and_do_not_count():
    proc = make(warmup=3)
    out = scores(proc, [1, None, 2, None, 1, 9, None])
    assert out[1] == out[3] == out[6] == (False, None)
    assert out[4] == (False, None)  # only two earlier values: still warming up
    assert out[5][1] is not None


@pytest.mark.parametrize("bad", ["12", True, float("nan"), float("inf"), {"a": 1}, -(10**309)])
def test_a_value_that_is_not_a_finite_number_goes_to_the_error_stream(bad):
    proc = make(warmup=2)
    scores(proc, [1, 2])
    with pytest.raises(RecordError) as err:
        proc({"v": bad})
    assert err.value.code == "type" and "`v`" in err.value.message
    # the history is untouched: the next value is scored against 1 and 2 only
    assert proc({"v": 1.5})["anomaly_score"] == 0.0


def test_keys_have_separate_statistics_and_null_is_a_key():
    proc = make(warmup=3, by=(("host",), ("geo", "dc")))
    recs = []
    for i in range(6):
        for host in ("a", "b", None):
            base = {"a": 10, "b": 1000, None: -5}[host]
            recs.append(proc({"v": base + i % 2, "host": host, "geo": {"dc": "x"}}))
    assert not any(r["anomaly"] for r in recs)
    assert proc({"v": 1000, "host": "b", "geo": {"dc": "x"}})["anomaly"] is False
    assert proc({"v": 1000, "host": "a", "geo": {"dc": "x"}})["anomaly"] is True
    assert proc({"v": 1000, "host": "b", "geo": None})["anomaly_score"] is None  # new key


def test_the_number_of_keys_is_bounded_least_recently_seen_first():
    proc = make(warmup=2, max_keys=2, by=(("k",),))
    for k in ("a", "b", "a"):
        scores(proc, [1, 2, 1], key=k)
    scores(proc, [1], key="c")  # evicts b, the least recently seen
    assert proc.ctx.counters["evicted"] == 1
    assert len(proc._states) == 2
    assert scores(proc, [2], key="a")[0][1] is not None  # a kept its history
    assert scores(proc, [2], key="b")[0] == (False, None)  # b starts again
    assert proc.ctx.counters["evicted"] == 2


def test_the_field_may_be_nested():
    proc = make(field=("http", "latency"), warmup=2)
    out = [proc({"http": {"latency": v}}) for v in (1, 2, 1, 50)]
    assert out[-1]["anomaly"] is True
    assert proc({"http": None})["anomaly"] is False


def test_a_long_series_keeps_the_sliding_statistics_exact():
    rnd = random.Random(3)
    values = [1e6 + rnd.gauss(0, 1) if i % 500 else 1e12 for i in range(4_000)]
    proc = make(window=50, warmup=10)
    got = scores(proc, values)
    want = zscore_reference(values, [None] * len(values), 50, 10, 3.0)
    assert_matches(got, want, 3.0)


def test_anomalies_are_counted():
    proc = make(warmup=3)
    scores(proc, [1, 2, 1, 2, 100, 1])
    assert proc.ctx.counters["anomalies"] == 1


@pytest.mark.parametrize(
    "args, words",
    [
        ({"method": "ewma", "method_args": {"alpha": 0.0}}, "alpha"),
        ({"method": "ewma", "method_args": {"alpha": 1.0}}, "alpha"),
        ({"threshold": 0}, "threshold"),
        ({"window": 1, "warmup": 1}, "window"),
        ({"warmup": 1}, "warmup"),
        ({"window": 5, "warmup": 10}, "larger than `window`"),
        ({"max_keys": 0}, "max_keys"),
        ({"method": "median"}, "median"),
    ],
)
def test_arguments_that_make_no_sense_are_refused(args, words):
    with pytest.raises(ValueError, match=words):
        make(**args)


def test_warmup_larger_than_window_is_fine_for_ewma():
    proc = make(method="ewma", method_args={"alpha": 0.1}, window=5, warmup=30)
    assert all(flag is False for flag, _ in scores(proc, [1, 2] * 15 + [100])[:30])


# ---------------------------------------------------------------- compiled pipelines


def test_anomaly_in_a_compiled_pipeline(tmp_path):
    from tests.flowrun import run_flow

    rnd = random.Random(5)
    records = []
    for i in range(300):
        for host in ("web-1", "web-2"):
            latency = 40 + rnd.uniform(-5, 5)
            if host == "web-2" and i in (150, 220):
                latency = 900.0
            records.append({"host": host, "latency_ms": latency, "i": i})
    records.append({"host": "web-1", "latency_ms": "slow", "i": 300})
    records.append({"host": "web-1", "latency_ms": None, "i": 301})
    program = (
        'source file("input.jsonl", format=json)\n'
        "  | anomaly(latency_ms, threshold=4.0, window=50, by=[host])\n"
        "  | where anomaly or anomaly_score == null\n"
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    flagged = [(r["host"], r["i"]) for r in result.output if r["anomaly"]]
    assert flagged == [("web-2", 150), ("web-2", 220)]
    # the warm-up (10 per host) and the null value have no score
    assert len([r for r in result.output if r["anomaly_score"] is None]) == 2 * 10 + 1
    assert [(e["code"], e["record"]["i"]) for e in result.errors] == [("type", 300)]
    good = records[:-2]
    want = zscore_reference([r["latency_ms"] for r in good], [r["host"] for r in good], 50, 10, 4.0)
    assert [i for i, (flag, _) in enumerate(want) if flag] == [301, 441]


@pytest.mark.parametrize(
    "args, words",
    [
        ("window=5, warmup=10", "larger than `window`"),
        ("method=ewma(alpha=1.5)", "alpha"),
        ("threshold=0", "threshold"),
    ],
)
def test_the_checker_refuses_arguments_that_make_no_sense(args, words):
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    text = f'source file("in.jsonl") | anomaly(v, {args}) | sink null\n'
    result = compile_source(SourceFile("t.flow", text))
    errors = [d for d in result.diagnostics if d.is_error]
    assert not result.ok and len(errors) == 1
    assert words in errors[0].message and errors[0].code == "E407"


def test_the_checker_types_the_added_fields():
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    text = (
        "schema R { host: str, v: float? }\n"
        'source file("in.jsonl", format=json, schema=R)\n'
        "  | anomaly(v, method=ewma(alpha=0.2), by=[host])\n"
        "  | where anomaly\n"
        "  | set severity = anomaly_score * 10.0\n"
        '  | sink file("o.jsonl")\n'
    )
    result = compile_source(SourceFile("t.flow", text))
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == ["E304"]  # the score may be null
    fixed = text.replace("anomaly_score * 10.0", "(anomaly_score ?? 0.0) * 10.0")
    assert compile_source(SourceFile("t.flow", fixed)).ok
    bad = text.replace("where anomaly", "where anomaly + 1 > 0")
    assert not compile_source(SourceFile("t.flow", bad)).ok  # anomaly is a bool
