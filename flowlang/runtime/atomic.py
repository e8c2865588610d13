"""Replacing a file's content at once: the new content goes to a temporary
file beside it, which is renamed over it, so a reader (another run, a crash
the next run recovers from) sees the old content or the new, never part of
either. The one way flowlang replaces files: checkpoints, compiled modules
in the cache, and `flowc fmt`."""

from __future__ import annotations

import os
import shutil


def replace_file(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> None:
    """Make `data` the content of `path` atomically, keeping the permissions
    of a file already there (a new one gets the umask's). `durable`: the
    content and the rename reach the disk before this returns (fsync of the
    file and of its directory), as a checkpoint needs."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # one temporary name per process: concurrent writers never share one
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
