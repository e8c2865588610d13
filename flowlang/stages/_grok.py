"""grok: Logstash's named patterns (`%{IP:client}`) expanded into one RE2 regex.

The definitions are Logstash's legacy set (`grok_patterns/`, Apache-2.0), read
as Logstash writes them: `NAME regex` per line, `#` comments. Logstash matches
with Oniguruma; RE2 lacks some of its constructs, so each definition is
rewritten as it is expanded:

- `(?>…)` atomic groups become `(?:…)`, and possessive quantifiers (`*+`,
  `++`, `?+`, `{n,m}+`) plain greedy ones: RE2 does not backtrack, so the
  difference is only in which of several matches is found;
- `(…)` groups that are not grok captures become `(?:…)` (named captures
  only, as Logstash and VRL capture), and `(?<name>…)` / `(?P<name>…)`
  become captures named `name`;
- `[[:alnum:]]` nested inside a bracket class becomes `[:alnum:]`;
- lookaround (`(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`), which RE2 cannot run,
  is dropped from the shipped definitions: `BASE10NUM`'s and `IPV4`'s digit
  guards, `QUOTEDSTRING`'s `(?<!\\)` and `TIME`'s `(?![0-9])` (and its
  `(?!<[0-9])`, a typo in the original), so these match a little more than
  in Logstash; in a user's pattern it is an error.

Both the checker (for the output type and its diagnostics) and the runtime
call `expand`, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

PATTERN_FILES = ("grok-patterns", "httpd")
TYPES = ("int", "float")  # `%{NUMBER:bytes:int}`; without a suffix a capture is text
_REFERENCE = re.compile(r"%\{(\w+)(?::([^:{}]*))?(?::([^:{}]*))?\}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DEFINITION = re.compile(r"(\w+)[ \t]+(.*)\Z")
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


class GrokError(ValueError):
    """A pattern that cannot be expanded: `message` and a `hint` (or None)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Definition:
    regex: str
    origin: str = ""  # `file:line` of a user's definition; "" for the pattern itself
    shipped: bool = False  # one of Logstash's: its lookaround is dropped, not an error


@dataclass(frozen=True)
class Grok:
    """An expanded pattern: the RE2 regex, the field each of its groups
    captures (in group order; a name may repeat), and the fields with their
    types (`str`, `int`, `float`) in first-capture order."""

    regex: str
    groups: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]


def read_definitions(text: str, origin: str) -> dict[str, Definition]:
    """Definitions of a patterns file in Logstash's format; raises GrokError
    naming the first line that is not `NAME regex`."""
    found: dict[str, Definition] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _DEFINITION.match(line)
        if match is None:
            raise GrokError(
                f"{origin}:{number}: expected `NAME regex`, got {line[:60]!r}",
                "a pattern name is letters, digits and `_`, then blanks, then its regex",
            )
        found[match.group(1)] = Definition(match.group(2), f"{origin}:{number}")
    return found


@lru_cache(maxsize=1)
def builtin_definitions() -> dict[str, Definition]:
    """The shipped definitions (Logstash's legacy `grok-patterns` and `httpd`)."""
    from importlib.resources import files

    folder = files(__package__).joinpath("grok_patterns")
    found: dict[str, Definition] = {}
    for name in PATTERN_FILES:
        text = folder.joinpath(name).read_text(encoding="utf-8")
        for key, definition in read_definitions(text, name).items():
            found[key] = Definition(definition.regex, definition.origin, True)
    return found


def expand(pattern: str, extra: tuple[tuple[str, str, str], ...] = ()) -> Grok:
    """`pattern` with every `%{NAME}` expanded, recursively, from the shipped
    definitions and `extra` (name, regex, origin), which override them.
    Raises GrokError for an unknown name, a cycle, a bad capture name or type,
    lookaround in a user's regex, or text RE2 rejects."""
    definitions = dict(builtin_definitions())
    for name, regex, origin in extra:
        definitions[name] = Definition(regex, origin)
    expander = _Expander(definitions)
    regex = expander.translate(pattern, Definition(pattern), ())
    _compiles(regex, expander, definitions)
    return Grok(regex, tuple(expander.groups), tuple(expander.types.items()))


def _compiles(regex: str, expander: _Expander, definitions: dict[str, Definition]) -> None:
    from .parse import compile_regex

    try:
        compile_regex(regex)
    except ValueError as whole:
        # name the definition at fault when one alone does not compile
        for name in expander.used:
            part = definitions[name]
            try:
                compile_regex(_Expander(definitions).translate(part.regex, part, (name,)))
            except ValueError as exc:
                raise GrokError(
                    f"pattern {name}{_where(part)} is not valid RE2: {exc}", _RE2
                ) from None
            except GrokError:
                continue
        raise GrokError(f"the expanded pattern is not valid RE2: {whole}", _RE2) from None


_RE2 = "grok patterns are RE2: no backreferences, no lookaround"
_UNKNOWN_HINT = (
    "the shipped patterns are Logstash's legacy set; define others in a file "
    'given as patterns="file"'
)


class _Expander:
    def __init__(self, definitions: dict[str, Definition]) -> None:
        self.definitions = definitions
        self.groups: list[str] = []
        self.types: dict[str, str] = {}
        self.used: list[str] = []

    def translate(self, text: str, source: Definition, stack: tuple[str, ...]) -> str:
        """`text` (the regex of `source`) as RE2, references expanded."""
        out: list[str] = []
        opened: list[int | None] = []  # per open group: where a dropped one began
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "\\":
                out.append(text[i : i + 2])
                i += 2
            elif c == "[":
                end, cls = _bracket(text, i)
                out.append(cls)
                i = end
            elif c == "%" and text.startswith("%{", i):
                ref = _REFERENCE.match(text, i)
                if ref is None:
                    raise GrokError(
                        f"`{text[i : i + 30]}` is not a pattern reference{_where(source)}",
                        "write %{NAME}, %{NAME:field} or %{NAME:field:int}",
                    )
                out.append(self._reference(ref, source, stack))
                i = ref.end()
            elif c == "(":
                i = self._open(text, i, source, out, opened)
            elif c == ")":
                start = opened.pop() if opened else None
                if start is not None:
                    del out[start:]
                else:
                    out.append(")")
                i += 1
            elif c in "*+?}":
                out.append(c)
                i += 1
                if i < n and text[i] == "+":  # possessive: plain greedy in RE2
                    i += 1
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def _open(self, text: str, i: int, source: Definition, out: list, opened: list) -> int:
        for look in _LOOKAROUND:
            if text.startswith(look, i):
                if not source.shipped:
                    raise GrokError(
                        f"lookaround `{look}…)` is not supported by RE2{_where(source)}",
                        _RE2,
                    )
                opened.append(len(out))  # dropped at its `)`
                return i + len(look)
        opened.append(None)
        if text.startswith("(?>", i):
            out.append("(?:")
            return i + 3
        named = re.compile(r"\(\?P?<(\w+)>").match(text, i)
        if named is not None:
            self._capture(named.group(1), "str", source)
            out.append("(")
            return named.end()
        if text.startswith("(?", i):
            out.append("(?")
            return i + 2
        out.append("(?:")
        return i + 1

    def _reference(self, ref: re.Match, source: Definition, stack: tuple[str, ...]) -> str:
        name, field, kind = ref.groups()
        field = field or None  # `%{WORD:}` keeps nothing, as `%{WORD}`
        definition = self.definitions.get(name)
        if definition is None:
            from difflib import get_close_matches

            if name.upper() in self.definitions:
                near = [name.upper()]
            else:
                near = get_close_matches(name, list(self.definitions), n=1)
            hint = f"did you mean %{{{near[0]}}}?" if near else _UNKNOWN_HINT
            raise GrokError(f"unknown grok pattern %{{{name}}}{_where(source)}", hint)
        if name in stack:
            loop = " → ".join((*stack[stack.index(name) :], name))
            raise GrokError(f"grok pattern {name} refers to itself: {loop}")
        if name not in self.used:
            self.used.append(name)
        if field is None:
            if kind is not None:
                raise GrokError(f"%{{{name}::{kind}}} has a type but no field{_where(source)}")
            return "(?:" + self.translate(definition.regex, definition, (*stack, name)) + ")"
        self._capture(field, kind or "str", source)
        return "(" + self.translate(definition.regex, definition, (*stack, name)) + ")"

    def _capture(self, field: str, kind: str, source: Definition) -> None:
        if not _FIELD.match(field):
            raise GrokError(
                f"capture name `{field}` is not a field name{_where(source)}",
                "a capture name is one identifier (letters, digits, `_`); "
                "nested fields (`a.b`, `[a][b]`) are made with `set` after the parse",
            )
        if kind not in ("str", *TYPES):
            raise GrokError(
                f"unknown type `{kind}` for capture `{field}`{_where(source)}",
                "the types are int and float; without one a capture is text",
            )
        held = self.types.setdefault(field, kind)
        if held != kind:
            raise GrokError(f"capture `{field}` is both {held} and {kind}")
        self.groups.append(field)


def _where(source: Definition) -> str:
    return f" (in {source.origin})" if source.origin else ""


def _bracket(text: str, i: int) -> tuple[int, str]:
    """The bracket class starting at `text[i]`: (index after it, its RE2 text).
    `[[:alnum:]]` nested inside a class (Oniguruma) becomes `[:alnum:]`."""
    out = ["["]
    j, n = i + 1, len(text)
    if j < n and text[j] == "^":
        out.append("^")
        j += 1
    if j < n and text[j] == "]":
        out.append("\\]")
        j += 1
    while j < n:
        c = text[j]
        if c == "\\":
            out.append(text[j : j + 2])
            j += 2
        elif c == "[":
            posix = re.compile(r"\[(\[:\^?\w+:\])\]|\[:\^?\w+:\]").match(text, j)
            if posix is None:
                out.append("\\[")
                j += 1
            else:
                out.append(posix.group(1) or posix.group())
                j = posix.end()
        elif c == "]":
            out.append("]")
            return j + 1, "".join(out)
        else:
            out.append(c)
            j += 1
    raise GrokError(f"unclosed bracket class in `{text[i : i + 30]}`")
