"""Failures no real server produces on demand, through the real client
libraries: mixed bulk items, 429 storms with Retry-After, connections reset
after the server applied a request, servers that go away and come back, and
a run that stops while a sink is retrying."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import subprocess
import threading
import time

import pytest

from flowlang.runtime.base import StageContext
from flowlang.runtime.bus import Bus
from flowlang.runtime.errors import FlowError
from flowlang.stages.elastic import ElasticSink
from flowlang.stages.influx import InfluxSink
from tests.fixtures.faults import RESET, FakeElastic, FakeInflux, Reply, self_signed
from tests.fixtures.processes import free_port
from tests.fixtures.search import count, read_all
from tests.flowrun import FLOWC

FAST = {"retry_initial": 0.02, "retry_max": 200}  # quick retries: the tests wait less


def context(bus: Bus | None = None) -> StageContext:
    return StageContext("p", "sink (t.flow:1)", "t.flow:1", bus=bus)


def gaps(calls: list[float]) -> list[float]:
    return [b - a for a, b in zip(calls, calls[1:])]


# ------------------------------------------------------------------ elastic


async def test_partial_bulk_failure_resends_only_the_retryable_items(
    fake_elastic,
):
    fake_elastic.store[("idx", "r1")] = {"n": 1}  # already there: 409 on create
    fake_elastic.store[("idx", "r2")] = {"n": 2}
    first = {"r3": 429, "r4": 429, "r5": 400, "r6": 503, "r7": 500, "r8": 404}

    def item_fault(call, item):
        if call == 1:
            return first.get(item.id)
        if call == 2 and item.id == "r4":
            return 429
        return None

    fake_elastic.item_fault = item_fault
    records = [{"rid": f"r{i}", "n": i} for i in range(20)]
    ctx = context()
    sink = ElasticSink(ctx, "idx", url=fake_elastic.url, id=("rid",), **FAST)
    await sink.start()
    rejected = await sink.write(records)
    await sink.close()

    sent = [sorted(item.id for item in call) for call in fake_elastic.bulk_log]
    assert sent[1:] == [
        ["r3", "r4", "r6", "r7"],
        ["r4"],
    ]  # only the retryable ones again
    assert [r.record["rid"] for r in rejected] == ["r5", "r8"]
    assert "mapper_parsing_exception" in rejected[0].message
    assert "index_not_found_exception" in rejected[1].message
    stored = {doc_id for (_, doc_id) in fake_elastic.store}
    # conservation: every record is stored (new or already there) or rejected, once
    assert stored | {r.record["rid"] for r in rejected} == {r["rid"] for r in records}
    assert stored.isdisjoint(r.record["rid"] for r in rejected)
    assert ctx.counters["already_present"] == 2
    assert ctx.counters["retries"] == 2
    assert ctx.counters["retried_items"] == 5
    assert ctx.counters["rejected"] == 2


async def test_a_429_storm_is_waited_out_as_retry_after_asks(
    fake_elastic,
):
    busy = Reply(
        429,
        {"error": {"type": "es_rejected_execution_exception", "reason": "busy"}, "status": 429},
        {"Retry-After": "1"},
    )
    fake_elastic.request_fault = lambda call, items: busy if call <= 3 else None
    ctx = context()
    sink = ElasticSink(ctx, "idx", url=fake_elastic.url, **FAST)
    await sink.start()
    assert await sink.write([{"n": i} for i in range(30)]) == []
    await sink.close()
    assert len(fake_elastic.calls) == 4
    assert all(g >= 0.95 for g in gaps(fake_elastic.calls))
    assert len(fake_elastic.docs("idx")) == 30
    assert ctx.counters["retries"] == 3


async def test_a_reset_after_the_bulk_was_applied_leaves_no_duplicates_with_id(
    fake_elastic,
):
    # two resets: the HTTP library itself retries an idempotent request once
    fake_elastic.request_fault = lambda call, items: RESET if call <= 2 else None
    records = [{"rid": f"r{i}", "n": i} for i in range(40)]
    ctx = context()
    sink = ElasticSink(ctx, "idx", url=fake_elastic.url, id=("rid",), **FAST)
    await sink.start()
    assert await sink.write(records) == []
    await sink.close()
    assert len(fake_elastic.bulk_log) == 3  # the same bulk sent three times
    assert sorted(d["_id"] for d in fake_elastic.docs("idx")) == sorted(r["rid"] for r in records)
    assert ctx.counters["already_present"] == 40
    assert ctx.counters["retries"] == 1


async def test_without_id_a_reset_after_apply_writes_twice(fake_elastic):
    # the reason `id=` exists: without it, delivery is at least once
    fake_elastic.request_fault = lambda call, items: RESET if call <= 2 else None
    sink = ElasticSink(context(), "idx", url=fake_elastic.url, **FAST)
    await sink.start()
    assert await sink.write([{"n": i} for i in range(5)]) == []
    await sink.close()
    assert sorted(d["n"] for d in fake_elastic.docs("idx")) == sorted(list(range(5)) * 3)


async def test_a_request_too_large_is_split_and_a_document_too_large_rejected(
    fake_elastic,
):
    too_large = Reply(
        413,
        {
            "error": {"type": "request_entity_too_large", "reason": "too big"},
            "status": 413,
        },
    )
    fake_elastic.request_fault = lambda call, items: (
        too_large if len(items) > 4 or items[0].doc.get("big") else None
    )
    records = [{"n": i} for i in range(20)] + [{"n": 20, "big": "x" * 100}]
    ctx = context()
    sink = ElasticSink(ctx, "idx", url=fake_elastic.url, **FAST)
    await sink.start()
    rejected = await sink.write(records)
    await sink.close()
    assert [r.record["n"] for r in rejected] == [20]
    assert "413 request_entity_too_large" in rejected[0].message
    assert sorted(d["n"] for d in fake_elastic.docs("idx")) == list(range(20))
    assert all(len(call) <= 4 for call in fake_elastic.bulk_log[-5:])


async def test_a_cluster_that_goes_away_and_comes_back_loses_nothing(
    proxy_factory, es_index, es_reader, caplog
):
    caplog.set_level(logging.WARNING, logger="flowlang.stages.elastic")
    proxy = proxy_factory()
    records = [{"rid": f"r{i}", "n": i} for i in range(200)]
    ctx = context()
    sink = ElasticSink(ctx, es_index, url=proxy.url, id=("rid",), batch_size=50, **FAST)
    await sink.start()
    assert await sink.write(records[:50]) == []
    proxy.stop()
    writing = asyncio.create_task(sink.write(records[50:]))
    await asyncio.sleep(2.0)
    assert not writing.done()  # the write holds on: nothing returns unacknowledged
    assert ctx.counters["retries"] >= 3
    await asyncio.to_thread(proxy.start)
    assert await asyncio.wait_for(writing, 60) == []
    await sink.close()
    assert count(es_reader, es_index) == 200
    # told once, not at every retry
    warnings = [r for r in caplog.records if r.name == "flowlang.stages.elastic"]
    assert len(warnings) == 1 and "retrying" in warnings[0].getMessage()


async def test_a_stopping_run_gives_up_after_the_grace_period():
    bus = Bus()
    port = free_port()  # nothing listens there
    sink = ElasticSink(
        context(bus),
        "idx",
        url=f"http://user:pa55w0rd@127.0.0.1:{port}",
        shutdown_grace=1000,
        **FAST,
    )
    await sink.start()
    writing = asyncio.create_task(sink.write([{"n": i} for i in range(7)]))
    await asyncio.sleep(0.5)
    assert not writing.done()
    stopped = time.monotonic()
    bus.publish("signal", signum=15, count=1)
    with pytest.raises(FlowError) as failure:
        await asyncio.wait_for(writing, 10)
    assert 0.9 <= time.monotonic() - stopped < 5
    assert "7 records were not written and not acknowledged" in str(failure.value)
    assert "pa55w0rd" not in str(failure.value)
    await sink.close()


async def test_a_server_back_within_the_grace_period_gets_everything():
    bus = Bus()
    port = free_port()
    sink = ElasticSink(
        context(bus),
        "idx",
        url=f"http://127.0.0.1:{port}",
        id=("rid",),
        shutdown_grace=20_000,
        **FAST,
    )
    await sink.start()
    writing = asyncio.create_task(sink.write([{"rid": str(i)} for i in range(9)]))
    await asyncio.sleep(0.3)
    bus.publish("signal", signum=15, count=1)
    with FakeElastic(port) as server:
        assert await asyncio.wait_for(writing, 20) == []
        assert len(server.docs("idx")) == 9
    await sink.close()


async def test_a_write_cancelled_while_retrying_raises_cancelled_and_closes_cleanly():
    sink = ElasticSink(context(), "idx", url=f"http://127.0.0.1:{free_port()}", **FAST)
    await sink.start()
    writing = asyncio.create_task(sink.write([{"n": 1}]))
    await asyncio.sleep(0.3)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    await sink.close()


async def test_refused_credentials_stop_the_run_without_showing_secrets(fake_elastic, caplog):
    caplog.set_level(logging.DEBUG)
    denied = Reply(
        401,
        {
            "error": {"type": "security_exception", "reason": "unable to authenticate"},
            "status": 401,
        },
    )
    fake_elastic.request_fault = lambda call, items: (
        Reply(503, {"error": "busy"}) if call == 1 else denied
    )
    sink = ElasticSink(context(), "idx", url=fake_elastic.url, api_key="s3cr3t-k3y", **FAST)
    await sink.start()
    with pytest.raises(
        FlowError, match="401 security_exception: unable to authenticate"
    ) as failure:
        await sink.write([{"n": 1}])
    await sink.close()
    assert fake_elastic.auth_seen[0] == "ApiKey s3cr3t-k3y"
    assert "s3cr3t" not in str(failure.value)
    assert "s3cr3t" not in caplog.text
    assert "retrying" in caplog.text  # the 503 was logged, without the key


async def test_basic_auth_is_sent_and_never_shown(fake_elastic, caplog):
    caplog.set_level(logging.DEBUG)
    fake_elastic.item_fault = lambda call, item: 503 if call == 1 else 400
    sink = ElasticSink(
        context(),
        "idx",
        url=fake_elastic.url,
        username="ann",
        password="pa55w0rd",
        **FAST,
    )
    await sink.start()
    rejected = await sink.write([{"n": 1}])
    await sink.close()
    assert fake_elastic.auth_seen[0].startswith("Basic ")
    assert len(rejected) == 1 and "pa55w0rd" not in rejected[0].message
    assert "pa55w0rd" not in caplog.text


async def test_https_with_a_ca_file(tmp_path):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with FakeElastic(ssl_context=server_tls) as server:
        assert server.url.startswith("https://")
        trusting = ElasticSink(context(), "idx", url=server.url, ca_certs=cert, api_key="k", **FAST)
        await trusting.start()
        assert await trusting.write([{"n": 1}]) == []
        await trusting.close()
        assert server.docs("idx") and server.auth_seen == ["ApiKey k"]
        # without the CA file the certificate is not trusted: retried, never sent in clear
        doubting = ElasticSink(context(), "idx", url=server.url, **FAST)
        await doubting.start()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(doubting.write([{"n": 2}]), 1.0)
        await doubting.close()
        assert len(server.docs("idx")) == 1


# ------------------------------------------------------------------ influx


def influx(ctx: StageContext, url: str, **args) -> InfluxSink:
    return InfluxSink(ctx, "b", "m", tags=(("host",),), fields=(("v",),), url=url, **FAST, **args)


def points(n: int) -> list[dict]:
    return [{"host": f"h{i % 3}", "v": i} for i in range(n)]


async def test_influx_429_is_waited_out_as_retry_after_asks(fake_influx):
    slow = Reply(429, {"code": "too many requests", "message": "slow down"}, {"Retry-After": "1"})
    fake_influx.request_fault = lambda call, lines: slow if call <= 2 else None
    ctx = context()
    sink = influx(ctx, fake_influx.url)
    await sink.start()
    assert await sink.write(points(25)) == []
    await sink.close()
    assert len(fake_influx.calls) == 3
    assert all(g >= 0.95 for g in gaps(fake_influx.calls))
    assert len(fake_influx.lines) == 25
    assert ctx.counters["retries"] == 2


async def test_influx_resends_the_same_points_after_503_and_a_reset(
    fake_influx,
):
    faults = {1: Reply(503, {"message": "unavailable"}), 2: RESET, 3: RESET}
    fake_influx.request_fault = lambda call, lines: faults.get(call)
    ctx = context()
    sink = influx(ctx, fake_influx.url)
    await sink.start()
    assert await sink.write(points(10)) == []
    await sink.close()
    log = fake_influx.write_log
    assert len(log) >= 3 and all(batch == log[0] for batch in log)
    # a point written again has the same series and time: it overwrites itself
    assert set(fake_influx.lines) == set(log[0]) and len(log[0]) == 10


async def test_influx_finds_the_bad_points_of_a_refused_batch(
    fake_influx,
):
    fake_influx.bad_line = lambda line: (
        "invalid field" if " v=7i " in line or " v=13i " in line else None
    )
    ctx = context()
    sink = influx(ctx, fake_influx.url)
    await sink.start()
    records = points(20)
    rejected = await sink.write(records)
    await sink.close()
    assert [r.record["v"] for r in rejected] == [7, 13]
    assert all("invalid field" in r.message and r.code == "rejected" for r in rejected)
    kept = [int(line.split(" v=")[1].split("i")[0]) for line in fake_influx.lines]
    assert sorted(kept) == [i for i in range(20) if i not in (7, 13)]  # each exactly once
    assert ctx.counters["splits"] >= 2


async def test_influx_refused_token_stops_the_run_without_showing_it(fake_influx, caplog):
    caplog.set_level(logging.DEBUG)
    fake_influx.request_fault = lambda call, lines: Reply(
        401, {"code": "unauthorized", "message": "unauthorized access"}
    )
    sink = influx(context(), fake_influx.url, token="s3cr3t-t0ken")
    await sink.start()
    with pytest.raises(FlowError, match="401 unauthorized access") as failure:
        await sink.write(points(3))
    await sink.close()
    assert fake_influx.auth_seen == ["Token s3cr3t-t0ken"]
    assert "s3cr3t" not in str(failure.value) and "s3cr3t" not in caplog.text


async def test_influx_server_down_then_back_loses_nothing():
    port = free_port()
    ctx = context()
    sink = influx(ctx, f"http://127.0.0.1:{port}")
    await sink.start()
    writing = asyncio.create_task(sink.write(points(30)))
    await asyncio.sleep(1.0)
    assert not writing.done()
    with FakeInflux(port) as server:
        assert await asyncio.wait_for(writing, 20) == []
        assert len(server.lines) == 30
    await sink.close()
    assert ctx.counters["retries"] >= 2


async def test_influx_stopping_run_gives_up_after_the_grace_period():
    bus = Bus()
    sink = influx(context(bus), f"http://127.0.0.1:{free_port()}", shutdown_grace=500)
    await sink.start()
    writing = asyncio.create_task(sink.write(points(4)))
    await asyncio.sleep(0.3)
    bus.publish("signal", signum=2, count=1)
    with pytest.raises(FlowError, match="4 records were not written and not acknowledged"):
        await asyncio.wait_for(writing, 10)
    await sink.close()


# ------------------------------------------------------------------ whole runs


def start_flowc(program: str, cwd, env: dict[str, str], **popen) -> subprocess.Popen:
    """`flowc run` of `program` (written to cwd/run.flow) in a subprocess;
    its output goes to cwd/stdout.txt and cwd/stderr.txt."""
    (cwd / "run.flow").write_text(program)
    full_env = dict(os.environ, FLOWC_CACHE_DIR=str(cwd / "cache"), **env)
    with open(cwd / "stdout.txt", "ab") as out, open(cwd / "stderr.txt", "wb") as err:
        return subprocess.Popen(
            [FLOWC, "run", "run.flow"], cwd=cwd, env=full_env, stdout=out, stderr=err, **popen
        )


def finish(run: subprocess.Popen, cwd, timeout: float) -> str:
    """Wait for the run to end (killing it if it does not); its stderr."""
    try:
        run.wait(timeout)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return (cwd / "stderr.txt").read_text(errors="replace")


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_run_survives_10_s_without_its_cluster_holding_its_source_back(
    tmp_path, proxy_factory, es_index, es_reader
):
    total, every = 60_000, 30
    proxy = proxy_factory()
    run = start_flowc(
        f"source stdin(format=json)\n  | where n % {every} == 0\n"
        f'  | sink elastic("{es_index}", id=rid)\n',
        tmp_path,
        {"FLOW_ELASTIC_URL": proxy.url},
        stdin=subprocess.PIPE,
    )
    written = [0]  # lines the pipe has taken so far

    def feed() -> None:
        assert run.stdin is not None
        for start in range(0, total, 100):
            chunk = "".join(f'{{"rid":"r{i}","n":{i}}}\n' for i in range(start, start + 100))
            run.stdin.write(chunk.encode())
            run.stdin.flush()
            written[0] = start + 100
        run.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        wait_until(lambda: count(es_reader, es_index) >= 100, 60, "the first documents")
        proxy.stop()
        time.sleep(3)
        paused_at = written[0]
        time.sleep(7)
        # ten seconds down: the source stopped reading, so memory stays bounded
        assert written[0] - paused_at < 1000
        assert written[0] < total // 2
        proxy.start()
        feeder.join(180)
    finally:
        err = finish(run, tmp_path, 180)
    assert run.returncode == 0, err
    assert count(es_reader, es_index) == total // every


def test_sigterm_while_retrying_leaves_the_checkpoint_before_unwritten_records(
    tmp_path, proxy_factory, es_index, es_reader
):
    source = tmp_path / "input.jsonl"

    def append(lo: int, hi: int) -> None:
        with open(source, "a") as f:
            f.writelines(f'{{"rid":"r{i}","n":{i}}}\n' for i in range(lo, hi))

    # no id=: a document indexed twice would show, so the count proves both
    # that nothing was lost and that nothing acknowledged was read again
    program = (
        f'source file("input.jsonl", format=json, follow=true)\n'
        f'  | sink elastic("{es_index}", shutdown_grace=1s)\n'
    )
    proxy = proxy_factory()
    append(0, 100)
    first = start_flowc(program, tmp_path, {"FLOW_ELASTIC_URL": proxy.url})
    try:
        wait_until(lambda: count(es_reader, es_index) == 100, 60, "the first 100 documents")
        proxy.stop()
        append(100, 150)
        time.sleep(2)  # read, and retrying against a cluster that is gone
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
    finally:
        err = finish(first, tmp_path, 30)
    assert first.returncode == 1, err
    assert "50 records were not written and not acknowledged" in err
    assert count(es_reader, es_index) == 100

    proxy.start()
    second = start_flowc(program, tmp_path, {"FLOW_ELASTIC_URL": proxy.url})
    try:
        wait_until(lambda: count(es_reader, es_index) >= 150, 60, "the unwritten records")
        append(150, 160)
        wait_until(lambda: count(es_reader, es_index) >= 160, 60, "new records")
        second.send_signal(signal.SIGTERM)
    finally:
        err = finish(second, tmp_path, 30)
    assert second.returncode == 0, err
    assert sorted(d["n"] for d in read_all(es_reader, es_index)) == list(range(160))
