"""The elastic sink's throughput into osmem-server, in records/s, for writes
of 500 and of 5,000 records, against the client's own `async_bulk` helper
called directly with the same documents and the same bulk size, in the same
process, on the same server.

Both go through the test suite's media-type proxy (tests/fixtures/search.py:
osmem-server refuses the client's `compatible-with` content type), so both
pay the same extra hop; the ratio compares the sink's own work (building
actions, serialising, classifying every item) with the bare helper.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid

DOCUMENTS = 5_000
BULK = 500  # documents per bulk request, for both
ROUNDS = 2  # alternating which goes first; the best of each
WARM_UP = 200


def _documents(n: int) -> list[dict]:
    rnd = random.Random(7)
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    return [
        {
            "ts": t0 + dt.timedelta(milliseconds=37 * i),
            "ip": f"81.2.{rnd.randrange(256)}.{rnd.randrange(256)}",
            "method": rnd.choice(("GET", "GET", "POST")),
            "path": f"/api/items/{rnd.randrange(1000)}",
            "status": rnd.choice((200, 200, 200, 404, 500)),
            "latency_ms": round(rnd.uniform(1, 900), 2),
            "geo": {"country_iso": "GB", "city": "London", "lat": 51.5, "lon": -0.12},
        }
        for i in range(n)
    ]


async def _sink(url: str, index: str, docs: list[dict], write_size: int) -> float:
    from flowlang.runtime.base import StageContext
    from flowlang.stages.elastic import ElasticSink

    sink = ElasticSink(
        StageContext("bench", "elastic", "bench.flow:1"), index, url=url, batch_size=BULK
    )
    await sink.start()
    try:
        began = time.perf_counter()
        for k in range(0, len(docs), write_size):
            rejected = await sink.write([dict(d) for d in docs[k : k + write_size]])
            assert not rejected, rejected[0].message
        return time.perf_counter() - began
    finally:
        await sink.close()


async def _helper(url: str, index: str, docs: list[dict], write_size: int) -> float:
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.helpers import async_bulk

    client = AsyncElasticsearch(url, request_timeout=60)
    try:
        began = time.perf_counter()
        for k in range(0, len(docs), write_size):
            actions = ({"_index": index, "_source": d} for d in docs[k : k + write_size])
            ok, errors = await async_bulk(client, actions, chunk_size=BULK)
            assert ok == len(docs[k : k + write_size]) and not errors
        return time.perf_counter() - began
    finally:
        await client.close()


def _count_and_drop(url: str, index: str) -> int:
    """How many documents `index` holds; then it is deleted, so every
    measurement starts from the same server state."""
    from elasticsearch import Elasticsearch

    from tests.fixtures.search import count

    with Elasticsearch(url) as client:
        n = count(client, index)
        client.indices.delete(index=index)
        return n


def run() -> list[dict]:
    from osmem_server import OsmemServer

    from tests.fixtures.search import SearchProxy

    docs = _documents(DOCUMENTS)
    rows = []
    with (
        OsmemServer.start(japanese=False, addr="127.0.0.1:0") as server,
        SearchProxy(server.url) as proxy,
    ):
        for writer in (_sink, _helper):  # connections, mappings, code paths
            asyncio.run(
                writer(proxy.url, f"bench-warm-{uuid.uuid4().hex[:8]}", docs[:WARM_UP], BULK)
            )
        for write_size in (500, 5_000):
            best = {"sink": float("inf"), "helper": float("inf")}
            for round_no in range(ROUNDS):
                order = ("sink", "helper") if round_no % 2 == 0 else ("helper", "sink")
                for who in order:
                    index = f"bench-{who}-{uuid.uuid4().hex[:8]}"
                    writer = _sink if who == "sink" else _helper
                    seconds = asyncio.run(writer(proxy.url, index, docs, write_size))
                    assert _count_and_drop(proxy.url, index) == DOCUMENTS, f"{who} lost documents"
                    best[who] = min(best[who], seconds)
            rps, base = DOCUMENTS / best["sink"], DOCUMENTS / best["helper"]
            rows.append(
                {
                    "benchmark": f"sink elastic, writes of {write_size:,} records",
                    "records_per_s": rps,
                    "baseline_records_per_s": base,
                    "ratio": rps / base,
                    "note": f"{DOCUMENTS:,} docs into osmem-server in bulks of {BULK}, best of "
                    f"{ROUNDS}; baseline: async_bulk with the same documents",
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
