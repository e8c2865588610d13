"""`parse_time`: the year of a format without one (syslog's `%b %d %H:%M:%S`)
comes from the run's clock, and `timezone` places local times."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime import times
from flowlang.runtime.base import RecordError
from flowlang.runtime.ops import fn_now, fn_parse_time
from tests.flowrun import run_flow

UTC = dt.timezone.utc
SYSLOG = "%b %d %H:%M:%S"
DAY = dt.timedelta(days=1)


@pytest.fixture
def clock():
    """Set the clock as the engine does for a run; back to the system clock after."""

    def fix(when: dt.datetime) -> None:
        times.use_clock(lambda: when)

    yield fix
    times.use_clock(None)


def at(*parts: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


def test_a_format_without_a_year_takes_the_current_year(clock):
    clock(at(2025, 6, 15, 12, 0, 0))
    assert fn_parse_time("Mar  3 10:20:30", SYSLOG) == at(2025, 3, 3, 10, 20, 30)
    # a day of slack for clocks that run behind the sender's
    assert fn_parse_time("Jun 16 11:00:00", SYSLOG) == at(2025, 6, 16, 11, 0, 0)


def test_a_date_later_in_the_year_than_now_is_last_years(clock):
    clock(at(2025, 1, 1, 0, 10, 0))
    assert fn_parse_time("Dec 31 23:59:58", SYSLOG) == at(2024, 12, 31, 23, 59, 58)
    assert fn_parse_time("Jan  1 00:09:00", SYSLOG) == at(2025, 1, 1, 0, 9, 0)
    assert fn_parse_time("Jan  2 00:09:00", SYSLOG) == at(2025, 1, 2, 0, 9, 0)
    assert fn_parse_time("Jan  2 00:11:00", SYSLOG) == at(2024, 1, 2, 0, 11, 0)


def test_a_record_a_little_ahead_of_the_clock_at_new_year_stays_in_the_next_year(clock):
    clock(at(2024, 12, 31, 23, 59, 0))
    assert fn_parse_time("Jan  1 00:00:05", SYSLOG) == at(2025, 1, 1, 0, 0, 5)


def test_the_year_is_the_current_one_in_the_records_time_zone(clock):
    # 23:30 UTC on New Year's Eve is already 2025 in Prague
    clock(at(2024, 12, 31, 23, 30, 0))
    prague = zoneinfo.ZoneInfo("Europe/Prague")
    got = fn_parse_time("Jan  1 00:20:00", SYSLOG, "Europe/Prague")
    assert got == at(2025, 1, 1, 0, 20, 0, tz=prague)
    # and in the offset the text gives
    got = fn_parse_time("Jan 01 08:00:00 +0900", SYSLOG + " %z")
    assert got == at(2024, 12, 31, 23, 0, 0)


def test_february_29_goes_to_a_leap_year_in_the_past_year_else_is_an_error(clock):
    clock(at(2025, 2, 1, 0, 0, 0))
    assert fn_parse_time("Feb 29 12:00:00", SYSLOG) == at(2024, 2, 29, 12, 0, 0)
    clock(at(2025, 6, 1, 0, 0, 0))
    with pytest.raises(RecordError, match="no year within the year before now"):
        fn_parse_time("Feb 29 12:00:00", SYSLOG)


def test_year_dependent_directives_are_read_in_the_inferred_year(clock):
    clock(at(2024, 12, 31, 12, 0, 0))  # 2024 is a leap year: day 60 is February 29
    assert fn_parse_time("060 10:00", "%j %H:%M") == at(2024, 2, 29, 10, 0, 0)
    clock(at(2025, 12, 31, 12, 0, 0))
    assert fn_parse_time("060 10:00", "%j %H:%M") == at(2025, 3, 1, 10, 0, 0)


def test_formats_with_a_year_are_not_changed(clock):
    clock(at(2025, 6, 1))
    assert fn_parse_time("1999-12-31 10:00", "%Y-%m-%d %H:%M") == at(1999, 12, 31, 10)
    assert fn_parse_time("31/12/99", "%d/%m/%y") == at(1999, 12, 31)
    # `%%Y` is a percent sign and a Y, not a year
    assert fn_parse_time("Mar 03 %Y", "%b %d %%Y") == at(2025, 3, 3)


def test_trailing_text_is_still_rejected(clock):
    clock(at(2025, 6, 1))
    with pytest.raises(RecordError, match="unconverted data remains"):
        fn_parse_time("Mar  3 10:20:30 ", SYSLOG)
    with pytest.raises(RecordError, match="does not match format"):
        fn_parse_time("yesterday", SYSLOG)


def test_timezone_places_local_times_of_every_form():
    ny = zoneinfo.ZoneInfo("America/New_York")
    assert fn_parse_time("2024-07-01T10:00:00", None, "America/New_York") == at(
        2024, 7, 1, 10, tz=ny
    )
    assert fn_parse_time("2024-01-01 10:00", "%Y-%m-%d %H:%M", "America/New_York") == at(
        2024, 1, 1, 15
    )
    # an offset in the text wins over the time zone
    assert fn_parse_time("2024-07-01T10:00:00Z", None, "America/New_York") == at(2024, 7, 1, 10)
    # the hour repeated when daylight saving time ends: the first one
    assert fn_parse_time("2024-11-03 01:30", "%Y-%m-%d %H:%M", "America/New_York") == at(
        2024, 11, 3, 5, 30
    )
    assert fn_parse_time(None, None, "America/New_York") is None


@pytest.mark.parametrize("name", ["Europe/Praha", "", "../../etc/passwd", "/etc/passwd", "America"])
def test_an_unknown_time_zone_is_an_error_record(name):
    with pytest.raises(RecordError, match="unknown time zone") as caught:
        fn_parse_time("2024-07-01T10:00:00", None, name)
    assert caught.value.code == "conversion"


def test_a_close_time_zone_name_is_suggested():
    assert 'did you mean "Europe/Prague"' in times.zone_problem("Europe/Praha")
    assert times.zone_problem("Europe/Prague") is None


def test_now_is_the_runs_clock(clock):
    clock(at(2030, 1, 2, 3, 4, 5, tz=dt.timezone(dt.timedelta(hours=2))))
    assert fn_now() == at(2030, 1, 2, 1, 4, 5)
    assert fn_now().tzinfo == UTC
    times.use_clock(None)
    assert abs(fn_now() - dt.datetime.now(UTC)) < dt.timedelta(seconds=5)


_NOWS = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)
)
_ZONES = st.sampled_from(
    ["UTC", "Europe/Prague", "America/New_York", "Asia/Tokyo", "Pacific/Auckland"]
)


@settings(max_examples=300, deadline=None)
@given(now=_NOWS, back=st.integers(-86_400, 366 * 86_400), zone=_ZONES)
def test_the_inferred_time_is_never_more_than_a_day_ahead_nor_a_year_behind(now, back, zone):
    # any time within a year before now (or a day after), written as syslog
    # writes it in its time zone
    tz = zoneinfo.ZoneInfo(zone)
    t = (now - dt.timedelta(seconds=back)).astimezone(tz)
    times.use_clock(lambda: now)
    try:
        got = times.parse(t.strftime(SYSLOG), SYSLOG, tz)
    except ValueError:
        # only a leap day can find no year in the window
        assert (t.month, t.day) == (2, 29)
        return
    finally:
        times.use_clock(None)
    assert now - dt.timedelta(days=366) < got <= now + DAY
    if back < 363 * 86_400:
        # the year found is the true one: the same wall-clock time (an hour
        # repeated at the end of daylight saving time reads as its first)
        assert got.astimezone(tz).replace(tzinfo=None) == t.replace(microsecond=0, tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(now=_NOWS, back=st.integers(-86_400, 363 * 86_400), offset=st.integers(-14 * 60, 14 * 60))
def test_a_time_within_the_window_is_recovered_exactly(now, back, offset):
    # with the offset in the text, nothing but the year is lost: the year
    # found is the true one for every time in (now - 364 days, now + 1 day]
    tz = dt.timezone(dt.timedelta(minutes=offset))
    t = (now - dt.timedelta(seconds=back)).astimezone(tz).replace(microsecond=0)
    times.use_clock(lambda: now)
    try:
        assert times.parse(t.strftime(SYSLOG + " %z"), SYSLOG + " %z") == t
    finally:
        times.use_clock(None)


SYSLOG_FLOW = """
source file("input.jsonl", format=json)
  | set ts = parse_time(stamp, "%b %d %H:%M:%S", timezone="Europe/Prague"), seen = now()
  | sink file("output.jsonl")
"""


def test_a_run_infers_the_year_from_its_clock(tmp_path):
    records = [
        {"stamp": "Dec 31 23:59:00"},
        {"stamp": "Jan  1 00:30:00"},
        {"stamp": "Feb 30 00:00:00"},
    ]
    run_at = at(2025, 1, 1, 0, 5, 0)  # 01:05 in Prague
    result = run_flow(SYSLOG_FLOW, tmp_path, records=records, clock=lambda: run_at)
    assert result.exit_code == 0, result.stderr
    assert [(r["ts"], r["seen"]) for r in result.output] == [
        ("2024-12-31T22:59:00Z", "2025-01-01T00:05:00Z"),
        ("2024-12-31T23:30:00Z", "2025-01-01T00:05:00Z"),
    ]
    (error,) = result.errors
    assert error["code"] == "conversion" and "Feb 30" in error["message"]
