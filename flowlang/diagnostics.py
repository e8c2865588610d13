"""Diagnostics are data; rendering them (plain, ANSI colour, JSON) is separate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Literal

from .source import SourceFile, Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Label:
    """A secondary span with a note (`the field was dropped here`); `file`
    when the span is in another file than the diagnostic's (an import)."""

    span: Span
    message: str
    file: SourceFile | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None
    labels: tuple[Label, ...] = ()
    file: SourceFile | None = field(default=None, compare=False, repr=False)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def error(
    code: str, message: str, span: Span, hint: str | None = None, labels: tuple[Label, ...] = ()
) -> Diagnostic:
    return Diagnostic(code, "error", message, span, hint, labels)


def warning(
    code: str, message: str, span: Span, hint: str | None = None, labels: tuple[Label, ...] = ()
) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, hint, labels)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.start, d.span.end, d.code, d.message)


def file_order(src: SourceFile):
    """A sort key for the diagnostics of `src` and of the files it imports:
    those of `src` first, then each imported file's, by position."""

    def key(d: Diagnostic) -> tuple:
        other = _file_of(d, src)
        return (other is not src, other.name, *sort_key(d))

    return key


# ---------------------------------------------------------------- rendering

_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;34m"}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"


def render(d: Diagnostic, src: SourceFile, colour: bool = False) -> str:
    """Render like a compiler:

    access.flow:4:15: error[E201]: unknown field `emial` in record Access
      |
    4 |   | anonymize(emial)
      |               ^^^^^ did you mean `email`?
    """

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if colour else text

    src = _file_of(d, src)
    line, col = src.line_col(d.span.start)
    head = (
        f"{paint(f'{src.name}:{line}:{col}:', _BOLD)} "
        f"{paint(f'{d.severity}[{d.code}]', _COLOURS[d.severity])}: "
        f"{paint(d.message, _BOLD)}"
    )
    out = [head]
    out.extend(_snippet(src, d.span, d.hint, paint, primary=True))
    for label in d.labels:
        where = label.file or src
        lline, lcol = where.line_col(label.span.start)
        out.append(f"note: {where.name}:{lline}:{lcol}: {label.message}")
        out.extend(_snippet(where, label.span, None, paint, primary=False))
    return "\n".join(out)


def _file_of(d: Diagnostic, src: SourceFile) -> SourceFile:
    """The file `d` is about: `src`, or an imported file it names. A file is
    one by name, whichever object holds it."""
    return d.file if d.file is not None and d.file.name != src.name else src


def snippet(src: SourceFile, span: Span, note: str | None = None, colour: bool = False) -> str:
    """The source line of `span` with carets under it and `note` after them
    (how `flowc test` shows a failing expectation)."""

    def paint(text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if colour else text

    return "\n".join(_snippet(src, span, note, paint, primary=True))


def _snippet(src, span, hint, paint, primary):
    line, col = src.line_col(span.start)
    end_line, end_col = src.line_col(max(span.start, span.end))
    text = src.line_text(line).replace("\t", " ")
    if end_line != line:
        end_col = len(text) + 1
    width = max(1, end_col - col)
    gutter = " " * len(str(line))
    bar = paint("|", _BLUE)
    caret = ("^" if primary else "-") * width
    marker = " " * (col - 1) + caret + (f" {hint}" if hint else "")
    return [
        f"{gutter} {bar}",
        f"{paint(str(line), _BLUE)} {bar} {text}",
        f"{gutter} {bar} {paint(marker, _COLOURS['error' if primary else 'note'])}",
    ]


def to_json(d: Diagnostic, src: SourceFile) -> dict:
    src = _file_of(d, src)
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(d.span.end)
    return {
        "file": src.name,
        "line": line,
        "column": col,
        "end": {"line": end_line, "column": end_col},
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "hint": d.hint,
    }


def render_all(
    diags: Iterable[Diagnostic], src: SourceFile, fmt: str = "text", colour: bool = False
) -> str:
    diags = sorted(diags, key=file_order(src))
    if fmt == "json":
        return "\n".join(json.dumps(to_json(d, src), ensure_ascii=False) for d in diags)
    return "\n\n".join(render(d, src, colour) for d in diags)
