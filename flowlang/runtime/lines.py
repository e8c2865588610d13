"""Reading lines with bounded memory.

A line longer than `max_line` bytes is never held whole: readers yield a
`TooLong` marker with the line's first bytes and skip to the next newline.
Lines are returned without their newline.

- `LineReader` reads a file line by line and knows the byte offset just past
  what it returned (what follow-mode checkpoints store);
- `LineSplitter` splits a stream of chunks (stdin, whole files read once),
  which is faster when no offsets are needed.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

MAX_LINE = 1 << 20  # 1 MiB
HEAD_BYTES = 4096  # how much of an over-long line an error record keeps
# Batches of whole-file input are cut by size as well as by count: measured
# on a where/set/drop pipeline, 16 KiB batches ran about twice as fast as
# 64 KiB ones, whose records no longer fit in the CPU cache between stages.
BATCH_BYTES = 1 << 14
MIN_LINES = 64  # very long lines: not fewer records than this in a batch
BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark: dropped where a file or stream starts

Line = "bytes | TooLong"


class TooLong:
    """A line over the limit; `head` is its beginning."""

    __slots__ = ("head",)

    def __init__(self, head: bytes):
        self.head = head


class LineReader:
    """Lines of one open binary file, from `offset` on."""

    def __init__(self, f: BinaryIO, offset: int = 0, max_line: int = MAX_LINE):
        self.f = f
        self.offset = offset
        self.max_line = max_line
        self.discarding = False  # inside an over-long line, skipping to its end
        self.restarts = 0  # how often the file was truncated under us
        self.last_start = offset  # where the last `read` began
        self.bom = False  # a byte-order mark opening the file was skipped
        if offset:
            f.seek(offset)

    def reset(self, offset: int = 0) -> None:
        """Continue from `offset` (after truncation)."""
        self.f.seek(offset)
        self.offset = offset
        self.discarding = False
        self.bom = False
        self.restarts += 1

    def read(self, n: int, final: bool, max_bytes: int | None = None) -> list:
        """Up to `n` lines (and, past MIN_LINES lines, about `max_bytes`). A
        trailing line without newline is returned only when `final` (the file
        will not grow); otherwise it is left unread."""
        out: list = []
        append = out.append
        readline = self.f.readline
        limit = self.max_line + 1
        offset = start = self.last_start = self.offset
        budget = max_bytes if max_bytes is not None else float("inf")
        while len(out) < n and (offset - start < budget or len(out) < MIN_LINES):
            line = readline(limit)
            if not line:
                break
            if not offset and line.startswith(BOM):
                # a byte-order mark opens the file, not its first record: read
                # that record again from after the mark, under the same bound
                offset = len(BOM)
                self.bom = True
                self.f.seek(offset)
                continue
            if line[-1] == 10:  # b"\n"
                offset += len(line)
                if self.discarding:
                    self.discarding = False
                    continue
                append(line[:-1])
                continue
            if len(line) == limit:
                offset += len(line)
                if not self.discarding:
                    append(TooLong(line[:HEAD_BYTES]))
                    self.discarding = True
                continue
            if self.discarding or final:
                offset += len(line)
                if not self.discarding:
                    append(line)
                continue
            self.f.seek(offset)  # a partial line: wait for the rest
            break
        self.offset = offset
        return out


class LineSplitter:
    """Lines from a stream of chunks, with the same bound."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.buf = b""
        self.discarding = False
        self.started = False  # past a byte-order mark at the start of the stream

    def feed(self, chunk: bytes) -> list:
        """The complete lines that `chunk` finishes."""
        if not self.started:
            data = self.buf + chunk
            if len(data) < len(BOM) and BOM.startswith(data):
                self.buf = data  # too short to tell yet
                return []
            self.started, self.buf = True, b""
            chunk = data[len(BOM) :] if data.startswith(BOM) else data
        parts = (self.buf + chunk if self.buf else chunk).split(b"\n")
        self.buf = parts.pop()
        if parts and self.discarding:
            self.discarding = False
            del parts[0]
        if parts and max(map(len, parts)) > self.max_line:
            parts = [TooLong(p[:HEAD_BYTES]) if len(p) > self.max_line else p for p in parts]
        if len(self.buf) > self.max_line:
            if not self.discarding:
                parts.append(TooLong(self.buf[:HEAD_BYTES]))
            self.discarding = True
            self.buf = b""
        return parts

    def finish(self) -> list:
        """The last line when the stream ends without a newline."""
        rest, self.buf = self.buf, b""
        discarding, self.discarding = self.discarding, False
        return [rest] if rest and not discarding else []


def line_batches(
    f: BinaryIO,
    n: int,
    max_line: int = MAX_LINE,
    batch_bytes: int = BATCH_BYTES,
    min_lines: int = MIN_LINES,
    at_start: bool = True,
) -> Iterator[list]:
    """A whole file's lines in lists of at most `n` lines, cut after about
    `batch_bytes` of input (but not before `min_lines` lines): a batch that
    small stays in the CPU cache while every stage of a segment runs over it.
    `at_start`: `f` is read from the file's start, where a byte-order mark
    is dropped (not from a line in its middle)."""
    splitter = LineSplitter(max_line)
    splitter.started = not at_start
    pending: list = []
    while True:
        data = f.read(batch_bytes)
        pending += splitter.feed(data) if data else splitter.finish()
        if data and len(pending) < min_lines:
            continue
        for i in range(0, len(pending), n):
            yield pending[i : i + n]
        pending = []
        if not data:
            break
