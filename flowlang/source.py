"""Source text and spans (byte-free: offsets are indexes into the str)."""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range [start, end) of character offsets in one source file."""

    start: int
    end: int

    def to(self, other: "Span") -> "Span":
        return Span(min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(0, 0)


@dataclass(frozen=True)
class SourceFile:
    """A named text; knows how to turn offsets into 1-based line/column."""

    name: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r")

    @property
    def line_count(self) -> int:
        return len(self._line_starts)


class Unreadable(Exception):
    """A `.flow` file that cannot be read as source text; the message says why."""


def read_file(path: str | os.PathLike[str]) -> SourceFile:
    """The `.flow` file at `path`, named as given. Every command reads source
    files through here, so a file gets one answer: source text is UTF-8, and
    a file that is not is refused, naming the line and column of the first
    byte that is not (no decoding fallback, which would report it as some
    other error further on)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        raise Unreadable(
            f"cannot read {path}: not UTF-8 text (line {line}, column {column})"
        ) from None
    return SourceFile(str(path), text)
