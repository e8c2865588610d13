"""The run's clock and `parse_time`: text to an aware UTC time.

`now()` is the run's clock: the system clock, unless the run was given a
fixed one (`Context.clock`, set for the run by the engine), so that a test
can say when "now" is. `parse_time` reads the current year from it when a
format has no year, as Logstash's date filter and Vector do for syslog's
`%b %d %H:%M:%S`:

- the year is the current one in the record's time zone (the offset the
  text gives, else the `timezone` argument, else UTC), and the latest year
  that puts the time no more than one day after now is taken: a December
  record read in January is last year's, and a record a little ahead of
  the clock (clock skew around midnight of New Year) stays in the next year;
- a time that no year puts within (now - 366 days, now + 1 day] is an
  error (February 29 when no leap day falls in the past year);
- only the year is inferred: a format without a month and day reads as
  January 1.

A local time (no offset in the text) is in `timezone` (an IANA name such as
"Europe/Prague", read with `zoneinfo`); an ambiguous local time (the hour
repeated when daylight saving time ends) takes its first occurrence.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import zoneinfo
from contextvars import ContextVar
from typing import Callable

UTC = _dt.timezone.utc
Clock = Callable[[], _dt.datetime]

_clock: ContextVar[Clock | None] = ContextVar("flowlang_clock", default=None)

_DAY = _dt.timedelta(days=1)
_YEAR = _dt.timedelta(days=366)
_DIRECTIVE = re.compile(r"%(.)", re.S)
_YEAR_DIRECTIVES = frozenset("YyGcx")
# directives whose date depends on the year: day of the year, week numbers
_YEAR_DEPENDENT = frozenset("jUWV")
# a leap year, so that February 29 parses before its year is known
_PLACEHOLDER_YEAR = 2000
# separates the year that is appended to a text from the text: no format
# directive matches it, so the text's own end is kept
_SEPARATOR = "\x00"


def use_clock(clock: Clock | None) -> None:
    """Make `clock` the clock of the current run (None: the system clock).
    The engine calls this at the start of a run; tasks started afterwards
    see it, and nothing outside the run does."""
    _clock.set(clock)


def now() -> _dt.datetime:
    """The run's current time, aware, in UTC."""
    clock = _clock.get()
    if clock is None:
        return _dt.datetime.now(UTC)
    return clock().astimezone(UTC)


class BadZone(ValueError):
    pass


@functools.lru_cache(maxsize=64)
def zone(name: str) -> _dt.tzinfo:
    """The IANA time zone `name`; BadZone when there is none of that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        pass
    import difflib

    close = difflib.get_close_matches(name, zoneinfo.available_timezones(), n=1)
    shown = name.replace("\\", "\\\\").replace('"', '\\"')
    hint = f'did you mean "{close[0]}"?' if close else 'IANA names such as "Europe/Prague"'
    raise BadZone(f'unknown time zone "{shown}" ({hint})')


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone, or None when it is one."""
    try:
        zone(name)
    except BadZone as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=256)
def _directives(fmt: str) -> frozenset[str]:
    return frozenset(m.group(1) for m in _DIRECTIVE.finditer(fmt))


def has_year(fmt: str) -> bool:
    """Does the strptime format `fmt` read a year?"""
    return not _directives(fmt).isdisjoint(_YEAR_DIRECTIVES)


def parse(text: str, fmt: str | None, tz: _dt.tzinfo = UTC) -> _dt.datetime:
    """`text` as an aware UTC time: ISO 8601 when `fmt` is None, else read
    with the strptime format `fmt`; a local time is in `tz`. ValueError when
    the text does not fit."""
    if fmt is None:
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        value = _dt.datetime.fromisoformat(iso)
    elif has_year(fmt):
        value = _dt.datetime.strptime(text, fmt)
    else:
        return _in_inferred_year(text, fmt, tz)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _in_inferred_year(text: str, fmt: str, tz: _dt.tzinfo) -> _dt.datetime:
    """`text` read with a format that has no year, in the latest year that
    puts it no more than a day after the run's now (see the module doc)."""
    try:
        first = _dt.datetime.strptime(
            f"{text}{_SEPARATOR}{_PLACEHOLDER_YEAR}", f"{fmt}{_SEPARATOR}%Y"
        )
    except ValueError:
        # the complaint about the text and format as written
        _dt.datetime.strptime(text, fmt)
        raise
    if first.tzinfo is None:
        first = first.replace(tzinfo=tz)
    if _directives(fmt).isdisjoint(_YEAR_DEPENDENT):

        def in_year(year: int) -> _dt.datetime:
            return first.replace(year=year)

    else:

        def in_year(year: int) -> _dt.datetime:
            value = _dt.datetime.strptime(f"{text}{_SEPARATOR}{year}", f"{fmt}{_SEPARATOR}%Y")
            return value if value.tzinfo is not None else value.replace(tzinfo=tz)

    current = now()
    latest, earliest = current + _DAY, current - _YEAR
    year = current.astimezone(first.tzinfo).year
    # the next year fits only just before New Year (a record a little ahead
    # of the clock), the previous one for a date later in the year than now
    for candidate in (year + 1, year, year - 1):
        try:
            value = in_year(candidate)
        except ValueError:
            continue  # February 29 of a common year
        if earliest < value <= latest:
            return value.astimezone(UTC)
    raise ValueError("the format has no year, and no year within the year before now fits")
