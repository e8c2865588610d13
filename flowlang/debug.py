"""`flowc debug ast|plan FILE`: the compiler's intermediate forms as text.

One node per line, children indented under the field that holds them:

    Pipeline name='web' @1:1-1:62
      head: Source
        call: Call name='file' @1:8-1:28

Scalars (strings, numbers, field paths, types) are written on the node's
line as `field=value`; empty fields and `None` are left out, and so is what
a node's `==` ignores (how a string was quoted), except that AST nodes show
their span as `@line:col-line:col`. Two nodes give the same text exactly
when they are equal (and 1, 1.0 and True are told apart). The text is stable for a given program
and compiler version, so it can be kept as a snapshot and diffed after a
change (tests/plans holds a few).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import types
from typing import Any

from .source import SourceFile, Span
from .types import Type

_INDENT = "  "


def dump(node: Any, src: SourceFile | None = None) -> str:
    """`node` (an ast.Program, an ir.Plan or any part of one) as indented text;
    with `src`, spans are shown as line:column ranges."""
    lines: list[str] = []
    _node(node, src, 0, "", lines)
    return "\n".join(lines) + "\n"


def _node(node: Any, src: SourceFile | None, depth: int, prefix: str, out: list[str]) -> None:
    pad = _INDENT * depth
    if not _is_compound(node):
        out.append(f"{pad}{prefix}{_scalar(node)}")
        return
    if isinstance(node, (tuple, list)):
        if not node:
            return
        out.append(f"{pad}{prefix.rstrip()}")
        if all(_is_pair(item) for item in node):  # (name, value): arguments, assignments
            for key, value in node:
                name = key if isinstance(key, str) else ".".join(key)
                _node(value, src, depth + 1, f"{name}: ", out)
            return
        for i, item in enumerate(node):
            _node(item, src, depth + 1, f"[{i}] ", out)
        return
    if isinstance(node, dict):
        out.append(f"{pad}{prefix.rstrip()}")
        for key, value in node.items():
            _node(value, src, depth + 1, f"{key}: ", out)
        return
    head = [type(node).__name__]
    children: list[tuple[str, Any]] = []
    span = None
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Span):
            span = value
            continue
        if value is None or value == () or value == {} or not f.compare:
            continue  # nothing there, or not part of what the node means
        if _is_compound(value):
            children.append((f.name, value))
        else:
            head.append(f"{f.name}={_scalar(value)}")
    if span is not None and src is not None and span.end > span.start:
        (l1, c1), (l2, c2) = src.line_col(span.start), src.line_col(span.end)
        head.append(f"@{l1}:{c1}-{l2}:{c2}")
    out.append(f"{pad}{prefix}{' '.join(head)}")
    for name, value in children:
        _node(value, src, depth + 1, f"{name}: ", out)


def _is_pair(item: Any) -> bool:
    if not (isinstance(item, tuple) and len(item) == 2):
        return False
    key = item[0]
    return isinstance(key, str) or (
        isinstance(key, tuple) and bool(key) and all(isinstance(k, str) for k in key)
    )


def _is_compound(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return bool(value) and not all(isinstance(v, (str, int, float, bool)) for v in value)
    if isinstance(value, dict):
        return bool(value) and not all(
            isinstance(v, (str, int, float, bool, type(None))) for v in value.values()
        )
    return dataclasses.is_dataclass(value) and not isinstance(value, (type, Type))


def _scalar(value: Any) -> str:
    if isinstance(value, Type):
        return str(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, types.FunctionType):  # a rule (EnvRef.check): where it is defined
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)
