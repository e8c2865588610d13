"""Splitting files read once among `--workers` processes.

The files of a glob are laid end to end, in their sorted order, and the
bytes cut into `count` equal ranges; worker `index` reads range `index`. A
file that can be split (plain lines, JSON lines) contributes the part of it
each range covers; one that cannot (gzip, whose stream only decodes from
its start; CSV, whose quoted records may span lines) goes whole to the
worker whose range holds its first byte. A cut inside a file is moved to
the start of the next line (`align`), the same way for the range ending
there and the one starting there, so every line is read by exactly one
worker: the one whose range holds its first byte.
"""

from __future__ import annotations

import os
from typing import NamedTuple


class Piece(NamedTuple):
    """Bytes `start` to `end` of file `index` (end None: to the file's end)."""

    index: int
    start: int
    end: int | None


def plan(sizes: list[int], splittable: list[bool], index: int, count: int) -> list[Piece]:
    """The pieces worker `index` of `count` reads, in file order; byte
    offsets are raw cuts, to be moved to line starts with `align`."""
    total = sum(sizes)
    bounds = [total * k // count for k in range(count + 1)]
    low, high = bounds[index], bounds[index + 1]
    pieces: list[Piece] = []
    at = 0
    for k, size in enumerate(sizes):
        if not splittable[k] or size == 0:
            owner = min(count - 1, at * count // total) if total else 0
            if owner == index:
                pieces.append(Piece(k, 0, None))
        else:
            start, end = max(low, at), min(high, at + size)
            if start < end:
                pieces.append(Piece(k, start - at, None if end == at + size else end - at))
        at += size
    return pieces


def align(fd: int, offset: int, size: int) -> int:
    """`offset` moved forward to the start of a line: itself at the file's
    start, at its end or just after a newline, else just past the next one."""
    if offset <= 0 or offset >= size:
        return max(0, min(offset, size))
    at = offset - 1
    while at < size:
        block = os.pread(fd, 65536, at)
        if not block:
            return size
        newline = block.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        at += len(block)
    return size


class Bounded:
    """A file read from its current position up to `end`, through `read`."""

    def __init__(self, f, end: int):
        self.f = f
        self.left = end - f.tell()

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        data = self.f.read(min(n, self.left))
        self.left -= len(data)
        return data
