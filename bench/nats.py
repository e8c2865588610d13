"""Scale-out throughput: messages/s that one and two `flowc run` workers
consume from one JetStream stream (durable pull consumer, end-to-end acks),
against a hand-written nats-py loop doing the same work in this process.

Rates are measured on the server's side, from the first delivery to the
moment the consumer's acknowledgement floor reaches the last message, so
process start-up and compilation are not counted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

MESSAGES = 100_000
STREAM = "BENCH"
SUBJECT = "bench.events"

WORKER = """
source nats("bench.>", stream="BENCH", durable=env("BENCH_DURABLE"), format=json)
| where level != "debug"
| set slow = latency_ms > 250.0
| sink null
"""


def payloads(n: int):
    """`n` JSON messages: numbered, with a level, a latency and a path."""
    levels = (b"info", b"info", b"warn", b"debug", b"error")
    for i in range(n):
        yield b'{"n": %d, "level": "%s", "latency_ms": %d.5, "path": "/api/items/%d"}' % (
            i,
            levels[i % 5],
            (i * 37) % 900,
            i % 1000,
        )


async def _seed(url: str) -> None:
    from tests.fixtures.nats import create_stream, publish_many

    await create_stream(url, STREAM, ["bench.>"])
    await publish_many(url, STREAM, SUBJECT, payloads(MESSAGES))


async def _consumer_rate(url: str, durable: str, procs: list[subprocess.Popen]) -> float:
    """Messages/s from the first delivery to the last acknowledgement."""
    import nats
    import nats.js.errors

    nc = await nats.connect(url)
    try:
        jsm = nc.jsm()
        first = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited: {proc.stderr.read().decode()}")
            try:
                info = await jsm.consumer_info(STREAM, durable)
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.02)
                continue
            now = time.perf_counter()
            if first is None and info.delivered.stream_seq > 0:
                first = now
            if info.ack_floor.stream_seq >= MESSAGES:
                return MESSAGES / (now - first)
            await asyncio.sleep(0.02)
        raise RuntimeError("the workers did not finish in time")
    finally:
        await nc.close()


def _workers(url: str, work: Path, n: int) -> float:
    program = work / "worker.flow"
    program.write_text(WORKER)
    durable = f"workers{n}"
    env = dict(
        os.environ, FLOW_NATS_URL=url, BENCH_DURABLE=durable, FLOWC_CACHE_DIR=str(work / "cache")
    )
    flowc = str(Path(sys.executable).with_name("flowc"))
    # compile once, so the workers start alike
    subprocess.run([flowc, "check", str(program)], env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen(
            [flowc, "run", str(program), "--state-dir", str(work / f"state{i}")],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(n)
    ]
    try:
        return asyncio.run(_consumer_rate(url, durable, procs))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=60)


async def _hand_written(url: str) -> float:
    """The baseline: a nats-py pull loop doing the same work, acking each message."""
    import nats

    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe("bench.>", durable="baseline", stream=STREAM)
        loads = orjson.loads
        seen = 0
        started = None
        while seen < MESSAGES:
            msgs = await sub.fetch(256, timeout=5)
            if started is None:
                started = time.perf_counter()
            out = []
            for msg in msgs:
                rec = loads(msg.data)
                if rec["level"] != "debug":
                    rec["slow"] = rec["latency_ms"] > 250.0
                    out.append(rec)
            for msg in msgs:
                await msg.ack()
            seen += len(msgs)
        await nc.flush()
        return MESSAGES / (time.perf_counter() - started)
    finally:
        await nc.close()


def run() -> list[dict]:
    from tests.fixtures.nats import start_nats_server, stop_nats_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_nats_server(tmp)
        try:
            asyncio.run(_seed(server.url))
            baseline = asyncio.run(_hand_written(server.url))
            rows = []
            for n in (1, 2):
                work = Path(tmp) / f"w{n}"
                work.mkdir()
                rate = _workers(server.url, work, n)
                rows.append(
                    {
                        "benchmark": f"nats source, {n} worker{'s' if n > 1 else ''}",
                        "records_per_s": rate,
                        "baseline_records_per_s": baseline,
                        "ratio": rate / baseline,
                        "note": f"{MESSAGES:,} msgs, flowc run x{n}, where+set+null, acked end to end;"
                        " baseline: one in-process nats-py fetch loop",
                    }
                )
            return rows
        finally:
            stop_nats_server(server)
