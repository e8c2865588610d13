"""Run-time failures: fatal ones (`FlowError`) and per-record error records."""

from __future__ import annotations

from typing import Any

from . import times
from .base import Record, RecordError


class FlowError(Exception):
    """A fatal, user-facing failure (missing file, missing variable, bad option).

    The runtime prints its message without a traceback. Raised while the
    program is built or a stage is created or started, it exits with status 2;
    later, with status 1."""


class StrictStop(Exception):
    """The run stops because an error record appeared under `--strict`."""

    def __init__(self, error: Record):
        super().__init__(error["message"])
        self.error = error


def error_record(
    pipeline: str,
    stage: str,
    exc: BaseException | None,
    record: Any = None,
    raw: str | None = None,
    code: str | None = None,
    message: str | None = None,
) -> Record:
    """The error-stream record (SPEC section 7) for one failed input.

    A RecordError gives code, message and raw; any other exception is code
    `runtime` with message `ExcType: text`. Explicit `code`/`message` win."""
    if isinstance(exc, RecordError):
        code = code or exc.code
        message = message or exc.message
        raw = raw if raw is not None else exc.raw
    elif exc is not None:
        code = code or "runtime"
        message = message or f"{type(exc).__name__}: {exc}"
    return {
        "pipeline": pipeline,
        "stage": stage,
        "code": code or "runtime",
        "message": message or "",
        "at": times.now(),
        "record": record,
        "raw": raw,
    }
