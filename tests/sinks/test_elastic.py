"""The elastic sink against a real server (osmem-server through the real
`elasticsearch` async client; see tests/fixtures/search.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowlang.runtime.base import StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages._netsink import parse_retry_after
from flowlang.stages.elastic import ElasticSink
from tests.fixtures.search import count, read_all

UTC = dt.timezone.utc


def context() -> StageContext:
    return StageContext("p", "elastic (t.flow:1)", "t.flow:1")


async def write_all(sink: ElasticSink, *batches: list[dict]):
    """Start the sink, write each batch, close it; the rejected records of all writes."""
    await sink.start()
    rejected = []
    try:
        for batch in batches:
            rejected.extend(await sink.write(batch))
    finally:
        await sink.close()
    return rejected


async def test_documents_read_back_with_their_fields(elastic_url, es_index, es_reader):
    t = dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    records = [
        {
            "n": i,
            "name": f"user {i}",
            "ok": i % 2 == 0,
            "at": t,
            "geo": {"city": "Oslo", "lat": 59.9},
        }
        for i in range(25)
    ]
    ctx = context()
    rejected = await write_all(ElasticSink(ctx, es_index, url=elastic_url), records)
    assert rejected == []
    docs = sorted(read_all(es_reader, es_index), key=lambda d: d["n"])
    assert [d["n"] for d in docs] == list(range(25))
    assert docs[3] == {
        "_id": docs[3]["_id"],
        "n": 3,
        "name": "user 3",
        "ok": False,
        "at": "2024-05-06T07:08:09.123000Z",
        "geo": {"city": "Oslo", "lat": 59.9},
    }
    assert ctx.counters["bulk_requests"] == 1
    assert "retries" not in ctx.counters


async def test_batches_are_cut_by_count_and_by_bytes(elastic_url, es_index, es_reader):
    records = [{"n": i, "pad": "x" * 100} for i in range(50)]
    by_count = context()
    await write_all(ElasticSink(by_count, es_index, url=elastic_url, batch_size=7), records)
    assert by_count.counters["bulk_requests"] == 8  # ceil(50 / 7)
    by_bytes = context()
    # each document with its action line is ~150 bytes: 4 fit in 700
    await write_all(ElasticSink(by_bytes, es_index, url=elastic_url, batch_bytes=700), records)
    assert by_bytes.counters["bulk_requests"] == 13
    assert count(es_reader, es_index) == 100


async def test_id_makes_writes_idempotent(elastic_url, es_index, es_reader):
    records = [{"rid": f"r{i}", "n": i} for i in range(10)] + [{"rid": 77, "n": 77}]
    ctx = context()
    sink = ElasticSink(ctx, es_index, url=elastic_url, id=("rid",))
    assert await write_all(sink, records, [dict(r) for r in records]) == []
    docs = read_all(es_reader, es_index)
    assert sorted(d["_id"] for d in docs) == sorted([f"r{i}" for i in range(10)] + ["77"])
    assert ctx.counters["already_present"] == 11


async def test_records_without_a_usable_id_go_to_the_error_stream(elastic_url, es_index, es_reader):
    records = [
        {"rid": "a"},
        {"rid": None},
        {"other": 1},
        {"rid": {"x": 1}},
        {"rid": True},
        {"rid": ""},
    ]
    sink = ElasticSink(context(), es_index, url=elastic_url, id=("rid",))
    rejected = await write_all(sink, records)
    assert [r.record for r in rejected] == records[1:]
    assert {r.code for r in rejected} == {"type"}
    assert "`rid` is null" in rejected[0].message
    assert count(es_reader, es_index) == 1


async def test_index_pattern_takes_the_event_time(elastic_url, es_index, es_reader):
    days = [dt.datetime(2024, 1, d, 23, 59, tzinfo=UTC) for d in (1, 2, 2)]
    offset = dt.timezone(dt.timedelta(hours=2))
    records = [{"n": i, "ts": t} for i, t in enumerate(days)]
    # 01:30 at UTC+2 is 23:30 UTC the day before: the index follows UTC
    records.append({"n": 3, "ts": dt.datetime(2024, 1, 3, 1, 30, tzinfo=offset)})
    sink = ElasticSink(context(), es_index + "-%Y.%m.%d", url=elastic_url, time=("ts",))
    assert await write_all(sink, records) == []
    assert sorted(d["n"] for d in read_all(es_reader, es_index + "-2024.01.01")) == [0]
    assert sorted(d["n"] for d in read_all(es_reader, es_index + "-2024.01.02")) == [
        1,
        2,
        3,
    ]


async def test_index_pattern_without_time_takes_the_processing_time(
    elastic_url, es_index, es_reader
):
    before = dt.datetime.now(UTC)
    sink = ElasticSink(context(), es_index + "-%Y%m%d", url=elastic_url)
    assert await write_all(sink, [{"n": 1}]) == []
    after = dt.datetime.now(UTC)
    names = {es_index + t.strftime("-%Y%m%d") for t in (before, after)}
    assert sum(count(es_reader, name) for name in names) == 1


async def test_a_record_without_the_time_its_index_needs_is_rejected(
    elastic_url, es_index, es_reader
):
    records = [
        {"ts": dt.datetime(2024, 1, 1, tzinfo=UTC)},
        {"ts": None},
        {"ts": "2024-01-01"},
    ]
    sink = ElasticSink(context(), es_index + "-%Y", url=elastic_url, time=("ts",))
    rejected = await write_all(sink, records)
    assert [(r.record, r.code) for r in rejected] == [
        (records[1], "type"),
        (records[2], "type"),
    ]
    assert count(es_reader, es_index + "-2024") == 1


async def test_mapping_errors_are_rejected_with_the_reason_and_the_rest_indexed(
    elastic_url, es_index, es_reader
):
    ctx = context()
    sink = ElasticSink(ctx, es_index, url=elastic_url)
    first = [{"n": 1}]
    mixed = [{"n": 2}, {"n": "not a number"}, {"n": 3}]
    rejected = await write_all(sink, first, mixed)
    assert [r.record for r in rejected] == [{"n": "not a number"}]
    assert rejected[0].code == "rejected"
    assert "mapper_parsing_exception" in rejected[0].message
    assert sorted(d["n"] for d in read_all(es_reader, es_index)) == [1, 2, 3]
    assert ctx.counters["rejected"] == 1
    assert "retries" not in ctx.counters  # a mapping error is never retried


async def test_records_are_not_changed_by_writing(elastic_url, es_index):
    t = dt.datetime(2024, 1, 1, tzinfo=UTC)
    records = [{"n": 1, "ts": t, "nested": {"a": [1, 2]}}]
    await write_all(ElasticSink(context(), es_index, url=elastic_url, id=("n",)), records)
    assert records == [{"n": 1, "ts": t, "nested": {"a": [1, 2]}}]


def test_bad_settings_are_start_up_errors(tmp_path):
    with pytest.raises(FlowError, match="CA file"):
        ElasticSink(context(), "idx", ca_certs=str(tmp_path / "missing.pem"))
    with pytest.raises(FlowError, match="index name is empty"):
        ElasticSink(context(), "")
    with pytest.raises(FlowError, match="positive"):
        ElasticSink(context(), "idx", batch_size=0)


def test_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = dt.datetime.now(UTC) + dt.timedelta(seconds=120)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert 100 < seconds <= 120
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0


def test_a_run_accounts_for_every_record(tmp_path, elastic_url, es_index, es_reader):
    from flowlang.runtime.metrics import balanced
    from tests.flowrun import run_flow

    es_reader.index(index=es_index, document={"n": 0}, refresh=True)  # `n` is a number now
    records = [{"n": i} for i in range(1, 9)] + [{"n": "eight and a half"}, {"n": 9}]
    program = f'source file("input.jsonl", format=json) | sink elastic("{es_index}")\n'
    result = run_flow(program, tmp_path, records=records, env={"FLOW_ELASTIC_URL": elastic_url})
    assert result.exit_code == 0, result.stderr
    assert [(e["code"], e["record"]) for e in result.errors] == [
        ("rejected", {"n": "eight and a half"})
    ]
    assert "mapper_parsing_exception" in result.errors[0]["message"]
    assert sorted(d["n"] for d in read_all(es_reader, es_index)) == list(range(10))
    metrics = result.metrics["test"]
    assert (metrics["in"], metrics["out"], metrics["errors"]) == (10, 9, 1)
    assert balanced(metrics)
