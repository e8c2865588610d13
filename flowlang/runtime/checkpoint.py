"""Checkpoint files: small JSON documents replaced atomically (write a
temporary file, fsync it, rename it over the old one, fsync the directory),
so a crash leaves either the old or the new checkpoint, never a torn one."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import orjson

from .errors import FlowError


def checkpoint_path(state_dir: str, kind: str, *key: str) -> str:
    """A stable file name in `state_dir` for one source's checkpoint."""
    digest = hashlib.sha256(
        "\0".join(key).encode("utf-8", "surrogatepass")
    ).hexdigest()[:16]
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
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, orjson.dumps(data))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
