"""Checkpoint files: small JSON documents replaced atomically (write a
temporary file, fsync it, rename it over the old one, fsync the directory),
so a crash leaves either the old or the new checkpoint, never a torn one.

A run that keeps state holds a lock on its state directory (`StateLock`):
two runs on one directory would race on the same checkpoints, so the second
is refused at start."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from typing import Any

import orjson

from .atomic import replace_file
from .errors import FlowError


def checkpoint_path(state_dir: str, kind: str, *key: str) -> str:
    """A stable file name in `state_dir` for one source's checkpoint."""
    digest = hashlib.sha256("\0".join(key).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key[0])[:40] if key else ""
    return os.path.join(state_dir, f"{kind}-{readable}-{digest}.json")


def load(path: str) -> Any:
    """The saved checkpoint, or None when there is none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise FlowError(
            f"checkpoint {path} is not valid JSON ({exc}); remove it to start over"
        ) from None


def save(path: str, data: Any) -> None:
    """Replace the checkpoint at `path` with `data`, atomically and durably."""
    replace_file(path, orjson.dumps(data), durable=True)


class StateLock:
    """An exclusive `flock` on `DIR/lock`, which holds the pid of the run
    that has it. The kernel releases it when the process ends, however it
    ends (kill -9 included), so a stale lock never blocks the next run."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    @classmethod
    def claim(cls, state_dir: str) -> StateLock:
        """The lock on `state_dir` (created if need be); FlowError when
        another run holds it."""
        try:
            os.makedirs(state_dir, exist_ok=True)
            fd = os.open(os.path.join(state_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FlowError(f"cannot use state directory {state_dir}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FlowError(
                f"state directory {state_dir} is in use by another run (pid {holder}); "
                "stop that run, or give this one a --state-dir of its own"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the lock
