"""to_int and to_float read numbers as VRL does (no `_`, ASCII digits only);
round, floor and ceil follow VRL (an int is itself, a float is rounded at
`precision` places) and are typed by their argument."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.builtins import FUNCTIONS
from flowlang.runtime import ops
from flowlang.runtime.base import RecordError
from flowlang.types import ANY, FLOAT, INT, NULL, Nullable


@pytest.mark.parametrize(
    "text", ["1_000", "\u0661\u0662", "１２", "12abc", "0x10", "", "+", "4.5", "1e3", "²"]
)
def test_to_int_rejects_what_vrl_rejects(text):
    with pytest.raises(RecordError, match="not an integer"):
        ops.fn_to_int(text)


@pytest.mark.parametrize(
    "text", ["1_000.5", "\u0661.5", "2.5x", "", ".", "e5", "1e", "0x1p3", "½", "1,5"]
)
def test_to_float_rejects_what_vrl_rejects(text):
    with pytest.raises(RecordError, match="not a number"):
        ops.fn_to_float(text)


@pytest.mark.parametrize("text", ["inf", "-Infinity", "NaN", "1e999"])
def test_to_float_rejects_non_finite_numbers(text):
    with pytest.raises(RecordError, match="not a finite number"):
        ops.fn_to_float(text)


def test_numbers_in_text_that_are_read():
    assert [ops.fn_to_int(t) for t in (" 42 ", "+5", "-7", "007")] == [42, 5, -7, 7]
    assert [ops.fn_to_float(t) for t in ("2.5", ".5", "5.", "-1e3", " 1E-2 ")] == [
        2.5,
        0.5,
        5.0,
        -1000.0,
        0.01,
    ]


def test_vrl_examples_of_bools_and_times_as_numbers():
    import datetime as dt

    assert [ops.fn_to_int(True), ops.fn_to_int(False)] == [1, 0]
    assert [ops.fn_to_float(True), ops.fn_to_float(False)] == [1.0, 0.0]
    t = dt.datetime(2020, 12, 30, 22, 20, 53, 824727, tzinfo=dt.timezone.utc)
    assert ops.fn_to_int(t) == 1609366853
    assert ops.fn_to_float(dt.datetime(2014, 7, 8, 9, 10, 11, 12000, tzinfo=dt.timezone.utc)) == (
        1404810611.012
    )
    before = dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.timezone.utc)
    assert ops.fn_to_int(before) == -1  # whole seconds, rounded down as to_unix_timestamp
    assert ops.fn_to_float(before) == -0.5
    assert ops.fn_to_int(None) is None  # null gives null, unlike VRL's 0


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("0123456789+-_ .e\u0661x"), max_size=6))
def test_to_int_accepts_exactly_optionally_signed_ascii_digits(text):
    stripped = text.strip()
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    valid = body != "" and all(c in "0123456789" for c in body)
    try:
        assert ops.fn_to_int(text) == int(stripped) and valid
    except RecordError:
        assert not valid


def test_vrl_examples_of_round_floor_ceil():
    assert ops.fn_round(1234.2) == 1234.0
    assert ops.fn_round(1234.8) == 1235.0
    assert ops.fn_round(1234) == 1234
    assert ops.fn_round(1234.39429, 1) == 1234.4
    assert ops.fn_round(1234.56725, 4) == 1234.5673
    assert ops.fn_floor(1234.2) == 1234.0
    assert ops.fn_floor(1234.56725, 2) == 1234.56
    assert ops.fn_ceil(1234.2) == 1235.0
    assert ops.fn_ceil(1234.56725, 1) == 1234.6
    assert ops.fn_round(2.5) == 3.0 and ops.fn_round(-2.5) == -3.0  # not banker's rounding
    assert ops.fn_round(0.49999999999999994) == 0.0
    assert ops.fn_round(1250.0, -2) == 1300.0
    assert ops.fn_ceil(5, 3) == 5 and isinstance(ops.fn_ceil(5, 3), int)
    assert math.copysign(1, ops.fn_ceil(-0.5)) == -1  # -0.0, as Rust's f64::ceil


def test_extreme_precisions_leave_a_float_as_it_is_or_zero():
    assert ops.fn_round(1e300, 20) == 1e300
    assert ops.fn_round(1.5, 400) == 1.5
    assert ops.fn_round(123.0, -400) == 0.0
    with pytest.raises(RecordError, match="needs a number"):
        ops.fn_round("1.5")
    with pytest.raises(RecordError, match="needs an int"):
        ops.fn_floor(1.5, 1.0)


@settings(max_examples=500, deadline=None)
@given(st.floats(-1e12, 1e12), st.integers(0, 6))
def test_floor_at_most_round_at_most_ceil_and_round_is_half_up_in_decimal(x, p):
    low, mid, high = ops.fn_floor(x, p), ops.fn_round(x, p), ops.fn_ceil(x, p)
    assert low <= mid <= high
    scaled = x * 10.0**p
    want = float(Decimal(scaled).quantize(Decimal(1), rounding=ROUND_HALF_UP)) / 10.0**p
    assert mid == want
    if p == 0:  # at p > 0 a rounded float is not an exact decimal, so not a fixed point
        assert ops.fn_floor(low) == low and ops.fn_ceil(high) == high


@pytest.mark.parametrize("name", ["round", "floor", "ceil"])
def test_the_result_has_the_type_of_the_number(name):
    fn = FUNCTIONS[name]
    assert fn.result_type([INT]) == INT
    assert fn.result_type([FLOAT, INT]) == FLOAT
    assert fn.result_type([Nullable(FLOAT)]) == Nullable(FLOAT)
    assert fn.result_type([ANY]) == ANY
    assert fn.result_type([NULL]) == ANY


def test_round_is_typed_by_the_checker(tmp_path):
    from tests.flowrun import run_flow

    program = (
        "schema R { n: int, x: float }\n"
        'source file("input.jsonl", format=json, schema=R)\n'
        "  | set a = round(n) + 1, b = round(x, 1) * 2.0, c = floor(x), d = ceil(x, precision=2)\n"
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path, records=[{"n": 7, "x": 2.345}])
    assert result.exit_code == 0, result.stderr
    assert result.output == [{"n": 7, "x": 2.345, "a": 8, "b": 4.6, "c": 2.0, "d": 2.35}]
