"""The contracts between the runtime engine and the stage libraries.

A stage library (a module under `flowlang.stages`) provides a class per
stage; generated code instantiates it as `Class(ctx, **arguments)` where `ctx`
is the stage's `StageContext` and the arguments are the checked, constant
values of the stage's parameters (field paths as tuples of str; enumerated
options as their name, with `<param>_args` holding an option's own arguments;
`env("X")` already resolved; schemas as type descriptors, see `coerce`).

Nothing here imports the compiler: the runtime depends on nothing of ours.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterable

Record = dict[str, Any]


class RecordError(Exception):
    """Raised by a stage for one record that must go to the error stream.

    `code` is a short stable word (`parse`, `type`, `schema`, `rejected`, …),
    `message` says why in words, `raw` is the undecoded input when there is one.
    """

    def __init__(self, code: str, message: str, raw: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.raw = raw


@dataclass
class StageContext:
    """What a stage instance knows about where it runs."""

    pipeline: str
    stage: str  # label used in error records: "geoip (web.flow:3)"
    location: str  # "web.flow:3"
    state_dir: str | None = None  # where checkpoints may be written
    counters: dict[str, int] = field(default_factory=dict)  # stage-specific metrics
    options: dict[str, Any] = field(default_factory=dict)  # run options (strict, …)
    bus: Any = None  # the run's lifecycle bus (`flowlang.runtime.bus.Bus`), when running

    def count(self, name: str, n: int = 1) -> None:
        """Bump a stage-specific counter shown in metrics (e.g. geoip `private`)."""
        self.counters[name] = self.counters.get(name, 0) + n


class Processor:
    """A synchronous per-record stage: returns the (possibly same, mutated)
    record, or None to drop it (counted as dropped). Raises RecordError for a
    record that must go to the error stream.

    `splits_exactly`: false for a stage whose output depends on the records
    before this one (a counter, a set of keys seen): over input split among
    `--workers` processes it would not give what it gives over all of it."""

    splits_exactly = True

    def __init__(self, ctx: StageContext, **args: Any) -> None:
        self.ctx = ctx

    def __call__(self, rec: Record) -> Record | None:  # pragma: no cover - abstract
        raise NotImplementedError


class WindowProcessor:
    """A stage that absorbs records and emits others later (summarize).

    `add` returns the records that became ready because of this one (a window
    closed); `tick` is called about once a second with the processing time and
    returns what closed by the clock; `flush` returns everything still open
    (end of input and shutdown). Raise RecordError from `add` for a record that
    cannot be accepted (late).

    Windows are numbered (a number that grows with time, e.g. the window's
    start divided by its length). The engine keeps the acknowledgement of
    every batch until each window its records went to has been emitted and
    its output accepted: `begin_batch` is called before a batch's records are
    added, `high_window` after them, and `emitted_below` after an emission.
    The defaults (every record in window 0, every emission releases all)
    suit a processor that emits everything it holds at once.

    `state` and `restore` carry what a restarted run must know about windows
    emitted before (the engine saves `state` once an emission is accepted,
    when the input is re-read after a restart; see `runtime.runner`)."""

    def __init__(self, ctx: StageContext, **args: Any) -> None:
        self.ctx = ctx

    def add(self, rec: Record) -> list[Record]:  # pragma: no cover - abstract
        raise NotImplementedError

    def add_batch(
        self, records: Iterable[Record], fail: Callable[[Record, BaseException], None]
    ) -> list[Record]:
        """Add records in order (what the engine calls, a batch at a time): a
        record `add` refuses goes to `fail(record, error)`; returns what the
        records made ready. Override it to do a batch in one loop."""
        out: list[Record] = []
        for rec in records:
            try:
                ready = self.add(rec)
            except Exception as exc:
                fail(rec, exc)
                continue
            if ready:
                out.extend(ready)
        return out

    def tick(self, now: _dt.datetime) -> list[Record]:
        return []

    def flush(self) -> list[Record]:
        return []

    def begin_batch(self) -> None:
        """The records added next arrived together (one source batch)."""

    def high_window(self) -> int | None:
        """The highest window number that records added since the last call
        went to; None when none was absorbed (all refused, or skipped)."""
        return 0

    def emitted_below(self) -> float:
        """Every window numbered below this has been emitted."""
        return float("inf")

    def state(self) -> dict | None:
        """What a restart needs to know (plain JSON data), or None."""
        return None

    def restore(self, state: dict) -> None:
        """Take back `state` saved by an earlier run, before the first record."""

    def open_windows(self) -> int | None:
        """How many windows are open now (for monitoring), or None when the
        processor does not keep windows apart."""
        return None


@dataclass
class SourceItem:
    """One input record, or one input that failed to decode (`error` set)."""

    record: Record | None
    raw: str | None = None
    error: RecordError | None = None


@dataclass
class SourceBatch:
    """A batch read from a source. `ack` is called once, when every record
    derived from the batch has been accepted by every sink (or sent to an
    error stream); sources checkpoint or acknowledge upstream there."""

    items: list[SourceItem]
    ack: Callable[[], None] | None = None
    # records decoded without error, for sources that decode in bulk (then
    # `items` need only hold the failed inputs); the engine takes both
    records: list[Record] = field(default_factory=list)


class Source:
    """Produces batches until exhausted or stopped. `acknowledges`: its
    batches carry acknowledgements (the input can be read again), so windows
    after it keep their state; `keeps_state`: it keeps checkpoints of its
    own. Either way the run uses the state directory, and locks it.
    `drains`: after `stop`, `batches` soon ends by itself, handing over what
    it still holds (input that cannot be read again), so the engine reads it
    to its end instead of leaving after the batch in hand."""

    acknowledges = False
    keeps_state = False
    drains = False

    def __init__(self, ctx: StageContext, **args: Any) -> None:
        self.ctx = ctx

    def batches(self) -> AsyncIterator[SourceBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        """Stop reading soon (signal); `batches` then ends after the current batch."""

    def shard(self, index: int, count: int) -> str | None:
        """Under `--workers count`, read only share `index` of the input (or
        share it some other way, as a consumer group does). Returns why this
        source cannot be shared among processes, or None when it can."""
        return "it cannot be shared among processes"

    def before_workers(self, count: int) -> None:
        """Called once in the parent of `count` workers, with the state
        directory locked, before any worker starts (a checkpoint to deal out)."""

    async def close(self) -> None:
        """Release resources; called once after the last batch was acknowledged."""

    # monitoring (`flowc run --http`); each is cheap and never blocks

    def lag_bytes(self) -> int | None:
        """Bytes of input not read yet (files), or None when unknown."""
        return None

    def pending_messages(self) -> int | None:
        """Messages the server holds that were not fetched yet, as the server
        last said (NATS, Kafka), or None when unknown."""
        return None

    def problem(self) -> str | None:
        """Why the source cannot read now (a lost connection), or None."""
        return None


@dataclass
class Rejected:
    """A record a sink refused for good, with why; `raw`: how the record is
    shown when the error record cannot hold it (it cannot be encoded)."""

    record: Record
    code: str
    message: str
    raw: str | None = None

    @classmethod
    def unencodable(cls, exc: Any) -> Rejected:
        """The rejection of a record that cannot be encoded (`jsonl.Unencodable`)."""
        return cls(None, "encode", exc.message, raw=exc.preview)


class Sink:
    """Writes batches. `write` returns when every record of the batch is either
    accepted (durably, as far as the sink can know) or rejected for good; it
    retries transient failures itself and returns the rejected ones.
    `shareable`: several `--workers` processes may each run one (a server
    takes their writes; a file sink gives each worker a file of its own)."""

    shareable = True

    def __init__(self, ctx: StageContext, **args: Any) -> None:
        self.ctx = ctx

    async def start(self) -> None:
        """Connect/open; called once before the first write."""

    async def write(self, records: list[Record]) -> list[Rejected]:  # pragma: no cover
        raise NotImplementedError

    async def probe(self) -> str | None:
        """A cheap check that the destination can be reached now (for
        `/ready`): None when it can, else why not. Called only between
        `start` and `close`, and never for long (the caller times it out)."""
        return None

    async def close(self) -> None:
        """Flush and release; called once at the end (also on shutdown)."""
