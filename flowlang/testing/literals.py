"""Run-time values written back as flowlang literals, so that a failing
input can be pasted into a test: `{ts: "2025-01-01T00:00:00Z", n: 1}`."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .. import ast
from ..formatter import format_literal
from ..syntax import duration_text, field_name, quote, time_text

_MS = _dt.timedelta(milliseconds=1)


def value_literal(value: Any) -> str:
    """`value` in flowlang syntax; ValueError for what the language cannot write."""
    if isinstance(value, dict):
        return record_literal(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_literal(v) for v in value) + "]"
    if isinstance(value, _dt.datetime):
        return quote(time_text(value))
    if isinstance(value, _dt.timedelta):
        if value % _MS:
            return format_literal(ast.Literal(value.total_seconds()))
        millis = value // _MS
        return duration_text(millis) if millis >= 0 else "-" + duration_text(-millis)
    if value is None or isinstance(value, (str, bool, int, float)):
        return format_literal(ast.Literal(value))
    return quote(str(value))


def record_literal(rec: dict) -> str:
    return "{" + ", ".join(f"{field_name(k)}: {value_literal(v)}" for k, v in rec.items()) + "}"
