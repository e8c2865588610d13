"""`.flow` programs with kafka sources and sinks, compiled and run for real
against a Kafka-protocol broker (tansu): topic to topic without loss,
malformed messages in the error stream with their offsets committed, offsets
committed only once the sinks accepted the records, `_kafka` typed."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from flowlang.stages.kafka_source import Offsets
from tests.fixtures.kafka import (
    committed,
    consume_all,
    create_topic,
    end_offsets,
    produce_many,
)
from tests.flowrun import CompileFailed, run_flow

ROUND_TRIP = """
source kafka(env("IN_TOPIC"), group="roundtrip", format=json, start=earliest, idle=3s)
| set doubled = n * 2, from_partition = _kafka.partition
| sink kafka(env("OUT_TOPIC"), key=k)
"""


def test_records_round_trip_across_two_topics_without_loss(kafka_brokers, kafka_topic, tmp_path):
    out = kafka_topic + "_out"
    asyncio.run(create_topic(kafka_brokers, out, 3))
    n = 3000
    bodies = [orjson.dumps({"n": i, "k": f"key{i % 7}"}) for i in range(n)]
    bodies += [b"{not json", b'"a string"']
    asyncio.run(produce_many(kafka_brokers, kafka_topic, bodies))
    env = {"FLOW_KAFKA_BROKERS": kafka_brokers, "IN_TOPIC": kafka_topic, "OUT_TOPIC": out}
    result = run_flow(ROUND_TRIP, tmp_path, env=env)
    assert result.exit_code == 0, result.stderr

    stored = asyncio.run(consume_all(kafka_brokers, out, n))
    records = [orjson.loads(m.value) for m in stored]
    assert sorted(r["n"] for r in records) == list(range(n))
    assert all(r["doubled"] == 2 * r["n"] for r in records)
    # the key keeps the records of one key in one partition
    partitions: dict[str, set[int]] = {}
    for m in stored:
        assert m.key == orjson.loads(m.value)["k"].encode()
        partitions.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert sorted((e["code"], e["raw"]) for e in result.errors) == [
        ("parse", '"a string"'),
        ("parse", "{not json"),
    ]
    # every offset is committed, the malformed messages' too
    ends = asyncio.run(end_offsets(kafka_brokers, kafka_topic, n + 2))
    assert asyncio.run(committed(kafka_brokers, kafka_topic, "roundtrip")) == ends
    assert sum(ends) == n + 2

    (tmp_path / "again").mkdir()
    again = run_flow(ROUND_TRIP, tmp_path / "again", env=env)
    assert again.exit_code == 0, again.stderr
    assert again.errors == []  # nothing is read twice by the same group
    assert len(asyncio.run(consume_all(kafka_brokers, out, n))) == n


TO_FILE = """
source kafka(env("IN_TOPIC"), group=env("GROUP"), format=json, start=earliest, idle=3s)
| sink file("output.jsonl")
"""


def test_messages_reach_a_file_with_their_metadata(kafka_brokers, kafka_topic, tmp_path):
    bodies = [orjson.dumps({"n": i}) for i in range(100)]
    keys = [f"k{i}".encode() if i % 2 else None for i in range(100)]
    asyncio.run(produce_many(kafka_brokers, kafka_topic, bodies, keys))
    env = {"FLOW_KAFKA_BROKERS": kafka_brokers, "IN_TOPIC": kafka_topic, "GROUP": "meta"}
    result = run_flow(TO_FILE, tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in result.output) == list(range(100))
    seen = set()
    for rec in result.output:
        meta = rec["_kafka"]
        assert meta["topic"] == kafka_topic and 0 <= meta["partition"] < 3
        assert meta["key"] == (f"k{rec['n']}" if rec["n"] % 2 else None)
        assert isinstance(meta["timestamp"], str) and meta["timestamp"].endswith("Z")
        seen.add((meta["partition"], meta["offset"]))
    assert len(seen) == 100  # one record per message, each at its own offset


def test_without_a_group_the_topic_is_read_whole_and_nothing_committed(
    kafka_brokers, kafka_topic, tmp_path
):
    asyncio.run(produce_many(kafka_brokers, kafka_topic, [b'{"n": 1}', b'{"n": 2}']))
    program = 'source kafka(env("IN_TOPIC"), start=earliest, idle=2s) | sink file("output.jsonl")'
    env = {"FLOW_KAFKA_BROKERS": kafka_brokers, "IN_TOPIC": kafka_topic}
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        result = run_flow(program, tmp_path / run, env=env)
        assert result.exit_code == 0, result.stderr
        assert sorted(r["n"] for r in result.output) == [1, 2]


def test_an_unknown_topic_or_broker_fails_the_run_with_a_clear_message(kafka_brokers, tmp_path):
    program = 'source kafka("no_such_topic", idle=1s) | sink file("output.jsonl")'
    result = run_flow(program, tmp_path, env={"FLOW_KAFKA_BROKERS": kafka_brokers})
    assert result.exit_code != 0
    assert "has no topic 'no_such_topic'" in result.stderr


def test_kafka_metadata_is_typed_by_the_checker(tmp_path):
    with pytest.raises(CompileFailed) as failed:
        run_flow('source kafka("t") | set x = _kafka.offset + "a" | sink stdout', tmp_path)
    assert "error[E305]: `+` does not apply to int and str" in str(failed.value)
    with pytest.raises(CompileFailed) as failed:
        run_flow('source kafka("t") | set x = _kafka.nope | sink stdout', tmp_path)
    assert "unknown field `_kafka.nope`" in str(failed.value)


def test_an_offset_moves_only_past_batches_all_acknowledged():
    offsets = Offsets()
    offsets.add(0, "p0", 10)
    offsets.add(1, "p0", 20)
    offsets.add(1, "p1", 5)
    offsets.add(2, "p0", 30)
    offsets.acked(1, ["p0", "p1"])  # batch 1 before batch 0: p0 must wait
    assert offsets.take() == {"p1": 5}
    offsets.acked(0, ["p0"])
    assert offsets.take() == {"p0": 20}
    offsets.forget(["p0"])  # revoked: a late acknowledgement commits nothing
    offsets.acked(2, ["p0"])
    assert offsets.take() == {}


def test_a_key_that_cannot_be_read_sends_its_record_to_the_error_stream(
    kafka_brokers, kafka_topic, tmp_path
):
    records = [{"n": 1, "meta": {"host": "a"}}, {"n": 2, "meta": "flat"}, {"n": 3, "meta": None}]
    program = 'source file("input.jsonl", format=json) | sink kafka(env("OUT"), key=meta.host)'
    env = {"FLOW_KAFKA_BROKERS": kafka_brokers, "OUT": kafka_topic}
    result = run_flow(program, tmp_path, records=records, env=env)
    assert result.exit_code == 0, result.stderr
    stored = asyncio.run(consume_all(kafka_brokers, kafka_topic, 2))
    assert sorted((orjson.loads(m.value)["n"], m.key) for m in stored) == [(1, b"a"), (3, None)]
    ((error),) = result.errors
    assert error["code"] == "type" and "not a record" in error["message"]
