"""format_time, `%s` in parse_time, Unix timestamps and floor_time: VRL's
examples, the laws that tie them together, and failures that reach the error
stream."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowlang.runtime import ops
from flowlang.runtime.base import RecordError

UTC = dt.timezone.utc
T = dt.datetime(2021, 1, 1, tzinfo=UTC)
UNITS = ("seconds", "milliseconds", "microseconds", "nanoseconds")
STEP = {
    "seconds": dt.timedelta(seconds=1),
    "milliseconds": dt.timedelta(milliseconds=1),
    "microseconds": dt.timedelta(microseconds=1),
    "nanoseconds": dt.timedelta(microseconds=1),  # a time holds microseconds
}

times = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)
)
zoned = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
)


def test_vrl_examples_of_format_timestamp():
    t = dt.datetime(2021, 2, 10, 23, 32, tzinfo=UTC)
    assert ops.fn_format_time(t, "%d %B %Y %H:%M") == "10 February 2021 23:32"
    assert ops.fn_format_time(t, "%d %B %Y %H:%M", "Europe/Berlin") == "11 February 2021 00:32"
    assert ops.fn_format_time(t, "%s") == "1612999920"
    assert ops.fn_format_time(t, "%Y-%m-%dT%H:%M:%S%z", "Asia/Kolkata") == (
        "2021-02-11T05:02:00+0530"
    )


def test_iso_8601_as_chrono_writes_it_with_percent_plus():
    ten = dt.datetime(1970, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert ops.fn_format_time(ten, "%+") == "1970-01-01T00:00:10+00:00"
    assert ops.fn_format_time(ten, "%+", "Europe/Berlin") == "1970-01-01T01:00:10+01:00"
    assert ops.fn_format_time(ten, "at %+ (%s)") == "at 1970-01-01T00:00:10+00:00 (10)"
    assert ops.fn_format_time(ten, "%-d.%-m.") == "1.1."  # padding flags stay the C library's
    assert ops.fn_parse_time("1970-01-01T01:00:10+01:00", "%+") == ten
    assert ops.fn_format_time(ten, "%Y-%m-%dT%H:%M:%S%:z", "Asia/Tokyo") == (
        "1970-01-01T09:00:10+09:00"
    )
    assert ops.fn_parse_time("1970-01-01T09:00:10+09:00", "%Y-%m-%dT%H:%M:%S%:z") == ten
    oct21 = dt.datetime(2020, 10, 21, 16, 0, tzinfo=UTC)
    assert ops.fn_parse_time("10-Oct-2020 16:00+00:00", "%v %R%:z") == (
        dt.datetime(2020, 10, 10, 16, 0, tzinfo=UTC)
    )
    assert ops.fn_parse_time("2020-10-21 16:00:05", "%F %T") == oct21.replace(second=5)
    assert ops.fn_parse_time("10/21/20", "%D") == oct21.replace(hour=0)
    assert ops.fn_parse_time("Oct  5 16:00", "%b %e %R", "UTC").day == 5  # no year: inferred
    assert ops.fn_format_time(oct21, "%v %R") == "21-Oct-2020 16:00"
    assert ops.fn_format_time(dt.datetime(2020, 10, 5, tzinfo=UTC), "%v") == " 5-Oct-2020"
    assert ops.fn_parse_time("21-Oct-2020 16:00", "%v %H:%M") == oct21
    assert ops.fn_parse_time(" 5-Oct-2020", "%v") == dt.datetime(2020, 10, 5, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(zoned, st.sampled_from(["UTC", "Europe/Prague", "Asia/Kolkata"]))
def test_percent_plus_reads_back(t, zone):
    assert ops.fn_parse_time(ops.fn_format_time(t, "%+", zone), "%+") == t


def test_years_have_four_digits_and_epoch_seconds_round_down():
    assert ops.fn_format_time(dt.datetime(999, 3, 4, tzinfo=UTC), "%Y-%m-%d") == "0999-03-04"
    before = dt.datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)
    assert ops.fn_format_time(before, "%s.%f") == "-2.500000"
    assert ops.fn_parse_time("-2.500000", "%s.%f") == before


def test_vrl_examples_of_unix_timestamps():
    assert ops.fn_to_unix_timestamp(T) == 1609459200
    assert ops.fn_to_unix_timestamp(T, "milliseconds") == 1609459200000
    assert ops.fn_to_unix_timestamp(T, "microseconds") == 1609459200000000
    assert ops.fn_to_unix_timestamp(T, "nanoseconds") == 1609459200000000000
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert ops.fn_from_unix_timestamp(5) == epoch + dt.timedelta(seconds=5)
    assert ops.fn_from_unix_timestamp(5000, "milliseconds") == epoch + dt.timedelta(seconds=5)
    assert ops.fn_from_unix_timestamp(5000, "microseconds") == epoch + dt.timedelta(milliseconds=5)
    assert ops.fn_from_unix_timestamp(5999, "nanoseconds") == epoch + dt.timedelta(microseconds=5)
    assert ops.fn_to_unix_timestamp(epoch - dt.timedelta(milliseconds=1)) == -1


def test_parse_time_reads_epoch_seconds():
    assert ops.fn_parse_time("1609459200", "%s") == T
    assert ops.fn_parse_time("[1609459200.25]", "[%s.%f]") == T + dt.timedelta(milliseconds=250)
    with pytest.raises(RecordError, match="does not match"):
        ops.fn_parse_time("1609459200x", "%s")
    with pytest.raises(RecordError, match="combines only with %f"):
        ops.fn_parse_time("2021 1609459200", "%Y %s")


def test_floor_time():
    t = dt.datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)
    assert ops.fn_floor_time(t, dt.timedelta(hours=1)) == t.replace(
        minute=0, second=0, microsecond=0
    )
    assert ops.fn_floor_time(t, dt.timedelta(days=1)) == t.replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    assert ops.fn_floor_time(t, dt.timedelta(minutes=15)).minute == 30
    with pytest.raises(RecordError, match="positive"):
        ops.fn_floor_time(t, dt.timedelta(0))


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: ops.fn_to_unix_timestamp(T, "ms"), "unknown unit"),
        (lambda: ops.fn_from_unix_timestamp(10**20), "outside the years"),
        (lambda: ops.fn_from_unix_timestamp(1.5), "needs an int"),
        (lambda: ops.fn_format_time("2021", "%Y"), "needs a time"),
        (lambda: ops.fn_format_time(T, "%Y", "Mars/Olympus"), "unknown time zone"),
        (lambda: ops.fn_format_time(T, "100%"), "lone"),
        (lambda: ops.fn_format_time(T, "%Q INVALID"), "unknown directive `%Q`"),
        (lambda: ops.fn_format_time(T, "%-Q"), "unknown directive `%-Q`"),
        (lambda: ops.fn_parse_time("2021", "%Y %+"), "whole format"),
    ],
)
def test_bad_arguments_are_record_errors(call, reason):
    with pytest.raises(RecordError, match=reason):
        call()


@settings(max_examples=300, deadline=None)
@given(
    times,
    st.sampled_from(
        ["%Y-%m-%dT%H:%M:%S.%f%z", "%s.%f", "%d/%m/%Y %H:%M:%S.%f", "%j %Y %H:%M:%S.%f"]
    ),
)
def test_parse_time_reads_what_format_time_writes(t, fmt):
    assert ops.fn_parse_time(ops.fn_format_time(t, fmt), fmt) == t


@settings(max_examples=200, deadline=None)
@given(zoned, st.sampled_from(["Europe/Prague", "America/St_Johns", "Asia/Kolkata"]))
def test_format_time_in_a_zone_reads_back_with_its_offset(t, zone):
    fmt = "%Y-%m-%d %H:%M:%S.%f %z"
    assert ops.fn_parse_time(ops.fn_format_time(t, fmt, zone), fmt) == t


@settings(max_examples=300, deadline=None)
@given(times, st.sampled_from(UNITS))
def test_from_unix_of_to_unix_is_the_time_floored_to_the_unit(t, unit):
    back = ops.fn_from_unix_timestamp(ops.fn_to_unix_timestamp(t, unit), unit)
    assert back == ops.fn_floor_time(t, STEP[unit])


@settings(max_examples=300, deadline=None)
@given(
    times,
    st.one_of(
        st.sampled_from([dt.timedelta(hours=1), dt.timedelta(days=7), dt.timedelta(minutes=15)]),
        st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=400)),
    ),
)
@example(dt.datetime(1, 1, 2, tzinfo=UTC), dt.timedelta(days=400))  # found by CI
def test_floor_time_is_idempotent_and_at_most_a_step_before(t, step):
    behind = (t - dt.datetime(1970, 1, 1, tzinfo=UTC)) % step
    if t - dt.datetime.min.replace(tzinfo=UTC) < behind:
        # the step's start is before the year 1: a clear error, not a crash
        with pytest.raises(RecordError, match="floor_time"):
            ops.fn_floor_time(t, step)
        return
    floor = ops.fn_floor_time(t, step)
    assert floor == t - behind
    assert floor <= t < floor + step
    assert ops.fn_floor_time(floor, step) == floor
    assert (floor - dt.datetime(1970, 1, 1, tzinfo=UTC)) % step == dt.timedelta(0)


def test_time_builtins_through_a_compiled_pipeline(tmp_path):
    from tests.flowrun import run_flow

    program = (
        'source file("input.jsonl", format=json)\n'
        "  | set t = parse_time(stamp),\n"
        '        ms = to_unix_timestamp(t, unit="milliseconds"),\n'
        "        hour = floor_time(t, 1h),\n"
        '        local = format_time(t, "%Y-%m-%d %H:%M", timezone="Europe/Prague"),\n'
        "        back = from_unix_timestamp(to_int(epoch))\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [
        {"stamp": "2024-05-01T12:34:56.789Z", "epoch": "5"},
        {"stamp": "2024-05-01T12:34:56.789Z", "epoch": "1e999"},
    ]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    (out,) = result.output
    assert out["ms"] == 1714566896789
    assert out["hour"] == "2024-05-01T12:00:00Z"
    assert out["local"] == "2024-05-01 14:34"
    assert out["back"] == "1970-01-01T00:00:05Z"
    (error,) = result.errors
    assert "from_unix_timestamp" in str(error) or "to_int" in str(error)
