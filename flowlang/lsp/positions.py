"""Character offsets into a document ↔ LSP positions.

The LSP counts lines from 0, ends them at `\\n`, `\\r\\n` or `\\r` (and at
nothing else: a form feed or U+2028 is text), and counts characters in the
code units of the negotiated encoding, UTF-16 unless the client offered
another. flowlang's spans are offsets into the Python string, one per code
point."""

from __future__ import annotations

import bisect
import re

_BREAK = re.compile(r"\r\n|\r|\n")


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class LineIndex:
    """One document's lines, to turn offsets into positions and back."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [m.end() for m in _BREAK.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        """(line, character) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        # an offset between \r and \n belongs to the line the pair ends
        start = self.starts[line]
        return line, _units(self.text[start:offset], self.encoding)

    def offset(self, line: int, character: int) -> int:
        """The character offset of a position; a character past the end of
        its line means the line's end, a line past the last the text's end."""
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[max(0, line)]
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        while end > start and self.text[end - 1] in "\r\n":
            end -= 1
        counted = 0
        for i in range(start, end):
            if counted >= character:
                return i
            counted += _units(self.text[i], self.encoding)
        return end
