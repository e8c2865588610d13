"""One pipeline at run time: its source reader, its processing loop, its sink
writer, and the bounded queues between them and to the pipelines reading it.

Data moves in units (a batch of records plus the ack tokens it holds). The
per-record work happens inside the generated segment functions; everything
here runs once per batch.

Windows and acknowledgements. A window holds the token of every batch it
absorbed until every window the batch's records went to has been emitted
and that output accepted downstream, so a source's checkpoint never passes
a record of an open window: a run killed at any moment loses no window,
the next run reads the open windows' records again and builds them whole.
A batch whose records straddle an emitted window and an open one is read
again too; for that, a window whose input can be re-read (its batches carry
acknowledgements) saves its processor's `state` (for `summarize`: up to
which time windows were emitted) in the state directory each time an
emission is accepted, before the source's checkpoint moves, and a restarted
run restores it so the re-read records of emitted windows are skipped, not
counted twice. At a stop (signal), such a window is not flushed: its open
windows are emitted by the next run, whole. Windows whose input cannot be
re-read (a file read once, stdin) are flushed at the end and at a stop.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from . import checkpoint, times
from .acks import AckTracker, Token, release, retain
from .base import Record, StageContext
from .errors import FlowError, error_record
from .metrics import PipelineMetrics
from .ops import fresh, has_path
from .program import PipelineDecl, SegmentDecl, StageDecl
from .tap import PipelineTaps

if TYPE_CHECKING:
    from .engine import Engine

END = None  # the last item a queue carries
PAUSE_AFTER = 0.2  # seconds a source waits on a full queue before it counts as paused


class Unit:
    """Records in flight, with one reference on each token they derive from,
    and error records decoded alongside them (from a source)."""

    __slots__ = ("records", "tokens", "errors")

    def __init__(
        self,
        records: list[Record],
        tokens: list[Token],
        errors: list[Record] | None = None,
    ):
        self.records = records
        self.tokens = tokens
        self.errors = errors


class StageFailure(Exception):
    """A stage raised where no record can take the blame (a sink's write, a
    source's read, a window's tick): the run stops."""

    def __init__(self, pipeline: str, stage: str, cause: BaseException):
        super().__init__(f"pipeline {pipeline}, stage {stage}: {type(cause).__name__}: {cause}")
        self.pipeline = pipeline
        self.stage = stage
        self.cause = cause


def copy_records(records: list[Record]) -> list[Record]:
    """Independent copies for a second reader of the same records."""
    return [fresh(rec) for rec in records]


class _Segment:
    __slots__ = ("run", "first", "last", "watched", "tapped")

    def __init__(
        self, run: Callable, first: int, last: int, watched: bool, tapped: Callable | None
    ):
        self.run = run
        self.first = first
        self.last = last
        self.watched = watched
        self.tapped = tapped  # `run_tapped` (SegmentDecl.tappable), else None


class _Window:
    __slots__ = ("proc", "index", "held", "state_path", "resumes", "emissions", "watching")

    def __init__(
        self, proc: Any, index: int, state_path: str, watching: list[tuple[int, tuple[str, ...]]]
    ):
        self.proc = proc
        self.index = index
        # (the highest window its records went to, the batch's references),
        # for each batch absorbed and not yet released
        self.held: list[tuple[float, list[Token]]] = []
        self.state_path = state_path  # where `proc.state()` is kept between runs
        self.resumes = False  # its batches carry acknowledgements: input is re-read
        self.emissions = AckTracker()  # one token per emission, acked when accepted
        self.watching = watching  # (slot, path) of watched fields not yet seen


class Runner:
    """Runs one pipeline; the engine wires runners together and starts them."""

    def __init__(self, engine: "Engine", decl: PipelineDecl):
        self.engine = engine
        self.decl = decl
        self.name = decl.name
        ctx = engine.ctx
        self.inbox: asyncio.Queue = asyncio.Queue(ctx.queue_size)
        self.labels = [decl.stage_label(i) for i in range(len(decl.stages))]
        roles = [s.role for s in decl.stages]
        self.metrics = PipelineMetrics(
            decl.name,
            self.labels,
            roles,
            [(s.first, s.last) for s in decl.segments],
            [(s.label, s.line) for s in decl.stages],
        )
        self.readers: list[Runner] = []
        self.error_readers: list[Runner] = []
        # with `route { … }`: the reader each route goes to (None: not running)
        self.route_readers: list[Runner | None] = []
        self.source: Any = None
        self.acks: AckTracker | None = None  # the source's outstanding batches, once reading
        self.sink: Any = None
        self.sink_queue: asyncio.Queue | None = None
        self.sink_index = decl.sink_stage.index if decl.sink_stage else -1
        self.sink_closed = False
        self.steps: list[_Segment | _Window] = []
        self.first_error: Record | None = None
        self.kept_open: list[str] = []  # windows left open at a stop, for the next run
        self._failures: list[tuple[int, Record, BaseException]] = []
        # watched fields (PipelineDecl.watch): has any record had it yet?
        self.present = [False] * len(decl.watches)
        self.metrics.watches, self.metrics.present = decl.watches, self.present
        self.sample_fields: list[str] | None = None  # of the first record read
        self.taps: PipelineTaps | None = None  # while a tap is attached (runtime/tap.py)

    # set-up

    def stage_context(self, decl: StageDecl) -> StageContext:
        ctx = self.engine.ctx
        return StageContext(
            pipeline=self.name,
            stage=self.labels[decl.index],
            location=f"{self.decl.file}:{decl.line}",
            state_dir=ctx.state_dir,
            options=ctx.stage_options(),
            bus=ctx.bus,
        )

    def instantiate(self) -> None:
        """Create the stage instances and the segment functions."""
        instances: list[Any] = [None] * len(self.decl.stages)
        for decl in self.decl.stages:
            if decl.cls is None:
                continue
            sctx = self.stage_context(decl)
            self.metrics.counters[decl.index] = sctx.counters
            try:
                instances[decl.index] = decl.cls(sctx, **decl.args)
            except FlowError as exc:
                raise FlowError(
                    f"pipeline {self.name}, stage {self.labels[decl.index]}: {exc}"
                ) from None
            except (TypeError, ValueError, OSError) as exc:
                # bad arguments or an unreadable resource: the stage cannot start
                raise FlowError(
                    f"pipeline {self.name}, stage {self.labels[decl.index]}: {type(exc).__name__}: {exc}"
                ) from exc
        if self.decl.source_stage is not None:
            self.source = instances[self.decl.source_stage.index]
        if self.decl.sink_stage is not None:
            self.sink = instances[self.sink_index]
            self.sink_queue = asyncio.Queue(self.engine.ctx.queue_size)
        for step in self.decl.steps():
            if isinstance(step, SegmentDecl):
                tapped = step.factory(instances, tapped=True) if step.tappable else None
                self.steps.append(
                    _Segment(step.factory(instances), step.first, step.last, step.watched, tapped)
                )
            else:
                watching = [
                    (slot, path)
                    for slot, (at, path) in enumerate(self.decl.watches)
                    if at == step.index
                ]
                self.steps.append(
                    _Window(instances[step.index], step.index, self._state_path(step), watching)
                )
        self.has_windows = any(isinstance(s, _Window) for s in self.steps)

    def _state_path(self, decl: StageDecl) -> str:
        """A window's state file: by pipeline, position and arguments, so a
        changed `summarize` starts afresh."""
        position = sum(1 for w in self.decl.windows if w.index < decl.index)
        args = repr(sorted(decl.args.items()))
        return checkpoint.checkpoint_path(
            self.engine.ctx.state_dir, "window", self.name, str(position), args
        )

    def wire_routes(self) -> None:
        """Each route's reader, by name, once the readers are connected."""
        by_name = {r.name: r for r in self.readers}
        self.route_readers = [by_name.get(target) for target in self.decl.routes]

    def outlets(self) -> list[asyncio.Queue]:
        queues = [r.inbox for r in self.readers]
        if self.sink_queue is not None:
            queues.insert(0, self.sink_queue)
        return queues

    # running

    async def run(self) -> None:
        """Run until the head is exhausted and everything has drained."""
        self._outlets = self.outlets()
        bus = self.engine.ctx.bus
        bus.publish("started", pipeline=self.name)
        async with asyncio.TaskGroup() as group:
            if self.source is not None:
                group.create_task(self._read_source())
            if self.sink is not None:
                group.create_task(self._write_sink())
            await self._pump()
        for reader in self.error_readers:
            await reader.inbox.put(END)
        self.metrics.finished = time.monotonic()
        bus.publish("stopped", pipeline=self.name)

    async def _read_source(self) -> None:
        source, inbox, metrics = self.source, self.inbox, self.metrics
        label = self.labels[0]
        self.acks = tracker = AckTracker()
        drains = getattr(source, "drains", False)
        batches = source.batches()
        try:
            async for batch in batches:
                records = batch.records
                errors: list[Record] = []
                if batch.items:
                    records = list(records)
                    for item in batch.items:
                        if item.error is None:
                            records.append(item.record)
                        else:
                            errors.append(error_record(self.name, label, item.error, raw=item.raw))
                metrics.inp[0] += len(records) + len(errors)
                metrics.out[0] += len(records)
                metrics.errors[0] += len(errors)
                tokens = [tracker.token(batch.ack)] if batch.ack is not None else []
                unit = Unit(records, tokens, errors or None)
                if inbox.full():
                    await self._put_paused(unit)
                else:
                    inbox.put_nowait(unit)
                if self.engine.stopping and not drains:
                    break
                await asyncio.sleep(0)
        except (FlowError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise StageFailure(self.name, label, exc) from exc
        finally:
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()
        await inbox.put(END)

    async def _put_paused(self, unit: Unit) -> None:
        """Put into a full inbox; a wait longer than PAUSE_AFTER is a pause."""
        loop = asyncio.get_running_loop()
        paused: list[float] = []
        bus = self.engine.ctx.bus

        def mark() -> None:
            paused.append(loop.time())
            self.metrics.pauses += 1
            bus.publish("paused", pipeline=self.name, stage=self.labels[0])

        handle = loop.call_later(PAUSE_AFTER, mark)
        try:
            await self.inbox.put(unit)
        finally:
            handle.cancel()
        if paused:
            self.metrics.paused_seconds += loop.time() - paused[0] + PAUSE_AFTER
            bus.publish("resumed", pipeline=self.name, stage=self.labels[0])

    async def _pump(self) -> None:
        inbox, metrics = self.inbox, self.metrics
        from_upstream = self.source is None
        tick_every = self.engine.ctx.tick_interval
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + tick_every
        while True:
            if self.has_windows:
                if loop.time() >= next_tick:
                    await self._tick()
                    next_tick = loop.time() + tick_every
                if inbox.empty():
                    # asyncio.timeout, not wait_for: wait_for can turn the
                    # cancellation of a failed run into a timeout when both
                    # come at once, and this loop would then never end
                    try:
                        async with asyncio.timeout(max(next_tick - loop.time(), 0.001)):
                            unit = await inbox.get()
                    except TimeoutError:
                        continue
                else:
                    unit = inbox.get_nowait()
            else:
                unit = await inbox.get()
            if unit is END:
                break
            if from_upstream:
                metrics.inp[0] += len(unit.records)
                metrics.out[0] += len(unit.records)
            if self.sample_fields is None and unit.records:
                first = unit.records[0]
                self.sample_fields = list(first) if isinstance(first, dict) else []
            if self.taps is not None:
                self.taps.passed(0, unit.records)
            if unit.errors:
                await self._emit_errors(unit.errors, unit.tokens)
            await self._run_steps(unit.records, unit.tokens, 0)
        await self._flush_windows()
        for queue in self._outlets:
            await queue.put(END)

    def _fail(self, at: int, rec: Record, exc: BaseException) -> None:
        """Called by segments for a record that goes to the error stream."""
        self.metrics.errors[at] += 1
        self._failures.append((at, rec, exc))

    async def _emit_failures(self, tokens: list[Token]) -> None:
        failures, self._failures = self._failures, []
        labels = self.labels
        errors = [error_record(self.name, labels[at], exc, record=rec) for at, rec, exc in failures]
        await self._emit_errors(errors, tokens)

    async def _run_steps(self, records: list[Record], tokens: list[Token], start: int) -> None:
        metrics = self.metrics
        steps = self.steps
        for k in range(start, len(steps)):
            step = steps[k]
            taps = self.taps
            if type(step) is _Segment:
                metrics.inp[step.first] += len(records)
                if (
                    taps is not None
                    and step.tapped is not None
                    and (want := taps.wants(step.first, step.last)) is not None
                ):
                    got: list[list[Record]] = [[] for _ in want]
                    records = step.tapped(
                        records, metrics.dropped, self._fail, self.present, want, got
                    )
                    taps.took(step.first, got)
                elif step.watched:
                    records = step.run(records, metrics.dropped, self._fail, self.present)
                else:
                    records = step.run(records, metrics.dropped, self._fail)
                if self._failures:
                    await self._emit_failures(tokens)
                if self.decl.routes and k == len(steps) - 1:
                    await self._deliver_routes(records, tokens)
                    return
                if taps is not None:
                    taps.passed(step.last, records)
            else:
                emitted, held = self._add_to_window(step, records, tokens)
                if self._failures:
                    await self._emit_failures(tokens)
                if not held:
                    release(tokens)  # nothing of this batch stays in a window
                if emitted is None:
                    return
                if taps is not None:
                    taps.passed(step.index, emitted)
                records, tokens = emitted, self._ready(step)
            if not records:
                release(tokens)
                return
        await self._deliver(records, tokens)

    def _add_to_window(
        self, step: _Window, records: list[Record], tokens: list[Token]
    ) -> tuple[list[Record] | None, bool]:
        """Add a batch; returns what windows emitted (None: nothing) and
        whether the window now holds the batch's references."""
        proc, i, metrics = step.proc, step.index, self.metrics
        if tokens and not step.resumes:
            self._resume(step)
        metrics.inp[i] += len(records)
        if step.watching:
            self._note_present(step, records)
        proc.begin_batch()
        fail = self._fail
        emitted = proc.add_batch(records, lambda rec, exc: fail(i, rec, exc))
        top = proc.high_window()
        if top is not None:
            step.held.append((top, tokens))
        if not emitted:
            return None, top is not None
        metrics.out[i] += len(emitted)
        return emitted, top is not None

    def _resume(self, step: _Window) -> None:
        """The window's input carries acknowledgements, so a later run reads
        again what this one did not finish: take back what the last run
        saved about its emitted windows."""
        step.resumes = True
        saved = checkpoint.load(step.state_path)
        if saved is not None:
            try:
                step.proc.restore(saved)
            except (TypeError, ValueError, KeyError) as exc:
                raise FlowError(
                    f"window state {step.state_path} cannot be used ({exc}); "
                    "remove the state directory to start over"
                ) from None

    def _ready(self, step: _Window, everything: bool = False) -> list[Token]:
        """After an emission: the references of the batches whose windows
        have all been emitted now (all of them with `everything`), led by a
        token that saves the window's state once the emission is accepted."""
        below = float("inf") if everything else step.proc.emitted_below()
        ready: list[Token] = []
        kept = []
        for top, tokens in step.held:
            if top < below:
                ready.extend(tokens)
            else:
                kept.append((top, tokens))
        step.held = kept
        if step.resumes:
            state = step.proc.state()
            if state is not None:
                saver = partial(checkpoint.save, step.state_path, state)
                # first: the state is saved before any source checkpoint moves
                ready.insert(0, step.emissions.token(saver))
        return ready

    def _note_present(self, step: _Window, records: list[Record]) -> None:
        """Mark the window's watched fields that some record has."""
        still = []
        for slot, path in step.watching:
            if any(has_path(rec, path) for rec in records if isinstance(rec, dict)):
                self.present[slot] = True
            else:
                still.append((slot, path))
        step.watching = still

    def absent_fields(self) -> list[tuple[int, tuple[str, ...], int]]:
        """(stage, path, records seen) of each watched field that no record
        reaching its stage had, for stages that saw records."""
        self.metrics.derive()
        return [
            (at, path, self.metrics.inp[at])
            for slot, (at, path) in enumerate(self.decl.watches)
            if not self.present[slot] and self.metrics.inp[at] > 0
        ]

    async def _window_output(
        self, k: int, step: _Window, emitted: list[Record], everything: bool = False
    ) -> None:
        tokens = self._ready(step, everything)
        if emitted:
            self.metrics.out[step.index] += len(emitted)
            if self.taps is not None:
                self.taps.passed(step.index, emitted)
            await self._run_steps(emitted, tokens, k + 1)
        else:
            release(tokens)

    async def _tick(self) -> None:
        now = times.now()
        for k, step in enumerate(self.steps):
            if type(step) is _Window:
                try:
                    emitted = step.proc.tick(now)
                except Exception as exc:
                    raise StageFailure(self.name, self.labels[step.index], exc) from exc
                if emitted:
                    await self._window_output(k, step, emitted)

    async def _flush_windows(self) -> None:
        """End of input: emit every open window, except at a stop when the
        window's input is read again by the next run (then the open windows
        are emitted by that run, whole, and their batches stay unacknowledged)."""
        bus = self.engine.ctx.bus
        for k, step in enumerate(self.steps):
            if type(step) is _Window:
                if self.engine.stopping and step.resumes:
                    if step.held:
                        self.kept_open.append(self.labels[step.index])
                    continue
                try:
                    emitted = step.proc.flush()
                except Exception as exc:
                    raise StageFailure(self.name, self.labels[step.index], exc) from exc
                await self._window_output(k, step, emitted or [], everything=True)
                bus.publish("flushed", pipeline=self.name, stage=self.labels[step.index])

    async def _deliver(self, records: list[Record], tokens: list[Token]) -> None:
        self.metrics.emitted += len(records)
        observe = self.engine.ctx.observe_output
        if observe is not None and records:
            observe(self.name, copy_records(records))
        if self.taps is not None and self.sink is not None:
            self.taps.passed(self.sink_index, records)
        outlets = self._outlets
        n = len(outlets)
        if n == 0 or not records:
            release(tokens)
            return
        if n > 1:
            retain(tokens, n - 1)
        for j, queue in enumerate(outlets):
            batch = records if j == n - 1 else copy_records(records)
            await queue.put(Unit(batch, tokens))

    async def _deliver_routes(self, parts: list[list[Record]], tokens: list[Token]) -> None:
        """`route { … }`: part j (the records route j took) goes to route j's
        reader alone; a route whose reader is not running takes its records
        nowhere (as a pipeline nobody reads)."""
        self.metrics.emitted += sum(map(len, parts))
        observe = self.engine.ctx.observe_output
        if observe is not None:
            routed = [rec for part in parts for rec in part]
            if routed:
                observe(self.name, copy_records(routed))
        taps, last = self.taps, len(self.labels) - 1
        if taps is not None and last in taps.at:
            taps.passed(last, [rec for part in parts for rec in part])
        live = [
            (reader, part)
            for reader, part in zip(self.route_readers, parts)
            if part and reader is not None
        ]
        if not live:
            release(tokens)
            return
        if len(live) > 1:
            retain(tokens, len(live) - 1)
        for reader, part in live:
            await reader.inbox.put(Unit(part, tokens))

    async def _emit_errors(self, errors: list[Record], tokens: list[Token]) -> None:
        """Send error records to the readers of this pipeline's error stream,
        or count them (with a sample) when nobody reads it."""
        if self.first_error is None:
            self.first_error = errors[0]
        if self.taps is not None:
            self.taps.failed(errors)
        observe = self.engine.ctx.observe_errors
        if observe is not None:
            observe(self.name, copy_records(errors))
        readers = self.error_readers
        if not readers:
            self.engine.on_unread_error(errors[0])
            self.metrics.unread_errors += len(errors)
            return
        n = len(readers)
        retain(tokens, n)
        for j, reader in enumerate(readers):
            batch = errors if j == n - 1 else copy_records(errors)
            await reader.inbox.put(Unit(batch, tokens))

    async def _write_sink(self) -> None:
        queue, sink, i, metrics = (
            self.sink_queue,
            self.sink,
            self.sink_index,
            self.metrics,
        )
        assert queue is not None
        label = self.labels[i]
        clock = time.perf_counter
        while True:
            unit = await queue.get()
            if unit is END:
                break
            records = unit.records
            metrics.inp[i] += len(records)
            began = clock()
            try:
                rejected = await sink.write(records)
            except (FlowError, asyncio.CancelledError):
                raise
            except Exception as exc:
                raise StageFailure(self.name, label, exc) from exc
            metrics.wrote(clock() - began)
            if rejected:
                metrics.errors[i] += len(rejected)
                errors = [
                    error_record(
                        self.name,
                        label,
                        None,
                        record=r.record,
                        raw=r.raw,
                        code=r.code,
                        message=r.message,
                    )
                    for r in rejected
                ]
                await self._emit_errors(errors, unit.tokens)
            metrics.out[i] += len(records) - len(rejected or ())
            release(unit.tokens)
        await self.close_sink()

    async def close_sink(self) -> None:
        """Flush and close the sink once (at the end, or when the run fails)."""
        if self.sink is None or self.sink_closed:
            return
        self.sink_closed = True
        try:
            await self.sink.close()
        except (FlowError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise StageFailure(self.name, self.labels[self.sink_index], exc) from exc
        self.engine.ctx.bus.publish(
            "flushed", pipeline=self.name, stage=self.labels[self.sink_index]
        )
