"""Windows and acknowledgements, in-process: a batch is acknowledged only
once every window its records went to has been emitted and accepted, and a
run that dies at any sink write, restarted from its source's first
unacknowledged batch, gives exactly the windows of an uninterrupted run (the
window state saved with each accepted emission keeps re-read records of
emitted windows from being counted twice)."""

from __future__ import annotations

import datetime as dt
import tempfile

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowlang import runtime as rt
from flowlang.stages.summarize import Summarize

from . import teststages as ts
from .teststages import ACKS, COLLECTED

BASE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


class CrashingSink(rt.Sink):
    """Accepts writes into COLLECTED[name] until the `fail_at`-th, which
    raises before accepting anything (the process dies there)."""

    def __init__(self, ctx, name: str, fail_at: int | None = None):
        self.ctx = ctx
        self.name = name
        self.fail_at = fail_at
        self.writes = 0
        COLLECTED[name] = []

    async def write(self, records):
        self.writes += 1
        if self.fail_at is not None and self.writes >= self.fail_at:
            raise OSError(5, "Input/output error")
        COLLECTED[self.name].extend(dict(r) for r in records)
        return []


def build(batches, *, fail_at=None, lateness=0, acked=None, errors=False):
    def program(ctx):
        prog = rt.Program("win.flow", ctx)
        p = prog.pipeline("w", line=1, stages=[("source list", 1), ("summarize", 2), ("sink", 3)])
        p.source(0, ts.ListSource, name="src", batches=batches)
        p.window(
            1,
            Summarize,
            aggregates=(("n", "count", None), ("s", "sum", ("v",))),
            keys=(("k", ("k",)),),
            every=10_000,
            on=("t",),
            allowed_lateness=lateness,
        )
        p.sink(2, CrashingSink, name="out", fail_at=fail_at)
        if acked is not None:
            _watch_acks(p, acked)
        if errors:
            e = prog.pipeline("e", line=4, stages=[("from w.errors", 4), ("sink", 5)])
            e.read_errors_from("w")
            e.sink(1, ts.MemorySink, name="errors")
        return prog

    return program


def _watch_acks(p, acked: list) -> None:
    """Note, at each acknowledgement, what the sink holds."""
    original = ts.ListSource.batches

    class Watching(ts.ListSource):
        async def batches(self):
            async for batch in original(self):
                ack = batch.ack

                def checked(ack=ack, records=[i.record for i in batch.items]):
                    acked.append((records, list(COLLECTED["out"])))
                    ack()

                batch.ack = checked
                yield batch

    p.source_stage.cls = Watching


def run(program, state_dir: str) -> rt.Outcome:
    return rt.run_program(program, rt.Context(status=False, state_dir=state_dir))


def rows(records) -> list[tuple]:
    return sorted((r["window_start"], r["k"], r["n"], r["s"]) for r in records)


# event times in seconds, mostly increasing, some a little out of order
events = st.lists(
    st.tuples(st.integers(0, 120), st.sampled_from("ab"), st.integers(0, 9)),
    min_size=1,
    max_size=60,
).map(lambda xs: sorted(xs, key=lambda x: x[0] + (x[2] % 4) * 3))


def batched(data, cuts: list[int]) -> list[list[dict]]:
    records = [
        {"i": i, "t": BASE + dt.timedelta(seconds=s), "k": k, "v": v}
        for i, (s, k, v) in enumerate(data)
    ]
    points = sorted({c % (len(records) + 1) for c in cuts} | {0, len(records)})
    return [records[a:b] for a, b in zip(points, points[1:]) if b > a]


def window_start(t: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    us = (t - epoch) // dt.timedelta(microseconds=1)
    return epoch + dt.timedelta(microseconds=us // 10_000_000 * 10_000_000)


@settings(max_examples=60, deadline=None)
@given(events, st.lists(st.integers(0, 100), max_size=8), st.integers(0, 15_000))
def test_a_batch_is_acknowledged_only_after_all_its_windows_were_accepted(data, cuts, lateness):
    batches = batched(data, cuts)
    acked: list = []
    with tempfile.TemporaryDirectory() as state:
        outcome = run(build(batches, lateness=lateness, acked=acked, errors=True), state)
    assert outcome.exit_code == 0
    assert len(acked) == len(batches)  # all of them, in the end
    late = {e["record"]["i"] for e in COLLECTED["errors"]}
    assert all(e["code"] == "late" for e in COLLECTED["errors"])
    for records, accepted in acked:
        starts = {r["window_start"] for r in accepted}
        for rec in records:
            if rec["i"] not in late:
                assert window_start(rec["t"]) in starts, (rec, starts)


@settings(max_examples=80, deadline=None)
@given(
    events, st.lists(st.integers(0, 100), max_size=8), st.integers(0, 15_000), st.integers(1, 12)
)
def test_dying_at_any_write_then_resuming_gives_the_uninterrupted_windows(
    data, cuts, lateness, fail_at
):
    batches = batched(data, cuts)
    with tempfile.TemporaryDirectory() as state:
        assert run(build(batches, lateness=lateness), state).exit_code == 0
    reference = rows(COLLECTED.pop("out"))
    with tempfile.TemporaryDirectory() as state:
        first = run(build(batches, lateness=lateness, fail_at=fail_at), state)
        accepted = list(COLLECTED.pop("out"))
        resume_at = len(ACKS["src"])  # acknowledged in order: the next one is unacknowledged
        assert ACKS["src"] == list(range(resume_at))
        if first.exit_code == 0:
            assert resume_at == len(batches)
        second = run(build(batches[resume_at:], lateness=lateness), state)
        assert second.exit_code == 0
        again = COLLECTED.pop("out")
    assert rows(accepted + again) == reference


@pytest.mark.timeout(30)
def test_a_sink_failing_behind_a_window_ends_the_run():
    # the pipeline loop waits on its inbox with a timeout (windows are ticked);
    # the failure's cancellation must not be taken for that timeout
    data = [
        (1, "b", 3),
        (8, "a", 2),
        (23, "b", 4),
        (32, "a", 4),
        (34, "a", 9),
        (44, "a", 8),
        (74, "a", 1),
        (69, "b", 7),
        (81, "a", 8),
        (76, "a", 3),
        (82, "b", 7),
        (89, "b", 7),
        (102, "b", 0),
        (104, "b", 6),
        (107, "a", 1),
        (111, "a", 7),
    ]
    batches = batched(data, [14, 3, 39, 49, 43, 53, 24])
    with tempfile.TemporaryDirectory() as state:
        outcome = run(build(batches, lateness=5000, fail_at=1), state)
    assert outcome.exit_code == 1
    assert "Input/output error" in (outcome.failure or "")


class SteppingClock:
    """Processing time far ahead of the wall clock (so the engine's ticks
    close nothing), moving on by the given steps, one per reading."""

    def __init__(self, steps: list[int]):
        self.now = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
        self.steps = list(steps)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=self.steps.pop(0) if self.steps else 0)
        return self.now


def build_processing_time(batches, clock, fail_at=None):
    def program(ctx):
        prog = rt.Program("win.flow", ctx)
        p = prog.pipeline("w", line=1, stages=[("source list", 1), ("summarize", 2), ("sink", 3)])
        p.source(0, ts.ListSource, name="src", batches=batches)
        p.window(
            1,
            Summarize,
            aggregates=(("n", "count", None),),
            keys=(("k", ("k",)),),
            every=10_000,
            clock=clock,
        )
        p.sink(2, CrashingSink, name="out", fail_at=fail_at)
        return prog

    return program


@settings(max_examples=60, deadline=None)
@given(
    events,
    st.lists(st.integers(0, 100), max_size=8),
    st.lists(st.integers(0, 12_000), max_size=20),
    st.integers(1, 12),
)
# the clock crosses a window's end between the two records of the first batch
@example(data=[(0, "a", 0), (1, "a", 0), (2, "a", 0)], cuts=[2], steps=[0, 10_000], fail_at=2)
def test_processing_time_windows_count_each_record_once_across_a_crash(data, cuts, steps, fail_at):
    batches = batched(data, cuts)
    clock = SteppingClock(steps)
    with tempfile.TemporaryDirectory() as state:
        run(build_processing_time(batches, clock, fail_at=fail_at), state)
        accepted = list(COLLECTED.pop("out"))
        resume_at = len(ACKS["src"])
        assert run(build_processing_time(batches[resume_at:], clock), state).exit_code == 0
        again = COLLECTED.pop("out")
    # a batch lands in one window, so none is split between an emitted
    # window and one that is read again: each record is counted once
    assert sum(r["n"] for r in accepted + again) == len(data)
    for k in "ab":
        assert sum(r["n"] for r in accepted + again if r["k"] == k) == sum(
            1 for _, key, _ in data if key == k
        )
