"""Run options (`Context`) and `env()`, which generated code calls while building."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator, Mapping

from ..syntax import MAX_DURATION_MS, parse_duration
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
    `http`: serve /metrics, /health, /ready and /tap on this address (`--http`);
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


class BadVariable(FlowError):
    """An environment variable whose text is not a valid value of the
    argument it gives; the message names the variable and the rule, never
    the value (it may be a secret)."""

    def __init__(self, name: str, what: str, problem: str):
        given = f" (the {what})" if what else ""
        super().__init__(f"environment variable {name}{given}: {problem}")
        self.name = name


_INTEGER = re.compile(r"-?[0-9]+\Z")
_FLOAT = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")


def _duration(text: str) -> int:
    millis = parse_duration(text)
    if millis is None or millis > MAX_DURATION_MS:
        raise ValueError("must be a duration such as 250ms, 30s, 5m, 2h or 1d")
    return millis


def _integer(text: str) -> int:
    if not _INTEGER.match(text):
        raise ValueError("must be an integer")
    return int(text)


def _float(text: str) -> float:
    if not _FLOAT.match(text):
        raise ValueError("must be a number")
    return float(text)


def _boolean(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError("must be true or false")
    return text == "true"


# how an env() text becomes a value of the argument's type, as the literal of
# that type is written (a duration in milliseconds); ValueError says what it must be
ENV_TYPES: dict[str, Callable[[str], object]] = {
    "str": str,
    "int": _integer,
    "float": _float,
    "bool": _boolean,
    "duration": _duration,
}


def env(
    name: str,
    default: str | None = None,
    type: str = "str",
    check: Callable[..., object] | None = None,
    args: tuple = (),
    what: str = "",
):
    """The value of environment variable `name`, else `default`, converted
    to `type` (ENV_TYPES) and held to `check` (a parameter's rule: a message,
    or (message, hint), when the value is wrong); without a default, a missing
    variable is a start-up error. The value is never logged."""
    variables = _environment.get()
    try:
        value = (os.environ if variables is None else variables).get(name)
    except (UnicodeEncodeError, ValueError):
        value = None  # a name no environment can hold (a lone surrogate, NUL)
    if value is None:
        if default is None:
            raise MissingVariable(name)
        value = default
    try:
        converted = ENV_TYPES[type](value)
    except ValueError as exc:
        raise BadVariable(name, what, str(exc)) from None
    problem = check(converted, *args) if check is not None else None
    if problem:
        raise BadVariable(name, what, problem if isinstance(problem, str) else problem[0])
    return converted
