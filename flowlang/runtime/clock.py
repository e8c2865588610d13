"""The processing time: `now()`, window ticks and processing-time windows.

A run under `flowc test` fixes it (`fixed`), so that a test's outputs do not
depend on when it runs; otherwise it is the wall clock in UTC.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
from typing import Iterator

UTC = _dt.timezone.utc
_fixed: contextvars.ContextVar[_dt.datetime | None] = contextvars.ContextVar(
    "flowlang_fixed_now", default=None
)


def now() -> _dt.datetime:
    """The current processing time, an aware UTC datetime."""
    fixed = _fixed.get()
    return fixed if fixed is not None else _dt.datetime.now(UTC)


@contextlib.contextmanager
def fixed(at: _dt.datetime) -> Iterator[None]:
    """Within the block (and the tasks started in it), `now()` is `at`."""
    token = _fixed.set(at)
    try:
        yield
    finally:
        _fixed.reset(token)
