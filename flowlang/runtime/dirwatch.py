"""Watching one directory for names that appear, move and go (inotify).

The tailer rescans its glob about once a second, so a file that sits at a
followed path for less than that could come and go unseen. A directory watch
reports, as it happens, every name created in, moved into, moved out of or
deleted from the directory; the tailer opens a new file at once and keeps its
descriptor, whatever happens to the name afterwards.

Linux only, through `inotify_simple` (a thin ctypes wrapper over
`inotify_init1`/`inotify_add_watch` with non-blocking reads on a descriptor
an event loop can wait on). Where it is missing or the kernel refuses a watch
(another system, a file system without inotify, the user's inotify limits
reached), `DirWatch.create` returns None and the tailer polls as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

CREATED, MOVED_FROM, MOVED_TO, DELETED = "created", "moved_from", "moved_to", "deleted"


class Change(NamedTuple):
    """One name in the directory: `kind` is one of the four above; the two
    halves of a rename share a `cookie`."""

    kind: str
    name: str
    cookie: int


class DirWatch:
    """An inotify watch on one directory."""

    def __init__(self, inotify: Any, flags: Any, directory: str):
        self._inotify = inotify
        self._flags = flags
        self.directory = directory
        self._wd: int | None = None
        self._kinds = (
            (flags.CREATE, CREATED),
            (flags.MOVED_FROM, MOVED_FROM),
            (flags.MOVED_TO, MOVED_TO),
            (flags.DELETE, DELETED),
        )

    @classmethod
    def create(cls, directory: str) -> DirWatch | None:
        """A watch on `directory`, or None where inotify is not available.
        The directory need not exist yet: `rewatch` adds it when it does."""
        try:
            import inotify_simple
        except ImportError:
            return None
        try:
            inotify = inotify_simple.INotify(nonblocking=True)
        except (OSError, AttributeError):  # no inotify here, or the limit reached
            return None
        watch = cls(inotify, inotify_simple.flags, directory)
        watch.rewatch()
        return watch

    def fileno(self) -> int:
        return self._inotify.fileno()

    @property
    def watching(self) -> bool:
        return self._wd is not None

    def rewatch(self) -> bool:
        """(Re)add the watch when it is not in place (the directory did not
        exist, or was removed or renamed); True when it is in place."""
        if self._wd is None:
            f = self._flags
            mask = (
                f.CREATE
                | f.MOVED_FROM
                | f.MOVED_TO
                | f.DELETE
                | f.DELETE_SELF
                | f.MOVE_SELF
                | f.ONLYDIR
            )
            try:
                self._wd = self._inotify.add_watch(self.directory, mask)
            except OSError:
                return False
        return True

    def changes(self) -> tuple[list[Change], bool]:
        """The changes reported since the last call (never blocks), and
        whether the caller must rescan the directory because some may be
        missing (the kernel's queue overflowed, or the watch is gone)."""
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            return [], True
        f = self._flags
        out: list[Change] = []
        rescan = False
        for event in events:
            if event.mask & f.Q_OVERFLOW:
                rescan = True
                continue
            if event.mask & (f.IGNORED | f.DELETE_SELF | f.MOVE_SELF):
                if event.wd == self._wd:
                    # the directory went or moved away: the path is watched
                    # again on the next rescan, whatever directory it names then
                    self._drop()
                rescan = True
                continue
            if event.mask & f.ISDIR or event.wd != self._wd:
                continue
            for bit, kind in self._kinds:
                if event.mask & bit:
                    out.append(Change(kind, event.name, event.cookie))
                    break
        return out, rescan

    def _drop(self) -> None:
        wd, self._wd = self._wd, None
        try:
            self._inotify.rm_watch(wd)
        except OSError:
            pass  # already removed by the kernel

    def close(self) -> None:
        self._inotify.close()
