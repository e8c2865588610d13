"""Following files as they grow (`file(..., follow=true)`).

Files are identified by (device, inode), found through a glob that is
rescanned about once a second:

- rotation by rename: the renamed file keeps its identity; it is read to its
  end and closed once it has been out of the glob and quiet for `linger`
  seconds, while the new file at the path is read from its start;
- copytruncate and truncation: a file whose size drops below the read offset
  is read again from its start;
- a checkpoint `{path, dev, inode, offset, head}` per file, saved only when
  the sinks accepted the records up to `offset`, lets a restart resume where
  the last run stopped (a rotated file is found again by its inode in the
  directory; `head`, the file's first bytes, guards against inode reuse).
"""

from __future__ import annotations

import glob
import os
import time
from typing import Any

from . import checkpoint
from .lines import BATCH_BYTES, LineReader, TooLong

HEAD = 64  # bytes of a file's start kept in the checkpoint as its fingerprint


def expand(pattern: str) -> list[str]:
    """The regular files a path or glob names, sorted."""
    pattern = os.path.expanduser(pattern)
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


class Watched:
    """One followed file."""

    def __init__(self, path: str, f: Any, st: os.stat_result, offset: int):
        self.path = path
        self.f = f
        self.key = (st.st_dev, st.st_ino)
        self.reader = LineReader(f, offset)
        self.acked = offset
        self.gone_since: float | None = None
        self.quiet_since = time.monotonic()
        self.prefix = b""  # the file's first bytes, up to HEAD
        self.closed = False

    def fingerprint(self, upto: int) -> str:
        """The hex of the file's first min(HEAD, upto) bytes."""
        want = min(HEAD, upto)
        if len(self.prefix) < want and not self.closed:
            self.prefix = os.pread(self.f.fileno(), HEAD, 0)
        return self.prefix[:want].hex()


def _head_of(path: str, size: int) -> str:
    with open(path, "rb") as f:
        return f.read(min(HEAD, size)).hex()


class Tailer:
    """The followed files of one source, with their checkpoint."""

    def __init__(self, pattern: str, state_path: str, start: str = "beginning",
                 rescan: float = 1.0, linger: float = 2.0):  # fmt: skip
        self.pattern = pattern
        self.state_path = state_path
        self.start = start
        self.rescan_every = rescan
        self.linger = linger
        self.files: dict[tuple[int, int], Watched] = {}
        self.last_scan = 0.0
        self._turn = 0

    # opening

    def open(self) -> None:
        """Open the files the glob names, at their checkpointed offsets (or
        where `start` says when there is no checkpoint), and save the
        starting positions."""
        saved = checkpoint.load(self.state_path)
        entries = (saved or {}).get("files", [])
        paths = expand(self.pattern)
        for entry in entries:
            self._resume(entry, paths)
        for path in paths:
            self._add(path, initial=saved is None)
        self.last_scan = time.monotonic()
        self._save()

    def _resume(self, entry: dict, paths: list[str]) -> None:
        key = (entry.get("dev"), entry.get("inode"))
        candidates = list(paths)
        directory = os.path.dirname(entry.get("path", "")) or "."
        try:
            candidates += [
                os.path.join(directory, n) for n in sorted(os.listdir(directory))
            ]
        except OSError:
            pass
        for path in candidates:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != key or key in self.files:
                continue
            offset = int(entry.get("offset", 0))
            if st.st_size < offset or _head_of(path, offset) != entry.get("head", ""):
                offset = 0  # truncated or a different file on a reused inode
            self._open(path, st, offset)
            return

    def _add(self, path: str, initial: bool = False) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in self.files:
            self.files[(st.st_dev, st.st_ino)].path = path
            return
        # files found later, or not in an existing checkpoint, are new: read them whole
        at_end = self.start == "end" and initial
        self._open(path, st, st.st_size if at_end else 0)

    def _open(self, path: str, st: os.stat_result, offset: int) -> None:
        try:
            f = open(path, "rb")
        except OSError:
            return
        opened = os.fstat(f.fileno())
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            f.close()  # replaced between stat and open: the next scan finds it
            return
        self.files[(st.st_dev, st.st_ino)] = Watched(path, f, st, offset)

    # reading

    def read(self, n: int) -> tuple[Watched, list[bytes | TooLong]] | None:
        """Up to `n` complete lines from one file that has some, or None."""
        now = time.monotonic()
        if now - self.last_scan >= self.rescan_every:
            self._scan(now)
        watched = list(self.files.values())
        for i in range(len(watched)):
            w = watched[(self._turn + i) % len(watched)]
            if w.closed:
                continue
            self._check_truncation(w)
            final = w.gone_since is not None and now - w.gone_since >= self.linger
            lines = w.reader.read(n, final=final, max_bytes=BATCH_BYTES)
            if lines:
                self._turn = (self._turn + i + 1) % max(len(watched), 1)
                w.quiet_since = now
                return w, lines
            if final and now - w.quiet_since >= self.linger:
                self._close(w)
        return None

    def _check_truncation(self, w: Watched) -> None:
        try:
            size = os.fstat(w.f.fileno()).st_size
        except OSError:
            return
        if size < w.reader.offset:
            w.reader.reset(0)
            w.prefix = b""

    def _scan(self, now: float) -> None:
        self.last_scan = now
        seen = set()
        for path in expand(self.pattern):
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            seen.add(key)
            if key not in self.files:
                self._add(path)
            else:
                w = self.files[key]
                w.path, w.gone_since = path, None
        for key, w in self.files.items():
            if key not in seen and w.gone_since is None:
                w.gone_since = now

    def _close(self, w: Watched) -> None:
        w.fingerprint(w.reader.offset)
        w.closed = True
        w.f.close()
        if w.acked >= w.reader.offset:
            del self.files[w.key]
            self._save()

    # checkpoints

    def acked(self, w: Watched, offset: int) -> None:
        """Records up to `offset` in `w` were accepted: save the checkpoint."""
        w.acked = offset
        if w.closed and offset >= w.reader.offset:
            self.files.pop(w.key, None)
        self._save()

    def _save(self) -> None:
        entries = []
        for w in self.files.values():
            entry = {
                "path": w.path,
                "dev": w.key[0],
                "inode": w.key[1],
                "offset": w.acked,
            }
            entry["head"] = w.fingerprint(w.acked)
            entries.append(entry)
        checkpoint.save(self.state_path, {"pattern": self.pattern, "files": entries})

    def close(self) -> None:
        for w in self.files.values():
            if not w.closed:
                w.f.close()
                w.closed = True
