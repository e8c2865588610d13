"""Every time a record gets is an aware datetime in UTC (`tzinfo is
timezone.utc`), whoever made it: a schema's coercion, `parse(…)` of each log
format, the time builtins, and the windows of `summarize`. Equality of
aware datetimes ignores the zone, so the examples' own checks cannot tell
`10:00+01:00` from `09:00Z`; a time in another zone would still change what
`hour()`, a sink's rendering or a key of `summarize … by` gives."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime import times
from flowlang.runtime.coerce import coercer
from flowlang.runtime.ops import (
    fn_floor_time,
    fn_from_unix_timestamp,
    fn_now,
    fn_parse_time,
)
from flowlang.stages.parse import SPEC as PARSE
from tests.metrics.test_summarize import make as make_summarize
from tests.stages.stagebind import make_stage

UTC = dt.timezone.utc
INSTANT = dt.datetime(2024, 3, 2, 9, 0, tzinfo=UTC)


def times_in(value) -> list[dt.datetime]:
    """Every datetime in a value (records nest)."""
    if isinstance(value, dt.datetime):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v)]
    return []


def assert_utc(value) -> None:
    found = times_in(value)
    assert found, value
    for t in found:
        assert t.tzinfo is UTC, (t, value)


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: dt.timedelta(minutes=m))
instants = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2999, 12, 31), timezones=st.just(UTC)
)


def zone(offset: dt.timedelta) -> dt.timezone:
    return dt.timezone(offset)


@settings(max_examples=200, deadline=None)
@given(instants, offsets)
def test_schema_coercion_gives_utc(t, offset):
    coerce = coercer("time")
    local = t.astimezone(zone(offset))
    for value in (local, local.isoformat(), t.replace(tzinfo=None), t.timestamp()):
        got = coerce(value)
        assert got.tzinfo is UTC and got == t.replace(microsecond=got.microsecond), value
    assert coercer("time", from_text=True)(str(int(t.timestamp()))).tzinfo is UTC


@settings(max_examples=200, deadline=None)
@given(instants, offsets)
def test_parse_time_gives_utc_for_every_form(t, offset):
    local = t.astimezone(zone(offset)).replace(microsecond=0)
    forms = (
        (local.isoformat(), None, None),
        (local.strftime("%Y-%m-%d %H:%M:%S %z"), "%Y-%m-%d %H:%M:%S %z", None),
        (local.strftime("%d/%b/%Y:%H:%M:%S %z"), "%d/%b/%Y:%H:%M:%S %z", None),
        (local.strftime("%Y-%m-%d %H:%M:%S"), "%Y-%m-%d %H:%M:%S", "Europe/Prague"),
        (str(int(t.timestamp())), "%s", None),
    )
    for text, fmt, tz in forms:
        got = fn_parse_time(text, fmt, tz)
        assert got.tzinfo is UTC, (text, fmt, tz, got)
    assert fn_parse_time(local.isoformat()) == local


def test_the_time_builtins_give_utc():
    times.use_clock(lambda: dt.datetime(2025, 6, 15, 12, 0, tzinfo=zone(dt.timedelta(hours=2))))
    try:
        assert_utc(fn_now())
        assert_utc(fn_parse_time("Mar  3 10:20:30", "%b %d %H:%M:%S", "America/New_York"))
    finally:
        times.use_clock(None)
    for unit in ("seconds", "milliseconds", "microseconds", "nanoseconds"):
        assert_utc(fn_from_unix_timestamp(1_700_000_000, unit))
    assert_utc(fn_floor_time(INSTANT + dt.timedelta(minutes=7), dt.timedelta(minutes=5)))


# a line of each log format whose time is not written in UTC
LINES = {
    "combined": '203.0.113.9 - jane [02/Mar/2024:10:00:00 +0100] "GET / HTTP/1.1" 200 5 "-" "-"',
    'combined(time_format="%Y-%m-%d %H:%M:%S", timezone="Europe/Prague")': (
        '192.0.2.7 - - [2024-03-02 10:00:00] "GET / HTTP/1.1" 304 -'
    ),
    "syslog": "<34>1 2024-03-02T10:00:00.003+01:00 web-1 su - ID47 - 'su root' failed",
    'syslog(timezone="Europe/Prague")': "<34>Mar  2 10:00:00 web-1 su: 'su root' failed",
    'nginx_error(timezone="Europe/Prague")': (
        '2024/03/02 10:00:00 [error] 12#12: *5 open() "/srv/x" failed, client: 192.0.2.9'
    ),
    'apache_error(timezone="Europe/Prague")': (
        "[Sat Mar 02 10:00:00.123456 2024] [core:error] [pid 812] [client 192.0.2.9:52314] "
        "AH00126: Invalid URI in request"
    ),
    "json(max_depth=8)": '{"at": "2024-03-02T10:00:00+01:00"}',
}


@pytest.mark.parametrize("fmt", sorted(LINES))
def test_each_log_format_gives_utc(fmt):
    prelude = "schema At { at: time }\n" if fmt.startswith("json") else ""
    schema = ", schema=At" if prelude else ""
    if fmt.startswith("syslog(") or fmt.startswith("apache") or fmt.startswith("nginx"):
        times.use_clock(lambda: dt.datetime(2024, 6, 1, tzinfo=UTC))
    try:
        stage = make_stage(f"parse({fmt}{schema})", prelude)
        rec = stage({"message": LINES[fmt]})
    finally:
        times.use_clock(None)
    fields = {k: v for k, v in rec.items() if k != "message"}
    assert_utc(fields)
    assert all(t.replace(microsecond=0) == INSTANT for t in times_in(fields)), fields


def test_every_example_of_parse_gives_utc_times():
    for example in PARSE.examples:
        stage = make_stage(example.code)
        for rec in example.input:
            for t in times_in(stage(dict(rec))):
                assert t.tzinfo is UTC, (example.code, t)


def test_the_windows_of_summarize_are_utc():
    stage = make_summarize((("n", "count", None),))
    local = zone(dt.timedelta(hours=5, minutes=30))
    stage.add_batch([{"ts": INSTANT.astimezone(local)}], lambda rec, exc: pytest.fail(str(exc)))
    (window,) = stage.flush()
    assert_utc(window)
    assert window["window_start"] == INSTANT
