"""`.flow` programs with nats sources and sinks, compiled and run for real
against nats-server -js: stream to stream without loss, malformed messages
in the error stream and never redelivered, `_nats` typed by the checker."""

from __future__ import annotations

import asyncio

import orjson

from flowlang.compiler import compile_source
from flowlang.source import SourceFile
from tests.fixtures.nats import (
    consumer_state,
    create_stream,
    publish_many,
    stream_messages,
)
from tests.flowrun import run_flow

ROUND_TRIP = """
source nats(env("IN_SUBJECTS"), stream=env("IN_STREAM"), durable="roundtrip", format=json, idle=2s)
| set doubled = n * 2, seen_at = _nats.stream_seq
| sink nats(env("OUT_SUBJECT"), stream=env("OUT_STREAM"), msg_id=_nats.msg_id)
"""


def test_records_round_trip_across_two_streams_without_loss(nats_url, stream_name, tmp_path):
    inp, out = stream_name + "_IN", stream_name + "_OUT"
    n = 5000
    bodies = [orjson.dumps({"n": i}) for i in range(n)] + [b"{not json", b'"a string"']
    ids = [f"m{i}" for i in range(n)] + ["bad-1", "bad-2"]

    async def setup() -> None:
        await create_stream(nats_url, inp, [inp.lower() + ".>"])
        await create_stream(nats_url, out, [out.lower() + ".>"])
        await publish_many(nats_url, inp, inp.lower() + ".events", bodies, msg_ids=ids)

    asyncio.run(setup())
    env = {
        "FLOW_NATS_URL": nats_url,
        "IN_SUBJECTS": inp.lower() + ".>",
        "IN_STREAM": inp,
        "OUT_SUBJECT": out.lower() + ".doubled",
        "OUT_STREAM": out,
    }
    result = run_flow(ROUND_TRIP, tmp_path, env=env)
    assert result.exit_code == 0, result.stderr
    stored = asyncio.run(stream_messages(nats_url, out))
    assert len(stored) == n
    records = [orjson.loads(m.data) for m in stored]
    assert sorted(r["n"] for r in records) == list(range(n))
    assert all(r["doubled"] == 2 * r["n"] and r["seen_at"] == r["n"] + 1 for r in records)
    assert {m.headers["Nats-Msg-Id"] for m in stored} == set(ids[:n])
    assert [(e["code"], e["raw"]) for e in result.errors] == [
        ("parse", "{not json"),
        ("parse", '"a string"'),
    ]
    state = asyncio.run(consumer_state(nats_url, inp, "roundtrip"))
    assert (state.num_pending, state.num_ack_pending) == (0, 0)

    (tmp_path / "again").mkdir()
    again = run_flow(ROUND_TRIP, tmp_path / "again", env=env)
    assert again.exit_code == 0, again.stderr
    assert again.errors == []  # the malformed messages were terminated, not redelivered
    assert len(asyncio.run(stream_messages(nats_url, out))) == n


def test_typed_messages_reach_a_file_sink_with_their_metadata(nats_url, stream_name, tmp_path):
    subject = stream_name.lower() + ".readings"

    async def setup() -> None:
        await create_stream(nats_url, stream_name)
        await publish_many(
            nats_url,
            stream_name,
            subject,
            [
                b'{"ts": "2024-01-02T03:04:05Z", "value": "1.5"}',
                b'{"ts": 1704164645, "value": 2}',
                b'{"ts": "yesterday", "value": 3}',
            ],
            msg_ids=["r1", "r2", "r3"],
        )

    asyncio.run(setup())
    program = f"""
schema Reading {{ ts: time, value: float }}
source nats("{subject}", stream="{stream_name}", durable="files", format=json, schema=Reading, idle=1s)
| where _nats.delivered == 1
| set seq = _nats.stream_seq, id = _nats.msg_id ?? "none"
| drop _nats
| sink file("output.jsonl")
"""
    result = run_flow(program, tmp_path, env={"FLOW_NATS_URL": nats_url})
    assert result.exit_code == 0, result.stderr
    # "1.5" is not a float in JSON: that message fails the schema like "yesterday"
    assert result.output == [{"ts": "2024-01-02T03:04:05Z", "value": 2.0, "seq": 2, "id": "r2"}]
    assert sorted(e["raw"] for e in result.errors) == sorted(
        [
            '{"ts": "2024-01-02T03:04:05Z", "value": "1.5"}',
            '{"ts": "yesterday", "value": 3}',
        ]
    )
    assert {e["code"] for e in result.errors} == {"schema"}


def _diagnostics(text: str) -> list[str]:
    result = compile_source(SourceFile("t.flow", text))
    return [f"{d.code} {d.message}" for d in result.diagnostics if d.is_error]


def test_the_checker_knows_the_nats_metadata():
    ok = """
source nats("logs.>", stream="LOGS", durable="w", format=lines)
| set seq = _nats.stream_seq + 1, redelivered = _nats.delivered > 1, subject = upper(_nats.subject)
| sink nats("out.x", msg_id=_nats.msg_id)
"""
    assert _diagnostics(ok) == []
    bad = """
source nats("logs.>", format=lines)
| set x = _nats.partition
| sink stdout
"""
    [error] = _diagnostics(bad)
    assert "partition" in error
    typed = """
source nats("logs.>")
| set y = _nats.subject * 2
| sink stdout
"""
    assert _diagnostics(typed), "str * int must be a type error"
