"""`source http` under load with a slow sink (`flowc run` in a subprocess,
many concurrent aiohttp clients, a loopback endpoint that takes 50 ms per
request): the server's resident memory stays bounded (a load three times
as large does not raise it), clients get 200 or 503 with Retry-After only,
and every record of every request answered 200 is written exactly once."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import aiohttp
import pytest

from tests.fixtures.memory import RssSampler
from tests.http.collector import Collector
from tests.http.test_source import start_flow

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/status")

MAX_PENDING = 500
MAX_REQUESTS = 16
PER_REQUEST = 50  # records per POST
PAD = 4000  # bytes of text in every record
# What the source may hold at once: MAX_PENDING records taken and waiting for
# the sink, each about 12 KB (the decoded text and dict, its encoded line in
# the sink's request body), and MAX_REQUESTS bodies being read (PER_REQUEST ×
# 4 KB each): about 6 + 3.2 MB. Twice that for the allocator's slack, and
# some for the sink's request and aiohttp's buffers: 24 MB. A server that kept
# what it was sent would grow by 3 × 100 × 50 × 4 KB = 60 MB from the first
# load to the second.
BOUND_MIB = 24
FIRST = 100  # requests of the first load; the second sends three times as many

SLOW_SINK = f"""
source http(port=PORT, path="/events", format=ndjson, max_pending={MAX_PENDING},
            max_requests={MAX_REQUESTS}, idle=1500ms)
  | sink http(env("OUT"), format=ndjson, batch=500)
"""


def body(k: int) -> bytes:
    return b"".join(
        json.dumps({"k": k, "i": i, "pad": "x" * PAD}).encode() + b"\n" for i in range(PER_REQUEST)
    )


async def load(url: str, keys: range, statuses: Counter, clients: int = 32) -> None:
    """POST the requests of `keys` from `clients` concurrent clients, each
    sent again after a 503 until it is answered 200."""
    todo = list(keys)

    async def client(session: aiohttp.ClientSession) -> None:
        while todo:
            k = todo.pop()
            data = body(k)
            while True:
                async with session.post(url, data=data) as response:
                    statuses[response.status] += 1
                    answer = await response.json()
                    if response.status == 200:
                        assert answer == {"accepted": PER_REQUEST, "errors": 0}
                        break
                    assert response.status == 503, (response.status, answer)
                    assert response.headers["Retry-After"] == "1"
                await asyncio.sleep(0.02)  # sooner than Retry-After: more pressure

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))


def test_memory_stays_bounded_while_the_sink_is_slow(tmp_path):
    async def main():
        with Collector() as sink:
            sink.delay = 0.05
            flow = await start_flow(tmp_path, SLOW_SINK, {"OUT": sink.url + "/in"})
            url = flow.url + "/events"
            statuses: Counter = Counter()
            with RssSampler(flow.proc.pid) as rss:
                began = time.monotonic()
                await load(url, range(FIRST), statuses)
                middle = time.monotonic()
                await load(url, range(FIRST, 4 * FIRST), statuses)
                ended = time.monotonic()
                code, err = await flow.finish()
            return sink.records, statuses, rss, (began, middle, ended), code, err

    records, statuses, rss, (began, middle, ended), code, err = asyncio.run(main())
    assert code == 0, err
    assert set(statuses) <= {200, 503}
    assert statuses[200] == 4 * FIRST
    assert statuses[503] > 0  # the sink was slow enough to push back
    written = Counter((r["k"], r["i"]) for r in records)
    assert set(written) == {(k, i) for k in range(4 * FIRST) for i in range(PER_REQUEST)}
    assert set(written.values()) == {1}  # each record once
    first = rss.peak_mib(began, middle)
    second = rss.peak_mib(middle, ended)
    halfway = middle + (ended - middle) / 2
    assert second - first < BOUND_MIB, (first, second)
    assert rss.peak_mib(halfway, ended) - rss.peak_mib(middle, halfway) < BOUND_MIB
