"""Reading gzip-compressed files as the bytes they hold (standard library
`zlib`, no other dependency).

A file is read as gzip when its name ends in `.gz` or it starts with the
gzip magic bytes `1f 8b`. Every member of a multi-member file is read, in
order, and zero bytes padding the end (as `gzip` allows) are skipped.

`GzipReader` never raises on bad data: it hands out every byte it could
decompress, then stops and keeps the reason in `damage` (a member cut short,
a checksum that does not match, data that is not gzip). Output is made
`CHUNK` bytes at a time from at most `CHUNK` compressed bytes, so a highly
compressed file never sits in memory whole. Reads go through `os.pread` at
the reader's own position, so two readers can share one descriptor.
"""

from __future__ import annotations

import os
import zlib
from typing import Iterator

from .lines import BATCH_BYTES, LineReader

MAGIC = b"\x1f\x8b"
CHUNK = 1 << 16
_GZIP = 16 + zlib.MAX_WBITS  # zlib reads the gzip header and trailer (CRC-32, length)


def is_gzip(path: str, fd: int) -> bool:
    """Whether the file open at `fd` is read as gzip: by its name or its first bytes."""
    return path.lower().endswith(".gz") or os.pread(fd, len(MAGIC), 0) == MAGIC


class GzipReader:
    """The uncompressed stream of the gzip file open at `fd`.

    `read(n)` serves whole-file reading; `readline`, `seek` and `tell` let a
    `lines.LineReader` follow it, with offsets in the uncompressed stream.
    While `growing` is true (a followed file that may still be being
    written, as by logrotate's compress step) a stream that stops inside a
    member waits for more bytes; once it is false that is damage, but damage
    that can be undone (`truncated`): should the file grow after all, the
    damage is withdrawn and reading goes on where it stopped. Each damage
    set has a new `damages` number. A followed file that is still empty is
    waited for, however long."""

    def __init__(self, fd: int, path: str, growing: bool = False):
        self.fd = fd
        self.path = path
        self.growing = growing
        # a followed file still empty may be one its writer has just created
        self.empty_is_unwritten = growing
        self.damages = 0  # how many times damage was set
        self.rewind()

    def rewind(self) -> None:
        """Read the file again from its start (it was truncated or replaced)."""
        self._d = None  # the decompressor of the member being read; None between members
        self._input = b""  # compressed bytes read, not yet decompressed
        self.consumed = 0  # compressed bytes read from the file
        self.members = 0  # members read to their end
        self.produced = 0  # uncompressed bytes made so far
        self.complete = False  # the last member ended where the file ends
        self.damage: str | None = None
        self.truncated = False  # the damage is the file's end inside a member
        # uncompressed bytes from offset `_base` on, for readline and seek;
        # `_pos` is the read position in it, `_keep` the start of the last line
        self._data = b""
        self._base = self._pos = self._keep = 0

    @property
    def finished(self) -> bool:
        """Nothing more will come out: the stream ended, or was damaged."""
        return self.complete or self.damage is not None

    def at_end(self) -> bool:
        """Finished, and every line made has been read (of a file cut short,
        all but the line it cuts: `rest`)."""
        if not self.finished:
            return False
        rest = self.rest()
        return not rest or (self.truncated and b"\n" not in rest)

    def rest(self) -> bytes:
        """What was made and not read: the line a file cut short ends in."""
        return self._data[self._pos :]

    def _fail(self, reason: str, truncated: bool = False) -> None:
        self.damage = (
            f"{self.path}: damaged gzip data after {self.produced} uncompressed bytes: {reason}"
        )
        self.damages += 1
        self.truncated = truncated

    def _pread(self) -> bool:
        chunk = os.pread(self.fd, CHUNK, self.consumed)
        self.consumed += len(chunk)
        self._input += chunk
        return bool(chunk)

    def _more(self, n: int) -> bytes:
        """Up to `n` more uncompressed bytes; b"" when there are none (now)."""
        if self.truncated and os.fstat(self.fd).st_size > self.consumed:
            # it was still being written: wait for it again as it grows
            self.damage, self.truncated, self.growing = None, False, True
        while not self.finished:
            if self._d is None:  # between members
                if self.members:
                    self._input = self._input.lstrip(b"\0")  # padding
                if not self._input:
                    if self._pread():
                        continue
                    if self.members or not (self.growing or self.empty_is_unwritten):
                        self.complete = True  # read once, an empty file holds nothing
                    return b""
                self._d = zlib.decompressobj(_GZIP)
            before = self._d.copy()
            try:
                out = self._d.decompress(self._input, n)
            except zlib.error:
                return self._salvage(before, n)
            if self._d.eof:
                self._input, self._d = self._d.unused_data, None
                self.members += 1
            else:
                self._input = self._d.unconsumed_tail
            if out:
                self.produced += len(out)
                return out
            if self._d is not None and not self._input and not self._pread():
                if not self.growing:
                    self._fail("the file ends inside a gzip member (truncated)", truncated=True)
                return b""
        return b""

    def _salvage(self, d, n: int) -> bytes:
        """The bytes `_input` decompresses to before the damage in it (zlib
        gives nothing of a call that fails): `d`, the decompressor as it was
        before, is fed one byte at a time up to the failing one."""
        out = bytearray()
        data = self._input
        for i in range(len(data)):
            try:
                out += d.decompress(data[i : i + 1])
            except zlib.error as exc:
                self.produced += len(out)
                self._fail(str(exc).rpartition(": ")[2])
                return bytes(out)
            if d.eof or len(out) >= n:  # not damaged after all
                self._d, self._input = d, data[i + 1 :]
                if d.eof:
                    self._input, self._d = d.unused_data + self._input, None
                    self.members += 1
                self.produced += len(out)
                return bytes(out)
        self._d, self._input = d, b""  # pragma: no cover - the whole input failed a moment ago
        self.produced += len(out)
        return bytes(out)

    def read(self, n: int = CHUNK) -> bytes:
        """Up to `n` uncompressed bytes; b"" at the end or at damage."""
        if self._pos < len(self._data):
            out = self._data[self._pos : self._pos + n]
            self._pos += len(out)
            return out
        return self._more(n)

    def readline(self, limit: int) -> bytes:
        """The bytes up to and including the next newline, at most `limit`
        of them, or what there is before the stream stops."""
        self._keep = self._pos
        while True:
            i = self._data.find(b"\n", self._pos, self._pos + limit)
            if i >= 0:
                end = i + 1
                break
            if len(self._data) - self._pos >= limit:
                end = self._pos + limit
                break
            more = self._more(CHUNK)
            if not more:
                end = len(self._data)
                break
            keep = self._keep
            self._data = self._data[keep:] + more
            self._base += keep
            self._pos -= keep
            self._keep = 0
        line = self._data[self._pos : end]
        self._pos = end
        return line

    def tell(self) -> int:
        return self._base + self._pos

    def seek(self, offset: int) -> None:
        """Go to `offset` of the uncompressed stream: back to the start of
        the last line read at most, or forward (decompressing what lies
        between); a stream shorter than `offset` stops at its end."""
        if offset < self._base + self._keep:
            self.rewind()
        while offset > self._base + len(self._data):
            more = self._more(CHUNK)
            if not more:
                self._pos = self._keep = len(self._data)
                return
            self._base += len(self._data)
            self._data = more
        self._pos = self._keep = offset - self._base

    def first_bytes(self, n: int) -> bytes:
        """The stream's first `n` bytes (or fewer), read apart from this reader."""
        other = GzipReader(self.fd, self.path)
        out = bytearray()
        while len(out) < n and (more := other.read(n - len(out))):
            out += more
        return bytes(out)


def gzip_line_batches(gz: GzipReader, n: int) -> Iterator[list]:
    """The lines of a whole gzip file in lists of at most `n` (as
    `lines.line_batches` gives a plain file's); a last line that a file cut
    short ends in is not among them but left in `gz.rest()`."""
    reader = LineReader(gz)
    while True:
        lines = reader.read(n, final=gz.finished and not gz.truncated, max_bytes=BATCH_BYTES)
        if lines:
            yield lines
        elif gz.at_end():
            return
