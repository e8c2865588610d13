"""Stage classes used by the runtime tests' hand-written programs.

They follow the contracts in `flowlang.runtime.base` exactly, as the real
stage libraries do; state that a test inspects lives in module-level dicts
keyed by a name the program passes in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from flowlang.runtime.base import (
    Processor,
    RecordError,
    Rejected,
    Sink,
    Source,
    SourceBatch,
    SourceItem,
    WindowProcessor,
)

COLLECTED: dict[str, list[dict]] = {}  # sink name -> records accepted, in order
ACKS: dict[str, list[int]] = {}  # source name -> acknowledged batch numbers, in order
EVENTS: dict[str, list] = {}  # free-form observations by name


class ListSource(Source):
    """Yields `batches` (lists of records; a string item is an input that
    failed to decode); records the order of acknowledgements."""

    def __init__(self, ctx, name: str, batches: list, with_ack: bool = True, delay: float = 0.0):
        self.ctx = ctx
        self.name = name
        self.data = batches
        self.with_ack = with_ack
        self.delay = delay
        self.stopped = False
        self.yielded = 0
        ACKS[name] = []

    def stop(self) -> None:
        self.stopped = True

    async def batches(self):
        for number, batch in enumerate(self.data):
            if self.stopped:
                return
            items = [
                SourceItem(None, raw, RecordError("parse", "bad input", raw))
                if isinstance(raw, str)
                else SourceItem(raw)
                for raw in batch
            ]
            ack = (lambda n=number: ACKS[self.name].append(n)) if self.with_ack else None
            self.yielded += len(batch)
            EVENTS.setdefault(self.name + ".yielded", []).append(self.yielded)
            yield SourceBatch(items, ack=ack)
            if self.delay:
                await asyncio.sleep(self.delay)


class CountingSource(Source):
    """`total` generated records in batches of `size`, without end if total is None;
    `read` counts what it produced (for backpressure tests)."""

    def __init__(self, ctx, name: str, total: int | None, size: int = 100, payload: int = 0):
        self.ctx = ctx
        self.name = name
        self.total = total
        self.size = size
        self.payload = "x" * payload
        self.read = 0
        self.stopped = False
        SOURCES[name] = self

    def stop(self) -> None:
        self.stopped = True

    async def batches(self):
        i = 0
        while not self.stopped and (self.total is None or i < self.total):
            n = self.size if self.total is None else min(self.size, self.total - i)
            records = [{"i": i + k, "p": self.payload} for k in range(n)]
            i += n
            self.read = i
            yield SourceBatch([], records=records)
            await asyncio.sleep(0)


SOURCES: dict[str, CountingSource] = {}


class Tag(Processor):
    """Sets `field` to `value` and counts the records it saw."""

    def __init__(self, ctx, field: str, value):
        self.ctx = ctx
        self.field = field
        self.value = value

    def __call__(self, rec):
        self.ctx.count("tagged")
        rec[self.field] = self.value
        return rec


class Explode(Processor):
    """Raises RecordError for records whose `bad` field is true."""

    def __call__(self, rec):
        if rec.get("bad"):
            raise RecordError("type", f"record {rec.get('i')} is bad")
        return rec


class MemorySink(Sink):
    """Keeps accepted records in COLLECTED[name]; rejects those with `reject`."""

    def __init__(self, ctx, name: str, delay: float = 0.0, observe: str | None = None):
        self.ctx = ctx
        self.name = name
        self.delay = delay
        self.observe = observe
        COLLECTED[name] = []

    async def write(self, records):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.observe is not None:
            source = SOURCES[self.observe]
            written = len(COLLECTED[self.name]) + len(records)
            EVENTS.setdefault(self.name + ".lag", []).append(source.read - written)
        rejected = [
            Rejected(r, "rejected", "the sink refused it") for r in records if r.get("reject")
        ]
        COLLECTED[self.name].extend(r for r in records if not r.get("reject"))
        return rejected


class FailingSink(Sink):
    """Raises on the `fail_at`-th write (a broken disk, a dead server)."""

    def __init__(self, ctx, fail_at: int = 1):
        self.ctx = ctx
        self.fail_at = fail_at
        self.writes = 0
        self.closed = False

    async def write(self, records):
        self.writes += 1
        if self.writes >= self.fail_at:
            raise OSError(28, "No space left on device")
        return []


class CountWindow(WindowProcessor):
    """Emits {"n": count, "sum": sum of `i`} for every `every` records, on
    tick when `on_tick`, and what is open at flush. Records with `late` are
    refused (RecordError)."""

    def __init__(self, ctx, every: int = 10, on_tick: bool = False):
        self.ctx = ctx
        self.every = every
        self.on_tick = on_tick
        self.n = 0
        self.sum = 0
        self.ticks = 0

    def _emit(self):
        out = [{"n": self.n, "sum": self.sum}]
        self.n = self.sum = 0
        return out

    def add(self, rec):
        if rec.get("late"):
            raise RecordError("late", "window already closed")
        self.n += 1
        self.sum += rec.get("i", 0)
        return self._emit() if self.n >= self.every else []

    def tick(self, now: dt.datetime):
        assert now.tzinfo is not None
        self.ticks += 1
        EVENTS.setdefault("ticks", []).append(time.monotonic())
        if self.on_tick and self.n:
            return self._emit()
        return []

    def flush(self):
        return self._emit() if self.n else []


class SlowFileSink(Sink):
    """The file sink, slowed down: each write takes at least `delay` seconds."""

    def __init__(self, ctx, path: str, delay: float):
        from flowlang.stages.file_sink import FileSink

        self.inner = FileSink(ctx, path=path)
        self.delay = delay

    async def start(self):
        await self.inner.start()

    async def write(self, records):
        await asyncio.sleep(self.delay)
        return await self.inner.write(records)

    async def close(self):
        await self.inner.close()


class MemoryProbeSink(Sink):
    """Counts records and samples the memory Python has allocated (tracemalloc)
    at every write, keeping nothing."""

    def __init__(self, ctx, name: str, delay: float = 0.0):
        self.ctx = ctx
        self.name = name
        self.delay = delay
        EVENTS[name + ".memory"] = []
        EVENTS[name + ".count"] = [0]

    async def write(self, records):
        import tracemalloc

        if self.delay:
            await asyncio.sleep(self.delay)
        EVENTS[self.name + ".memory"].append(tracemalloc.get_traced_memory()[0])
        EVENTS[self.name + ".count"][0] += len(records)
        return []
