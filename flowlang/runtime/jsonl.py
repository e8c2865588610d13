"""JSON lines encoding of records: time as ISO 8601 UTC with `Z`, durations as
seconds, anything else JSON cannot hold as its text."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import re
from typing import Any

import orjson

from ..syntax import time_text

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


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
        return {
            str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()
        }
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
        return json.dumps(
            _plain(record), ensure_ascii=False, separators=(",", ":")
        ).encode()


_fast_dumps = functools.partial(orjson.dumps, default=_default, option=_OPTIONS)


def dumps_lines(records: list) -> bytes:
    """Records as JSON lines, each ended by a newline (one call per batch)."""
    if not records:
        return b""
    try:
        return b"\n".join(map(_fast_dumps, records)) + b"\n"
    except (orjson.JSONEncodeError, TypeError):
        return b"\n".join(map(dumps, records)) + b"\n"


def dumps_pretty(record: Any) -> bytes:
    """One record as indented JSON, for people."""
    try:
        return orjson.dumps(
            record, default=_default, option=_OPTIONS | orjson.OPT_INDENT_2
        )
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(_plain(record), ensure_ascii=False, indent=2).encode()


# orjson reads an integer beyond 64 bits as the nearest float, silently; a
# document with a run of 19 digits may hold one, and is read again by the
# standard json module, which keeps every integer exactly. Only documents
# orjson accepted are read again, so both agree on everything else.
LONG_DIGITS = re.compile(rb"\d{19}")
_LONG_DIGITS_TEXT = re.compile(r"\d{19}")


def may_hold_long_int(data: bytes | str) -> bool:
    """Whether `data` has a run of digits an integer beyond 64 bits needs."""
    pattern = LONG_DIGITS if isinstance(data, (bytes, bytearray)) else _LONG_DIGITS_TEXT
    return pattern.search(data) is not None


def exact(data: bytes | str) -> Any:
    """A document orjson accepted, read again keeping big integers exact."""
    return json.loads(data)


def loads(data: bytes | str) -> Any:
    """Decode one JSON document, integers of any size exactly (raises
    `orjson.JSONDecodeError`, a ValueError)."""
    value = orjson.loads(data)
    if may_hold_long_int(data):
        return exact(data)
    return value
