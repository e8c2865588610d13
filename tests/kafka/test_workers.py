"""`flowc run --workers 2` on a Kafka topic for real: the two forked workers
join one consumer group and share the partitions; killed with `kill -9`
(parent and workers) and run again, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest

from flowlang.runtime.metrics import balanced
from tests.fixtures.kafka import committed, end_offsets, produce_many
from tests.flowrun import FLOWC
from tests.nats.test_scale import count_lines, read_log
from tests.runtime.procs import wait_for

pytestmark = pytest.mark.timeout(240)

MESSAGES = 20_000

PROGRAM = """
source kafka(env("IN_TOPIC"), group="pool", format=json, start=earliest, batch_size=200,
             idle=5s)
| set seen = true
| sink file("out.jsonl")
"""


def seed(brokers: str, topic: str) -> None:
    bodies = (orjson.dumps({"n": i}) for i in range(MESSAGES))
    asyncio.run(produce_many(brokers, topic, bodies))


def start(tmp_path: Path, brokers: str, topic: str, program: str = PROGRAM, *args: str):
    (tmp_path / "p.flow").write_text(program)
    return subprocess.Popen(
        [FLOWC, "run", str(tmp_path / "p.flow"), "--workers", "2", *args],
        cwd=tmp_path,
        env={
            **os.environ,
            "FLOW_KAFKA_BROKERS": brokers,
            "IN_TOPIC": topic,
            "FLOWC_CACHE_DIR": str(tmp_path / "cache"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def outputs(tmp_path: Path) -> list[dict]:
    return read_log(tmp_path / "out.w0.jsonl") + read_log(tmp_path / "out.w1.jsonl")


def test_two_workers_join_one_group_and_share_the_partitions(kafka_brokers, kafka_topic, tmp_path):
    seed(kafka_brokers, kafka_topic)
    run = start(tmp_path, kafka_brokers, kafka_topic, PROGRAM, "--metrics", "m.json")
    _, err = run.communicate(timeout=200)
    assert run.returncode == 0, err.decode()
    logged = outputs(tmp_path)
    assert {r["n"] for r in logged} == set(range(MESSAGES))
    report = json.loads((tmp_path / "m.json").read_text())
    summed = report["pipelines"]["p"]
    shares = [w["pipelines"]["p"]["in"] for w in report["workers"]]
    # a rebalance while both join may hand a partition over before its
    # first commit: what was read past the commit is read again, never lost
    assert summed["in"] == sum(shares) == len(logged) >= MESSAGES
    assert balanced(summed)
    assert all(n > 0 for n in shares), f"both workers had partitions: {shares}"
    assert err.decode().count("flowc run:") == 1
    ends = asyncio.run(end_offsets(kafka_brokers, kafka_topic, MESSAGES))
    assert asyncio.run(committed(kafka_brokers, kafka_topic, "pool")) == ends


def test_kill_9_of_parent_and_workers_then_two_new_workers_lose_nothing(
    kafka_brokers, kafka_topic, tmp_path
):
    seed(kafka_brokers, kafka_topic)
    run = start(tmp_path, kafka_brokers, kafka_topic)
    wait_for(
        lambda: (
            count_lines(tmp_path / "out.w0.jsonl") + count_lines(tmp_path / "out.w1.jsonl") > 2_000
        ),
        120,
        "the workers to get going",
    )
    workers = [
        int(c)
        for task in Path(f"/proc/{run.pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]
    for pid in [run.pid, *workers]:
        os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=10)
    again = start(tmp_path, kafka_brokers, kafka_topic)
    _, err = again.communicate(timeout=200)
    assert again.returncode == 0, err.decode()
    logged = outputs(tmp_path)
    assert {r["n"] for r in logged} == set(range(MESSAGES))
    ends = asyncio.run(end_offsets(kafka_brokers, kafka_topic, MESSAGES))
    assert asyncio.run(committed(kafka_brokers, kafka_topic, "pool")) == ends


def test_without_a_group_every_worker_would_read_everything_so_it_is_refused(
    kafka_brokers, kafka_topic, tmp_path
):
    program = PROGRAM.replace('group="pool", ', "")
    run = start(tmp_path, kafka_brokers, kafka_topic, program)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert "without group= every worker would read all of the topic" in err.decode()
