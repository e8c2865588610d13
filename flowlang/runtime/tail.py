"""Following files as they grow (`file(..., follow=true)`).

Files are identified by (device, inode), found through a glob that is
rescanned about once a second, and, where inotify is available, through a
watch on the glob's directory (`dirwatch`): a file that comes to a followed
name is opened as soon as the kernel reports it, and its descriptor kept, so
a file that sits at the path for a moment is read all the same. A file that
came and was renamed again before the report was handled is found at its
new name by following the renames the watch reported.

- rotation by rename: the renamed file keeps its identity; it is read
  through its descriptor to its end, before the file now at the path, and
  closed once it has been out of the glob and quiet for `linger` seconds,
  while the new file at the path is read from its start;
- copytruncate and truncation: before every read the file's first bytes are
  compared with its fingerprint (the first `HEAD` bytes read from it, as
  Filebeat and Vector do); a file whose size dropped below the read offset,
  or whose first bytes changed (truncated and written again past the old
  offset between two reads), is read again from its start;
- a checkpoint `{path, dev, inode, offset, head}` per file, saved only when
  the sinks accepted the records up to `offset`, lets a restart resume where
  the last run stopped (a rotated file is found again by its inode in the
  directory; `head`, the fingerprint, guards against inode reuse and files
  rewritten while no run was reading them).

A gzip file (`.gz`, or starting with the gzip magic bytes; `gzipped`) is
read once, whole, as complete: it is not followed for growth once its
stream has ended. Its offsets are of the uncompressed stream and its
fingerprint is of its compressed first bytes; a restart skips the
uncompressed bytes acknowledged, and one read to its end and acknowledged
is marked `complete` in the checkpoint and not read again. One that ends
inside its stream is waited for while it grows; quiet for `linger`, it is
reported damaged, and read on should it grow after all.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import time
from typing import Any

from . import checkpoint
from .dirwatch import CREATED, DELETED, MOVED_FROM, MOVED_TO, DirWatch
from .gzipped import MAGIC, GzipReader
from .lines import BATCH_BYTES, BOM, LineReader, TooLong

# Bytes of a file's start that identify it (Filebeat's fingerprint length).
# Two contents with the same first HEAD bytes are taken for one file that grew.
HEAD = 1024


def owner(key: tuple[int, int], count: int) -> int:
    """The worker (of `count`, under `--workers`) that follows the file with
    this (device, inode): it stays the same when the file is renamed."""
    return (key[0] * 1_000_003 + key[1]) % count


def worker_state(state_path: str, index: int) -> str:
    """The checkpoint worker `index` keeps beside the one process's `state_path`."""
    stem, ext = os.path.splitext(state_path)
    return f"{stem}.w{index}{ext}"


def _worker_states(state_path: str) -> list[str]:
    stem, ext = os.path.splitext(state_path)
    return sorted(glob.glob(glob.escape(stem) + ".w*" + ext))


def _load_all(state_path: str) -> dict | None:
    """The checkpoint of `state_path` and of every worker's, as one document
    (None: there is none). A file in two of them (a reshard cut short) takes
    the smaller offset: read again rather than skipped."""
    found = None
    by_key: dict = {}
    for path in [state_path, *_worker_states(state_path)]:
        saved = checkpoint.load(path)
        if saved is None:
            continue
        found = found or saved
        for entry in saved.get("files", []):
            key = (entry.get("dev"), entry.get("inode"))
            known = by_key.get(key)
            if known is None or int(entry.get("offset", 0)) < int(known.get("offset", 0)):
                by_key[key] = entry
    if found is None:
        return None
    return {"pattern": found.get("pattern"), "files": list(by_key.values())}


def reshard(state_path: str, count: int) -> None:
    """Before `count` workers follow the files: deal the checkpointed files
    out to the workers' checkpoints (by `owner`), whatever number of
    processes wrote them, and remove the others. Each step replaces a whole
    file, and a file is dropped from its old checkpoint only once written
    to its new one, so a crash in between leaves it in two (same offset)."""
    saved = _load_all(state_path)
    if saved is None:
        return
    shares: list[list] = [[] for _ in range(count)]
    for entry in saved["files"]:
        shares[owner((entry.get("dev"), entry.get("inode")), count)].append(entry)
    for index, entries in enumerate(shares):
        checkpoint.save(
            worker_state(state_path, index), {"pattern": saved["pattern"], "files": entries}
        )
    keep = {worker_state(state_path, i) for i in range(count)}
    for path in [state_path, *_worker_states(state_path)]:
        if path not in keep:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def expand(pattern: str) -> list[str]:
    """The regular files a path or glob names, sorted."""
    pattern = os.path.expanduser(pattern)
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


class Watched:
    """One followed file."""

    def __init__(
        self,
        path: str,
        f: Any,
        st: os.stat_result,
        offset: int,
        prefix: bytes,
        gzip: bool | None = None,
        complete: bool = False,
    ):
        self.path = path
        self.f = f
        self.key = (st.st_dev, st.st_ino)
        # a gzip file's uncompressed stream; `sniffing` while a file too
        # short to tell may still turn out to start with the gzip magic bytes
        self.gz: GzipReader | None = None
        self.sniffing = gzip is None
        self.damage_told = 0  # the number (`GzipReader.damages`) of the damage last told
        if gzip:
            self.gz = GzipReader(f.fileno(), path, growing=True)
            self.gz.complete = complete  # read to its end by an earlier run
        self.reader = LineReader(self.gz or f, offset)
        self.acked = offset
        self.gone_since: float | None = None
        self.quiet_since = time.monotonic()
        # the file's first min(HEAD, reader.offset) bytes, as they were read:
        # it grows with the offset, so a file short when first read is
        # recognised by as many bytes as it has once it grew
        self.prefix = prefix
        self.closed = False

    def fingerprint(self, upto: int) -> str:
        """The hex of the file's first min(HEAD, upto) bytes (of a gzip
        file: its first compressed bytes read so far, up to HEAD)."""
        return (self.prefix if self.gz else self.prefix[: min(HEAD, upto)]).hex()

    def sniff(self) -> None:
        """Read the file as gzip if it starts with the magic bytes; decided
        once it has two bytes, before any line of it was read."""
        if self.reader.offset:
            self.sniffing = False
            return
        start = os.pread(self.f.fileno(), len(MAGIC), 0)
        if len(start) == len(MAGIC):
            self.sniffing = False
            if start == MAGIC:
                self.gz = GzipReader(self.f.fileno(), self.path, growing=True)
                self.reader = self._new_reader(self.gz)

    def _new_reader(self, f: Any) -> LineReader:
        """A reader of `f` from its start, one restart on from the last, so
        an acknowledgement of lines read before can be told apart."""
        reader = LineReader(f, 0)
        reader.restarts = self.reader.restarts
        reader.reset(0)
        return reader

    def first_bytes(self, n: int) -> bytes:
        """The first `n` bytes of what the file holds (uncompressed)."""
        if self.gz is not None:
            return self.gz.first_bytes(n)
        return os.pread(self.f.fileno(), n, 0)

    def damage_due(self) -> bool:
        """A gzip file's damage is to be told: every line read before it was."""
        gz = self.gz
        return (
            gz is not None
            and gz.damage is not None
            and self.damage_told != gz.damages
            and gz.at_end()
        )

    def take_damage(self) -> tuple[str, bytes] | None:
        """Why a gzip file's stream stopped early, and the line cut short by
        the end of a truncated file, once, after every line read before."""
        if not self.damage_due():
            return None
        self.damage_told = self.gz.damages
        return self.gz.damage, self.gz.rest()

    @property
    def read_whole(self) -> bool:
        """A gzip file read to its end, and its damage, if any, told: it is
        not read again by a later run. A file cut short is not read whole:
        should it grow (it was still being written or copied), the next run
        reads on."""
        gz = self.gz
        return (
            gz is not None
            and gz.at_end()
            and not gz.truncated
            and (gz.damage is None or self.damage_told == gz.damages)
        )

    def restart(self) -> None:
        """The file was truncated or rewritten: read it again from its start.
        What it holds now may be plain text where gzip was, or gzip where
        text was: unless its name says gzip, it is sniffed again."""
        if self.gz is not None and self.path.lower().endswith(".gz"):
            self.gz.rewind()
            self.reader.reset(0)
        else:
            self.gz = None
            self.sniffing = True
            self.reader = self._new_reader(self.f)
        self.prefix = b""
        self.acked = 0

    def grow_prefix(self, lines: list) -> None:
        """Extend the fingerprint with the bytes `lines` came from (the last
        read, from `reader.last_start` to `reader.offset`)."""
        want = min(HEAD, self.reader.offset) - len(self.prefix)
        if want <= 0:
            return
        # the file's bytes, not only its lines: a byte-order mark the reader
        # skipped is the start of the file (and of what a restart compares)
        got = bytearray(BOM if not self.prefix and self.reader.bom else b"")
        for line in lines:
            if isinstance(line, TooLong):
                got += line.head  # an over-long line's head is longer than HEAD
                break
            got += line
            got += b"\n"  # one too many after a last line without newline: cut below
            if len(got) >= want:
                break
        self.prefix += bytes(got[:want])


def _read_head(f: Any, n: int) -> bytes:
    return os.pread(f.fileno(), min(HEAD, n), 0)


class Tailer:
    """The followed files of one source, with their checkpoint."""

    def __init__(
        self,
        pattern: str,
        state_path: str,
        start: str = "beginning",
        rescan: float = 1.0,
        linger: float = 2.0,
        watch: bool = True,
        share: tuple[int, int] | None = None,
    ):
        self.pattern = pattern
        # under `--workers`: (index, count); this worker follows the files it
        # is the `owner` of, and keeps their checkpoint in a file of its own
        self.share = share
        if share is not None:
            state_path = worker_state(state_path, share[0])
        self.state_path = state_path
        self.start = start
        self.rescan_every = rescan
        self.linger = linger
        self.files: dict[tuple[int, int], Watched] = {}
        self.last_scan = 0.0
        self._turn = 0
        # the directory the names live in, and the last part of the pattern;
        # a glob whose directories are patterns too is only polled
        self._dir, self._base = os.path.split(os.path.expanduser(pattern))
        self._use_watch = watch and not glob.has_magic(self._dir)
        self.watch: DirWatch | None = None
        self._moving: dict[int, str] = {}  # rename cookie -> the name it left
        # names that may hold a file that came to a followed name (on_changes)
        self._pending: dict[str, None] = {}

    # opening

    def open(self) -> None:
        """Open the files the glob names, at their checkpointed offsets (or
        where `start` says when there is no checkpoint), and save the
        starting positions."""
        if self._use_watch:  # first, so that nothing created from now on is missed
            self.watch = DirWatch.create(self._dir or ".")
        if self.share is None:  # one process takes over what workers left
            saved = _load_all(self.state_path)
        else:  # dealt out by `reshard` before the workers started
            saved = checkpoint.load(self.state_path)
        entries = (saved or {}).get("files", [])
        paths = expand(self.pattern)
        for entry in entries:
            self._resume(entry, paths)
        for path in paths:
            self._add(path, initial=saved is None)
        self.last_scan = time.monotonic()
        self._save()
        if self.share is None:
            for path in _worker_states(self.state_path):
                os.remove(path)  # all its files are in this process's checkpoint now

    def _resume(self, entry: dict, paths: list[str]) -> None:
        key = (entry.get("dev"), entry.get("inode"))
        candidates = list(paths)
        directory = os.path.dirname(entry.get("path", "")) or "."
        try:
            candidates += [os.path.join(directory, n) for n in sorted(os.listdir(directory))]
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
            try:
                head = bytes.fromhex(entry.get("head", ""))
            except (TypeError, ValueError):
                head = b""
            self._open(path, st, offset, head, entry)
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

    def _open(
        self,
        path: str,
        st: os.stat_result,
        offset: int,
        head: bytes | None = None,
        entry: dict | None = None,
    ) -> None:
        """Follow the file at `path` from `offset`; `head` is the fingerprint
        a checkpoint holds for it: a file whose first bytes differ from it, or
        that is now shorter than `offset`, is read from its start. `entry`,
        the file's checkpoint, says whether it is gzip and read whole."""
        if (
            self.share is not None
            and owner((st.st_dev, st.st_ino), self.share[1]) != (self.share[0])
        ):
            return  # another worker's
        try:
            f = open(path, "rb")
        except OSError:
            return
        opened = os.fstat(f.fileno())
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            f.close()  # replaced between stat and open: the next scan finds it
            return
        gzip = bool(entry.get("gzip")) if entry else None
        if path.lower().endswith(".gz"):
            gzip = True
        complete = bool(entry and entry.get("complete"))
        if offset and head is not None:
            # a gzip file's offset is in its uncompressed stream: only the head tells
            shorter = opened.st_size < offset and not gzip
            if shorter or _read_head(f, len(head)) != head:
                # truncated, rewritten, or a different file on a reused inode
                offset, complete = 0, False
                gzip = True if gzip else None
        if not offset:
            prefix = b""
        elif gzip:
            prefix = head or b""
        else:
            prefix = _read_head(f, offset)
        if gzip is None and offset:
            gzip = False
        w = Watched(path, f, st, offset, prefix, gzip=gzip, complete=complete)
        self.files[(st.st_dev, st.st_ino)] = w

    # reading

    def read(self, n: int) -> tuple[Watched, list[bytes | TooLong]] | None:
        """Up to `n` complete lines from one file that has some, or None.
        Rotated files come first, oldest first, so their records come out
        before those of the file that replaced them; the others take turns."""
        self.on_changes()
        now = time.monotonic()
        if now - self.last_scan >= self.rescan_every:
            self._scan(now)
        live = [w for w in self.files.values() if w.gone_since is None]
        rotated = sorted(
            (w for w in self.files.values() if w.gone_since is not None),
            key=lambda w: w.gone_since,
        )
        turn = self._turn % len(live) if live else 0
        order = rotated + live[turn:] + live[:turn]
        for w in order:
            if w.closed:
                continue
            self._check_replaced(w)  # first: a file started over is sniffed again
            if w.sniffing:
                w.sniff()
            final = w.gone_since is not None and now - w.gone_since >= self.linger
            gz = w.gz
            if gz is not None:
                # a gzip stream that stops short waits for its writer, for a while
                gz.growing = not final and now - w.quiet_since < self.linger
                # the line a truncated file ends in goes with the error: should
                # the file grow after all, it is read whole
                last = final or (gz.finished and not gz.truncated)
                lines = w.reader.read(n, final=last, max_bytes=BATCH_BYTES)
                if len(w.prefix) < min(HEAD, gz.consumed):
                    w.prefix = _read_head(w.f, gz.consumed)
            else:
                lines = w.reader.read(n, final=final, max_bytes=BATCH_BYTES)
                if len(w.prefix) < min(HEAD, w.reader.offset):  # also past a lone byte-order mark
                    w.grow_prefix(lines)
            if lines or w.damage_due():
                if w.gone_since is None:
                    self._turn = live.index(w) + 1
                w.quiet_since = now
                return w, lines
            if final and now - w.quiet_since >= self.linger:
                self._close(w)
        return None

    def _check_replaced(self, w: Watched) -> None:
        """Start `w` again when it was truncated, or truncated and written
        again (its first bytes are no longer those read from it)."""
        fd = w.f.fileno()
        try:
            size = os.fstat(fd).st_size
            read_upto = w.gz.consumed if w.gz is not None else w.reader.offset
            changed = size < read_upto or (w.prefix and os.pread(fd, len(w.prefix), 0) != w.prefix)
        except OSError:
            return
        if changed:
            w.restart()

    # the directory watch

    def watch_fileno(self) -> int | None:
        """The descriptor that becomes readable when the directory watch has
        something to report (None: no watch, the glob is polled)."""
        return self.watch.fileno() if self.watch is not None else None

    def _follows(self, name: str) -> bool:
        """Whether a name in the watched directory is one the pattern names
        (the last part of a glob matches as `glob` would: not a hidden name
        unless the pattern starts with a dot)."""
        if not glob.has_magic(self._base):
            return name == self._base
        if name.startswith(".") and not self._base.startswith("."):
            return False
        return fnmatch.fnmatchcase(name, self._base)

    def on_changes(self) -> None:
        """Act on what the directory watch reported: open every file that
        came to a followed name, where it is now, and rescan when a followed
        name moved or went.

        The report is always behind the directory: by the time a name it
        told of is looked at, later renames may have put another file there
        and moved the one that came on. So the names that may hold a file
        that came are kept (`_pending`) and carried along every rename
        reported, across reports; they are looked at, and the watch read
        again: a look at a name no change touched since confirms it. Looking
        at a name that holds another file by then costs nothing (a file
        already followed is recognised by its inode); letting go of a name
        too early would lose the file that moved on from it."""
        if self.watch is None:
            return
        changes, rescan = self.watch.changes()
        rescan = self._replay(changes) or rescan
        for _ in range(8):  # names seldom change that often in a row
            if not self._pending:
                break
            now = time.monotonic()
            looked = list(self._pending)
            for name in looked:
                self._arrived(os.path.join(self._dir, name), self._follows(name), now)
            changes, lost_some = self.watch.changes()
            if lost_some:  # the report is incomplete: the rescan must do
                self._pending.clear()
                rescan = True
                break
            touched = {change.name for change in changes}
            for name in looked:
                if name not in touched:  # what was looked at is what is there
                    del self._pending[name]
            rescan = self._replay(changes) or rescan
        if rescan:
            self._scan(time.monotonic())

    def _replay(self, changes: list) -> bool:
        """Carry the names that may hold a file that came along `changes`;
        whether a followed name moved or went (the caller rescans)."""
        rescan = False
        pending = self._pending
        for kind, name, cookie in changes:
            followed = self._follows(name)
            if kind == MOVED_FROM:
                if followed or name in pending:
                    self._moving[cookie] = name
                    pending.pop(name, None)
                rescan = rescan or followed
            elif kind in (CREATED, MOVED_TO):
                moved_on = kind == MOVED_TO and self._moving.pop(cookie, None) is not None
                if followed or moved_on:
                    pending[name] = None
                else:
                    pending.pop(name, None)  # replaced by a file of no interest
            elif kind == DELETED:
                pending.pop(name, None)
                rescan = rescan or followed
        if len(self._moving) > 1024:
            self._moving.clear()  # halves of renames out of the directory
        return rescan

    def _arrived(self, path: str, followed: bool, now: float) -> None:
        """A file came to `path`: follow it from its start unless it is one
        already followed (renamed); one that has already left the pattern
        again is read to its end and closed like any rotated file."""
        try:
            st = os.stat(path)
        except OSError:
            return  # gone again: its rename, if any, is reported next
        w = self.files.get((st.st_dev, st.st_ino))
        if w is None:
            self._open(path, st, 0)
            w = self.files.get((st.st_dev, st.st_ino))
            if w is None:
                return
        w.path = path
        if followed:
            w.gone_since = None
        elif w.gone_since is None:
            w.gone_since = now

    # rescanning

    def _scan(self, now: float) -> None:
        self.last_scan = now
        if self.watch is not None:
            self.watch.rewatch()
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
        w.closed = True
        w.f.close()
        if w.acked >= w.reader.offset:
            del self.files[w.key]
            self._save()

    # checkpoints

    def acked(self, w: Watched, restarts: int, offset: int) -> None:
        """Records up to `offset` in `w` were accepted: save the checkpoint.
        `restarts` is `w.reader.restarts` when they were read: records read
        before the file was truncated say nothing about its new content."""
        if restarts == w.reader.restarts:
            w.acked = offset
        if w.closed and w.acked >= w.reader.offset and self.files.get(w.key) is w:
            del self.files[w.key]
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
            if w.gz is not None:
                entry["gzip"] = True
                if w.read_whole and w.acked >= w.reader.offset:
                    entry["complete"] = True
            entries.append(entry)
        checkpoint.save(self.state_path, {"pattern": self.pattern, "files": entries})

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
            self.watch = None
        for w in self.files.values():
            if not w.closed:
                w.f.close()
                w.closed = True
