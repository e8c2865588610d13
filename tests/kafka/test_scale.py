"""Scale-out on Kafka consumer groups for real: `flowc run` workers with the
same `group` share a topic's partitions; one is killed with `kill -9` mid-run
and restarted, and every message is delivered (duplicates counted, none lost)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import orjson

from tests.fixtures.kafka import committed, end_offsets, produce_many
from tests.nats.test_scale import count_lines, finish, read_log, start_worker

MESSAGES = 30_000

WORKER = """
source kafka(env("IN_TOPIC"), group="workers", format=json, start=earliest, batch_size=200,
             idle=20s)
| sink file(env("WORKER_LOG"))
"""


def seed(brokers: str, topic: str) -> None:
    bodies = (orjson.dumps({"n": i, "text": f"message number {i}"}) for i in range(MESSAGES))
    asyncio.run(produce_many(brokers, topic, bodies))


def test_two_workers_share_the_partitions_and_a_killed_one_loses_nothing(
    kafka_brokers, kafka_topic, tmp_path
):
    seed(kafka_brokers, kafka_topic)
    program = tmp_path / "worker.flow"
    program.write_text(WORKER)
    env = {"FLOW_KAFKA_BROKERS": kafka_brokers, "IN_TOPIC": kafka_topic}
    victim = start_worker(tmp_path, program, "victim", env)
    survivor = start_worker(tmp_path, program, "survivor", env)
    deadline = time.monotonic() + 120
    while count_lines(tmp_path / "victim.jsonl") < 3_000:
        assert victim.poll() is None and time.monotonic() < deadline, "the victim never got going"
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    victim.communicate()
    before_kill = read_log(tmp_path / "victim.jsonl")
    # the victim comes back under another log, as a restarted worker would
    restarted = start_worker(tmp_path, program, "restarted", env)
    for proc in (survivor, restarted):
        code, err = finish(proc)
        assert code == 0, err

    survivor_log = read_log(tmp_path / "survivor.jsonl")
    restarted_log = read_log(tmp_path / "restarted.jsonl")
    logged = before_kill + survivor_log + restarted_log
    # at least once: every message went through a worker that finished it
    assert {r["n"] for r in logged} == set(range(MESSAGES))
    # both first workers had partitions of their own
    assert before_kill and survivor_log
    duplicates = len(logged) - MESSAGES
    # only what the victim had read past its last commit is read again
    assert 0 <= duplicates <= 5_000, duplicates
    ends = asyncio.run(end_offsets(kafka_brokers, kafka_topic, MESSAGES))
    assert sum(ends) == MESSAGES
    assert asyncio.run(committed(kafka_brokers, kafka_topic, "workers")) == ends
    print(f"kafka kill -9: {len(logged)} delivered, {duplicates} duplicated, 0 lost")
