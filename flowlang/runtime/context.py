"""Run options (`Context`) and `env()`, which generated code calls while building."""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator, Mapping

from .bus import Bus
from .errors import FlowError

DEFAULT_STATE_DIR = ".flowc-state"
DEFAULT_BATCH_SIZE = 1024


@dataclass
class Context:
    """What a run is asked to do.

    `pipeline`: run only this pipeline and those it reads from (None: all).
    `status`: live status line and summary table (None: status line only when
    stderr is a terminal; False: neither). `batch_size` caps the records in a
    batch (sources reading files also cut batches at about 16 KiB of input,
    see `lines.BATCH_BYTES`); `queue_size` bounds every queue between tasks,
    in batches; `tick_interval` is how often windows are ticked, in seconds.
    `clock` is what `now()` reads in expressions (and what `parse_time`
    infers a missing year from): a function returning an aware time, or None
    for the system clock; tests fix it to make a run reproducible.
    `observe_output`/`observe_errors` see what each pipeline emits (tests).
    `http`: serve /metrics, /health and /ready on this address (`--http`);
    `progress_interval`: seconds between progress lines off a terminal (0:
    none); `log_format`: `text` or `json` (the lines flowc writes on stderr);
    `worker`: this process is one of several (`runtime.workers`).
    """

    strict: bool = False
    state_dir: str = DEFAULT_STATE_DIR
    pipeline: str | None = None
    status: bool | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    queue_size: int = 2
    tick_interval: float = 1.0
    clock: Callable[[], datetime] | None = None
    bus: Bus = field(default_factory=Bus)
    signals: bool = True  # handle SIGINT/SIGTERM (off for runs inside tests)
    # called with (pipeline, copies of records) for every batch a pipeline
    # emits and every batch of error records it produces (`flowc test`)
    observe_output: Callable[[str, list], None] | None = None
    observe_errors: Callable[[str, list], None] | None = None
    http: str | None = None
    progress_interval: float = 10.0
    log_format: str = "text"
    # under `--workers`: (index, count) of this process among the workers
    worker: tuple[int, int] | None = None

    def stage_options(self) -> dict:
        """The run options every StageContext carries."""
        options = {"strict": self.strict, "batch_size": self.batch_size}
        if self.worker is not None:
            options["worker"] = self.worker
        return options


class MissingVariable(FlowError):
    """`env("NAME")` without default, and NAME is not set."""

    def __init__(self, name: str):
        super().__init__(
            f"environment variable {name} is not set (the program reads env({name!r}) "
            "without a default)"
        )
        self.name = name


# the variables a run under `flowc test` sees instead of the process's
_environment: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "flowlang_environment", default=None
)


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Within the block, `env()` reads `variables` and never the process
    environment (a test's run is hermetic)."""
    token = _environment.set(dict(variables))
    try:
        yield
    finally:
        _environment.reset(token)


def env(name: str, default: str | None = None) -> str:
    """The value of environment variable `name`, else `default`; without a
    default, a missing variable is a start-up error. The value is never logged."""
    variables = _environment.get()
    try:
        value = (os.environ if variables is None else variables).get(name)
    except (UnicodeEncodeError, ValueError):
        value = None  # a name no environment can hold (a lone surrogate, NUL)
    if value is not None:
        return value
    if default is not None:
        return default
    raise MissingVariable(name)
