"""The engine: wires the selected pipelines together, runs them side by side
in one asyncio loop, handles signals and strict mode, and tears down.

Run-time behaviour, in short:

- Data moves in batches through bounded queues (`Context.queue_size`
  batches each): source -> pipeline loop -> sink, and to every pipeline that
  reads this one (`from P`: each reader gets its own copy of every record). A
  full queue blocks the writer, so a slow sink or reader slows the source;
  a source blocked for more than 0.2 s is published as `paused`/`resumed`.
- A source batch is acknowledged (its `ack` called, in read order) once every
  record derived from it was accepted by every sink or went to an error
  stream. A batch absorbed by a window is acknowledged once every window its
  records went to has been emitted and that output accepted, so a restart
  (after a stop or kill -9) reads an open window's records again and builds
  it whole (see `runner`).
- Error records go to the readers of `from P.errors`, else they are counted
  and summarised with a sample at exit. Under `--strict` the first error
  record that nobody reads stops the run with status 1.
- A field a stage reads that the checker could not prove exists (open
  records, `any`) and that no record reaching the stage had is named in the
  metrics (`absent_fields`) and the summary; under `--strict` a run that
  ended with its input then exits with status 1 (a run stopped by a signal
  keeps status 0, as it would without the field).
- First SIGINT, SIGTERM or SIGHUP: sources stop, in-flight batches drain,
  sinks flush, checkpoints are written, status 0. Open windows are flushed
  too, unless their input is read again by the next run (a followed file,
  NATS): then they are left to that run. A second signal exits at once with
  128 + its number. Under `flowc run FILE` SIGHUP reloads instead
  (`runtime.reload`, which stops the engine the same way, `stop_for_reload`,
  and handles the run's signals itself); elsewhere it stops (STOP_SIGNALS).
- Exit status: 0 done, 1 the run failed (a stage raised, `--strict`), 2 the
  program could not start (bad option, missing variable or file, a sink that
  cannot open).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import times
from .context import Context
from .errors import FlowError, StrictStop
from .program import Program
from .runner import Runner, StageFailure

CLOSE_TIMEOUT = 30.0  # seconds a sink may take to flush when the run fails
# Signals that stop a run gracefully. SIGHUP (a closed terminal, or a
# daemon's "reload") drains and exits like SIGTERM where there is no file to
# read again (a compiled module run on its own; `flowc run` reloads on it,
# see runtime.reload): dying on it would skip the drain and the checkpoints.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@dataclass
class Outcome:
    """How a run ended: exit status, final metrics, and what went wrong."""

    exit_code: int
    metrics: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None  # the message printed for a failed run
    strict_error: dict | None = None  # the error record that stopped a strict run
    signals: int = 0
    wall_seconds: float = 0.0
    kept_open: list[str] = field(default_factory=list)  # windows left for the next run


def install_signals(loop: asyncio.AbstractEventLoop, handler) -> list[int]:
    """`handler(signum)` for each of STOP_SIGNALS on `loop`; the signals
    installed (none off the main thread, where the caller handles them)."""
    installed: list[int] = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, handler, signum)
        except (ValueError, RuntimeError, NotImplementedError):
            continue
        installed.append(signum)
    return installed


class Engine:
    """One run of a program."""

    def __init__(self, program: Program, ctx: Context):
        self.program = program
        self.ctx = ctx
        self.stopping = False
        self.reloading = False  # stopping so that a new program takes over
        self.signals = 0
        self.runners: dict[str, Runner] = {}
        self.strict_error: dict | None = None
        self.started = time.monotonic()

    def prepare(self) -> None:
        """Select the pipelines, create runners and stage instances, connect
        readers. Raises FlowError for anything wrong with the program or its
        options (start-up errors)."""
        for decl in self.program.selected(self.ctx.pipeline):
            self.runners[decl.name] = Runner(self, decl)
        for runner in self.runners.values():
            upstream = runner.decl.reads
            if upstream is not None:
                target = self.runners[upstream]
                (target.error_readers if runner.decl.reads_errors else target.readers).append(
                    runner
                )
        for runner in self.runners.values():
            if runner.decl.routes:
                runner.wire_routes()
            runner.instantiate()

    def uses_state(self) -> bool:
        """Whether the run keeps state in its state directory: a source's
        checkpoints, or windows over input that can be read again."""
        sources = [r.source for r in self.runners.values() if r.source is not None]
        if any(getattr(s, "keeps_state", False) for s in sources):
            return True
        windows = any(r.has_windows for r in self.runners.values())
        return windows and any(getattr(s, "acknowledges", False) for s in sources)

    def on_unread_error(self, error: dict) -> None:
        """An error record nobody reads; under --strict the first stops the run
        (a program that reads `from P.errors` handles P's errors itself)."""
        if self.ctx.strict:
            self.strict_error = error
            raise StrictStop(error)

    def request_stop(self, signum: int | None = None) -> None:
        """Stop reading every source; what is in flight still drains."""
        self.stopping = True
        for runner in self.runners.values():
            if runner.source is not None:
                runner.source.stop()

    def stop_for_reload(self) -> None:
        """Stop as the first signal does (network sinks get their shutdown
        grace too), for the program that takes over after the drain."""
        self.reloading = True
        self.ctx.bus.publish("signal", signum=getattr(signal, "SIGHUP", None), count=0)
        self.request_stop()

    def on_signal(self, signum: int) -> None:
        """The first stop signal stops the run; a second exits at once."""
        self.signals += 1
        self.ctx.bus.publish("signal", signum=signum, count=self.signals)
        if self.signals == 1:
            self.request_stop(signum)
            return
        sys.stderr.write(f"flowc: second {signal.Signals(signum).name}, exiting at once\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    def metrics(self) -> dict[str, Any]:
        """The current metrics of every running pipeline."""
        return {name: r.metrics.snapshot() for name, r in self.runners.items()}

    async def run(self, status: Any = None) -> Outcome:
        """Start sinks, run every pipeline to completion, close everything."""
        loop = asyncio.get_running_loop()
        times.use_clock(self.ctx.clock)
        installed = install_signals(loop, self.on_signal) if self.ctx.signals else []
        started_sinks: list[Runner] = []
        failure: str | None = None
        code = 0
        status_task = None
        running = False  # past start-up: a FlowError now fails the run (1), not its start (2)
        try:
            for runner in self.runners.values():
                if runner.sink is not None:
                    try:
                        await runner.sink.start()
                    except FlowError as exc:
                        raise FlowError(
                            f"pipeline {runner.name}, stage {runner.labels[runner.sink_index]}: {exc}"
                        ) from None
                    except Exception as exc:
                        raise StageFailure(
                            runner.name, runner.labels[runner.sink_index], exc
                        ) from exc
                    started_sinks.append(runner)
            if status is not None:
                status_task = asyncio.create_task(status.run(self))
            running = True
            try:
                async with asyncio.TaskGroup() as group:
                    for runner in self.runners.values():
                        group.create_task(runner.run())
            except BaseExceptionGroup as group_error:
                raise _first(group_error) from None
        except StrictStop as stop:
            code, failure = (
                1,
                f"error record under --strict: {_describe_error(stop.error)}",
            )
        except StageFailure as exc:
            code, failure = 1, str(exc)
            if not isinstance(exc.cause, FlowError):
                failure += "\n" + traceback_text(exc.cause)
        except FlowError as exc:
            code, failure = (1 if running else 2), str(exc)
        except Exception as exc:
            # a defect, not a user error: keep the whole traceback
            code, failure = 1, traceback_text(exc)
        finally:
            if status_task is not None:
                status_task.cancel()
                await asyncio.gather(status_task, return_exceptions=True)
            for signum in installed:
                loop.remove_signal_handler(signum)
        for runner in started_sinks:
            if not runner.sink_closed:
                try:
                    await asyncio.wait_for(runner.close_sink(), CLOSE_TIMEOUT)
                except (StageFailure, FlowError, TimeoutError) as exc:
                    code = code or 1
                    failure = failure or f"closing pipeline {runner.name}'s sink: {exc}"
        # a worker's share is not the whole input: its parent checks the sum
        if self.ctx.strict and self.ctx.worker is None and code == 0 and not self.stopping:
            absent = [(r, a) for r in self.runners.values() for a in r.absent_fields()]
            if absent:
                runner, (at, path, _) = absent[0]
                code, failure = (
                    1,
                    (
                        f"--strict: field `{'.'.join(path)}` of stage {runner.labels[at]} "
                        "was absent in every record it saw"
                    ),
                )
        for runner in self.runners.values():
            if runner.source is not None:
                try:
                    await runner.source.close()
                except Exception as exc:
                    code = code or 1
                    failure = failure or str(StageFailure(runner.name, runner.labels[0], exc))
        return Outcome(
            exit_code=code,
            metrics=self.metrics(),
            failure=failure,
            strict_error=self.strict_error,
            signals=self.signals,
            wall_seconds=time.monotonic() - self.started,
            kept_open=[label for r in self.runners.values() for label in r.kept_open],
        )


def _first(group: BaseExceptionGroup) -> BaseException:
    """The exception that stopped a task group (nested groups unwrapped);
    strict stops and stage failures win over the cancellations they caused."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    for kind in (StrictStop, StageFailure, FlowError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0]


def _describe_error(error: dict) -> str:
    from .console import describe_error

    return describe_error(error)


def traceback_text(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc)).rstrip()
