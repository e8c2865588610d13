"""The nats sink against a real nats-server -js: JSON messages acknowledged
by the stream, de-duplication ids, refusals, retries across a server restart."""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson
import pytest

from flowlang.runtime.base import StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages.nats_sink import NatsSink
from tests.fixtures.nats import (
    create_stream,
    free_port,
    start_nats_server,
    stop_nats_server,
    stream_count,
    stream_messages,
)


def context() -> StageContext:
    return StageContext("p", "nats (t.flow:9)", "t.flow:9")


async def test_records_are_published_as_json_with_their_ids(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".out"
    sink = NatsSink(context(), subject, stream=stream_name, msg_id=("meta", "id"), url=nats_url)
    await sink.start()
    at = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    records = [{"n": i, "at": at, "meta": {"id": f"rec-{i}"}} for i in range(5)]
    records.append({"n": 5, "meta": {"id": 42}})  # not a string: its text
    assert await sink.write(records) == []
    await sink.close()
    stored = await stream_messages(nats_url, stream_name)
    assert [m.subject for m in stored] == [subject] * 6
    assert [m.headers["Nats-Msg-Id"] for m in stored] == [f"rec-{i}" for i in range(5)] + ["42"]
    assert orjson.loads(stored[0].data) == {
        "n": 0,
        "at": "2024-05-06T07:08:09Z",
        "meta": {"id": "rec-0"},
    }


async def test_records_without_an_id_get_distinct_ones(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".out"
    sink = NatsSink(context(), subject, msg_id=("id",), url=nats_url)
    await sink.start()
    same = {"same": "record", "id": None}
    assert await sink.write([dict(same) for _ in range(50)]) == []
    await sink.close()
    stored = await stream_messages(nats_url, stream_name)
    assert len({m.headers["Nats-Msg-Id"] for m in stored}) == 50


async def test_a_repeated_id_is_stored_once(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".out"
    ctx = context()
    sink = NatsSink(ctx, subject, stream=stream_name, msg_id=("id",), url=nats_url)
    await sink.start()
    batch = [{"id": f"x{i}", "n": i} for i in range(100)]
    assert await sink.write(batch) == []
    assert await sink.write(batch[:40]) == []  # a redelivered input, published again
    await sink.close()
    assert await stream_count(nats_url, stream_name) == 100
    assert ctx.counters["duplicates"] == 40


async def test_an_id_with_a_line_break_is_rejected_not_sent(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    sink = NatsSink(context(), stream_name.lower() + ".out", msg_id=("id",), url=nats_url)
    await sink.start()
    evil = {"id": "x\r\nNats-Expected-Stream: OTHER"}
    rejected = await sink.write([{"id": "fine"}, evil, {"id": ""}])
    await sink.close()
    assert [r.record for r in rejected] == [evil]
    stored = await stream_messages(nats_url, stream_name)
    assert stored[0].headers["Nats-Msg-Id"] == "fine"
    assert (
        len(stored) == 2 and len(stored[1].headers["Nats-Msg-Id"]) == 32
    )  # "" gets an id made for it


async def test_a_record_too_large_for_the_server_is_rejected(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".out"
    sink = NatsSink(context(), subject, url=nats_url)
    await sink.start()
    big = {"blob": "x" * 2_000_000}
    rejected = await sink.write([{"n": 1}, big, {"n": 2}])
    await sink.close()
    assert [r.record for r in rejected] == [big]
    assert rejected[0].code == "rejected" and "exceeds the server's limit" in rejected[0].message
    assert [orjson.loads(m.data) for m in await stream_messages(nats_url, stream_name)] == [
        {"n": 1},
        {"n": 2},
    ]


async def test_a_stream_refusing_a_message_rejects_it(nats_url, stream_name):
    import nats
    from nats.js.api import StreamConfig

    nc = await nats.connect(nats_url)
    try:
        subjects = [stream_name.lower() + ".>"]
        await nc.jetstream().add_stream(
            StreamConfig(name=stream_name, subjects=subjects, max_msg_size=100)
        )
    finally:
        await nc.close()
    sink = NatsSink(context(), stream_name.lower() + ".out", url=nats_url)
    await sink.start()
    rejected = await sink.write([{"n": 1}, {"text": "y" * 200}])
    await sink.close()
    assert len(rejected) == 1 and rejected[0].record == {"text": "y" * 200}
    assert "refused" in rejected[0].message
    assert await stream_count(nats_url, stream_name) == 1


async def test_start_checks_that_the_stream_captures_the_subject(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    wrong = NatsSink(context(), stream_name.lower() + ".out", stream="ELSEWHERE", url=nats_url)
    with pytest.raises(
        FlowError,
        match=f"not captured by stream 'ELSEWHERE'.*belongs to stream '{stream_name}'",
    ):
        await wrong.start()
    nowhere = NatsSink(context(), "nobody.captures.this", url=nats_url)
    with pytest.raises(FlowError, match="not captured by no stream"):
        await nowhere.start()


async def test_writes_survive_a_server_restart_without_loss_or_duplicates(tmp_path, capsys):
    port = free_port()
    auth = ("--user", "flowuser", "--pass", "hunter2secret")
    server = start_nats_server(str(tmp_path), port, auth)
    url = f"nats://flowuser:hunter2secret@127.0.0.1:{port}"
    try:
        await create_stream(url, "RESTART", ["restart.>"])
        ctx = context()
        sink = NatsSink(ctx, "restart.out", stream="RESTART", msg_id=("id",), url=url)
        await sink.start()
        assert await sink.write([{"id": f"a{i}"} for i in range(100)]) == []
        stop_nats_server(server)
        writing = asyncio.create_task(sink.write([{"id": f"b{i}"} for i in range(100)]))
        await asyncio.sleep(2)
        assert not writing.done()  # no PubAck while the server is away
        server = start_nats_server(str(tmp_path), port, auth)
        assert await asyncio.wait_for(writing, 60) == []
        await sink.close()
        assert await stream_count(url, "RESTART") == 200
    finally:
        stop_nats_server(server)
    err = capsys.readouterr().err
    assert "disconnected from NATS (nats://***@127.0.0.1:" in err
    assert "hunter2secret" not in err and "flowuser" not in err


async def test_a_cancelled_write_stops_retrying(tmp_path):
    port = free_port()
    server = start_nats_server(str(tmp_path), port)
    url = server.url
    try:
        await create_stream(url, "GONE", ["gone.>"])
        sink = NatsSink(context(), "gone.out", url=url)
        await sink.start()
    finally:
        stop_nats_server(server)
    writing = asyncio.create_task(sink.write([{"n": i} for i in range(10)]))
    await asyncio.sleep(1)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(writing, 5)
    await asyncio.wait_for(sink.close(), 10)
