"""Kafka throughput: records/s that one and two `flowc run` workers in one
consumer group move from a 4-partition topic through a `set` into another
topic (`kafka → set → kafka`) or into files (`kafka → set → file`), against
a hand-written aiokafka loop doing the same work, in the same session.

The baseline (`python -m bench.kafka baseline …`, `_baseline` below)
consumes with aiokafka, sets the same fields with orjson, produces with
`acks=all` (or appends to a file) and commits each fetch's offsets once
they are written. It runs as one or two worker processes in a group of its
own, so both sides are measured alike, from outside, on the broker: from
the moment the group is stable with every worker a member to the moment its
committed offsets reach the end of every partition. Start-up, compiling and
joining the group are not counted; `before_joined` says how many records
were committed before that moment (by a worker that started consuming
before the others joined), and they are left out of the rate;
`cpu_us_per_record` is the workers' CPU time (not the broker's) over the
same span, per record. Both sides must write the same records (each record
at least once).

The tansu broker runs on this machine and shares its 2 cores with the
workers (and whatever else runs there), so a second worker adds a process
competing for the same cores: the figures are of the whole, broker included.
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

from .nats import payloads  # the same messages as the NATS bench

MESSAGES = 150_000
PARTITIONS = 4
INPUT = "bench-in"
POLL = 0.02  # seconds between looks at the committed offsets

SOURCE = (
    'source kafka(env("BENCH_IN"), group=env("BENCH_GROUP"), format=json, start=earliest)\n'
    '| set slow = latency_ms > 250.0, service = "web"\n'
    "| drop _kafka\n"
)
WORKERS = {
    "kafka": SOURCE + '| sink kafka(env("BENCH_OUT"))\n',
    "file": SOURCE + '| sink file(env("BENCH_OUT"))\n',
}


def _transform(value: bytes) -> bytes:
    """The baseline's `set slow = latency_ms > 250.0, service = "web"`."""
    rec = orjson.loads(value)
    rec["slow"] = rec["latency_ms"] > 250.0
    rec["service"] = "web"
    return orjson.dumps(rec)


async def _baseline(kind: str, brokers: str, topic: str, group: str, out: str) -> None:
    """One hand-written worker: fetch, transform, write, commit, until killed."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=brokers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
    )
    producer = None
    if kind == "kafka":
        producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5)
        await producer.start()
    await consumer.start()
    transform = _transform
    f = open(out, "ab") if producer is None else None
    while True:
        got = await consumer.getmany(timeout_ms=1000, max_records=500)
        if not any(got.values()):
            continue
        values = [transform(m.value) for msgs in got.values() for m in msgs]
        if producer is not None:
            futures = [await producer.send(out, v) for v in values]
            await asyncio.gather(*futures)
        else:
            f.write(b"\n".join(values) + b"\n")
            f.flush()
        await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in got.items() if msgs})


def _cpu_seconds(procs: list[subprocess.Popen]) -> float:
    """The CPU time (user and system) the processes used so far (Linux)."""
    total = 0
    for proc in procs:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def _committed_rate(
    brokers: str, group: str, ends: list[int], procs: list[subprocess.Popen]
) -> tuple[float, int, float]:
    """Records/s from the moment every worker is a member of the group (the
    group is stable with all of them) to every partition committed to its
    end; how many records were committed before that moment; and the
    workers' CPU time per record in between, in microseconds."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    total = sum(ends)
    tps = [TopicPartition(INPUT, p) for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=group)
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await consumer.start()
    await admin.start()
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited: {proc.stderr.read().decode()}")
            if first is None:
                (described,) = await admin.describe_consumer_groups([group])
                _, _, state, _, _, members = described.groups[0]
                joined = state == "Stable" and len(members) == len(procs)
            done = sum(c or 0 for c in await asyncio.gather(*map(consumer.committed, tps)))
            now = time.perf_counter()
            if first is None and joined:
                first = (now, done, _cpu_seconds(procs))
            if first is not None and done >= total:
                records = total - first[1]
                cpu = (_cpu_seconds(procs) - first[2]) / records * 1e6
                return records / (now - first[0]), first[1], cpu
            await asyncio.sleep(POLL)
        raise RuntimeError("the workers did not finish in time")
    finally:
        await admin.close()
        await consumer.stop()


def _outputs(work: Path, kind: str, brokers: str, topic: str) -> set[bytes]:
    """The distinct records a run wrote (a rebalance may repeat some)."""
    from tests.fixtures.kafka import consume_all

    if kind == "file":
        return {
            line
            for path in sorted(work.glob("out*.jsonl"))
            for line in path.read_bytes().split(b"\n")
            if line
        }
    return {m.value for m in asyncio.run(consume_all(brokers, topic, MESSAGES, timeout=60))}


def _commands(side: str, kind: str, work: Path, group: str, outs: list[str], env: dict):
    """The command lines of a side's workers (flowc: the program compiled
    once beforehand, so the workers start alike)."""
    if side == "baseline":
        base = [sys.executable, "-m", "bench.kafka", "baseline", kind, env["FLOW_KAFKA_BROKERS"]]
        return [[*base, INPUT, group, out] for out in outs]
    flowc = str(Path(sys.executable).with_name("flowc"))
    program = work / "worker.flow"
    program.write_text(WORKERS[kind])
    subprocess.run([flowc, "check", str(program)], env=env, check=True, capture_output=True)
    return [
        [flowc, "run", str(program), "--state-dir", str(work / f"state{i}")]
        for i in range(len(outs))
    ]


def _race(tmp: Path, brokers: str, ends: list[int], kind: str, n: int) -> dict:
    from tests.fixtures.kafka import create_topic

    rates, early, cpu, written = {}, {}, {}, {}
    here = str(Path(__file__).resolve().parents[1])  # for `-m bench.kafka`
    for side in ("baseline", "flowc"):
        work = tmp / f"{kind}-{n}-{side}"
        work.mkdir()
        group, topic = f"{work.name}-group", f"{work.name}-out"
        if kind == "kafka":
            asyncio.run(create_topic(brokers, topic, PARTITIONS))
        outs = [topic if kind == "kafka" else str(work / f"out{i}.jsonl") for i in range(n)]
        env = dict(
            os.environ,
            FLOWC_CACHE_DIR=str(tmp / "cache"),
            FLOW_KAFKA_BROKERS=brokers,
            BENCH_IN=INPUT,
            BENCH_GROUP=group,
            PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]),
        )
        commands = _commands(side, kind, work, group, outs, env)
        rates[side], early[side], cpu[side] = _measure(
            commands, outs, env, work, brokers, group, ends
        )
        written[side] = _outputs(work, kind, brokers, topic)
    assert written["flowc"] == written["baseline"], "flowc and the baseline wrote other records"
    assert len(written["flowc"]) == MESSAGES, len(written["flowc"])
    rate, baseline = rates["flowc"], rates["baseline"]
    return {
        "benchmark": f"kafka → set → {kind}, {n} worker{'s' if n > 1 else ''}",
        "records_per_s": rate,
        "baseline_records_per_s": baseline,
        "ratio": rate / baseline,
        "cpu_us_per_record": cpu["flowc"],
        "baseline_cpu_us_per_record": cpu["baseline"],
        "before_joined": early["flowc"],
        "baseline_before_joined": early["baseline"],
        "note": f"{MESSAGES:,} msgs, {PARTITIONS} partitions, flowc run x{n} vs aiokafka"
        f" loop x{n}, committed end to end; the broker shares the 2 cores",
    }


def _measure(
    commands: list[list[str]],
    outs: list[str],
    env: dict,
    work: Path,
    brokers: str,
    group: str,
    ends: list[int],
) -> tuple[float, int, float]:
    """Start the workers of one group, each writing to its own `BENCH_OUT`,
    and measure them; stop them once done."""
    procs = [
        subprocess.Popen(
            cmd,
            cwd=work,
            env=dict(env, BENCH_OUT=out),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for cmd, out in zip(commands, outs)
    ]
    try:
        return asyncio.run(_committed_rate(brokers, group, ends, procs))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=60)


def run() -> list[dict]:
    from tests.fixtures.kafka import create_topic, end_offsets, produce_many, start_kafka_broker
    from tests.fixtures.processes import stop_process

    with tempfile.TemporaryDirectory() as tmp:
        broker = start_kafka_broker(tmp)
        try:
            brokers = broker.brokers
            asyncio.run(create_topic(brokers, INPUT, PARTITIONS))
            asyncio.run(produce_many(brokers, INPUT, payloads(MESSAGES)))
            ends = asyncio.run(end_offsets(brokers, INPUT, MESSAGES, PARTITIONS))
            assert sum(ends) == MESSAGES, ends
            return [
                _race(Path(tmp), brokers, ends, kind, n)
                for kind in ("kafka", "file")
                for n in (1, 2)
            ]
        finally:
            stop_process(broker.process, 10)


if __name__ == "__main__" and sys.argv[1:2] == ["baseline"]:
    asyncio.run(_baseline(*sys.argv[2:7]))
