"""The engine in-process: fan-out, error streams, conservation, acknowledgement
order, windows, strict mode, backpressure, selection and fatal failures.

Each program below is written the way flowc generates modules: a `build(ctx)`
that declares pipelines and fused segment functions."""

from __future__ import annotations

import datetime as dt

import pytest

from flowlang import runtime as rt
from flowlang.runtime.metrics import balanced

from . import teststages as ts
from .teststages import ACKS, COLLECTED, EVENTS


@pytest.fixture(autouse=True)
def _clean():
    for store in (COLLECTED, ACKS, EVENTS, ts.SOURCES):
        store.clear()
    yield


def run(build, **options) -> rt.Outcome:
    options.setdefault("status", False)
    return rt.run_program(build, rt.Context(**options))


def assert_conserved(outcome: rt.Outcome) -> None:
    for name, snap in outcome.metrics.items():
        assert balanced(snap), (name, snap)
        for stage in snap["stages"]:
            absorbed = stage.get("absorbed", 0)
            assert stage["in"] == stage["out"] + stage["dropped"] + stage["errors"] + absorbed, (
                stage
            )


# --- a program with fan-out and an error stream ------------------------------


def _main_segment_1(stages):
    tag_1 = stages[1]

    def run(batch, dropped, fail):
        out = []
        append = out.append
        for rec in batch:
            at = 1
            try:
                # fan.flow:2 tag(seen)
                rec = tag_1(rec)
                at = 2
                # fan.flow:3 where status >= 500
                if not (rec.get("status") >= 500):
                    dropped[2] += 1
                    continue
                append(rec)
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


def _a_segment_1(stages):
    def run(batch, dropped, fail):
        out = []
        append = out.append
        for rec in batch:
            at = 1
            try:
                # fan.flow:6 set reader = "a"
                rec["reader"] = "a"
                append(rec)
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


def _b_segment_1(stages):
    explode_1 = stages[1]

    def run(batch, dropped, fail):
        out = []
        append = out.append
        for rec in batch:
            at = 1
            try:
                # fan.flow:10 explode
                rec = explode_1(rec)
                append(rec)
            except Exception as exc:
                fail(at, rec, exc)
        return out

    return run


FAN_INPUT = [
    [
        {"i": 0, "status": 500},
        {"i": 1, "status": 200},
        "garbage line",
        {"i": 2, "status": 503, "bad": True},
    ],
    [
        {"i": 3, "status": "oops"},
        {"i": 4, "status": 502, "reject": True},
        {"i": 5, "status": 500},
    ],
    [{"i": 6, "status": 404}],
]


def build_fan(ctx: rt.Context) -> rt.Program:
    prog = rt.Program("fan.flow", ctx)
    main = prog.pipeline(
        "main", line=1, stages=[("source list", 1), ("tag(seen)", 2), ("where", 3)]
    )
    main.source(0, ts.ListSource, name="src", batches=FAN_INPUT)
    main.processor(1, ts.Tag, field="seen", value=True)
    main.segment(_main_segment_1, first=1, last=2)
    a = prog.pipeline("a", line=5, stages=[("from main", 5), ("set", 6), ("sink memory", 7)])
    a.read_from("main")
    a.segment(_a_segment_1, first=1, last=1)
    a.sink(2, ts.MemorySink, name="a")
    b = prog.pipeline("b", line=9, stages=[("from main", 9), ("explode", 10), ("sink memory", 11)])
    b.read_from("main")
    b.processor(1, ts.Explode)
    b.segment(_b_segment_1, first=1, last=1)
    b.sink(2, ts.MemorySink, name="b")
    errors = prog.pipeline(
        "errors", line=13, stages=[("from main.errors", 13), ("sink memory", 14)]
    )
    errors.read_errors_from("main")
    errors.sink(1, ts.MemorySink, name="errors")
    return prog


def test_fan_out_gives_every_reader_its_own_copy_of_every_record():
    outcome = run(build_fan)
    assert outcome.exit_code == 0
    assert [r["i"] for r in COLLECTED["a"]] == [0, 2, 5]  # 4 is rejected by a's sink
    assert all(r["reader"] == "a" and r["seen"] is True for r in COLLECTED["a"])
    # b's records were never touched by a's `set`: each reader got a copy
    assert [r["i"] for r in COLLECTED["b"]] == [0, 5]  # 2 fails in b, 4 is rejected
    assert all("reader" not in r for r in COLLECTED["b"])


def test_error_stream_records_have_the_documented_shape_and_sources():
    run(build_fan)
    errors = COLLECTED["errors"]
    assert {e["code"] for e in errors} == {"parse", "runtime"}
    for e in errors:
        assert set(e) == {"pipeline", "stage", "code", "message", "at", "record", "raw"}
        assert e["pipeline"] == "main"
        assert isinstance(e["at"], dt.datetime) and e["at"].utcoffset() == dt.timedelta(0)
    parse = next(e for e in errors if e["code"] == "parse")
    assert parse["stage"] == "source list (fan.flow:1)"
    assert parse["raw"] == "garbage line" and parse["record"] is None
    typing = next(e for e in errors if e["code"] == "runtime")
    assert typing["stage"] == "where (fan.flow:3)"
    assert typing["message"].startswith("TypeError: ")
    assert typing["record"]["i"] == 3 and typing["record"]["seen"] is True


def test_errors_of_readers_nobody_reads_are_counted_and_summarised(capsys):
    outcome = run(build_fan)
    snap_a, snap_b = outcome.metrics["a"], outcome.metrics["b"]
    assert snap_a["unread_errors"] == 1  # the rejected record
    assert snap_b["unread_errors"] == 2  # explode(2) and the rejected record
    stderr = capsys.readouterr().err
    assert "pipeline b: 2 error records" in stderr
    assert "record 2 is bad" in stderr  # the sample
    assert "pipeline main:" not in stderr  # main's errors are read


def test_records_are_conserved_per_pipeline_and_stage():
    outcome = run(build_fan)
    assert_conserved(outcome)
    main = outcome.metrics["main"]
    assert (main["in"], main["out"], main["dropped"], main["errors"]) == (8, 4, 2, 2)
    tag, where = main["stages"][1], main["stages"][2]
    assert tag["counters"] == {"tagged": 7}
    assert (where["in"], where["out"], where["dropped"], where["errors"]) == (
        7,
        4,
        2,
        1,
    )
    sink_a = outcome.metrics["a"]["stages"][2]
    assert (sink_a["in"], sink_a["out"], sink_a["errors"]) == (4, 3, 1)
    assert outcome.metrics["errors"]["in"] == 2


def test_batches_are_acknowledged_in_order_after_every_reader_accepted_them():
    seen_at_ack = []

    def build(ctx):
        prog = build_fan(ctx)
        source = prog.pipelines["main"].source_stage
        source.args["batches"] = [[{"i": n, "status": 500}] for n in range(30)]
        return prog

    original = ts.ListSource.batches

    async def watching(self):
        async for batch in original(self):
            ack = batch.ack
            number = len(seen_at_ack)
            seen_at_ack.append(None)

            def checked(ack=ack, number=number):
                seen_at_ack[number] = (len(COLLECTED["a"]), len(COLLECTED["b"]))
                ack()

            batch.ack = checked
            yield batch

    ts.ListSource.batches = watching
    try:
        outcome = run(build, queue_size=1)
    finally:
        ts.ListSource.batches = original
    assert outcome.exit_code == 0
    assert ACKS["src"] == list(range(30))
    for number, (in_a, in_b) in enumerate(seen_at_ack):
        assert in_a >= number + 1 and in_b >= number + 1


# --- windows --------------------------------------------------------------------


def build_window(ctx, batches=None, every=3, on_tick=False, delay=0.0):
    prog = rt.Program("win.flow", ctx)
    w = prog.pipeline("w", line=1, stages=[("source list", 1), ("count", 2), ("sink memory", 3)])
    w.source(
        0,
        ts.ListSource,
        name="src",
        batches=batches or [[{"i": n}] for n in range(10)],
        delay=delay,
    )
    w.window(1, ts.CountWindow, every=every, on_tick=on_tick)
    w.sink(2, ts.MemorySink, name="w")
    return prog


def test_window_output_continues_and_absorbed_batches_wait_for_it():
    acked_with = []
    original = ts.ListSource.batches

    async def watching(self):
        async for batch in original(self):
            ack = batch.ack

            def checked(ack=ack):
                acked_with.append(len(COLLECTED["w"]))
                ack()

            batch.ack = checked
            yield batch

    ts.ListSource.batches = watching
    try:
        outcome = run(build_window)
    finally:
        ts.ListSource.batches = original
    assert COLLECTED["w"] == [
        {"n": 3, "sum": 0 + 1 + 2},
        {"n": 3, "sum": 3 + 4 + 5},
        {"n": 3, "sum": 6 + 7 + 8},
        {"n": 1, "sum": 9},  # flushed at end of input
    ]
    assert ACKS["src"] == list(range(10))
    # batch k is acknowledged only once the window output holding it was accepted
    assert acked_with == [max(1, k // 3 + 1) for k in range(10)]
    snap = outcome.metrics["w"]
    assert snap["absorbed"] == 10 - 4
    assert_conserved(outcome)


def test_window_refusals_go_to_the_error_stream():
    batches = [[{"i": 1}, {"i": 2, "late": True}, {"i": 3}]]
    outcome = run(lambda ctx: build_window(ctx, batches=batches, every=100))
    assert COLLECTED["w"] == [{"n": 2, "sum": 4}]
    snap = outcome.metrics["w"]
    assert snap["errors"] == 1 and snap["stages"][1]["errors"] == 1
    assert_conserved(outcome)


def test_windows_are_ticked_by_the_clock():
    batches = [[{"i": n}] for n in range(6)]
    outcome = run(
        lambda ctx: build_window(ctx, batches=batches, every=1000, on_tick=True, delay=0.1),
        tick_interval=0.05,
    )
    assert outcome.exit_code == 0
    assert len(EVENTS["ticks"]) >= 5
    # ticks closed windows while input was still arriving: more than one output
    assert len(COLLECTED["w"]) > 1
    assert sum(r["n"] for r in COLLECTED["w"]) == 6
    assert_conserved(outcome)


# --- strict mode, failures, selection -------------------------------------------


def test_strict_mode_stops_at_the_first_unread_error_record(capsys):
    outcome = run(build_fan, strict=True)
    assert outcome.exit_code == 1
    # main's errors (the unparseable line) are read by `errors`: they do not
    # stop the run; the first error of a pipeline whose errors nobody reads does
    assert outcome.strict_error["pipeline"] in ("a", "b")
    assert "--strict" in capsys.readouterr().err
    assert ACKS["src"] == []  # the failing batch was never acknowledged


def test_strict_mode_lets_a_program_handle_its_errors(capsys):
    def build(ctx):
        prog = rt.Program("handled.flow", ctx)
        main = prog.pipeline("main", line=1, stages=[("source list", 1), ("sink memory", 2)])
        main.source(0, ts.ListSource, name="src", batches=[[{"i": 1}, "garbage"], [{"i": 2}]])
        main.sink(1, ts.MemorySink, name="main")
        errors = prog.pipeline(
            "errors", line=4, stages=[("from main.errors", 4), ("sink memory", 5)]
        )
        errors.read_errors_from("main")
        errors.sink(1, ts.MemorySink, name="errors")
        return prog

    outcome = run(build, strict=True)
    assert outcome.exit_code == 0 and outcome.strict_error is None
    assert [r["i"] for r in COLLECTED["main"]] == [1, 2]
    assert [e["code"] for e in COLLECTED["errors"]] == ["parse"]


def test_a_sink_that_raises_fails_the_run_with_the_stage_named(capsys):
    def build(ctx):
        prog = rt.Program("fail.flow", ctx)
        p = prog.pipeline("p", line=1, stages=[("source list", 1), ("sink disk", 2)])
        p.source(0, ts.ListSource, name="src", batches=[[{"i": 1}], [{"i": 2}]])
        p.sink(1, ts.FailingSink, fail_at=2)
        return prog

    outcome = run(build)
    assert outcome.exit_code == 1
    err = capsys.readouterr().err
    assert "pipeline p, stage sink disk (fail.flow:2): OSError" in err
    assert "No space left on device" in err
    # the first batch was written and acknowledged; the failed one was not,
    # so a restart reads it again
    assert ACKS["src"] == [0]


def test_selecting_a_pipeline_runs_it_and_what_it_reads_only():
    outcome = run(build_fan, pipeline="a")
    assert set(outcome.metrics) == {"main", "a"}
    assert "b" not in COLLECTED and "errors" not in COLLECTED
    assert [r["i"] for r in COLLECTED["a"]] == [0, 2, 5]
    # main's errors have no reader in this run: they are counted
    assert outcome.metrics["main"]["unread_errors"] == 2


def test_unknown_pipeline_and_cycles_are_start_up_errors(capsys):
    assert run(build_fan, pipeline="nope").exit_code == 2
    assert "no pipeline named 'nope'" in capsys.readouterr().err

    def cyclic(ctx):
        prog = rt.Program("cyc.flow", ctx)
        x = prog.pipeline("x", line=1, stages=[("from y", 1), ("sink memory", 2)])
        x.read_from("y")
        x.sink(1, ts.MemorySink, name="x")
        y = prog.pipeline("y", line=3, stages=[("from x", 3), ("sink memory", 4)])
        y.read_from("x")
        y.sink(1, ts.MemorySink, name="y")
        return prog

    assert run(cyclic).exit_code == 2
    assert "cycle" in capsys.readouterr().err


def test_env_resolves_while_building_and_a_missing_variable_is_named_not_valued(
    monkeypatch, capsys
):
    monkeypatch.setenv("FLOW_TEST_SECRET", "s3cr3t-value")
    monkeypatch.delenv("FLOW_TEST_MISSING", raising=False)
    assert rt.env("FLOW_TEST_SECRET") == "s3cr3t-value"
    assert rt.env("FLOW_TEST_MISSING", "fallback") == "fallback"

    def build(ctx):
        prog = rt.Program("env.flow", ctx)
        p = prog.pipeline("p", line=1, stages=[("source list", 1), ("sink memory", 2)])
        p.source(0, ts.ListSource, name=rt.env("FLOW_TEST_SECRET"), batches=[])
        p.sink(1, ts.MemorySink, name=rt.env("FLOW_TEST_MISSING"))
        return prog

    assert run(build).exit_code == 2
    err = capsys.readouterr().err
    assert "FLOW_TEST_MISSING" in err and "s3cr3t-value" not in err


def test_lifecycle_events_are_published_on_the_bus():
    ctx = rt.Context(status=False)
    events = []
    ctx.bus.subscribe("*", lambda topic, **data: events.append((topic, data.get("pipeline"))))
    assert rt.run_program(build_fan, ctx).exit_code == 0
    for name in ("main", "a", "b", "errors"):
        assert ("started", name) in events and ("stopped", name) in events
        assert events.index(("started", name)) < events.index(("stopped", name))
    assert ("flushed", "a") in events  # its sink was flushed and closed


# --- backpressure ---------------------------------------------------------------


def test_a_slow_sink_slows_the_source_and_keeps_in_flight_records_bounded():
    def build(ctx):
        prog = rt.Program("slow.flow", ctx)
        p = prog.pipeline("p", line=1, stages=[("source counting", 1), ("sink slow", 2)])
        p.source(0, ts.CountingSource, name="src", total=20_000, size=100)
        p.sink(1, ts.MemorySink, name="slow", delay=0.002, observe="src")
        return prog

    ctx = rt.Context(status=False, queue_size=2)
    outcome = rt.run_program(build, ctx)
    assert outcome.exit_code == 0
    assert len(COLLECTED["slow"]) == 20_000
    lag = EVENTS["slow.lag"]
    # read but not yet written: at most the queues (2 + 2), the batch in the
    # pump, the one being written and the one the source holds
    assert max(lag) <= (2 + 2 + 3) * 100, max(lag)


def test_a_source_blocked_by_backpressure_is_reported_paused_then_resumed():
    def build(ctx):
        prog = rt.Program("slow.flow", ctx)
        p = prog.pipeline("p", line=1, stages=[("source counting", 1), ("sink slow", 2)])
        p.source(0, ts.CountingSource, name="src", total=500, size=100)
        p.sink(1, ts.MemorySink, name="slow", delay=0.3)
        return prog

    ctx = rt.Context(status=False, queue_size=1)
    events = []
    ctx.bus.subscribe("paused", lambda topic, **d: events.append(topic))
    ctx.bus.subscribe("resumed", lambda topic, **d: events.append(topic))
    outcome = rt.run_program(build, ctx)
    assert outcome.exit_code == 0
    assert events and events[0] == "paused"
    assert events.count("paused") == events.count("resumed")
    assert outcome.metrics["p"]["pauses"] == events.count("paused")


def test_a_slow_reader_slows_the_producer_and_the_fast_reader_with_it():
    def build(ctx):
        prog = rt.Program("fan.flow", ctx)
        main = prog.pipeline("main", line=1, stages=[("source counting", 1)])
        main.source(0, ts.CountingSource, name="src", total=10_000, size=100)
        fast = prog.pipeline("fast", line=2, stages=[("from main", 2), ("sink memory", 3)])
        fast.read_from("main")
        fast.sink(1, ts.MemorySink, name="fast", observe="src")
        slow = prog.pipeline("slow", line=4, stages=[("from main", 4), ("sink memory", 5)])
        slow.read_from("main")
        slow.sink(1, ts.MemorySink, name="slow", delay=0.003, observe="src")
        return prog

    outcome = run(build, queue_size=2)
    assert outcome.exit_code == 0
    assert len(COLLECTED["fast"]) == len(COLLECTED["slow"]) == 10_000
    bound = (2 + 2 + 2 + 3) * 100  # main's inbox, the reader's inbox and sink queue, in hand
    assert max(EVENTS["slow.lag"]) <= bound
    assert max(EVENTS["fast.lag"]) <= bound  # the fast reader never ran far ahead either
    assert_conserved(outcome)


# --- a stop: the batch in hand, or everything a draining source still holds --


class StoppingSource(rt.Source):
    """Yields three batches and asks the engine to stop after the first; a
    source that `drains` goes on handing over what it holds."""

    def __init__(self, ctx, engines: list, drains: bool):
        self.ctx = ctx
        self.engines = engines
        self.drains = drains
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    async def batches(self):
        for number in range(3):
            yield rt.SourceBatch([rt.SourceItem({"i": number})])
            if number == 0:
                self.engines[-1].request_stop()
                assert self.stopped

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(("drains", "written"), [(False, [0, 1]), (True, [0, 1, 2])])
def test_a_stop_reads_on_only_from_a_source_that_drains(monkeypatch, drains, written):
    from flowlang.runtime import engine as engine_module

    engines: list = []
    original = engine_module.Engine.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        engines.append(self)

    monkeypatch.setattr(engine_module.Engine, "__init__", remember)

    def build(ctx):
        prog = rt.Program("stop.flow", ctx)
        p = prog.pipeline("p", line=1, stages=[("source stopping", 1), ("sink memory", 2)])
        p.source(0, StoppingSource, engines=engines, drains=drains)
        p.sink(1, ts.MemorySink, name="out")
        return prog

    outcome = run(build)
    assert outcome.exit_code == 0
    assert [r["i"] for r in COLLECTED["out"]] == written
