"""`source http` run for real (`flowc run` in a subprocess) and fed by an
aiohttp client: 200 arrives only once the sinks accepted the request's
records, 401/413/400 refusals, 503 with Retry-After while too much waits for
a slow sink, the health endpoint, and SIGTERM finishing what was taken."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fixtures.faults import Reply
from tests.fixtures.processes import free_port
from tests.flowrun import FLOWC, read_jsonl
from tests.http.collector import Collector

TOKEN = "tok-7f3a9c-secret"


class Flow:
    """A `flowc run` subprocess serving `source http` on `port`."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, path: Path):
        self.proc = proc
        self.port = port
        self.path = path
        self.url = f"http://127.0.0.1:{port}"

    async def finish(self, timeout: float = 30) -> tuple[int, str]:
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        return self.proc.returncode, err.decode()


async def start_flow(tmp_path: Path, text: str, env: dict | None = None) -> Flow:
    port = free_port()
    flow_file = tmp_path / "ingest.flow"
    flow_file.write_text(text.replace("PORT", str(port)))
    proc = await asyncio.create_subprocess_exec(
        FLOWC,
        "run",
        str(flow_file),
        cwd=tmp_path,
        env=dict(os.environ, **(env or {})),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    flow = Flow(proc, port, tmp_path)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as client:
        while True:
            try:
                async with client.get(flow.url + "/health") as response:
                    if response.status == 200:
                        return flow
            except aiohttp.ClientConnectionError:
                pass
            if proc.returncode is not None or time.monotonic() > deadline:
                _, err = await proc.communicate()
                raise AssertionError(f"the flow did not start: {err.decode()}")
            await asyncio.sleep(0.1)


async def wait_pending(flow: Flow, n: int, timeout: float = 20) -> None:
    """Until the source's health says `n` records wait for the sinks."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while True:
            async with client.get(flow.url + "/health") as response:
                if (await response.json())["pending"] == n:
                    return
            assert time.monotonic() < deadline, f"never {n} records pending"
            await asyncio.sleep(0.05)


async def post(url: str, body: bytes | str, token: str | None = TOKEN, **headers: str):
    """(status, JSON answer, headers) of one POST on a connection of its own."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as client:
        async with client.post(url, data=body, headers=headers) as response:
            return response.status, await response.json(), response.headers


def ndjson(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


TO_SLOW_SINK = """
pipeline p = source http(port=PORT, path="/events", format=ndjson, token=env("TOK"), idle=2s)
  | sink http(env("OUT"), format=ndjson, batch=50)
pipeline e = from p.errors | sink file("errors.jsonl")
"""


def test_200_arrives_only_after_the_sink_accepted_the_records(tmp_path):
    async def main():
        with Collector() as sink:
            sink.gate.clear()  # the sink's endpoint holds every request
            env = {"TOK": TOKEN, "OUT": sink.url + "/in"}
            flow = await start_flow(tmp_path, TO_SLOW_SINK, env)
            body = ndjson([{"n": 1}, {"n": 2}]) + b"{broken\n"
            sent = asyncio.create_task(post(flow.url + "/events", body))
            await asyncio.sleep(1.0)
            assert not sent.done()  # the sink has not answered: no 200 yet
            assert sink.records == []
            sink.gate.set()
            status, answer, _ = await asyncio.wait_for(sent, 10)
            assert status == 200
            assert answer == {"accepted": 2, "errors": 1}
            assert [r["n"] for r in sink.records] == [1, 2]
            assert sink.records[0]["_http"] == {"remote": "127.0.0.1", "path": "/events"}
            code, err = await flow.finish()
        assert code == 0, err
        assert TOKEN not in err
        errors = read_jsonl(tmp_path / "errors.jsonl")
        assert [(e["code"], e["raw"]) for e in errors] == [("parse", "{broken")]

    asyncio.run(main())


TO_FILE = """
source http(port=PORT, path="/events", idle=2s) | sink file("output.jsonl")
"""


def test_the_file_holds_every_request_s_records_when_its_200_arrives(tmp_path):
    async def one(flow: Flow, k: int) -> None:
        batch = [{"req": k, "i": i} for i in range(25)]
        status, answer, _ = await post(flow.url + "/events", json.dumps(batch), token=None)
        assert (status, answer) == (200, {"accepted": 25, "errors": 0})
        written = {(r["req"], r["i"]) for r in read_jsonl(tmp_path / "output.jsonl")}
        assert {(k, i) for i in range(25)} <= written

    async def main():
        flow = await start_flow(tmp_path, TO_FILE)
        await asyncio.gather(*(one(flow, k) for k in range(20)))
        status, answer, _ = await post(flow.url + "/events", '{"single": true}', token=None)
        assert (status, answer) == (200, {"accepted": 1, "errors": 0})
        code, err = await flow.finish()
        assert code == 0, err
        output = read_jsonl(tmp_path / "output.jsonl")
        assert len(output) == 20 * 25 + 1  # each once

    asyncio.run(main())


REFUSING = """
source http(port=PORT, path="/events", token=env("TOK"), max_body=1000, idle=2s)
  | sink file("output.jsonl")
"""


def test_refusals_401_413_400_and_health(tmp_path):
    async def main():
        flow = await start_flow(tmp_path, REFUSING, {"TOK": TOKEN})
        url = flow.url + "/events"
        status, _, headers = await post(url, '{"a": 1}', token=None)
        assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
        status, _, _ = await post(url, '{"a": 1}', token=TOKEN + "x")
        assert status == 401
        status, answer, _ = await post(url, json.dumps([{"pad": "x" * 2000}]))
        assert status == 413 and "1000 bytes" in answer["error"]

        async def chunks():
            for _ in range(10):
                yield b"[" + b" " * 200 + b"]"

        status, answer, _ = await post(url, chunks())  # chunked: no Content-Length
        assert status == 413
        status, answer, _ = await post(url, '{"a": ')
        assert status == 400 and "not JSON" in answer["error"]
        status, answer, _ = await post(url, "[1, 2]")
        assert status == 400 and "not an object" in answer["error"]
        status, answer, _ = await post(url, "")
        assert status == 400
        async with aiohttp.ClientSession() as client:
            async with client.get(flow.url + "/health") as response:
                assert response.status == 200  # no token needed
                assert (await response.json())["status"] == "ok"
            async with client.get(url) as response:
                assert response.status == 405
            async with client.post(flow.url + "/elsewhere", data="{}") as response:
                assert response.status == 404
        status, answer, _ = await post(url, '[{"ok": 1}, "no", {"ok": 2}]')
        assert (status, answer) == (200, {"accepted": 2, "errors": 1})
        code, err = await flow.finish()
        assert code == 0, err
        assert TOKEN not in err
        assert [r["ok"] for r in read_jsonl(tmp_path / "output.jsonl")] == [1, 2]

    asyncio.run(main())


BOUNDED = """
source http(port=PORT, path="/events", format=ndjson, LIMIT, idle=2s)
  | sink http(env("OUT"), format=ndjson)
"""


@pytest.mark.parametrize(
    "limit, first",
    [("max_pending=4", 4), ("max_requests=1", 1)],
    ids=["records", "requests"],
)
def test_503_with_retry_after_while_the_sink_is_backed_up(tmp_path, limit, first):
    async def main():
        with Collector() as sink:
            sink.gate.clear()
            text = BOUNDED.replace("LIMIT", limit)
            flow = await start_flow(tmp_path, text, {"OUT": sink.url + "/in"})
            url = flow.url + "/events"
            held = asyncio.create_task(
                post(url, ndjson({"n": i} for i in range(first)), token=None)
            )
            await wait_pending(flow, first)
            for _ in range(3):
                status, answer, headers = await post(url, ndjson([{"n": 99}]), token=None)
                assert status == 503
                assert headers["Retry-After"] == "1"
                assert "waiting" in answer["error"]
            assert not held.done()
            async with aiohttp.ClientSession() as client:
                async with client.get(flow.url + "/health") as response:
                    state = await response.json()
            assert response.status == 200 and state["pending"] == first
            sink.gate.set()
            status, _, _ = await asyncio.wait_for(held, 10)
            assert status == 200
            status, _, _ = await post(url, ndjson([{"n": 99}]), token=None)  # the retry
            assert status == 200
            code, err = await flow.finish()
        assert code == 0, err
        assert sorted(r["n"] for r in sink.records) == [*range(first), 99]

    asyncio.run(main())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_listening_and_finishes_the_requests_taken(tmp_path):
    async def main():
        with Collector() as sink:
            sink.gate.clear()
            text = BOUNDED.replace("LIMIT, idle=2s", "max_requests=8")
            flow = await start_flow(tmp_path, text, {"OUT": sink.url + "/in"})
            url = flow.url + "/events"
            held = asyncio.create_task(post(url, ndjson([{"n": 1}, {"n": 2}]), token=None))
            await wait_pending(flow, 2)
            await asyncio.sleep(0.3)  # taken into a batch, held by the sink
            flow.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            with pytest.raises(aiohttp.ClientConnectionError):
                await post(url, ndjson([{"n": 3}]), token=None)
            assert not held.done()
            sink.gate.set()
            status, answer, _ = await asyncio.wait_for(held, 10)
            assert (status, answer) == (200, {"accepted": 2, "errors": 0})
            code, err = await flow.finish()
        assert code == 0, err
        assert sorted(r["n"] for r in sink.records) == [1, 2]

    asyncio.run(main())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_request_whose_records_were_not_written_is_never_answered_200(tmp_path):
    async def main():
        with Collector() as sink:
            sink.reply = lambda n, body: Reply(503, "down", {"Retry-After": "0"})
            text = BOUNDED.replace("LIMIT, idle=2s", "max_requests=8").replace(
                "format=ndjson)", "format=ndjson, shutdown_grace=1s)"
            )
            flow = await start_flow(tmp_path, text, {"OUT": sink.url + "/in"})
            held = asyncio.create_task(post(flow.url + "/events", ndjson([{"n": 1}]), token=None))
            await wait_pending(flow, 1)
            while not sink.requests:  # the sink is retrying
                await asyncio.sleep(0.05)
            flow.proc.send_signal(signal.SIGTERM)
            status, answer, headers = await asyncio.wait_for(held, 20)
            assert status == 503 and headers["Retry-After"] == "1"
            code, err = await flow.finish()
        assert code == 1
        assert "still failing at shutdown" in err

    asyncio.run(main())
