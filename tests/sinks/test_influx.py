"""The influx sink against a real server (victoria-metrics through the real
`influxdb-client` async write API; see tests/fixtures/metrics_db.py), and
the line protocol it writes."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from flowlang.runtime.base import RecordError, StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages.influx import InfluxSink, encode_point, time_ns
from tests.flowrun import run_flow

UTC = dt.timezone.utc
T0 = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=1)


def context() -> StageContext:
    return StageContext("p", "influx (t.flow:1)", "t.flow:1")


async def write_all(sink: InfluxSink, *batches: list[dict]):
    await sink.start()
    rejected = []
    try:
        for batch in batches:
            rejected.extend(await sink.write(batch))
    finally:
        await sink.close()
    return rejected


def wait_for(vm, measurement: str, n: int, timeout: float = 15.0):
    """The samples of `measurement` once there are at least `n` (the database
    makes new points searchable within about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = vm.samples(measurement)
        if len(samples) >= n or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


async def test_points_read_back_with_values_tags_and_times(victoria_metrics, measurement_name):
    records = [
        {
            "ts": T0 + dt.timedelta(seconds=i),
            "host": f"web {i % 2}",
            "region": "eu,north",
            "latency": 10.5 * i,
            "count": i,
            "up": i % 3 != 0,
        }
        for i in range(6)
    ]
    sink = InfluxSink(
        context(),
        "metrics",
        measurement_name,
        tags=(("host",), ("region",)),
        fields=(("latency",), ("count",), ("up",)),
        time=("ts",),
        url=victoria_metrics.url,
    )
    assert await write_all(sink, records) == []
    samples = wait_for(victoria_metrics, measurement_name, 18)
    expected = sorted(
        [
            (f, {"host": r["host"], "region": "eu,north"}, v, ms(r["ts"]))
            for r in records
            for f, v in (("latency", r["latency"]), ("count", r["count"]), ("up", int(r["up"])))
        ],
        key=lambda s: (s[3], s[0], sorted(s[1].items())),
    )
    assert samples == expected


async def test_without_fields_every_other_scalar_field_is_written(
    victoria_metrics, measurement_name
):
    records = [
        {
            "ts": T0,
            "host": "a",
            "cpu": 0.25,
            "mem": 512,
            "nested": {"x": 1},
            "tags": [1],
            "absent": None,
        }
    ]
    sink = InfluxSink(
        context(),
        "metrics",
        measurement_name,
        tags=(("host",),),
        time=("ts",),
        url=victoria_metrics.url,
    )
    assert await write_all(sink, records) == []
    samples = wait_for(victoria_metrics, measurement_name, 2)
    assert samples == [
        ("cpu", {"host": "a"}, 0.25, ms(T0)),
        ("mem", {"host": "a"}, 512, ms(T0)),
    ]


async def test_values_line_protocol_cannot_carry_are_rejected_and_the_rest_written(
    victoria_metrics, measurement_name
):
    good = {"ts": T0, "host": "ok", "v": 1.0, "s": "fine"}
    bad = [
        ({"ts": T0, "host": "", "v": 1.0}, "rejected", "tag `host` is empty"),
        ({"ts": T0, "host": "a\nb", "v": 1.0}, "rejected", "control character"),
        ({"ts": T0, "host": "a", "v": float("nan")}, "rejected", "nan"),
        ({"ts": T0, "host": "a", "v": float("-inf")}, "rejected", "-inf"),
        ({"ts": T0, "host": "a", "v": 2**70}, "rejected", "64 bits"),
        (
            {"ts": T0, "host": "a", "v": 1.0, "s": "two\nlines"},
            "rejected",
            "line break",
        ),
        ({"ts": T0, "host": "a", "v": {"x": 1}}, "type", "not a number"),
        ({"ts": T0, "host": {"x": 1}, "v": 1.0}, "type", "not a scalar"),
        ({"ts": None, "host": "a", "v": 1.0}, "type", "time field `ts` is null"),
        ({"ts": T0, "host": "a", "v": None}, "rejected", "no field with a value"),
    ]
    sink = InfluxSink(
        context(),
        "metrics",
        measurement_name,
        tags=(("host",),),
        fields=(("v",), ("s",)),
        time=("ts",),
        url=victoria_metrics.url,
    )
    records = [good] + [dict(r) for r, _, _ in bad]
    rejected = await write_all(sink, records)
    assert [r.record for r in rejected] == [r for r, _, _ in bad]
    for got, (_, code, words) in zip(rejected, bad):
        assert got.code == code
        assert words in got.message
    samples = wait_for(victoria_metrics, measurement_name, 2)
    assert [(f, tags) for f, tags, _, _ in samples] == [
        ("s", {"host": "ok"}),
        ("v", {"host": "ok"}),
    ]


async def test_null_tags_are_left_out_and_null_fields_skipped(
    fake_influx,
):
    sink = InfluxSink(
        context(),
        "b",
        "m",
        tags=(("host",), ("dc",)),
        fields=(("a",), ("b",)),
        time=("ts",),
        url=fake_influx.url,
    )
    assert await write_all(sink, [{"ts": T0, "host": "h", "dc": None, "a": 1, "b": None}]) == []
    assert fake_influx.lines == [f"m,host=h a=1i {time_ns(T0)}"]


async def test_points_without_time_get_distinct_processing_times(
    fake_influx,
):
    before = time.time_ns()
    sink = InfluxSink(context(), "b", "m", tags=(("host",),), url=fake_influx.url)
    assert await write_all(sink, [{"host": "h", "v": 1}] * 50) == []
    after = time.time_ns()
    stamps = [int(line.rsplit(" ", 1)[1]) for line in fake_influx.lines]
    assert len(set(stamps)) == 50  # two points of one series never overwrite each other
    assert all(before <= s <= after + 50 for s in stamps)


async def test_writes_are_batched_by_count(fake_influx):
    ctx = context()
    sink = InfluxSink(ctx, "b", "m", url=fake_influx.url, batch_size=40)
    assert await write_all(sink, [{"v": i} for i in range(100)]) == []
    assert [len(w) for w in fake_influx.write_log] == [40, 40, 20]
    assert ctx.counters["write_requests"] == 3
    assert fake_influx.params[0] == {"org": "-", "bucket": "b", "precision": "ns"}


async def test_token_and_org_are_sent(fake_influx):
    sink = InfluxSink(context(), "b", "m", url=fake_influx.url, token="t0k3n", org="acme")
    assert await write_all(sink, [{"v": 1}]) == []
    assert fake_influx.auth_seen == ["Token t0k3n"]
    assert fake_influx.params[0]["org"] == "acme"


def test_a_measurement_line_protocol_cannot_carry_is_a_start_up_error():
    with pytest.raises(FlowError, match="measurement is empty"):
        InfluxSink(context(), "b", "")
    with pytest.raises(FlowError, match="control character"):
        InfluxSink(context(), "b", "m\n")


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "line"),
    [
        ("cpu", [("host", "a")], [("v", 1.5)], "cpu,host=a v=1.5 7"),
        (
            "my cpu,x",
            [("a b", "c,d=e")],
            [("f=1", 1)],
            r"my\ cpu\,x,a\ b=c\,d\=e f\=1=1i 7",
        ),
        (
            "m",
            [("z", 1), ("a", True)],
            [("s", 'say "hi" \\o/')],
            r'm,a=true,z=1 s="say \"hi\" \\o/" 7',
        ),
        (
            "m",
            [("t", "ends with \\")],
            [("b", False)],
            "m,t=ends\\ with\\ \\\\ b=false 7",
        ),
        ("m=x", [("t", "😀")], [("v", -0.0)], "m=x,t=😀 v=-0.0 7"),
    ],
)
def test_line_protocol_escaping(measurement, tags, fields, line):
    assert encode_point(measurement, tags, fields, 7) == line.encode()


def test_points_with_nothing_to_carry_raise():
    with pytest.raises(RecordError, match="no field"):
        encode_point("m", [("t", "x")], [("v", None)], 1)
    with pytest.raises(RecordError, match="outside the range"):
        encode_point("m", [], [("v", 1)], 2**64)


# ------------------------------------------------------------------ whole runs


def requests(n: int) -> list[dict]:
    hosts = ["web-1", "web 2", "web,3"]
    return [
        {
            "ts": (T0 + dt.timedelta(seconds=7 * i)).isoformat(),
            "host": hosts[i % 3],
            "path": "/a=b" if i % 2 else "/",
            "latency_ms": 10.0 + i,
            "status": 200 + (i % 2) * 300,
        }
        for i in range(n)
    ]


SCHEMA = "schema Req { ts: time, host: str, path: str, latency_ms: float, status: int }\n"


def test_a_pipeline_writes_its_records_as_points(tmp_path, victoria_metrics, measurement_name):
    records = requests(12) + [
        {"ts": T0.isoformat(), "host": "", "path": "/", "latency_ms": 1.0, "status": 200}
    ]
    program = SCHEMA + (
        'source file("input.jsonl", format=json, schema=Req)\n'
        f'  | sink influx("metrics", measurement="{measurement_name}", tags=[host, path],\n'
        "               fields=[latency_ms, status], time=ts)\n"
    )
    result = run_flow(
        program,
        tmp_path,
        records=records,
        env={"FLOW_INFLUX_URL": victoria_metrics.url},
    )
    assert result.exit_code == 0, result.stderr
    assert [(e["code"], e["record"]["host"]) for e in result.errors] == [("rejected", "")]
    assert "tag `host` is empty" in result.errors[0]["message"]
    samples = wait_for(victoria_metrics, measurement_name, 24)
    expected = []
    for r in records[:-1]:
        tags = {"host": r["host"], "path": r["path"]}
        t = ms(dt.datetime.fromisoformat(r["ts"]))
        expected += [
            ("latency_ms", tags, r["latency_ms"], t),
            ("status", tags, r["status"], t),
        ]
    assert samples == sorted(expected, key=lambda s: (s[3], s[0], sorted(s[1].items())))
    metrics = result.metrics["test"]
    assert (metrics["in"], metrics["out"], metrics["errors"]) == (13, 12, 1)


def test_summaries_go_to_influx_one_point_per_window_and_key(
    tmp_path, victoria_metrics, measurement_name
):
    records = requests(30)  # 7 s apart: 210 s, four one-minute windows
    program = SCHEMA + (
        'source file("input.jsonl", format=json, schema=Req)\n'
        "  | summarize n = count(), worst = max(latency_ms) by host every 1m on ts\n"
        f'  | sink influx("metrics", measurement="{measurement_name}", tags=[host], time=window_start)\n'
    )
    result = run_flow(
        program,
        tmp_path,
        records=records,
        env={"FLOW_INFLUX_URL": victoria_metrics.url},
    )
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    windows: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        t = dt.datetime.fromisoformat(r["ts"])
        start = t.replace(second=0, microsecond=0)
        windows.setdefault((r["host"], ms(start)), []).append(r)
    expected = []
    for (host, start), rows in windows.items():
        expected.append(("n", {"host": host}, len(rows), start))
        expected.append(("worst", {"host": host}, max(r["latency_ms"] for r in rows), start))
    samples = wait_for(victoria_metrics, measurement_name, len(expected))
    assert samples == sorted(expected, key=lambda s: (s[3], s[0], sorted(s[1].items())))
