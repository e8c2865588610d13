"""The only two ways user text reaches generated code: as a Python literal
(`pyrepr`) or inside a comment (`comment_text`). Identifiers go through
`flowlang.names.python_identifier`."""

from __future__ import annotations

import math
from typing import Any

from ..stages.spec import EnvRef


def pyrepr(value: Any) -> str:
    """A Python expression that evaluates to `value`.

    Handles the constants a plan can hold: None, bool, int, float (also nan and
    infinities), str (any text, lone surrogates included), tuples, lists, dicts
    with str keys, and EnvRef (resolved at run time by `rt.env`)."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, EnvRef):
        return f"rt.env({pyrepr(value.name)}, {pyrepr(value.default)})"
    if isinstance(value, tuple):
        inner = ", ".join(pyrepr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(pyrepr(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{pyrepr(k)}: {pyrepr(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no literal for {type(value).__name__}")


def comment_text(text: str) -> str:
    """`text` made safe for a one-line `#` comment: anything that is not
    printable (newlines, carriage returns, NUL, surrogates) is escaped."""
    out = []
    for ch in text:
        if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)
