"""Validate and coerce values against type descriptors.

Descriptors are plain literals, as `flowlang.types.to_descriptor` writes them:
a primitive name ("str", "int", "float", "bool", "time", "ip", "duration",
"any"), ("?", d) for nullable, ("[]", d) for lists, and
("{}", open, ((name, d), ...)) for records. Run-time values follow
`flowlang.types`: time is an aware UTC datetime, ip its canonical text,
duration a timedelta.

Coercion is idempotent: coercing an already coerced value returns an equal
value. A value that cannot be coerced raises RecordError("schema", ...) naming
the field path.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import re
from typing import Any, Callable

from ..syntax import DURATION_UNITS
from .base import RecordError

Coercer = Callable[[Any], Any]
_Node = Callable[[Any, str], Any]

_UTC = _dt.timezone.utc
_MISSING = object()
# data is laxer than source: `1.5 s`, `-2m`
_DURATION = re.compile(rf"\s*(-?\d+(?:\.\d+)?)\s*({'|'.join(DURATION_UNITS)})\s*\Z")
_SECONDS_PER_UNIT = {unit: ms / 1000 for unit, ms in DURATION_UNITS.items()}
_INT_TEXT = re.compile(r"\s*[-+]?\d+\s*\Z")


def describe(descriptor: Any) -> str:
    """A descriptor in flowlang syntax: `int?`, `[str]`, `{a: int, ..}`."""
    if isinstance(descriptor, str):
        return descriptor
    tag = descriptor[0]
    if tag == "?":
        return describe(descriptor[1]) + "?"
    if tag == "[]":
        return "[" + describe(descriptor[1]) + "]"
    parts = [f"{name}: {describe(d)}" for name, d in descriptor[2]]
    if descriptor[1]:
        parts.append("..")
    return "{" + ", ".join(parts) + "}"


def value_label(value: Any) -> str:
    """A short description of a value for messages: `str "x"`, `float 1.5`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool " + ("true" if value else "false")
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'str "{escaped}"'
    if isinstance(value, int):
        return f"int {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, _dt.datetime):
        return "time"
    if isinstance(value, _dt.timedelta):
        return "duration"
    return type(value).__name__


def _fail(path: str, expected: str, value: Any) -> RecordError:
    where = f"field `{path}`: " if path else ""
    return RecordError("schema", f"{where}expected {expected}, got {value_label(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _any(value: Any, path: str) -> Any:
    return value


def _str(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return value
    raise _fail(path, "str", value)


def _make_int(from_text: bool) -> _Node:
    def coerce_int(value: Any, path: str) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if from_text and isinstance(value, str) and _INT_TEXT.match(value):
            return int(value)
        raise _fail(path, "int", value)

    return coerce_int


def _make_float(from_text: bool) -> _Node:
    def coerce_float(value: Any, path: str) -> Any:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if from_text and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        raise _fail(path, "float", value)

    return coerce_float


def _make_bool(from_text: bool) -> _Node:
    def coerce_bool(value: Any, path: str) -> Any:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            word = value.strip().lower()
            if word == "true":
                return True
            if word == "false":
                return False
        raise _fail(path, "bool", value)

    return coerce_bool


def _epoch(seconds: float, path: str, original: Any) -> _dt.datetime:
    try:
        if not math.isfinite(seconds):
            raise ValueError(seconds)
        return _dt.datetime.fromtimestamp(seconds, _UTC)
    except (OverflowError, OSError, ValueError):
        raise _fail(path, "time", original) from None


def _make_time(from_text: bool) -> _Node:
    def coerce_time(value: Any, path: str) -> Any:
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None:
                return value.replace(tzinfo=_UTC)
            if value.utcoffset() == _dt.timedelta(0) and value.tzinfo is _UTC:
                return value
            return value.astimezone(_UTC)
        if _is_number(value):
            return _epoch(float(value), path, value)
        if isinstance(value, str):
            try:
                parsed = _dt.datetime.fromisoformat(value.strip())
            except ValueError:
                if from_text:
                    try:
                        return _epoch(float(value), path, value)
                    except ValueError:
                        pass
                raise _fail(path, "time", value) from None
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=_UTC)
            try:
                return parsed.astimezone(_UTC)
            except OverflowError:
                raise _fail(path, "time", value) from None
        raise _fail(path, "time", value)

    return coerce_time


def _ip(value: Any, path: str) -> Any:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            pass
    raise _fail(path, "ip", value)


def _make_duration(from_text: bool) -> _Node:
    def coerce_duration(value: Any, path: str) -> Any:
        if isinstance(value, _dt.timedelta):
            return value
        seconds: float | None = None
        if _is_number(value):
            seconds = float(value)
        elif isinstance(value, str):
            match = _DURATION.match(value)
            if match:
                seconds = float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
            elif from_text:
                try:
                    seconds = float(value)
                except ValueError:
                    seconds = None
        if seconds is not None and math.isfinite(seconds):
            try:
                return _dt.timedelta(seconds=seconds)
            except OverflowError:
                pass
        raise _fail(path, "duration", value)

    return coerce_duration


def _nullable(inner: _Node, empty_is_null: bool) -> _Node:
    def coerce_nullable(value: Any, path: str) -> Any:
        if value is None or (empty_is_null and value == ""):
            return None
        return inner(value, path)

    return coerce_nullable


def _list(inner: _Node, expected: str) -> _Node:
    def coerce_list(value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _fail(path, expected, value)
        base = path or ""
        return [inner(item, f"{base}[{i}]") for i, item in enumerate(value)]

    return coerce_list


def _record(open_: bool, fields: tuple, expected: str, from_text: bool) -> _Node:
    compiled = tuple(
        (
            name,
            _compile(d, from_text),
            isinstance(d, tuple) and d[0] == "?" or d == "any",
        )
        for name, d in fields
    )
    names = frozenset(name for name, _ in fields)
    labels = {name: describe(d) for name, d in fields}

    def coerce_record(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(path, expected, value)
        out = {}
        prefix = f"{path}." if path else ""
        for name, node, may_be_null in compiled:
            item = value.get(name, _MISSING)
            if item is _MISSING:
                if not may_be_null:
                    raise RecordError(
                        "schema",
                        f"field `{prefix}{name}`: missing, expected {labels[name]}",
                    )
                out[name] = None
                continue
            out[name] = node(item, prefix + name)
        if len(out) != len(value) or any(k not in names for k in value):
            for key, item in value.items():
                if key in names:
                    continue
                if not open_:
                    raise RecordError(
                        "schema",
                        f"field `{prefix}{key}`: not in the closed record {expected}"
                        " (add `..` to the schema to allow other fields)",
                    )
                out[key] = item
        return out

    return coerce_record


def _compile(descriptor: Any, from_text: bool) -> _Node:
    if isinstance(descriptor, str):
        simple = {
            "any": _any,
            "str": _str,
            "ip": _ip,
        }
        if descriptor in simple:
            return simple[descriptor]
        makers = {
            "int": _make_int,
            "float": _make_float,
            "bool": _make_bool,
            "time": _make_time,
            "duration": _make_duration,
        }
        if descriptor in makers:
            return makers[descriptor](from_text)
        raise ValueError(f"unknown type descriptor {descriptor!r}")
    if isinstance(descriptor, tuple) and descriptor:
        tag = descriptor[0]
        if tag == "?" and len(descriptor) == 2:
            # in text, an empty value of a nullable non-string field is null
            empty_is_null = from_text and descriptor[1] not in ("str", "any")
            return _nullable(_compile(descriptor[1], from_text), empty_is_null)
        if tag == "[]" and len(descriptor) == 2:
            return _list(_compile(descriptor[1], from_text), describe(descriptor))
        if tag == "{}" and len(descriptor) == 3:
            return _record(
                bool(descriptor[1]),
                tuple(descriptor[2]),
                describe(descriptor),
                from_text,
            )
    raise ValueError(f"unknown type descriptor {descriptor!r}")


def coercer(descriptor: Any, *, from_text: bool = False) -> Coercer:
    """A function that validates and coerces one value against `descriptor`.

    With `from_text=True` (values decoded from text: CSV columns, regex
    groups, key=value pairs), strings are also read as numbers, booleans
    (`true`/`false`), epoch seconds and durations in seconds, and an empty
    string is null for a nullable field that is not a string."""
    node = _compile(descriptor, from_text)

    def coerce(value: Any) -> Any:
        return node(value, "")

    return coerce
