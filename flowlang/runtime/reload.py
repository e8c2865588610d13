"""SIGHUP under `flowc run FILE`: read FILE again, check and compile it; on
errors say so and keep the running program; else stop the running program
as a signal does (sources stop, what is in flight drains, sinks flush,
checkpoints are written) and start the new one in the same process, with
the same options, state directory and `--http` server.

What carries over is what a stop and a start carry over: a followed file's
checkpoint (kept by pipeline name and path), the window state of a
`summarize` (kept by pipeline, position and arguments), and the open windows
over re-read input, which the new program rebuilds from the records it
reads again (see `runner`). Counters start again from zero.

The compiler is not imported here (the runtime depends on nothing of ours):
`flowc run` hands over a `Reload`, whose `compile` reads and compiles the
file and gives the new program's `build` function, or the diagnostics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .bus import Bus
from .engine import Engine, Outcome, install_signals, traceback_text
from .errors import FlowError

if TYPE_CHECKING:
    from .console import Log
    from .context import Context
    from .program import Program

HANGUP = getattr(signal, "SIGHUP", None)


@dataclass
class Recompiled:
    """What reading the program's file again gave: the new program's `build`
    (None when the file has errors or cannot be read), the diagnostics as
    text (warnings too) and the errors as JSON objects (as `flowc check
    --format json` writes them)."""

    build: Callable[[Context], Program] | None
    notes: str = ""
    diagnostics: list[dict] = field(default_factory=list)


@dataclass
class Reload:
    """How a run reads its program again: `file` as named on the command
    line; `compile()` reads, checks and compiles it (it may block: it runs
    in a thread while the running program goes on)."""

    file: str
    compile: Callable[[], Recompiled]


class Reloading:
    """Runs one program after another in one event loop: the first, then
    each one a SIGHUP brought in. It handles the run's signals itself (the
    engines install none): SIGHUP reloads, SIGINT and SIGTERM go to the
    running engine, which stops (a second one exits at once), also in the
    middle of a reload, whose new program then never starts.

    A SIGHUP that comes while a reload is under way (the file being
    compiled, or the old program draining) is queued: once this reload is
    done, the file is read again, once however many came."""

    def __init__(
        self,
        reload: Reload,
        log: Log,
        prepare: Callable[[Callable[[Context], Program], Context], Engine],
        report: Callable[[Engine, Outcome], None],
        signals: bool = True,
    ):
        self.reload = reload
        self.log = log
        self.prepare = prepare  # build and prepare a program: an Engine, or FlowError
        self.report = report  # what a program replaced by a reload says at its end
        self.signals = signals  # install the handlers (off for runs inside tests)
        self.engine: Engine | None = None
        self.next: Engine | None = None  # the new program, once the old one is draining
        self.busy = False  # a reload is under way
        self.again = False  # a SIGHUP came during it
        self.stopped = False  # a stop signal came: no new program starts
        self.reloads = 0  # programs started by a reload
        self._task: asyncio.Task | None = None
        self.on_swap: Callable[[Engine], None] | None = None  # the --http server follows

    async def run(self, engine: Engine, status: Any = None) -> tuple[Engine, Outcome]:
        """Run `engine`, and each program that replaces it, until one ends
        without a reload; that one's engine and outcome."""
        loop = asyncio.get_running_loop()
        installed = install_signals(loop, self._on_signal) if self.signals else []
        try:
            while True:
                self.engine = engine
                outcome = await engine.run(status)
                new, self.next = self.next, None
                if new is None or self.stopped or engine.signals or outcome.exit_code:
                    return engine, outcome
                self.report(engine, outcome)
                self.reloads += 1
                self.log.write(
                    f"flowc: reloaded {self.reload.file}: the previous program drained; "
                    "the new one starts",
                    "reloaded",
                    file=self.reload.file,
                    reloads=self.reloads,
                )
                if self.on_swap is not None:
                    self.on_swap(new)
                engine = new
                self._done()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        if signum == HANGUP:
            self.hangup()
            return
        self.stopped = True
        if self.engine is not None:
            self.engine.on_signal(signum)

    def hangup(self) -> None:
        """Reload, or queue a reload when one is under way."""
        if self.stopped:
            return
        if self.busy:
            if not self.again:
                self.again = True
                self.log.write(
                    f"flowc: SIGHUP during a reload: {self.reload.file} is read again "
                    "once this reload is done",
                    "reload_queued",
                    file=self.reload.file,
                )
            return
        self.busy = True
        self._task = asyncio.get_running_loop().create_task(self._reload())

    def _done(self) -> None:
        """The reload is over (refused, or the new program is running)."""
        self.busy = False
        if self.again and not self.stopped:
            self.again = False
            self.hangup()

    async def _reload(self) -> None:
        name = self.reload.file
        self.log.write(f"flowc: SIGHUP: reading {name} again", "reloading", file=name)
        refusal = self._refusal()
        if refusal is not None:
            self._refuse(refusal)
            return
        try:
            result = await asyncio.to_thread(self.reload.compile)
        except Exception as exc:  # a defect of the compiler: keep the whole traceback
            self._refuse(f"compiling it failed:\n{traceback_text(exc)}")
            return
        if self.stopped or self.engine is None or self.engine.stopping:
            return  # stopped meanwhile: nothing to start
        if result.build is None:
            self.log.write(
                result.notes,
                "reload_diagnostics",
                file=name,
                diagnostics=result.diagnostics,
            )
            self._refuse("it has errors")
            return
        if result.notes:
            self.log.write(
                result.notes, "reload_diagnostics", file=name, diagnostics=result.diagnostics
            )
        ctx = dataclasses.replace(self.engine.ctx, bus=Bus())
        try:
            new = self.prepare(result.build, ctx)
        except FlowError as exc:
            self._refuse(f"the new program cannot start: {exc}")
            return
        except Exception as exc:  # a defect: keep the whole traceback
            self._refuse(f"the new program cannot start:\n{traceback_text(exc)}")
            return
        self.next = new
        self.log.write(
            f"flowc: {name} checked; draining the running program", "reload_draining", file=name
        )
        self.engine.stop_for_reload()

    def _refusal(self) -> str | None:
        """Why the running program cannot be replaced: a source whose input a
        new program could not take up where this one stops (a file read
        once, stdin), or None."""
        assert self.engine is not None
        for runner in self.engine.runners.values():
            source = runner.source
            if source is None:
                continue
            if not (getattr(source, "acknowledges", False) or getattr(source, "drains", False)):
                return (
                    f"pipeline {runner.name}, stage {runner.labels[0]} reads input that a "
                    "new program could not take up where this one stops (a file read "
                    "once, or stdin)"
                )
        return None

    def _refuse(self, why: str) -> None:
        self.log.write(
            f"flowc: not reloaded: {why}; the running program goes on unchanged",
            "reload_failed",
            file=self.reload.file,
            reason=why,
        )
        self._done()
