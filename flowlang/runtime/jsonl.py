"""JSON lines encoding of records: time as ISO 8601 UTC with `Z`, durations as
seconds, anything else JSON cannot hold as its text."""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import json
import math
import re
import reprlib
from typing import Any, Callable

import orjson

from ..syntax import time_text

# A time is always in UTC (an aware datetime in UTC, or a naive one taken as
# UTC): orjson writes it itself, as `time_text` would (`…T09:00:00Z`,
# `…T09:00:00.250000Z`), several times faster than a `default` call per time
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return time_text(value)
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def _plain(value: Any) -> Any:
    """A copy that the standard json module encodes like orjson would
    (used only for what orjson refuses, such as integers beyond 64 bits)."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _plain(_default(value))


def dumps(record: Any) -> bytes:
    """One record as compact JSON (no trailing newline)."""
    try:
        return orjson.dumps(record, default=_default, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(_plain(record), ensure_ascii=False, separators=(",", ":")).encode()


_fast_dumps = functools.partial(orjson.dumps, default=_default, option=_OPTIONS)


def dumps_lines(records: list) -> bytes:
    """Records as JSON lines, each ended by a newline (one call per batch)."""
    if not records:
        return b""
    try:
        return b"\n".join(map(_fast_dumps, records)) + b"\n"
    except (orjson.JSONEncodeError, TypeError):
        return b"\n".join(map(dumps, records)) + b"\n"


# how a record that cannot be encoded is shown in its error record
_PREVIEW = reprlib.Repr()  # attributes, not keywords: those need Python 3.12
_PREVIEW.maxlevel, _PREVIEW.maxdict, _PREVIEW.maxlist = 6, 20, 20
_PREVIEW.maxstring = _PREVIEW.maxother = 200


class Unencodable(Exception):
    """A record that cannot be written as JSON; `preview` shows it, bounded
    in depth and size (the error record cannot hold the record itself: its
    own sink could not write it either)."""

    def __init__(self, record: Any, cause: BaseException):
        if isinstance(cause, RecursionError) or "Recursion limit" in str(cause):
            why = "it is nested deeper than JSON output allows"
        else:
            why = f"{type(cause).__name__}: {cause}"
        super().__init__(f"the record cannot be written as JSON: {why}")
        self.message = str(self)
        self.preview = _PREVIEW.repr(record)


def encode(record: Any, dump: Callable[[Any], bytes] | None = None) -> bytes:
    """`dump(record)` (default `dumps`); Unencodable when it cannot be done."""
    try:
        return (dump or dumps)(record)
    except Exception as exc:  # RecursionError, an object whose text fails, ...
        raise Unencodable(record, exc) from None


def encode_lines(
    records: list, dump: Callable[[Any], bytes] | None = None
) -> tuple[bytes, list[tuple[Any, Unencodable]]]:
    """Records as lines, one call per batch, and the records that could not be
    encoded, each with why (every other record is in the lines)."""
    if dump is None:
        try:
            return dumps_lines(records), []
        except Exception:
            pass  # one record or more cannot be encoded: find which
    parts: list[bytes] = []
    failed: list[tuple[Any, Unencodable]] = []
    for rec in records:
        try:
            parts.append(encode(rec, dump))
        except Unencodable as exc:
            failed.append((rec, exc))
    return (b"\n".join(parts) + b"\n" if parts else b""), failed


def dumps_pretty(record: Any) -> bytes:
    """One record as indented JSON, for people."""
    try:
        return orjson.dumps(record, default=_default, option=_OPTIONS | orjson.OPT_INDENT_2)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(_plain(record), ensure_ascii=False, indent=2).encode()


# orjson reads an integer beyond 64 bits as the nearest float, silently; a
# document with a run of 19 digits may hold one, and is read again by the
# standard json module, which keeps every integer exactly (`loads`; it also
# reads an integer beyond a double, which orjson refuses). The standard
# module is held to what orjson refuses besides (`exact`), so both agree on
# everything else.
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")
# bytes are searched by mapping every digit to 0 and every other byte to a
# space, then looking for nineteen 0s: two passes in C, where a regular
# expression steps through the text byte by byte and costs more than the
# JSON decoding it guards
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def may_hold_long_int(data: bytes | str) -> bool:
    """Whether `data` has a run of digits an integer beyond 64 bits needs."""
    if isinstance(data, (bytes, bytearray)):
        return _LONG_RUN in data.translate(_DIGIT_MAP)
    return _LONG_DIGITS_TEXT.search(data) is not None


def any_may_hold_long_int(lines: list[bytes]) -> bool:
    """Whether some of `lines` (bytes) may hold an integer beyond 64 bits."""
    return _LONG_RUN in b"\n".join(lines).translate(_DIGIT_MAP)


def exact(data: bytes | str) -> Any:
    """A document read by the standard json module, which keeps every
    integer exactly. It refuses (ValueError) what orjson refuses besides:
    NaN, Infinity and numbers beyond a double that are not integers."""
    return json.loads(data, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value - value != 0.0:
        raise ValueError(f"number {text[:40]} is infinity when parsed as double")
    return value


# Records nested deeper than this are refused where they are decoded: every
# JSON sink can write what is admitted (orjson's encoder stops at 255 levels)
# and no stage that walks a record can exhaust Python's stack on it.
MAX_DEPTH = 200


def depth_exceeds(lines: list) -> bool:
    """Whether some of `lines` might be nested deeper than MAX_DEPTH (a cheap
    upper bound: the most `[` and the most `{` any line has)."""
    if not lines:
        return False
    return (
        max(map(bytes.count, lines, itertools.repeat(b"[")))
        + max(map(bytes.count, lines, itertools.repeat(b"{")))
    ) > MAX_DEPTH


def too_deep(value: Any) -> bool:
    """Whether `value` nests lists and records deeper than MAX_DEPTH."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            children = item.values()
        elif kind is list:
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend(
            (child, depth + 1) for child in children if type(child) is dict or type(child) is list
        )
    return False


def loads(data: bytes | str) -> Any:
    """Decode one JSON document, integers of any size exactly (raises
    `orjson.JSONDecodeError`, a ValueError)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson refuses an integer beyond a double's range (about 309
        # digits), which is JSON all the same; the rest it refuses for good
        if not may_hold_long_int(data):
            raise
        try:
            return exact(data)
        except (ValueError, RecursionError):
            raise exc from None
    if may_hold_long_int(data):
        if may_nest_deeper(data) and too_deep(value):
            # refused for its depth where it is read (the standard module
            # would exhaust the stack on it)
            return value
        return exact(data)
    return value


def may_nest_deeper(data: bytes | str) -> bool:
    """Whether `data` has enough `[` and `{` to nest deeper than MAX_DEPTH."""
    if isinstance(data, str):
        return data.count("[") + data.count("{") > MAX_DEPTH
    return data.count(b"[") + data.count(b"{") > MAX_DEPTH
