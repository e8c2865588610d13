"""The nats source against a real nats-server -js: decoding, `_nats`
metadata, end-to-end acknowledgement, redelivery, shared durable consumers."""

from __future__ import annotations

import asyncio
import time

import pytest

from flowlang.runtime.base import SourceBatch, StageContext
from flowlang.runtime.errors import FlowError
from flowlang.stages.nats_source import NatsSource
from tests.fixtures.nats import consumer_state, create_stream, publish_many, subjects_of
from tests.fixtures.processes import free_port


def context() -> StageContext:
    return StageContext("p", "nats (t.flow:1)", "t.flow:1")


def source(url: str, stream: str, **args) -> NatsSource:
    args.setdefault("idle", 1500)
    return NatsSource(context(), subjects_of(stream), stream=stream, url=url, **args)


async def drain(src: NatsSource, *, ack: bool = True) -> list[SourceBatch]:
    """Every batch until the source goes idle, acknowledged as the engine would."""
    batches = []
    async for batch in src.batches():
        batches.append(batch)
        if ack:
            batch.ack()
    return batches


def records_of(batches: list[SourceBatch]) -> list[dict]:
    return [item.record for b in batches for item in b.items if item.error is None]


def errors_of(batches: list[SourceBatch]) -> list:
    return [item for b in batches for item in b.items if item.error is not None]


async def test_records_carry_their_message_metadata(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".web"
    await publish_many(
        nats_url,
        stream_name,
        subject,
        [b'{"n": 1}', b'{"n": 2}'],
        msg_ids=["a-1", None],
    )
    src = source(nats_url, stream_name, durable="meta")
    batches = await drain(src)
    await src.close()
    assert records_of(batches) == [
        {
            "n": 1,
            "_nats": {
                "subject": subject,
                "stream_seq": 1,
                "msg_id": "a-1",
                "delivered": 1,
            },
        },
        {
            "n": 2,
            "_nats": {
                "subject": subject,
                "stream_seq": 2,
                "msg_id": None,
                "delivered": 1,
            },
        },
    ]
    state = await consumer_state(nats_url, stream_name, "meta")
    assert (state.num_pending, state.num_ack_pending, state.ack_floor.stream_seq) == (
        0,
        0,
        2,
    )
    assert src.ctx.counters["acked"] == 2


async def test_formats_decode_one_record_per_message(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".x"
    bodies = [b'{"a": 1}', b"plain text", b'{"a": 2}\n']
    await publish_many(nats_url, stream_name, subject, bodies)

    auto = source(nats_url, stream_name)
    got = records_of(await drain(auto))
    await auto.close()
    assert [{k: v for k, v in r.items() if k != "_nats"} for r in got] == [
        {"a": 1},
        {"message": "plain text"},
        {"a": 2},
    ]

    lines = source(nats_url, stream_name, format="lines")
    got = records_of(await drain(lines))
    await lines.close()
    assert [r["message"] for r in got] == ['{"a": 1}', "plain text", '{"a": 2}']


async def test_csv_messages_are_small_documents_with_their_own_header(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".csv"
    await publish_many(nats_url, stream_name, subject, [b"host,load\na,1\nb,2", b"load,host\n3,c"])
    src = source(
        nats_url,
        stream_name,
        format="csv",
        format_args={"header": True, "delimiter": ","},
    )
    got = records_of(await drain(src))
    await src.close()
    assert [(r["host"], r["load"], r["_nats"]["stream_seq"]) for r in got] == [
        ("a", "1", 1),
        ("b", "2", 1),
        ("c", "3", 2),
    ]
    # records of one message do not share their metadata dict
    got[0]["_nats"]["delivered"] = 99
    assert got[1]["_nats"]["delivered"] == 1


async def test_schema_coerces_and_rejects(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".typed"
    schema = ("{}", False, (("ts", "time"), ("n", "int")))
    await publish_many(
        nats_url, stream_name, subject, [b'{"ts": 0, "n": 3}', b'{"ts": "x", "n": 1}']
    )
    src = source(nats_url, stream_name, format="json", schema=schema, durable="typed")
    batches = await drain(src)
    await src.close()
    [good] = records_of(batches)
    assert good["ts"].isoformat() == "1970-01-01T00:00:00+00:00" and good["n"] == 3
    assert good["_nats"]["stream_seq"] == 1
    [bad] = errors_of(batches)
    assert bad.error.code == "schema" and bad.raw == '{"ts": "x", "n": 1}'


async def test_malformed_messages_are_terminated_and_never_redelivered(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    await publish_many(
        nats_url,
        stream_name,
        subject,
        [b'{"ok": 1}', b"{oops", b"[1, 2]", b'{"ok": 2}'],
    )
    first = source(nats_url, stream_name, format="json", durable="strict", ack_wait=1000)
    batches = await drain(first)
    await first.close()
    assert [r["ok"] for r in records_of(batches)] == [1, 2]
    assert [(e.error.code, e.raw) for e in errors_of(batches)] == [
        ("parse", "{oops"),
        ("parse", "[1, 2]"),
    ]
    assert (first.ctx.counters["acked"], first.ctx.counters["terminated"]) == (2, 2)
    state = await consumer_state(nats_url, stream_name, "strict")
    assert (state.num_pending, state.num_ack_pending, state.num_redelivered) == (
        0,
        0,
        0,
    )
    await asyncio.sleep(1.5)  # longer than ack_wait: nothing is due again
    again = source(nats_url, stream_name, format="json", durable="strict", idle=1000)
    assert await drain(again) == []
    await again.close()


async def test_messages_never_accepted_are_handed_back_at_close(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    await publish_many(nats_url, stream_name, subject, [b'{"n": %d}' % i for i in range(50)])
    failed = source(nats_url, stream_name, durable="redo")  # ack_wait stays 60s
    batches = await drain(failed, ack=False)  # read; the sinks never accepted it (a failed run)
    state = await consumer_state(nats_url, stream_name, "redo")
    assert state.num_ack_pending == 50
    await failed.close()
    assert failed.ctx.counters["released"] == 50
    assert len(records_of(batches)) == 50

    began = time.monotonic()
    survivor = source(nats_url, stream_name, durable="redo", idle=1000)
    got = records_of(await drain(survivor))
    await survivor.close()
    assert time.monotonic() - began < 30  # long before ack_wait
    assert sorted(r["n"] for r in got) == list(range(50))
    assert all(r["_nats"]["delivered"] == 2 for r in got)
    assert survivor.ctx.counters["redelivered"] == 50
    state = await consumer_state(nats_url, stream_name, "redo")
    assert (state.num_pending, state.num_ack_pending) == (0, 0)


async def test_held_messages_are_kept_alive_past_ack_wait(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    await publish_many(nats_url, stream_name, subject, [b'{"n": %d}' % i for i in range(20)])
    slow = source(nats_url, stream_name, durable="slow", ack_wait=1000, idle=None)
    it = slow.batches()
    batch = await it.__anext__()
    assert len(batch.items) == 20
    # a second worker polls for three ack_waits while the first still holds the batch
    other = source(nats_url, stream_name, durable="slow", idle=3000)
    stolen = records_of(await drain(other))
    await other.close()
    assert stolen == []
    assert slow.ctx.counters["kept_alive"] >= 20
    batch.ack()
    slow.stop()
    assert [b async for b in it] == []
    await slow.close()
    state = await consumer_state(nats_url, stream_name, "slow")
    assert (state.num_pending, state.num_ack_pending, state.num_redelivered) == (
        0,
        0,
        0,
    )


async def test_workers_sharing_a_durable_split_the_messages(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    n = 3000
    await publish_many(nats_url, stream_name, subject, [b'{"n": %d}' % i for i in range(n)])
    workers = [source(nats_url, stream_name, durable="shared", batch_size=50) for _ in range(2)]

    async def work(src: NatsSource) -> list[int]:
        seen = []
        async for batch in src.batches():
            seen.extend(item.record["n"] for item in batch.items)
            batch.ack()
            await asyncio.sleep(0.01)  # the engine's work on the batch
        await src.close()
        return seen

    a, b = await asyncio.gather(*(work(w) for w in workers))
    assert sorted(a + b) == list(range(n))
    assert a and b


async def test_without_durable_each_process_reads_the_whole_stream(nats_url, stream_name):
    import nats

    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    await publish_many(nats_url, stream_name, subject, [b'{"n": %d}' % i for i in range(10)])
    readers = [source(nats_url, stream_name) for _ in range(2)]
    results = await asyncio.gather(*(drain(r) for r in readers))
    for r in readers:
        await r.close()
    for batches in results:
        assert [r["n"] for r in records_of(batches)] == list(range(10))
    nc = await nats.connect(nats_url)
    try:
        assert await nc.jsm().consumers_info(stream_name) == []  # the ephemeral consumers are gone
    finally:
        await nc.close()


async def test_stop_ends_the_batches_soon(nats_url, stream_name):
    await create_stream(nats_url, stream_name)
    src = source(nats_url, stream_name, durable="quiet", idle=None)

    async def consume() -> int:
        return len(await drain(src))

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.5)
    began = time.monotonic()
    src.stop()
    assert await asyncio.wait_for(task, 5) == 0
    assert time.monotonic() - began < 3
    await src.close()


async def test_a_deleted_consumer_stops_the_run(nats_url, stream_name):
    import nats

    await create_stream(nats_url, stream_name)
    subject = stream_name.lower() + ".in"
    await publish_many(nats_url, stream_name, subject, [b'{"n": 1}'])
    src = source(nats_url, stream_name, durable="doomed", idle=None)
    it = src.batches()
    (await it.__anext__()).ack()
    nc = await nats.connect(nats_url)
    try:
        await nc.jsm().delete_consumer(stream_name, "doomed")
    finally:
        await nc.close()
    with pytest.raises(FlowError, match="the consumer 'doomed' .* no longer exists"):
        await asyncio.wait_for(it.__anext__(), 20)
    await src.close()


async def test_subject_without_stream_is_a_start_error(nats_url, stream_name):
    src = NatsSource(context(), "nobody.listens", url=nats_url)
    with pytest.raises(FlowError, match="has no stream capturing subject 'nobody.listens'"):
        await drain(src)
    await src.close()
    named = NatsSource(context(), "x.y", stream=stream_name, url=nats_url)
    with pytest.raises(FlowError, match=f"no stream '{stream_name}'"):
        await drain(named)
    await named.close()


async def test_unreachable_server_error_never_shows_credentials(capsys):
    url = f"nats://alice:pa55word@127.0.0.1:{free_port()}"
    src = NatsSource(context(), "a.b", url=url)
    with pytest.raises(FlowError) as failure:
        await drain(src)
    await src.close()
    message = str(failure.value)
    assert "cannot connect to NATS at nats://***@127.0.0.1:" in message
    captured = capsys.readouterr()
    for text in (message, captured.err, captured.out):
        assert "pa55word" not in text and "alice" not in text


@pytest.mark.parametrize(
    "args, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"ack_wait": 500}, "ack_wait"),
        ({"batch_size": 100, "max_ack_pending": 10}, "max_ack_pending"),
        ({"url": " , "}, "no NATS server URL"),
    ],
)
def test_bad_settings_are_start_errors(args, message):
    with pytest.raises(FlowError, match=message):
        NatsSource(context(), "a.b", **args)
