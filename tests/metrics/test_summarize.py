"""`Summarize`, the runtime of `summarize … every … [on …]`: used directly,
then through compiled pipelines (the checker's typing of its output, batch
sizes, the error stream, the flush at shutdown)."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest

from flowlang.runtime.base import RecordError, StageContext
from flowlang.stages import summarize as summarize_stage
from flowlang.stages.summarize import EXAMPLES, Summarize

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def make(aggregates, keys=(), every=60_000, on=("ts",), allowed_lateness=0, **extra):
    ctx = StageContext("metrics", "summarize (t.flow:2)", "t.flow:2")
    return Summarize(
        ctx,
        aggregates=aggregates,
        keys=keys,
        every=every,
        on=on,
        allowed_lateness=allowed_lateness,
        **extra,
    )


def run(proc, records):
    out = []
    for rec in records:
        out.extend(proc.add(dict(rec)))
    return out + proc.flush()


ALL = (
    ("n", "count", None),
    ("total", "sum", ("v",)),
    ("mean", "avg", ("v",)),
    ("lo", "min", ("v",)),
    ("hi", "max", ("v",)),
    ("p50", "p50", ("v",)),
    ("p90", "p90", ("v",)),
    ("p95", "p95", ("v",)),
    ("p99", "p99", ("v",)),
    ("users", "distinct_count", ("user",)),
)


def test_the_documented_example_gives_its_output():
    example = EXAMPLES[0]
    proc = make(
        (("n", "count", None), ("p95", "p95", ("latency_ms",))),
        keys=(("host", ("host",)),),
    )
    assert run(proc, example.input) == list(example.output)


def test_every_aggregate_on_a_hand_computed_window():
    values = [4, 8, 15, 16, 23, 42, None, 2.5]
    users = ["a", "b", "a", None, "c", "b", "a", "d"]
    records = [{"ts": at(i), "v": v, "user": u} for i, (v, u) in enumerate(zip(values, users))]
    (rec,) = run(make(ALL), records)
    present = [4, 8, 15, 16, 23, 42, 2.5]
    assert rec == {
        "window_start": T0,
        "window_end": at(60),
        "n": 8,
        "total": sum(present),
        "mean": sum(present) / 7,
        "lo": 2.5,
        "hi": 42,
        # nearest rank over the 7 sorted values 2.5 4 8 15 16 23 42
        "p50": 15.0,
        "p90": 42.0,
        "p95": 42.0,
        "p99": 42.0,
        "users": 4,
    }
    assert isinstance(rec["p50"], float) and isinstance(rec["hi"], int)


def test_a_group_without_values_gives_nulls_and_a_zero_sum():
    (rec,) = run(make(ALL), [{"ts": at(1), "v": None}, {"ts": at(2)}])
    assert rec["n"] == 2 and rec["total"] == 0 and rec["users"] == 0
    assert rec["mean"] is rec["lo"] is rec["hi"] is rec["p50"] is rec["p99"] is None


def test_windows_are_aligned_to_the_epoch_and_half_open():
    proc = make((("n", "count", None),), every=5 * 60_000)
    assert proc.add({"ts": at(-0.000001)}) == []  # 11:55-12:00
    assert [r["window_start"] for r in proc.add({"ts": at(0)})] == [at(-300)]
    assert proc.add({"ts": at(299.999999)}) == []
    out = proc.add({"ts": at(300)}) + proc.flush()
    assert [(r["window_start"], r["window_end"], r["n"]) for r in out] == [
        (T0, at(300), 2),
        (at(300), at(600), 1),
    ]


def test_the_window_of_a_record_before_1970():
    old = dt.datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC)
    (rec,) = run(make((("n", "count", None),)), [{"ts": old}])
    assert rec["window_start"] == dt.datetime(1969, 12, 31, 23, 59, tzinfo=UTC)
    assert rec["window_end"] == dt.datetime(1970, 1, 1, tzinfo=UTC)


def test_times_in_other_zones_and_naive_times_count_as_utc():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    records = [
        {"ts": dt.datetime(2024, 5, 1, 14, 0, 30, tzinfo=plus2)},
        {"ts": dt.datetime(2024, 5, 1, 12, 0, 40)},
    ]
    (rec,) = run(make((("n", "count", None),)), records)
    assert rec["window_start"] == T0 and rec["n"] == 2
    assert rec["window_start"].tzinfo is UTC


def test_nested_and_null_keys_are_groups_in_a_fixed_order():
    keys = (("country", ("geo", "country_iso")), ("status", ("status",)))
    records = [
        {"ts": at(1), "geo": {"country_iso": "DE"}, "status": 200},
        {"ts": at(2), "geo": None, "status": 200},
        {"ts": at(3), "geo": {"country_iso": "CZ"}, "status": 500},
        {"ts": at(4), "status": None},
        {"ts": at(5), "geo": {"country_iso": "DE"}, "status": 200},
        {"ts": at(6), "geo": {}, "status": 200},
    ]
    out = run(make((("n", "count", None),), keys=keys), records)
    assert [(r["country"], r["status"], r["n"]) for r in out] == [
        (None, None, 1),
        (None, 200, 2),
        ("CZ", 500, 1),
        ("DE", 200, 2),
    ]


def test_true_and_1_are_different_keys_but_1_and_1_0_are_the_same():
    records = [
        {"ts": at(1), "k": True},
        {"ts": at(2), "k": 1},
        {"ts": at(3), "k": 1.0},
        {"ts": at(4), "k": "1"},
        {"ts": at(5), "k": [1, 2]},
        {"ts": at(6), "k": [1, 2]},
    ]
    out = run(make((("n", "count", None),), keys=(("k", ("k",)),)), records)
    assert [(r["k"], r["n"]) for r in out] == [(True, 1), (1, 2), ("1", 1), ([1, 2], 2)]
    assert type(out[0]["k"]) is bool


def test_a_window_closes_when_a_record_reaches_its_end():
    proc = make((("n", "count", None),))
    assert proc.add({"ts": at(10)}) == []
    assert proc.add({"ts": at(59.9)}) == []
    closed = proc.add({"ts": at(60)})
    assert [(r["window_start"], r["n"]) for r in closed] == [(T0, 2)]
    assert proc.ctx.counters["windows"] == 1


def test_late_records_go_to_the_error_stream_with_the_reason():
    proc = make((("n", "count", None),))
    proc.add({"ts": at(10)})
    proc.add({"ts": at(61)})  # closes 12:00-12:01
    with pytest.raises(RecordError) as err:
        proc.add({"ts": at(30)})
    assert err.value.code == "late"
    assert "2024-05-01T12:00:30Z" in err.value.message
    assert "12:00:00Z to 2024-05-01T12:01:00Z" in err.value.message
    assert "allowed_lateness 0s" in err.value.message
    assert proc.ctx.counters["late"] == 1
    # the late record left no trace: the open window holds only the one record
    assert [(r["window_start"], r["n"]) for r in proc.flush()] == [(at(60), 1)]


def test_allowed_lateness_keeps_a_window_open_longer():
    proc = make((("n", "count", None),), allowed_lateness=30_000)
    proc.add({"ts": at(10)})
    assert proc.add({"ts": at(75)}) == []  # 12:01:15 < 12:01:00 + 30s
    assert proc.add({"ts": at(50)}) == []  # accepted: its window is still open
    closed = proc.add({"ts": at(90)})  # 12:01:30 closes 12:00-12:01
    assert [(r["window_start"], r["n"]) for r in closed] == [(T0, 2)]
    with pytest.raises(RecordError) as err:
        proc.add({"ts": at(59)})
    assert err.value.code == "late" and "allowed_lateness 30s" in err.value.message


def test_a_record_far_ahead_closes_every_window_before_it():
    proc = make((("n", "count", None),), allowed_lateness=600_000)
    for s in (1, 61, 121):
        proc.add({"ts": at(s)})
    closed = proc.add({"ts": at(3600)})
    assert [r["window_start"] for r in closed] == [T0, at(60), at(120)]


@pytest.mark.parametrize(
    "value, words",
    [
        (None, "`ts` is null"),
        ("2024-05-01T12:00:00Z", "`ts` is a str, not a time"),
        (1714564800, "`ts` is a int, not a time"),
    ],
)
def test_a_record_without_a_time_goes_to_the_error_stream(value, words):
    proc = make((("n", "count", None),))
    with pytest.raises(RecordError) as err:
        proc.add({"ts": value})
    assert err.value.code == "window" and words in err.value.message
    assert proc.flush() == []


def test_the_event_time_may_be_a_nested_field():
    proc = make((("n", "count", None),), on=("http", "at"))
    out = run(proc, [{"http": {"at": at(5)}}, {"http": {"at": at(65)}}])
    assert [r["n"] for r in out] == [1, 1]
    with pytest.raises(RecordError):
        proc.add({"http": None})


@pytest.mark.parametrize("value", ["12", True, float("nan"), float("inf"), [1], 10**400])
def test_a_value_that_is_not_a_finite_number_is_an_error_and_leaves_no_trace(value):
    proc = make((("total", "sum", ("v",)), ("n", "count", None)))
    proc.add({"ts": at(1), "v": 2})
    with pytest.raises(RecordError) as err:
        proc.add({"ts": at(2), "v": value})
    assert err.value.code == "type" and "`v`" in err.value.message
    assert proc.flush() == [{"window_start": T0, "window_end": at(60), "total": 2, "n": 1}]


@pytest.mark.parametrize("big", [10**309, -(10**400)])
def test_an_integer_no_float_can_hold_is_refused_by_every_number_aggregate(big):
    # it would end an average, a percentile or a float total with an
    # OverflowError: the record is refused instead, and the stage goes on
    proc = make(ALL)
    proc.add({"ts": at(1), "v": 2, "user": "a"})
    with pytest.raises(RecordError) as err:
        proc.add({"ts": at(2), "v": big, "user": "b"})
    assert err.value.code == "type" and "beyond" in err.value.message
    edge = int(sys.float_info.max)  # the largest integer a float holds is taken
    proc.add({"ts": at(3), "v": edge, "user": "c"})
    (row,) = proc.flush()
    assert row["n"] == 2 and row["total"] == 2 + edge and row["users"] == 2
    assert row["p99"] == float(edge) and row["mean"] == (2 + edge) / 2


def test_a_compiled_summarize_sends_an_integer_too_big_to_the_errors_and_goes_on(tmp_path):
    # (orjson refuses a JSON number beyond a double: such an integer comes from text)
    texts = ["1", "1" + "0" * 400, "3"]
    records = [{"ts": _iso(at(i)), "s": text} for i, text in enumerate(texts)]
    out, errors, code = run_compiled(
        "schema In { ts: time, s: str }\n"
        'source file("input.jsonl", format=json, schema=In)\n'
        "  | set v = to_int(s)\n"
        "  | summarize n = count(), mean = avg(v), p50 = p50(v) every 1m on ts\n"
        '  | sink file("output.jsonl")\n',
        tmp_path,
        records,
        batch_size=2,
    )
    assert code == 0
    assert [(r["n"], r["mean"], r["p50"]) for r in out] == [(2, 2.0, 1.0)]
    assert [e["code"] for e in errors] == ["type"] and "beyond" in errors[0]["message"]


def test_distinct_count_takes_any_kind_of_value():
    values = ["x", 1, 1.0, True, None, {"a": 1}, {"a": 1}, [1], at(1), at(1)]
    records = [{"ts": at(i), "u": v} for i, v in enumerate(values)]
    (rec,) = run(make((("d", "distinct_count", ("u",)),)), records)
    assert rec["d"] == 6  # "x", 1 (= 1.0), true, {a: 1}, [1], the time


def test_tick_does_nothing_with_event_time():
    proc = make((("n", "count", None),))
    proc.add({"ts": at(1)})
    assert proc.tick(at(3600)) == []
    assert proc.tick(dt.datetime.now(UTC) + dt.timedelta(days=1)) == []
    assert [r["n"] for r in proc.flush()] == [1]


def test_flush_emits_open_windows_in_order_and_later_records_for_them_are_late():
    proc = make((("n", "count", None),), keys=(("k", ("k",)),), allowed_lateness=3_600_000)
    for s, k in [(130, "b"), (5, "b"), (70, "a"), (6, "a"), (131, None)]:
        proc.add({"ts": at(s), "k": k})
    out = proc.flush()
    assert [(r["window_start"], r["k"]) for r in out] == [
        (T0, "a"),
        (T0, "b"),
        (at(60), "a"),
        (at(120), None),
        (at(120), "b"),
    ]
    assert proc.flush() == []
    with pytest.raises(RecordError) as err:
        proc.add({"ts": at(100), "k": "a"})
    assert err.value.code == "late"
    assert [r["window_start"] for r in run(proc, [{"ts": at(200), "k": "a"}])] == [at(180)]


class Clock:
    """A settable processing-time clock."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_processing_time_windows_close_by_the_clock():
    clock = Clock(at(10))
    proc = make((("n", "count", None),), on=None, clock=clock)
    assert proc.add({"ts": "ignored"}) == []
    clock.now = at(20)
    proc.add({})
    assert proc.tick(at(59)) == []
    closed = proc.tick(at(60))
    assert [(r["window_start"], r["window_end"], r["n"]) for r in closed] == [(T0, at(60), 2)]
    assert proc.tick(at(61)) == []
    clock.now = at(61)
    proc.add({})
    clock.now = at(125)
    # a record after the window's end closes it too, without waiting for a tick
    assert [(r["window_start"], r["n"]) for r in proc.add({})] == [(at(60), 1)]
    assert [(r["window_start"], r["n"]) for r in proc.flush()] == [(at(120), 1)]


def test_processing_time_never_goes_back_with_the_wall_clock():
    clock = Clock(at(70))
    proc = make((("n", "count", None),), on=None, clock=clock)
    proc.add({})
    clock.now = at(10)  # the clock was set back: the record joins the current window
    assert proc.add({}) == []
    assert [(r["window_start"], r["n"]) for r in proc.flush()] == [(at(60), 2)]


def test_processing_time_uses_the_real_clock_by_default():
    proc = make((("n", "count", None),), on=None)
    before = dt.datetime.now(UTC)
    proc.add({})
    (rec,) = proc.flush()
    assert rec["window_start"] <= before + dt.timedelta(seconds=1)
    assert rec["window_end"] > before - dt.timedelta(seconds=1)
    assert rec["window_end"] - rec["window_start"] == dt.timedelta(minutes=1)


def test_beyond_the_exact_limit_groups_switch_to_sketches():
    proc = make(
        (
            ("p50", "p50", ("v",)),
            ("p99", "p99", ("v",)),
            ("d", "distinct_count", ("v",)),
            ("n", "count", None),
            ("total", "sum", ("v",)),
        ),
        exact_limit=100,
    )
    values = [float(i) for i in range(1, 5001)]
    (rec,) = run(proc, [{"ts": at(i / 100), "v": v} for i, v in enumerate(values)])
    assert proc.ctx.counters["sketched"] == 2  # the values and the distinct set
    assert abs(rec["p50"] - 2500.0) <= 0.01 * 2500.0
    assert abs(rec["p99"] - 4950.0) <= 0.01 * 4950.0
    assert abs(rec["d"] - 5000) <= 0.03 * 5000 + 2
    assert rec["n"] == 5000 and rec["total"] == sum(values)  # exact whatever the size


def test_within_the_exact_limit_nothing_is_sketched():
    proc = make((("p50", "p50", ("v",)),), exact_limit=100)
    (rec,) = run(proc, [{"ts": at(i / 10), "v": i} for i in range(100)])
    assert rec["p50"] == 49.0 and "sketched" not in proc.ctx.counters


def test_aggregates_of_the_same_field_share_the_values():
    proc = make((("a", "p50", ("v",)), ("b", "p90", ("v",)), ("c", "max", ("v",))))
    (rec,) = run(proc, [{"ts": at(i), "v": v} for i, v in enumerate([3, 1, 2])])
    assert (rec["a"], rec["b"], rec["c"]) == (2.0, 3.0, 3)
    assert len(proc._fields) == 1


def test_count_of_a_field_counts_its_non_null_values():
    proc = make((("records", "count", None), ("with_v", "count", ("v",))))
    (rec,) = run(proc, [{"ts": at(1), "v": 1}, {"ts": at(2), "v": None}, {"ts": at(3)}])
    assert (rec["records"], rec["with_v"]) == (3, 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(aggregates=(("n", "count", None),), every=0), "every"),
        (
            dict(aggregates=(("n", "count", None),), every=1000, allowed_lateness=-1),
            "allowed_lateness",
        ),
        (dict(aggregates=(("x", "median", ("v",)),), every=1000), "median"),
        (dict(aggregates=(("x", "sum", None),), every=1000), "needs a field"),
    ],
)
def test_impossible_arguments_are_refused_at_start(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Summarize(StageContext("p", "s", "t.flow:1"), **kwargs)


def test_the_docs_describe_the_stage():
    assert "window_start" in summarize_stage.DOC and "late" in summarize_stage.DOC
    assert all(e.code.startswith("summarize ") for e in EXAMPLES)


# ---------------------------------------------------------------- compiled pipelines


def run_compiled(text: str, tmp_path, records, batch_size: int):
    """Compile `text` and run it in this process with the given batch size;
    returns (output records, error records, exit code)."""
    from flowlang.compile_cache import load_module
    from flowlang.compiler import compile_source
    from flowlang.runtime.context import Context
    from flowlang.runtime.launch import run_program
    from flowlang.source import SourceFile
    from tests.flowrun import (
        _environment,
        read_jsonl,
        with_error_collectors,
        write_jsonl,
    )

    write_jsonl(tmp_path / "input.jsonl", records)
    src = SourceFile("t.flow", with_error_collectors(text, "t.flow"))
    result = compile_source(src)
    assert result.ok, [d.message for d in result.diagnostics]
    module_path = tmp_path / f"{result.module_name}.py"
    module_path.write_text(result.code, encoding="utf-8")
    module = load_module(module_path)
    with _environment(tmp_path, None):
        ctx = Context(state_dir=str(tmp_path / "state"), status=False, batch_size=batch_size)
        outcome = run_program(module.build, ctx)
    output = read_jsonl(tmp_path / "output.jsonl")
    return output, read_jsonl(tmp_path / "errors.jsonl"), outcome.exit_code


PROGRAM = """
schema Request { ts: time?, host: str?, geo: {country: str?}?, v: float?, user: str? }

source file("input.jsonl", format=json, schema=Request)
  | summarize n = count(), total = sum(v), mean = avg(v), lo = min(v), hi = max(v),
      p50 = p50(v), p99 = p99(v), users = distinct_count(user)
      by host, country = geo.country every 1m on ts allowed_lateness = 30s
  | sink file("output.jsonl")
"""


def _iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _generated_requests(n: int, seed: int):
    import random

    rnd = random.Random(seed)
    out = []
    cursor = 0.0
    for _ in range(n):
        cursor += rnd.uniform(-45, 8) if rnd.random() < 0.05 else rnd.uniform(0, 4)
        rec = {
            "ts": _iso(at(cursor)),
            "host": rnd.choice(["a", "b", None]),
            "geo": rnd.choice([None, {"country": "CZ"}, {"country": "DE"}, {"country": None}]),
            "v": rnd.choice([None, round(rnd.uniform(0, 500), 3), rnd.randint(0, 9)]),
            "user": rnd.choice(["u1", "u2", "u3", None]),
        }
        if rnd.random() < 0.02:
            rec["ts"] = None
        out.append(rec)
    return out


@pytest.mark.parametrize("batch_size", [1, 7, 1024])
def test_a_compiled_summarize_equals_the_reference_whatever_the_batch_size(tmp_path, batch_size):
    from tests.metrics.test_summarize_properties import reference

    records = _generated_requests(600, seed=11)
    output, errors, code = run_compiled(PROGRAM, tmp_path, records, batch_size)
    assert code == 0
    parsed = [
        dict(
            r,
            ts=None
            if r["ts"] is None
            else dt.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")),
        )
        for r in records
    ]
    aggregates = (
        ("n", "count", None),
        ("total", "sum", ("v",)),
        ("mean", "avg", ("v",)),
        ("lo", "min", ("v",)),
        ("hi", "max", ("v",)),
        ("p50", "p50", ("v",)),
        ("p99", "p99", ("v",)),
        ("users", "distinct_count", ("user",)),
    )
    # the schema makes every v a float
    coerced = [dict(r, v=None if r["v"] is None else float(r["v"])) for r in parsed]
    keys = (("host", ("host",)), ("country", ("geo", "country")))
    expected, expected_errors = reference(coerced, 60_000, 30_000, aggregates=aggregates, keys=keys)
    expected = [
        dict(r, window_start=_iso(r["window_start"]), window_end=_iso(r["window_end"]))
        for r in expected
    ]
    assert output == expected
    assert [(e["code"], e["stage"].split(" ")[0]) for e in errors] == [
        (code_, "summarize") for _, code_ in expected_errors
    ]
    assert {code_ for _, code_ in expected_errors} == {"late", "window"}
    assert all(e["record"] is not None for e in errors)


@pytest.mark.parametrize(
    "sink_args, words",
    [
        ("tags=[host, window_end], fields=[n]", ["window_end", "time"]),
        ("tags=[host], fields=[n, window_start]", ["window_start", "time"]),
        ("tags=[host], fields=[n, p59]", ["p59"]),
        ("tags=[hots], fields=[n]", ["hots"]),
    ],
)
def test_the_checker_knows_the_types_summarize_writes(sink_args, words):
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    text = (
        "schema R { ts: time, host: str, v: float }\n"
        'source file("in.jsonl", format=json, schema=R)\n'
        "  | summarize n = count(), p95 = p95(v) by host every 1m on ts\n"
        f'  | sink influx("b", measurement="m", {sink_args}, time=window_start)\n'
    )
    result = compile_source(SourceFile("t.flow", text))
    messages = [d.message for d in result.diagnostics if d.is_error]
    assert not result.ok and len(messages) == 1
    assert all(w in messages[0] for w in words), messages


def test_a_well_typed_summarize_into_influx_checks_clean():
    from flowlang.compiler import compile_source
    from flowlang.source import SourceFile

    text = (
        "schema R { ts: time, host: str, v: float }\n"
        'source file("in.jsonl", format=json, schema=R)\n'
        "  | summarize n = count(), p95 = p95(v) by host every 1m on ts\n"
        '  | sink influx("b", measurement="m", tags=[host], fields=[n, p95], time=window_start)\n'
    )
    result = compile_source(SourceFile("t.flow", text))
    assert result.ok and not result.diagnostics
    assert "_st_summarize.Summarize" in result.code


def _wait_for_rows(proc, path, count: int) -> None:
    import time

    from tests.flowrun import read_jsonl

    deadline = time.monotonic() + 60
    while len(read_jsonl(path)) < count and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)


def _rows(path) -> list[tuple]:
    from tests.flowrun import read_jsonl

    return [(r["window_start"], r["host"], r["n"]) for r in read_jsonl(path)]


def test_open_windows_of_a_followed_file_are_left_to_the_next_run(tmp_path):
    import signal
    import subprocess

    from tests.flowrun import FLOWC, write_jsonl

    (tmp_path / "metrics.flow").write_text(
        "schema R { ts: time, host: str }\n"
        'source file("input.jsonl", format=json, schema=R, follow=true)\n'
        "  | summarize n = count() by host every 1m on ts\n"
        '  | sink file("output.jsonl")\n'
    )
    first = [{"ts": _iso(at(s)), "host": h} for s, h in [(1, "a"), (2, "b"), (3, "a")]]
    second = [{"ts": _iso(at(s)), "host": h} for s, h in [(61, "a"), (62, "a"), (70, "c")]]
    write_jsonl(tmp_path / "input.jsonl", first + second)
    env = {**os.environ, "FLOWC_CACHE_DIR": str(tmp_path / "cache")}

    def start():
        return subprocess.Popen(
            [FLOWC, "run", "metrics.flow"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    output = tmp_path / "output.jsonl"
    for later in ([], [{"ts": _iso(at(121)), "host": "a"}]):
        with open(tmp_path / "input.jsonl", "ab") as f:
            from flowlang.runtime import jsonl

            f.write(b"".join(jsonl.dumps(r) + b"\n" for r in later))
        proc = start()
        try:
            # the first window closes as soon as 12:01:01 has been read; the
            # second, in the second run, once 12:02:01 has
            _wait_for_rows(proc, output, 2 if not later else 4)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, stderr.decode()
        if not later:
            # the window of 12:01 is open: not emitted, its records not acknowledged
            assert _rows(output) == [
                ("2024-05-01T12:00:00Z", "a", 2),
                ("2024-05-01T12:00:00Z", "b", 1),
            ]
            assert "open windows kept for the next run" in stderr.decode()
    assert _rows(output) == [
        ("2024-05-01T12:00:00Z", "a", 2),
        ("2024-05-01T12:00:00Z", "b", 1),
        ("2024-05-01T12:01:00Z", "a", 2),
        ("2024-05-01T12:01:00Z", "c", 1),
    ]


def test_open_windows_over_stdin_are_flushed_at_shutdown(tmp_path):
    """Input that cannot be read again: a stop emits what is open."""
    import signal
    import subprocess

    from flowlang.runtime import jsonl
    from tests.flowrun import FLOWC

    (tmp_path / "metrics.flow").write_text(
        "schema R { ts: time, host: str }\n"
        "source stdin(format=json, schema=R)\n"
        "  | summarize n = count() by host every 1m on ts\n"
        '  | sink file("output.jsonl")\n'
    )
    events = [(1, "a"), (2, "b"), (3, "a"), (61, "a"), (62, "a"), (70, "c")]
    proc = subprocess.Popen(
        [FLOWC, "run", "metrics.flow"],
        cwd=tmp_path,
        env={**os.environ, "FLOWC_CACHE_DIR": str(tmp_path / "cache")},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        for s, h in events:
            proc.stdin.write(jsonl.dumps({"ts": _iso(at(s)), "host": h}) + b"\n")
        proc.stdin.flush()  # stdin stays open: the input has not ended
        _wait_for_rows(proc, tmp_path / "output.jsonl", 2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert _rows(tmp_path / "output.jsonl") == [
        ("2024-05-01T12:00:00Z", "a", 2),
        ("2024-05-01T12:00:00Z", "b", 1),
        ("2024-05-01T12:01:00Z", "a", 2),
        ("2024-05-01T12:01:00Z", "c", 1),
    ]
