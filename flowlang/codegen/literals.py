"""The only two ways user text reaches generated code: as a Python literal
(`pyrepr`) or inside a comment (`comment_text`). Identifiers go through
`flowlang.names.python_identifier`."""

from __future__ import annotations

import math
from typing import Any, Callable

from ..stages.spec import EnvRef


def pyrepr(value: Any, function: Callable[[Callable], str] | None = None) -> str:
    """A Python expression that evaluates to `value`.

    Handles the constants a plan can hold: None, bool, int, float (also nan and
    infinities), str (any text, lone surrogates included), tuples, lists, dicts
    with str keys, and EnvRef (resolved at run time by `rt.env`). `function`
    names, in the module, the rule an EnvRef holds its value to."""
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
        return env_code(value, function)
    if isinstance(value, tuple):
        inner = ", ".join(pyrepr(v, function) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(pyrepr(v, function) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{pyrepr(k)}: {pyrepr(v, function)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no literal for {type(value).__name__}")


def env_code(ref: EnvRef, function: Callable[[Callable], str] | None = None) -> str:
    """`rt.env(…)` reading `ref` when the module builds its program: a plain
    text is `rt.env(name, default)`; a typed or checked one says how."""
    code = f"rt.env({pyrepr(ref.name)}, {pyrepr(ref.default)}"
    if ref.type != "str":
        code += f", type={pyrepr(ref.type)}"
    if ref.check is not None:
        assert function is not None, ref
        code += f", check={function(ref.check)}"
        if ref.args:
            code += f", args={pyrepr(ref.args)}"
        code += f", what={pyrepr(ref.what)}"
    elif ref.type != "str":
        code += f", what={pyrepr(ref.what)}"
    return code + ")"


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
