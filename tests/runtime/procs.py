"""Running hand-written programs as real subprocesses, and waiting on files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"


def start(
    program: str, *args: str, env: dict[str, str] | None = None, stdin=None, cwd=None
) -> subprocess.Popen:
    """Start `programs/<program>` with this interpreter; output is captured."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), full_env.get("PYTHONPATH", "")]
    )
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, str(PROGRAMS / program), *args],
        env=full_env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def records(path: Path) -> list[dict]:
    """The JSON lines of a file written by a file sink (complete lines only)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line]


def numbers(path: Path) -> list[int]:
    return [r["n"] for r in records(path)]


def write_numbers(path: Path, start: int, stop: int, mode: str = "a") -> None:
    with open(path, mode) as f:
        for n in range(start, stop):
            f.write(json.dumps({"n": n}) + "\n")
