"""The run's clock, `parse_time` (text to an aware UTC time) and the other
time builtins: `format_time`, Unix timestamps, `floor_time`.

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
_YEAR_DIRECTIVES = frozenset("YyGcxvDF")
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
    if fmt is None or fmt == "%+":
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        value = _dt.datetime.fromisoformat(iso)
    elif problem := parse_format_problem(fmt):
        raise ValueError(problem)
    elif "s" in _directives(fmt):
        return _parse_epoch(text, fmt)
    elif has_year(fmt):
        value = _dt.datetime.strptime(text, _for_strptime(fmt))
    else:
        return _in_inferred_year(text, fmt, tz)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _in_inferred_year(text: str, fmt: str, tz: _dt.tzinfo) -> _dt.datetime:
    """`text` read with a format that has no year, in the latest year that
    puts it no more than a day after the run's now (see the module doc)."""
    fmt = _for_strptime(fmt)
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


# ---------------------------------------------------------------- formats, epochs, floors

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = _dt.timedelta(microseconds=1)

# `to_unix_timestamp`/`from_unix_timestamp` units (VRL's names) -> microseconds
# per unit; a nanosecond is a thousandth of the smallest step a time holds
UNITS = {"seconds": 1_000_000, "milliseconds": 1_000, "microseconds": 1, "nanoseconds": None}
_NANOS_PER_MICRO = 1_000
# `%s` (seconds since the epoch) combines with these only: what else would
# say the same instant twice
_WITH_EPOCH = frozenset("sf%")
_EPOCH_PIECE = re.compile(r"%(.)|([^%]+)", re.S)


# directives strftime writes that Python's strptime does not read, in the
# ones it does (%e and %d both read a space-padded day; %z reads an offset
# with or without the colon of %:z)
_STRPTIME_ALIASES = {
    "v": "%d-%b-%Y",
    "R": "%H:%M",
    "T": "%H:%M:%S",
    "D": "%m/%d/%y",
    "F": "%Y-%m-%d",
    "e": "%d",
    ":z": "%z",
}
_PERCENT_PIECE = re.compile(r"%(:z|.)", re.S)


@functools.lru_cache(maxsize=256)
def _for_strptime(fmt: str) -> str:
    return _PERCENT_PIECE.sub(lambda m: _STRPTIME_ALIASES.get(m.group(1), m.group(0)), fmt)


def unit_problem(unit: str) -> str | None:
    """Why `unit` is not a unit of Unix time, or None when it is one."""
    if unit in UNITS:
        return None
    return f'unknown unit "{unit}" (one of {", ".join(map(repr, UNITS))})'.replace("'", '"')


# the strftime directives the C library and this module write (`%+` is
# chrono's ISO 8601 and `%v` its ` 5-Oct-2020`, as VRL writes them), each
# perhaps after a padding flag
_KNOWN_DIRECTIVES = frozenset("aAbBcCdDefFgGhHIjklmMnpPrRsStTuUvVwWxXyYzZ%+")
_FLAGGED = re.compile(r"%([-_0^#:]?)(.)", re.S)


def format_problem(fmt: str) -> str | None:
    """What is wrong with a strftime format, or None."""
    if re.search(r"(?<!%)(?:%%)*%$", fmt):
        return "the format ends with a lone `%`"
    for m in _FLAGGED.finditer(fmt):
        if m.group(1) == ":" and m.group(2) != "z":
            return f"unknown directive `%:{m.group(2)}` in the format (only `%:z`)"
        if m.group(2) not in _KNOWN_DIRECTIVES:
            return f"unknown directive `%{m.group(1)}{m.group(2)}` in the format"
    return None


@functools.lru_cache(maxsize=256)
def parse_format_problem(fmt: str) -> str | None:
    """What is wrong with a strptime format, or None."""
    problem = format_problem(fmt)
    if problem:
        return problem
    found = _directives(fmt)
    if "+" in found and fmt != "%+":
        return "%+ (ISO 8601) is a whole format, not a part of one"
    if "s" in found and not found <= _WITH_EPOCH:
        others = ", ".join(f"%{d}" for d in sorted(found - _WITH_EPOCH))
        return f"%s (seconds since the epoch) combines only with %f, not {others}"
    return None


def format_time(value: _dt.datetime, fmt: str, tz: _dt.tzinfo = UTC) -> str:
    """`value` in `tz` written with the strftime format `fmt`. `%s` is the
    whole seconds since the epoch and `%Y` always has four digits (the C
    library writes neither the same way everywhere)."""
    problem = format_problem(fmt)
    if problem:
        raise ValueError(problem)
    local = value.astimezone(tz)
    pieces = []
    for m in _DIRECTIVE_OR_TEXT.finditer(fmt):
        directive = m.group(1)
        if directive == "s":
            pieces.append(str(to_unix(value, "seconds")))
        elif directive == "Y":
            pieces.append(f"{local.year:04d}")
        elif directive == "+":
            pieces.append(local.isoformat().replace("%", "%%"))
        elif directive == ":z":  # %:z, the offset with a colon (+09:00), as chrono and Python 3.12
            offset = local.strftime("%z")
            pieces.append(f"{offset[:3]}:{offset[3:]}" if offset else "")
        elif directive == "v":
            pieces.append(f"{local.day:>2}-%b-{local.year:04d}")
        else:
            pieces.append(m.group(0))
    # pieces are strftime text again: the numbers added hold no `%`
    return local.strftime("".join(pieces))


_DIRECTIVE_OR_TEXT = re.compile(r"%(:z|.)|[^%]+|%$", re.S)


def _parse_epoch(text: str, fmt: str) -> _dt.datetime:
    """`text` read with a format holding `%s` (and perhaps `%f`)."""
    pattern = []
    for m in _EPOCH_PIECE.finditer(fmt):
        directive, literal = m.group(1), m.group(2)
        if literal is not None:
            pattern.append(re.escape(literal))
        elif directive == "s":
            pattern.append(r"(?P<s>[+-]?[0-9]+)")
        elif directive == "f":
            pattern.append(r"(?P<f>[0-9]{1,6})")
        else:
            pattern.append("%")
    found = re.fullmatch("".join(pattern), text)
    if found is None:
        raise ValueError(f"time data {text!r} does not match format {fmt!r}")
    # the fraction is added to the seconds, rounded down, as format_time
    # writes them: -1.5 s after the epoch is "-2.500000" with "%s.%f"
    micros = int(found.group("s")) * 1_000_000
    fraction = found.groupdict().get("f")
    if fraction:
        micros += int(fraction.ljust(6, "0"))
    return from_unix(micros, "microseconds")


def to_unix(value: _dt.datetime, unit: str) -> int:
    """Whole `unit`s since the epoch, rounded down (as VRL's to_unix_timestamp)."""
    micros = (value - EPOCH) // _MICROSECOND
    per = UNITS[unit]
    return micros * _NANOS_PER_MICRO if per is None else micros // per


def from_unix(number: int, unit: str) -> _dt.datetime:
    """The time `number` `unit`s after the epoch; nanoseconds are rounded down
    to the microsecond. OverflowError outside the years 1 to 9999."""
    per = UNITS[unit]
    micros = number // _NANOS_PER_MICRO if per is None else number * per
    try:
        return EPOCH + _dt.timedelta(microseconds=micros)
    except OverflowError:
        raise OverflowError(f"{number} {unit} is outside the years 1 to 9999") from None


def floor_time(value: _dt.datetime, step: _dt.timedelta) -> _dt.datetime:
    """The latest multiple of `step` since the epoch not after `value`."""
    if step <= _dt.timedelta(0):
        raise ValueError("the step must be a positive duration")
    return value - (value - EPOCH) % step
