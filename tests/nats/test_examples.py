"""The scale-out examples end to end: `examples/scale_edge.flow` tails the
bundled access log into the LOGS stream, two `examples/scale_worker.flow`
processes share it, enrich it and index it into a real search server.

The documents indexed (without their `_nats` metadata, which holds random
message ids, sorted) must equal `examples/expected/scale_worker.jsonl`;
`regenerate()` rewrites that file from a real run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import orjson

from tests.fixtures.nats import create_stream, stream_count
from tests.fixtures.search import count, read_all
from tests.flowrun import FLOWC

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "examples" / "expected" / "scale_worker.jsonl"
LOG = ROOT / "examples" / "data" / "scale" / "access.log"
ANON_KEY = "example-anonymization-key"


def _flowc_run(cwd: Path, example: str, name: str, env: dict[str, str]) -> subprocess.Popen:
    full_env = dict(os.environ, **env, FLOWC_CACHE_DIR=str(cwd / "cache"))
    return subprocess.Popen(
        [FLOWC, "run", f"examples/{example}", "--state-dir", str(cwd / f"state-{name}")],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition, what: str, procs: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(
                    f"{what}: a process exited early:\n{proc.stderr.read().decode()}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: timed out")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    """SIGTERM, as a service manager would: drain, flush, checkpoint, exit."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode(errors="replace")


def comparable(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("_id", "_nats")}


def sort_key(doc: dict) -> tuple[str, bytes]:
    return doc["time"], orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def run_scale_example(
    work: Path, nats_url: str, elastic_url: str, es
) -> tuple[list[dict], list[dict]]:
    """Run one edge and two workers on the bundled log; the indexed web
    documents and the rejects, as read back from the search server."""
    from elasticsearch import NotFoundError

    shutil.copytree(ROOT / "examples", work / "examples")
    for index in ("web-2026.11.02", "web-2026.11.03", "web-rejects"):
        try:
            es.indices.delete(index=index)
        except NotFoundError:
            pass

    async def fresh_stream() -> None:
        import nats
        import nats.js.errors

        nc = await nats.connect(nats_url)
        try:
            await nc.jsm().delete_stream("LOGS")
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()
        await create_stream(nats_url, "LOGS", ["logs.>"])

    asyncio.run(fresh_stream())
    lines = LOG.read_text().splitlines()
    wanted_docs = sum(1 for line in lines if "/healthz" not in line) - 2  # two lines are malformed
    env = {
        "FLOW_NATS_URL": nats_url,
        "FLOW_ELASTIC_URL": elastic_url,
        "FLOW_ANON_KEY": ANON_KEY,
    }

    edge = _flowc_run(work, "scale_edge.flow", "edge", env)
    _wait_for(
        lambda: asyncio.run(stream_count(nats_url, "LOGS")) >= len(lines),
        "edge",
        [edge],
    )
    code, err = _stop(edge)
    assert code == 0, err

    workers = [_flowc_run(work, "scale_worker.flow", name, env) for name in ("w1", "w2")]
    _wait_for(
        lambda: count(es, "web-2026.*") >= wanted_docs and count(es, "web-rejects") >= 2,
        "workers",
        workers,
    )
    for proc in workers:
        code, err = _stop(proc)
        assert code == 0, err
    return read_all(es, "web-2026.*"), read_all(es, "web-rejects")


def test_edge_and_two_workers_index_the_enriched_log(nats_url, elastic_url, es_reader, tmp_path):
    docs, rejects = run_scale_example(tmp_path, nats_url, elastic_url, es_reader)
    # idempotent writes: each document's id is the id of the message it came from
    assert all(doc["_id"] == doc["_nats"]["msg_id"] for doc in docs)
    assert len({doc["_id"] for doc in docs}) == len(docs)
    want = [orjson.loads(line) for line in EXPECTED.read_bytes().splitlines()]
    assert sorted(map(comparable, docs), key=sort_key) == want
    combined = re.compile(r'^\S+ \S+ \S+ \[[^]]+\] "[^"]*" \d{3} ')
    malformed = [line for line in LOG.read_text().splitlines() if not combined.match(line)]
    assert len(malformed) == 2
    assert sorted(r["raw"] for r in rejects) == sorted(malformed)
    assert {r["code"] for r in rejects} == {"parse"}


def regenerate() -> list[Path]:
    """Rewrite examples/expected/scale_worker.jsonl from a real run (starts
    its own nats-server and search server)."""
    from elasticsearch import Elasticsearch
    from osmem_server import OsmemServer

    from tests.fixtures.nats import start_nats_server, stop_nats_server
    from tests.fixtures.search import SearchProxy

    with tempfile.TemporaryDirectory() as tmp:
        nats_server = start_nats_server(tmp)
        osmem = OsmemServer.start(japanese=False, addr="127.0.0.1:0")
        try:
            with SearchProxy(osmem.url) as proxy:
                es = Elasticsearch(proxy.url, request_timeout=30)
                work = Path(tmp) / "work"
                work.mkdir()
                docs, _ = run_scale_example(work, nats_server.url, proxy.url, es)
                es.close()
        finally:
            osmem.close()
            stop_nats_server(nats_server)
    rows = sorted(map(comparable, docs), key=sort_key)
    EXPECTED.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return [EXPECTED]
