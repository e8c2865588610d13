"""`flowc run --workers 2` on a JetStream stream for real: the two forked
workers pull from one durable consumer, every message is processed once,
and the summed metrics count them all."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest

from flowlang.runtime.metrics import balanced
from tests.fixtures.nats import consumer_state
from tests.flowrun import FLOWC
from tests.nats.test_scale import MESSAGES, SHARE, read_log, seed

pytestmark = pytest.mark.timeout(240)


def run_workers(tmp_path, nats_url, stream_name, program):
    (tmp_path / "p.flow").write_text(program)
    return subprocess.run(
        [FLOWC, "run", str(tmp_path / "p.flow"), "--workers", "2", "--metrics", "m.json"],
        cwd=tmp_path,
        env={
            **os.environ,
            "FLOW_NATS_URL": nats_url,
            "IN_SUBJECTS": stream_name.lower() + ".>",
            "IN_STREAM": stream_name,
            "WORKER_LOG": "out.jsonl",
            "FLOWC_CACHE_DIR": str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=200,
    )


def test_two_workers_share_one_durable_consumer(nats_url, stream_name, tmp_path):
    seed(nats_url, stream_name)
    done = run_workers(tmp_path, nats_url, stream_name, SHARE)
    assert done.returncode == 0, done.stderr
    shares = [read_log(tmp_path / f"out.w{i}.jsonl") for i in range(2)]
    assert {r["n"] for share in shares for r in share} == set(range(MESSAGES))
    assert sum(map(len, shares)) == MESSAGES  # nobody failed: nothing delivered twice
    assert min(map(len, shares)) >= MESSAGES // 10, [len(s) for s in shares]
    report = json.loads((tmp_path / "m.json").read_text())
    summed = report["pipelines"]["p"]
    assert summed["in"] == summed["out"] == MESSAGES and balanced(summed)
    assert [w["pipelines"]["p"]["out"] for w in report["workers"]] == list(map(len, shares))
    state = asyncio.run(consumer_state(nats_url, stream_name, "workers"))
    assert (state.num_pending, state.num_ack_pending) == (0, 0)


def test_without_durable_every_worker_would_read_everything_so_it_is_refused(
    nats_url, stream_name, tmp_path
):
    done = run_workers(tmp_path, nats_url, stream_name, SHARE.replace('durable="workers", ', ""))
    assert done.returncode == 2
    assert "without durable= every worker would read all of the stream" in done.stderr
