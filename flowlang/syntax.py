"""How values are written in flowlang source, both ways, in one place.

The parser reads these forms, the formatter, the stage reference, the
checker's messages, `flowc test`'s literals and the stages' run-time
messages write them:

- string literals: `quote` writes the canonical form (escapes `\\" \\\\ \\n
  \\t`, and `\\uHHHH` for every other control character, U+0085, U+2028,
  U+2029 and lone surrogates, so a literal never holds a line break a reader
  or an editor would see); `raw_literal` the `r"…"` form where the text
  allows one; `unescape`/`unquote` read them back.
- durations: `duration_text` writes the largest exact unit (`90s`, `2m`,
  `250ms`; zero is `0s`, as Go and Prometheus write it); `parse_duration`
  reads a duration literal.
- field names: bare when an identifier, else in backticks (`field_name`,
  `field_path`, which refuse a name no backticks can hold; `field_label`,
  `path_label` for messages, which never refuse).
- operator precedence and associativity (`BINARY_PRECEDENCE` and the levels).
- a stage in a chain: `source f`, `| f`, `sink f` (`STAGE_FORMS`).
- times: `time_text`, ISO 8601 in UTC with `Z`.

This module imports nothing of flowlang's but `names` (itself a leaf), so
the runtime and the stage modules may import it without the compiler.
"""

from __future__ import annotations

import datetime as _dt
import re
from datetime import timedelta
from typing import Callable

from .names import is_identifier

# the characters no source text may hold (E005): control characters but
# tab, line feed, form feed and carriage return; DEL; lone surrogates
FORBIDDEN_CHARACTERS = "\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff"  # a [class] body

# ---------------------------------------------------------------- strings

SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}  # `\x` -> character
_WRITTEN_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
# control characters (C0, DEL, C1 with U+0085), lone surrogates, and the
# line separators that editors and terminals take for line breaks
_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|u|.)", re.S)
_RAW_BODY = re.compile(r'(?:[^"\\\n]|\\[^\n])*\Z')


def quote(text: str) -> str:
    """A string literal for `text`, escaped canonically."""
    body = "".join(_WRITTEN_ESCAPES.get(c) or _escape_other(c) for c in text)
    return f'"{body}"'


def _escape_other(char: str) -> str:
    return f"\\u{ord(char):04x}" if _NEEDS_ESCAPE.match(char) else char


def raw_literal(text: str) -> str | None:
    """`r"text"`, or None when a raw string cannot hold `text` (a control
    character, a line separator, a trailing backslash, an unescaped quote)."""
    if _NEEDS_ESCAPE.search(text) is None and _RAW_BODY.match(text):
        return f'r"{text}"'
    return None


def unescape(body: str, bad: Callable[[int, int, str], None] | None = None) -> str:
    """The text of a string literal's `body` (what stands between its quotes).

    Each `\\uHHHH` is one UTF-16 code unit. An invalid escape is left out and
    reported as `bad(start, end, escape)` (offsets into `body`, `escape` the
    character after the backslash, or `u`); without `bad` it is a ValueError."""

    def replace(m: re.Match) -> str:
        esc = m.group(1)
        if esc in SIMPLE_ESCAPES:
            return SIMPLE_ESCAPES[esc]
        if len(esc) == 5:
            return chr(int(esc[1:], 16))
        if bad is None:
            raise ValueError(f"invalid escape \\{esc} in string literal")
        bad(m.start(), m.end(), esc)
        return ""

    return _ESCAPE.sub(replace, body)


def unquote(literal: str) -> str:
    """The text of a string literal, `"…"` or `r"…"`; ValueError when it is neither."""
    if literal.startswith('r"') and literal.endswith('"') and len(literal) >= 3:
        body = literal[2:-1]
        if _RAW_BODY.match(body):
            return body
    elif len(literal) >= 2 and literal[0] == literal[-1] == '"':
        return unescape(literal[1:-1])
    raise ValueError(f"not a string literal: {literal!r}")


# ---------------------------------------------------------------- durations

DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_DURATION_MS = timedelta.max // timedelta(milliseconds=1)  # what a timedelta holds
_LARGEST_FIRST = sorted(DURATION_UNITS.items(), key=lambda unit: -unit[1])
_DURATION = re.compile(rf"([0-9]+)({'|'.join(DURATION_UNITS)})\Z")


def duration_text(millis: int) -> str:
    """A duration in its largest exact unit: 90000 -> `90s`, 120000 -> `2m`, 0 -> `0s`."""
    if millis < 0:
        raise ValueError(f"a duration literal is not negative: {millis}")
    if millis == 0:
        return "0s"
    for unit, size in _LARGEST_FIRST:
        if millis % size == 0:
            return f"{millis // size}{unit}"
    raise AssertionError("every duration is a whole number of milliseconds")


def parse_duration(text: str) -> int | None:
    """The milliseconds of a duration literal (`250ms`, `5s`, `1m`, `2h`,
    `1d`), or None when `text` is not one. The value may exceed
    MAX_DURATION_MS (whoever reads it says so); a count of more digits
    than any valid duration has gives MAX_DURATION_MS + 1."""
    m = _DURATION.match(text)
    if m is None:
        return None
    digits = m.group(1).lstrip("0")
    if len(digits) > len(str(MAX_DURATION_MS)):
        return MAX_DURATION_MS + 1  # too long either way; int() of it may not even work
    return int(digits or "0") * DURATION_UNITS[m.group(2)]


# ---------------------------------------------------------------- field names

# what a backticked name may hold: what the lexer takes between backticks,
# less the characters no source text may hold
_BACKTICK_BODY = re.compile(f"[^`\n{FORBIDDEN_CHARACTERS}]+\\Z")


def field_label(name: str) -> str:
    """A field name as a message shows it: bare when an identifier, else in backticks."""
    return name if is_identifier(name) else f"`{name}`"


def path_label(path: tuple[str, ...]) -> str:
    """A field path as a message shows it: `geo.city`, `` `user-agent` ``."""
    return ".".join(field_label(part) for part in path)


def field_name(name: str) -> str:
    """A field name as written in source; ValueError for a name that no
    backticks can hold (empty, or with a backtick or a line break)."""
    if not is_identifier(name) and not _BACKTICK_BODY.match(name):
        raise ValueError(f"field name {name!r} cannot be written in flowlang")
    return field_label(name)


def field_path(path: tuple[str, ...]) -> str:
    """A field path as written in source (see field_name)."""
    return ".".join(field_name(part) for part in path)


# ---------------------------------------------------------------- operator precedence

# loosest first; every binary operator is one of these levels
IF, OR, AND, NOT, COMPARISON, COALESCE, ADDITIVE, MULTIPLICATIVE, NEGATE, ATOM = range(10)
BINARY_PRECEDENCE = {
    "or": OR,
    "and": AND,
    "==": COMPARISON,
    "!=": COMPARISON,
    "<": COMPARISON,
    "<=": COMPARISON,
    ">": COMPARISON,
    ">=": COMPARISON,
    "in": COMPARISON,
    "=~": COMPARISON,
    "??": COALESCE,
    "+": ADDITIVE,
    "-": ADDITIVE,
    "*": MULTIPLICATIVE,
    "/": MULTIPLICATIVE,
    "%": MULTIPLICATIVE,
}
NON_ASSOCIATIVE = COMPARISON  # `a < b < c` is an error
RIGHT_ASSOCIATIVE = COALESCE  # `a ?? b ?? c` is `a ?? (b ?? c)`; every other level is left


# ---------------------------------------------------------------- stages

# how a call of a stage of each role stands in a chain, in the order a chain has them
STAGE_FORMS = {"source": "source {}", "processor": "| {}", "sink": "sink {}"}


# ---------------------------------------------------------------- times

_UTC = _dt.timezone.utc


def time_text(value: _dt.datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix (a naive time is taken as UTC):
    `2025-01-01T00:00:00Z`, `2025-01-01T00:00:00.250000Z`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    else:
        value = value.astimezone(_UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"
