"""`route { … }` at run time: each record goes to the reader of the first
route that takes it, unmatched records are dropped and counted, a batch is
acknowledged once every route reader that got part of it accepted that part,
and the declaration is checked when the program is built.

The programs are written the way flowc generates them (see test_engine)."""

from __future__ import annotations

import pytest

from flowlang import runtime as rt
from flowlang.runtime.errors import FlowError

from . import teststages as ts
from .test_engine import assert_conserved, run
from .teststages import ACKS, COLLECTED, EVENTS


@pytest.fixture(autouse=True)
def _clean():
    for store in (COLLECTED, ACKS, EVENTS, ts.SOURCES):
        store.clear()
    yield


def _route_segment_1(stages):
    # route { loud: status >= 500, audit: user != null }  (no else)
    def run(batch, dropped, fail):
        out = [[], []]
        take_0 = out[0].append
        take_1 = out[1].append
        for rec in batch:
            at = 1
            try:
                if rec.get("status") >= 500:
                    take_0(rec)
                elif rec.get("user") is not None:
                    take_1(rec)
                else:
                    dropped[1] += 1
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


def build_routes(ctx, batches, delays=(0.0, 0.0)):
    prog = rt.Program("route.flow", ctx)
    app = prog.pipeline("app", line=1, stages=[("source list", 1), ("route { … }", 2)])
    app.source(0, ts.ListSource, name="src", batches=batches)
    app.segment(_route_segment_1, first=1, last=1)
    app.route(1, ("loud", "audit"))
    for n, name in enumerate(("loud", "audit")):
        p = prog.pipeline(name, line=5 + n, stages=[("from app", 5 + n), ("sink memory", 5 + n)])
        p.read_from("app")
        p.sink(1, ts.MemorySink, name=name, delay=delays[n])
    errors = prog.pipeline("errors", line=9, stages=[("from app.errors", 9), ("sink memory", 9)])
    errors.read_errors_from("app")
    errors.sink(1, ts.MemorySink, name="errors")
    return prog


INPUT = [
    [
        {"i": 0, "status": 500},
        {"i": 1, "status": 200, "user": "ann"},
        {"i": 2, "status": 503, "user": "bob"},  # both hold: the first route takes it
        {"i": 3, "status": 200},  # neither: dropped
    ],
    [{"i": 4, "status": "oops"}, "garbage", {"i": 5, "status": 404, "user": "cy"}],
    [{"i": 6, "status": 301}],  # nothing routed from this batch
]


def test_each_record_goes_to_the_first_route_that_takes_it_once():
    outcome = run(lambda ctx: build_routes(ctx, INPUT))
    assert outcome.exit_code == 0
    assert [r["i"] for r in COLLECTED["loud"]] == [0, 2]
    assert [r["i"] for r in COLLECTED["audit"]] == [1, 5]
    # a condition that fails is an error record of the route stage; garbage
    # is the source's
    stages = sorted(e["stage"] for e in COLLECTED["errors"])
    assert stages == ["route { … } (route.flow:2)", "source list (route.flow:1)"]
    app = outcome.metrics["app"]
    route = app["stages"][1]
    assert (route["in"], route["out"], route["dropped"], route["errors"]) == (7, 4, 2, 1)
    assert app["out"] == 4
    assert outcome.metrics["loud"]["in"] == 2 and outcome.metrics["audit"]["in"] == 2
    assert_conserved(outcome)
    # every batch acknowledged, in order, the one nothing was routed from too
    assert ACKS["src"] == [0, 1, 2]


def test_a_batch_is_acknowledged_only_after_each_route_reader_accepted_its_part():
    batches = [[{"i": n, "status": 500 if n % 2 else 200, "user": "u"}] * 2 for n in range(20)]
    seen_at_ack: list[tuple[int, int]] = []
    original = ts.ListSource.batches

    async def watching(self):
        async for batch in original(self):
            ack = batch.ack

            def checked(ack=ack):
                seen_at_ack.append((len(COLLECTED["loud"]), len(COLLECTED["audit"])))
                ack()

            batch.ack = checked
            yield batch

    ts.ListSource.batches = watching
    try:
        # the audit reader is slow: acknowledgements wait for it, not for loud
        outcome = run(lambda ctx: build_routes(ctx, batches, delays=(0.0, 0.01)), queue_size=1)
    finally:
        ts.ListSource.batches = original
    assert outcome.exit_code == 0
    assert ACKS["src"] == list(range(20))
    for number, (loud, audit) in enumerate(seen_at_ack):
        # batch n went whole to loud (odd n) or to audit (even n)
        assert loud >= 2 * ((number + 1) // 2)
        assert audit >= 2 * ((number + 2) // 2)
    assert len(COLLECTED["loud"]) == len(COLLECTED["audit"]) == 20


def test_running_one_route_runs_the_router_and_sends_the_other_routes_nowhere():
    outcome = run(lambda ctx: build_routes(ctx, INPUT), pipeline="loud")
    assert outcome.exit_code == 0
    assert sorted(outcome.metrics) == ["app", "loud"]
    assert [r["i"] for r in COLLECTED["loud"]] == [0, 2]
    assert "audit" not in COLLECTED
    assert ACKS["src"] == [0, 1, 2]


def test_a_route_that_is_not_last_or_goes_to_a_non_reader_is_refused_at_build():
    prog = rt.Program("bad.flow", rt.Context(status=False))
    app = prog.pipeline("app", line=1, stages=[("source list", 1), ("route", 2), ("sink", 3)])
    with pytest.raises(FlowError, match="last stage"):
        app.route(1, ("x",))
    app.route(2, ("x",))
    app.source(0, ts.ListSource, name="src", batches=[])
    other = prog.pipeline("x", line=4, stages=[("source list", 4), ("sink memory", 4)])
    other.source(0, ts.ListSource, name="other", batches=[])
    other.sink(1, ts.MemorySink, name="x")
    with pytest.raises(FlowError, match="routes to 'x', which does not read it"):
        prog.validate()
