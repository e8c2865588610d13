"""Scale-out for real: `flowc run` worker processes share one durable
consumer over a stream of 100,000 messages; one of them is killed with
`kill -9` and nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import orjson

from tests.fixtures.nats import (
    consumer_state,
    create_stream,
    publish_many,
    stream_messages,
)
from tests.flowrun import FLOWC

MESSAGES = 100_000

SHARE = """
source nats(env("IN_SUBJECTS"), stream=env("IN_STREAM"), durable="workers", format=json, idle=5s)
| sink file(env("WORKER_LOG"))
"""

# One pipeline reads the stream; two sinks must both accept a record before
# its message is acknowledged: the stream OUT (de-duplicating by message id,
# the idempotent sink) and a per-worker log that shows every delivery.
KILL = """
pipeline work =
  source nats(env("IN_SUBJECTS"), stream=env("IN_STREAM"), durable="workers", format=json,
              ack_wait=3s, max_ack_pending=4000, idle=10s)

pipeline publish = from work | sink nats(env("OUT_SUBJECT"), stream=env("OUT_STREAM"), msg_id=_nats.msg_id)

pipeline log = from work | sink file(env("WORKER_LOG"))
"""


def seed(url: str, stream: str, extra: tuple[str, ...] = ()) -> None:
    async def run() -> None:
        await create_stream(url, stream, [stream.lower() + ".>"])
        for other in extra:
            await create_stream(url, other, [other.lower() + ".>"], duplicate_window=600)
        await publish_many(
            url,
            stream,
            stream.lower() + ".events",
            (b'{"n": %d, "text": "message number %d"}' % (i, i) for i in range(MESSAGES)),
            msg_ids=(f"msg-{i}" for i in range(MESSAGES)),
        )

    asyncio.run(run())


def start_worker(tmp_path: Path, program: Path, name: str, env: dict[str, str]) -> subprocess.Popen:
    full_env = dict(
        os.environ,
        **env,
        WORKER_LOG=str(tmp_path / f"{name}.jsonl"),
        FLOWC_CACHE_DIR=str(tmp_path / f"cache-{name}"),
    )
    return subprocess.Popen(
        [FLOWC, "run", str(program), "--state-dir", str(tmp_path / f"state-{name}")],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode(errors="replace")


def read_log(path: Path) -> list[dict]:
    """The records a worker wrote; a line cut short by kill -9 is not a record."""
    records = []
    for line in path.read_bytes().split(b"\n"):
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return records


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_two_workers_share_one_stream_and_every_message_is_processed(
    nats_url, stream_name, tmp_path
):
    seed(nats_url, stream_name)
    program = tmp_path / "worker.flow"
    program.write_text(SHARE)
    env = {
        "FLOW_NATS_URL": nats_url,
        "IN_SUBJECTS": stream_name.lower() + ".>",
        "IN_STREAM": stream_name,
    }
    workers = [start_worker(tmp_path, program, name, env) for name in ("a", "b")]
    for proc in workers:
        code, err = finish(proc)
        assert code == 0, err
    a, b = read_log(tmp_path / "a.jsonl"), read_log(tmp_path / "b.jsonl")
    assert {r["n"] for r in a} | {r["n"] for r in b} == set(range(MESSAGES))
    # nobody failed, so nothing was delivered twice
    assert len(a) + len(b) == MESSAGES
    # both did a real share of the work
    assert min(len(a), len(b)) >= MESSAGES // 10, (len(a), len(b))
    state = asyncio.run(consumer_state(nats_url, stream_name, "workers"))
    assert (state.num_pending, state.num_ack_pending) == (0, 0)


def test_a_worker_killed_mid_stream_loses_nothing(nats_url, stream_name, tmp_path):
    out = stream_name + "_OUT"
    seed(nats_url, stream_name, extra=(out,))
    program = tmp_path / "worker.flow"
    program.write_text(KILL)
    env = {
        "FLOW_NATS_URL": nats_url,
        "IN_SUBJECTS": stream_name.lower() + ".>",
        "IN_STREAM": stream_name,
        "OUT_SUBJECT": out.lower() + ".done",
        "OUT_STREAM": out,
    }
    victim = start_worker(tmp_path, program, "victim", env)
    survivor = start_worker(tmp_path, program, "survivor", env)
    deadline = time.monotonic() + 120
    while count_lines(tmp_path / "victim.jsonl") < 15_000:
        assert victim.poll() is None and time.monotonic() < deadline, "the victim never got going"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    victim.communicate()
    code, err = finish(survivor)
    assert code == 0, err

    logged = read_log(tmp_path / "victim.jsonl") + read_log(tmp_path / "survivor.jsonl")
    # at least once: every message went through a worker that finished it
    assert {r["n"] for r in logged} == set(range(MESSAGES))
    redelivered = [r for r in read_log(tmp_path / "survivor.jsonl") if r["_nats"]["delivered"] > 1]
    assert redelivered, "the victim held messages it never acknowledged"
    # duplicates are bounded by what the consumer lets be unacknowledged at once
    duplicates = len(logged) - MESSAGES
    assert 0 <= duplicates <= 4000, duplicates

    # the idempotent sink holds every message exactly once
    stored = asyncio.run(stream_messages(nats_url, out))
    assert len(stored) == MESSAGES
    assert {m.headers["Nats-Msg-Id"] for m in stored} == {f"msg-{i}" for i in range(MESSAGES)}
    state = asyncio.run(consumer_state(nats_url, stream_name, "workers"))
    assert (state.num_pending, state.num_ack_pending) == (0, 0)
