"""Live taps: a sample of the records passing one point of a running
pipeline, and of its error records, for `GET /tap` of `--http` (served by
`runtime/monitor.py`, read by `flowc tap`).

Points. A pipeline's points are its own output (what leaves its last
stage) and, for each `.flow` line holding one of its stages, the output of
the last stage on that line: the records its head read or received, the
records a processor or `where` passed on, a window's emissions, the records
a `route` sent on, the records handed to the sink. A stage fused with later
ones into a segment is a point when its segment was generated `tappable`
(every generated segment of two stages or more is). The error records of a
point are those of its stages (a line: every stage on it; the pipeline: its
whole error stream).

Cost. While no tap is attached to a pipeline, its runner's `taps` is None
and a batch pays one attribute test at each point. Once one is attached,
each point asks its taps for their budget once per batch (a token bucket
per tap, refilled at the tap's rate), copies at most that many records
(spread over the batch: a tap must not see later changes), and hands the
copies over without waiting. A tap whose client reads too slowly loses what
its queue cannot hold; the loss is counted and sent to the client as a
`dropped` line, and the pipeline never waits for a tap. A segment runs its
`run_tapped` loop only for the batches in which a tap of one of its inner
stages has budget.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from .ops import fresh
from .program import SegmentDecl

if TYPE_CHECKING:
    from .runner import Runner

DEFAULT_RATE = 10.0  # records per second a tap takes unless told
MAX_RATE = 10_000.0
# the samples a tap holds for its client: one second's worth, 64 to 1000
MIN_QUEUE, MAX_QUEUE = 64, 1000


@dataclass(frozen=True)
class Point:
    """A tappable point: the output of stage `index` of `pipeline`; `line`
    is None for the pipeline's own output; `errors_of`: the labels of the
    stages whose error records it gets (None: all of the pipeline's)."""

    pipeline: str
    index: int
    line: int | None
    stage: str
    errors_of: frozenset[str] | None

    def name(self) -> str:
        """How `flowc tap` writes it: `web` or `web:3`."""
        return self.pipeline if self.line is None else f"{self.pipeline}:{self.line}"

    def describe(self) -> dict[str, Any]:
        return {
            "point": self.name(),
            "pipeline": self.pipeline,
            "line": self.line,
            "stage": self.stage,
        }


def points(runner: "Runner") -> list[Point]:
    """Every point of a running pipeline: its output, then its lines in order."""
    decl = runner.decl
    labels = runner.labels
    last = len(decl.stages) - 1
    tappable = {last}
    for step in decl.steps():
        if isinstance(step, SegmentDecl):  # its last stage, or all of them
            inner = range(step.first, step.last + 1) if step.tappable else [step.last]
            tappable.update(inner)
        else:  # a window
            tappable.add(step.index)
    tappable.add(0)
    if decl.sink_stage is not None:
        tappable.add(decl.sink_stage.index)
    found = [Point(runner.name, last, None, labels[last], None)]
    lines: dict[int, list[int]] = {}
    for stage in decl.stages:
        lines.setdefault(stage.line, []).append(stage.index)
    for line in sorted(lines):
        on_line = lines[line]
        index = on_line[-1]
        if index in tappable:
            found.append(
                Point(
                    runner.name, index, line, labels[index], frozenset(labels[i] for i in on_line)
                )
            )
    return found


class _Bucket:
    """A token bucket: `rate` a second, holding at most `cap` (one second's
    worth, at least one, at most what the tap's queue holds); it starts full,
    so a burst that comes in one batch as the tap attaches is sampled up to
    a second's worth."""

    __slots__ = ("rate", "cap", "tokens", "stamp")

    def __init__(self, rate: float, cap: int):
        self.rate = rate
        self.cap = float(max(1, min(rate, cap)))
        self.tokens = self.cap
        self.stamp = time.monotonic()

    def available(self, now: float) -> int:
        self.tokens = min(self.cap, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def take(self, n: int) -> None:
        self.tokens -= n


class Tap:
    """One attached client: its point, rate and queue of samples."""

    def __init__(self, point: Point, rate: float, errors: bool):
        self.point = point
        self.rate = rate
        self.errors = errors
        self.capacity = min(max(MIN_QUEUE, int(rate)), MAX_QUEUE)
        self.records = _Bucket(rate, self.capacity)
        self.error_records = _Bucket(rate, self.capacity)
        self.queue: deque[tuple[str, Any]] = deque()
        self.dropped = 0
        self.ended: str | None = None  # why the stream ends (None: it goes on)
        self._wake = asyncio.Event()

    def put(self, kind: str, copies: Iterable[Any]) -> None:
        """Queue samples; what the queue cannot hold is counted as dropped."""
        queue = self.queue
        for rec in copies:
            if len(queue) < self.capacity:
                queue.append((kind, rec))
            else:
                self.dropped += 1
        self._wake.set()

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until there is something to send or the stream ends (or `timeout`)."""
        if self.queue or self.dropped or self.ended is not None:
            return
        self._wake.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass

    def lines(self) -> list[dict[str, Any]]:
        """What to send now: a `dropped` line first if samples were lost."""
        out: list[dict[str, Any]] = []
        point = self.point
        if self.dropped:
            out.append({"dropped": self.dropped, "pipeline": point.pipeline, "point": point.name()})
            self.dropped = 0
        queue = self.queue
        while queue:
            kind, rec = queue.popleft()
            stage = rec.get("stage", point.stage) if kind == "error" else point.stage
            out.append({"pipeline": point.pipeline, "stage": stage, kind: rec})
        return out


def _spread(records: list, n: int) -> list:
    """At most n of the records, spread evenly over them."""
    m = len(records)
    if m <= n:
        return records
    return [records[i * m // n] for i in range(n)]


class PipelineTaps:
    """The taps attached to one pipeline, by point; what its runner calls."""

    def __init__(self, taps: list[Tap]):
        self.at: dict[int, list[Tap]] = {}
        for tap in taps:
            self.at.setdefault(tap.point.index, []).append(tap)
        self.error_taps = [tap for tap in taps if tap.errors]

    def passed(self, index: int, records: list) -> None:
        """A batch leaves stage `index` (the whole list is at hand)."""
        taps = self.at.get(index)
        if not taps or not records:
            return
        now = time.monotonic()
        wants = [tap.records.available(now) for tap in taps]
        n = max(wants)
        if n == 0:
            return
        copies = [fresh(rec) for rec in _spread(records, n)]
        for tap, want in zip(taps, wants):
            give = copies[:want]
            tap.records.take(len(give))
            tap.put("record", give)

    def wants(self, first: int, last: int) -> list[int] | None:
        """For a tappable segment first..last: how many records to copy
        after each stage but the last (None: none at all this batch)."""
        now = time.monotonic()
        wants = []
        for index in range(first, last):
            taps = self.at.get(index)
            wants.append(max(tap.records.available(now) for tap in taps) if taps else 0)
        return wants if any(wants) else None

    def took(self, first: int, got: list[list]) -> None:
        """What `run_tapped` copied after each stage from `first` on."""
        for offset, copies in enumerate(got):
            if copies:
                for tap in self.at[first + offset]:
                    give = copies[: tap.records.available(time.monotonic())]
                    tap.records.take(len(give))
                    tap.put("record", give)

    def failed(self, errors: list) -> None:
        """Error records of the pipeline (each names its stage)."""
        if not self.error_taps:
            return
        now = time.monotonic()
        for tap in self.error_taps:
            of = tap.point.errors_of
            mine = errors if of is None else [e for e in errors if e.get("stage") in of]
            want = tap.error_records.available(now) if mine else 0
            if want:
                give = [fresh(e) for e in _spread(mine, want)]
                tap.error_records.take(len(give))
                tap.put("error", give)


class Taps:
    """Every tap of a run: attaching and detaching them keeps each runner's
    `taps` (None while it has none)."""

    def __init__(self, runners: dict[str, "Runner"]):
        self.runners = runners
        self.attached: list[Tap] = []
        self.finished: set[str] = set()

    def points(self) -> list[Point]:
        return [p for runner in self.runners.values() for p in points(runner)]

    def find(self, pipeline: str, line: int | None) -> Point | None:
        runner = self.runners.get(pipeline)
        if runner is None:
            return None
        return next((p for p in points(runner) if p.line == line), None)

    def attach(self, point: Point, rate: float, errors: bool) -> Tap:
        tap = Tap(point, rate, errors)
        self.attached.append(tap)
        self._rewire(point.pipeline)
        if point.pipeline in self.finished:
            tap.end(f"pipeline {point.pipeline} has finished")
        return tap

    def detach(self, tap: Tap) -> None:
        if tap in self.attached:
            self.attached.remove(tap)
            self._rewire(tap.point.pipeline)

    def pipeline_finished(self, pipeline: str) -> None:
        self.finished.add(pipeline)
        for tap in self.attached:
            if tap.point.pipeline == pipeline:
                tap.end(f"pipeline {pipeline} has finished")

    def end_all(self, reason: str) -> None:
        for tap in self.attached:
            tap.end(reason)

    def _rewire(self, pipeline: str) -> None:
        mine = [tap for tap in self.attached if tap.point.pipeline == pipeline]
        self.runners[pipeline].taps = PipelineTaps(mine) if mine else None
